"""Properties of the pure money rules (docs/rules.md, payout and authority), over hundreds of generated cases, no
Temporal."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from config.rules import AUTHORITY_LIMITS, CLAUSES
from core.rules import authority
from core.rules import money as money_guard
from core.rules import payout as payout_rules
from core.rules.payout import compute_payout
from models.contract import ApprovalRecord, LineItem, Role

D = Decimal
CENT = D("0.01")
RUNS = settings(max_examples=300, deadline=None)
DUAL = D("500000")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


money = st.decimals(min_value=D("0.00"), max_value=D("3000000.00"), places=2, allow_nan=False, allow_infinity=False)
positive = st.decimals(min_value=D("0.01"), max_value=D("3000000.00"), places=2, allow_nan=False,
                       allow_infinity=False)
ratios = st.decimals(min_value=D("0.0001"), max_value=D("1"), places=4, allow_nan=False, allow_infinity=False)
items = st.lists(money.map(lambda a: LineItem(description="item", amount=a)), max_size=4)
roles = st.sampled_from([Role.ADJUSTER, Role.SUPERVISOR, Role.MANAGER])
amounts_at_the_tiers = st.sampled_from([D("9999.99"), D("10000.01"), D("100000.00"), D("500000.01"),
                                        D("900000.00")]) | money
people = st.sampled_from(["adj-1", "ADJ-1", "sup-1", "sup-2", "mgr-1", "MGR-1", "mgr-2", "inv-1"])


@st.composite
def payout_cases(draw: st.DrawFn) -> dict[str, object]:
    return dict(claimed_amount=draw(positive), line_items=draw(items), confirmed_amount=draw(st.none() | money),
                deductible=draw(money), payout_ratio=draw(ratios), sum_insured=draw(money),
                paid_on_policy=draw(money), advances_paid=draw(money), clauses=CLAUSES)


# ---------------------------------------------------------------------- payout


@RUNS
@given(payout_cases())
def test_payout_is_never_negative_and_in_cents(case):
    p = compute_payout(**case)
    assert p.total >= 0 and p.amount >= 0, f"negative payout {p.total} / {p.amount} for {case}"
    assert p.total == p.total.quantize(CENT) and p.amount == p.amount.quantize(CENT), f"not in cents: {p}"


@RUNS
@given(payout_cases())
def test_payout_never_exceeds_claimed_less_deductible_times_ratio(case):
    p = compute_payout(**case)
    ceiling = cents(max(case["claimed_amount"] - case["deductible"], D(0)) * case["payout_ratio"])
    assert p.total <= ceiling, f"payout {p.total} above (claimed - deductible) x ratio = {ceiling}"
    assert p.total <= case["claimed_amount"], f"payout {p.total} above the amount claimed"


@RUNS
@given(payout_cases())
def test_payout_never_exceeds_the_sum_insured_still_available(case):
    p = compute_payout(**case)
    available = max(case["sum_insured"] - case["paid_on_policy"], D(0))
    assert p.total <= available, f"payout {p.total} above the {available} still available on the policy"


@RUNS
@given(payout_cases())
def test_advances_already_paid_are_subtracted_from_what_is_paid_now(case):
    p = compute_payout(**case)
    assert p.amount == max(p.total - case["advances_paid"], D(0)), (
        f"paid now {p.amount}, expected total {p.total} less advances {case['advances_paid']}")


@RUNS
@given(payout_cases())
def test_zero_payout_names_its_reason_and_every_step_cites_a_clause(case):
    p = compute_payout(**case)
    assert (p.total == 0) == (p.zero_reason is not None), f"zero reason {p.zero_reason!r} with total {p.total}"
    assert all(step.clause for step in p.basis), f"a basis step without its clause: {p.basis}"


# ---------------------------------------------------------------------- authority


def approval(person: str, role: Role) -> ApprovalRecord:
    return ApprovalRecord(approver_id=person, role=role, at=datetime(2026, 1, 1, tzinfo=UTC))


def covers(role: Role, amount: Decimal) -> bool:
    limit = AUTHORITY_LIMITS.get(role.value)
    return limit is None or amount <= limit


@RUNS
@given(amount=amounts_at_the_tiers, escalations=st.integers(0, 4), floor=roles)
def test_required_role_covers_the_amount_and_respects_floor_and_escalations(amount, escalations, floor):
    required = authority.required_role(amount, AUTHORITY_LIMITS, escalations, floor)
    assert covers(required, amount), f"{required} may not approve {amount}"
    assert authority.RANK[required] >= authority.RANK[floor]
    unescalated = authority.required_role(amount, AUTHORITY_LIMITS, 0, floor)
    assert authority.RANK[required] >= authority.RANK[unescalated], "an escalation lowered the tier"


@RUNS
@given(amount=money, required=roles)
def test_two_managers_are_needed_above_the_dual_threshold_only(amount, required):
    needed = authority.approvals_needed(amount, required, DUAL)
    assert needed == (2 if required == Role.MANAGER and amount > DUAL else 1)


@st.composite
def claims_money(draw: st.DrawFn) -> money_guard.ClaimMoney:
    terms = money_guard.Terms(claimed_amount=draw(positive), deductible=draw(money), payout_ratio=draw(ratios),
                              sum_insured_available=draw(money), assessed=draw(st.none() | money))
    return money_guard.ClaimMoney(
        terms=terms, paid=draw(money), pending_advances=draw(money),
        required_role=draw(roles),
        conflicted={authority.person_key(p): part for p, part in draw(st.dictionaries(
            people, st.sampled_from(["handler", "former handler", "investigator"]), max_size=3)).items()},
        approved_by=draw(st.lists(people, max_size=2)), fraud_suspected=draw(st.booleans()))


GUARD_AUTHORITY = money_guard.Authority(limits=AUTHORITY_LIMITS, system_limit=D("5000"), dual_manager_threshold=DUAL)


@st.composite
def guard_authorities(draw: st.DrawFn) -> money_guard.Authority:
    """The usual limits, or a catastrophe's uplift: for everyone, or for its team alone (docs/catastrophes.md)."""
    uplift = draw(st.sampled_from([D("1"), D("1.5"), D("2"), D("5")]))
    if uplift == 1:
        return GUARD_AUTHORITY
    lifted = {role: None if limit is None else limit * uplift for role, limit in AUTHORITY_LIMITS.items()}
    team = draw(st.lists(people, max_size=3))
    return money_guard.Authority(limits=lifted, system_limit=D("5000"), dual_manager_threshold=DUAL,
                                 team=frozenset(authority.person_key(p) for p in team),
                                 outside_team=AUTHORITY_LIMITS if team else None)


