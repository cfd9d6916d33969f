"""The workflow's state read as the decision core's (`workflows/core_view.py`) in the moments between two of the
workflow's own steps, where an update can arrive while an activity runs: the core must be asked about the claim as
it is, not as the stage field last said."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from temporalio.exceptions import ApplicationError

from config.rules import load_rules
from config.settings import Settings
from core.claim import commands as c
from models.contract import (
    Appeal,
    ClaimInput,
    Decision,
    Outcome,
    Path,
    PaymentRecord,
    Payout,
    PolicyTerms,
    RecordInvestigation,
    Reject,
    Reopen,
    RiskAssessment,
    Role,
    Stage,
    Withdraw,
)
from testkit.claims import auto_claim
from workflows import core_view
from workflows.claim_state import ClaimState

NOW = datetime(2026, 6, 1, tzinfo=UTC)
LOW = RiskAssessment.model_validate({"score": 10, "level": "low", "reasons": []})


def a_claim(**changes: object) -> ClaimState:
    claim = ClaimInput.model_validate(auto_claim(claimed_amount="3200.00",
                                                 incident={"occurred_at": "2026-05-20T08:00:00+00:00"}))
    s = ClaimState(claim.claim_id, claim=claim, rules=load_rules(Settings()), stage=Stage.AWAITING_APPROVAL,
                   policy=PolicyTerms(policy_number=claim.policy_number, product=claim.claim_type, status="active",
                                      effective_from=date(2026, 1, 1), effective_to=date(2026, 12, 31),
                                      sum_insured=Decimal("50000"), deductible=Decimal("0"),
                                      payout_ratio=Decimal("1")))
    for name, value in changes.items():
        setattr(s, name, value)
    return s


def refused(s: ClaimState, action: str, command: c.Command) -> str:
    with pytest.raises(ApplicationError) as raised:
        core_view.check(s, action, command)
    return str(raised.value)


def test_a_withdrawal_is_refused_while_a_denial_is_being_written() -> None:
    s = a_claim(decision=Decision(kind="denied", amount=Decimal("0"), decided_by="sup-1", decided_at=NOW),
                decision_taken=True)
    assert "closed (denied)" in refused(s, "withdraw", c.Withdraw("changed my mind"))


def test_an_advance_taken_up_but_not_yet_sent_still_waits_to_be_paid() -> None:
    s = a_claim(advance_requests=[(Decimal("1000"), "sup-1", Role.SUPERVISOR)], advance_in_flight=True,
                stage=Stage.AWAITING_DOCUMENTS)
    core = core_view.view(s)
    assert core.in_flight == Decimal("1000"), "the advance the workflow is about to send is money on its way"
    assert "payment has begun" in refused(s, "withdraw", c.Withdraw())


def test_an_advance_with_the_gateway_is_the_transfer_and_not_also_waiting() -> None:
    s = a_claim(advance_requests=[(Decimal("1000"), "sup-1", Role.SUPERVISOR)], advance_in_flight=True,
                transfer_in_flight=True, payout_sequence=1, stage=Stage.AWAITING_DOCUMENTS)
    core = core_view.view(s)
    assert core.transfer is not None and core.transfer.amount == Decimal("1000")
    assert core.advances_waiting == () and core.in_flight == Decimal("1000")


def test_a_claim_withdrawn_while_its_refused_final_payment_waited_reads_alike() -> None:
    s = a_claim(decision=Decision(kind="approved", amount=Decimal("3200"), decided_by="sup-1", decided_at=NOW),
                decision_taken=True, withdrawal=Withdraw(by="claimant", reason="settled privately"),
                outcome=Outcome.WITHDRAWN, stage=Stage.CLOSED)
    assert core_view.disagreements(s) == []
    assert not core_view.view(s).money_moving


def test_a_claim_paid_and_closed_still_reads_as_money_moved() -> None:
    paid = PaymentRecord(sequence=1, kind="final", amount=Decimal("3200"), idempotency_key="k", reference="r",
                         account="****2222", paid_at=NOW)
    s = a_claim(decision=Decision(kind="approved", amount=Decimal("3200"), decided_by="sup-1", decided_at=NOW),
                decision_taken=True, payments=[paid], payout_sequence=1, outcome=Outcome.PAID, stage=Stage.CLOSED)
    assert core_view.disagreements(s) == []
    assert core_view.view(s).money_moving


@pytest.mark.parametrize(("review", "stage"), [("appeal", Stage.ADJUSTING), (None, Stage.AWAITING_DOCUMENTS)])
def test_a_claim_appealed_or_reopened_is_open_before_it_enters_its_next_stage(review: str | None,
                                                                             stage: Stage) -> None:
    s = a_claim(decision=Decision(kind="denied", amount=Decimal("0"), decided_by="sup-1", decided_at=NOW),
                stage=Stage.CLOSED, outcome=None, review=review)
    core = core_view.view(s)
    assert core.stage == stage and not core.closed
    core_view.check(s, "withdraw", c.Withdraw("no longer needed"))
    assert "not awaiting approval" in refused(s, "approve", c.Approve("sup-2", Role.SUPERVISOR))


# ---------------------------------------------------------------------------------------------- accepted, not yet done
# An update the workflow accepted is a fact for the next validator, though the handler or the lifecycle step that
# carries it out is still writing its timeline entry or letter (an activity) when the next update arrives.


def a_denial_on_its_way() -> ClaimState:
    return a_claim(path=Path.GREEN, rejection=Reject(approver_id="sup-1", role=Role.SUPERVISOR, reason="not covered",
                                                      clause="clause 4"))


@pytest.mark.parametrize("command", [c.Approve("sup-2", Role.SUPERVISOR), c.Escalate("adj-1"), c.Withdraw(),
                                     c.Reject("sup-2", Role.SUPERVISOR),
                                     c.ApproveAdvance("sup-2", Role.SUPERVISOR, Decimal("500"))],
                         ids=lambda command: type(command).__name__)
def test_an_accepted_rejection_is_the_decision_for_every_update_after_it(command: c.Command) -> None:
    s = a_denial_on_its_way()
    assert core_view.view(s).decision_taken
    refused(s, type(command).__name__.lower(), command)


def test_a_recorded_investigation_is_not_recorded_twice() -> None:
    s = a_claim(stage=Stage.INVESTIGATING, investigation_reason="high risk",
                investigation=RecordInvestigation(investigator_id="inv-1", findings="as claimed"))
    assert core_view.view(s).stage == Stage.ADJUSTING
    assert "investigating" in refused(s, "record_investigation", c.RecordInvestigation("inv-2", None, False))


def test_a_lodged_appeal_takes_no_decision_and_no_second_appeal_until_it_is_taken_up() -> None:
    s = a_claim(decision=Decision(kind="denied", amount=Decimal("0"), decided_by="sup-1", decided_at=NOW),
                stage=Stage.CLOSED, outcome=Outcome.DENIED, appeal=Appeal(reason="the repair was covered"))
    assert core_view.view(s).appeals == 1
    for action, command in [("appeal", c.Appeal("again")), ("approve", c.Approve("sup-2", Role.SUPERVISOR)),
                            ("withdraw", c.Withdraw())]:
        refused(s, action, command)


def test_a_lodged_reopening_is_not_lodged_twice() -> None:
    s = a_claim(stage=Stage.CLOSED, outcome=Outcome.CLOSED_INCOMPLETE,
                reopen_request=Reopen(by="sup-1", reason="documents found", role=Role.SUPERVISOR))
    assert "incomplete can be reopened" in refused(s, "reopen", c.Reopen("sup-2", Role.SUPERVISOR))
    refused(s, "withdraw", c.Withdraw())


def test_a_limit_of_nothing_is_a_limit() -> None:
    s = a_claim(payout=Payout(amount=Decimal("3200"), total=Decimal("3200"), basis=[]))
    assert s.rules is not None
    s.rules = s.rules.model_copy(update={"authority_limits": {**s.rules.authority_limits, "adjuster": Decimal("0")}})
    with pytest.raises(ApplicationError) as raised:
        core_view.check(s, "approve", c.Approve("adj-1", Role.ADJUSTER))
    assert raised.value.type == "NotAuthorized", raised.value


def test_the_handler_and_a_former_handler_are_told_apart() -> None:
    s = a_claim(payout=Payout(amount=Decimal("3200"), total=Decimal("3200"), basis=[]), handler="adj-2",
                past_handlers=["adj-2", "sup-7", "ADJ-2"])
    assert "SUP-7 is the former handler" in refused(s, "approve", c.Approve("SUP-7", Role.SUPERVISOR))
    assert "adj-2 is the handler" in refused(s, "approve", c.Approve("adj-2", Role.SUPERVISOR))


def test_an_appeal_under_review_takes_no_advance() -> None:
    s = a_claim(path=Path.GREEN, payout=Payout(amount=Decimal("3200"), total=Decimal("3200"), basis=[]),
                decision=Decision(kind="denied", amount=Decimal("0"), decided_by="sup-1", decided_at=NOW),
                review="appeal", appeals=1)
    assert "not yet decided" in refused(s, "approve_advance", c.ApproveAdvance("sup-2", Role.SUPERVISOR,
                                                                              Decimal("500")))


# ---------------------------------------------------------------------------------------------- lifecycle steps


def test_the_workflow_enters_the_stage_the_core_names_at_each_step_of_its_lifecycle() -> None:
    """Triage, complete documents, recorded findings, a reopening and an appeal: the stage is the core's answer."""
    s = a_claim(stage=Stage.COVERAGE_CHECK, path=Path.STANDARD, risk=LOW)
    triage = c.Triage(Path.STANDARD, risk_low=True, investigate=False, documents_missing=True)
    assert core_view.moved_to(s, triage) == Stage.AWAITING_DOCUMENTS
    s.investigation_reason = "injuries reported"
    assert core_view.moved_to(s, c.Triage(Path.STANDARD, True, True, False)) == Stage.INVESTIGATING
    s.stage = Stage.AWAITING_DOCUMENTS
    assert core_view.moved_to(s, c.DocumentsComplete()) == Stage.INVESTIGATING
    s.stage = Stage.INVESTIGATING
    s.investigation = RecordInvestigation(investigator_id="inv-1", findings="as reported")
    assert core_view.after_findings(s) == Stage.ADJUSTING, "the findings are taken on the claim before them"
    closed = a_claim(stage=Stage.CLOSED, outcome=None, review=None)
    assert core_view.lifecycle_stage(closed) == Stage.AWAITING_DOCUMENTS, "a reopened claim is back at its documents"


