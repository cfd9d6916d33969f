"""ClaimWorkflow: one claim from first notice of loss to payment, decision letter and survey.

The lifecycle reads top to bottom in `run`; supervisors act through updates (validated before they
enter history); `status` is a query. Rules are pure functions (workflows/rules); every side effect is an
activity, called by name so this module never imports database or template code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.contract import (
        WORKFLOW_TYPE,
        Appeal,
        ApprovalRecord,
        AssessRisk,
        Assign,
        BankAccount,
        BasisStep,
        ClaimEvent,
        ClaimInput,
        ClaimResult,
        ClaimStatus,
        ComputePayout,
        CoverageResult,
        Decision,
        ErrorType,
        Escalate,
        NotificationRequest,
        Outcome,
        Path,
        PaymentReceipt,
        PaymentRecord,
        PaymentRequest,
        Payout,
        Recipient,
        RecordDocuments,
        RecordInvestigation,
        RegisterClaim,
        Reject,
        Reopen,
        RiskAssessment,
        Role,
        Rules,
        SlaBreach,
        Stage,
        SubmitDocuments,
        TimelineEntry,
        UpdateAck,
        UpdateBankAccount,
        Withdraw,
        workflow_id_for,
    )
    from models.contract import Approve as ApproveInput
    from workflows.claim_state import ClaimState, parse, refuse
    from workflows.rules import authority, triage
    from workflows.rules.calendar import due

T = TypeVar("T")

BUSINESS_ERRORS = [e.value for e in ErrorType]
# Database and letters: retried with backoff for as long as an outage lasts; business rejections never.
STEADY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                           maximum_interval=timedelta(minutes=1), non_retryable_error_types=BUSINESS_ERRORS)
# Payments: the gateway may be down for a while; the idempotency key makes every retry safe.
PAYMENT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                            maximum_interval=timedelta(minutes=5), non_retryable_error_types=BUSINESS_ERRORS)
OPEN_STAGES_FOR_WITHDRAWAL = {Stage.REGISTERED, Stage.COVERAGE_CHECK, Stage.AWAITING_DOCUMENTS,
                              Stage.INVESTIGATING, Stage.ADJUSTING, Stage.AWAITING_APPROVAL}


class ClaimClosed(Exception):
    """Unwinds the lifecycle when the claim closes early (withdrawn)."""


ActivityFailure = (ActivityError, ApplicationError)
"""How an activity's failure reaches workflow code: wrapped in ActivityError (normal activities) or, for a
local activity's non-retryable failure, as the ApplicationError itself."""


def business_error(err: ActivityError | ApplicationError) -> ApplicationError | None:
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError) and cause.type in BUSINESS_ERRORS:
        return cause
    return None


