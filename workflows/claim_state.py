"""The claim workflow's state, and what it shows: the `status` query, the result, the search attributes.

Kept apart from the lifecycle (claim.py) so the orchestration reads as a story and this as a record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, TypeAdapter, ValidationError

    from core.claim.state import ReserveProposal
    from core.rules import authority, money, triage
    from core.rules import recovery as recoveries
    from core.rules.calendar import due
    from core.rules.payout import estimate
    from models import search_attributes as sa
    from models.contract import (
        Appeal,
        ApprovalRecord,
        BankAccount,
        ClaimInput,
        ClaimResult,
        ClaimStatus,
        Decision,
        DocumentRef,
        ErrorType,
        Outcome,
        Path,
        PaymentRecord,
        Payout,
        PolicyTerms,
        RecordCallback,
        RecordInvestigation,
        Recovery,
        Reject,
        Reopen,
        RiskAssessment,
        Role,
        Sender,
        SlaBreach,
        SlaWarning,
        Stage,
        SurveyResponse,
        TimelineEntry,
        Withdraw,
    )
    from models.documents import DocumentReading
    from models.messages import REFUSED_PAYLOAD, Rules

M = TypeVar("M", bound=BaseModel)


@dataclass
class Clock:
    """One SLA clock: who owns it, when it falls due, whether it is paused.

    `version` changes whenever the due time moves (pause, resume, breach), so a watcher waiting on the old
    time wakes and waits again on the new one."""

    name: str
    started_at: datetime
    due_at: datetime
    span: timedelta
    owner: Role
    watched: bool = True
    staff: bool = True
    paused_at: datetime | None = None
    warned: bool = False
    version: int = 0
    warn_share: float = 0.8
    """Share of the clock's time after which its owner is warned (the SLA table's `warn_at`)."""

    @property
    def warn_at(self) -> datetime:
        return self.due_at - self.span * (1 - self.warn_share) if not self.warned else self.due_at

    def pause(self, at: datetime) -> None:
        if self.paused_at is None:
            self.paused_at, self.version = at, self.version + 1

    def resume(self, at: datetime) -> None:
        if self.paused_at is not None:
            self.due_at += at - self.paused_at
            self.paused_at, self.version = None, self.version + 1

    def extend(self) -> None:
        """After a breach the next tier gets the clock's full length again."""
        self.due_at += self.span
        self.version += 1

    def lengthen(self, span: timedelta) -> None:
        """The clock runs this long from its start instead (a complaint marked complex gets the longer ceiling)."""
        self.due_at += span - self.span
        self.span, self.version = span, self.version + 1


def parse(model: type[M], payload: Any, what: str, error_type: ErrorType = ErrorType.INVALID_UPDATE) -> M:
    """Validate a JSON payload, or refuse it with a typed, non-retryable error naming each bad field."""
    if isinstance(payload, model):
        return payload
    if isinstance(payload, dict) and isinstance(payload.get(REFUSED_PAYLOAD), str):  # the codec refused it
        raise ApplicationError(f"{what}: {payload[REFUSED_PAYLOAD]}", type=error_type, non_retryable=True)
    try:
        return model.model_validate(payload)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in err.errors()
        )
        raise ApplicationError(f"{what}: {problems}", type=error_type, non_retryable=True) from None


def refuse(message: str, error_type: ErrorType = ErrorType.NOT_ALLOWED) -> ApplicationError:
    return ApplicationError(message, type=error_type, non_retryable=True)


