"""The claim's decision core, alone: given these events, when this command, then these events or this refusal; and
the state machine over random sequences (testkit/core_machine.py), with the planted bugs it must find.

    CLAIMS_CORE_EXAMPLES=100000 .venv/bin/python bench/core_sequences.py   # the long run
"""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from core import claim as core
from core.claim import commands as c
from core.claim import decisions as decide_module
from core.claim import events as e
from core.claim.state import Period, Recovery
from core.rules.recovery import Reckoning
from models.contract import Outcome, Path, Role, Stage
from testkit.core_machine import LIMITS, TODAY, CoreMachine

D = Decimal
EXAMPLES = int(os.environ.get("CLAIMS_CORE_EXAMPLES", "2000"))
OLD = Period(TODAY - timedelta(days=400), TODAY - timedelta(days=36), D("12000"), D("500"), D("1"))
NEW = Period(TODAY - timedelta(days=35), TODAY + timedelta(days=330), D("12000"), D("0"), D("1"))


def given(*commands: c.Command) -> core.ClaimCore:
    state = core.INITIAL
    for command in commands:
        state = core.fold(state, core.decide(state, command))
    return state


def register(claimed: str = "8000.00", incident: date = TODAY - timedelta(days=100)) -> c.Register:
    return c.Register("C-1", D(claimed), incident, (OLD, NEW), LIMITS)


def awaiting_approval(claimed: str = "8000.00", path: Path = Path.STANDARD, **kwargs) -> list[c.Command]:
    return [register(claimed, **kwargs), c.Triage(path, True, False, False), c.Assess(D(claimed), D("0"))]


def test_a_claim_is_covered_by_the_period_its_incident_falls_in():
    state = given(register(incident=TODAY - timedelta(days=100)))
    assert state.period == OLD, "an incident before the renewal stays in the old period, with its terms"


def test_an_incident_outside_every_period_is_denied_at_registration():
    state = given(register(incident=TODAY - timedelta(days=900)))
    assert state.outcome == Outcome.DENIED and state.decision and state.decision.reason == "outside the period of cover"


def test_the_payout_reads_the_captured_terms_and_the_periods_sum_insured_left():
    state = given(register(), c.Triage(Path.STANDARD, True, False, False), c.Assess(D("8000.00"), D("7500.00")))
    assert state.payout == D("4500.00"), "12,000 less 7,500 held by other claims of the period"


def test_the_system_pays_a_small_clear_claim_and_the_gateways_answer_closes_it():
    state = given(*awaiting_approval("3200.00"))
    assert state.decision and state.decision.by == ("system",) and state.transfer is not None
    events = core.decide(state, c.PaymentSettled(state.transfer.sequence, state.transfer.amount))
    assert [type(x) for x in events] == [e.PaymentMade, e.Closed, e.ReserveSet], "closed, its reserve released"
    assert core.fold(state, events).outcome == Outcome.PAID


def test_an_appeal_waits_for_a_reviewer_whatever_runs_continue():
    state = given(*awaiting_approval(), c.Reject("adj-1", Role.ADJUSTER), c.Appeal("look again"), c.Resume(),
                  c.Resume())
    assert state.stage == Stage.AWAITING_APPROVAL and state.transfer is None and not state.decision_taken
    with pytest.raises(core.Refused, match="person who decided it before"):
        core.decide(state, c.Approve("adj-1", Role.SUPERVISOR))
    state = given(*awaiting_approval(), c.Reject("adj-1", Role.ADJUSTER), c.Appeal("look again"),
                  c.Approve("sup-1", Role.SUPERVISOR))
    assert state.transfer is not None and state.transfer.amount == D("7500.00")


def test_a_rejection_waits_for_the_transfer_in_flight():
    state = given(register("30000.00"), c.Triage(Path.GREEN, True, False, False), c.Assess(D("30000"), D("0")),
                  c.ApproveAdvance("sup-1", Role.SUPERVISOR, D("10000.00")))
    assert state.transfer is not None
    with pytest.raises(core.Refused, match="payment is being made"):
        core.decide(state, c.Reject("sup-2", Role.SUPERVISOR))


def test_after_the_decision_nobody_rejects_or_escalates_it():
    state = given(*awaiting_approval(), c.Approve("adj-1", Role.ADJUSTER))
    for command in (c.Reject("mgr-1", Role.MANAGER), c.Escalate("sup-1"), c.Approve("mgr-1", Role.MANAGER)):
        with pytest.raises(core.Refused, match="decided"):
            core.decide(state, command)
    assert core.decide(state, c.ClockBreached("payment")) == [], "a late payment does not reopen the decision"


