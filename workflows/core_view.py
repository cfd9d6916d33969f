"""The claim as the decision core sees it: the workflow's state read as a `ClaimCore`, so an update's validator can
ask the core (`core.claim.decide`) whether the command is allowed, and refuse it, leaving no history, when the core
says no.

The validators keep their own checks too (codes, document kinds, windows in time, who sent the update): they are the
shell's. What moves money or a stage is the core's to allow, and the core is what `testkit/core_machine.py` proves
at 100,000 sequences. A command the core refuses is refused however the shell's own checks answered.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.claim import carry
    from core.claim import commands as c
    from core.claim import events as e
    from core.claim.decisions import Refused, after_assessment, appeal_refusal, decide
    from core.claim.evolution import evolve, fold
    from core.claim.state import (
        Approval,
        ClaimCore,
        Decision,
        Limits,
        Payment,
        Period,
        Recovery,
        RecoveryStatus,
        ReserveTable,
        Transfer,
    )
    from core.rules.authority import person_key
    from core.rules.payout import ZERO
    from models.contract import ClaimType, ErrorType, Outcome, Stage
    from models.contract import RecoveryStatus as ShownStatus
    from workflows.claim_state import ClaimState, refuse

_STATUS = {ShownStatus.OPEN: RecoveryStatus.OPEN, ShownStatus.RECOVERED: RecoveryStatus.RECOVERED,
           ShownStatus.WRITTEN_OFF: RecoveryStatus.WRITTEN_OFF, ShownStatus.SET_OFF: RecoveryStatus.SET_OFF}


class LifecycleBug(RuntimeError):
    """The workflow asked the core to take a lifecycle step the core refuses: a fault in the workflow's code, not in
    the claim. The workflow task fails and is retried, so the claim halts where it is, visible, until fixed."""


def view(s: ClaimState) -> ClaimCore:
    """The core's state for this claim now: as the workflow's steps left it, and then the updates it has accepted
    whose handler or lifecycle step has not run to its end yet, taken as the core takes them. Only what the core
    decides on is read; nothing is changed."""
    return _with_accepted(s, _as_left(s))


def _with_accepted(s: ClaimState, core: ClaimCore) -> ClaimCore:
    """An update the workflow accepted is a fact at once in the core, which decides and evolves in one step: a
    withdrawal closes the claim, a rejection denies it, a recorded investigation ends the investigation, an appeal or
    a reopening opens a new round. The workflow does the same over an activity or two, and a validator in between
    must see the claim as the core has it. An appeal or a reopening is lodged when accepted and taken up when the
    workflow reaches it; approvals are counted from then."""
    accepted: list[c.Command] = []
    if s.outcome is None and s.withdrawal is not None:
        accepted.append(c.Withdraw(s.withdrawal.reason))
    if s.outcome is None and s.rejection is not None and not s.decision_taken:
        accepted.append(c.Reject(s.rejection.approver_id, s.rejection.role, s.rejection.reason))
    if s.stage == Stage.INVESTIGATING and s.investigation is not None:  # the findings are read in already
        core = replace(core, stage=Stage.ADJUSTING)
    if s.appeal is not None:
        accepted.append(c.Appeal(s.appeal.reason))
    if s.reopen_request is not None:
        accepted.append(c.Reopen(s.reopen_request.by, s.reopen_request.role))
    for command in accepted:
        try:
            core = fold(core, decide(core, command))
            if isinstance(command, c.Appeal | c.Reopen):
                # Lodged, not yet taken up: the new round opens when the workflow reaches it, and until then the
                # claim takes no decision, no second appeal and no second reopening (a closed stage, no outcome).
                core = replace(core, stage=Stage.CLOSED)
        except Refused:  # taken by the workflow since; what it left is the claim as it is
            if isinstance(command, c.Withdraw):
                core = replace(core, closing=core.closing or Outcome.WITHDRAWN)
            elif isinstance(command, c.Reject):
                core = replace(core, decision_taken=True, closing=core.closing or Outcome.DENIED)
    return core


def as_left(s: ClaimState) -> ClaimCore:
    """The core's state for this claim as the workflow's own steps have left it (no update accepted meanwhile)."""
    return _as_left(s)


def _as_left(s: ClaimState) -> ClaimCore:
    claim, rules = s.require_ready()
    period, held = None, ZERO
    policy = s.policy
    if policy is not None and policy.effective_from <= claim.incident.occurred_at.date() <= policy.effective_to:
        period = Period(starts=policy.effective_from, ends=policy.effective_to, sum_insured=policy.sum_insured,
                        deductible=policy.deductible, payout_ratio=policy.payout_ratio)
        if s.sum_insured_available is not None:
            held = max(policy.sum_insured - s.sum_insured_available, ZERO)
    table = rules.authority_limits
    outside = rules.authority_limits_outside_team  # a catastrophe's uplift for its team alone: everyone else's
    limits = Limits(adjuster=_limit(table, "adjuster", Limits.adjuster),
                    supervisor=_limit(table, "supervisor", Limits.supervisor),
                    system=rules.fast_path_limits.get(claim.claim_type.value, ZERO),
                    dual_manager_threshold=rules.dual_manager_threshold, team=tuple(rules.authority_team),
                    outside_adjuster=None if outside is None else _limit(outside, "adjuster", Limits.adjuster),
                    outside_supervisor=None if outside is None else _limit(outside, "supervisor", Limits.supervisor))
    decision = None
    if s.decision is not None:
        decision = Decision(kind=s.decision.kind, amount=s.decision.amount,
                            by=tuple(p.strip() for p in s.decision.decided_by.split(",")))
    stage, deciding = _stage(s, decision), s.decision_taken and s.outcome is None
    waiting = [Transfer(0, "advance", amount, who) for amount, who, _ in s.advance_requests]
    # The payment under way: asked of the gateway now, or refused by the bank and waiting for a new account. An
    # advance the workflow has taken up but not yet asked of the gateway is still waiting.
    moving = None
    if s.advance_in_flight and waiting and (s.transfer_in_flight or s.awaiting_bank_details):
        moving, waiting = waiting[0], waiting[1:]
    elif s.transfer_in_flight or s.awaiting_bank_details:
        moving = Transfer(s.payout_sequence, "final", max(s.decision_amount - s.paid_amount, ZERO))
    transfer = moving if moving is not None and s.transfer_in_flight else None
    awaiting_account = moving if moving is not None and s.awaiting_bank_details else None
    earlier = (*s.rejected_by, *(a.approver_id for a in s.approvals[:s.approvals_from]))
    return ClaimCore(
        claim_id=s.claim_id, stage=stage, outcome=s.outcome, path=s.path, claimed=claim.claimed_amount,
        # A document a person must read is a risk the system does not approve past.
        period=period, limits=limits, risk_low=(s.risk is None or s.risk.level == "low") and not s.document_review,
        investigate=bool(s.investigation_reason),
        fraud_suspected=bool(s.investigation and s.investigation.fraud_suspected),
        investigator=s.investigation.investigator_id if s.investigation else None,
        handlers=_handlers(s), held_by_others=held,
        payout=s.payout.total if s.payout is not None else None,
        escalations=s.escalations,
        escalated_to=s.required_role() if (s.escalations or s.escalated_to is not None) else None,
        review=s.review == "appeal", agreed=s.agreed_amount,
        approvals=tuple(Approval(a.approver_id, a.role) for a in s.current_approvals),
        earlier_deciders=tuple(earlier), advance_approvers=tuple(s.advance_approvers),
        decision=decision, decision_taken=deciding, rejected=s.rejection is not None,
        withdrawn=s.withdrawal is not None,
        # A denial being written and sent: the core closes it in the step that decides, so nothing more is accepted.
        closing=Outcome.DENIED if deciding and decision is not None and decision.kind == "denied" else None,
        payments=tuple(Payment(p.sequence, p.kind, p.amount) for p in s.payments),
        advances_waiting=tuple(waiting), transfer=transfer, awaiting_account=awaiting_account,
        next_sequence=s.payout_sequence + 1,
        recoveries=tuple(Recovery(r.number, r.reason, r.amount, repaid=r.received, set_off=r.set_off,
                                  status=_STATUS[r.status], kind=r.kind.value) for r in s.recoveries),
        # Subrogation is a right of property insurance: an auto claim's (Insurance Law arts. 46 and 60).
        third_party_at_fault=s.financials and claim.claim_type == ClaimType.AUTO and bool(
            claim.third_party and claim.third_party.at_fault),
        appeals=s.appeals, reserves=reserve_table(s), reserve=s.reserve, estimate=s.estimate,
        reserve_basis=s.reserve_basis, reserve_proposal=s.reserve_proposal)


def reserve_table(s: ClaimState) -> ReserveTable:
    """The claim's reserve rules as the core takes them: the initial figure for its type and cause, the authority."""
    claim, rules = s.require_ready()
    table = rules.reserves
    return ReserveTable(initial=table.initial_for(claim.claim_type.value, claim.incident.cause),
                        adjuster=table.adjuster, supervisor=table.supervisor, four_eyes_above=table.four_eyes_above)


