"""The claims worker against the bare Temporal engine, measured in the same run: `make bench` (short) or

    .venv/bin/python bench/engine_floor.py [--full] [--only latency,throughput,...]

Starts an in-memory Temporal dev server, then worker processes: `worker.py` for the claims and
`bench/bare_worker.py` for the floor (a workflow running the three local activities a paid claim cannot do without,
each doing nothing). Each figure is measured for both, interleaved in rounds so the machine's load falls on both
alike, and printed as medians with the spread over rounds and as a ratio to the floor:

- latency: fast-path claims one at a time, start to paid (the read model says `paid`), p50 and p95;
- throughput: claims per second at 1, 10 and 50 at once, on SQLite and PostgreSQL;
- CPU per claim: the worker process's CPU time over a throughput run, per claim;
- two worker processes against one (does it scale with cores?);
- memory per open workflow: claims waiting on documents, held in the worker's cache;
- audit replay: histories replayed per second;
- the command line: `starter.py status` as a whole command, against the `temporal` CLI's query.

It ends with the targets (bench/README.md): the fast path's p50 at most 3.0× the floor's, its throughput at 50 at once
at least 0.33× the floor's, and `starter.py status` within 0.3 s, each met or not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activities.policies import load_policies  # noqa: E402
from audit.replay import history_from_file  # noqa: E402
from bench.bare_worker import STEPS, BareWorkflow  # noqa: E402
from bench.processes import KEYRING, Rig, Workers  # noqa: E402
from config.encryption import converter_for  # noqa: E402
from config.settings import Settings  # noqa: E402
from config.temporal import installed_binary, workflow_runner  # noqa: E402
from db.engine import make_engine  # noqa: E402
from db.schema import upgrade  # noqa: E402
from models import search_attributes  # noqa: E402
from models.contract import WORKFLOW_TYPE, workflow_id_for  # noqa: E402
from testkit.api_stack import free_port  # noqa: E402
from testkit.claims import auto_claim, docs  # noqa: E402
from testkit.world import POSTGRES_URL, TEST_KEYRING, sample_policies  # noqa: E402
from testkit.world import TEST_KEYS as KEYS_FOR_HISTORIES  # noqa: E402  (the saved histories' key)
from workflows.catastrophe import CatastropheWorkflow  # noqa: E402
from workflows.claim import ClaimWorkflow  # noqa: E402
from workflows.complaint import ComplaintWorkflow  # noqa: E402
from workflows.ended_claim_code import EndedClaimCodeWorkflow  # noqa: E402

# --------------------------------------------------------------------------- the two kinds of run


class PaidWatch:
    """One poller of the read model for every claim in flight: a claim is done when its row says `paid`."""

    def __init__(self, database_url: str) -> None:
        self.engine = make_engine(database_url)
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        while True:
            if self.waiting:
                ids = list(self.waiting)
                with self.engine.connect() as conn:
                    listed = ",".join(f"'{i}'" for i in ids)  # our own generated ids
                    paid = {r[0] for r in conn.execute(text(
                        f"SELECT claim_id FROM claims WHERE outcome = 'paid' AND claim_id IN ({listed})"))}
                now = time.perf_counter()
                for claim_id in paid:
                    self.waiting.pop(claim_id).set_result(now)
            # one claim in flight (latency): look often; many (throughput): rarely enough to cost the machine
            # little, since this process shares the cores with the workers
            await asyncio.sleep(0.002 if len(self.waiting) <= 1 else 0.05)

    def expect(self, claim_id: str) -> asyncio.Future[float]:
        if self.task is None:
            self.task = asyncio.create_task(self._poll())
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[claim_id] = future
        return future

    def close(self) -> None:
        if self.task:
            self.task.cancel()
        self.engine.dispose()


def new_fast_claim(engine: Any) -> dict[str, Any]:
    policy = f"P-B-{uuid.uuid4().hex[:10]}"  # a policy of its own: no frequent-claims risk, so the fast path
    load_policies(engine, [sample_policies()[0].model_copy(update={"policy_number": policy})])
    return auto_claim(f"B-{uuid.uuid4().hex[:10]}", policy_number=policy)


async def one_claim(rig: Rig, watch: PaidWatch, queue: str, claim: dict[str, Any]) -> float:
    done = watch.expect(claim["claim_id"])
    started = time.perf_counter()
    await rig.client.start_workflow(WORKFLOW_TYPE, claim, id=workflow_id_for(claim["claim_id"]), task_queue=queue)
    return await done - started


async def one_bare(rig: Rig, queue: str) -> float:
    started = time.perf_counter()
    await rig.bare_client.execute_workflow(BareWorkflow.run, STEPS, id=f"bare-{uuid.uuid4().hex}", task_queue=queue)
    return time.perf_counter() - started


async def at_once(n: int, concurrency: int, run: Callable[[int], Awaitable[float]]) -> float:
    """n runs, `concurrency` at a time: runs per second."""
    gate = asyncio.Semaphore(concurrency)

    async def limited(i: int) -> float:
        async with gate:
            return await run(i)

    started = time.perf_counter()
    await asyncio.gather(*(limited(i) for i in range(n)))
    return n / (time.perf_counter() - started)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}" if len(values) > 1 else ""


ROWS: list[tuple[str, str, str, str, str]] = []
TARGETS: list[tuple[str, str]] = []
"""Each figure held to a target (docs: bench/README.md), and whether it met it."""


def row(figure: str, ours: float, floor: float, unit: str, extra: str = "", ratio: float | None = None) -> None:
    """A figure beside the floor's; `ratio`: the median of paired rounds' ratios, where the figure has rounds."""
    if ratio is None:
        ratio = ours / floor if floor else float("nan")
    ROWS.append((figure, f"{ours:.2f} {unit}", f"{floor:.2f} {unit}", f"{ratio:.2f}×", extra))
    print(f"  {figure}: {ours:.2f} vs {floor:.2f} {unit} ({ratio:.2f}×) {extra}", flush=True)
    if figure.startswith("fast path start → paid, p50"):
        target(figure, ratio, "≤", 3.0, "×")
    elif figure.startswith("throughput") and "50 at once" in figure and "worker processes" not in figure:
        target(figure, ratio, "≥", 0.33, "×")
    elif figure.startswith("`starter.py status`"):
        target(figure, ours, "≤", 0.3, " s")


def target(figure: str, value: float, sense: str, bound: float, unit: str) -> None:
    met = value <= bound if sense == "≤" else value >= bound
    TARGETS.append((figure, f"{value:.2f}{unit} (target {sense} {bound}{unit}): {'met' if met else 'NOT met'}"))


# --------------------------------------------------------------------------- figures


async def latency(rig: Rig, n: int) -> None:
    engine = make_engine(rig.database_url)
    ours, floor = rig.claims_workers("lat"), rig.bare_workers("lat-bare")
    watch = PaidWatch(rig.database_url)
    try:
        for _ in range(3):  # warm up both: the sandbox's first import, the database, the connections
            await one_claim(rig, watch, "lat", new_fast_claim(engine))
            await one_bare(rig, "lat-bare")
        claims, bares = [], []
        for _ in range(n):
            claims.append(await one_claim(rig, watch, "lat", new_fast_claim(engine)))
            bares.append(await one_bare(rig, "lat-bare"))
        row("fast path start → paid, p50", statistics.median(claims) * 1000, statistics.median(bares) * 1000, "ms")
        row("fast path start → paid, p95", pct(claims, 0.95) * 1000, pct(bares, 0.95) * 1000, "ms")
    finally:
        watch.close()
        ours.stop()
        floor.stop()


async def timed(workers: Workers, n: int, concurrency: int, run: Callable[[int], Awaitable[float]]) -> tuple[
        float, float]:
    """n runs, `concurrency` at a time: runs per second, and the workers' CPU seconds per run."""
    before = workers.cpu()
    rate = await at_once(n, concurrency, run)
    return rate, (workers.cpu() - before) / n


