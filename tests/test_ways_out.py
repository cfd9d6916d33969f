"""Every wait has a way out, and nothing fails silently (docs/rules.md#money-invariants)."""

from __future__ import annotations

import json
from datetime import timedelta

from temporalio.api.enums.v1 import EventType

from activities.gateway import LedgerGateway
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
from testkit.harness import Claims, queue_name
from testkit.waiting import eventually
from testkit.world import data_converter
from tests.changed_workflows import BrokenLetterTask
from workers.claims import build_worker

DAY = timedelta(days=1)


async def test_a_claimant_waiting_for_new_bank_details_may_still_withdraw(claims):
    claim = auto_claim(bank_account={"holder": "Li Lei", "number": "12345678"})
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.wait(cid, lambda s: "bank_details" in s["deadlines"], "waiting for bank details")
    await claims.update(cid, "withdraw", {"by": "claimant", "reason": "paid by the other driver"})
    result = await handle.result()
    assert result["outcome"] == "withdrawn" and result["paid_amount"] == "0.00"
    assert claims.payments(cid) == []


async def test_reopen_must_name_its_role(claims):
    claim = auto_claim(documents=docs("claim_form"), claimed_amount="8000.00", line_items=[])
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.at_stage(cid, "awaiting_documents")
    refused = await claims.refused(cid, "reopen", {"by": "sup-1", "reason": "docs by post"})
    assert refused.type == "InvalidUpdate" and "role" in refused.message


async def test_the_configured_warning_share_is_used(time_env, settings, engine, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"sla": {"warn_at": "0.5"}}))
    configured = settings.model_copy(update={"rules_file": rules})
    queue = queue_name()
    async with build_worker(time_env.client, configured, engine, task_queue=queue):
        claims = Claims(time_env.client, queue, engine, LedgerGateway(engine), configured)
        claim = auto_claim(claimed_amount="30000.00", incident={"injuries": True}, line_items=[],
                           documents=docs(*ALL_AUTO_DOCS))
        cid = claim["claim_id"]
        await claims.start(claim)
        await claims.at_stage(cid, "investigating")
        await time_env.sleep(5 * DAY + timedelta(hours=1))  # half of the 10-day investigation clock
        status = await claims.status(cid)
        assert [w["clock"] for w in status["sla_warnings"]] == ["investigation"], "warned at half the time"


async def test_a_failing_side_task_surfaces_as_a_failed_workflow_task(time_env, settings, engine):
    queue = queue_name()
    async with build_worker(time_env.client, settings, engine, task_queue=queue,
                            workflows=[BrokenLetterTask]):
        claims = Claims(time_env.client, queue, engine, LedgerGateway(engine), settings)
        claim = auto_claim(claimed_amount="30000.00", incident={"injuries": True}, line_items=[],
                           documents=docs(*ALL_AUTO_DOCS))
        cid = claim["claim_id"]
        await claims.start(claim)

        async def task_failures() -> list[str]:
            return [str(await data_converter.decode_failure(e.workflow_task_failed_event_attributes.failure))
                    async for e in claims.handle(cid).fetch_history_events()
                    if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]  # stored encrypted

        failures = await eventually(task_failures, bool, "a failed workflow task in the history")
        # The first letter a side task sends: the investigation's (the acknowledgement, queued on the intake's fast
        # path, goes out at the claim's first wait, after it).
        assert any("bug in the task sending the investigation_opened letter" in f for f in failures), failures