def _handlers(s: ClaimState) -> tuple[str, ...]:
    """Everyone who has handled the claim, the current handler last (as the core's assignments leave them)."""
    current = person_key(s.handler) if s.handler else None
    others = tuple(h for h in s.past_handlers if person_key(h) != current)
    return (*others, s.handler) if s.handler else others


def _limit(table: dict[str, Decimal | None], role: str, otherwise: Decimal) -> Decimal:
    """The role's limit in the claim's authority table (a limit of 0 is a limit: only a missing one is defaulted)."""
    limit = table.get(role)
    return limit if limit is not None else otherwise


def _stage(s: ClaimState, decision: Decision | None) -> Stage:
    """The stage as the core has it where the workflow is between two of its own: a decision to pay taken while the
    claim waits for its advances (the core starts paying in the step that decides), and a claim appealed or reopened
    that has not yet entered the stage it goes back to."""
    if s.decision_taken and s.outcome is None and decision is not None and decision.kind != "denied":
        return Stage.PAYING
    if s.stage == Stage.CLOSED and s.outcome is None:
        return Stage.ADJUSTING if s.review == "appeal" else Stage.AWAITING_DOCUMENTS
    return s.stage


CARRIED_CORE = "core"
"""The key under which a run that continues as new carries the core's state beside the workflow's own."""
READING = 4
"""The version of how the workflow's state is read into the core (`view`, `_as_left`, `_with_accepted`, `_stage`,
and the fields of `ClaimCore`). Raise it with any change to them: a run continued by a worker that read the claim
another way is handed a core state that the new reading need not match, and is taken unchecked (a deploy must not
halt the claims that continue across it); from its own next continuation on, it is checked again."""


