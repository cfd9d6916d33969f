"""What payload encryption costs per claim, as a ratio to the same claims without it.

    .venv/bin/python bench/codec_cost.py --claims 40

On one embedded Temporal dev server, with a worker in this process and SQLite, runs the same fast-path
claims (report to paid, watched through the status query: about thirty payloads each way) one after the
other, first with the plain data converter, then with the encrypting one, alternating rounds so the machine's
load falls on both alike. Prints the median and 95th percentile per claim and the ratio, and the codec's own
time per payload.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import structlog
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.policies import load_policies  # noqa: E402
from config.converter import data_converter as plain  # noqa: E402
from config.encryption import EncryptionCodec, Keyring, converter_for  # noqa: E402
from config.settings import Settings  # noqa: E402
from config.temporal import installed_binary  # noqa: E402
from db.engine import make_engine  # noqa: E402
from db.schema import upgrade  # noqa: E402
from models import search_attributes  # noqa: E402
from models.contract import WORKFLOW_TYPE, workflow_id_for  # noqa: E402
from testkit.claims import auto_claim  # noqa: E402
from testkit.world import sample_policies  # noqa: E402
from workers.claims import build_worker  # noqa: E402

KEYRING = Keyring("bench", {"bench": bytes(range(32))})


async def run_claims(client: Client, settings: Settings, n: int) -> list[float]:
    engine = make_engine(settings.resolved_database_url)
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    samples = []
    async with build_worker(client, settings, engine, task_queue=queue):
        for _ in range(n):
            policy = f"P-B-{uuid.uuid4().hex[:8]}"  # a policy of its own: no frequent-claims risk, so the fast path
            load_policies(engine, [sample_policies()[0].model_copy(update={"policy_number": policy})])
            claim = auto_claim(policy_number=policy)
            started = time.perf_counter()
            handle = await client.start_workflow(WORKFLOW_TYPE, claim, id=workflow_id_for(claim["claim_id"]),
                                                 task_queue=queue)
            while (await handle.query("status"))["outcome"] != "paid":  # the workflow stays open for the survey
                await asyncio.sleep(0.01)
            samples.append(time.perf_counter() - started)
    return samples


def figures(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


async def measure(n: int, rounds: int) -> None:
    var = Path(tempfile.mkdtemp(prefix="codec-cost-"))
    settings = Settings(CLAIMS_VAR_DIR=var, CLAIMS_TASK_QUEUE="bench")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    env = await WorkflowEnvironment.start_local(data_converter=plain, search_attributes=search_attributes.ALL,
                                                dev_server_existing_path=str(installed_binary("temporal")))
    try:
        address = env.client.service_client.config.target_host
        clients = {"plain": env.client,
                   "encrypted": await Client.connect(address, data_converter=converter_for(keyring=KEYRING))}
        results: dict[str, list[float]] = {"plain": [], "encrypted": []}
        await run_claims(clients["plain"], settings, 3)  # warm up: the sandbox's first import, the database
        for _ in range(rounds):
            for name, client in clients.items():
                results[name] += await run_claims(client, settings, n // rounds)
    finally:
        await env.shutdown()
    codec = EncryptionCodec(KEYRING)
    payload = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(auto_claim()).encode())
    started = time.perf_counter()
    for _ in range(2000):
        await codec.decode(await codec.encode([payload]))
    per_payload_us = (time.perf_counter() - started) / 2000 * 1e6

    base = figures(results["plain"])[0]
    print(f"{len(results['plain'])} fast-path claims each way, report to paid, one at a time")
    print(f"{'':24} {'median ms':>10} {'p95 ms':>8} {'ratio':>7}")
    for name, samples in results.items():
        median, p95 = figures(samples)
        print(f"{name:24} {median:10.2f} {p95:8.2f} {median / base:7.2f}")
    print(f"encrypt + decrypt one claim-sized payload: {per_payload_us:.1f} µs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    asyncio.run(measure(args.claims, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