@workflow.defn(name=WORKFLOW_TYPE)
class ClaimWorkflow:
    @workflow.init
    def __init__(self, claim: Any) -> None:
        claim_id = claim.get("claim_id") if isinstance(claim, dict) else None
        self.s = ClaimState(str(claim_id or workflow.info().workflow_id.removeprefix("claim-")))
        self.fast = False

    # ================================================================== lifecycle

    @workflow.run
    async def run(self, claim: Any) -> ClaimResult:
        s = self.s
        s.claim = parse(ClaimInput, claim, "invalid claim", ErrorType.INVALID_CLAIM)
        if workflow.info().workflow_id != workflow_id_for(s.claim.claim_id):
            raise refuse(f"workflow id must be {workflow_id_for(s.claim.claim_id)!r} for claim_id "
                         f"{s.claim.claim_id!r}", ErrorType.INVALID_CLAIM)
        rules = await self._local("load_rules", None, Rules)
        unknown = sorted({d.kind for d in s.claim.documents} - set(rules.known_document_kinds))
        if unknown:
            raise refuse(f"invalid claim: documents.kind: unknown kinds {unknown}", ErrorType.INVALID_CLAIM)
        s.rules = rules
        s.bank_account = s.claim.bank_account
        s.submitted = list(s.claim.documents)
        s.registered_at = workflow.now()
        s.required_documents = triage.required_documents(rules, s.claim.claim_type.value, s.claim.incident.cause)
        self._upsert_search_attributes()

        self.fast = True  # intake runs on local activities: no round trips through the server
        await self._activity("register_claim", RegisterClaim(
            claim=s.claim, chain_id=workflow.info().first_execution_run_id, registered_at=s.registered_at))
        await self._note("registered", detail=f"{s.claim.claim_type.value} claim on policy "
                                              f"{s.claim.policy_number} for {s.claim.claimed_amount}")
        await self._notify("acknowledgement", {
            "claim_type": s.claim.claim_type.value, "registered_at": s.registered_at,
            "checklist": s.required_documents, "received": [d.kind for d in s.submitted],
            "determination_days": rules.sla.determination_days, "payment_days": rules.sla.payment_days})

        await self._guarded(self._assess)
        await self._after_close()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return s.result()

    async def _assess(self) -> None:
        s = self.s
        claim, rules = s.require_ready()
        await self._enter(Stage.COVERAGE_CHECK)
        coverage = await self._activity("check_coverage", claim, CoverageResult)
        s.policy = coverage.policy
        if not coverage.covered:
            assert coverage.reason and coverage.clause
            await self._deny([coverage.reason], [rules.clauses.get(coverage.clause, coverage.clause)])
            return
        s.risk = await self._activity("assess_risk", AssessRisk(
            claim=claim, reported_at=s.registered_at or workflow.now(), risk=rules.risk), RiskAssessment)
        s.path = triage.choose_path(claim, s.risk, rules)
        why_not_fast = triage.fast_path_refusal(claim, s.risk, rules)
        await self._note("triaged", detail=f"risk {s.risk.score} ({s.risk.level}); {s.path.value} path"
                                           + (f" ({why_not_fast})" if why_not_fast else ""),
                         changes={"risk_score": s.risk.score, "risk_level": s.risk.level, "path": s.path.value})
        if s.path == Path.FAST:
            await self._fast_path()
        else:
            self.fast = False
            await self._standard_path()

    async def _fast_path(self) -> None:
        """Small, clear-cut claims: no human touches them; paid and notified within seconds."""
        s = self.s
        await self._enter(Stage.ADJUSTING)
        payout = await self._compute_payout()
        if payout.total <= 0:
            await self._deny_zero(payout)
            return
        s.approvals.append(ApprovalRecord(approver_id="system", role=Role.SYSTEM, at=workflow.now(),
                                          comment="fast path: within the system's authority"))
        await self._decide_and_pay()

    async def _standard_path(self) -> None:
        s = self.s
        claim, rules = s.require_ready()
        if not await self._collect_documents():
            return
        s.investigation_reason = triage.investigation_reason(claim, s.risk, rules) if s.risk else None
        if s.investigation_reason:
            await self._investigate(s.investigation_reason)
        await self._enter(Stage.ADJUSTING)
        payout = await self._compute_payout()
        if payout.total <= 0:
            await self._deny_zero(payout)
            return
        if self._system_may_approve(payout):
            s.approvals.append(ApprovalRecord(approver_id="system", role=Role.SYSTEM, at=workflow.now(),
                                              comment="low risk, within the system's authority"))
        else:
            await self._await_approval()
            if s.rejection is not None:
                await self._deny([s.rejection.reason], [s.rejection.clause], payout.basis,
                                 by=s.rejection.approver_id)
                return
        await self._decide_and_pay()

    async def _collect_documents(self) -> bool:
        """The one consolidated request for everything missing, reminders of the same list, and closing as
        incomplete when the deadline passes. True when the materials are complete."""
        s = self.s
        claim, rules = s.require_ready()
        s.missing = triage.still_missing(s.required_documents, (d.kind for d in s.submitted))
        if not s.missing:
            return True
        start = workflow.now()
        deadline = due(start, rules.sla.documents_days, rules.sla)
        first_request = s.requested_at is None
        s.requested_at = s.requested_at or start
        s.deadlines["documents"] = deadline
        await self._enter(Stage.AWAITING_DOCUMENTS)
        if first_request:
            await self._note("documents_requested", detail="one request for: " + ", ".join(s.missing))
            await self._notify("missing_materials", {"missing": list(s.missing), "due_at": deadline})
        else:  # reopened: the same list again, with a new deadline
            await self._notify("reminder", self._reminder_context(deadline))
        reminders = sorted(deadline - timedelta(seconds=d * rules.sla.day_seconds)
                           for d in rules.sla.reminder_days_before)
        for moment in [r for r in reminders if r > start] + [deadline]:
            if await self._wait_until(lambda: not s.missing or s.withdrawal is not None, moment):
                break
            if moment != deadline:
                await self._notify("reminder", self._reminder_context(deadline))
        self._check_withdrawn()
        s.deadlines.pop("documents", None)
        if s.missing:
            await self._note("documents_overdue", detail="still missing: " + ", ".join(s.missing))
            await self._notify("closed_incomplete", {"missing": list(s.missing), "requested_at": s.requested_at})
            await self._close(Outcome.CLOSED_INCOMPLETE)
            return False
        await self._note("documents_complete")
        return True

    def _reminder_context(self, deadline: datetime) -> dict[str, Any]:
        _, rules = self.s.require_ready()
        days_left = max(0, int((deadline - workflow.now()).total_seconds() // rules.sla.day_seconds))
        return {"missing": list(self.s.missing), "due_at": deadline, "requested_at": self.s.requested_at,
                "days_left": days_left}

    async def _investigate(self, reason: str) -> None:
        s = self.s
        _, rules = s.require_ready()
        await self._enter(Stage.INVESTIGATING)
        days = rules.sla.investigation_days / (2 if s.path == Path.GREEN else 1)
        report_due = due(workflow.now(), days, rules.sla)
        await self._note("investigation_opened", detail=reason)
        await self._notify("investigation_opened", {"reason": reason, "due_at": report_due})
        await self._wait_for(lambda: s.investigation is not None, "investigation", report_due)

    async def _await_approval(self) -> None:
        s = self.s
        _, rules = s.require_ready()
        await self._enter(Stage.AWAITING_APPROVAL, changes={"payout_amount": str(s.payout.total) if s.payout else None})
        approval_due = due(workflow.now(), rules.sla.approval_business_days, rules.sla, business=True)
        await self._wait_for(lambda: s.approved() or s.rejection is not None, "approval", approval_due)

    def _system_may_approve(self, payout: Payout) -> bool:
        s = self.s
        claim, rules = s.require_ready()
        return (s.risk is not None and s.risk.level == "low" and not s.investigation_reason
                and s.escalations == 0 and s.path != Path.GREEN and s.review is None
                and payout.total <= rules.fast_path_limits[claim.claim_type.value])

    async def _compute_payout(self) -> Payout:
        s = self.s
        claim, rules = s.require_ready()
        confirmed = s.investigation.confirmed_amount if s.investigation else None
        s.payout = await self._activity("compute_payout", ComputePayout(
            claim_id=claim.claim_id, policy_number=claim.policy_number, claimed_amount=claim.claimed_amount,
            line_items=claim.line_items, confirmed_amount=confirmed, advances_paid=s.advances_paid,
            clauses=rules.clauses), Payout)
        await self._note("payout_computed", detail=f"payout {s.payout.total}",
                         changes={"payout_amount": str(s.payout.total)})
        return s.payout

    async def _decide_and_pay(self) -> None:
        s = self.s
        claim, rules = s.require_ready()
        self._check_withdrawn()
        assert s.payout is not None
        kind = "approved" if s.payout.in_full else "partial"
        decided_by = ", ".join(a.approver_id for a in s.current_approvals) or "system"
        s.decision = Decision(kind=kind, amount=s.payout.total, basis=s.payout.basis, decided_by=decided_by,
                              decided_at=workflow.now())
        await self._note("decided", by=decided_by, detail=f"{kind}: {s.payout.total}")
        await self._notify(f"decision_{kind}", {
            "amount": s.payout.total, "claimed": claim.claimed_amount, "basis": s.payout.basis,
            "appeal_days": rules.sla.appeal_window_days})
        await self._pay(s.payout.total - s.paid_amount, "final")
        await self._close(Outcome.PAID)

    async def _pay(self, amount: Decimal, kind: Literal["final", "advance"]) -> None:
        """Pay once under a key made of the claim and the payout sequence. An account the bank rejects:
        the claimant is asked once for new details, and the payment goes out when they arrive."""
        s = self.s
        claim, rules = s.require_ready()
        if amount <= 0:
            return
        await self._enter(Stage.PAYING)
        s.payout_sequence += 1
        sequence = s.payout_sequence
        asked = False
        while True:
            problem = "no bank account on file"
            if s.bank_account is not None:
                try:
                    receipt = await self._activity("pay", PaymentRequest(
                        claim_id=claim.claim_id, sequence=sequence, kind=kind, amount=amount,
                        account=s.bank_account), PaymentReceipt, retry=PAYMENT_RETRY,
                        timeout=timedelta(minutes=2))
                    break
                except ActivityFailure as err:
                    cause = business_error(err)
                    if cause is None or cause.type != ErrorType.INVALID_BANK_ACCOUNT:
                        raise
                    problem = cause.message
            await self._note("payment_failed", detail=problem)
            s.account_updated = False
            details_due = due(workflow.now(), rules.sla.bank_details_days, rules.sla)
            if not asked:
                asked = True
                await self._notify("payment_failed", {"amount": amount, "reason": problem, "due_at": details_due})
            await self._wait_for(lambda: s.account_updated, "bank_details", details_due)
        assert s.bank_account is not None
        s.payments.append(PaymentRecord(sequence=sequence, kind=kind, amount=receipt.amount,
                                        idempotency_key=receipt.idempotency_key, reference=receipt.reference,
                                        account=s.bank_account.masked, paid_at=receipt.paid_at))
        await self._note("paid", detail=f"{receipt.amount} to {s.bank_account.masked} ({receipt.reference})")
        await self._notify("payment_sent", {"amount": receipt.amount, "account": s.bank_account.masked,
                                            "reference": receipt.reference, "paid_at": receipt.paid_at,
                                            "kind": kind}, sequence=sequence)

    async def _deny_zero(self, payout: Payout) -> None:
        _, rules = self.s.require_ready()
        reason = payout.zero_reason or "below deductible"
        clause_key = "below_deductible" if reason == "below deductible" else "sum_insured_exhausted"
        await self._deny([reason], [rules.clauses[clause_key]], payout.basis)

    async def _deny(self, reasons: list[str], clauses: list[str], basis: list[Any] | None = None,
                    by: str = "system") -> None:
        s = self.s
        _, rules = s.require_ready()
        self._check_withdrawn()
        s.decision = Decision(kind="denied", amount=Decimal("0.00"), basis=basis or [], reasons=reasons,
                              clauses=clauses, decided_by=by, decided_at=workflow.now())
        await self._note("decided", by=by, detail="denied: " + "; ".join(reasons))
        await self._notify("decision_denied", {"reasons": reasons, "clauses": clauses, "basis": basis or [],
                                               "appeal_days": rules.sla.appeal_window_days})
        await self._close(Outcome.DENIED)

    async def _close(self, outcome: Outcome) -> None:
        s = self.s
        s.outcome, s.closed_at, s.review = outcome, workflow.now(), None
        s.deadlines.clear()
        await self._enter(Stage.CLOSED, changes={"outcome": outcome.value, "closed_at": s.closed_at.isoformat()})

    def _check_withdrawn(self) -> None:
        if self.s.withdrawal is not None and self.s.outcome is None:
            raise ClaimClosed

    async def _withdraw(self) -> None:
        s = self.s
        assert s.withdrawal is not None
        await self._notify("withdrawn", {"reason": s.withdrawal.reason})
        await self._close(Outcome.WITHDRAWN)

    async def _guarded(self, step: Callable[[], Any]) -> None:
        try:
            await step()
        except ClaimClosed:
            await self._withdraw()

    # ================================================================== after closing

    async def _after_close(self) -> None:
        """Survey a day after closing; meanwhile an appeal (after a denial or partial approval) or a
        reopening (after closing incomplete) takes the claim back into review."""
        s = self.s
        _, rules = s.require_ready()
        survey_sent = False
        while True:
            assert s.closed_at is not None
            moments: dict[str, datetime] = {}
            if not survey_sent and s.outcome in (Outcome.PAID, Outcome.DENIED):
                moments["survey"] = due(s.closed_at, rules.sla.survey_days, rules.sla)
            window = self._appeal_window_end()
            if window is not None and window > workflow.now():
                moments["appeal_window"] = window
            if s.outcome == Outcome.CLOSED_INCOMPLETE:
                reopen_until = due(s.closed_at, rules.sla.reopen_window_days, rules.sla)
                if reopen_until > workflow.now():
                    moments["reopen_window"] = reopen_until
            if not moments:
                return
            clock, moment = min(moments.items(), key=lambda kv: kv[1])
            await self._wait_until(lambda: s.appeal is not None or s.reopen_request is not None, moment)
            if s.appeal is not None:
                await self._guarded(self._review_appeal)
            elif s.reopen_request is not None:
                await self._guarded(self._reopen)
            elif clock == "survey":
                survey_sent = True
                await self._notify("survey", {})

    def _appeal_window_end(self) -> datetime | None:
        s = self.s
        _, rules = s.require_ready()
        if s.decision is None or s.decision.decided_at is None or s.appeals > 0:
            return None
        if s.outcome == Outcome.DENIED or (s.outcome == Outcome.PAID and s.decision.kind == "partial"):
            return due(s.decision.decided_at, rules.sla.appeal_window_days, rules.sla)
        return None

    async def _review_appeal(self) -> None:
        """A supervisor who took no part reviews the decision: upholds it (reject) or replaces it (approve)."""
        s = self.s
        claim, rules = s.require_ready()
        appeal, previous = s.appeal, s.decision
        assert appeal is not None and previous is not None
        s.appeal, s.appeals = None, s.appeals + 1
        s.review, s.outcome, s.closed_at, s.rejection, s.agreed_amount = "appeal", None, None, None, None
        s.approvals_from = len(s.approvals)
        await self._note("appeal_received", detail=appeal.reason)
        await self._notify("appeal_received", {"reason": appeal.reason})
        if s.payout is None:
            await self._enter(Stage.ADJUSTING)
            await self._compute_payout()
        await self._await_approval()
        if s.rejection is not None:
            reasons = [*previous.reasons, f"appeal reviewed and not upheld: {s.rejection.reason}"]
            if previous.kind == "denied":
                await self._deny(reasons, [*previous.clauses, s.rejection.clause], previous.basis,
                                 by=s.rejection.approver_id)
            else:
                s.decision = previous.model_copy(update={"reasons": reasons, "decided_at": workflow.now()})
                await self._note("decided", by=s.rejection.approver_id, detail="appeal not upheld")
                await self._notify("decision_partial", {
                    "amount": previous.amount, "claimed": claim.claimed_amount, "basis": previous.basis,
                    "appeal_days": 0})
                await self._close(Outcome.PAID)
            return
        if s.agreed_amount is not None and s.payout is not None:
            agreed = s.agreed_amount
            step = BasisStep(step="agreed on appeal review", amount=agreed, clause=rules.clauses.get("appeal", ""))
            s.payout = s.payout.model_copy(update={"total": agreed, "amount": agreed - s.paid_amount,
                                                   "basis": [*s.payout.basis, step]})
        await self._decide_and_pay()

    async def _reopen(self) -> None:
        s = self.s
        request = s.reopen_request
        assert request is not None
        s.reopen_request, s.outcome, s.closed_at = None, None, None
        await self._note("reopened", by=request.by, detail=request.reason)
        await self._standard_path()

    # ================================================================== plumbing

    async def _enter(self, stage: Stage, changes: dict[str, Any] | None = None) -> None:
        self.s.stage = stage
        self._upsert_search_attributes()
        await self._note(f"stage:{stage.value}", changes={"stage": stage.value, **(changes or {})})

    def _upsert_search_attributes(self) -> None:
        workflow.upsert_search_attributes(self.s.search_attributes())

    async def _note(self, event: str, *, by: str = "system", detail: str = "",
                    changes: dict[str, Any] | None = None) -> None:
        """A timeline entry, written to the claim's event log and read model."""
        at = workflow.now()
        self.s.timeline.append(TimelineEntry(at=at, event=event, by=by, detail=detail))
        await self._activity("record_event", ClaimEvent(claim_id=self.s.claim_id, event=event, at=at, by=by,
                                                        detail=detail, changes=changes or {}))

    async def _notify(self, kind: str, context: dict[str, Any], sequence: int | None = None) -> None:
        """A letter to the claimant, at most once per (claim, kind, sequence). A letter that cannot be
        sent is recorded and the claim goes on: it never holds up a payment or a decision."""
        s = self.s
        claim, _ = s.require_ready()
        seq = sequence if sequence is not None else s.next_notice(kind)
        c = claim.claimant
        recipient = Recipient(name=c.name, channel=c.channel, phone=c.phone, email=c.email)
        try:
            await self._activity("notify", NotificationRequest(claim_id=s.claim_id, kind=kind, sequence=seq,
                                                               recipient=recipient, context=context))
        except ActivityFailure as err:
            await self._note("notification_failed", detail=f"{kind}: {err.cause or err}")
            return
        s.timeline.append(TimelineEntry(at=workflow.now(), event=f"notified:{kind}", detail=c.channel))

    async def _wait_until(self, condition: Callable[[], bool], moment: datetime) -> bool:
        """Wait for the condition until a moment; True if it held in time."""
        remaining = (moment - workflow.now()).total_seconds()
        if remaining <= 0:
            return condition()
        try:
            await workflow.wait_condition(condition, timeout=timedelta(seconds=remaining))
        except TimeoutError:
            return condition()
        return True

    async def _wait_for(self, condition: Callable[[], bool], clock: str, due_at: datetime) -> None:
        """Wait on a clock: a breach is recorded when it passes, and the wait goes on."""
        s = self.s
        s.deadlines[clock] = due_at
        self._upsert_search_attributes()
        if not await self._wait_until(lambda: condition() or s.withdrawal is not None, due_at):
            s.breaches.append(SlaBreach(clock=clock, due_at=due_at, breached_at=workflow.now()))
            self._upsert_search_attributes()
            await self._note("sla_breached", detail=f"{clock} was due {due_at.isoformat()}")
            await workflow.wait_condition(lambda: condition() or s.withdrawal is not None)
        s.deadlines.pop(clock, None)
        self._upsert_search_attributes()
        self._check_withdrawn()

    async def _activity(self, name: str, arg: Any, result_type: type[T] | None = None, *,
                        retry: RetryPolicy = STEADY_RETRY, timeout: timedelta = timedelta(seconds=30)) -> T:
        """Run an activity: a local one on the intake and fast path (no server round trip), a normal one
        otherwise. A business rejection surfaces as the workflow's own typed error."""
        try:
            if self.fast:
                return await workflow.execute_local_activity(  # type: ignore[no-any-return]
                    name, arg, result_type=result_type, start_to_close_timeout=timeout, retry_policy=retry)
            return await workflow.execute_activity(  # type: ignore[no-any-return]
                name, arg, result_type=result_type, start_to_close_timeout=timeout, retry_policy=retry)
        except ActivityFailure as err:
            cause = business_error(err)
            if cause is None or name in ("pay", "notify"):
                raise
            raise refuse(cause.message, ErrorType(cause.type or ErrorType.INVALID_CLAIM)) from err

    async def _local(self, name: str, arg: Any, result_type: type[T]) -> T:
        args = [] if arg is None else [arg]
        return await workflow.execute_local_activity(  # type: ignore[no-any-return]
            name, args=args, result_type=result_type, start_to_close_timeout=timedelta(seconds=10),
            retry_policy=STEADY_RETRY)

    # ================================================================== query

    @workflow.query(name="status")
    def status(self) -> ClaimStatus:
        return self.s.status()

    # ================================================================== updates

    def _ack(self, detail: str) -> UpdateAck:
        return UpdateAck(claim_id=self.s.claim_id, stage=self.s.stage, outcome=self.s.outcome, detail=detail)

    def _require_open(self, action: str) -> None:
        self.s.require_ready()
        if self.s.stage == Stage.CLOSED:
            raise refuse(f"{action}: the claim is closed ({self.s.outcome})")

    @workflow.update(name="submit_documents")
    async def submit_documents(self, payload: Any) -> list[str]:
        s = self.s
        req = parse(SubmitDocuments, payload, "submit_documents")
        fresh = [d for d in req.documents if (d.kind, d.ref) not in {(x.kind, x.ref) for x in s.submitted}]
        s.submitted += fresh
        if fresh:
            await self._activity("record_documents", RecordDocuments(claim_id=s.claim_id, documents=fresh,
                                                                     at=workflow.now()))
        s.missing = triage.still_missing(s.required_documents, (d.kind for d in s.submitted))
        await self._note("documents_submitted", detail=", ".join(d.kind for d in req.documents))
        return list(s.missing)

    @submit_documents.validator
    def _validate_submit_documents(self, payload: Any) -> None:
        req = parse(SubmitDocuments, payload, "submit_documents")
        self._require_open("submit_documents")
        _, rules = self.s.require_ready()
        unknown = sorted({d.kind for d in req.documents} - set(rules.known_document_kinds))
        if unknown:
            raise refuse(f"submit_documents: documents.kind: unknown kinds {unknown}", ErrorType.INVALID_UPDATE)

    @workflow.update(name="record_investigation")
    async def record_investigation(self, payload: Any) -> UpdateAck:
        req = parse(RecordInvestigation, payload, "record_investigation")
        self.s.investigation = req
        await self._note("investigation_recorded", by=req.investigator_id,
                         detail=f"confirmed {req.confirmed_amount}; fraud suspected: {req.fraud_suspected}")
        return self._ack("investigation recorded")

    @record_investigation.validator
    def _validate_record_investigation(self, payload: Any) -> None:
        req = parse(RecordInvestigation, payload, "record_investigation")
        self.s.require_ready()
        if self.s.stage != Stage.INVESTIGATING or self.s.investigation is not None:
            raise refuse(f"record_investigation: no investigation is open (stage {self.s.stage.value})")
        if req.investigator_id == self.s.handler:
            raise refuse(f"{req.investigator_id} handles this claim and may not investigate it",
                         ErrorType.NOT_AUTHORIZED)

    @workflow.update(name="approve")
    async def approve(self, payload: Any) -> UpdateAck:
        req = parse(ApproveInput, payload, "approve")
        if req.amount is not None:
            self.s.agreed_amount = req.amount
        self.s.approvals.append(ApprovalRecord(approver_id=req.approver_id, role=req.role, at=workflow.now(),
                                               comment=req.comment))
        agreed = f" (agrees {req.amount})" if req.amount is not None else ""
        await self._note("approved", by=req.approver_id, detail=f"{req.role.value}: {req.comment}{agreed}")
        still = "" if self.s.approved() else f"; a further {self.s.required_role().value} approval is needed"
        return self._ack(f"approval recorded{still}")

    @approve.validator
    def _validate_approve(self, payload: Any) -> None:
        req = parse(ApproveInput, payload, "approve")
        self._check_decider("approve", req.approver_id, req.role)
        if req.amount is not None and self.s.review != "appeal":
            raise refuse("approve: amount may only be given when reviewing an appeal", ErrorType.INVALID_UPDATE)

    @workflow.update(name="reject")
    async def reject(self, payload: Any) -> UpdateAck:
        req = parse(Reject, payload, "reject")
        self.s.rejection = req
        self.s.rejected_by.append(req.approver_id)
        await self._note("rejected", by=req.approver_id, detail=f"{req.reason} ({req.clause})")
        return self._ack("rejection recorded: the claim is denied")

    @reject.validator
    def _validate_reject(self, payload: Any) -> None:
        req = parse(Reject, payload, "reject")
        self._check_decider("reject", req.approver_id, req.role)

    def _check_decider(self, action: str, approver_id: str, role: Role) -> None:
        s = self.s
        _, rules = s.require_ready()
        if s.stage != Stage.AWAITING_APPROVAL or s.rejection is not None or s.approved():
            raise refuse(f"{action}: the claim is not awaiting approval (stage {s.stage.value})")
        amount = s.payout.total if s.payout else Decimal("0")
        problem = authority.refusal(approver_id=approver_id, role=role, amount=amount,
                                    required=s.required_role(), limits=rules.authority_limits,
                                    approvals=s.approvals, conflicted=s.conflicted())
        if problem:
            raise refuse(f"{action}: {problem}", ErrorType.NOT_AUTHORIZED)

    @workflow.update(name="escalate")
    async def escalate(self, payload: Any) -> UpdateAck:
        req = parse(Escalate, payload, "escalate")
        self.s.escalations += 1
        await self._note("escalated", by=req.by, detail=req.reason)
        target = self.s.required_role().value if self.s.payout else "the next tier"
        return self._ack(f"escalated; decision now needs {target}")

    @escalate.validator
    def _validate_escalate(self, payload: Any) -> None:
        parse(Escalate, payload, "escalate")
        self._require_open("escalate")

    @workflow.update(name="assign")
    async def assign(self, payload: Any) -> UpdateAck:
        req = parse(Assign, payload, "assign")
        self.s.handler = req.handler_id
        self._upsert_search_attributes()
        await self._note("assigned", by=req.by, detail=f"handler {req.handler_id}",
                         changes={"handler": req.handler_id})
        return self._ack(f"assigned to {req.handler_id}")

    @assign.validator
    def _validate_assign(self, payload: Any) -> None:
        req = parse(Assign, payload, "assign")
        self._require_open("assign")
        if any(a.approver_id == req.handler_id for a in self.s.current_approvals):
            raise refuse(f"assign: {req.handler_id} has approved this claim (four-eyes rule)",
                         ErrorType.NOT_AUTHORIZED)

    @workflow.update(name="withdraw")
    async def withdraw(self, payload: Any) -> UpdateAck:
        req = parse(Withdraw, payload, "withdraw")
        self.s.withdrawal = req
        await self._note("withdrawal_requested", by=req.by, detail=req.reason)
        return self._ack("withdrawal accepted: the claim closes as withdrawn")

    @withdraw.validator
    def _validate_withdraw(self, payload: Any) -> None:
        parse(Withdraw, payload, "withdraw")
        self.s.require_ready()
        if self.s.stage not in OPEN_STAGES_FOR_WITHDRAWAL or self.s.withdrawal is not None:
            raise refuse(f"withdraw: not possible at stage {self.s.stage.value}"
                         + (f" ({self.s.outcome.value})" if self.s.outcome else ""))

    @workflow.update(name="appeal")
    async def appeal(self, payload: Any) -> UpdateAck:
        req = parse(Appeal, payload, "appeal")
        self.s.appeal = req
        return self._ack("appeal received: a supervisor will review the decision")

    @appeal.validator
    def _validate_appeal(self, payload: Any) -> None:
        parse(Appeal, payload, "appeal")
        self.s.require_ready()
        window = self._appeal_window_end()
        if self.s.stage != Stage.CLOSED or window is None or self.s.appeal is not None:
            raise refuse("appeal: only a denial or a partial approval can be appealed, once")
        if workflow.now() > window:
            raise refuse(f"appeal: the appeal window closed on {window.isoformat()}")

    @workflow.update(name="update_bank_account")
    async def update_bank_account(self, payload: Any) -> UpdateAck:
        req = parse(UpdateBankAccount, payload, "update_bank_account")
        self.s.bank_account = BankAccount(holder=req.holder, number=req.number)
        self.s.account_updated = True
        await self._note("bank_account_updated", detail=f"account {self.s.bank_account.masked}")
        return self._ack("bank account updated")

    @update_bank_account.validator
    def _validate_update_bank_account(self, payload: Any) -> None:
        parse(UpdateBankAccount, payload, "update_bank_account")
        self._require_open("update_bank_account")

    @workflow.update(name="reopen")
    async def reopen(self, payload: Any) -> UpdateAck:
        req = parse(Reopen, payload, "reopen")
        self.s.reopen_request = req
        return self._ack("reopened: awaiting the materials again")

    @reopen.validator
    def _validate_reopen(self, payload: Any) -> None:
        req = parse(Reopen, payload, "reopen")
        s = self.s
        _, rules = s.require_ready()
        if s.outcome != Outcome.CLOSED_INCOMPLETE or s.reopen_request is not None or s.closed_at is None:
            raise refuse("reopen: only a claim closed as incomplete can be reopened")
        if authority.RANK[req.role] < authority.RANK[Role.SUPERVISOR]:
            raise refuse("reopen: a supervisor or manager must reopen a claim", ErrorType.NOT_AUTHORIZED)
        if workflow.now() > due(s.closed_at, rules.sla.reopen_window_days, rules.sla):
            raise refuse("reopen: the reopening window has passed")

