"""Saved histories of every path replay against the current workflow code.

A change that running claims would replay differently fails here, in CI, instead of in production.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from audit.replay import history_from_file
from config.settings import Settings
from config.temporal import workflow_runner
from models.contract import WORKFLOW_TYPE
from testkit.claims import auto_claim
from testkit.harness import queue_name
from testkit.world import TEST_KEYS, data_converter
from tests.changed_workflows import ChangedWithoutPatch, ChangedWithPatch
from workers.claims import build_worker
from workflows import metrics
from workflows.claim import ClaimWorkflow
from workflows.complaint import ComplaintWorkflow
from workflows.ended_claim_code import EndedClaimCodeWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def saved(path: Path) -> WorkflowHistory:
    return history_from_file(path, settings=Settings(CLAIMS_ENCRYPTION_KEYS=TEST_KEYS))


def replayer(workflow_class: type = ClaimWorkflow) -> Replayer:
    return Replayer(workflows=[workflow_class, ComplaintWorkflow, EndedClaimCodeWorkflow],
                    data_converter=data_converter,
                    workflow_runner=workflow_runner())


def test_every_path_has_a_saved_history():
    names = {p.stem for p in HISTORIES}
    assert {"fast-path", "missing-materials-then-supplied", "investigation-manager-approval", "withdrawal",
            "statutory-advance-payment", "green-channel", "partial-approval-appeal-upheld",
            "continued-run-1", "continued-run-2", "complaint-late", "complaint-late-before-events",
            "invoice-read-by-machine", "invoice-above-the-claim", "denied-then-appeal-upheld",
            "closed-incomplete-then-reopened", "advance-then-denied-owed-back-written-off", "appeal-continued-run-1",
            "appeal-continued-run-2", "appeal-continued-run-3", "excluded-then-appeal-with-nothing-to-pay",
            "proofs-run-1", "proofs-run-2", "proofs-run-3", "complaint-with-action-proofs", "ended-claim-code"} <= names
    first = saved(Path(__file__).parent / "histories" / "continued-run-1.json")
    assert first.events[-1].HasField("workflow_execution_continued_as_new_event_attributes"), \
        "the saved chain starts with a run that continued as new"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_saved_history_replays_against_the_current_code(path: Path):
    await replayer().replay_workflow(saved(path))


def stages_recorded(history: WorkflowHistory) -> list[str]:
    """The stages a run entered, as its history recorded them: each change of the claim's `ClaimStage` search
    attribute, from the stage the run started at (a continued run starts where the run before left off)."""
    def stage(fields: Any) -> str | None:
        field = fields.indexed_fields.get("ClaimStage")
        return json.loads(field.data) if field is not None and field.data else None

    started = history.events[0].workflow_execution_started_event_attributes
    stages = [stage(started.search_attributes) or "registered"]
    for event in history.events:
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            now = stage(event.upsert_workflow_search_attributes_event_attributes.search_attributes)
            if now is not None and now != stages[-1]:
                stages.append(now)
    return stages[1:]


CLAIM_HISTORIES = [p for p in HISTORIES if not p.stem.startswith(("complaint", "ended-claim-code"))]


@pytest.mark.parametrize("path", CLAIM_HISTORIES, ids=[p.stem for p in CLAIM_HISTORIES])
async def test_the_current_code_enters_the_stages_each_saved_history_entered(path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch):
    """Replay compares commands, not the values a workflow computes: a stage entered differently goes unseen by it
    (the stage reaches only the claim's state, its search attributes and an activity's input). The stages the
    current code enters while replaying must be those the history recorded."""
    entered: list[str] = []
    monkeypatch.setattr(metrics, "stage_entered", lambda stage: entered.append(stage))
    history = saved(path)
    await replayer().replay_workflow(history)
    again = [stage for i, stage in enumerate(entered) if i == 0 or stage != entered[i - 1]]
    assert again == stages_recorded(history), f"{path.stem}: entered {again}, recorded {stages_recorded(history)}"


async def test_an_unpatched_change_fails_replay_with_a_clear_message():
    with pytest.raises(NondeterminismError) as caught:
        await replayer(ChangedWithoutPatch).replay_workflow(saved(HISTORIES[0]))
    message = str(caught.value)
    assert "nondetermin" in message.lower() and ("ClaimWorkflow" in message or "Timer" in message), message


async def test_a_patched_change_replays_old_and_new_histories(time_env, settings, engine):
    claim = auto_claim()
    async with build_worker(time_env.client, settings, engine, task_queue=(queue := queue_name()),
                            workflows=[ChangedWithPatch]):
        handle = await time_env.client.start_workflow(WORKFLOW_TYPE, claim, id=f"claim-{claim['claim_id']}",
                                                      task_queue=queue)
        assert (await handle.result())["outcome"] == "paid"
        new = await handle.fetch_history()
    patched = replayer(ChangedWithPatch)
    await patched.replay_workflow(new)
    for path in HISTORIES:
        await patched.replay_workflow(saved(path))
    with pytest.raises(NondeterminismError):
        await replayer(ClaimWorkflow).replay_workflow(new)