@RUNS
@given(kind=st.sampled_from(list(money_guard.Kind)), person=people | st.just("system"),
       role=st.sampled_from(list(Role)), amount=amounts_at_the_tiers, claim=claims_money(), guard=guard_authorities())
def test_the_money_guard_lets_no_decision_move_money_beyond_terms_authority_or_four_eyes(kind, person, role, amount,
                                                                                        claim, guard):
    decision = money_guard.MoneyDecision(kind=kind, decider_id=person, role=role, amount=amount)
    if money_guard.refusal(decision, claim, guard) is not None:
        return
    advance = kind in (money_guard.Kind.ADVANCE, money_guard.Kind.STATUTORY_ADVANCE)
    moves = claim.paid + claim.pending_advances + amount if advance else amount
    assert moves <= claim.terms.ceiling, f"{kind} moves {moves}, above the ceiling {claim.terms.ceiling}"
    if advance and claim.terms.assessed is not None:
        assert moves <= claim.terms.assessed, f"advances of {moves} above the payout assessed {claim.terms.assessed}"
    if kind == money_guard.Kind.ADVANCE:
        assert moves <= DUAL, f"one person's advances of {moves} passed the two-manager threshold"
    assert claim.terms.ceiling <= claim.terms.sum_insured_available
    assert claim.terms.ceiling <= max(claim.terms.claimed_amount - claim.terms.deductible, D("0"))
    system_kind = kind in (money_guard.Kind.SYSTEM_APPROVAL, money_guard.Kind.STATUTORY_ADVANCE)
    assert (role == Role.SYSTEM) == system_kind, f"{role} made a {kind}"
    if kind != money_guard.Kind.STATUTORY_ADVANCE:
        limit = D("5000") if role == Role.SYSTEM else guard.limits.get(role.value)
        assert limit is None or moves <= limit, f"{role} moved {moves} beyond its limit {limit}"
        usual = AUTHORITY_LIMITS.get(role.value)
        if role != Role.SYSTEM and guard.outside_team is not None and person.strip().casefold() not in guard.team:
            assert usual is None or moves <= usual, f"{person}, outside the catastrophe team, moved {moves} beyond " \
                                                    f"the usual {role} limit {usual}"
    else:
        assert not claim.fraud_suspected, "the statutory advance paid itself while fraud is suspected"
    if role != Role.SYSTEM:
        who = person.casefold()
        assert who not in claim.conflicted, f"{person} decided although {claim.conflicted[who]}"
        assert who not in {p.casefold() for p in claim.approved_by}, f"{person} approved twice"
    if kind in (money_guard.Kind.APPROVAL, money_guard.Kind.AGREED_ON_APPEAL):
        assert authority.RANK[role] >= authority.RANK[claim.required_role]
    if kind == money_guard.Kind.ADVANCE:
        assert authority.RANK[role] >= authority.RANK[Role.SUPERVISOR]


@RUNS
@given(person=people, role=st.sampled_from([Role.ADJUSTER, Role.SUPERVISOR]), amount=amounts_at_the_tiers,
       team=st.lists(people, max_size=3), uplift=st.sampled_from([D("1.5"), D("2"), D("5")]))
