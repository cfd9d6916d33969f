"""The claim's updates and its `status` query.

Each update has a validator: a bad or unauthorised request is refused before it enters history. Handlers
change state before their first `await`, so the next validator in the same workflow task already sees it.
Money decisions go through the one guard (`Decisions.refusal`).

Every validator first checks who sent the update (`_authenticate`): the `credential` must be an action proof
the worker's keys verify, bound to this claim, this update and this payload, not used here before, naming the
person (or channel) and role the payload states. Every handler first spends the proof (`_spend`), then records
its sender's issuer, subject, roles and proof id (`sender_of`), never the proof.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.catastrophes import CatastropheActivities
    from activities.database import ClaimsDatabase
    from activities.readings import ReadingActivities
    from core.claim import commands as core
    from core.rules.calendar import due
    from core.rules.money import Kind
    from core.rules.risk import with_reused_documents
    from identity.codes import masked
    from identity.tokens import sender_of
    from models.catastrophes import CATASTROPHE_DECLARED
    from models.contract import (
        APPEAL_UPDATE,
        CONTACT_QUERY,
        STATUS_QUERY,
        Appeal,
        ApprovalRecord,
        ApproveAdvance,
        Assign,
        ClaimStatus,
        CodePurpose,
        ErrorType,
        Escalate,
        OpenRecovery,
        RecordCallback,
        RecordInvestigation,
        RecordRecovery,
        Reject,
        ReleaseBankAccount,
        Reopen,
        RequestCode,
        Role,
        SetReserve,
        Stage,
        SubmitDocuments,
        SurveyResponse,
        UpdateAck,
        UpdateBankAccount,
        Withdraw,
        WriteOffRecovery,
    )
    from models.contract import Approve as ApproveInput
    from models.documents import FIELDS, READ_KINDS, CorrectDocumentField, ReadField, RecordReading
    from models.messages import FindCatastrophe, Recipient, RecordDocuments
    from workflows import core_view, financials
    from workflows.account_changes import AccountChanges
    from workflows.after_closing import AfterClosing
    from workflows.claim_state import ClaimState, parse, refuse
    from workflows.clocks import Clocks
    from workflows.credentials import authenticate, spend
    from workflows.decisions import Decisions
    from workflows.readings import Reader, normalised
    from workflows.shell import Shell


class ClaimUpdates:
    """The claim's updates and its query. The parts they act through are made by the workflow (claim.py)."""

    shell: Shell
    clocks: Clocks
    decisions: Decisions
    reader: Reader
    accounts: AccountChanges
    after: AfterClosing

    @property
    def s(self) -> ClaimState:
        return self.shell.s

    # ================================================================== query

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> ClaimStatus:
        return self.s.status()

    @workflow.query(name=CONTACT_QUERY)
    def claimant_contact(self) -> Recipient | None:
        """The claimant's contact on file (None before the claim is registered): where a code for the claim goes
        once its workflow has ended (workflows/ended_claim_code.py)."""
        claim = self.s.claim
        if claim is None:
            return None
        c = claim.claimant
        return Recipient(name=c.name, channel=c.channel, phone=c.phone, email=c.email, language=c.language)

    @workflow.query(name="code_destination")
    def code_destination(self) -> str | None:
        """Where the claim's codes go, masked (****5678), for the page that asks the claimant to type one."""
        claim = self.s.claim
        return None if claim is None else masked(claim.claimant.phone, claim.claimant.email)

    @workflow.query(name="core_disagreements")
    def core_disagreements(self) -> list[str]:
        """Where the workflow's reading of the claim differs from the decision core's; empty when they agree."""
        return core_view.disagreements(self.s)

    def _require_open(self, action: str) -> None:
        self.s.require_ready()
        if self.s.stage == Stage.CLOSED:
            raise refuse(f"{action}: the claim is closed ({self.s.outcome})")

    def _authenticate(self, update: str, payload: Any, actor: str | None = None, role: Role | None = None) -> None:
        """Refuse an update whose action proof does not prove its sender for this very update and payload, was
        used before, or whose sender may not send it."""
        authenticate(update, payload, actor, role, spent=self.s.proofs)

    def _spend(self, update: str, payload: Any) -> None:
        """The handler's first step: the proof, once accepted, is never accepted again on this claim."""
        spend(update, payload, self.s.proofs)

    # ================================================================== claimant's side

    @workflow.update(name="submit_documents")
    async def submit_documents(self, payload: Any) -> list[str]:
        self._spend("submit_documents", payload)
        s = self.s
        req = parse(SubmitDocuments, payload, "submit_documents")
        fresh = [d for d in req.documents if (d.kind, d.ref) not in {(x.kind, x.ref) for x in s.submitted}]
        s.submitted += fresh
        s.missing = s.still_missing()
        if fresh:
            reused = await self.shell.activity(ClaimsDatabase.record_documents, RecordDocuments(
                claim_id=s.claim_id, documents=fresh, at=workflow.now()))
            if reused and s.risk is not None:  # the reused-document rule looks at every document, not the first
                _, rules = s.require_ready()
                s.risk = with_reused_documents(s.risk, reused, rules.risk)
                await self.shell.note("risk_rescored", detail=f"risk {s.risk.score} ({s.risk.level}): reused documents",
                                      changes={"risk_score": s.risk.score, "risk_level": s.risk.level})
                self.shell.upsert_search_attributes()
        await self.shell.note("documents_submitted", detail=", ".join(d.kind for d in req.documents),
                              sender=sender_of(req.credential))
        return list(s.missing)

    @submit_documents.validator
    def _validate_submit_documents(self, payload: Any) -> None:
        req = parse(SubmitDocuments, payload, "submit_documents")
        self._authenticate("submit_documents", payload)
        self._require_open("submit_documents")
        _, rules = self.s.require_ready()
        unknown = sorted({d.kind for d in req.documents} - set(rules.known_document_kinds))
        if unknown:
            raise refuse(f"submit_documents: documents.kind: unknown kinds {unknown}", ErrorType.INVALID_UPDATE)

    @workflow.update(name="withdraw")
    async def withdraw(self, payload: Any) -> UpdateAck:
        self._spend("withdraw", payload)
        req = parse(Withdraw, payload, "withdraw")
        self.s.withdrawal = req.model_copy(update={"credential": None})  # its sender is on the timeline
        await self.shell.note("withdrawal_requested", by=req.by, detail=req.reason, sender=sender_of(req.credential))
        return self.shell.ack("withdrawal accepted: the claim closes as withdrawn")

    @withdraw.validator
    def _validate_withdraw(self, payload: Any) -> None:
        req = parse(Withdraw, payload, "withdraw")
        self._authenticate("withdraw", payload, req.by)
        core_view.check(self.s, "withdraw", core.Withdraw(req.reason))

    @workflow.update(name=APPEAL_UPDATE)
    async def appeal(self, payload: Any) -> UpdateAck:
        self._spend("appeal", payload)
        req = parse(Appeal, payload, "appeal")
        self.s.appeal, self.s.appeal_sender = req.model_copy(update={"credential": None}), sender_of(req.credential)
        return self.shell.ack("appeal received: a supervisor will review the decision")

    @appeal.validator
    def _validate_appeal(self, payload: Any) -> None:
        req = parse(Appeal, payload, "appeal")
        self._authenticate("appeal", payload)
        core_view.check(self.s, "appeal", core.Appeal(req.reason))
        window = self._appeal_window_end()  # the window in time is the workflow's; what may be appealed, the core's
        if window is None:
            raise refuse("appeal: only a denial or a partial approval can be appealed, once")
        if workflow.now() > window:
            raise refuse(f"appeal: the appeal window closed on {window.isoformat()}")

    def _appeal_window_end(self) -> datetime | None:
        self.s.require_ready()
        return self.s.appeal_until()

    @workflow.update(name="request_code")
    async def request_code(self, payload: Any) -> UpdateAck:
        """Send a one-time code to the claimant's phone or e-mail on file (never to one given in the request)."""
        self._spend("request_code", payload)
        return await self.accounts.request_code(parse(RequestCode, payload, "request_code"))

    @request_code.validator
    def _validate_request_code(self, payload: Any) -> None:
        req = parse(RequestCode, payload, "request_code")
        self._authenticate("request_code", payload)
        if req.purpose == CodePurpose.BANK_ACCOUNT:
            self._require_open("request_code")
        self.accounts.check_request_code(req)

    @workflow.update(name="update_bank_account")
    async def update_bank_account(self, payload: Any) -> UpdateAck:
        self._spend("update_bank_account", payload)
        return await self.accounts.update_bank_account(parse(UpdateBankAccount, payload, "update_bank_account"))

    @update_bank_account.validator
    def _validate_update_bank_account(self, payload: Any) -> None:
        req = parse(UpdateBankAccount, payload, "update_bank_account")
        self._authenticate("update_bank_account", payload)
        self._require_open("update_bank_account")
        self.accounts.check_update_bank_account(req)

    @workflow.update(name="release_bank_account")
    async def release_bank_account(self, payload: Any) -> UpdateAck:
        self._spend("release_bank_account", payload)
        return await self.accounts.release(parse(ReleaseBankAccount, payload, "release_bank_account"))

    @release_bank_account.validator
    def _validate_release_bank_account(self, payload: Any) -> None:
        req = parse(ReleaseBankAccount, payload, "release_bank_account")
        self._authenticate("release_bank_account", payload, req.by, req.role)
        self._require_open("release_bank_account")
        self.accounts.check_release(req)

    # ================================================================== staff

    @workflow.update(name="record_investigation")
    async def record_investigation(self, payload: Any) -> UpdateAck:
        self._spend("record_investigation", payload)
        req = parse(RecordInvestigation, payload, "record_investigation")
        self.s.investigation = req.model_copy(update={"credential": None})
        await self.shell.note("investigation_recorded", by=req.investigator_id,
                              detail=f"confirmed {req.confirmed_amount}; fraud suspected: {req.fraud_suspected}",
                              sender=sender_of(req.credential))
        return self.shell.ack("investigation recorded")

    @record_investigation.validator
    def _validate_record_investigation(self, payload: Any) -> None:
        req = parse(RecordInvestigation, payload, "record_investigation")
        self._authenticate("record_investigation", payload, req.investigator_id)
        core_view.check(self.s, "record_investigation", core.RecordInvestigation(
            req.investigator_id, req.confirmed_amount, req.fraud_suspected))

    @workflow.update(name="approve")
    async def approve(self, payload: Any) -> UpdateAck:
        self._spend("approve", payload)
        req = parse(ApproveInput, payload, "approve")
        if req.amount is not None:
            self.s.agreed_amount = req.amount
        sender = sender_of(req.credential)
        self.s.approvals.append(ApprovalRecord(approver_id=req.approver_id, role=req.role, at=workflow.now(),
                                               comment=req.comment, sender=sender))
        agreed = f" (agrees {req.amount})" if req.amount is not None else ""
        await self.shell.note("approved", by=req.approver_id, detail=f"{req.role.value}: {req.comment}{agreed}",
                              sender=sender)
        still = "" if self.s.approved() else f"; a further {self.s.required_role().value} approval is needed"
        return self.shell.ack(f"approval recorded{still}")

    @approve.validator
    def _validate_approve(self, payload: Any) -> None:
        req = parse(ApproveInput, payload, "approve")
        self._authenticate("approve", payload, req.approver_id, req.role)
        core_view.check(self.s, "approve", core.Approve(req.approver_id, req.role, req.amount))

    @workflow.update(name="reject")
    async def reject(self, payload: Any) -> UpdateAck:
        self._spend("reject", payload)
        req = parse(Reject, payload, "reject")
        self.s.rejection = req.model_copy(update={"credential": None})
        self.s.rejected_by.append(req.approver_id)
        await self.shell.note("rejected", by=req.approver_id, detail=f"{req.reason} ({req.clause})",
                              sender=sender_of(req.credential))
        return self.shell.ack("rejection recorded: the claim is denied")

    @reject.validator
    def _validate_reject(self, payload: Any) -> None:
        req = parse(Reject, payload, "reject")
        self._authenticate("reject", payload, req.approver_id, req.role)
        core_view.check(self.s, "reject", core.Reject(req.approver_id, req.role, req.reason))

    @workflow.update(name="approve_advance")
    async def approve_advance(self, payload: Any) -> UpdateAck:
        self._spend("approve_advance", payload)
        req = parse(ApproveAdvance, payload, "approve_advance")
        self.s.advance_approvers.append(req.approver_id)
        self.decisions.request_advance(req.amount, req.approver_id, req.role)
        await self.shell.note("advance_approved", by=req.approver_id, detail=f"{req.amount} {req.comment}".strip(),
                              sender=sender_of(req.credential))
        return self.shell.ack(f"advance of {req.amount} approved; it is paid now")

    @approve_advance.validator
    def _validate_approve_advance(self, payload: Any) -> None:
        req = parse(ApproveAdvance, payload, "approve_advance")
        self._authenticate("approve_advance", payload, req.approver_id, req.role)
        s = self.s
        if not s.advance_held:
            core_view.check(s, "approve_advance", core.ApproveAdvance(req.approver_id, req.role, req.amount))
        else:  # the statutory advance held for a person (fraud suspected) is not in the core yet
            s.require_ready()
            if s.decision is not None or s.withdrawal is not None or s.rejection is not None or s.approved() \
                    or s.stage in (Stage.PAYING, Stage.CLOSED) or s.policy is None:
                raise refuse("approve_advance: advances are for green-channel claims (or a held statutory advance) "
                             "not yet decided")
        # The guard once more with the payout as the workflow estimates it until it is assessed (the line items, the
        # investigator's figure): the core holds only an assessed payout, and the advance is paid against the estimate.
        problem = self.decisions.refusal(Kind.ADVANCE, req.approver_id, req.role, req.amount)
        if problem:
            raise refuse(f"approve_advance: {problem}", ErrorType.NOT_AUTHORIZED)

    @workflow.update(name="escalate")
    async def escalate(self, payload: Any) -> UpdateAck:
        self._spend("escalate", payload)
        req = parse(Escalate, payload, "escalate")
        self.s.escalations += 1
        await self.shell.note("escalated", by=req.by, detail=req.reason, sender=sender_of(req.credential))
        target = self.s.required_role().value if self.s.payout else "the next tier"
        return self.shell.ack(f"escalated; decision now needs {target}")

    @escalate.validator
    def _validate_escalate(self, payload: Any) -> None:
        req = parse(Escalate, payload, "escalate")
        self._authenticate("escalate", payload, req.by)
        core_view.check(self.s, "escalate", core.Escalate(req.by))

    @workflow.update(name="assign")
    async def assign(self, payload: Any) -> UpdateAck:
        self._spend("assign", payload)
        req = parse(Assign, payload, "assign")
        self.s.set_handler(req.handler_id)
        self.shell.upsert_search_attributes()
        await self.shell.note("assigned", by=req.by, detail=f"handler {req.handler_id}",
                              changes={"handler": req.handler_id}, sender=sender_of(req.credential))
        return self.shell.ack(f"assigned to {req.handler_id}")

    @assign.validator
    def _validate_assign(self, payload: Any) -> None:
        req = parse(Assign, payload, "assign")
        self._authenticate("assign", payload, req.by)
        core_view.check(self.s, "assign", core.Assign(req.handler_id))

    @workflow.update(name="reopen")
    async def reopen(self, payload: Any) -> UpdateAck:
        self._spend("reopen", payload)
        req = parse(Reopen, payload, "reopen")
        self.s.reopen_request, self.s.reopen_sender = req.model_copy(update={"credential": None}), \
            sender_of(req.credential)
        return self.shell.ack("reopened: awaiting the materials again")

    @reopen.validator
    def _validate_reopen(self, payload: Any) -> None:
        req = parse(Reopen, payload, "reopen")
        self._authenticate("reopen", payload, req.by, req.role)
        s = self.s
        core_view.check(s, "reopen", core.Reopen(req.by, req.role))
        _, rules = s.require_ready()  # the window in time is the workflow's; what may be reopened, the core's
        if s.closed_at is not None and workflow.now() > due(s.closed_at, rules.sla.reopen_window_days, rules.sla):
            raise refuse("reopen: the reopening window has passed")

    # ================================================================== money owed back

    @workflow.update(name="record_recovery")
    async def record_recovery(self, payload: Any) -> UpdateAck:
        self._spend("record_recovery", payload)
        return await self.after.record_recovery(parse(RecordRecovery, payload, "record_recovery"))

    @record_recovery.validator
    def _validate_record_recovery(self, payload: Any) -> None:
        req = parse(RecordRecovery, payload, "record_recovery")
        self._authenticate("record_recovery", payload, req.by)
        self.after.check_recovery(req)

    @workflow.update(name="open_recovery")
    async def open_recovery(self, payload: Any) -> UpdateAck:
        self._spend("open_recovery", payload)
        return await self.after.open_recovery(parse(OpenRecovery, payload, "open_recovery"))

    @open_recovery.validator
    def _validate_open_recovery(self, payload: Any) -> None:
        req = parse(OpenRecovery, payload, "open_recovery")
        self._authenticate("open_recovery", payload, req.by, req.role)
        self.after.check_open_recovery(req)

    @workflow.update(name="write_off_recovery")
    async def write_off_recovery(self, payload: Any) -> UpdateAck:
        self._spend("write_off_recovery", payload)
        return await self.after.write_off_recovery(parse(WriteOffRecovery, payload, "write_off_recovery"))

    @write_off_recovery.validator
    def _validate_write_off_recovery(self, payload: Any) -> None:
        req = parse(WriteOffRecovery, payload, "write_off_recovery")
        self._authenticate("write_off_recovery", payload, req.by)
        self.after.check_write_off(req)

    # ================================================================== a catastrophe declared

    @workflow.signal(name=CATASTROPHE_DECLARED)
    def catastrophe_declared(self) -> None:
        """A catastrophe was declared: the claim looks whether its incident falls in an open one, and joins it by
        the rule (the signal carries nothing, so nothing it says can put the claim in a catastrophe). A claim that
        joins while open is marked (its code, the search attribute, the event); its documents and authority stay as they
        were."""
        s = self.s
        if not s.catastrophes_on or not s.ready or s.catastrophe is not None or s.outcome is not None \
                or s.catastrophe_looking:
            return
        s.catastrophe_looking = True
        self.shell.spawn(self._look_for_catastrophe(), name="catastrophe")

    async def _look_for_catastrophe(self) -> None:
        s = self.s
        claim, _ = s.require_ready()
        try:
            found = await self.shell.activity(CatastropheActivities.find_catastrophe, FindCatastrophe(
                claim_type=claim.claim_type.value, region=claim.incident.region,
                occurred_at=claim.incident.occurred_at))
        finally:
            s.catastrophe_looking = False
        if found is None or s.catastrophe is not None or s.outcome is not None:
            return
        s.catastrophe = found.code
        self.shell.upsert_search_attributes()
        await self.shell.note("catastrophe_joined", detail=f"catastrophe {found.code}",
                              changes={"catastrophe": found.code})

    # ================================================================== the case reserve

    @workflow.update(name="set_reserve")
    async def set_reserve(self, payload: Any) -> UpdateAck:
        self._spend("set_reserve", payload)
        req = parse(SetReserve, payload, "set_reserve")
        event, detail = financials.set_by_staff(self.s, req)
        await self.shell.note(event, by=req.by, detail=detail, sender=sender_of(req.credential))
        return self.shell.ack(detail)

    @set_reserve.validator
    def _validate_set_reserve(self, payload: Any) -> None:
        req = parse(SetReserve, payload, "set_reserve")
        self._authenticate("set_reserve", payload, req.by, req.role)
        financials.check_set_reserve(self.s, req)

    # ================================================================== after closing: survey and call-back

    @workflow.update(name="survey_response")
    async def survey_response(self, payload: Any) -> UpdateAck:
        self._spend("survey_response", payload)
        return await self.after.survey_response(parse(SurveyResponse, payload, "survey_response"))

    @survey_response.validator
    def _validate_survey_response(self, payload: Any) -> None:
        parse(SurveyResponse, payload, "survey_response")
        self._authenticate("survey_response", payload)
        self.after.check_survey_response()

    @workflow.update(name="record_callback")
    async def record_callback(self, payload: Any) -> UpdateAck:
        self._spend("record_callback", payload)
        return await self.after.record_callback(parse(RecordCallback, payload, "record_callback"))

    @record_callback.validator
    def _validate_record_callback(self, payload: Any) -> None:
        req = parse(RecordCallback, payload, "record_callback")
        self._authenticate("record_callback", payload, req.by)
        self.after.check_callback(req)

    # ------------------------------------------------------------------ staff correct what the machine read

    @workflow.update(name="correct_document_field")
    async def correct_document_field(self, payload: Any) -> UpdateAck:
        self._spend("correct_document_field", payload)
        s = self.s
        req = parse(CorrectDocumentField, payload, "correct_document_field")
        claim, _ = s.require_ready()
        reading = s.readings[req.ref]
        fields = {**reading.fields, req.field: ReadField(value=normalised(req.field, req.value), confidence=1.0,
                                                         corrected_by=req.by)}
        s.readings[req.ref] = reading = reading.model_copy(update={"fields": fields, "readable": True})
        await self.shell.activity(ReadingActivities.record_reading,
                                  RecordReading(claim_id=claim.claim_id, reading=reading))
        await self.shell.note("document_corrected", by=req.by, detail=f"{reading.kind} {req.field}",
                              sender=sender_of(req.credential))
        await self.reader.check()
        return self.shell.ack(f"{reading.kind} {req.field} corrected; risk {s.risk.score if s.risk else '-'}")

    @correct_document_field.validator
    def _validate_correct_document_field(self, payload: Any) -> None:
        req = parse(CorrectDocumentField, payload, "correct_document_field")
        self._authenticate("correct_document_field", payload, req.by, req.role)
        self._require_open("correct_document_field")
        reading = self.s.readings.get(req.ref)
        if reading is None:
            raise refuse(f"correct_document_field: ref: no reading of {req.ref} on this claim",
                         ErrorType.INVALID_UPDATE)
        allowed = FIELDS[READ_KINDS[reading.kind]]
        if req.field not in allowed:
            raise refuse(f"correct_document_field: field: one of {list(allowed)} for a {reading.kind}",
                         ErrorType.INVALID_UPDATE)
        try:
            normalised(req.field, req.value)
        except ValueError as err:
            raise refuse(f"correct_document_field: value: {err}", ErrorType.INVALID_UPDATE) from None