async def throughput(rig: Rig, database: str, n: int, concurrencies: list[int], rounds: int,
                     processes: int = 1) -> dict[int, float]:
    engine = make_engine(rig.database_url)
    queue = f"tp-{uuid.uuid4().hex[:6]}"
    ours, floor = rig.claims_workers(queue, processes), rig.bare_workers(f"{queue}-bare", processes)
    watch = PaidWatch(rig.database_url)
    reached: dict[int, float] = {}
    try:
        await one_claim(rig, watch, queue, new_fast_claim(engine))
        await one_bare(rig, f"{queue}-bare")
        for concurrency in concurrencies:
            mine, bare, cpu_mine, cpu_bare = [], [], [], []
            for turn in range(rounds):
                claims = [new_fast_claim(engine) for _ in range(n)]
                ours_round = timed(ours, n, concurrency, lambda i, c=claims: one_claim(rig, watch, queue, c[i]))
                floor_round = timed(floor, n, concurrency, lambda i: one_bare(rig, f"{queue}-bare"))
                # Each round pairs the claims with the floor right beside them, first one then the other in turn,
                # so a machine whose speed drifts moves both figures of a pair alike.
                if turn % 2 == 0:
                    (rate, cpu), (rate_bare, cpu_floor) = await ours_round, await floor_round
                else:
                    (rate_bare, cpu_floor), (rate, cpu) = await floor_round, await ours_round
                mine.append(rate)
                bare.append(rate_bare)
                cpu_mine.append(cpu)
                cpu_bare.append(cpu_floor)
            reached[concurrency] = statistics.median(mine)
            who = f"{processes} worker processes, " if processes > 1 else ""
            pairs = [m / b for m, b in zip(mine, bare, strict=True)]
            row(f"throughput, {n} claims, {concurrency} at once, {who}{database}", statistics.median(mine),
                statistics.median(bare), "/s", f"spread {spread(mine)} vs {spread(bare)}; rounds "
                + " ".join(f"{m:.1f}/{b:.1f}" for m, b in zip(mine, bare, strict=True)), ratio=statistics.median(pairs))
            if concurrency == max(concurrencies):
                row(f"worker CPU per claim, {database}{', ' + who.rstrip(', ') if who else ''}",
                    statistics.median(cpu_mine) * 1000, statistics.median(cpu_bare) * 1000, "ms")
    finally:
        watch.close()
        ours.stop()
        floor.stop()
    return reached


