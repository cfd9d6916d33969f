"""`decide(state, command) -> events`: every rule that moves money or changes a claim's stage.

A command the claim cannot take now raises `Refused` with a typed reason and changes nothing. Money moves only as a
`PaymentRequested` event that this module emitted after the guard (`core.rules.money.refusal`) said yes, and money
that went out with no decision allowing it opens a recovery. The rules written here, in the order they bite:

- each stage takes its own commands; a closed claim takes only an appeal, a reopening or a recovery's settling;
- the payout is the loss under the terms of the incident's period, within the sum insured the period has left;
- approvals and advances pass the guard: authority, four-eyes, the claim's ceiling and its assessed payout;
- once this round's decision is taken nobody approves, rejects or escalates it; a rejection waits for a transfer
  the gateway has not answered; a withdrawal is refused once payment has begun;
- a claim closes only when no transfer is in flight; what it paid beyond its decision is owed back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from core.claim import commands as c
from core.claim import events as e
from core.claim import reserves
from core.claim.evolution import fold
from core.claim.state import ClaimCore, Decision, Period, Recovery, Transfer
from core.rules import money
from core.rules.authority import RANK, person_key
from core.rules.payout import ZERO, after_terms, cents
from core.rules.recovery import allowed, reckon, subrogation_owed, third_party_cuts
from models.contract import ErrorType, Outcome, Path, Role, Stage

WAITS_FOR_PEOPLE = (Stage.AWAITING_DOCUMENTS, Stage.INVESTIGATING, Stage.AWAITING_APPROVAL)


@dataclass(frozen=True)
class Refused(Exception):
    """A command the claim does not take now: the reason names the rule, the type is the contract's error type."""

    reason: str
    type: ErrorType = ErrorType.NOT_ALLOWED

    def __str__(self) -> str:
        return self.reason


def decide(s: ClaimCore, command: c.Command) -> list[e.Event]:
    """The events the command yields, with the case reserve following them (`core.claim.reserves.follow`): a
    movement the claim's new state calls for is part of the same decision, before any payment it asks for."""
    events = _decide(s, command)
    moves = reserves.follow(fold(s, events))
    at = next((i for i, event in enumerate(events) if isinstance(event, e.PaymentRequested)), len(events))
    return [*events[:at], *moves, *events[at:]]


