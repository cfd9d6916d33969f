"""A typhoon day: a declared catastrophe, a surge of claims through the API, and workers added under load.

    .venv/bin/python bench/surge.py [--claims 1000] [--minutes 3] [--databases sqlite,postgresql] [--charts DIR]

For each database it starts the product as `make run` does (the embedded Temporal server, the HTTP API and one worker
process; statutory SLA profile, so no clock runs out during the run), a manager declares a typhoon over Guangdong
(`POST /catastrophes`), and the claims are reported through `POST /claims` (each with an `Idempotency-Key`) at an even
rate that reaches `--claims` in `--minutes` (10,000 in 30 minutes is 5.6 a second; so is 1,000 in 3):

- 70 % small auto claims in the typhoon, which the fast path pays;
- 20 % sent with a document missing, uploaded later through `POST /claims/{id}/documents`;
- 10 % large ones, which a person decides through `POST /claims/{id}/actions/...` (an investigator's findings when
  one is asked for, then the approval by the role the claim needs).

Worker processes go from 1 to 2 at a third of the reporting and to 4 at two thirds; when the last claim is reported,
three of them are stopped with SIGTERM (they drain) and the last one finishes the work. Every two seconds it samples
the workflow task queue's backlog, the workers' CPU time and memory and the claims still open.

At the end it checks against the database: every claim the API accepted is registered (lost: 0), no claim was paid
more than once or more than its payout (paid twice: 0), and every paid claim's decision and payment letters were
sent (letters lost: 0). It prints the figures, writes PNG charts over time (`surge-<database>.png`), and ends with a
verdict line per database; it exits 1 when anything was lost or paid twice.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activities.policies import load_policies  # noqa: E402
from bench.processes import cpu_seconds, rss_mib  # noqa: E402
from db.engine import make_engine  # noqa: E402
from identity import development  # noqa: E402
from testkit.api_stack import Stack, _spawn, start_stack, stop_stack  # noqa: E402
from testkit.claims import auto_claim, pdf  # noqa: E402
from testkit.world import POSTGRES_URL, sample_policies  # noqa: E402

REGION = "440305"
"""深圳市南山区, inside the typhoon (all of 广东省)."""
SMALL, MISSING, LARGE = "small", "missing", "large"


@dataclass
class Reported:
    claim_id: str
    kind: str
    at: float
    """When the report was sent (epoch seconds)."""


@dataclass
class Run:
    database: str
    reported: list[Reported] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    api: list[tuple[float, str, float]] = field(default_factory=list)
    """(when, what, seconds) of every API call the load made."""
    samples: list[dict[str, float]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stopped_cpu: float = 0.0
    """CPU seconds of worker processes already stopped."""
    started: float = 0.0
    busy: int = 0
    timeouts: int = 0
    """Calls the load gave up waiting for after two minutes (counted among `busy` when retried)."""
    """Answers of 503 (Temporal or the claim did not answer in time), each followed by a retry."""


def declaration(code: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"code": code, "name": "台风“海葵”（压力测试）", "regions": ["440000"],
            "starts_at": (now - timedelta(days=3)).isoformat(), "ends_at": (now + timedelta(days=3)).isoformat(),
            "claim_types": ["auto", "property"],
            "rules": {"green_channel": True, "documents": {"auto": ["claim_form", "damage_photos"]},
                      "authority_uplift": "2", "advance_days": 7},
            "declared_by": "mgr-chen", "reason": "typhoon landfall in Guangdong (load test)"}


def claim_of(kind: str, policy: str) -> dict[str, Any]:
    claim_id = f"S-{uuid.uuid4().hex[:12]}"
    body: dict[str, Any] = {"policy_number": policy,
                            "incident": {"occurred_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
                                         "description": "flooded in the typhoon", "cause": "flood", "region": REGION,
                                         "injuries": False, "major": False}}
    if kind == LARGE:
        body.update(claimed_amount="60000.00",
                    line_items=[{"description": "engine and interior", "amount": "60000.00", "category": "repair"}])
    claim = auto_claim(claim_id, **body)
    claim["documents"] = [{"kind": k, "ref": f"doc://{claim_id}/{k}.pdf"}
                          for k in (("claim_form",) if kind == MISSING else ("claim_form", "damage_photos"))]
    return claim


def policies(engine: Any, count: int) -> list[str]:
    """A policy per claim: no claim counts against another's sum insured or frequency."""
    template = sample_policies()[0]
    numbers = [f"P-S-{uuid.uuid4().hex[:10]}" for _ in range(count)]
    load_policies(engine, [template.model_copy(update={"policy_number": n}) for n in numbers])
    return numbers