async def memory(rig: Rig, open_count: int) -> None:
    engine = make_engine(rig.database_url)
    queue = f"mem-{uuid.uuid4().hex[:6]}"
    cache = str(open_count + 100)
    ours = rig.claims_workers(queue, CLAIMS_WORKER_CACHE_SIZE=cache)
    floor = rig.bare_workers(f"{queue}-bare", cache=open_count + 100)
    try:
        await one_bare(rig, f"{queue}-bare")
        policy = f"P-M-{uuid.uuid4().hex[:8]}"
        load_policies(engine, [sample_policies()[0].model_copy(update={"policy_number": policy})])
        warm = auto_claim(documents=docs("claim_form"), policy_number=policy)
        await rig.client.start_workflow(WORKFLOW_TYPE, warm, id=workflow_id_for(warm["claim_id"]), task_queue=queue)
        await asyncio.sleep(3)
        base_ours, base_bare = ours.rss(), floor.rss()
        ids = []
        gate = asyncio.Semaphore(20)

        async def start(i: int) -> None:
            async with gate:
                claim = auto_claim(f"M-{uuid.uuid4().hex[:10]}", documents=docs("claim_form"), policy_number=policy)
                ids.append(claim["claim_id"])
                await rig.client.start_workflow(WORKFLOW_TYPE, claim, id=workflow_id_for(claim["claim_id"]),
                                                task_queue=queue)
                await rig.bare_client.start_workflow(BareWorkflow.run, args=[STEPS, True], id=f"mb-{uuid.uuid4().hex}",
                                                     task_queue=f"{queue}-bare")

        started = time.perf_counter()
        await asyncio.gather(*(start(i) for i in range(open_count)))
        while True:  # until every claim waits on documents
            with engine.connect() as conn:
                waiting = conn.execute(text("SELECT count(*) FROM claims WHERE stage = 'awaiting_documents' "
                                            "AND claim_id LIKE 'M-%'")).scalar_one()
            if waiting >= open_count:
                break
            await asyncio.sleep(0.5)
        took = time.perf_counter() - started
        await asyncio.sleep(3)
        per_ours = (ours.rss() - base_ours) / open_count * 1024
        per_bare = (floor.rss() - base_bare) / open_count * 1024
        row(f"worker memory per open workflow, {open_count} open", per_ours, per_bare, "KiB",
            f"worker RSS {ours.rss():.0f} MiB (started in {took:.0f} s)")
    finally:
        ours.stop()
        floor.stop()


async def replay_rate(rig: Rig, repeats: int) -> None:
    histories = [history_from_file(p, settings=Settings(CLAIMS_ENCRYPTION_KEYS=KEYS_FOR_HISTORIES))
                 for p in sorted((ROOT / "tests" / "histories").glob("*.json"))]
    floor_workers = rig.bare_workers("replay-bare")
    try:
        bare_histories: list[WorkflowHistory] = []
        for _ in range(len(histories)):
            handle = await rig.bare_client.start_workflow(BareWorkflow.run, STEPS, id=f"rb-{uuid.uuid4().hex}",
                                                          task_queue="replay-bare")
            await handle.result()
            bare_histories.append(await handle.fetch_history())
    finally:
        floor_workers.stop()
    ours = Replayer(workflows=[ClaimWorkflow, ComplaintWorkflow, EndedClaimCodeWorkflow, CatastropheWorkflow],
                    data_converter=converter_for(keyring=TEST_KEYRING), workflow_runner=workflow_runner())
    floor = Replayer(workflows=[BareWorkflow], workflow_runner=workflow_runner())
    rates_ours, rates_bare = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        for h in histories:
            await ours.replay_workflow(h)
        rates_ours.append(len(histories) / (time.perf_counter() - started))
        started = time.perf_counter()
        for h in bare_histories:
            await floor.replay_workflow(h)
        rates_bare.append(len(bare_histories) / (time.perf_counter() - started))
    events = sum(len(h.events) for h in histories) / len(histories)
    row("audit replay (saved histories)", statistics.median(rates_ours), statistics.median(rates_bare), "/s",
        f"{events:.0f} events per claim history vs {len(bare_histories[0].events)}")