def _decide(s: ClaimCore, command: c.Command) -> list[e.Event]:  # noqa: C901 (one branch a command)
    _amounts_are_sums(command)
    match command:
        case c.Register():
            return _register(s, command)
        case c.Triage(path, risk_low, investigate, documents_missing):
            _in(s, "triage", Stage.COVERAGE_CHECK)
            then = Stage.AWAITING_DOCUMENTS if documents_missing else _after_documents(investigate)
            return [e.Triaged(path, risk_low, investigate), e.StageEntered(then)]
        case c.DocumentsComplete():
            _in(s, "documents complete", Stage.AWAITING_DOCUMENTS)
            return [e.StageEntered(_after_documents(s.investigate))]
        case c.DocumentsOverdue():
            _in(s, "documents overdue", Stage.AWAITING_DOCUMENTS)
            return _closing(s, [], Outcome.CLOSED_INCOMPLETE)
        case c.RecordInvestigation(who, _, fraud):
            _in(s, "record_investigation", Stage.INVESTIGATING)
            part = s.conflicted.get(person_key(who))
            if part is not None:
                raise Refused(f"{who} is the {part} of this claim and may not investigate it", ErrorType.NOT_AUTHORIZED)
            return [e.InvestigationRecorded(who, fraud), e.StageEntered(Stage.ADJUSTING)]
        case c.Assess(loss, held):
            return _assess(s, loss, held)
        case c.Approve():
            return _approve(s, command)
        case c.Reject(who, role, reason):
            _deciding(s, "reject", who, role, money.Kind.APPROVAL, s.decision_amount)
            if s.transfer is not None:
                raise Refused("reject: a payment is being made to the claimant now; the rejection can be given once "
                              "it has gone through or failed")
            if s.review and s.decision is not None and s.decision.kind != "denied":
                return _appeal_not_upheld(s, who, reason or "rejected")
            return _deny(s, reason or "rejected", (who,))
        case c.Escalate(who):
            _open(s, "escalate")
            if s.decision_taken:
                raise Refused("escalate: the claim is decided and its payment is under way")
            return [e.Escalated(who, s.next_tier())]
        case c.Assign(handler):
            _open(s, "assign")
            key = person_key(handler)
            deciders = {person_key(a.who) for a in s.approvals} | {person_key(p) for p in s.earlier_deciders}
            deciders |= {person_key(p) for p in s.advance_approvers}
            if key in deciders or (s.investigator and person_key(s.investigator) == key):
                raise Refused(f"assign: {handler} has taken part in deciding this claim (four-eyes rule)",
                              ErrorType.NOT_AUTHORIZED)
            return [e.Assigned(handler)]
        case c.ApproveAdvance(who, role, amount):
            return _advance(s, who, role, amount)
        case c.Withdraw(reason):
            _open(s, "withdraw")
            if s.money_moving:
                raise Refused("withdraw: payment has begun; the claim can no longer be withdrawn")
            withdrawn: list[e.Event] = [e.Withdrawn(reason)]
            return withdrawn + _closing(fold(s, withdrawn), [], Outcome.WITHDRAWN)
        case c.Appeal(reason):
            only = "appeal: only a denial or a partial approval can be appealed"
            if not s.closed or s.decision is None or s.withdrawn or s.outcome not in (Outcome.DENIED, Outcome.PAID):
                raise Refused(f"{only}; this claim is not closed on a decision")
            refusal = appeal_refusal(s, s.decision.kind)
            if refusal:
                raise Refused(refusal)
            then = Stage.ADJUSTING if s.payout is None else Stage.AWAITING_APPROVAL
            return [e.AppealOpened(reason), e.StageEntered(then)]
        case c.Reopen(who, role):
            if s.outcome != Outcome.CLOSED_INCOMPLETE:
                raise Refused("reopen: only a claim closed as incomplete can be reopened")
            if RANK[role] < RANK[Role.SUPERVISOR]:
                raise Refused("reopen: a supervisor or manager must reopen a claim", ErrorType.NOT_AUTHORIZED)
            return [e.Reopened(who)]
        case c.ClockBreached(_):
            if s.closed or s.decision_taken or s.stage not in WAITS_FOR_PEOPLE:
                return []
            return [e.Escalated("system", s.next_tier())]
        case c.PaymentSettled(sequence, amount):
            return _settled(s, sequence, amount)
        case c.PaymentRefused(sequence):
            if s.transfer is None or s.transfer.sequence != sequence:
                raise Refused(f"payment {sequence} is not under way")
            return [e.PaymentBounced(sequence)]
        case c.AccountUpdated():
            if s.awaiting_account is None:
                return []
            if _void(s, s.awaiting_account):
                return [e.AccountReplaced(), *_after_money(fold(s, [e.AccountReplaced()]))]
            return [e.AccountReplaced(), e.PaymentRequested(s.awaiting_account)]
        case c.RecordRepayment(number, amount):
            recovery = _recovery(s, number)
            if amount <= ZERO or amount > recovery.outstanding:
                raise Refused(f"repayment: {amount} is not within the {recovery.outstanding} owed",
                              ErrorType.INVALID_UPDATE)
            return [e.RecoveryRepaid(number, amount)]
        case c.WriteOff(number, who, role):
            _recovery(s, number)
            if role != Role.MANAGER:
                raise Refused("write_off: a manager writes off money owed", ErrorType.NOT_AUTHORIZED)
            return [e.RecoveryWrittenOff(number, who)]
        case c.OpenRecovery():
            return _open_recovery(s, command)
        case c.SetReserve(who, role, amount, reason):
            problem = reserves.refusal(s, who, role, amount)
            if problem is not None:
                raise Refused(f"set_reserve: {problem[0]}", problem[1])
            return reserves.set_by_staff(s, who, role, amount, reason)
        case c.Resume():
            return []
    raise Refused(f"unknown command {command!r}", ErrorType.INVALID_UPDATE)


