"""ClaimWorkflow: one claim from first notice of loss to payment, decision letter and survey.

The lifecycle reads top to bottom in `run`; supervisors act through updates (validated before they
enter history); `status` is a query. Rules are pure functions (workflows/rules); every side effect is an
activity, called by name so this module never imports database or template code.
"""

from __future__ import annotations

import asyncio
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
        ApproveAdvance,
        Assign,
        BankAccount,
        BasisStep,
        ClaimInput,
        ClaimResult,
        ClaimStatus,
        Decision,
        ErrorType,
        Escalate,
        Outcome,
        Path,
        PaymentRecord,
        Payout,
        RecordInvestigation,
        Reject,
        Reopen,
        RiskAssessment,
        Role,
        SlaBreach,
        SlaWarning,
        Stage,
        SubmitDocuments,
        TimelineEntry,
        UpdateAck,
        UpdateBankAccount,
        Withdraw,
        workflow_id_for,
    )
    from models.contract import Approve as ApproveInput
    from models.messages import (
        AssessRisk,
        AssignHandler,
        ClaimEvent,
        ComputePayout,
        CoverageResult,
        NotificationRequest,
        PaymentReceipt,
        PaymentRequest,
        Recipient,
        RecordDocuments,
        RegisterClaim,
        Rules,
    )
    from workflows.claim_state import ClaimState, Clock, parse, refuse
    from workflows.rules import authority, triage
    from workflows.rules.calendar import due
    from workflows.rules.payout import cents

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
        self._start_clock("determination", rules.sla.determination_days)
        asyncio.create_task(self._advance_payer(), name="advance payer")
        if s.path == Path.FAST:
            await self._fast_path()
            return
        self.fast = False
        if s.path == Path.GREEN:
            await self._assign_dedicated_handler()
        await self._standard_path()

    async def _assign_dedicated_handler(self) -> None:
        """Green channel: a dedicated handler from the first hour, who is told at once."""
        s = self.s
        claim, _ = s.require_ready()
        s.handler = await self._activity("assign_handler", AssignHandler(claim_id=claim.claim_id,
                                                                         claim_type=claim.claim_type), str)
        self._upsert_search_attributes()
        await self._note("assigned", detail=f"green channel: dedicated handler {s.handler}",
                         changes={"handler": s.handler})
        await self._notify_staff("handler_assigned", Role.ADJUSTER, {"handler": s.handler,
                                                                     "description": claim.incident.description})

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
            self._materials_complete()
            return True
        start = workflow.now()
        first_request = s.requested_at is None
        s.requested_at = s.requested_at or start
        deadline = self._start_clock("documents", rules.sla.documents_days, staff=False, watched=False).due_at
        self._pause_clock("determination")  # the law's clock does not run while the claimant gathers materials
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
        self._stop_clock("documents")
        if s.missing:
            await self._note("documents_overdue", detail="still missing: " + ", ".join(s.missing))
            await self._notify("closed_incomplete", {"missing": list(s.missing), "requested_at": s.requested_at})
            await self._close(Outcome.CLOSED_INCOMPLETE)
            return False
        await self._note("documents_complete")
        self._materials_complete()
        return True

    def _materials_complete(self) -> None:
        s = self.s
        _, rules = s.require_ready()
        if "determination" not in s.clocks:
            self._start_clock("determination", rules.sla.determination_days)
        self._resume_clock("determination")
        if not s.statutory_advance_done and "advance_payment" not in s.clocks:
            self._start_clock("advance_payment", rules.sla.advance_payment_days, staff=False, watched=False)
            asyncio.create_task(self._statutory_advance(), name="statutory advance")

    def _reminder_context(self, deadline: datetime) -> dict[str, Any]:
        _, rules = self.s.require_ready()
        days_left = max(0, int((deadline - workflow.now()).total_seconds() // rules.sla.day_seconds))
        return {"missing": list(self.s.missing), "due_at": deadline, "requested_at": self.s.requested_at,
                "days_left": days_left}

    async def _investigate(self, reason: str) -> None:
        s = self.s
        _, rules = s.require_ready()
        clock = self._start_clock("investigation", rules.sla.investigation_days)
        await self._enter(Stage.INVESTIGATING)
        await self._note("investigation_opened", detail=reason)
        await self._notify("investigation_opened", {"reason": reason, "due_at": clock.due_at})
        await self._await_clock(lambda: s.investigation is not None, "investigation")

    async def _await_approval(self) -> None:
        s = self.s
        _, rules = s.require_ready()
        self._start_clock("approval", rules.sla.approval_business_days, owner=s.required_role(), business=True)
        await self._enter(Stage.AWAITING_APPROVAL, changes={"payout_amount": str(s.payout.total) if s.payout else None})
        await self._await_clock(lambda: s.approved() or s.rejection is not None, "approval")

    def _system_may_approve(self, payout: Payout) -> bool:
        s = self.s
        claim, rules = s.require_ready()
        return (s.risk is not None and s.risk.level == "low" and not s.investigation_reason
                and s.escalations == 0 and s.path != Path.GREEN and s.review is None
                and payout.total <= rules.fast_path_limits[claim.claim_type.value])

    def _payout_request(self) -> ComputePayout:
        """The payout on the facts known now: the investigator's figure if there is one, advances paid."""
        s = self.s
        claim, rules = s.require_ready()
        confirmed = s.investigation.confirmed_amount if s.investigation else None
        return ComputePayout(
            claim_id=claim.claim_id, policy_number=claim.policy_number, claimed_amount=claim.claimed_amount,
            line_items=claim.line_items, confirmed_amount=confirmed, advances_paid=s.advances_paid,
            clauses=rules.clauses)

    async def _compute_payout(self) -> Payout:
        s = self.s
        s.payout = await self._activity("compute_payout", self._payout_request(), Payout)
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
        self._stop_clock("determination", "appeal_resolution", "advance_payment")
        await self._note("decided", by=decided_by, detail=f"{kind}: {s.payout.total}")
        await self._notify(f"decision_{kind}", {
            "amount": s.payout.total, "claimed": claim.claimed_amount, "basis": s.payout.basis,
            "appeal_days": rules.sla.appeal_window_days})
        await workflow.wait_condition(lambda: not s.advance_in_flight and not s.advance_requests)
        self._start_clock("payment", rules.sla.payment_days)
        await self._pay(s.payout.total - s.paid_amount, "final")
        self._stop_clock("payment")
        await self._close(Outcome.PAID)

    async def _pay(self, amount: Decimal, kind: Literal["final", "advance"]) -> None:
        """Pay once under a key made of the claim and the payout sequence. An account the bank rejects:
        the claimant is asked once for new details, and the payment goes out when they arrive."""
        s = self.s
        claim, rules = s.require_ready()
        if amount <= 0:
            return
        if kind == "final":
            await self._enter(Stage.PAYING)
        s.payout_sequence += 1
        sequence = s.payout_sequence
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
            clock = self._start_clock("bank_details", rules.sla.bank_details_days, staff=False)
            if not s.bank_details_requested:
                s.bank_details_requested = True
                await self._notify("payment_failed", {"amount": amount, "reason": problem, "due_at": clock.due_at})
            await workflow.wait_condition(lambda: s.account_updated)
            self._stop_clock("bank_details")
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
        self._stop_clock("determination", "appeal_resolution", "advance_payment")
        self._start_clock("denial_notice", rules.sla.denial_notice_days)
        await self._note("decided", by=by, detail="denied: " + "; ".join(reasons))
        await self._notify("decision_denied", {"reasons": reasons, "clauses": clauses, "basis": basis or [],
                                               "appeal_days": rules.sla.appeal_window_days})
        self._stop_clock("denial_notice")
        await self._close(Outcome.DENIED)

    async def _close(self, outcome: Outcome) -> None:
        s = self.s
        s.outcome, s.closed_at, s.review = outcome, workflow.now(), None
        s.clocks.clear()
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
        self._start_clock("appeal_ack", rules.sla.appeal_ack_days, owner=Role.SUPERVISOR)
        self._start_clock("appeal_resolution", rules.sla.appeal_resolution_days, owner=Role.SUPERVISOR)
        await self._note("appeal_received", detail=appeal.reason)
        await self._notify("appeal_received", {"reason": appeal.reason})
        self._stop_clock("appeal_ack")
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

    async def _notify(self, kind: str, context: dict[str, Any], sequence: int | None = None,
                      recipient: Recipient | None = None) -> None:
        """A letter to the claimant, at most once per (claim, kind, sequence). A letter that cannot be
        sent is recorded and the claim goes on: it never holds up a payment or a decision."""
        s = self.s
        claim, _ = s.require_ready()
        seq = sequence if sequence is not None else s.next_notice(kind)
        c = claim.claimant
        recipient = recipient or Recipient(name=c.name, channel=c.channel, phone=c.phone, email=c.email)
        try:
            await self._activity("notify", NotificationRequest(claim_id=s.claim_id, kind=kind, sequence=seq,
                                                               recipient=recipient, context=context))
        except ActivityFailure as err:
            await self._note("notification_failed", detail=f"{kind}: {err.cause or err}")
            return
        s.timeline.append(TimelineEntry(at=workflow.now(), event=f"notified:{kind}", detail=recipient.name))

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

    # ------------------------------------------------------------------ SLA clocks

    def _start_clock(self, name: str, days: float, *, owner: Role = Role.ADJUSTER, business: bool = False,
                     staff: bool = True, watched: bool = True) -> Clock:
        """Start a deadline. Staff clocks warn their owner at 80 % and escalate on breach; green-channel
        claims run them at half length. Claimant clocks only record a breach."""
        s = self.s
        _, rules = s.require_ready()
        if staff and s.path == Path.GREEN:
            days = float(Decimal(str(days)) * rules.sla.green_factor)
        start = workflow.now()
        due_at = due(start, days, rules.sla, business=business)
        clock = Clock(name=name, started_at=start, due_at=due_at, span=due_at - start, owner=owner,
                      watched=watched, staff=staff)
        s.clocks[name] = clock
        self._upsert_search_attributes()
        if watched:
            asyncio.create_task(self._watch(name), name=f"clock:{name}")
        return clock

    def _stop_clock(self, *names: str) -> None:
        if any(self.s.clocks.pop(name, None) is not None for name in names):
            self._upsert_search_attributes()

    def _pause_clock(self, name: str) -> None:
        if name in self.s.clocks:
            self.s.clocks[name].pause(workflow.now())
            self._upsert_search_attributes()

    def _resume_clock(self, name: str) -> None:
        if name in self.s.clocks:
            self.s.clocks[name].resume(workflow.now())
            self._upsert_search_attributes()

    async def _await_clock(self, condition: Callable[[], bool], name: str) -> None:
        """Wait for the condition that stops a clock (the clock's watcher acts on it meanwhile)."""
        s = self.s
        await workflow.wait_condition(lambda: condition() or s.withdrawal is not None)
        self._stop_clock(name)
        self._check_withdrawn()

    async def _watch(self, name: str) -> None:
        """A clock's watcher: warning at 80 %, breach at 100 %, and again a full length later for the next
        tier, until the clock is stopped."""
        s = self.s
        while (clock := s.clocks.get(name)) is not None:
            if clock.paused_at is not None:
                await workflow.wait_condition(lambda: s.clocks.get(name) is not clock or clock.paused_at is None)
                continue
            version, warning = clock.version, not clock.warned and clock.staff
            moment = clock.warn_at if warning else clock.due_at
            if await self._wait_until(self._clock_moved(name, clock, version), moment):
                continue
            if warning:
                await self._sla_warning(clock)
            else:
                await self._sla_breach(clock)

    def _clock_moved(self, name: str, clock: Clock, version: int) -> Callable[[], bool]:
        """True once the clock is stopped, replaced, paused, resumed or extended."""
        return lambda: self.s.clocks.get(name) is not clock or clock.version != version

    async def _sla_warning(self, clock: Clock) -> None:
        s = self.s
        clock.warned = True
        owner = s.escalated_to or clock.owner
        s.warnings.append(SlaWarning(clock=clock.name, due_at=clock.due_at, warned_at=workflow.now(), owner=owner))
        await self._note("sla_warning", detail=f"{clock.name} due {clock.due_at.isoformat()}; owner {owner.value}")
        await self._notify_staff("sla_warning", owner, {"clock": clock.name, "due_at": clock.due_at,
                                                         "handler": s.handler or "unassigned"})

    async def _sla_breach(self, clock: Clock) -> None:
        """Record the breach; a staff clock escalates the claim one tier and tells that tier."""
        s = self.s
        due_at = clock.due_at
        tier = None
        if clock.staff:
            current = s.required_role() if clock.name == "approval" else (s.escalated_to or clock.owner)
            tier = authority.raise_tier(current)
            s.escalated_to = tier
        s.breaches.append(SlaBreach(clock=clock.name, due_at=due_at, breached_at=workflow.now(), escalated_to=tier))
        clock.extend()
        self._upsert_search_attributes()
        await self._note("sla_breached", detail=f"{clock.name} was due {due_at.isoformat()}"
                                                + (f"; escalated to {tier.value}" if tier else ""))
        if tier is not None:
            await self._notify_staff("sla_breach", tier, {"clock": clock.name, "due_at": due_at,
                                                          "handler": s.handler or "unassigned"})

    async def _notify_staff(self, kind: str, role: Role, context: dict[str, Any]) -> None:
        _, rules = self.s.require_ready()
        address = rules.staff_mailboxes.get(role.value)
        recipient = Recipient(name=f"Claims {role.value}s", channel="email", email=address)
        await self._notify(kind, {**context, "role": role.value}, recipient=recipient)

    # ------------------------------------------------------------------ advance payments

    async def _advance_payer(self) -> None:
        """Pays approved and statutory advances one at a time, until the claim is decided."""
        s = self.s
        while True:
            await workflow.wait_condition(lambda: bool(s.advance_requests) or s.decision is not None
                                          or s.outcome is not None)
            if not s.advance_requests:
                return
            amount, approved_by = s.advance_requests.pop(0)
            s.advance_in_flight = True
            try:
                await self._note("advance_payment", by=approved_by, detail=f"advance of {amount}")
                await self._pay(amount, "advance")
            finally:
                s.advance_in_flight = False

    async def _statutory_advance(self) -> None:
        """Insurance Law art. 25: no determination within 60 days of complete materials, so the amount
        already determinable is paid on the workflow's own initiative."""
        s = self.s
        _, rules = s.require_ready()
        clock = s.clocks.get("advance_payment")
        if clock is None:
            return
        if await self._wait_until(lambda: s.decision is not None or s.outcome is not None, clock.due_at):
            return
        self._stop_clock("advance_payment")
        estimate = await self._activity("compute_payout", self._payout_request(), Payout)
        share = Decimal("1") if (s.investigation or not s.investigation_reason) else rules.sla.advance_share_in_dispute
        amount = cents(estimate.amount * share)
        s.statutory_advance_done = True
        await self._note("statutory_advance_due", detail=f"determinable amount {amount} (share {share} of "
                                                         f"{estimate.amount})")
        if amount > 0 and s.decision is None:
            s.advance_requests.append((amount, "statutory"))

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

    @workflow.update(name="approve_advance")
    async def approve_advance(self, payload: Any) -> UpdateAck:
        req = parse(ApproveAdvance, payload, "approve_advance")
        self.s.advance_requests.append((req.amount, req.approver_id))
        await self._note("advance_approved", by=req.approver_id, detail=f"{req.amount} {req.comment}".strip())
        return self._ack(f"advance of {req.amount} approved; it is paid now")

    @approve_advance.validator
    def _validate_approve_advance(self, payload: Any) -> None:
        req = parse(ApproveAdvance, payload, "approve_advance")
        s = self.s
        claim, _ = s.require_ready()
        if s.path != Path.GREEN or s.decision is not None or s.stage in (Stage.PAYING, Stage.CLOSED):
            raise refuse("approve_advance: advances are for green-channel claims not yet decided")
        if authority.RANK[req.role] < authority.RANK[Role.SUPERVISOR]:
            raise refuse("approve_advance: a supervisor or manager approves advances", ErrorType.NOT_AUTHORIZED)
        if req.approver_id in s.conflicted():
            raise refuse(f"approve_advance: {req.approver_id} is the {s.conflicted()[req.approver_id]} of this "
                         "claim (four-eyes rule)", ErrorType.NOT_AUTHORIZED)
        pending = sum((a for a, _ in s.advance_requests), Decimal("0"))
        if s.paid_amount + pending + req.amount > claim.claimed_amount:
            raise refuse(f"approve_advance: advances would exceed the amount claimed ({claim.claimed_amount})",
                         ErrorType.INVALID_UPDATE)

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

