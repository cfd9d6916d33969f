"""What the HTTP API and the token checks add per claim, as ratios to the Temporal client used directly.

    .venv/bin/python bench/api_cost.py --claims 100

Starts the product as `make run` does (embedded Temporal server, a worker process, an API process; SQLite),
then, one after the other:
  - reports N claims with the Temporal client (`start_workflow`, the floor) and N through `POST /claims`
    (token check at the door, idempotency key row, duplicate check, start);
  - sends N `submit_documents` updates with the Temporal client (the workflow checks the token) and N through
    `POST /claims/{id}/actions/submit_documents` (the API checks it too, then forwards it);
  - verifies one token N times in-process (the check itself, without any network).
Prints the median and 95th percentile of each, and each API figure as a ratio to its direct floor.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowUpdateFailedError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from config.encryption import converter_for  # noqa: E402
from identity import development  # noqa: E402
from identity.keys import signer_for, verifier_for  # noqa: E402
from models.contract import WORKFLOW_TYPE, workflow_id_for  # noqa: E402
from testkit.api_stack import Stack, start_stack, stop_stack  # noqa: E402
from testkit.claims import auto_claim, docs  # noqa: E402


def figures(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


async def timed(n: int, step: Callable[[int], Awaitable[Any]]) -> list[float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        try:
            await step(i)
        except WorkflowUpdateFailedError as err:
            raise RuntimeError(f"step {i} refused: {err.cause}") from None
        samples.append(time.perf_counter() - started)
    return samples


async def measure(stack: Stack, n: int) -> dict[str, list[float]]:
    client = await Client.connect(f"127.0.0.1:{stack.env['CLAIMS_EMBEDDED_PORT']}",
                                  data_converter=converter_for(stack.settings))
    signer = signer_for(stack.settings)
    channel = development.vouched("portal", ["channel"])
    queue = stack.env["CLAIMS_TASK_QUEUE"]
    portal = stack.token("portal", "channel")
    tag = uuid.uuid4().hex[:6]
    direct_ids = [f"BD-{tag}-{i}" for i in range(n)]
    api_ids = [f"BA-{tag}-{i}" for i in range(n)]

    def claim(cid: str) -> dict[str, Any]:  # waits for documents, so the updates below find it open
        return auto_claim(cid, documents=docs("claim_form", claim_id=cid))

    async with httpx.AsyncClient(base_url=stack.url, timeout=30,
                                 headers={"Authorization": f"Bearer {portal}"}) as http:
        await http.get("/health")  # warm the connection and the app

        async def start_direct(i: int) -> None:
            await client.start_workflow(WORKFLOW_TYPE, claim(direct_ids[i]), id=workflow_id_for(direct_ids[i]),
                                        task_queue=queue)

        async def start_api(i: int) -> None:
            response = await http.post("/claims", json=claim(api_ids[i]), headers={"Idempotency-Key": api_ids[i]})
            assert response.status_code == 201, response.text

        results = {"start, Temporal client": await timed(n, start_direct),
                   "start, POST /claims": await timed(n, start_api)}
        for cid in direct_ids + api_ids:  # every claim registered and waiting before the updates
            await wait_until_waiting(client, cid)

        async def update_direct(i: int) -> None:
            payload = {"documents": [{"kind": "id_card", "ref": f"doc://{direct_ids[i]}/id"}]}
            await client.get_workflow_handle(workflow_id_for(direct_ids[i])).execute_update(
                "submit_documents", signer.credential(channel, workflow_id_for(direct_ids[i]), "submit_documents",
                                                      payload))

        async def update_api(i: int) -> None:
            response = await http.post(f"/claims/{api_ids[i]}/actions/submit_documents",
                                       json={"documents": [{"kind": "id_card", "ref": f"doc://{api_ids[i]}/id"}]})
            assert response.status_code == 200, response.text

        results["update, Temporal client"] = await timed(n, update_direct)
        results["update, POST /claims/{id}/actions"] = await timed(n, update_api)

    verifier = verifier_for(stack.settings.model_copy(update={"dev_issuer": True}))  # the stack's issuer
    results["token check alone"] = []
    for _ in range(n):
        started = time.perf_counter()
        verifier.verify(portal, datetime.now(UTC))
        results["token check alone"].append(time.perf_counter() - started)
    return results


async def wait_until_waiting(client: Client, claim_id: str) -> None:
    handle = client.get_workflow_handle(workflow_id_for(claim_id))
    for _ in range(300):
        try:
            if (await handle.query("status"))["stage"] == "awaiting_documents":
                return
        except Exception:  # noqa: BLE001 - not registered yet
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"claim {claim_id} never reached awaiting_documents")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=100)
    args = parser.parse_args()
    stack = start_stack(Path(tempfile.mkdtemp(prefix="api-cost-")) / "var", sla_profile="statutory")
    try:
        results = asyncio.run(measure(stack, args.claims))
    finally:
        stop_stack(stack)
    floors = {"start": "start, Temporal client", "update": "update, Temporal client"}
    print(f"{args.claims} claims, one at a time")
    print(f"{'':40} {'median ms':>10} {'p95 ms':>8} {'ratio':>7}")
    for name, samples in results.items():
        median, p95 = figures(samples)
        floor = floors.get(name.split(",")[0])
        ratio = median / figures(results[floor])[0] if floor and floor != name else None
        print(f"{name:40} {median:10.2f} {p95:8.2f} {ratio:7.2f}" if ratio else f"{name:40} {median:10.2f} {p95:8.2f}")
    ratio = figures(results["start, POST /claims"])[0] / figures(results["start, Temporal client"])[0]
    print(f"target: POST /claims at most 1.5× a bare start: {ratio:.2f}×: {'met' if ratio <= 1.5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