# ---------------------------------------------------------------------------------------------- registration


def _register(s: ClaimCore, command: c.Register) -> list[e.Event]:
    if s.stage != Stage.REGISTERED:
        raise Refused(f"claim {s.claim_id} is already registered", ErrorType.DUPLICATE_CLAIM)
    period = period_of(command.periods, command.incident_day)
    events: list[e.Event] = [e.Registered(command.claim_id, command.claimed, period, command.limits,
                                          command.reserves, command.third_party_at_fault)]
    after = fold(s, events)
    if period is None:
        return events + _deny(after, "outside the period of cover", ("system",))
    if command.refusal:
        return events + _deny(after, command.refusal, ("system",))
    return events


def appeal_refusal(s: ClaimCore, kind: str) -> str | None:
    """Why a decision of this kind on this claim could not be appealed, or None when it can (once it has closed):
    the core's `Appeal` asks it, and the decision letter says whether an appeal is open."""
    only = "appeal: only a denial or a partial approval can be appealed"
    if kind == "approved":
        return f"{only}; this claim was paid in full"
    if s.appeals:
        return f"{only}, once; this claim's appeal has been lodged"
    if s.period is None:
        return ("appeal: the incident falls in no period of the policy, so nothing can be paid on it; a correction "
                "of the policy's periods, or a complaint, is the way")
    return None


def period_of(periods: tuple[Period, ...], day: date) -> Period | None:
    """The period an incident on this day falls in; of overlapping ones, the latest to start."""
    return next((p for p in sorted(periods, key=lambda p: p.starts, reverse=True) if p.covers(day)), None)


def _after_documents(investigate: bool) -> Stage:
    return Stage.INVESTIGATING if investigate else Stage.ADJUSTING


# ---------------------------------------------------------------------------------------------- assessing


def _assess(s: ClaimCore, loss: Decimal, held: Decimal) -> list[e.Event]:
    if s.stage != Stage.ADJUSTING:
        raise Refused(f"assess: the claim is not being adjusted (stage {s.stage.value})")
    if loss < ZERO or held < ZERO:
        raise Refused("assess: a loss and what others hold are never negative", ErrorType.INVALID_UPDATE)
    if s.period is None:
        raise Refused("assess: the claim has no period of cover to assess it under")
    under_terms = after_terms(min(loss, s.claimed), s.period.deductible, s.period.payout_ratio)
    payout = max(min(under_terms, s.period.sum_insured - held), ZERO)
    events: list[e.Event] = [e.PayoutAssessed(loss, held, payout)]
    after = fold(s, events)
    then = after_assessment(after)
    if then == Stage.CLOSED:
        reason = "below deductible" if under_terms <= ZERO else "sum insured exhausted"
        return events + _deny(after, reason, ("system",))
    if then == Stage.AWAITING_APPROVAL:
        return [*events, e.StageEntered(Stage.AWAITING_APPROVAL)]
    approved = [e.Approved("system", Role.SYSTEM)]
    return events + approved + _decide_to_pay(fold(after, approved))


def after_assessment(s: ClaimCore) -> Stage:
    """Where a claim goes once its payout is assessed: an appeal's review to its reviewer whatever the payout (who may
    agree an amount, or reject the appeal); otherwise closed when there is nothing to pay, paying when the system
    approves it itself (`system_may_approve`), and to a person for approval."""
    if s.review:
        return Stage.AWAITING_APPROVAL
    if s.payout is None or s.payout <= ZERO:
        return Stage.CLOSED
    return Stage.PAYING if system_may_approve(s) else Stage.AWAITING_APPROVAL


def system_may_approve(s: ClaimCore) -> bool:
    """Whether the system approves the assessed payout itself: a low risk, no investigation, not the green channel,
    never escalated, not an appeal's review, and within the system's authority for the claim type."""
    if not s.risk_low or s.investigate or s.path == Path.GREEN or s.escalated_to is not None or s.review:
        return False
    return money.refusal(money.MoneyDecision(money.Kind.SYSTEM_APPROVAL, "system", Role.SYSTEM, s.decision_amount),
                         _money(s), _authority(s)) is None