async def timed_call(run: Run, what: str, call: Any) -> httpx.Response:
    """The call's answer, timed; one the client gave up waiting for reads as a 503 (each caller looks again or sends
    the same request again, as for a 503)."""
    started = time.perf_counter()
    try:
        response: httpx.Response = await call
    except httpx.TimeoutException:
        run.timeouts += 1
        response = httpx.Response(503, json={}, headers={"retry-after": "5"})
    run.api.append((time.time(), what, time.perf_counter() - started))
    return response


async def follow_up(run: Run, http: httpx.AsyncClient, stack: Stack, reported: Reported) -> None:
    """What people do for a claim that needs them: upload the missing photos, or investigate and approve."""
    if reported.kind == SMALL:
        return
    staff = {"sup": stack.auth("sup-liu", "supervisor"), "mgr": stack.auth("mgr-wu", "manager"),
             "adj": stack.auth("adj-li", "adjuster"), "inv": stack.auth("inv-wang", "investigator")}
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        status = (await timed_call(run, "status", http.get(f"/claims/{reported.claim_id}", headers=staff["sup"]))
                  ).json()
        stage = status.get("stage")
        if status.get("outcome") is not None:
            return
        if reported.kind == MISSING and stage == "awaiting_documents":
            await asyncio.sleep(random.uniform(5, 15))  # the claimant takes a photo later
            response = await timed_call(run, "upload", http.post(
                f"/claims/{reported.claim_id}/documents", headers=stack.auth("portal", "channel"),
                data={"kind": "damage_photos"},
                files={"file": ("photos.pdf", pdf(f"{reported.claim_id} photos"), "application/pdf")}))
            if response.status_code == 503:  # not answered in time: look again, then send again if still needed
                run.busy += 1
                await asyncio.sleep(float(response.headers.get("retry-after", "5")))
                continue
            if response.status_code != 201:
                raise RuntimeError(f"upload for {reported.claim_id} refused: {response.text}")
            reported = Reported(reported.claim_id, SMALL, reported.at)  # nothing more to do by hand
        elif stage == "investigating":
            answer = await timed_call(run, "action", http.post(
                f"/claims/{reported.claim_id}/actions/record_investigation", headers=staff["inv"],
                json={"investigator_id": "inv-wang", "findings": "water line as photographed",
                      "fraud_suspected": False}))
            run.busy += answer.status_code == 503
        elif stage == "awaiting_approval":
            role = status.get("required_role") or "supervisor"
            who = {"adjuster": ("adj-li", "adj"), "supervisor": ("sup-liu", "sup")}.get(role, ("mgr-wu", "mgr"))
            answer = await timed_call(run, "action", http.post(
                f"/claims/{reported.claim_id}/actions/approve", headers=staff[who[1]],
                json={"approver_id": who[0], "role": role, "comment": "typhoon damage as reported"}))
            run.busy += answer.status_code == 503
        await asyncio.sleep(2)


def add_worker(run: Run, stack: Stack) -> None:
    n = len(run.workers) + 1
    run.workers.append(_spawn([sys.executable, "worker.py"], stack.env, stack.var_dir / f"surge-worker-{n}.log"))


def drain(run: Run, keep: int) -> None:
    """SIGTERM every worker beyond the first `keep`; each finishes what it holds and exits."""
    for process in run.workers[keep:]:
        cpu = cpu_seconds(process.pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
        run.stopped_cpu += cpu
    run.workers = run.workers[:keep]


async def sample(run: Run, client: Client, engine: Any, queue: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        described = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, report_stats=True))
        with engine.connect() as conn:
            open_claims = conn.execute(text("SELECT count(*) FROM claims WHERE outcome IS NULL "
                                            "AND claim_id LIKE 'S-%'")).scalar_one()
        live = [p for p in run.workers if p.poll() is None]
        run.samples.append({
            "t": time.time() - run.started, "backlog": float(described.stats.approximate_backlog_count),
            "backlog_age": described.stats.approximate_backlog_age.ToTimedelta().total_seconds(),
            "workers": float(len(live)), "open": float(open_claims),
            "cpu": run.stopped_cpu + sum(cpu_seconds(p.pid) for p in live),
            "rss": sum(rss_mib(p.pid) for p in live)})
        try:
            await asyncio.wait_for(stop.wait(), timeout=2)
        except TimeoutError:
            pass


