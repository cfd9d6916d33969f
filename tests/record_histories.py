"""Record the saved histories under tests/histories/: every demo scenario on a dev server of its own.

    .venv/bin/python -m tests.record_histories

Run it when a new path is added. Never re-record to make a failing replay pass: a replay that fails means
running claims would fail the same way (see docs/operators.md, "Changing workflow code safely").
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from activities.database import load_policies
from activities.engine import make_engine
from activities.schema import upgrade
from config.settings import Settings
from config.temporal import installed_binary
from demo import scenarios as demo
from models import search_attributes
from models.contract import PolicyTerms, workflow_id_for
from tests.conftest import data_converter
from worker import build_worker

HISTORIES = Path(__file__).parent / "histories"


async def record() -> None:
    var = Path(tempfile.mkdtemp())
    settings = Settings(CLAIMS_VAR_DIR=var, CLAIMS_SLA_PROFILE="demo", CLAIMS_TASK_QUEUE="claims-record")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    policies = json.loads((demo.SAMPLES / "policies.json").read_text(encoding="utf-8"))
    load_policies(engine, [PolicyTerms.model_validate(p) for p in policies])
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter, search_attributes=search_attributes.ALL,
        dev_server_existing_path=str(installed_binary("temporal")))
    HISTORIES.mkdir(exist_ok=True)
    try:
        async with build_worker(env.client, settings, engine):
            scenarios = demo.scenarios("H")
            rows = await asyncio.gather(*(demo.play(env.client, s, settings) for s in scenarios))
            await asyncio.sleep(5)  # surveys and timers after closing
            for scenario, row in zip(scenarios, rows, strict=True):
                if any(note.startswith("refused before starting") for note in scenario.notes):
                    continue
                handle = env.client.get_workflow_handle(workflow_id_for(row.claim_id))
                history = await handle.fetch_history()
                name = re.sub(r"[^a-z0-9]+", "-", scenario.name.lower()).strip("-")
                (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
                print(f"{name}: {len(history.events)} events, outcome {row.outcome}")  # noqa: T201
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(record())