# ---------------------------------------------------------------------------------------------- deciding


def _approve(s: ClaimCore, command: c.Approve) -> list[e.Event]:
    if command.amount is not None and not s.review:
        raise Refused("approve: amount may only be given when reviewing an appeal", ErrorType.INVALID_UPDATE)
    if command.amount is not None and s.approvals and command.amount != s.agreed:
        raise Refused("approve: the amount is agreed by the review's first approval", ErrorType.INVALID_UPDATE)
    agreed = command.amount if command.amount is not None else s.agreed
    kind = money.Kind.AGREED_ON_APPEAL if agreed is not None else money.Kind.APPROVAL
    amount = agreed if agreed is not None else s.decision_amount
    _deciding(s, "approve", command.who, command.role, kind, amount)
    if s.review and amount <= ZERO:  # approving nothing would leave the system to deny the appeal in its place
        raise Refused("approve: the review assesses nothing to pay; agree an amount, or reject the appeal",
                      ErrorType.INVALID_UPDATE)
    events: list[e.Event] = [e.Approved(command.who, command.role, command.amount)]
    after = fold(s, events)
    return events + (_decide_to_pay(after) if after.approved else [])


def _deciding(s: ClaimCore, action: str, who: str, role: Role, kind: money.Kind, amount: Decimal) -> None:
    """Whether this person may decide this claim now: the stage, the round, then the guard."""
    if s.decision_taken:
        raise Refused(f"{action}: the claim is decided; its payment is under way")
    if s.stage != Stage.AWAITING_APPROVAL or s.withdrawn or s.approved:
        raise Refused(f"{action}: the claim is not awaiting approval (stage {s.stage.value})")
    if role == Role.SYSTEM:
        raise Refused(f"{action}: the system role cannot be used by a person", ErrorType.NOT_AUTHORIZED)
    problem = money.refusal(money.MoneyDecision(kind, who, role, amount), _money(s), _authority(s))
    if problem:
        raise Refused(f"{action}: {problem}", ErrorType.NOT_AUTHORIZED)


def _decide_to_pay(s: ClaimCore) -> list[e.Event]:
    """The decision to pay what the round approved: checked once more against the guard, then paid once nothing
    else is moving."""
    assert s.approved, "a decision to pay needs this round's approvals"
    amount = s.decision_amount
    assert s.period is not None
    in_full = amount >= after_terms(s.claimed, s.period.deductible, s.period.payout_ratio)
    by = tuple(a.who for a in s.approvals) or ("system",)
    events: list[e.Event] = [e.Decided(Decision("approved" if in_full else "partial", amount, by)),
                             e.StageEntered(Stage.PAYING)]
    return events + _after_money(fold(s, events))


def _appeal_not_upheld(s: ClaimCore, who: str, reason: str) -> list[e.Event]:
    """The reviewer rejects the appeal of a partial approval: the decision appealed against stands, paid as it was.
    Nothing paid on it is taken back (the claim closes paid, as it had)."""
    assert s.decision is not None
    standing = replace(s.decision, by=(who,), reason=f"appeal not upheld: {reason}")
    events: list[e.Event] = [e.Decided(standing)]
    return events + _closing(fold(s, events), [], Outcome.PAID)


def _deny(s: ClaimCore, reason: str, by: tuple[str, ...]) -> list[e.Event]:
    events: list[e.Event] = [e.Decided(Decision("denied", s.paid, by, reason))]
    return events + _closing(fold(s, events), [], Outcome.DENIED)


# ---------------------------------------------------------------------------------------------- money


def _advance(s: ClaimCore, who: str, role: Role, amount: Decimal) -> list[e.Event]:
    _open(s, "approve_advance")
    # Decided once is decided: an appeal's review of the decision takes no advance either.
    if s.path != Path.GREEN or s.decision is not None or s.withdrawn or s.approved or s.period is None:
        raise Refused("approve_advance: advances are for green-channel claims not yet decided")
    problem = money.refusal(money.MoneyDecision(money.Kind.ADVANCE, who, role, amount), _money(s), _authority(s))
    if problem:
        raise Refused(f"approve_advance: {problem}", ErrorType.NOT_AUTHORIZED)
    transfer = Transfer(s.next_sequence, "advance", amount, who)
    events: list[e.Event] = [e.AdvanceApproved(transfer)]
    return events + _after_money(fold(s, events))


