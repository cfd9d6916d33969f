"""Complaints (docs/complaints.md) on the time-skipping server: acknowledged late, resolved late, escalated at the
regulator's 15-day ceiling; a complex complaint's 30-day ceiling; the handler took no part in the claim."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from api.app import create_app
from config.settings import PROJECT_ROOT
from db.cloud_events import complaint_subject, read
from db.outbox import OUTBOX
from identity import development
from models.complaints import COMPLAINT_WORKFLOW_TYPE, complaint_workflow_id
from testkit.claims import auto_claim
from testkit.harness import Claims
from testkit.waiting import eventually
from testkit.world import TEST_KEYS
from tests.test_deadlines import DAY, when

HOUR = timedelta(hours=1)
COMPLAINANT = {"name": "李雷", "phone": "13800000000", "channel": "sms"}


async def file(claims: Claims, claim_id: str | None = None, **changes: Any) -> tuple[str, WorkflowHandle[Any, Any]]:
    complaint_id = f"K-{uuid.uuid4().hex[:8]}"
    complaint = await claims.proved(complaint_workflow_id(complaint_id), "file_complaint", {
        "complaint_id": complaint_id, "claim_id": claim_id, "category": "delay", "description": "等了三周还没有结果",
        "complainant": COMPLAINANT, **changes}, "call-centre", "channel")
    handle = await claims.client.start_workflow(COMPLAINT_WORKFLOW_TYPE, complaint,
                                                id=complaint_workflow_id(complaint_id), task_queue=claims.queue)

    async def answers() -> bool:  # received once its clocks run (a complaint about a claim first reads who acted)
        try:
            await handle.query("status")
        except WorkflowQueryFailedError:
            return False
        return True

    await eventually(answers, bool, f"complaint {complaint_id} answered its status query")
    return complaint_id, handle


async def send(claims: Claims, handle: WorkflowHandle[Any, Any], update: str, payload: dict[str, Any],
               *roles: str) -> Any:
    """The update with an action proof for the person it names, in these roles (or the update's usual)."""
    subject, usual = development.sender_for(update, payload)
    return await handle.execute_update(update, await claims.proved(handle.id, update, payload, subject,
                                                                   *(roles or usual)))


async def refused(claims: Claims, handle: WorkflowHandle[Any, Any], update: str, payload: dict[str, Any],
                  *roles: str) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await send(claims, handle, update, payload, *roles)
    assert isinstance(caught.value.cause, ApplicationError)
    return caught.value.cause


async def letters(claims: Claims, complaint_id: str, kind: str) -> int:
    """The complaint's letters of this kind once sent (a letter goes out beside the update that caused it)."""
    sent = await eventually(lambda: claims.notices(complaint_workflow_id(complaint_id), kind), bool,
                            f"a {kind} letter sent on complaint {complaint_id}")
    return len(sent)


def published(claims: Claims, complaint_id: str) -> list[tuple[str, str]]:
    """The complaint's events in the outbox, in order: (milestone, detail)."""
    subject = complaint_subject(complaint_id)
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


async def test_a_complaint_that_is_an_appeal_hands_over_to_the_claims_appeal_once(claims):
    denied = auto_claim(claimed_amount="380.00", line_items=[{"description": "mirror", "amount": "380.00"}])
    await claims.start(denied)
    cid = denied["claim_id"]
    await claims.wait(cid, lambda s: s["outcome"] == "denied", "denied")
    complaint_id, handle = await file(claims, claim_id=cid, category="decision")
    await send(claims, handle, "assign_complaint", {"handler_id": "sup-3", "by": "sup-1"})
    assert (await refused(claims, handle, "refer_to_appeal", {"by": "sup-9", "reason": "x"})).type == "NotAuthorized"

    status = await send(claims, handle, "refer_to_appeal", {"by": "sup-3", "reason": "后视镜价格低于免赔额有误"})
    assert (status["state"], status["root_cause"], status["deadlines"]) == ("resolved", "referred_to_appeal", {})
    claim = await claims.at_stage(cid, "awaiting_approval")
    appeal = next(t for t in claim["timeline"] if t["event"] == "appeal_received")
    assert complaint_id in appeal["detail"] and appeal["sender"]["roles"] == ["channel"], \
        "sent for the complainant as a channel, naming the complaint"
    assert await letters(claims, complaint_id, "complaint_resolved") == 1
    assert published(claims, complaint_id)[-1] == ("resolved", "referred_to_appeal")


async def test_a_complaint_the_claim_cannot_take_as_an_appeal_stays_open_with_the_claims_reason(claims):
    paid = await claims.paid_on_approval("sup-1", "supervisor")  # paid in full: nothing to appeal
    _, handle = await file(claims, claim_id=paid, category="decision")
    await send(claims, handle, "assign_complaint", {"handler_id": "sup-3", "by": "mgr-1"})
    refusal = await refused(claims, handle, "refer_to_appeal", {"by": "sup-3", "reason": "不服"})
    assert f"claim {paid} refused the appeal" in refusal.message and "denial or a partial approval" in refusal.message
    status = await handle.query("status")
    assert status["state"] == "received" and "complaint_ack" in status["deadlines"], "still open, its clocks run"
    await send(claims, handle, "acknowledge_complaint", {"by": "sup-3"})

    _, about_nothing = await file(claims)
    await send(claims, about_nothing, "assign_complaint", {"handler_id": "sup-3", "by": "sup-1"})
    none = await refused(claims, about_nothing, "refer_to_appeal", {"by": "sup-3", "reason": "不服"})
    assert none.type == "InvalidUpdate" and "no claim" in none.message


# --------------------------------------------------------------------------- the command line


def starter(live: Claims, dev_env, *args: str) -> subprocess.CompletedProcess[str]:
    """`python starter.py ...` as the call centre or a handler runs it, against the live worker's server."""
    env = {**os.environ, "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
           "CLAIMS_TASK_QUEUE": live.queue, "CLAIMS_VAR_DIR": str(live.settings.var_dir),
           "DATABASE_URL": live.settings.resolved_database_url, "CLAIMS_ENCRYPTION_KEYS": TEST_KEYS,
           "CLAIMS_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "starter.py", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


async def test_the_command_line_files_a_complaint_and_its_handler_resolves_it(live, dev_env, tmp_path):
    complaint_id = f"K-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "complaint.json"
    path.write_text(json.dumps({"complaint_id": complaint_id, "category": "staff", "description": "电话里态度很差",
                                "complainant": COMPLAINANT}, ensure_ascii=False), encoding="utf-8")
    steps = [("complaint", "file", str(path)),
             ("complaint", "assign", complaint_id, "--handler", "sup-5", "--by", "sup-1"),
             ("complaint", "acknowledge", complaint_id, "--by", "sup-5"),
             ("complaint", "resolve", complaint_id, "--by", "sup-5", "--resolution", "已致歉并培训",
              "--root-cause", "staff_conduct", "--acknowledged")]
    for step in steps:
        done = await asyncio.to_thread(starter, live, dev_env, *step)
        assert done.returncode == 0, (step, done.stderr)
    wrong = await asyncio.to_thread(starter, live, dev_env, "complaint", "acknowledge", complaint_id, "--by", "sup-9")
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: ") and "completed" in wrong.stderr, \
        "a resolved complaint has ended: said in one line"
    status = json.loads((await asyncio.to_thread(starter, live, dev_env, "complaint", "status", complaint_id)).stdout)
    assert (status["state"], status["root_cause"], status["handler"]) == ("resolved", "staff_conduct", "sup-5")


def test_the_command_line_refuses_a_malformed_complaint_before_connecting(tmp_path, capsys, monkeypatch):
    from cli import main as cli_main

    async def no_connection(settings):
        raise AssertionError("connected to Temporal for a malformed complaint")

    monkeypatch.setattr(cli_main, "connect", no_connection)
    path = tmp_path / "complaint.json"
    path.write_text(json.dumps({"complaint_id": "K-1", "category": "weather", "description": "x",
                                "complainant": COMPLAINANT}))
    assert cli_main.main(["complaint", "file", str(path)]) == 2
    assert "category" in capsys.readouterr().err



def test_a_complaint_write_older_than_the_rows_is_ignored_and_publishes_nothing(any_engine):
    """A retried write whose answer was lost, arriving after a later write: the row keeps the later state."""
    from datetime import UTC, datetime

    from activities.database import ClaimsDatabase
    from models.messages import ComplaintRecord
    from testkit.world import TEST_SEAL_KEY

    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    base = {"complaint_id": f"K-{uuid.uuid4().hex[:8]}", "claim_id": None, "category": "delay", "complex": False,
            "received_at": datetime.now(UTC)}
    db.record_complaint(ComplaintRecord(**base, handler=None, version=1))
    db.record_complaint(ComplaintRecord(**base, handler="sup-1", version=2))
    db.record_complaint(ComplaintRecord(**base, handler="sup-2", version=3))
    db.record_complaint(ComplaintRecord(**base, handler="sup-1", version=2))  # the late retry
    subject = complaint_subject(base["complaint_id"])
    with any_engine.connect() as conn:
        rows = conn.execute(select(OUTBOX.c.body).where(OUTBOX.c.subject == subject).order_by(OUTBOX.c.seq)).all()
    assert [(read(r.body).get_data()["event"], read(r.body).get_data()["detail"]) for r in rows] == [
        ("received", "delay"), ("assigned", "sup-1"), ("assigned", "sup-2")]


async def test_only_a_channel_or_staff_may_file_a_complaint_through_the_token_exchange_or_temporal(claims, tmp_path):
    """A token with no role gets no proof for `file_complaint` at the API, and a start whose proof names such a
    sender is refused by the workflow: nobody files a complaint (about any claim, backdated) in nobody's name."""
    complaint_id = f"K-{uuid.uuid4().hex[:8]}"
    body = {"complaint_id": complaint_id, "category": "delay", "description": "等了三周", "complainant": COMPLAINANT}
    details = [{"type": "claim_update", "workflow_id": complaint_workflow_id(complaint_id), "update": "file_complaint",
                "payload": body}]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ready=claims.services(tmp_path))),
                                 base_url="http://api") as http:
        answer = await http.post("/token", data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": claims.token("somebody"), "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "authorization_details": json.dumps(details)})
    assert answer.status_code == 403 and "channel or a staff member" in answer.json()["detail"], answer.text
    start = await claims.proved(complaint_workflow_id(complaint_id), "file_complaint", body, "somebody")
    handle = await claims.client.start_workflow(COMPLAINT_WORKFLOW_TYPE, start, id=complaint_workflow_id(complaint_id),
                                                task_queue=claims.queue)
    with pytest.raises(WorkflowFailureError) as refused:
        await handle.result()
    assert isinstance(refused.value.cause, ApplicationError) and refused.value.cause.type == "NotAuthorized", \
        refused.value.cause