async def surge(run: Run, stack: Stack, claims: int, minutes: float) -> None:
    engine = make_engine(stack.env["DATABASE_URL"])
    numbers = policies(engine, claims)
    client = await Client.connect(f"127.0.0.1:{stack.env['CLAIMS_EMBEDDED_PORT']}")
    queue = stack.env["CLAIMS_TASK_QUEUE"]
    portal = stack.auth("portal", "channel")
    rng = random.Random(26)
    kinds = [SMALL] * 70 + [MISSING] * 20 + [LARGE] * 10
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=stack.url, timeout=120, limits=limits) as http:
        code = f"CAT-SURGE-{uuid.uuid4().hex[:6]}"
        declared = await http.post("/catastrophes", json=declaration(code), headers=stack.auth("mgr-chen", "manager"))
        if declared.status_code != 201:
            raise RuntimeError(f"the typhoon was not declared: {declared.text}")
        run.workers = [p for p in stack.processes if p.args[-1] == "worker.py"]
        run.started = time.time()
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample(run, client, engine, queue, stop))
        follow: list[asyncio.Task[None]] = []
        pace = minutes * 60 / claims

        async def report(i: int, kind: str) -> None:
            claim = claim_of(kind, numbers[i])
            sent = time.time()
            for _ in range(20):  # a 503 changed nothing: the same report again, under the same key
                response = await timed_call(run, "report", http.post(
                    "/claims", json=claim, headers={**portal, "Idempotency-Key": claim["claim_id"]}))
                if response.status_code != 503:
                    break
                run.busy += 1
                await asyncio.sleep(float(response.headers.get("retry-after", "5")))
            if response.status_code not in (200, 201):
                run.refused.append(f"{claim['claim_id']}: {response.status_code} {response.text[:200]}")
                return
            reported = Reported(claim["claim_id"], kind, sent)
            run.reported.append(reported)
            follow.append(asyncio.create_task(follow_up(run, http, stack, reported)))

        reports: list[asyncio.Task[None]] = []
        for i in range(claims):
            if i == claims // 3:
                add_worker(run, stack)
            if i == 2 * claims // 3:
                add_worker(run, stack)
                add_worker(run, stack)
            due = run.started + i * pace
            await asyncio.sleep(max(0.0, due - time.time()))
            reports.append(asyncio.create_task(report(i, rng.choice(kinds))))
        await asyncio.gather(*reports)
        await asyncio.to_thread(drain, run, 1)
        await asyncio.gather(*follow)
        await settle(run, engine)
        stop.set()
        await sampler


async def settle(run: Run, engine: Any, seconds: float = 1800) -> None:
    """Until every reported claim is closed and its letters are out, or the deadline (then the checks say what)."""
    ids = [r.claim_id for r in run.reported]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            open_ = conn.execute(text("SELECT count(*) FROM claims WHERE outcome IS NULL AND claim_id LIKE 'S-%'")
                                 ).scalar_one()
            letters = conn.execute(text("SELECT count(*) FROM notifications WHERE claim_id LIKE 'S-%' "
                                        "AND kind = 'payment_sent' AND status = 'sent'")).scalar_one()
            paid = conn.execute(text("SELECT count(*) FROM claims WHERE outcome = 'paid' AND claim_id LIKE 'S-%'")
                                ).scalar_one()
        if open_ == 0 and letters >= paid and len(ids) > 0:
            return
        await asyncio.sleep(2)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def checks(run: Run, engine: Any) -> dict[str, Any]:
    ids = {r.claim_id for r in run.reported}
    with engine.connect() as conn:
        rows = {r.claim_id: r for r in conn.execute(text(
            "SELECT claim_id, outcome, payout_amount FROM claims WHERE claim_id LIKE 'S-%'"))}
        payments = conn.execute(text(
            "SELECT claim_id, kind, amount, paid_at FROM payments WHERE claim_id LIKE 'S-%' AND status = 'paid'")
        ).all()
        letters = conn.execute(text("SELECT claim_id, kind FROM notifications WHERE claim_id LIKE 'S-%' "
                                    "AND status = 'sent'")).all()
    finals: dict[str, int] = {}
    paid_sum: dict[str, float] = {}
    paid_at: dict[str, datetime] = {}
    for p in payments:
        paid_sum[p.claim_id] = paid_sum.get(p.claim_id, 0.0) + float(p.amount)
        if p.kind == "final":
            finals[p.claim_id] = finals.get(p.claim_id, 0) + 1
            at = p.paid_at if isinstance(p.paid_at, datetime) else datetime.fromisoformat(str(p.paid_at))
            paid_at[p.claim_id] = at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite's text, stored in UTC
    sent: dict[str, set[str]] = {}
    for letter in letters:
        sent.setdefault(letter.claim_id, set()).add(letter.kind)
    paid = [c for c, r in rows.items() if r.outcome == "paid"]
    twice = [c for c in paid if finals.get(c, 0) > 1
             or paid_sum.get(c, 0.0) > float(rows[c].payout_amount or 0) + 0.005]
    letters_lost = [c for c in paid if not ({"acknowledgement", "payment_sent"} <= sent.get(c, set())
                                            and any(k.startswith("decision_") for k in sent.get(c, set())))]
    by_id = {r.claim_id: r for r in run.reported}
    fast = [(paid_at[c].timestamp() - by_id[c].at) for c in paid if c in by_id and by_id[c].kind == SMALL
            and c in paid_at]
    return {"reported": len(ids), "registered": len(ids & set(rows)), "lost": len(ids - set(rows)),
            "paid": len(paid), "open": sum(1 for r in rows.values() if r.outcome is None),
            "other outcomes": sum(1 for r in rows.values() if r.outcome not in (None, "paid")),
            "paid twice": len(twice), "letters lost": len(letters_lost), "fast": fast,
            "fast_at": [(by_id[c].at - run.started, paid_at[c].timestamp() - by_id[c].at) for c in paid
                        if c in by_id and by_id[c].kind == SMALL and c in paid_at]}


