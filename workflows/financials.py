"""The claim's money in the books (docs/finance.md): its case reserve following it, and every movement of its money
in the financial ledger.

At every event the claim records (`Shell.note`), the reserve is brought to where the decision core has it
(`core.claim.reserves.follow`, the one rule the core's properties are proved on), and whatever moved since the last
event (the reserve, a recovery's reserve, money received or written off on a recovery) goes with the event as ledger
movements, written in the event's own transaction. Payments are booked by the pay activity in the transaction that
makes them. Claims started before reserves existed keep none (`ClaimState.financials`).
"""

from __future__ import annotations

from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.claim import commands as c
    from core.claim import events as e
    from core.claim import reserves
    from core.claim.decisions import Refused, decide
    from core.claim.state import ReserveProposal
    from models.contract import ErrorType, Recovery, RecoveryStatus, SetReserve
    from models.messages import LedgerMove
    from workflows import core_view
    from workflows.claim_state import ClaimState, refuse

RECOVERY_MOVEMENTS = ("recovery_reserve", "recovery", "write_off")


def follow(s: ClaimState) -> None:
    """Bring the reserve to where the core has it for the claim as the workflow's steps have left it."""
    if s.financials and s.ready and s.policy is not None:
        for event in reserves.follow(core_view.as_left(s)):
            _apply(s, event)


def ledger_moves(s: ClaimState) -> list[LedgerMove]:
    """The movements since the last event: the reserve followed, then what changed of it and of each recovery."""
    if not s.financials:
        return []
    follow(s)
    moves: list[LedgerMove] = []
    if s.reserve != s.ledgered_reserve:
        released = s.reserve_cause == reserves.RELEASED and s.payments
        moves.append(LedgerMove(movement="reserve", amount=s.reserve - s.ledgered_reserve, balance=s.reserve,
                                cause=s.reserve_cause[:200], actor=s.reserve_by[:200],
                                at=s.payments[-1].paid_at if released else None))
        s.ledgered_reserve = s.reserve
    for r in s.recoveries:
        expected = r.outstanding if r.status == RecoveryStatus.OPEN else Decimal("0.00")
        now = [expected, r.received, r.written_off]
        before = s.ledgered_recoveries.get(r.number, [Decimal("0.00")] * 3)
        for movement, was, is_ in zip(RECOVERY_MOVEMENTS, before, now, strict=True):
            if is_ != was:
                actor = r.written_off_by if movement == "write_off" and r.written_off_by else \
                    (r.receipts[-1].by if movement == "recovery" and r.receipts else r.opened_by or "system")
                moves.append(LedgerMove(movement=movement, cost_type=r.kind.value, amount=is_ - was, balance=is_,
                                        recovery=r.number, cause=_recovery_cause(movement, r, before, now)[:200],
                                        actor=actor[:200]))
        s.ledgered_recoveries[r.number] = now
    return moves


def _recovery_cause(movement: str, r: Recovery, before: list[Decimal], now: list[Decimal]) -> str:
    """Why a recovery's account moved: opened, received, written off, or allowed by a later decision (set off)."""
    if movement == "recovery":
        return f"received ({r.receipts[-1].reference})" if r.receipts else "received"
    if movement == "write_off":
        return f"written off: {r.write_off_reason or ''}"
    if before == [Decimal("0.00")] * 3:
        return f"opened: {r.reason}"
    if now[1] != before[1]:
        return "received"
    if now[2] != before[2]:
        return "written off"
    return "allowed by a later decision (set off)"


def check_set_reserve(s: ClaimState, req: SetReserve) -> None:
    """The `set_reserve` validator's rule: the core's (`core.claim.reserves.refusal`), on a claim that keeps one."""
    s.require_ready()
    if not s.financials:
        raise refuse("set_reserve: this claim was reported before case reserves were kept; it holds none")
    core_view.check(s, "set_reserve", c.SetReserve(req.by, req.role, req.amount, req.reason))


def set_by_staff(s: ClaimState, req: SetReserve) -> tuple[str, str]:
    """Take a person's reserve as the core takes it: set now, or proposed for a second manager. The timeline's event
    and detail."""
    try:
        events = decide(core_view.view(s), c.SetReserve(req.by, req.role, req.amount, req.reason))
    except Refused as refused:
        raise refuse(f"set_reserve: {refused.reason}", ErrorType(refused.type)) from None
    for event in events:
        _apply(s, event)
    if s.reserve_proposal is not None:
        return "reserve_proposed", f"reserve of {req.amount} proposed ({req.reason}): a second manager sets it"
    return "reserve_set", f"reserve set to {req.amount} by {s.reserve_by} ({req.reason})"


def _apply(s: ClaimState, event: e.Event) -> None:
    match event:
        case e.ReserveSet(reserve, estimate, basis, cause, by, _):
            s.reserve, s.estimate, s.reserve_basis, s.reserve_proposal = reserve, estimate, basis, None
            s.reserve_cause, s.reserve_by = cause, ", ".join(by)
        case e.ReserveProposed(who, amount, reason):
            s.reserve_proposal = ReserveProposal(who, amount, reason)
