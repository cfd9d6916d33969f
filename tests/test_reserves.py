"""The case reserve in the decision core (core/claim/reserves.py; docs/finance.md#reserves): set at registration,
following the claim, released by payments, zero at closing, and set by staff within their reserve authority. The
state machine (testkit/core_machine.py) checks the same rules after every step of random sequences; here each rule
once, by name, and the planted bugs the machine must find."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from core import claim as core
from core.claim import commands as c
from core.claim import events as e
from core.claim import reserves
from core.claim.state import ClaimCore, Period, ReserveTable
from models.contract import ErrorType, Outcome, Path, Role, Stage
from testkit.core_machine import LIMITS, TODAY, CoreMachine

D = Decimal
PERIOD = Period(TODAY - timedelta(days=35), TODAY + timedelta(days=330), D("2000000"), D("0"), D("1"))
TABLE = ReserveTable(initial=None, adjuster=D("50000"), supervisor=D("500000"), four_eyes_above=D("1000000"))


def given(*commands: c.Command, state: ClaimCore = core.INITIAL) -> ClaimCore:
    for command in commands:
        state = core.fold(state, core.decide(state, command))
    return state


def register(claimed: str = "8000.00", table: ReserveTable = TABLE) -> c.Register:
    return c.Register("C-1", D(claimed), TODAY - timedelta(days=3), (PERIOD,), LIMITS, reserves=table)


def refused(state: ClaimCore, command: c.Command) -> core.Refused:
    with pytest.raises(core.Refused) as caught:
        core.decide(state, command)
    return caught.value


def test_a_claim_holds_the_amount_claimed_as_its_reserve_from_registration():
    state = given(register("8000.00"))
    assert (state.reserve, state.estimate) == (D("8000.00"), D("8000.00"))


def test_the_initial_reserve_is_the_tables_figure_within_the_sum_insured():
    state = given(register("8000.00", ReserveTable(initial=D("3500.00"))))
    assert state.reserve == D("3500.00"), "the average cost for the claim's type and cause"
    assert given(register("800.00", ReserveTable(initial=D("3500.00")))).reserve == D("800.00"), \
        "never above what the claim may be paid"
    small = Period(PERIOD.starts, PERIOD.ends, D("2000"), D("0"), D("1"))
    state = given(c.Register("C-2", D("8000.00"), TODAY, (small,), LIMITS))
    assert state.reserve == D("2000"), "never above the sum insured available"


def test_the_reserve_is_revised_to_the_payout_released_by_payment_and_zero_at_closing():
    state = given(register("8000.00"), c.Triage(Path.STANDARD, True, False, False), c.Assess(D("6000.00"), D("0")))
    assert state.stage == Stage.AWAITING_APPROVAL and state.reserve == D("6000.00"), "revised to the payout"
    state = given(c.Approve("adj-1", Role.ADJUSTER), state=state)
    assert state.transfer is not None and state.reserve == D("6000.00")
    state = given(c.PaymentSettled(state.transfer.sequence, D("6000.00")), state=state)
    assert state.outcome == Outcome.PAID and state.reserve == D("0") and state.estimate == D("6000.00")


def test_a_reserve_too_low_for_a_payment_is_raised_in_the_same_decision_before_the_payment():
    state = given(register("8000.00"), c.Triage(Path.STANDARD, True, False, False), c.Assess(D("6000.00"), D("0")),
                  c.SetReserve("adj-2", Role.ADJUSTER, D("6000.00"), "as assessed"))
    events = core.decide(state, c.Approve("adj-1", Role.ADJUSTER))
    moved = [event for event in events if isinstance(event, e.ReserveSet)]
    assert [m.reserve for m in moved] == [D("6000.00")], "a reserve that covers the payment stays as it is"
    state = given(register("8000.00"), c.Triage(Path.GREEN, True, False, False),
                  c.SetReserve("sup-1", Role.SUPERVISOR, D("100.00"), "small"))
    events = core.decide(state, c.ApproveAdvance("sup-2", Role.SUPERVISOR, D("3000.00")))
    kinds = [type(event).__name__ for event in events]
    assert kinds.index("ReserveSet") < kinds.index("PaymentRequested"), kinds
    raised = next(event for event in events if isinstance(event, e.ReserveSet))
    assert raised.reserve == D("3000.00") and "raised" in raised.cause


def test_a_withdrawal_or_denial_leaves_no_reserve_and_a_reopening_sets_one_again():
    state = given(register("8000.00"), c.Triage(Path.STANDARD, True, False, True), c.DocumentsOverdue())
    assert state.outcome == Outcome.CLOSED_INCOMPLETE and state.reserve == 0
    state = given(c.Reopen("sup-1", Role.SUPERVISOR), state=state)
    assert state.reserve == D("8000.00"), "a reopened claim is reserved again"
    state = given(c.Withdraw("no longer"), state=state)
    assert state.reserve == 0


@pytest.mark.parametrize(("who", "role", "amount", "error", "says"), [
    ("adj-1", Role.ADJUSTER, "-1.00", ErrorType.INVALID_UPDATE, "not a sum in cents"),
    ("adj-1", Role.ADJUSTER, "10.001", ErrorType.INVALID_UPDATE, "not a sum in cents"),
    ("adj-1", Role.ADJUSTER, "60000.00", ErrorType.NOT_AUTHORIZED, "adjuster may set a reserve up to 50000"),
    ("sup-1", Role.SUPERVISOR, "600000.00", ErrorType.NOT_AUTHORIZED, "supervisor may set a reserve up to"),
    ("sys", Role.SYSTEM, "10.00", ErrorType.NOT_AUTHORIZED, "system role"),
])
def test_a_reserve_outside_the_setters_authority_or_not_a_sum_is_refused(who, role, amount, error, says):
    refusal = refused(given(register()), c.SetReserve(who, role, D(amount), "revised"))
    assert refusal.type == error and says in refusal.reason, refusal.reason


def test_a_reserve_above_the_four_eyes_threshold_takes_a_second_manager():
    state = given(register("1500000.00"), c.SetReserve("mgr-1", Role.MANAGER, D("1200000.00"), "severe"))
    assert state.reserve == D("1500000.00") and state.reserve_proposal is not None, "proposed, not yet set"
    refusal = refused(state, c.SetReserve("MGR-1", Role.MANAGER, D("1200000.00"), "again"))
    assert refusal.type == ErrorType.NOT_AUTHORIZED and "four-eyes" in refusal.reason
    events = core.decide(state, c.SetReserve("mgr-2", Role.MANAGER, D("1200000.00"), "agreed"))
    assert events == [e.ReserveSet(D("1200000.00"), D("1200000.00"), reserves.basis(state),
                                   "set by staff: agreed", ("mgr-1", "mgr-2"), Role.MANAGER)]


def test_a_closed_claim_takes_no_reserve():
    state = given(register(), c.Withdraw("no longer"))
    refusal = refused(state, c.SetReserve("sup-1", Role.SUPERVISOR, D("100.00"), "late"))
    assert refusal.type == ErrorType.NOT_ALLOWED and "closed" in refusal.reason


def test_a_reserve_below_what_is_decided_and_unpaid_is_refused():
    state = given(register("8000.00"), c.Triage(Path.STANDARD, True, False, False), c.Assess(D("6000.00"), D("0")),
                  c.Approve("adj-1", Role.ADJUSTER))
    refusal = refused(state, c.SetReserve("sup-1", Role.SUPERVISOR, D("100.00"), "too low"))
    assert refusal.type == ErrorType.INVALID_UPDATE and "6000.00 decided or on its way" in refusal.reason


# ---------------------------------------------------------------------------------------------- planted bugs

PLANTED = settings(max_examples=10_000, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck),
                   derandomize=True, database=None, phases=[Phase.generate])


def never_raise_the_reserve(monkeypatch):
    """A payment goes out on a reserve too low for it: the reserve goes below zero."""
    monkeypatch.setattr(ClaimCore, "committed", property(lambda s: D("0")))


def keep_the_reserve_at_closing(monkeypatch):
    honest = reserves.basis
    monkeypatch.setattr(reserves, "basis", lambda s: honest(s).replace("closed", "kept"))


def let_anyone_set_any_reserve(monkeypatch):
    monkeypatch.setattr(ReserveTable, "limit", lambda table, role: None)


def keep_what_third_parties_owe_beyond_the_cost(monkeypatch):
    """A claim that closes costing less keeps expecting from third parties what it no longer cost."""
    from core.claim import decisions
    monkeypatch.setattr(decisions, "third_party_cuts", lambda *_: [])


@pytest.mark.parametrize("plant", [never_raise_the_reserve, keep_the_reserve_at_closing, let_anyone_set_any_reserve,
                                   keep_what_third_parties_owe_beyond_the_cost])
def test_the_machine_finds_a_planted_reserve_bug(plant, monkeypatch):
    plant(monkeypatch)
    with pytest.raises(AssertionError):
        run_state_machine_as_test(CoreMachine, settings=PLANTED)
