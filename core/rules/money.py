"""The one guard for money (docs/rules.md#money-invariants): every decision that moves money passes `refusal`.

System approval, a person's approval, an amount agreed on appeal, an approved advance and the statutory
advance are all `MoneyDecision`s. The workflow's validators call `refusal` before a request enters history,
and the lifecycle calls it again at the moment it acts; nothing else decides whether money may move.
Pure and deterministic: tested without Temporal, with generated cases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from core.rules.authority import RANK, person_key, role_for_amount
from core.rules.payout import ZERO, after_terms, cents
from models.contract import Role

__all__ = ["ADVANCE_APPROVER", "Authority", "ClaimMoney", "Kind", "MoneyDecision", "Terms", "person_key", "refusal"]


ADVANCE_APPROVER = "approver of an advance"
"""The part of someone who approved an advance: it bars them from every other money decision on the claim,
not from approving a further advance (the advances' total is held to their authority)."""


class Kind(StrEnum):
    SYSTEM_APPROVAL = "system approval"
    APPROVAL = "approval"
    AGREED_ON_APPEAL = "amount agreed on appeal"
    ADVANCE = "advance"
    STATUTORY_ADVANCE = "statutory advance"


@dataclass(frozen=True)
class Terms:
    """What the policy and the claim allow at most, whoever decides."""

    claimed_amount: Decimal
    deductible: Decimal
    payout_ratio: Decimal
    sum_insured_available: Decimal
    """The sum insured less what the policy has paid or reserved this period for other claims."""
    assessed: Decimal | None = None
    """The payout as assessed so far (the computed payout, else the line items or the investigator's figure
    less the deductible, times the ratio); advances never go beyond it."""

    @property
    def ceiling(self) -> Decimal:
        """The most the claim can ever be paid: the amount claimed less the deductible, times the ratio,
        within the sum insured still available."""
        after = after_terms(self.claimed_amount, self.deductible, self.payout_ratio)
        return max(min(after, self.sum_insured_available), ZERO)


@dataclass(frozen=True)
class Authority:
    """Who may decide how much (docs/rules.md#authority-limits)."""

    limits: Mapping[str, Decimal | None]
    """Per role; None is unlimited."""
    system_limit: Decimal
    """The claim type's fast-path limit: what the system approves without a person."""
    dual_manager_threshold: Decimal
    team: frozenset[str] = frozenset()
    """The catastrophe team (`person_key`s) when a catastrophe's authority uplift is its team's alone."""
    outside_team: Mapping[str, Decimal | None] | None = None
    """The limits of everyone outside `team` (the claim's own, before the uplift); None: `limits` are everyone's."""

    def table_for(self, who: str | None) -> Mapping[str, Decimal | None]:
        """The limits that hold for this person: the uplifted ones for the catastrophe team, the usual ones for
        everyone else."""
        if self.outside_team is not None and (who is None or person_key(who) not in self.team):
            return self.outside_team
        return self.limits

    def limit(self, role: Role, who: str | None = None) -> Decimal | None:
        if role == Role.SYSTEM:
            return self.system_limit
        return self.table_for(who).get(role.value, ZERO)


@dataclass(frozen=True)
class MoneyDecision:
    kind: Kind
    decider_id: str
    role: Role
    amount: Decimal
    """For approvals, the payout approved; for advances, the advance."""


@dataclass(frozen=True)
class ClaimMoney:
    """What the claim has already: who took part, what was paid and is waiting to be paid."""

    terms: Terms
    paid: Decimal = ZERO
    pending_advances: Decimal = ZERO
    required_role: Role = Role.ADJUSTER
    """The tier the claim's decision needs now (amount, escalations, appeal or suspected fraud)."""
    conflicted: Mapping[str, str] = field(default_factory=dict)
    """Everyone who took part in the claim (every past handler, the investigator, earlier deciders),
    keyed by `person_key`, with their part."""
    approved_by: Sequence[str] = ()
    """Who has approved in the current round."""
    fraud_suspected: bool = False


def refusal(decision: MoneyDecision, claim: ClaimMoney, authority: Authority) -> str | None:
    """Why this decision may not move this money, or None when it may."""
    amount, role, who = decision.amount, decision.role, decision.decider_id
    if amount != cents(amount) or amount < ZERO:
        return f"{decision.kind}: the amount {amount} is not a positive sum in cents"
    if (role == Role.SYSTEM) != (decision.kind in (Kind.SYSTEM_APPROVAL, Kind.STATUTORY_ADVANCE)):
        return ("the system role cannot be used by a person" if role == Role.SYSTEM
                else f"a {decision.kind} is the system's, not a person's")
    if decision.kind == Kind.STATUTORY_ADVANCE and claim.fraud_suspected:
        return "statutory advance: the investigator suspects fraud, so a person decides any advance"
    if role != Role.SYSTEM:
        key = person_key(who)
        part = claim.conflicted.get(key)
        if part is not None and not (decision.kind == Kind.ADVANCE and part == ADVANCE_APPROVER):
            return f"{who} is the {claim.conflicted[key]} of this claim (four-eyes rule)"
        if key in {person_key(p) for p in claim.approved_by}:
            return f"{who} has already approved this claim (four-eyes rule)"

    moves = amount
    ceiling = claim.terms.ceiling
    advance = decision.kind in (Kind.ADVANCE, Kind.STATUTORY_ADVANCE)
    if advance:
        if amount <= ZERO:
            return f"{decision.kind}: the amount must be positive"
        moves = claim.paid + claim.pending_advances + amount
        if claim.terms.assessed is not None and claim.terms.assessed < ceiling:
            ceiling = claim.terms.assessed
            if moves > ceiling:
                return (f"{decision.kind}: advances would come to {moves}, above the payout assessed so far "
                        f"({ceiling})")
    if moves > ceiling:
        what = "advances would come to" if advance else "pays"
        return (f"{decision.kind}: {what} {moves}, above what this claim may be paid ({ceiling}: the amount "
                f"claimed less the deductible, times the payout ratio, within the sum insured still available)")
    if decision.kind == Kind.AGREED_ON_APPEAL and moves < claim.paid:
        return f"{decision.kind}: {moves} is less than the {claim.paid} already paid"

    if decision.kind == Kind.ADVANCE and RANK[role] < RANK[Role.SUPERVISOR]:
        return "advance: a supervisor or manager approves advances"
    # The law decides the statutory advance (art. 25): its bound is the ceiling above, not a role's limit.
    limit = None if decision.kind == Kind.STATUTORY_ADVANCE else authority.limit(role, who)
    if limit is not None and moves > limit:
        needed = role_for_amount(moves, authority.table_for(who))
        also = ""
        if role != Role.SYSTEM and authority.outside_team is not None and person_key(who) not in authority.team:
            team_limit = authority.limits.get(role.value, ZERO)  # the uplift is the catastrophe team's alone
            if team_limit is None or moves <= team_limit:
                also = f", or {role.value}s of the catastrophe team"
        return f"{role.value} may decide up to {limit}; this {decision.kind} ({moves}) needs a {needed.value}{also}"
    if decision.kind == Kind.ADVANCE and moves > authority.dual_manager_threshold:
        return (f"advance: advances would come to {moves}, above {authority.dual_manager_threshold}, where two "
                "managers must decide: decide the claim instead")
    if decision.kind in (Kind.APPROVAL, Kind.AGREED_ON_APPEAL) and RANK[role] < RANK[claim.required_role]:
        return f"this claim ({amount}) needs a {claim.required_role.value}; {role.value} may not decide it"
    return None


def refusal_as_it_stands(decision: MoneyDecision, claim: ClaimMoney, authority: Authority, *, recheck: bool = False,
                         queued: bool = False) -> str | None:
    """`refusal` for a decision already part of the claim: `recheck`, the decider's own approval is recorded (checked
    again at the moment money moves, it does not count as a second approval by the same person); `queued`, the
    advance checked is itself among those waiting to be paid (it is not counted twice)."""
    if queued:
        claim = replace(claim, pending_advances=claim.pending_advances - decision.amount)
    if recheck:
        me = person_key(decision.decider_id)
        claim = replace(claim, approved_by=[p for p in claim.approved_by if person_key(p) != me])
    return refusal(decision, claim, authority)


def recheck_approvals(approvals: Sequence[tuple[str, Role]], amount: Decimal, agreed_on_appeal: bool,
                      approved: bool, claim: ClaimMoney, authority: Authority) -> str | None:
    """At the moment of paying: the round is approved, and every approval that counts (the system's, and each of the
    required tier or above) is still within authority for the amount. Why not, or None."""
    if not approved:
        return f"nobody with the authority of a {claim.required_role.value} has approved {amount}"
    for who, role in approvals:
        if role == Role.SYSTEM:
            problem = refusal(MoneyDecision(Kind.SYSTEM_APPROVAL, "system", Role.SYSTEM, amount), claim, authority)
        elif RANK[role] >= RANK[claim.required_role]:
            kind = Kind.AGREED_ON_APPEAL if agreed_on_appeal else Kind.APPROVAL
            problem = refusal_as_it_stands(MoneyDecision(kind, who, role, amount), claim, authority, recheck=True)
        else:
            continue
        if problem:
            return problem
    return None
