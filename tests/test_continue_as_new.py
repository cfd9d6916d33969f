"""A long claim continues as new at a quiet wait and loses nothing: clocks keep their due times, a warning
is not given twice, the statutory advance still falls due and is paid once, the event log stays one chain,
and every run of the chain replays."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from audit.replay import runs_of
from config.settings import Settings
from config.temporal import workflow_runner
from core.claim import carry
from models.contract import workflow_id_for
from testkit.harness import Claims
from testkit.world import data_converter
from tests.conftest import claims_rig
from tests.test_deadlines import DAY, D, investigated_claim, when
from workflows import core_view
from workflows.claim import ClaimWorkflow
from workflows.claim_state import ClaimState

LIMIT = 40
"""History events after which a run continues: low, so a claim continues several times in one test."""


@pytest.fixture
async def continuing(time_env: WorkflowEnvironment, settings: Settings, engine, tmp_path: Path
                     ) -> AsyncIterator[Claims]:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"continue_after_events": LIMIT}))
    async with claims_rig(time_env, settings.model_copy(update={"rules_file": rules}), engine) as rig:
        yield rig


async def replay_every_run(claims: Claims, claim_id: str, first_run_id: str) -> int:
    """Replay each run of the chain against the current code; how many runs there were."""
    runs = await runs_of(claims.client, workflow_id_for(claim_id))
    assert runs[0].run_id == first_run_id
    replayer = Replayer(workflows=[ClaimWorkflow], data_converter=data_converter, workflow_runner=workflow_runner())
    for history in runs:
        await replayer.replay_workflow(history)
    for history in runs[1:]:  # each continued run was handed the core's state beside the workflow's, and checked it
        started = history.events[0].workflow_execution_started_event_attributes
        _, carried = await data_converter.decode(started.input.payloads, [dict, dict])
        stamped = carried[core_view.CARRIED_CORE]
        assert stamped["reading"] == core_view.READING
        assert carry.restored(stamped["core"]) == core_view.view(ClaimState.restored(carried))
    return len(runs)


def timeline(status: dict[str, Any], event: str) -> list[dict[str, Any]]:
    return [t for t in status["timeline"] if t["event"] == event]


async def test_a_claim_continues_as_new_mid_clock_with_an_advance_outstanding_and_loses_nothing(
        continuing: Claims, time_env: WorkflowEnvironment):
    claims = continuing
    claim = investigated_claim()
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    first_run = handle.first_execution_run_id or (await handle.describe()).run_id
    status = await claims.at_stage(cid, "investigating")
    deadlines = dict(status["deadlines"])
    assert {"investigation", "determination", "advance_payment"} <= set(deadlines)

    # Nine days: the investigation clock warns at eight, mid-way through its ten; the claim continues on
    # the way (the warning and its letter push the history past the limit).
    await time_env.sleep(9 * DAY)
    status = await claims.status(cid)
    assert timeline(status, "continued_as_new"), "the claim never continued as new"
    assert status["deadlines"] == deadlines, "a clock's due time moved across continue-as-new"
    assert [w["clock"] for w in status["sla_warnings"]] == ["investigation"]

    # Past the investigation's due time and the statutory advance's 60 days: the breach is recorded at the
    # due time it had before continuing, and the advance (outstanding when the claim continued) is paid once.
    await time_env.sleep(52 * DAY)
    status = await claims.status(cid)
    breach = status["sla_breaches"][0]
    assert breach["clock"] == "investigation" and when(breach["due_at"]) == when(deadlines["investigation"])
    assert [w["clock"] for w in status["sla_warnings"]].count("investigation") == 1, "warned once per tier"
    assert [(p["kind"], p["amount"], p["sequence"]) for p in status["payments"]] == [("advance", "14750.00", 1)]

    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "as reported",
                                                      "confirmed_amount": "30000.00"})
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "approve", {"approver_id": "mgr-1", "role": "manager"})
    result = await handle.result()
    assert result["paid_amount"] == "29500.00"
    assert [(p.kind, p.amount) for p in claims.payments(cid)] == [("advance", D("14750.00")), ("final", D("14750.00"))]
    assert len(claims.transfers(cid)) == 2, "each payment reached the gateway once"

    final = await claims.status(cid)
    events = [t["event"] for t in final["timeline"] if not t["event"].startswith("notified:")]
    with claims.engine.connect() as conn:
        rows = conn.execute(text("select key, event from claim_events where claim_id = :c"), {"c": cid}).all()
    logged = [event for _, event in sorted(rows, key=lambda row: int(row.key))]
    assert logged == events, "the event log holds every timeline event once under its own key, across the runs"
    kinds = [n.kind for n in claims.notices(cid)]
    assert kinds.count("sla_warning") == len(final["sla_warnings"]), "one letter per warning, none repeated"
    assert kinds.count("sla_breach") == len(final["sla_breaches"]), "one letter per breach, none repeated"
    assert kinds.count("payment_sent") == 2 and kinds.count("acknowledgement") == 1

    assert await replay_every_run(claims, cid, first_run) == len(timeline(final, "continued_as_new")) + 1


async def waiting_for_documents(claims: Claims) -> tuple[str, Any, str, dict[str, Any]]:
    """A claim sent for its documents: its id, handle, first run and status."""
    claim = investigated_claim(claimed_amount="8000.00", incident={}, line_items=[],
                               documents=[{"kind": "claim_form", "ref": "form.pdf"}])
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    first_run = handle.first_execution_run_id or (await handle.describe()).run_id
    return cid, handle, first_run, await claims.at_stage(cid, "awaiting_documents")


async def test_a_run_continued_between_two_reminders_sends_neither_again(continuing: Claims,
                                                                          time_env: WorkflowEnvironment):
    """The run continues as new after the first reminder and before the second: the next run waits for the second
    alone (claims started since `every-moment-a-timer` keep the reminders sent in their state, where a reminder just
    past would otherwise have its timer, and go again)."""
    claims = continuing
    cid, handle, first_run, _ = await waiting_for_documents(claims)
    await time_env.sleep(24 * DAY)  # the first reminder, 7 days before the 30 days are out
    await claims.sent(cid, "reminder")
    runs = before = len(await runs_of(claims.client, workflow_id_for(cid)))
    while runs == before:  # staff work on the claim until its run continues as new
        await claims.update(cid, "assign", {"handler_id": "adj-7", "by": "sup-9"})
        runs = len(await runs_of(claims.client, workflow_id_for(cid)))
    await time_env.sleep(4 * DAY)  # the second, 3 days before
    await claims.sent(cid, "reminder", 2)
    status = await claims.status(cid)
    assert [t["event"] for t in status["timeline"]].count("notified:reminder") == 2, status["timeline"]
    assert [n.kind for n in claims.notices(cid)].count("reminder") == 2
    assert await replay_every_run(claims, cid, first_run) == runs


async def test_a_claim_waiting_for_documents_continues_and_sends_each_reminder_once(
        continuing: Claims, time_env: WorkflowEnvironment):
    claims = continuing
    cid, handle, first_run, status = await waiting_for_documents(claims)
    due = status["deadlines"]["documents"]
    await time_env.sleep(28 * DAY)  # both reminders (7 and 3 days before) and the continuations between
    status = await claims.status(cid)
    assert timeline(status, "continued_as_new") and status["deadlines"]["documents"] == due
    assert len(await claims.sent(cid, "reminder", 2)) == 2
    await claims.update(cid, "submit_documents", {"documents": [
        {"kind": k, "ref": f"{k}.pdf"} for k in status["missing_documents"]]})
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "approve", {"approver_id": "adj-1", "role": "adjuster"})
    result = await handle.result()
    assert result["outcome"] == "paid" and len(claims.payments(cid)) == 1
    kinds = [n.kind for n in claims.notices(cid)]
    assert kinds.count("missing_materials") == 1 and kinds.count("reminder") == 2 and kinds.count("survey") == 1
    assert await replay_every_run(claims, cid, first_run) == len(timeline(await claims.status(cid),
                                                                          "continued_as_new")) + 1
