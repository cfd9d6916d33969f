"""The case reserve (未决赔款准备金) follows the claim by itself (docs/finance.md#reserves).

The estimate of what a claim costs in all rests on one fact at a time, its *basis*:

- `open` (registered, nothing assessed): the initial figure for the claim's type and cause, else the amount claimed;
  never above what the claim may be paid (the amount claimed less the deductible, times the ratio, within the sum
  insured available);
- `assessed` (a payout assessed, awaiting a decision): the payout; on an appeal's review, the most it may be paid;
- `decided` (a decision to pay taken): the amount decided;
- `closed`: what was paid; the claim holds no reserve.

When the basis changes, the estimate is set afresh from it; in between, it stays where it was set (staff may have
set it), and payments release the reserve as they go out. The estimate never falls below what was paid plus what is
committed (moving to the claimant, or decided and unpaid): a reserve too low for a payment about to go out is raised
first. So, at every step: reserve >= 0, paid + reserve = estimate, and a closed claim holds no reserve.

`follow` is the one function both the decision core (after every command) and the claim workflow (at every event it
records) take the reserve from. `refusal` says whether a person may set a reserve.
"""

from __future__ import annotations

from decimal import Decimal

from core.claim import events as e
from core.claim.state import ClaimCore
from core.rules.authority import person_key
from core.rules.payout import ZERO, after_terms, cents
from models.contract import ErrorType, Role, Stage

RELEASED = "payment released it"


def basis(s: ClaimCore) -> str:
    """What the claim's estimate rests on now. Counting appeals keeps a new round's basis apart from the last."""
    if s.stage == Stage.REGISTERED:
        return ""
    if s.closed:
        return f"closed/{s.appeals}"
    if s.decision_taken and s.decision is not None and s.decision.kind != "denied":
        return f"decided/{s.appeals}/{s.decision.amount}"
    if s.payout is not None and (s.review or s.stage in (Stage.AWAITING_APPROVAL, Stage.PAYING)):
        return f"assessed/{s.appeals}/{s.payout}/{s.agreed}"
    return f"open/{s.appeals}"


def _estimate(s: ClaimCore, on: str) -> tuple[Decimal, str]:
    """The estimate the basis gives, and why."""
    if on.startswith("closed"):
        return s.paid, "claim closed"
    if on.startswith("decided"):
        assert s.decision is not None
        return s.decision.amount, "decision taken"
    if on.startswith("assessed"):
        if s.review and s.agreed is None and s.period is not None:
            ceiling = after_terms(s.claimed, s.period.deductible, s.period.payout_ratio)
            return max(min(ceiling, s.period.sum_insured - s.held_by_others), ZERO), "appeal under review"
        return s.decision_amount, "payout assessed"
    if s.period is None:
        return ZERO, "no period of cover"
    ceiling = after_terms(s.claimed, s.period.deductible, s.period.payout_ratio)
    figure = ceiling if s.reserves.initial is None else min(s.reserves.initial, ceiling)
    cause = "reopened" if s.reserve_basis else "registered"
    return cents(max(min(figure, s.period.sum_insured - s.held_by_others), ZERO)), cause


def follow(s: ClaimCore) -> list[e.Event]:
    """The reserve movement the claim's state calls for now (none when the reserve already stands as the rules
    have it): set afresh when the basis changed, raised to cover what is committed, zero once closed."""
    on = basis(s)
    if not on:
        return []
    if on != s.reserve_basis:
        estimate, cause = _estimate(s, on)
    else:
        estimate, cause = s.estimate, RELEASED
    floor = s.paid + (ZERO if s.closed else s.committed)
    if estimate < floor:
        estimate, cause = floor, "raised to cover a payment decided or on its way"
    reserve = estimate - s.paid
    if on == s.reserve_basis and reserve == s.reserve and estimate == s.estimate:
        return []
    return [e.ReserveSet(reserve, estimate, on, cause)]


def refusal(s: ClaimCore, who: str, role: Role, amount: Decimal) -> tuple[str, ErrorType] | None:
    """Why this person may not set the claim's reserve to this amount now, or None when they may (a reserve above the
    four-eyes threshold then waits for a second manager: `needs_second`)."""
    if not amount.is_finite() or amount < ZERO or amount != cents(amount):
        return f"amount: {amount} is not a sum in cents of zero or more", ErrorType.INVALID_UPDATE
    if s.stage == Stage.REGISTERED:
        return "the claim is still being registered", ErrorType.NOT_ALLOWED
    if s.closed or s.closing is not None:
        return "the claim is closed; a closed claim holds no reserve (reopen or appeal it first)", ErrorType.NOT_ALLOWED
    if amount < s.committed:
        return (f"{amount} is less than the {s.committed} decided or on its way to the claimant, which the reserve "
                "must cover", ErrorType.INVALID_UPDATE)
    limit = s.reserves.limit(role)
    if role == Role.SYSTEM:
        return "the system role cannot be used by a person", ErrorType.NOT_AUTHORIZED
    if limit is not None and amount > limit:
        return (f"{role.value} may set a reserve up to {limit}; {amount} needs a higher reserve authority",
                ErrorType.NOT_AUTHORIZED)
    proposal = s.reserve_proposal
    if (needs_second(s, amount) and proposal is not None and proposal.amount == amount
            and person_key(proposal.who) == person_key(who)):
        return (f"{who} proposed this reserve; a second manager must set it (four-eyes rule)",
                ErrorType.NOT_AUTHORIZED)
    return None


def needs_second(s: ClaimCore, amount: Decimal) -> bool:
    return amount > s.reserves.four_eyes_above


def set_by_staff(s: ClaimCore, who: str, role: Role, amount: Decimal, reason: str) -> list[e.Event]:
    """A person sets the reserve (already allowed by `refusal`): at once, or, above the four-eyes threshold, as a
    proposal until a second manager sets the same figure."""
    proposal = s.reserve_proposal
    if needs_second(s, amount) and (proposal is None or proposal.amount != amount):
        return [e.ReserveProposed(who, amount, reason)]
    by = (proposal.who, who) if needs_second(s, amount) and proposal is not None else (who,)
    return [e.ReserveSet(amount, s.paid + amount, basis(s), f"set by staff: {reason}", by, role)]
