"""The claim as the decision core sees it: the workflow's state read as a `ClaimCore`, so an update's validator can
ask the core (`core.claim.decide`) whether the command is allowed, and refuse it, leaving no history, when the core
says no.

The validators keep their own checks too (codes, document kinds, windows in time, who sent the update): they are the
shell's. What moves money or a stage is the core's to allow, and the core is what `properties/core_machine.py` proves
at 100,000 sequences. A command the core refuses is refused however the shell's own checks answered.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.claim import commands as c
    from core.claim.decisions import Refused, decide
    from core.claim.state import (
        Approval,
        ClaimCore,
        Decision,
        Limits,
        Payment,
        Period,
        Recovery,
        RecoveryStatus,
        Transfer,
    )
    from core.rules.payout import ZERO
    from models.contract import ErrorType, Stage
    from models.contract import RecoveryStatus as ShownStatus
    from workflows.claim_state import ClaimState, refuse

_STATUS = {ShownStatus.OPEN: RecoveryStatus.OPEN, ShownStatus.RECOVERED: RecoveryStatus.RECOVERED,
           ShownStatus.WRITTEN_OFF: RecoveryStatus.WRITTEN_OFF, ShownStatus.SET_OFF: RecoveryStatus.SET_OFF}


def view(s: ClaimState) -> ClaimCore:
    """The core's state for this claim now. Only what the core decides on is read; nothing is changed."""
    claim, rules = s.require_ready()
    period, held = None, ZERO
    policy = s.policy
    if policy is not None and policy.effective_from <= claim.incident.occurred_at.date() <= policy.effective_to:
        period = Period(starts=policy.effective_from, ends=policy.effective_to, sum_insured=policy.sum_insured,
                        deductible=policy.deductible, payout_ratio=policy.payout_ratio)
        if s.sum_insured_available is not None:
            held = max(policy.sum_insured - s.sum_insured_available, ZERO)
    table = rules.authority_limits
    limits = Limits(adjuster=table.get("adjuster") or Limits.adjuster, supervisor=table.get("supervisor") or
                    Limits.supervisor, system=rules.fast_path_limits.get(claim.claim_type.value, ZERO),
                    dual_manager_threshold=rules.dual_manager_threshold)
    decision = None
    if s.decision is not None:
        decision = Decision(kind=s.decision.kind, amount=s.decision.amount,
                            by=tuple(p.strip() for p in s.decision.decided_by.split(",")))
    stage = s.stage
    if s.decision_taken and s.outcome is None and decision is not None and decision.kind != "denied":
        stage = Stage.PAYING  # decided to pay, waiting for advances to settle: the shell's stage shows the wait
    waiting = [Transfer(0, "advance", amount, who) for amount, who, _ in s.advance_requests]
    # The payment under way: asked of the gateway now, or refused by the bank and waiting for a new account.
    moving = None
    if s.advance_in_flight and waiting:
        moving, waiting = waiting[0], waiting[1:]
    elif s.transfer_in_flight or s.awaiting_bank_details:
        moving = Transfer(s.payout_sequence, "final", max(s.decision_amount - s.paid_amount, ZERO))
    transfer = moving if moving is not None and s.transfer_in_flight else None
    awaiting_account = moving if moving is not None and s.awaiting_bank_details else None
    earlier = (*s.rejected_by, *(a.approver_id for a in s.approvals[:s.approvals_from]))
    return ClaimCore(
        claim_id=s.claim_id, stage=stage, outcome=s.outcome, path=s.path, claimed=claim.claimed_amount,
        period=period, limits=limits, risk_low=s.risk is None or s.risk.level == "low",
        investigate=bool(s.investigation_reason),
        fraud_suspected=bool(s.investigation and s.investigation.fraud_suspected),
        investigator=s.investigation.investigator_id if s.investigation else None,
        handlers=tuple(s.past_handlers), held_by_others=held,
        payout=s.payout.total if s.payout is not None else None,
        escalations=s.escalations,
        escalated_to=s.required_role() if (s.escalations or s.escalated_to is not None) else None,
        review=s.review == "appeal", agreed=s.agreed_amount,
        approvals=tuple(Approval(a.approver_id, a.role) for a in s.current_approvals),
        earlier_deciders=tuple(earlier), advance_approvers=tuple(s.advance_approvers),
        decision=decision, decision_taken=s.decision_taken, rejected=s.rejection is not None,
        withdrawn=s.withdrawal is not None,
        payments=tuple(Payment(p.sequence, p.kind, p.amount) for p in s.payments),
        advances_waiting=tuple(waiting), transfer=transfer, awaiting_account=awaiting_account,
        next_sequence=s.payout_sequence + 1,
        recoveries=tuple(Recovery(r.number, r.reason, r.amount, repaid=r.received, set_off=r.set_off,
                                  status=_STATUS[r.status]) for r in s.recoveries),
        appeals=s.appeals)


def check(s: ClaimState, action: str, command: c.Command) -> None:
    """Refuse the update (as its validator does) when the core does not allow the command on the claim now."""
    try:
        decide(view(s), command)
    except Refused as refused:
        reason = refused.reason if refused.reason.startswith(f"{action}:") else f"{action}: {refused.reason}"
        raise refuse(reason, ErrorType(refused.type)) from None



def disagreements(s: ClaimState) -> list[str]:
    """Where the workflow's own reading of the claim differs from the core's (`view`): what is paid, what is being
    decided and by whom, whether it is approved, who may not decide, whether money is moving. Empty when they agree,
    as the Temporal-level state machine checks after every step (`core_disagreements` query)."""
    if not s.ready or s.policy is None:
        return []
    core = view(s)
    found = []
    mine: dict[str, object] = {
        "paid": s.paid_amount, "decision amount": s.decision_amount, "required role": s.required_role(),
        "approved": s.approved(), "conflicted": sorted(s.conflicted()), "money moving": s.money_has_moved()}
    theirs: dict[str, object] = {
        "paid": core.paid, "decision amount": core.decision_amount, "required role": core.required_role,
        "approved": core.approved, "conflicted": sorted(core.conflicted), "money moving": core.money_moving}
    for fact, value in mine.items():
        if theirs[fact] != value:
            found.append(f"{fact}: the workflow has {value}, the core {theirs[fact]}")
    return found