def test_a_step_the_core_refuses_halts_the_claim_as_a_fault_of_the_workflow() -> None:
    s = a_claim(stage=Stage.ADJUSTING)
    with pytest.raises(core_view.LifecycleBug, match="not coverage_check"):
        core_view.moved_to(s, c.Triage(Path.FAST, True, False, False))


def test_the_system_approves_only_where_the_core_would_and_never_past_a_document_a_person_must_read() -> None:
    payout = Payout(amount=Decimal("3200.00"), total=Decimal("3200.00"), basis=[], in_full=True)
    s = a_claim(stage=Stage.ADJUSTING, path=Path.STANDARD, risk=LOW, payout=payout)
    assert core_view.assessed(s) == Stage.PAYING, "approved by the system and paid"
    s.document_review = ["the invoice total could not be read"]
    assert core_view.assessed(s) == Stage.AWAITING_APPROVAL, "a document a person must read"
    s.document_review, s.escalations = [], 1
    assert core_view.assessed(s) == Stage.AWAITING_APPROVAL, "escalated once"
    s.escalations, s.payout = 0, payout.model_copy(update={"total": Decimal("900000.00")})
    assert core_view.assessed(s) == Stage.AWAITING_APPROVAL, "beyond the system's authority"
    s.payout = payout.model_copy(update={"total": Decimal("0.00")})
    assert core_view.assessed(s) == Stage.CLOSED, "nothing to pay: denied"