@dataclass
class ClaimState:
    """Everything the workflow knows about one claim: all of it is carried across continue-as-new
    (`snapshot`, `restored`), so nothing the workflow decides lives anywhere else."""

    claim_id: str
    claim: ClaimInput | None = None
    rules: Rules | None = None
    policy: PolicyTerms | None = None
    stage: Stage = Stage.REGISTERED
    outcome: Outcome | None = None
    path: Path | None = None
    risk: RiskAssessment | None = None
    required_documents: list[str] = field(default_factory=list)
    submitted: list[DocumentRef] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    requested_at: datetime | None = None
    clocks: dict[str, Clock] = field(default_factory=dict)
    breaches: list[SlaBreach] = field(default_factory=list)
    warnings: list[SlaWarning] = field(default_factory=list)
    escalated_to: Role | None = None
    advance_requests: list[tuple[Decimal, str, Role]] = field(default_factory=list)
    """Advances waiting to be paid, with who approved them and as what ("statutory", system, for the
    law's own)."""
    advance_in_flight: bool = False
    statutory_advance_done: bool = False
    advance_held: bool = False
    """The statutory advance fell due while fraud is suspected: a person decides instead."""
    awaiting_bank_details: bool = False
    transfer_in_flight: bool = False
    """A pay activity is running: from here until it returns, a withdrawal is refused."""
    sum_insured_available: Decimal | None = None
    """The policy's sum insured still available for this claim, as of the last payout computation."""
    payout: Payout | None = None
    approvals: list[ApprovalRecord] = field(default_factory=list)
    approvals_from: int = 0
    """Approvals before this index belong to an earlier decision (an appeal starts a new round)."""
    rejection: Reject | None = None
    rejected_by: list[str] = field(default_factory=list)
    escalations: int = 0
    payments: list[PaymentRecord] = field(default_factory=list)
    handler: str | None = None
    advance_approvers: list[str] = field(default_factory=list)
    """Everyone who approved an advance on the claim: they took part in a money decision."""
    past_handlers: list[str] = field(default_factory=list)
    """Everyone who has handled the claim, the current handler included."""
    timeline: list[TimelineEntry] = field(default_factory=list)
    investigation_reason: str | None = None
    investigation: RecordInvestigation | None = None
    decision: Decision | None = None
    bank_account: BankAccount | None = None
    account_updated: bool = False
    codes_sent: dict[str, int] = field(default_factory=dict)
    """One-time codes sent to the claimant, by purpose: the number of the latest."""
    code_sent_at: dict[str, list[datetime]] = field(default_factory=dict)
    code_account_last4: str | None = None
    """The account the latest bank-account code was sent for, by its last four digits (None: not named)."""
    """When the codes of each purpose were sent, the last day's (a rolling limit on how many a day)."""
    code_expires_at: dict[str, datetime] = field(default_factory=dict)
    account_code_failures: int = 0
    """Wrong codes given to change the bank account since the last release of a lock."""
    account_change_locked: bool = False
    account_change_checking: bool = False
    """A new account's code is being checked: a payment waits for the outcome before it starts."""
    withdrawal: Withdraw | None = None
    appeal: Appeal | None = None
    appeal_sender: Sender | None = None
    appeals: int = 0
    reopen_request: Reopen | None = None
    reopen_sender: Sender | None = None
    review: str | None = None
    one_ref_one_kind: bool = False
    """One document reference counts for one kind (claims started since the rule; set at the start)."""
    recoveries_on: bool = False
    """Money out beyond what the decision allows opens a recovery (claims started since recoveries exist)."""
    local_one_at_a_time: bool = False
    """Only the lifecycle runs local activities, one at a time, each retried through a timer, and the claim's letters
    go out in the order written (claims started since; see `Shell.activity`, `Shell.send`, `Reader.read_new`)."""
    changes_at_start: bool = False
    """Every change made to the workflow before this claim started applies to it, asked once at its start (claims
    started since; see `Shell.changed`)."""
    invoice_number_expected: bool = False
    """An invoice whose number machine reading did not find asks a person (claims started since)."""
    recoveries: list[Recovery] = field(default_factory=list)
    """Money owed back on the claim, open and closed (core/rules/recovery.py)."""
    lean: bool = False
    """The claim is taken in in one local activity, and its lifecycle's timeline entries on the intake and fast path
    are written in batches: before money moves, before any wait, and when the lifecycle ends (claims started since
    `lean-fast-path`; see `Shell.note`)."""
    letters_with_lifecycle: bool = False
    """The letters the lifecycle writes on its intake and fast path go out together, in one activity, at its next
    flush (claims started since `letters-with-the-lifecycle`; see `Shell.send_queued`)."""
    three_steps: bool = False
    """On the fast path the timeline entries go with the effect that follows them: those noted before the money moves
    with the payment, those noted when the lifecycle ends with its letters. A claim paid at once runs three local
    activities (claims started since `three-local-steps`; see `Shell.pay`, `Shell.flush`)."""
    moments_by_timer: bool = False
    """Every wait for a moment sets its timer, even for a moment just past, and after closing each window is waited
    for until its timer fires, never compared with the clock: a run and its replay issue the same commands though a
    local activity's result may reach them at different times (claims started since `every-moment-a-timer`; see
    `Shell.wait_until`, `ClaimWorkflow._after_close`)."""
    windows_waited: list[str] = field(default_factory=list)
    """The windows after closing whose timers fired, and the reminders for documents sent, as `name@end` (claims
    started since `every-moment-a-timer`): a run continued as new waits for the others, even one just past."""
    catastrophes_on: bool = False
    """The claim joins a declared catastrophe its incident falls in (claims started since; docs/catastrophes.md)."""
    catastrophe: str | None = None
    """The code of the catastrophe the claim joined."""
    catastrophe_looking: bool = False
    """The claim is looking whether a catastrophe just declared covers it."""
    financials: bool = False
    """The claim holds a case reserve and books every movement of its money in the financial ledger (claims started
    since; workflows/financials.py)."""
    reserve: Decimal = Decimal("0.00")
    estimate: Decimal = Decimal("0.00")
    reserve_basis: str = ""
    reserve_proposal: ReserveProposal | None = None
    reserve_cause: str = ""
    reserve_by: str = "system"
    """Why the reserve stands where it does, and on whose decision: the ledger's next reserve movement says so."""
    ledgered_reserve: Decimal = Decimal("0.00")
    ledgered_recoveries: dict[int, list[Decimal]] = field(default_factory=dict)
    """What the ledger holds of each recovery, by number: its reserve, received and written off."""
    decision_taken: bool = False
    """The decision of this round is taken (to pay or to deny): nobody approves, rejects or escalates any more
    until an appeal or a reopening starts a new round."""
    agreed_amount: Decimal | None = None
    registered_at: datetime | None = None
    closed_at: datetime | None = None
    payout_sequence: int = 0
    notice_sequence: dict[str, int] = field(default_factory=dict)
    event_count: int = 0
    """Events written to the claim's event log: each event's key, so a retried write adds nothing."""
    letters_failed: list[str] = field(default_factory=list)
    survey_sent: bool = False
    survey_sent_at: datetime | None = None
    survey: SurveyResponse | None = None
    """The claimant's answer to the survey (without its credential)."""
    callback: RecordCallback | None = None
    """The call-back after a low score (without its credential)."""
    continued: int = 0
    """How many times the claim's run has continued as new."""
    resume_at: str | None = None
    """The wait the previous run continued as new at, where this run resumes."""
    continued_at: datetime | None = None
    """When the previous run continued as new: moments after it are still to come in this run."""
    reads_documents: bool = False
    """The claim's uploaded documents are read by machine (claims started since reading exists)."""
    readings: dict[str, DocumentReading] = field(default_factory=dict)
    """What reading found, by document ref."""
    reused_invoices: dict[str, list[str]] = field(default_factory=dict)
    """By document ref: the other claims whose invoices carry the same invoice number."""
    document_review: list[str] = field(default_factory=list)
    """What a person must read: while this holds anything, the system approves nothing by itself."""
    proofs: dict[str, datetime] = field(default_factory=dict)
    """The action proofs accepted on this claim, by id, until they expire: none is accepted twice."""

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON, carried into the next run when the claim continues as new."""
        return _STATE.dump_python(self, mode="json")  # type: ignore[no-any-return]

    @staticmethod
    def restored(carried: Any) -> ClaimState:
        return _STATE.validate_python(carried)

    # ------------------------------------------------------------------ derived facts

    def still_missing(self) -> list[str]:
        """The required kinds no document stands for yet."""
        return triage.still_missing(self.required_documents,
                                    triage.kinds_counted(self.submitted, self.one_ref_one_kind))

    @property
    def ready(self) -> bool:
        return self.claim is not None and self.rules is not None

    def require_ready(self) -> tuple[ClaimInput, Rules]:
        if self.claim is None or self.rules is None:
            raise refuse("the claim is still being registered; try again in a moment")
        return self.claim, self.rules

    @property
    def deadlines(self) -> dict[str, datetime]:
        """Open, running deadlines by clock."""
        return {name: c.due_at for name, c in self.clocks.items() if c.paused_at is None}

    @property
    def paid_amount(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal("0.00"))

    @property
    def advances_paid(self) -> Decimal:
        return sum((p.amount for p in self.payments if p.kind == "advance"), Decimal("0.00"))

    @property
    def current_approvals(self) -> list[ApprovalRecord]:
        return self.approvals[self.approvals_from:]

    @property
    def decision_amount(self) -> Decimal:
        """The amount the pending decision pays in all: the one agreed on appeal, else the payout."""
        if self.agreed_amount is not None:
            return self.agreed_amount
        return self.payout.total if self.payout else Decimal("0")

    def required_role(self) -> Role:
        """Who must decide now: the amount's tier, at least a supervisor on appeal or suspected fraud,
        raised once per escalation."""
        _, rules = self.require_ready()
        amount = self.decision_amount
        floor = Role.ADJUSTER
        if self.review == "appeal" or (self.investigation and self.investigation.fraud_suspected):
            floor = Role.SUPERVISOR
        if self.escalated_to is not None:
            floor = max(floor, self.escalated_to, key=authority.RANK.__getitem__)
        return authority.required_role(amount, rules.authority_limits, self.escalations, floor)

    def approvals_needed(self) -> int:
        _, rules = self.require_ready()
        return authority.approvals_needed(self.decision_amount, self.required_role(), rules.dual_manager_threshold)

    def paying_decided(self) -> bool:
        """A decision to pay is taken and the claim is not closed: the money is on its way."""
        return self.decision is not None and self.decision.kind != "denied" and self.outcome is None

    def approved(self) -> bool:
        """This round is approved: by the system (whose approval is recorded only where the guard let it approve), or
        by enough distinct people of the tier, as the decision core counts it."""
        if any(a.role == Role.SYSTEM for a in self.current_approvals):
            return True
        return authority.is_approved(self.current_approvals, self.required_role(), self.approvals_needed())

    def conflicted(self) -> dict[str, str]:
        """People who may not decide this claim now, keyed case-insensitively, with their part in it:
        every handler it has had, its investigator, and whoever decided it in an earlier round."""
        people: dict[str, str] = {}
        for person in [*self.rejected_by, *(a.approver_id for a in self.approvals[:self.approvals_from])]:
            people[money.person_key(person)] = "person who decided it before"
        for person in self.advance_approvers:
            people[money.person_key(person)] = money.ADVANCE_APPROVER
        if self.investigation:
            people[money.person_key(self.investigation.investigator_id)] = "investigator"
        for person in self.past_handlers:
            people[money.person_key(person)] = "handler" if person == self.handler else "former handler"
        return people

    def set_handler(self, handler: str) -> None:
        self.handler = handler
        if money.person_key(handler) not in {money.person_key(h) for h in self.past_handlers}:
            self.past_handlers.append(handler)

    def claim_money(self) -> money.ClaimMoney:
        """What the money guard needs to know about this claim now."""
        claim, _ = self.require_ready()
        policy = self.policy
        assert policy is not None, "money decisions come after the coverage check"
        available = self.sum_insured_available if self.sum_insured_available is not None else policy.sum_insured
        terms = money.Terms(claimed_amount=claim.claimed_amount, deductible=policy.deductible,
                            payout_ratio=policy.payout_ratio, sum_insured_available=available,
                            assessed=self.assessed_payout())
        pending = sum((a for a, _, _ in self.advance_requests), Decimal("0.00"))
        return money.ClaimMoney(
            terms=terms, paid=self.paid_amount, pending_advances=pending,
            required_role=self.required_role(), conflicted=self.conflicted(),
            approved_by=[a.approver_id for a in self.current_approvals],
            fraud_suspected=bool(self.investigation and self.investigation.fraud_suspected))

    def assessed_payout(self) -> Decimal | None:
        """The payout as far as it can be told now: the computed payout's total when there is one, else the
        investigator's figure or the line items less the deductible, times the ratio; None when nothing is
        assessed yet (the amount claimed is then the only bound)."""
        claim, _ = self.require_ready()
        if self.payout is not None:
            return self.payout.total
        assert self.policy is not None
        return estimate(claimed_amount=claim.claimed_amount, line_items=claim.line_items,
                        confirmed_amount=self.investigation.confirmed_amount if self.investigation else None,
                        deductible=self.policy.deductible, payout_ratio=self.policy.payout_ratio)

    def money_has_moved(self) -> bool:
        """Payment has begun: something was paid, an advance waits to be paid, a transfer is under way, or
        a decision to pay was taken (unless the claim only waits for new bank details)."""
        return (bool(self.payments) or bool(self.advance_requests) or self.transfer_in_flight
                or (self.paying_decided() and not self.awaiting_bank_details))

    def authority(self) -> money.Authority:
        claim, rules = self.require_ready()
        return money.Authority(limits=rules.authority_limits,
                               system_limit=rules.fast_path_limits[claim.claim_type.value],
                               dual_manager_threshold=rules.dual_manager_threshold,
                               team=frozenset(rules.authority_team), outside_team=rules.authority_limits_outside_team)

    def next_notice(self, kind: str) -> int:
        self.notice_sequence[kind] = self.notice_sequence.get(kind, 0) + 1
        return self.notice_sequence[kind]

    # ------------------------------------------------------------------ what it shows

    @staticmethod
    def _shown(update: RecordInvestigation | None) -> RecordInvestigation | None:
        """An update as the status shows it: without its sender's token (the timeline names the sender)."""
        return update.model_copy(update={"credential": None}) if update is not None else None

    def status(self) -> ClaimStatus:
        return ClaimStatus(
            claim_id=self.claim_id, stage=self.stage, outcome=self.outcome,
            claim_type=self.claim.claim_type if self.claim else None, risk=self.risk, path=self.path,
            missing_documents=list(self.missing), documents_requested_at=self.requested_at,
            deadlines=dict(self.deadlines), sla_breaches=list(self.breaches), payout=self.payout,
            approvals=list(self.approvals), payments=list(self.payments), handler=self.handler,
            timeline=list(self.timeline),
            required_role=self.required_role() if self.stage == Stage.AWAITING_APPROVAL else None,
            decision=self.decision, investigation=self._shown(self.investigation), registered_at=self.registered_at,
            closed_at=self.closed_at, sla_warnings=list(self.warnings), escalated_to=self.escalated_to,
            survey_score=self.survey.score if self.survey else None, survey_until=self.survey_until(),
            appeal_until=self.appeal_until(),
            document_readings=[r.model_dump(mode="json") for r in self.readings.values()],
            document_review=list(self.document_review), recoveries=list(self.recoveries),
            recovery_outstanding=recoveries.outstanding(self.recoveries),
            reserve=self.reserve if self.financials else None, estimate=self.estimate if self.financials else None,
            reserve_proposed=self.reserve_proposal.amount if self.reserve_proposal else None,
            catastrophe=self.catastrophe,
        )

    def appeal_until(self) -> datetime | None:
        """Until when the decision may be appealed: a denial or a partial payment, once, within the appeal window
        from the decision; None for any other claim."""
        if self.rules is None or self.decision is None or self.decision.decided_at is None or self.appeals > 0:
            return None
        if self.outcome == Outcome.DENIED or (self.outcome == Outcome.PAID and self.decision.kind == "partial"):
            return due(self.decision.decided_at, self.rules.sla.appeal_window_days, self.rules.sla)
        return None

    def survey_until(self) -> datetime | None:
        """Until when the survey may be answered: from its sending, for the survey window; None once answered."""
        if self.survey is not None or self.survey_sent_at is None or self.rules is None:
            return None
        return due(self.survey_sent_at, self.rules.sla.survey_window_days, self.rules.sla)

    def result(self) -> ClaimResult:
        assert self.outcome is not None
        return ClaimResult(
            claim_id=self.claim_id, outcome=self.outcome, paid_amount=self.paid_amount, decision=self.decision,
            fast_path=self.path == Path.FAST, sla_breaches=list(self.breaches), closed_at=self.closed_at,
        )

    def search_attributes(self) -> list[Any]:
        """The claim as worklists see it. No personal data: ids, stage, amounts and SLA state only."""
        updates: list[Any] = [sa.CLAIM_STAGE.value_set(self.stage.value)]
        if self.claim is not None:
            updates += [sa.CLAIM_TYPE.value_set(self.claim.claim_type.value),
                        sa.CLAIM_AMOUNT.value_set(float(self.claim.claimed_amount))]
        updates.append(sa.RISK_LEVEL.value_set(self.risk.level) if self.risk else sa.RISK_LEVEL.value_unset())
        updates.append(sa.PATH.value_set(self.path.value) if self.path else sa.PATH.value_unset())
        assignee = f"queue:{self.escalated_to.value}" if self.escalated_to else self.handler
        updates.append(sa.ASSIGNED_TO.value_set(assignee) if assignee else sa.ASSIGNED_TO.value_unset())
        nearest = min(self.deadlines.values(), default=None)
        updates.append(sa.SLA_DUE_AT.value_set(nearest) if nearest else sa.SLA_DUE_AT.value_unset())
        updates.append(sa.SLA_BREACHED.value_set(bool(self.breaches)))
        if self.catastrophe is not None:  # only then: a server without the attribute serves every other claim
            updates.append(sa.CATASTROPHE.value_set(self.catastrophe))
        return updates


_STATE = TypeAdapter(ClaimState)