def test_a_catastrophe_uplift_for_its_team_is_the_teams_alone(person, role, amount, team, uplift):
    """A catastrophe that names its team raises its members' limits; everyone else decides within the usual ones, and
    is told the team could decide it where a member could."""
    lifted = {r: None if limit is None else limit * uplift for r, limit in AUTHORITY_LIMITS.items()}
    guard = money_guard.Authority(limits=lifted, system_limit=D("5000"), dual_manager_threshold=DUAL,
                                  team=frozenset(authority.person_key(p) for p in team), outside_team=AUTHORITY_LIMITS)
    room = money_guard.Terms(claimed_amount=D("9000000"), deductible=D("0"), payout_ratio=D("1"),
                             sum_insured_available=D("9000000"))
    refused = money_guard.refusal(money_guard.MoneyDecision(money_guard.Kind.APPROVAL, person, role, amount),
                                  money_guard.ClaimMoney(terms=room), guard)
    member = person.casefold() in {p.casefold() for p in team}
    limit = (lifted if member else AUTHORITY_LIMITS)[role.value]
    assert (refused is None) == (limit is None or amount <= limit), f"{person} ({role}, team {team}): {refused}"
    if refused is not None and not member:
        within = lifted[role.value]
        assert ("catastrophe team" in refused) == (within is None or amount <= within), refused


@RUNS
@given(amount=amounts_at_the_tiers, approvals=st.lists(st.tuples(people, roles), max_size=4))
def test_is_approved_counts_distinct_qualified_people(amount, approvals):
    required = authority.required_role(amount, AUTHORITY_LIMITS, 0)
    needed = authority.approvals_needed(amount, required, DUAL)
    records = [approval(p, r) for p, r in approvals]
    if authority.is_approved(records, required, needed):
        qualified = {p.lower() for p, r in approvals if authority.RANK[r] >= authority.RANK[required]}
        assert len(qualified) >= needed, (
            f"{amount} approved by {approvals}: {len(qualified)} distinct qualified people, {needed} needed")
        assert all(covers(r, amount) for _, r in approvals if authority.RANK[r] >= authority.RANK[required])


# ---------------------------------------------------------------------------------------------- after the payout


def a_payout(claimed: Decimal, items: list[LineItem], deductible: Decimal, ratio: Decimal) -> Any:
    return compute_payout(claimed_amount=claimed, line_items=items, confirmed_amount=None, deductible=deductible,
                          payout_ratio=ratio, sum_insured=D("3000000.00"), paid_on_policy=D("0"),
                          advances_paid=D("0"), clauses=CLAUSES)


@RUNS
@given(claimed=positive, items=items, deductible=money, ratio=ratios, paid=money, owed_back=st.booleans())
def test_advances_beyond_the_payout_are_never_paid_again(claimed, items, deductible, ratio, paid, owed_back):
    assessed = a_payout(claimed, items, deductible, ratio)
    payout, over = payout_rules.net_of_paid(assessed, paid, "clause", owed_back=owed_back)
    if paid <= assessed.total:
        assert (payout, over) == (assessed, D("0")), "a payout advances do not exceed is left as it was"
        return
    assert over == paid - assessed.total and payout.amount == 0, f"{paid} paid against {assessed.total}: pays more"
    assert payout.total == (assessed.total if owed_back else paid), "the decision keeps the payout assessed"
    assert payout.basis[-1].amount == payout.total and len(payout.basis) == len(assessed.basis) + 1


@RUNS
@given(claimed=positive, items=items, deductible=money, ratio=ratios, agreed=money, paid=money)
def test_an_amount_agreed_on_appeal_pays_only_what_is_still_owed(claimed, items, deductible, ratio, agreed, paid):
    payout = payout_rules.agreed_on_appeal(a_payout(claimed, items, deductible, ratio), agreed, paid, "clause")
    assert payout.total == agreed and payout.amount == max(agreed - paid, D("0"))
    assert payout_rules.still_to_pay(payout.total, paid) == payout.amount


@RUNS
@given(claimed=positive, items=items, deductible=money, ratio=ratios, before=money, now=money)
def test_a_payment_cut_at_paying_is_the_whole_decision(claimed, items, deductible, ratio, before, now):
    payout = payout_rules.capped_at_payment(a_payout(claimed, items, deductible, ratio), before, now, "clause")
    assert payout.total == before + now and payout.amount == now and not payout.in_full
    assert (payout.zero_reason == "sum insured exhausted") == (before + now <= 0)


@RUNS
@given(determinable=money, disputed=st.booleans(), share=ratios)
def test_the_statutory_advance_is_the_share_of_what_is_determinable(determinable, disputed, share):
    amount, used = payout_rules.statutory_advance(determinable, disputed, share)
    assert used == (share if disputed else D("1"))
    assert amount == (determinable * used).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert D("0") <= amount <= determinable


@RUNS
@given(claimed=positive, items=items, deductible=money, ratio=ratios)
def test_the_estimate_before_the_payout_is_the_payout_the_line_items_give(claimed, items, deductible, ratio):
    guess = payout_rules.estimate(claimed_amount=claimed, line_items=items, confirmed_amount=None,
                                  deductible=deductible, payout_ratio=ratio)
    if not items:
        assert guess is None
    else:
        assert guess == a_payout(claimed, items, deductible, ratio).total  # the sum insured here never binds