def test_the_lifecycle_starts_and_ends_where_the_core_puts_a_claim() -> None:
    s = a_claim(stage=Stage.REGISTERED)
    assert core_view.registered(s) == Stage.COVERAGE_CHECK
    assert core_view.closed(a_claim(stage=Stage.PAYING), Outcome.PAID) == Stage.CLOSED


def test_a_continued_run_reads_to_the_core_as_the_run_before_did_or_halts() -> None:
    """The core's state is carried beside the workflow's when a claim continues as new; a run whose state reads
    differently to the core (something the core decides on was lost or changed on the way) does not go on."""
    s = a_claim(stage=Stage.AWAITING_APPROVAL, payments=[PaymentRecord(
        sequence=1, kind="advance", amount=Decimal("1000.00"), idempotency_key="k", reference="r",
        account="****2222", paid_at=NOW)])
    carried = {**s.snapshot(), core_view.CARRIED_CORE: core_view.carried_core(s)}
    assert core_view.restored(carried).paid_amount == Decimal("1000.00")
    lost = {**carried, "payments": []}  # the advance paid, dropped on the way
    with pytest.raises(core_view.LifecycleBug, match="reads differently to the core"):
        core_view.restored(lost)
    assert core_view.restored(s.snapshot()).payments, "a run carried before the marker has nothing to compare"


def test_a_run_continued_across_a_deploy_that_reads_the_claim_another_way_goes_on() -> None:
    """A worker whose reading of the claim into the core changed (a new `READING`) does not halt the claims that
    continue across the deploy: the core carried by the old reading is not compared with the new one."""
    s = a_claim(stage=Stage.AWAITING_APPROVAL)
    old_reading = core_view.carried_core(s)
    old_reading["core"]["risk_low"] = not old_reading["core"]["risk_low"]  # what the old code read differently
    same_version = {**s.snapshot(), core_view.CARRIED_CORE: old_reading}
    with pytest.raises(core_view.LifecycleBug):
        core_view.restored(same_version)
    across = {**s.snapshot(), core_view.CARRIED_CORE: {**old_reading, "reading": core_view.READING - 1}}
    assert core_view.restored(across).stage == Stage.AWAITING_APPROVAL