def _settled(s: ClaimCore, sequence: int, amount: Decimal) -> list[e.Event]:
    transfer = s.transfer
    if transfer is None or transfer.sequence != sequence:
        raise Refused(f"payment {sequence} is not under way")
    if amount < ZERO or amount > transfer.amount:
        raise Refused(f"payment {sequence}: {amount} is not what was asked ({transfer.amount})",
                      ErrorType.INVALID_UPDATE)
    events: list[e.Event] = [e.PaymentMade(sequence, transfer.kind, amount)]
    return events + _after_money(fold(s, events))


def _after_money(s: ClaimCore) -> list[e.Event]:
    """What follows once the gateway is free: the next advance, the final payment, or the closing."""
    if s.transfer is not None or s.awaiting_account is not None:
        return []
    if s.closed:
        return []
    if s.closing is not None:
        return _closing(s, [], s.closing)
    waiting = [t for t in s.advances_waiting if not _void(s, t)]
    if waiting:
        return [e.PaymentRequested(waiting[0])]
    if not s.decision_taken or s.decision is None or s.decision.kind == "denied":
        return []
    owed = s.decision.amount - s.paid
    if owed > ZERO and not s.final_sent:
        return [e.PaymentRequested(Transfer(s.next_sequence, "final", owed, ", ".join(s.decision.by)))]
    return _closing(s, [], Outcome.PAID)


def _closing(s: ClaimCore, events: list[e.Event], outcome: Outcome) -> list[e.Event]:
    """Close once nothing is in flight (else when the gateway answers); money out beyond what the decision allows is
    owed back."""
    if s.transfer is not None or s.awaiting_account is not None:
        return [*events, e.ClosingWhenSettled(outcome)] if s.closing != outcome else events
    kept = allowed(outcome, s.decision.amount if s.decision is not None else None)
    owed = s.owed_back
    reckoning = reckon(s.paid, kept, sum((r.settled for r in owed), ZERO),
                       [(r.number, r.outstanding) for r in owed if r.outstanding > ZERO])
    number = len(s.recoveries)
    if reckoning.opened > ZERO:
        reason = "advances beyond the amount decided" if outcome == Outcome.PAID else \
            f"paid on a claim closed {outcome.value}"
        number += 1
        events = [*events, e.RecoveryOpened(number, reason, reckoning.opened)]
    events += [e.RecoverySetOff(number, cut) for number, cut in reckoning.set_off]
    bears = min(s.paid, kept)
    third = [r for r in s.recoveries if r.kind != "overpayment"]
    cuts: list[e.Event] = [e.RecoverySetOff(n, cut) for n, cut in third_party_cuts(
        bears, sum((r.brings for r in third), ZERO), [(r.number, r.outstanding) for r in third])]
    events += cuts
    due = subrogation_due(fold(s, cuts), outcome)
    if due > ZERO:
        events.append(e.RecoveryOpened(number + 1, SUBROGATION_REASON, due, "subrogation"))
    return [*events, e.Closed(outcome)]


SUBROGATION_REASON = "third party at fault: what the claim paid is recovered from them or their insurer"


def subrogation_due(s: ClaimCore, outcome: Outcome) -> Decimal:
    """What a claim a third party caused (an auto claim), closing paid, recovers from them by rule (代位追偿): what
    it paid and keeps, less what its recoveries of third parties and the salvage expect already (together they
    bring back at most what it cost); zero for any other closing."""
    if not s.third_party_at_fault or outcome != Outcome.PAID or s.decision is None:
        return ZERO
    expected = sum((r.brings for r in s.recoveries if r.kind != "overpayment"), ZERO)
    return subrogation_owed(min(s.paid, s.decision.amount), expected)


