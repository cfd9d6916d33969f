"""Complaints (SPEC section 14) on the time-skipping server: acknowledged late, resolved late, escalated at the
regulator's 15-day ceiling; a complex complaint's 30-day ceiling; the handler took no part in the claim."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowHandle, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from events.cloud import read
from events.outbox import OUTBOX
from identity import development
from models.complaints import COMPLAINT_WORKFLOW_TYPE, complaint_workflow_id
from tests.harness import Claims
from tests.test_deadlines import DAY, when

HOUR = timedelta(hours=1)
COMPLAINANT = {"name": "李雷", "phone": "13800000000", "channel": "sms"}


async def file(claims: Claims, claim_id: str | None = None, **changes: Any) -> tuple[str, WorkflowHandle[Any, Any]]:
    complaint_id = f"K-{uuid.uuid4().hex[:8]}"
    complaint = {"complaint_id": complaint_id, "claim_id": claim_id, "category": "delay",
                 "description": "等了三周还没有结果", "complainant": COMPLAINANT,
                 "credential": claims.token("call-centre", "channel", issued_at=await claims.server_time()),
                 **changes}
    handle = await claims.client.start_workflow(COMPLAINT_WORKFLOW_TYPE, complaint,
                                                id=complaint_workflow_id(complaint_id), task_queue=claims.queue)
    for _ in range(100):  # received once its clocks run (a complaint about a claim first reads who acted on it)
        try:
            await handle.query("status")
            break
        except WorkflowQueryFailedError:
            await asyncio.sleep(0.1)
    return complaint_id, handle


async def send(claims: Claims, handle: WorkflowHandle[Any, Any], update: str, payload: dict[str, Any],
               *roles: str) -> Any:
    """The update with a development token for the person it names, in these roles (or the update's usual)."""
    subject, usual = development.sender_for(update, payload)
    token = claims.token(subject, *(roles or usual), issued_at=await claims.server_time())
    return await handle.execute_update(update, {**payload, "credential": token})


async def refused(claims: Claims, handle: WorkflowHandle[Any, Any], update: str, payload: dict[str, Any],
                  *roles: str) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await send(claims, handle, update, payload, *roles)
    assert isinstance(caught.value.cause, ApplicationError)
    return caught.value.cause


async def letters(claims: Claims, complaint_id: str, kind: str) -> int:
    """The complaint's letters of this kind once sent (a letter goes out beside the update that caused it)."""
    for _ in range(100):
        if sent := claims.notices(complaint_workflow_id(complaint_id), kind):
            return len(sent)
        await asyncio.sleep(0.1)
    return 0


def published(claims: Claims, complaint_id: str) -> list[tuple[str, str]]:
    """The complaint's events in the outbox, in order: (milestone, detail)."""
    subject = complaint_workflow_id(complaint_id)
    with claims.engine.connect() as conn:
        rows = conn.execute(select(OUTBOX.c.seq, OUTBOX.c.body).where(OUTBOX.c.subject == subject)
                            .order_by(OUTBOX.c.seq)).all()
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    return [(read(r.body).get_data()["event"], read(r.body).get_data()["detail"]) for r in rows]


def breached(status: dict[str, Any]) -> list[str]:
    return [b["clock"] for b in status["sla_breaches"]]


async def test_a_complaint_acknowledged_late_resolved_late_and_past_the_15_day_ceiling(claims, time_env):
    complaint_id, handle = await file(claims)
    await send(claims, handle, "assign_complaint", {"handler_id": "sup-3", "by": "sup-1"})
    status = await handle.query("status")
    received = when(status["received_at"])
    assert {k: when(v) - received for k, v in status["deadlines"].items()} == {
        "complaint_ack": DAY, "complaint_resolution": 3 * DAY, "complaint_ceiling": 15 * DAY}

    await time_env.sleep(DAY + HOUR)
    status = await handle.query("status")
    assert "complaint_ack" in [w["clock"] for w in status["sla_warnings"]], "warned at 80 % of 24 hours"
    assert breached(status) == ["complaint_ack"] and status["escalated_to"] == "manager"
    await send(claims, handle, "acknowledge_complaint", {"by": "sup-3"})
    assert await letters(claims, complaint_id, "complaint_acknowledged") == 1

    await time_env.sleep(2 * DAY)
    assert breached(await handle.query("status")) == ["complaint_ack", "complaint_resolution"]
    await time_env.sleep(12 * DAY)
    status = await handle.query("status")
    assert "complaint_ceiling" in breached(status), "escalated at the regulator's 15 days"

    await send(claims, handle, "resolve_complaint", {"by": "sup-3", "resolution": "已致歉并加快处理",
                                                     "root_cause": "delay", "claimant_acknowledged": True})
    result = await handle.result()
    assert result["state"] == "resolved" and result["root_cause"] == "delay" and result["deadlines"] == {}
    assert await letters(claims, complaint_id, "complaint_resolved") == 1

    milestones = published(claims, complaint_id)
    assert milestones[:2] == [("received", "delay"), ("assigned", "sup-3")] and milestones[-1] == ("resolved", "delay")
    assert milestones.index(("sla_breached", "complaint_ack")) < milestones.index(("acknowledged", ""))
    assert milestones.index(("sla_warning", "complaint_ack")) < milestones.index(("sla_breached", "complaint_ack"))
    assert sorted(m[1] for m in milestones if m[0] == "sla_breached") == sorted(breached(result)), \
        "each breach (a re-armed clock's too) published once"


async def test_a_complex_complaint_has_30_days_before_the_ceiling(claims, time_env):
    _, handle = await file(claims)
    await send(claims, handle, "assign_complaint", {"handler_id": "sup-4", "by": "sup-1"})
    await send(claims, handle, "acknowledge_complaint", {"by": "sup-4"})
    await send(claims, handle, "mark_complex", {"by": "sup-4", "reason": "需要第三方鉴定"})
    status = await handle.query("status")
    assert when(status["deadlines"]["complaint_ceiling"]) - when(status["received_at"]) == 30 * DAY
    await time_env.sleep(16 * DAY)
    assert "complaint_ceiling" not in breached(await handle.query("status")), "15 days no longer apply"
    await time_env.sleep(15 * DAY)
    assert "complaint_ceiling" in breached(await handle.query("status"))


async def test_the_handler_took_no_part_in_the_claim_and_closing_needs_a_root_cause(claims, time_env):
    cid = await claims.paid_on_approval("sup-1", "supervisor")

    _, handle = await file(claims, claim_id=cid, category="decision")
    own = await refused(claims, handle, "assign_complaint", {"handler_id": "sup-1", "by": "mgr-1"})
    assert own.type == "NotAuthorized" and "four-eyes" in own.message
    adjuster = await refused(claims, handle, "assign_complaint", {"handler_id": "sup-2", "by": "adj-1"}, "adjuster")
    assert adjuster.type == "NotAuthorized", "a supervisor or manager assigns"
    await send(claims, handle, "assign_complaint", {"handler_id": "sup-2", "by": "mgr-1"})
    early = await refused(claims, handle, "resolve_complaint", {"by": "sup-2", "resolution": "x",
                                                                "root_cause": "delay", "claimant_acknowledged": True})
    assert "acknowledge" in early.message
    assert (await refused(claims, handle, "acknowledge_complaint", {"by": "sup-9"})).type == "NotAuthorized"
    await send(claims, handle, "acknowledge_complaint", {"by": "sup-2"})
    unknown = await refused(claims, handle, "resolve_complaint", {"by": "sup-2", "resolution": "x",
                                                                  "root_cause": "bad-luck",
                                                                  "claimant_acknowledged": True})
    assert unknown.type == "InvalidUpdate" and "root_cause" in unknown.message
    silent = await refused(claims, handle, "resolve_complaint", {"by": "sup-2", "resolution": "维持原决定",
                                                                 "root_cause": "unfounded",
                                                                 "claimant_acknowledged": False})
    assert "note" in silent.message
    await send(claims, handle, "resolve_complaint", {"by": "sup-2", "resolution": "维持原决定",
                                                     "root_cause": "unfounded", "claimant_acknowledged": False,
                                                     "note": "三次致电未接通"})
    assert (await handle.result())["state"] == "resolved"
