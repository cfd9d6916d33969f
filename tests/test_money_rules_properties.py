"""Properties of the pure money rules (SPEC sections 4 and 6), over hundreds of generated cases, no Temporal."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from config.rules import AUTHORITY_LIMITS, CLAUSES
from models.contract import ApprovalRecord, LineItem, Role
from workflows.rules import authority
from workflows.rules.payout import compute_payout

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


@RUNS
@given(person=people, role=st.sampled_from(list(Role)), amount=money, escalations=st.integers(0, 2),
       earlier=st.lists(st.tuples(people, roles), max_size=3),
       conflicted=st.dictionaries(people, st.sampled_from(["handler", "investigator"]), max_size=2))
def test_refusal_lets_nobody_decide_beyond_authority_or_against_four_eyes(person, role, amount, escalations,
                                                                           earlier, conflicted):
    required = authority.required_role(amount, AUTHORITY_LIMITS, escalations)
    approvals = [approval(p, r) for p, r in earlier]
    problem = authority.refusal(approver_id=person, role=role, amount=amount, required=required,
                                limits=AUTHORITY_LIMITS, approvals=approvals, conflicted=conflicted)
    if problem is not None:
        return
    who = person.lower()
    assert role != Role.SYSTEM, "a person acted as the system"
    assert covers(role, amount), f"{person} as {role} allowed to approve {amount}"
    assert who not in {c.lower() for c in conflicted}, f"{person} allowed although conflicted: {conflicted}"
    assert who not in {a.approver_id.lower() for a in approvals}, f"{person} allowed to approve twice"


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
