"""The bare-engine floor the benchmarks compare against: a workflow that runs the three local activities a paid
claim cannot do without (register, pay, notify; each doing nothing), in the same sandbox, on a worker with the same
executor.

    python bench/bare_worker.py ADDRESS TASK_QUEUE     # a worker process, as worker.py is for the claims

`BareWorkflow(n)` runs n local activities and returns; `BareWorkflow(n, wait=True)` then waits for a signal,
as a claim waiting on documents does (for memory per open workflow).
"""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

STEPS = 3
"""The irreducible work of a paid claim: three durable effects (register it, pay it, tell the claimant), each a
local activity. The fast path is held to a multiple of this floor (bench/README.md)."""


@activity.defn
def step(n: int) -> int:
    return n


@workflow.defn
class BareWorkflow:
    def __init__(self) -> None:
        self.released = False

    @workflow.run
    async def run(self, n: int = STEPS, wait: bool = False) -> int:
        total = 0
        for i in range(n):
            total += await workflow.execute_local_activity(step, i, start_to_close_timeout=timedelta(seconds=10))
        if wait:
            await workflow.wait_condition(lambda: self.released)
        return total

    @workflow.signal
    def release(self) -> None:
        self.released = True


def bare_worker(client: Client, task_queue: str, cache: int = 1000) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[BareWorkflow], activities=[step],
                  activity_executor=ThreadPoolExecutor(max_workers=32), max_concurrent_activities=32,
                  max_cached_workflows=cache)


async def main(address: str, task_queue: str, cache: int) -> None:
    client = await Client.connect(address)
    await bare_worker(client, task_queue, cache).run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1000))
