"""After closing: the claimant's survey answer, and the call-back a low score opens (SPEC section 14).

A score of 1 or 2 starts the `callback` clock (24 hours by default), owned by the supervisors: it warns at
the SLA table's share and escalates on breach like every staff clock, until a supervisor or manager who took
no part in the claim records the call-back. The claim's run stays open while that clock runs.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.rules import money
    from identity.tokens import sender_of
    from models.contract import ErrorType, Outcome, RecordCallback, Role, SurveyResponse, UpdateAck
    from workflows.claim_state import parse, refuse
    from workflows.claim_updates import ClaimUpdates

LOW_SCORE = 2


class Feedback(ClaimUpdates):
    @workflow.update(name="survey_response")
    async def survey_response(self, payload: Any) -> UpdateAck:
        s = self.s
        _, rules = s.require_ready()
        req = parse(SurveyResponse, payload, "survey_response")
        s.survey = req.model_copy(update={"credential": None})
        await self._note("survey_response", detail=f"score {req.score}", sender=sender_of(req.credential),
                         changes={"survey_score": req.score})
        if req.score > LOW_SCORE:
            return self._ack(f"thank you: score {req.score} recorded")
        clock = self._start_clock("callback", rules.sla.callback_days, owner=Role.SUPERVISOR)
        await self._note("callback_opened", detail=f"score {req.score}: a supervisor who took no part calls the "
                                                   f"claimant back by {clock.due_at.isoformat()}")
        self._notify_staff("callback_needed", Role.SUPERVISOR, {"score": req.score, "due_at": clock.due_at,
                                                                "handler": s.handler or "unassigned"})
        return self._ack(f"score {req.score} recorded: a supervisor will call you back")

    @survey_response.validator
    def _validate_survey_response(self, payload: Any) -> None:
        req = parse(SurveyResponse, payload, "survey_response")
        self._authenticate("survey_response", req.credential)
        s = self.s
        until = s.survey_until()
        if s.outcome not in (Outcome.PAID, Outcome.DENIED) or s.survey_sent_at is None:
            raise refuse("survey_response: the survey is sent after a claim is paid or denied; none was sent yet")
        if s.survey is not None:
            raise refuse("survey_response: the survey was answered already")
        if until is not None and workflow.now() > until:
            raise refuse(f"survey_response: the survey could be answered until {until.isoformat()}")

    @workflow.update(name="record_callback")
    async def record_callback(self, payload: Any) -> UpdateAck:
        req = parse(RecordCallback, payload, "record_callback")
        self.s.callback = req.model_copy(update={"credential": None})
        self._stop_clock("callback")
        await self._note("callback_done", by=req.by, detail="claimant reached" if req.reached else "not reached",
                         sender=sender_of(req.credential))
        return self._ack("call-back recorded")

    @record_callback.validator
    def _validate_record_callback(self, payload: Any) -> None:
        req = parse(RecordCallback, payload, "record_callback")
        self._authenticate("record_callback", req.credential, req.by)
        s = self.s
        if "callback" not in s.clocks:
            raise refuse("record_callback: no call-back is open on this claim")
        part = s.conflicted().get(money.person_key(req.by))
        if part is None and any(money.person_key(a.approver_id) == money.person_key(req.by) for a in s.approvals):
            part = "approver"
        if part is not None:
            raise refuse(f"record_callback: {req.by} is the {part} of this claim; the call-back is made by a "
                         "supervisor who took no part (four-eyes rule)", ErrorType.NOT_AUTHORIZED)