def _open_recovery(s: ClaimCore, command: c.OpenRecovery) -> list[e.Event]:
    if command.kind not in ("subrogation", "salvage"):
        raise Refused(f"open_recovery: kind: {command.kind} is opened by the claim itself, not by staff",
                      ErrorType.INVALID_UPDATE)
    if command.amount <= ZERO or command.amount != cents(command.amount):
        raise Refused(f"open_recovery: amount: {command.amount} is not a positive sum in cents",
                      ErrorType.INVALID_UPDATE)
    if s.stage == Stage.REGISTERED:
        raise Refused("open_recovery: the claim is still being registered")
    if RANK[command.role] < RANK[Role.ADJUSTER] or command.role == Role.SYSTEM:
        raise Refused("open_recovery: a member of the claims staff opens a recovery", ErrorType.NOT_AUTHORIZED)
    # What the claim costs the insurer: paid and reserved while open; once closed, what it paid and keeps (money
    # out beyond its decision is the claimant's to repay, not a third party's).
    cost = min(s.paid, allowed(s.outcome, s.decision.amount if s.decision else None)) if s.closed and s.outcome \
        else s.paid + s.reserve
    expected = sum((r.brings for r in s.recoveries if r.kind != "overpayment"), ZERO)
    if command.amount + expected > cost:
        raise Refused(f"open_recovery: {command.amount} is more than the claim costs ({cost}: paid and reserved, or "
                      f"kept) less what its recoveries expect already ({expected}); a claim's recoveries bring back at "
                      "most what it cost", ErrorType.INVALID_UPDATE)
    return [e.RecoveryOpened(len(s.recoveries) + 1, command.reason, command.amount, command.kind)]


def _void(s: ClaimCore, transfer: Transfer) -> bool:
    """An advance approved before the claim was withdrawn, rejected or closed is not paid."""
    return transfer.kind == "advance" and (s.withdrawn or s.closed or s.closing is not None or (
        s.decision is not None and s.decision_taken and s.decision.kind == "denied"))


# ---------------------------------------------------------------------------------------------- helpers


def _amounts_are_sums(command: c.Command) -> None:
    """Every amount a command carries is a finite sum (the contract refuses NaN and infinities at the edge; the core
    refuses them too, so no command can raise anything but `Refused`)."""
    for name in ("claimed", "loss", "held_by_others", "amount", "confirmed"):
        value = getattr(command, name, None)
        if isinstance(value, Decimal) and not value.is_finite():
            raise Refused(f"{name}: {value} is not an amount", ErrorType.INVALID_UPDATE)


def _in(s: ClaimCore, action: str, stage: Stage) -> None:
    if s.stage != stage or s.closing is not None:
        raise Refused(f"{action}: the claim is at {s.stage.value}, not {stage.value}")


def _open(s: ClaimCore, action: str) -> None:
    if s.stage == Stage.REGISTERED:
        raise Refused(f"{action}: the claim is still being registered")
    if s.closed or s.closing is not None:
        raise Refused(f"{action}: the claim is closed ({s.outcome or s.closing})")


def _recovery(s: ClaimCore, number: int) -> Recovery:
    recovery = next((r for r in s.recoveries if r.number == number), None)
    if recovery is None or recovery.outstanding <= ZERO:
        raise Refused(f"recovery {number}: nothing is owed on it", ErrorType.INVALID_UPDATE)
    return recovery


def _money(s: ClaimCore) -> money.ClaimMoney:
    assert s.period is not None
    terms = money.Terms(claimed_amount=s.claimed, deductible=s.period.deductible, payout_ratio=s.period.payout_ratio,
                        sum_insured_available=max(s.period.sum_insured - s.held_by_others, ZERO), assessed=s.payout)
    return money.ClaimMoney(terms=terms, paid=s.paid, pending_advances=s.in_flight, required_role=s.required_role,
                            conflicted=s.conflicted, approved_by=[a.who for a in s.approvals],
                            fraud_suspected=s.fraud_suspected)


def _authority(s: ClaimCore) -> money.Authority:
    return money.Authority(limits=s.limits.table, system_limit=s.limits.system,
                           dual_manager_threshold=s.limits.dual_manager_threshold, team=frozenset(s.limits.team),
                           outside_team=s.limits.outside_table)

