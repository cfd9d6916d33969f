"""What publishing claim events costs, against floors measured in the same run:

    .venv/bin/python bench/event_relay.py [--claims 200] [--events 9] [--database URL]

- writing: `record_event` (event log row, read model and outbox row in one transaction) per event, against the
  same call for an event that is not published (the engine's own bookkeeping: log row and read model, no outbox
  row, as every event was before events were published);
- relaying: the relay taking every event to a webhook receiver on this machine (signed, one claim's events in
  order, cursor moved after each), against the bare floor of POSTing the same bodies with the same concurrency
  and no database.

Prints events per second and the ratios. SQLite in a temporary folder by default; a PostgreSQL URL gets a
schema of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, Request, Response  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from activities.database import ClaimsDatabase  # noqa: E402
from config.settings import Webhook  # noqa: E402
from db import outbox  # noqa: E402
from db.engine import make_engine  # noqa: E402
from db.schema import upgrade  # noqa: E402
from events.relay import Relay  # noqa: E402
from events.sinks import WebhookSink  # noqa: E402
from models.messages import ClaimEvent  # noqa: E402

SEAL = bytes(range(32))
"""The event log's seal key for the run."""
SECRET = "bench-secret-0123456789"


def receiver(port: int) -> tuple[uvicorn.Server, list[int]]:
    taken: list[int] = []
    app = FastAPI()

    @app.post("/events")
    async def take(request: Request) -> Response:
        await request.body()
        taken.append(1)
        return Response(status_code=204)

    return uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")), taken


def write(db: ClaimsDatabase, claims: list[str], events: int) -> float:
    started = time.perf_counter()
    for n in range(events):
        for claim_id in claims:
            db.record_event(ClaimEvent(claim_id=claim_id, key=str(n + 1), event="assigned", at=datetime.now(UTC),
                                       by="sup-1", detail="handler adj-1"))
    return time.perf_counter() - started


def write_unpublished(db: ClaimsDatabase, claims: list[str], events: int) -> float:
    started = time.perf_counter()
    for n in range(events):
        for claim_id in claims:
            db.record_event(ClaimEvent(claim_id=claim_id, key=str(n + 1), event="continued_as_new",
                                       at=datetime.now(UTC), by="sup-1", detail="handler adj-1"))
    return time.perf_counter() - started


async def relay_all(db: ClaimsDatabase, url: str) -> float:
    relay = Relay(db.engine, [WebhookSink(Webhook.model_validate({"name": "bench", "url": url,
                                                                   "secret": SECRET}))])
    started = time.perf_counter()
    while outbox.backlog(db.engine, "bench"):
        await relay.run_once()
    took = time.perf_counter() - started
    await relay.close()
    return took


async def post_floor(bodies: list[str], url: str, at_once: int) -> float:
    gate = asyncio.Semaphore(at_once)
    async with httpx.AsyncClient() as client:
        async def post(body: str) -> None:
            async with gate:
                answer = await client.post(url, content=body.encode(),
                                           headers={"content-type": "application/cloudevents+json"})
                answer.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post(b) for b in bodies))
        return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--events", type=int, default=9, help="events per claim (a fast-path claim writes nine)")
    parser.add_argument("--database", help="a database URL (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    url = args.database or f"sqlite:///{Path(tempfile.mkdtemp()) / 'claims.db'}"
    schema = None
    if url.startswith("postgresql"):  # a schema of its own, dropped at the end
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with make_engine(url).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    else:
        engine = make_engine(url)
    upgrade(engine)
    try:
        await measure(engine, args)
    finally:
        engine.dispose()
        if schema:
            with make_engine(url).begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


async def measure(engine: Engine, args: argparse.Namespace) -> None:
    db = ClaimsDatabase(engine, SEAL)
    total = args.claims * args.events
    rounds_with, rounds_without = [], []
    for _ in range(3):  # alternating, so the machine's load falls on both alike
        rounds_without.append(total / write_unpublished(
            db, [f"F-{uuid.uuid4().hex[:10]}" for _ in range(args.claims)], args.events))
        rounds_with.append(total / write(db, [f"B-{uuid.uuid4().hex[:10]}" for _ in range(args.claims)],
                                         args.events))
    with_outbox, log_only = statistics.median(rounds_with), statistics.median(rounds_without)
    print(f"{engine.dialect.name}: {args.claims} claims x {args.events} events, 3 rounds each")
    print(f"writing: {with_outbox:,.0f} events/s published (outbox row too), {log_only:,.0f} events/s unpublished "
          f"({with_outbox / log_only:.2f}x)")

    port = 8950
    server, taken = receiver(port)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    hook = f"http://127.0.0.1:{port}/events"
    with engine.connect() as conn:
        bodies = [row.body for row in conn.execute(outbox.OUTBOX.select())]
    floor = len(bodies) / await post_floor(bodies, hook, at_once=8)
    relayed = len(bodies) / await relay_all(db, hook)
    print(f"relaying {len(bodies):,} events to a webhook on this machine: {relayed:,.0f} events/s through the "
          f"relay, {floor:,.0f} events/s bare POSTs with the same concurrency ({relayed / floor:.2f}x)")
    server.should_exit = True
    await serving
    assert len(taken) >= 2 * len(bodies), "every event reached the receiver in both runs"


if __name__ == "__main__":
    asyncio.run(main())