def carried_core(s: ClaimState) -> dict[str, Any]:
    """The core's state as a continuing run carries it: the core read from the workflow's state, and the version of
    that reading."""
    return {"reading": READING, "core": carry.carried(view(s))}


def restored(carried: Any) -> ClaimState:
    """The state a continued run was handed, checked against the core's state carried with it: the claim must read
    to the core exactly as it did when the run before continued, so nothing the core decides on was lost on the way
    (a run carried by code before the `carry-core` marker has no core state to compare, and one carried by a worker
    whose reading of the claim was another version (`READING`) is not compared)."""
    s = ClaimState.restored(carried)
    stamped = carried.get(CARRIED_CORE) if isinstance(carried, dict) else None
    if not isinstance(stamped, dict) or stamped.get("reading") != READING:
        return s  # carried before the marker, or read by another version of this code: nothing to compare
    core = carry.restored(stamped["core"])
    if core != view(s):
        raise LifecycleBug(f"claim {s.claim_id}: the state carried into this run reads differently to the core "
                           f"from the core's own state carried with it: {core!r} != {view(s)!r}")
    return s


def moved_to(s: ClaimState, command: c.Command, core: ClaimCore | None = None) -> Stage:
    """The stage the core moves the claim to on this step of the lifecycle (documents found missing or complete, an
    investigation called for or not): the workflow enters the stage the core names and keeps no rule of its own
    about which comes next. The step is taken on the claim as the workflow's steps have left it: an update accepted
    meanwhile (a withdrawal) is taken up where the lifecycle next looks for it, as before."""
    try:
        events = decide(core if core is not None else _as_left(s), command)
    except Refused as refused:
        raise LifecycleBug(f"the core refuses {command!r}: {refused.reason}") from None
    for event in events:
        if isinstance(event, e.StageEntered):
            return event.stage
        if isinstance(event, e.Closed):
            return Stage.CLOSED
    raise LifecycleBug(f"the core moved the claim to no stage on {command!r}")


def after_findings(s: ClaimState) -> Stage:
    """The stage the core sends the claim to on the investigator's findings the workflow has recorded, taken on the
    claim as it was before them (as the update's validator asked the core)."""
    found = s.investigation
    assert found is not None
    before = replace(_as_left(s), stage=Stage.INVESTIGATING, investigator=None, fraud_suspected=False)
    return moved_to(s, c.RecordInvestigation(found.investigator_id, found.confirmed_amount, found.fraud_suspected),
                    before)


def lifecycle_stage(s: ClaimState) -> Stage:
    """The stage the core has the claim at as the workflow's steps have left it (a reopened claim is back at its
    documents before the workflow has entered that stage)."""
    return _as_left(s).stage


def appealable(s: ClaimState, kind: str) -> bool:
    """Whether the core would take an appeal of a decision of this kind on the claim once it closes
    (`core.claim.decisions.appeal_refusal`): the decision letter offers an appeal only then."""
    return appeal_refusal(_as_left(s), kind) is None


def assessed(s: ClaimState) -> Stage:
    """The stage the core sends the claim to once the workflow has its payout (`core.claim.decisions.after_assessment`):
    closed with nothing to pay, paying on the system's own approval, or awaiting a person's."""
    return after_assessment(_as_left(s))


def registered(s: ClaimState) -> Stage:
    """The stage the core has a claim at once it is registered (its `Registered` event): where the lifecycle starts."""
    core = _as_left(s)
    return evolve(core, e.Registered(core.claim_id, core.claimed, core.period, core.limits)).stage


def closed(s: ClaimState, outcome: Outcome) -> Stage:
    """The stage the core has a claim at once it closes with this outcome (its `Closed` event)."""
    return evolve(_as_left(s), e.Closed(outcome)).stage


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
