"""The survey after closing (docs/complaints.md), on the time-skipping server: an answer within the window is
recorded on the claim and in the database; a score of 1 or 2 opens a supervisor's call-back clock that warns
and escalates when nobody calls, and only a supervisor who took no part may record the call-back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from models.tables import Claim
from testkit.claims import auto_claim
from tests.test_deadlines import DAY, about, when


async def closed_and_surveyed(claims, time_env, **changes) -> str:
    claim = auto_claim(**changes)
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.wait(cid, lambda s: s["outcome"] is not None, "closed")
    await time_env.sleep(DAY + timedelta(hours=1))  # the survey goes a day after closing
    assert len(await claims.sent(cid, "survey")) == 1
    return cid


async def test_a_low_score_opens_a_call_back_that_escalates_when_nobody_calls(claims, time_env):
    cid = await closed_and_surveyed(claims, time_env)
    refused = await claims.refused(cid, "survey_response", {"score": 6})
    assert refused.type == "InvalidUpdate" and "score" in refused.message
    await claims.update(cid, "survey_response", {"score": 2, "comment": "等了太久"})
    status = await claims.status(cid)
    assert status["survey_score"] == 2 and status["survey_until"] is None
    opened = when(next(t["at"] for t in status["timeline"] if t["event"] == "callback_opened"))
    assert about(when(status["deadlines"]["callback"]) - opened, DAY), "24 hours to call back"
    assert len(await claims.sent(cid, "callback_needed")) == 1
    with Session(claims.engine) as session:
        assert session.get(Claim, cid).survey_score == 2, "the score is in the read model for the reports"
    again = await claims.refused(cid, "survey_response", {"score": 5})
    assert "answered already" in again.message

    await time_env.sleep(DAY + timedelta(hours=1))
    status = await claims.status(cid)
    assert [w["clock"] for w in status["sla_warnings"]] == ["callback"], "warned at 80 % of the day"
    assert [(b["clock"], b["escalated_to"]) for b in status["sla_breaches"]] == [("callback", "manager")]
    assert len(await claims.sent(cid, "sla_breach")) == 1

    await claims.update(cid, "record_callback", {"by": "sup-9", "role": "supervisor", "reached": True,
                                                 "outcome": "apologised; explained the timeline"})
    status = await claims.status(cid)
    assert "callback" not in status["deadlines"]
    assert any(t["event"] == "callback_done" and t["by"] == "sup-9" for t in status["timeline"])


async def test_the_call_back_is_made_by_a_supervisor_who_took_no_part(claims, time_env):
    cid = await claims.paid_on_approval("sup-1", "supervisor")
    await time_env.sleep(DAY + timedelta(hours=1))
    await claims.update(cid, "survey_response", {"score": 1})
    own = await claims.refused(cid, "record_callback", {"by": "sup-1", "role": "supervisor", "reached": True,
                                                        "outcome": "called"})
    assert own.type == "NotAuthorized" and "four-eyes" in own.message
    adjuster = await claims.refused(cid, "record_callback", {"by": "adj-7", "role": "adjuster", "reached": True,
                                                             "outcome": "called"})
    assert adjuster.type == "NotAuthorized"
    await claims.update(cid, "record_callback", {"by": "sup-2", "role": "supervisor", "reached": False,
                                                 "outcome": "no answer twice; letter sent"})
    assert "callback" not in (await claims.status(cid))["deadlines"]


async def test_a_good_score_needs_no_call_and_the_window_closes(claims, time_env):
    cid = await closed_and_surveyed(claims, time_env)
    await claims.update(cid, "survey_response", {"score": 5})
    status = await claims.status(cid)
    assert status["survey_score"] == 5 and "callback" not in status["deadlines"]
    assert claims.notices(cid, "callback_needed") == []

    late = await closed_and_surveyed(claims, time_env)
    await time_env.sleep(30 * DAY)  # the survey stays open 30 days, then the claim's run ends
    ended = (await claims.handle(late).fetch_history()).events[-1]
    assert ended.HasField("workflow_execution_completed_event_attributes"), "closed once the window passed"
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):
        await claims.update(late, "survey_response", {"score": 4})
    with Session(claims.engine) as session:
        assert session.get(Claim, late).survey_score is None