def test_an_advance_above_the_decision_is_owed_back():
    state = given(register("30000.00"), c.Triage(Path.GREEN, True, False, False), c.Assess(D("30000"), D("0")),
                  c.ApproveAdvance("sup-1", Role.SUPERVISOR, D("10000.00")))
    state = core.fold(state, core.decide(state, c.PaymentSettled(state.transfer.sequence, D("10000.00"))))
    state = given_more(state, c.DocumentsOverdue()) if state.stage == Stage.AWAITING_DOCUMENTS else state
    events = core.decide(state, c.Reject("sup-2", Role.SUPERVISOR))
    state = core.fold(state, events)
    assert state.outcome == Outcome.DENIED
    assert [(r.amount, r.status.value) for r in state.recoveries] == [(D("10000.00"), "open")]
    with pytest.raises(core.Refused, match="manager"):
        core.decide(state, c.WriteOff(1, "sup-1", Role.SUPERVISOR))
    state = given_more(state, c.RecordRepayment(1, D("4000.00")), c.WriteOff(1, "mgr-1", Role.MANAGER))
    assert state.recoveries[0].status.value == "written_off"


def given_more(state: core.ClaimCore, *commands: c.Command) -> core.ClaimCore:
    for command in commands:
        state = core.fold(state, core.decide(state, command))
    return state


def test_an_appeal_with_nothing_to_pay_waits_for_its_reviewer_who_cannot_approve_nothing():
    """Denied for an excluded cause, so never assessed; the review assesses nothing (below the deductible). The
    reviewer answers it: approving nothing is refused (the system would deny it in the reviewer's place), a
    rejection upholds the denial."""
    excluded = c.Register("C-1", D("400.00"), TODAY - timedelta(days=100), (OLD, NEW), LIMITS, "cause excluded")
    state = given(excluded, c.Appeal("it was a car park"), c.Assess(D("400.00"), D("0")))
    assert state.stage == Stage.AWAITING_APPROVAL and state.payout == D("0.00") and state.outcome is None
    for amount in (None, D("0.00")):
        with pytest.raises(core.Refused, match="assesses nothing to pay"):
            core.decide(state, c.Approve("sup-2", Role.SUPERVISOR, amount))
    denied = given_more(state, c.Reject("sup-2", Role.SUPERVISOR, "below the deductible"))
    assert denied.outcome == Outcome.DENIED and denied.decision is not None and denied.decision.by == ("sup-2",)


def test_a_withdrawal_is_refused_once_payment_has_begun():
    state = given(*awaiting_approval(), c.Approve("adj-1", Role.ADJUSTER))
    with pytest.raises(core.Refused, match="payment has begun"):
        core.decide(state, c.Withdraw())


# ---------------------------------------------------------------------------------------------- the machine

MACHINE = settings(max_examples=EXAMPLES, stateful_step_count=30, deadline=None, derandomize=False,
                   suppress_health_check=list(HealthCheck), database=None)


def test_the_money_invariants_hold_over_random_sequences():
    started = time.monotonic()
    before = CoreMachine.sequences
    reached_before = CoreMachine.reached.copy()
    run_state_machine_as_test(CoreMachine, settings=MACHINE)
    ran = CoreMachine.sequences - before
    assert ran >= EXAMPLES, f"only {ran} sequences ran"
    reached = CoreMachine.reached - reached_before
    for event in ("RecoveryOpened", "RecoveryRepaid", "RecoveryWrittenOff", "RecoverySetOff", "AppealOpened",
                  "Reopened", "PaymentBounced", "ClosingWhenSettled", "WithdrawnWhileTheFinalWaitsForAnAccount",
                  "AppealNotUpheld:partial", "AppealNotUpheld:denied", "DecidedOnAppeal", "ReserveSet",
                  "ReserveProposed"):
        assert reached[event] >= EXAMPLES // 200, f"the sequences reached {event} only {reached[event]} times"
    print(f"\n{ran} core sequences in {time.monotonic() - started:.1f} s")  # noqa: T201


PLANTED = settings(max_examples=10_000, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck),
                   derandomize=True,
                   database=None, phases=[Phase.generate])


def skip_the_guard_on_resume(monkeypatch):
    honest = decide_module.decide

    def planted(state, command):
        if isinstance(command, c.Resume) and state.stage == Stage.AWAITING_APPROVAL and not state.decision_taken \
                and state.payout:
            approved = [e.Approved("system", Role.SYSTEM)]
            return approved + decide_module._decide_to_pay(core.fold(state, approved))
        return honest(state, command)

    monkeypatch.setattr(core, "decide", planted)


def accept_reject_after_the_decision(monkeypatch):
    honest = decide_module._deciding

    def planted(state, action, who, role, kind, amount):
        if action == "reject":
            return None
        return honest(state, action, who, role, kind, amount)

    def reject_any_time(state, command):  # once the decision is taken (before it, the honest rules answer)
        if isinstance(command, c.Reject) and state.decision_taken and state.stage in (Stage.AWAITING_APPROVAL,
                                                                                      Stage.PAYING):
            return decide_module._deny(state, "rejected", (command.who,))
        return decide_module.decide(state, command)

    monkeypatch.setattr(decide_module, "_deciding", planted)
    monkeypatch.setattr(core, "decide", reject_any_time)


