"""After the decision: money owed back (repaid, or written off by a manager), the claimant's survey answer and the
call-back a low score opens.

A part of the claim workflow (claim.py makes it), used by the updates in claim_updates.py, which check who sent each
request before anything here runs. Handlers change the claim before their first `await`, so the next validator in
the same workflow task already sees the change.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.claim import commands as core
    from core.rules import authority
    from core.rules import recovery as recoveries
    from identity.tokens import sender_of
    from models.contract import (
        ErrorType,
        OpenRecovery,
        Outcome,
        RecordCallback,
        RecordRecovery,
        Recovery,
        RecoveryKind,
        RecoveryStatus,
        Role,
        Sender,
        SurveyResponse,
        UpdateAck,
        WriteOffRecovery,
    )
    from models.messages import Recipient
    from workflows import core_view
    from workflows.claim_state import refuse
    from workflows.clocks import ClockedPart

LOW_SCORE = 2
"""A survey score at or below it opens a call-back."""


class AfterClosing(ClockedPart):
    """Recoveries, the survey answer and the call-back on one claim."""

    # ------------------------------------------------------------------ money owed back

    async def record_recovery(self, req: RecordRecovery) -> UpdateAck:
        def received(recovery: Recovery) -> str:
            recoveries.receive(recovery, req.amount, req.reference, req.by, workflow.now())
            return f"{req.amount} received ({req.reference}); {recovery.outstanding} still owed"

        return await self._settle(req, "recovery_received", received)

    def check_recovery(self, req: RecordRecovery) -> None:
        recovery = self._open_recovery("record_recovery", req.kind, req.number)
        if req.amount > recovery.outstanding:
            raise refuse(f"record_recovery: amount: {req.amount} is more than the {recovery.outstanding} still owed "
                         f"on recovery {recovery.number}", ErrorType.INVALID_UPDATE)
        core_view.check(self.s, "record_recovery", core.RecordRepayment(recovery.number, req.amount))

    async def write_off_recovery(self, req: WriteOffRecovery) -> UpdateAck:
        def written_off(recovery: Recovery) -> str:
            return f"{recoveries.write_off(recovery, req.by, req.reason, workflow.now())} written off ({req.reason})"

        return await self._settle(req, "recovery_written_off", written_off)

    def check_write_off(self, req: WriteOffRecovery) -> None:
        recovery = self._open_recovery("write_off_recovery", req.kind, req.number)
        part = self.part_in_claim(req.by)
        if part is not None:
            raise refuse(f"write_off_recovery: {req.by} is the {part} of this claim; money owed back is written off "
                         "by a manager who took no part (four-eyes rule)", ErrorType.NOT_AUTHORIZED)
        # The credential proved a manager: the access rules let no other role send this update.
        core_view.check(self.s, "write_off_recovery", core.WriteOff(recovery.number, req.by, Role.MANAGER))

    def check_open_recovery(self, req: OpenRecovery) -> None:
        s = self.s
        s.require_ready()
        if not s.financials:
            raise refuse("open_recovery: this claim was reported before third-party recoveries were kept")
        core_view.check(s, "open_recovery", core.OpenRecovery(req.kind.value, req.amount, req.reason, req.by,
                                                             req.role))

    async def open_recovery(self, req: OpenRecovery) -> UpdateAck:
        recovery = await self.open(req.kind, req.amount, req.reason, party=req.party, item=req.item, by=req.by,
                                   sender=sender_of(req.credential))
        return self.shell.ack(f"recovery {recovery.number} opened: {recovery.amount} expected ({recovery.reason})")

    async def open(self, kind: RecoveryKind, amount: Decimal, reason: str, *, party: str | None = None,
                   item: str | None = None, by: str = "system", sender: Sender | None = None,
                   demand: bool = False) -> Recovery:
        """Open a recovery of a third party or the salvage, on the recovery clock (a reminder to the supervisors, then
        a manager, who may write it off). With `demand` (a subrogation the claim opened by rule, for what it paid),
        the other insurer is asked to repay, in Chinese; one staff open is theirs to pursue."""
        s = self.s
        claim, rules = s.require_ready()
        recovery = Recovery(number=len(s.recoveries) + 1, kind=kind, reason=reason, amount=amount,
                            opened_at=workflow.now(), party=party, item=item, opened_by=by)
        s.recoveries.append(recovery)
        if recoveries.CLOCK not in s.clocks:
            self.clocks.start(recoveries.CLOCK, rules.sla.recovery_days, owner=Role.SUPERVISOR)
        owed = recoveries.outstanding(s.recoveries)
        await self.shell.note("recovery_opened", by=by, sender=sender,
                              detail=f"recovery {recovery.number}: {amount} expected ({kind.value}: {reason})",
                              changes={"recovery_outstanding": str(owed)})
        other = claim.third_party
        if demand and kind == RecoveryKind.SUBROGATION and other is not None and other.insurer_email:
            self.shell.notify("subrogation_demand", {
                "amount": amount, "insurer": other.insurer or other.insurer_email,
                "policy_number": other.policy_number or "", "plate": other.plate or "",
                "incident_at": claim.incident.occurred_at}, sequence=recovery.number,
                recipient=Recipient(name=other.insurer or other.insurer_email, channel="email",
                                    email=other.insurer_email))
        return recovery

    async def _settle(self, req: RecordRecovery | WriteOffRecovery, event: str,
                      settle: Callable[[Recovery], str]) -> UpdateAck:
        """Settle (part of) the recovery the update names, before the first await; stop the clock when nothing more
        is owed; record it with the claim's new outstanding amount."""
        s = self.s
        recovery = recoveries.find(s.recoveries, req.kind, req.number)
        assert recovery is not None, "the validator found it"
        detail = f"recovery {recovery.number}: {settle(recovery)}"
        owed = recoveries.outstanding(s.recoveries)
        if owed <= 0:
            self.clocks.stop(recoveries.CLOCK)
        await self.shell.note(event, by=req.by, detail=detail, changes={"recovery_outstanding": str(owed)},
                              sender=sender_of(req.credential))
        return self.shell.ack(detail)

    def _open_recovery(self, update: str, kind: RecoveryKind, number: int | None) -> Recovery:
        self.s.require_ready()
        recovery = recoveries.find(self.s.recoveries, kind, number)
        if recovery is None or recovery.status != RecoveryStatus.OPEN:
            which = f"recovery {number}" if number is not None else f"{kind.value} recovery"
            raise refuse(f"{update}: no open {which} on this claim; nothing is owed on it")
        return recovery

    def part_in_claim(self, person: str) -> str | None:
        """The part a person took in the claim (handler, investigator, decider, approver), if any: four eyes."""
        s = self.s
        part = s.conflicted().get(authority.person_key(person))
        if part is None and any(authority.person_key(a.approver_id) == authority.person_key(person)
                                for a in s.approvals):
            part = "approver"
        return part

    # ------------------------------------------------------------------ survey and call-back

    async def survey_response(self, req: SurveyResponse) -> UpdateAck:
        s = self.s
        _, rules = s.require_ready()
        s.survey = req.model_copy(update={"credential": None})
        await self.shell.note("survey_response", detail=f"score {req.score}", sender=sender_of(req.credential),
                              changes={"survey_score": req.score})
        if req.score > LOW_SCORE:
            return self.shell.ack(f"thank you: score {req.score} recorded")
        clock = self.clocks.start("callback", rules.sla.callback_days, owner=Role.SUPERVISOR)
        await self.shell.note("callback_opened", detail=f"score {req.score}: a supervisor who took no part calls the "
                                                        f"claimant back by {clock.due_at.isoformat()}")
        self.clocks.notify_staff("callback_needed", Role.SUPERVISOR, {"score": req.score, "due_at": clock.due_at,
                                                                      "handler": s.handler or "unassigned"})
        return self.shell.ack(f"score {req.score} recorded: a supervisor will call you back")

    def check_survey_response(self) -> None:
        s = self.s
        until = s.survey_until()
        if s.outcome not in (Outcome.PAID, Outcome.DENIED) or s.survey_sent_at is None:
            raise refuse("survey_response: the survey is sent after a claim is paid or denied; none was sent yet")
        if s.survey is not None:
            raise refuse("survey_response: the survey was answered already")
        if until is not None and workflow.now() > until:
            raise refuse(f"survey_response: the survey could be answered until {until.isoformat()}")

    async def record_callback(self, req: RecordCallback) -> UpdateAck:
        self.s.callback = req.model_copy(update={"credential": None})
        self.clocks.stop("callback")
        await self.shell.note("callback_done", by=req.by, detail="claimant reached" if req.reached else "not reached",
                              sender=sender_of(req.credential))
        return self.shell.ack("call-back recorded")

    def check_callback(self, req: RecordCallback) -> None:
        if "callback" not in self.s.clocks:
            raise refuse("record_callback: no call-back is open on this claim")
        part = self.part_in_claim(req.by)
        if part is not None:
            raise refuse(f"record_callback: {req.by} is the {part} of this claim; the call-back is made by a "
                         "supervisor who took no part (four-eyes rule)", ErrorType.NOT_AUTHORIZED)
