"""The rig the Temporal-level money machine runs on: one event loop and one database per test function, and a
time-skipping server with a worker of its own for each example (`tests/test_money_invariants.py`,
`bench/money_soak.py`)."""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text
from temporalio.api.enums.v1 import EventType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.testservice.v1 import UnlockTimeSkippingRequest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.gateway import LedgerGateway
from activities.policies import load_policies
from config.settings import Settings
from config.temporal import installed_binary
from db.engine import make_engine
from db.schema import upgrade
from models import search_attributes
from testkit.harness import Claims, queue_name
from testkit.world import POSTGRES_URL, data_converter, sample_policies
from workers.claims import build_worker

CLOSED_ACCOUNT = "6222000000000000"
"""An account the simulated bank refuses."""

ENDINGS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: WorkflowExecutionStatus.COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: WorkflowExecutionStatus.FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: WorkflowExecutionStatus.TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: WorkflowExecutionStatus.TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: WorkflowExecutionStatus.CONTINUED_AS_NEW,
}



class Rig:
    """One event loop and one database (SQLite, or a PostgreSQL schema of its own) shared by every example of a test
    function (each example uses fresh claim ids and fresh policies), and for each example a time-skipping server and
    a worker of its own (`begin`, `finish`).

    A server per example, not one shared: the test server holds time still while any workflow task or activity it
    handed out is unfinished, and a claim ended by termination with one outstanding (a task scheduled, an activity
    running) holds time for good, so every later timer skip on that server would wait forever. A server that goes
    with its example takes its claims, their clocks and anything they hold with it, and starts in a tenth of a
    second."""

    def __init__(self, database: str = "sqlite") -> None:
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory(prefix="claims-invariants-")
        tmp = Path(self.tmp.name)
        # Every claim's run continues as new once its history reaches 40 events (the least the rules allow), so the
        # sequences move money across runs as long claims do.
        rules = tmp / "rules.json"
        rules.write_text(json.dumps({"continue_after_events": 40}))
        self.settings = Settings(CLAIMS_VAR_DIR=tmp / "var", DATABASE_URL=f"sqlite:///{tmp / 'claims.db'}",
                                 CLAIMS_RULES_FILE=rules)
        self.schema = None
        if database == "postgresql":
            self.schema = f"t_{uuid.uuid4().hex[:12]}"
            with make_engine(POSTGRES_URL).begin() as conn:
                conn.execute(text(f'create schema "{self.schema}"'))
            self.engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={self.schema}"})
        else:
            self.engine = make_engine(self.settings.resolved_database_url)
        upgrade(self.engine)
        load_policies(self.engine, sample_policies())
        self.gateway = LedgerGateway(self.engine, closed_accounts=frozenset({CLOSED_ACCOUNT}))
        self.started: tuple[WorkflowEnvironment, Worker, Claims] | None = None
        self.runs_read: set[str] = set()
        """Earlier runs of claims whose histories were read for a task the test server lost."""
        self.lost_tasks = 0

    def begin(self) -> None:
        """A time-skipping server and a worker for the next example."""

        async def start() -> tuple[WorkflowEnvironment, Worker, Claims]:
            env = await WorkflowEnvironment.start_time_skipping(
                data_converter=data_converter, test_server_existing_path=str(installed_binary("temporal-test-server")))
            await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
                namespace="default", search_attributes={k.name: k.indexed_value_type for k in search_attributes.ALL}))
            queue = queue_name()
            worker = build_worker(env.client, self.settings, self.engine, task_queue=queue, gateway=self.gateway)
            await worker.__aenter__()  # a worker is built and run inside the loop it polls from
            return env, worker, Claims(env.client, queue, self.engine, self.gateway, self.settings)

        self.finish()
        self.started = self.run(start())

    def finish(self) -> None:
        """Stop the example's worker and its server, and with it the example's claims wherever they are."""
        if self.started is None:
            return
        env, worker, _ = self.started
        self.started = None
        try:
            self.run(worker.__aexit__(None, None, None))
        finally:
            self.run(env.shutdown())

    @property
    def env(self) -> WorkflowEnvironment:
        assert self.started is not None, "begin() starts the example's server"
        return self.started[0]

    @property
    def claims(self) -> Claims:
        assert self.started is not None, "begin() starts the example's server"
        return self.started[2]

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def release_time_held_by_lost_tasks(self, claim_ids: list[str]) -> None:
        """Give back the time the test server holds for workflow tasks it lost. Its continue-as-new is not atomic
        (sdk-java issue 1538): now and then a run's last task starts, the next run starts from it, and the task's
        completion is refused with "workflow execution already completed", so the old run's history ends at
        `WorkflowTaskStarted`. The server holds time still for every workflow task until it completes, so time is
        then held for good and the timer skip under way waits forever. Such a run is found by its history: a run
        that was continued, ends neither in continue-as-new nor in another ending, and whose next run has already
        completed a task of its own (so the continue-as-new is not still being written). Time is released once for
        it: a state read from the server, not a guess from a clock."""
        for claim_id in claim_ids:
            handle = self.claims.handle(claim_id)
            try:
                later = [e async for e in handle.fetch_history_events()]
            except RPCError:
                continue  # never started (bad input refused at the start)
            while later:
                earlier = later[0].workflow_execution_started_event_attributes.continued_execution_run_id
                if not earlier or earlier in self.runs_read:
                    break
                events = [e async for e in self.env.client.get_workflow_handle(
                    handle.id, run_id=earlier).fetch_history_events()]
                if events[-1].event_type not in ENDINGS:
                    if not any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in later):
                        break  # the continue-as-new may still be being written: look again next time
                    await self.env.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
                    self.lost_tasks += 1
                self.runs_read.add(earlier)
                later = events

    def close(self) -> None:
        try:
            self.finish()
        finally:
            self.engine.dispose()
            self.loop.close()
            self.tmp.cleanup()
            if self.schema is not None:
                with make_engine(POSTGRES_URL).begin() as conn:
                    conn.execute(text(f'drop schema "{self.schema}" cascade'))