def forget_the_period(monkeypatch):
    monkeypatch.setattr(decide_module, "period_of", lambda periods, day: max(periods, key=lambda p: p.starts))


def forget_what_was_written_off(monkeypatch):
    """A later closing counts only repayments as settled: a debt a manager wrote off is claimed back again."""
    monkeypatch.setattr(Recovery, "settled", property(lambda r: r.repaid))


def leave_money_out_as_a_note(monkeypatch):
    """Money out beyond the decision is noted, never owed back (the hole the recoveries close)."""
    monkeypatch.setattr(decide_module, "reckon", lambda *_: Reckoning())


def deny_on_a_rejected_appeal(monkeypatch):
    """A reviewer's rejection of the appeal of a partial approval denies the claim: what was paid is claimed back."""
    monkeypatch.setattr(decide_module, "_appeal_not_upheld", lambda s, who, reason: decide_module._deny(s, reason,
                                                                                                       (who,)))


def deny_an_appeal_with_nothing_to_pay(monkeypatch):
    """An appeal whose review assesses nothing to pay is denied by the system, with no reviewer (the stage the
    workflow then entered took neither an approval nor a rejection)."""
    honest = decide_module.after_assessment
    monkeypatch.setattr(decide_module, "after_assessment",
                        lambda s: Stage.CLOSED if s.payout is not None and s.payout <= 0 else honest(s))


@pytest.mark.parametrize("plant", [skip_the_guard_on_resume, accept_reject_after_the_decision, forget_the_period,
                                   leave_money_out_as_a_note, forget_what_was_written_off,
                                   deny_on_a_rejected_appeal, deny_an_appeal_with_nothing_to_pay])
def test_the_machine_finds_a_planted_bug(plant, monkeypatch):
    plant(monkeypatch)
    with pytest.raises(AssertionError):
        run_state_machine_as_test(CoreMachine, settings=PLANTED)


def test_money_owed_back_is_set_off_when_a_later_decision_allows_it():
    """Closed incomplete after an advance (owed back), reopened, then approved in full: nothing is owed any more."""
    state = given(register("30000.00"), c.Triage(Path.GREEN, True, False, True),
                  c.ApproveAdvance("sup-1", Role.SUPERVISOR, D("10000.00")))
    state = given_more(state, c.PaymentSettled(state.transfer.sequence, D("10000.00")), c.DocumentsOverdue())
    assert [r.outstanding for r in state.recoveries] == [D("10000.00")]
    state = given_more(state, c.Reopen("sup-2", Role.SUPERVISOR), c.DocumentsComplete(), c.Assess(D("30000"), D("0")),
                       c.Approve("sup-3", Role.SUPERVISOR))
    state = given_more(state, c.PaymentSettled(state.transfer.sequence, state.transfer.amount))
    assert state.outcome == Outcome.PAID and state.paid == state.decision.amount == D("12000.00")  # the sum insured
    assert [(r.outstanding, r.status.value) for r in state.recoveries] == [(D("0.00"), "set_off")]


def test_an_appeal_of_a_partial_approval_that_is_not_upheld_leaves_the_payment_standing():
    state = given(register("30000.00"), c.Triage(Path.STANDARD, True, False, False), c.Assess(D("8000"), D("0")),
                  c.Approve("sup-1", Role.SUPERVISOR))
    state = given_more(state, c.PaymentSettled(state.transfer.sequence, state.transfer.amount))
    assert (state.outcome, state.decision.kind, state.paid) == (Outcome.PAID, "partial", D("7500.00"))
    state = given_more(state, c.Appeal("the garage's estimate was higher"), c.Reject("sup-2", Role.SUPERVISOR, "no"))
    assert (state.outcome, state.decision.kind, state.decision.amount) == (Outcome.PAID, "partial", D("7500.00"))
    assert state.recoveries == (), "the partial payment is not claimed back"


def test_a_claim_outside_every_period_cannot_be_appealed_into_a_dead_end():
    state = given(register(incident=TODAY - timedelta(days=900)))
    with pytest.raises(core.Refused, match="no period"):
        core.decide(state, c.Appeal("please"))


@pytest.mark.parametrize("amount", [D("NaN"), D("Infinity"), D("-Infinity")])
def test_an_amount_that_is_not_a_sum_is_refused(amount):
    state = given(register("30000.00"), c.Triage(Path.GREEN, True, False, False))
    for command in (c.Assess(amount, D("0")), c.ApproveAdvance("sup-1", Role.SUPERVISOR, amount)):
        with pytest.raises(core.Refused, match="not an amount"):
            core.decide(state, command)
