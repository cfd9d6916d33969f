"""`evolve(state, event) -> state`: what each event changes. No rule is checked here; `decide` checked them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from core.claim import events as e
from core.claim.state import Approval, ClaimCore, Payment, Recovery, RecoveryStatus, ReserveProposal
from models.contract import Stage


def evolve(s: ClaimCore, event: e.Event) -> ClaimCore:  # noqa: C901 (one branch an event, as a table reads)
    match event:
        case e.Registered(claim_id, claimed, period, limits, reserves, third_party_at_fault):
            return replace(s, claim_id=claim_id, claimed=claimed, period=period, limits=limits, reserves=reserves,
                           third_party_at_fault=third_party_at_fault, stage=Stage.COVERAGE_CHECK)
        case e.ReserveSet(reserve, estimate, basis):
            return replace(s, reserve=reserve, estimate=estimate, reserve_basis=basis, reserve_proposal=None)
        case e.ReserveProposed(who, amount, reason):
            return replace(s, reserve_proposal=ReserveProposal(who, amount, reason))
        case e.Triaged(path, risk_low, investigate):
            return replace(s, path=path, risk_low=risk_low, investigate=investigate)
        case e.StageEntered(stage):
            return replace(s, stage=stage)
        case e.InvestigationRecorded(who, fraud):
            return replace(s, investigator=who, fraud_suspected=fraud)
        case e.PayoutAssessed(loss, held, payout):
            return replace(s, assessed=loss, held_by_others=held, payout=payout)
        case e.Approved(who, role, agreed):
            return replace(s, approvals=(*s.approvals, Approval(who, role)),
                           agreed=agreed if agreed is not None else s.agreed)
        case e.Escalated(_, tier):
            return replace(s, escalations=s.escalations + 1, escalated_to=tier)
        case e.Assigned(handler):
            return replace(s, handlers=(*s.handlers, handler))
        case e.Decided(decision):
            rejected = decision.kind == "denied" and bool(decision.by) and decision.by != ("system",)
            return replace(s, decision=decision, decision_taken=True, rejected=s.rejected or rejected,
                           earlier_deciders=s.earlier_deciders + (decision.by if rejected else ()))
        case e.AdvanceApproved(transfer):
            return replace(s, advances_waiting=(*s.advances_waiting, transfer),
                           advance_approvers=(*s.advance_approvers, transfer.approved_by),
                           next_sequence=max(s.next_sequence, transfer.sequence + 1))
        case e.PaymentRequested(transfer):
            waiting = tuple(t for t in s.advances_waiting if t.sequence != transfer.sequence)
            return replace(s, transfer=transfer, advances_waiting=waiting,
                           next_sequence=max(s.next_sequence, transfer.sequence + 1),
                           final_sent=s.final_sent or transfer.kind == "final")
        case e.PaymentMade(sequence, kind, amount):
            payments = (*s.payments, Payment(sequence, kind, amount)) if amount > 0 else s.payments
            return replace(s, payments=payments, transfer=None, reserve=s.reserve - amount)  # released as it goes
        case e.PaymentBounced(_):
            return replace(s, awaiting_account=s.transfer, transfer=None)
        case e.AccountReplaced():
            return replace(s, awaiting_account=None)
        case e.Withdrawn():  # a final payment the bank refused is not made again
            return replace(s, withdrawn=True, advances_waiting=(),
                           awaiting_account=None if s.final_bounced else s.awaiting_account)
        case e.AppealOpened():
            decided_by = (*(s.decision.by if s.decision else ()), *(a.who for a in s.approvals))
            return replace(s, review=True, appeals=s.appeals + 1, approvals=(), agreed=None, decision_taken=False,
                           final_sent=False,
                           rejected=False, outcome=None, stage=Stage.AWAITING_APPROVAL,
                           earlier_deciders=(*s.earlier_deciders, *decided_by))
        case e.Reopened():
            return replace(s, outcome=None, decision_taken=False, final_sent=False, stage=Stage.AWAITING_DOCUMENTS)
        case e.RecoveryOpened(number, reason, amount, kind):
            return replace(s, recoveries=(*s.recoveries, Recovery(number, reason, amount, kind=kind)))
        case e.RecoveryRepaid(number, amount):
            return replace(s, recoveries=tuple(_repaid(r, amount) if r.number == number else r
                                               for r in s.recoveries))
        case e.RecoverySetOff(number, amount):
            return replace(s, recoveries=tuple(_set_off(r, amount) if r.number == number else r for r in s.recoveries))
        case e.RecoveryWrittenOff(number, _):
            return replace(s, recoveries=tuple(replace(r, status=RecoveryStatus.WRITTEN_OFF)
                                               if r.number == number else r for r in s.recoveries))
        case e.ClosingWhenSettled(outcome):
            return replace(s, closing=outcome, advances_waiting=())
        case e.Closed(outcome):
            return replace(s, outcome=outcome, stage=Stage.CLOSED, advances_waiting=(), review=False, closing=None)
    raise AssertionError(f"no evolution for {event!r}")


def fold(s: ClaimCore, events: Iterable[e.Event]) -> ClaimCore:
    for event in events:
        s = evolve(s, event)
    return s


def _set_off(r: Recovery, amount: Decimal) -> Recovery:
    r = replace(r, set_off=r.set_off + amount)
    return replace(r, status=RecoveryStatus.SET_OFF) if r.outstanding <= 0 else r


def _repaid(r: Recovery, amount: Decimal) -> Recovery:
    repaid = r.repaid + amount
    return replace(r, repaid=repaid, status=RecoveryStatus.RECOVERED if repaid >= r.amount else r.status)