def charts(run: Run, found: dict[str, Any], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(4, 1, figsize=(10, 12), sharex=True)
    t = [s["t"] / 60 for s in run.samples]
    ax = axes[0]
    ax.plot(t, [s["open"] for s in run.samples], label="open claims")
    ax.plot(t, [s["backlog"] for s in run.samples], label="workflow task backlog")
    ax2 = ax.twinx()
    ax2.step(t, [s["workers"] for s in run.samples], where="post", color="grey", label="worker processes")
    ax2.set_ylim(0, 5)
    ax.legend(loc="upper left")
    ax2.legend(loc="upper right")
    ax.set_title(f"{run.database}: {found['reported']} claims reported")
    span = max(5.0, (run.samples[-1]["t"] if run.samples else 60.0) / 40)  # seconds a point: forty over the run
    windows: dict[int, list[float]] = {}
    for at, seconds in found["fast_at"]:
        windows.setdefault(int(at // span), []).append(seconds)
    keys = sorted(windows)
    axes[1].plot([k * span / 60 for k in keys], [statistics.median(windows[k]) for k in keys], ".-", label="p50")
    axes[1].plot([k * span / 60 for k in keys], [pct(windows[k], 0.99) for k in keys], ".-", label="p99")
    axes[1].set_ylabel("report → paid, s (fast path)")
    axes[1].legend()
    api: dict[int, list[float]] = {}
    for at, _what, seconds in run.api:
        api.setdefault(int((at - run.started) // span), []).append(seconds * 1000)
    keys = sorted(api)
    axes[2].plot([k * span / 60 for k in keys], [pct(api[k], 0.99) for k in keys], ".-", label="API p99")
    axes[2].set_ylabel("ms")
    axes[2].legend()
    cpu = [(b["t"] / 60, (b["cpu"] - a["cpu"]) / max(1e-9, b["t"] - a["t"]))
           for a, b in zip(run.samples, run.samples[1:], strict=False)]
    axes[3].plot([c[0] for c in cpu], [c[1] for c in cpu], label="worker CPU (cores)")
    axes[3].plot(t, [s["rss"] / 1024 for s in run.samples], label="worker memory (GiB)")
    axes[3].set_xlabel("minutes")
    axes[3].legend()
    figure.tight_layout()
    path = out / f"surge-{run.database.lower()}.png"
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def report(run: Run, found: dict[str, Any], chart: Path | None) -> bool:
    fast = found["fast"]
    reports = [s for _, what, s in run.api if what == "report"]
    cpu = run.samples[-1]["cpu"] if run.samples else 0.0
    peak = max(run.samples, key=lambda s: s["open"]) if run.samples else {"open": 0.0, "rss": 0.0, "workers": 1.0}
    idle = run.samples[0]["rss"] if run.samples else 0.0  # one worker process, no claim open yet
    per_open = (peak["rss"] - idle * peak["workers"]) * 1024 / peak["open"] if peak["open"] else float("nan")
    minutes = (run.reported[-1].at - run.started) / 60 if run.reported else 0.0
    print(f"\n{run.database}: {found['reported']} claims reported in {minutes:.1f} min "
          f"({found['reported'] / max(1e-9, minutes * 60):.2f}/s); {len(run.refused)} refused by the API")
    print(f"  fast path report → paid: p50 {pct(fast, 0.5):.2f} s, p99 {pct(fast, 0.99):.2f} s ({len(fast)} claims)")
    print(f"  API POST /claims: p50 {pct(reports, 0.5) * 1000:.0f} ms, p99 {pct(reports, 0.99) * 1000:.0f} ms")
    print(f"  workflow task backlog: peak {max((s['backlog'] for s in run.samples), default=0):.0f} tasks, oldest "
          f"{max((s['backlog_age'] for s in run.samples), default=0):.1f} s")
    print(f"  worker CPU per claim (with three worker processes' start): "
          f"{cpu / max(1, found['reported']) * 1000:.0f} ms; memory per open claim: "
          f"{per_open:.0f} KiB (peak {peak['open']:.0f} open)")
    print(f"  paid {found['paid']}, other outcomes {found['other outcomes']}, still open {found['open']}; "
          f"{run.busy} answers of 503 (not answered in time), each retried; {run.timeouts} calls not answered within "
          "two minutes")
    if chart:
        print(f"  charts: {chart.relative_to(ROOT) if chart.is_relative_to(ROOT) else chart}")
    whole = found["lost"] == 0 and found["paid twice"] == 0 and found["letters lost"] == 0 and not run.refused
    print(f"VERDICT {run.database}: {'OK' if whole else 'FAILED'}: lost {found['lost']}, paid twice "
          f"{found['paid twice']}, letters lost {found['letters lost']}, refused {len(run.refused)}; fast path p50 "
          f"{pct(fast, 0.5):.2f} s, p99 {pct(fast, 0.99):.2f} s; workers 1 → 2 → 4 → 1", flush=True)
    for line in run.refused[:5]:
        print(f"  refused: {line}")
    return whole


def database_url(name: str) -> str | None:
    if name == "sqlite":
        return None
    schema = f"surge_{uuid.uuid4().hex[:8]}"
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def serve_issuer(var: Path) -> tuple[dict[str, str], ThreadingHTTPServer]:
    """The organisation's identity provider, for a stack on PostgreSQL (where the development issuer refuses to run):
    its key set served over HTTP on this machine, and its tokens minted with the same key (`Stack.token`)."""
    development.signing_key(var)
    jwks = development.jwks_path(var).read_bytes()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return ({"CLAIMS_DEV_ISSUER": "false", "CLAIMS_OIDC_ISSUER": development.ISSUER,
             "CLAIMS_OIDC_JWKS_URL": f"http://127.0.0.1:{server.server_port}/jwks.json",
             "CLAIMS_MESSAGE_GATEWAY": "testkit.messages:AcceptingGateway"}, server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--charts", type=Path, default=ROOT / "bench")
    args = parser.parse_args()
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    whole = True
    for name in args.databases.split(","):
        var = Path(tempfile.mkdtemp(prefix=f"surge-{name}-")) / "var"
        url = database_url(name)
        env = {"CLAIMS_READ_DOCUMENTS": "false", "CLAIMS_LOG_LEVEL": "WARNING",
               "CLAIMS_WORKER_SHUTDOWN_SECONDS": "60", **({"DATABASE_URL": url} if url else {})}
        issuer = None
        if url:
            identity, issuer = serve_issuer(var)
            env.update(identity)
        stack = start_stack(var, sla_profile="statutory", env=env)
        run = Run(names[name])
        try:
            asyncio.run(surge(run, stack, args.claims, args.minutes))
            found = checks(run, make_engine(stack.env["DATABASE_URL"]))
            args.charts.mkdir(parents=True, exist_ok=True)
            whole = report(run, found, charts(run, found, args.charts)) and whole
        finally:
            for process in run.workers:
                if process.poll() is None and process not in stack.processes:
                    process.terminate()
            stop_stack(stack)
            if issuer is not None:
                issuer.shutdown()
    return 0 if whole else 1


if __name__ == "__main__":
    sys.exit(main())