async def command_line(rig: Rig, runs: int) -> None:
    engine = make_engine(rig.database_url)
    workers = rig.claims_workers("cli")
    watch = PaidWatch(rig.database_url)
    try:
        claim = new_fast_claim(engine)
        await one_claim(rig, watch, "cli", claim)
        ours, go, failures = [], [], 0
        env = rig.env("cli", TEMPORAL_HTTP_ADDRESS=rig.http_address)
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "starter.py", "status", claim["claim_id"]], cwd=ROOT, env=env,
                                  capture_output=True)
            ours.append(time.perf_counter() - started)
            failures += done.returncode != 0
            started = time.perf_counter()
            subprocess.run([str(installed_binary("temporal")), "workflow", "query", "--address", rig.address,
                            "--workflow-id", workflow_id_for(claim["claim_id"]), "--name", "status"],
                           capture_output=True, check=True)
            go.append(time.perf_counter() - started)
        row("`starter.py status`, whole command", statistics.median(ours), statistics.median(go), "s",
            f"vs the temporal CLI's query; {failures} of {runs} exited non-zero")
    finally:
        watch.close()
        workers.stop()


# --------------------------------------------------------------------------- main


async def measure(args: argparse.Namespace) -> None:
    only = set(args.only.split(",")) if args.only else None
    full = args.full
    var = Path(tempfile.mkdtemp(prefix="bench-"))
    http_port = free_port()
    env = await WorkflowEnvironment.start_local(search_attributes=search_attributes.ALL,
                                                dev_server_existing_path=str(installed_binary("temporal")),
                                                dev_server_log_level="error",
                                                dev_server_extra_args=["--http-port", str(http_port)])
    address = env.client.service_client.config.target_host
    databases = {"SQLite": f"sqlite:///{var / 'claims.db'}"}
    if not args.no_postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        pg = make_engine(POSTGRES_URL)
        with pg.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        pg.dispose()
        databases["PostgreSQL"] = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    for url in databases.values():
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
    client = await Client.connect(address, data_converter=converter_for(keyring=KEYRING))
    rigs = {name: Rig(address, var, url, client, env.client, f"http://127.0.0.1:{http_port}")
            for name, url in databases.items()}
    sqlite = rigs["SQLite"]
    print(f"machine: {os.cpu_count()} cores; Temporal dev server in memory; results below", flush=True)
    try:
        if only is None or "latency" in only:
            await latency(sqlite, 100 if full else 30)
        if only is None or "throughput" in only:
            n, rounds = (500, 3) if full else (100, 4)
            for name, rig in rigs.items():
                if name in args.skip_throughput:
                    continue
                await throughput(rig, name, n, [1, 10, 50] if full else [10, 50], rounds)
        if only is None or "processes" in only:
            n = 500 if full else 150
            for name, rig in rigs.items():
                one = await throughput(rig, name, n, [50], 2 if full else 1)
                two = await throughput(rig, name, n, [50], 2 if full else 1, processes=2)
                print(f"  two worker processes / one, {name}: {two[50] / one[50]:.2f}×", flush=True)
                ROWS.append((f"two worker processes / one, 50 at once, {name}", f"{two[50]:.2f} /s",
                             f"{one[50]:.2f} /s", f"{two[50] / one[50]:.2f}×", "ratio to one process, not the floor"))
        if only is None or "memory" in only:
            await memory(sqlite, 10_000 if full else 500)
        if only is None or "replay" in only:
            await replay_rate(sqlite, 5 if full else 2)
        if only is None or "cli" in only:
            await command_line(sqlite, 20 if full else 5)
    finally:
        await env.shutdown()
        if "PostgreSQL" in databases:  # the run's schema, dropped with what the run wrote
            pg = make_engine(POSTGRES_URL)
            with pg.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            pg.dispose()
    print()
    print("| figure | this project | bare engine | ratio | |")
    print("|---|---|---|---|---|")
    for r in ROWS:
        print("| " + " | ".join(r) + " |")
    print()
    for figure, verdict in TARGETS:
        print(f"target: {figure}: {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the long version (500 claims, 10,000 open, ...)")
    parser.add_argument("--only", help="comma-separated: latency,throughput,processes,memory,replay,cli")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--throughput-of", choices=["SQLite", "PostgreSQL"],
                        help="the throughput figures of one database only")
    args = parser.parse_args()
    args.skip_throughput = {"SQLite", "PostgreSQL"} - {args.throughput_of} if args.throughput_of else set()
    asyncio.run(measure(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
