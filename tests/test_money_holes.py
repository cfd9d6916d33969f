"""Sequences on which money moved wrongly, or a claim died, although each step was one the contract allows.

Each test is named after what it protects and runs on the database where the hole was found. The general proof
is the property-based machines (tests/test_money_invariants.py and the decision rules' properties); these keep
the cases found by a hostile reading from coming back.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from core.rules.money import Terms
from core.rules.payout import after_terms, compute_payout
from models.contract import WORKFLOW_TYPE, workflow_id_for
from models.tables import DocumentReadingRow
from testkit.claims import ALL_AUTO_DOCS, auto_claim, days_ago, docs
from testkit.harness import Claims
from testkit.waiting import eventually
from tests.conftest import claims_rig
from tests.test_attack_money import green_awaiting_approval
from tests.test_money_regressions import paid_on, small_policy, standard_claim

D = Decimal
DAY = 24 * 3600


def events(status: dict[str, Any]) -> list[str]:
    return [t["event"] for t in status["timeline"]]


def paid(status: dict[str, Any]) -> Decimal:
    return sum((D(p["amount"]) for p in status["payments"]), D("0"))


@pytest.fixture
async def claims_on_postgres(time_env: WorkflowEnvironment, settings: Settings, any_engine: Engine,
                             request: pytest.FixtureRequest) -> AsyncIterator[Claims]:
    if "postgresql" not in str(any_engine.url):
        pytest.skip("found on PostgreSQL, whose columns hold what they declare")
    async with claims_rig(time_env, settings, any_engine) as rig:
        yield rig


# ---------------------------------------------------------------------------------------------- 1

async def test_an_appeal_resumed_in_a_new_run_is_paid_only_after_a_reviewer_approves(
        dev_env: WorkflowEnvironment, settings: Settings, engine: Engine, tmp_path: Path):
    """On the dev server, in real time (no timer falls due in the test's seconds), with runs continuing as new
    after 40 history events."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"continue_after_events": 40}))
    async with claims_rig(dev_env, settings.model_copy(update={"rules_file": rules}), engine) as claims:
        claim = standard_claim()
        cid = claim["claim_id"]
        await claims.start(claim)
        await claims.at_stage(cid, "awaiting_approval")
        await claims.update(cid, "reject", {"approver_id": "adj-1", "role": "adjuster", "reason": "not covered",
                                            "clause": "art. 7"})
        await claims.wait(cid, lambda s: s["outcome"] == "denied", "denied")
        await claims.update(cid, "appeal", {"reason": "the repair was necessary"})
        await claims.wait(cid, lambda s: "appeal_received" in events(s) and s["stage"] == "awaiting_approval",
                          "the appeal under review")

        def appeal_continued(s: dict[str, Any]) -> bool:
            seen = events(s)
            return "appeal_received" in seen and "continued_as_new" in seen[seen.index("appeal_received"):]

        for _ in range(30):  # staff work on the claim (a handler assigned, again) until its history is long
            if appeal_continued(await claims.status(cid)):
                break
            await claims.update(cid, "assign", {"handler_id": "adj-7", "by": "sup-9"})
        await claims.wait(cid, appeal_continued, "the appeal waiting in a new run")
        status = await claims.wait(cid, lambda s: s["stage"] == "awaiting_approval" or s["payments"],
                                   "waiting for a reviewer")
        assert not status["payments"], f"the appeal was paid with nobody approving it: {events(status)}"
        await claims.update(cid, "approve", {"approver_id": "sup-1", "role": "supervisor"})
        status = await claims.wait(cid, lambda s: s["outcome"] == "paid", "paid on the reviewer's approval")
        after_appeal = events(status)[events(status).index("appeal_received"):]
        assert after_appeal.index("approved") < after_appeal.index("decided"), after_appeal
        assert paid(status) == D("7500.00")
        assert status["decision"]["decided_by"] == "sup-1"
        await claims.handle(cid).terminate("the test is over")


# ---------------------------------------------------------------------------------------------- 2

async def test_a_rejection_is_refused_while_an_advance_is_being_transferred(claims: Claims):
    cid, handle = await green_awaiting_approval(claims)
    claims.gateway.fail_next(10_000)  # the gateway is down
    calls = claims.gateway.calls
    await claims.update(cid, "approve_advance", {"approver_id": "sup-1", "role": "supervisor",
                                                 "amount": "10000.00"})
    await claims.wait(cid, lambda s: claims.gateway.calls > calls, "the advance's transfer under way")
    refused = await claims.refused(cid, "reject", {"approver_id": "sup-2", "role": "supervisor",
                                                   "reason": "fraud", "clause": "art. 27"})
    assert refused.type == "NotAllowedInStage", refused
    assert "payment is being made" in str(refused), refused
    claims.gateway.fail_next(0)  # the gateway is back
    await claims.wait(cid, lambda s: len(s["payments"]) == 1, "the advance paid")
    await claims.update(cid, "reject", {"approver_id": "sup-2", "role": "supervisor", "reason": "fraud",
                                        "clause": "art. 27"})
    status = await claims.wait(cid, lambda s: s["outcome"] is not None and s["recoveries"], "closed, money owed back")
    assert status["outcome"] == "denied"
    assert paid(status) == D("10000.00"), "nothing more is paid after the accepted rejection"
    assert [(r["amount"], r["status"]) for r in status["recoveries"]] == [("10000.00", "open")], \
        "the advance paid on a denied claim is owed back"
    await handle.terminate("the test is over")  # the claim stays open while the money is owed


# ---------------------------------------------------------------------------------------------- 3

async def test_after_the_decision_to_pay_neither_escalation_nor_rejection_is_accepted(claims: Claims):
    cid, handle = await green_awaiting_approval(claims, bank_account={"holder": "Li Lei",
                                                                      "number": "6222000000000000"})
    await claims.update(cid, "approve_advance", {"approver_id": "sup-1", "role": "supervisor",
                                                 "amount": "10000.00"})
    await claims.wait(cid, lambda s: "bank_details" in s["deadlines"], "the advance held for new bank details")
    await claims.update(cid, "approve", {"approver_id": "sup-2", "role": "supervisor"})
    await claims.wait(cid, lambda s: s["decision"] is not None, "the decision to pay")
    refused = await claims.refused(cid, "escalate", {"by": "sup-3", "reason": "second look"})
    assert refused.type == "NotAllowedInStage"
    await claims.skip(12 * DAY)  # the payment clock breaches while the advance waits: the tier rises
    await claims.wait(cid, lambda s: any(b["clock"] == "payment" for b in s["sla_breaches"]),
                      "the payment clock breached")
    refused = await claims.refused(cid, "reject", {"approver_id": "mgr-1", "role": "manager",
                                                   "reason": "changed my mind", "clause": "art. 27"})
    assert refused.type == "NotAllowedInStage", refused
    await claims.change_bank_account(cid, {"holder": "Li Lei", "number": "6222000011113333"})
    result = await handle.result()
    status = await claims.status(cid)
    assert result["outcome"] == "paid" and "rejected" not in events(status)
    assert result["paid_amount"] == status["decision"]["amount"] == "29500.00"


# ---------------------------------------------------------------------------------------------- 4

async def test_an_incident_before_a_renewal_is_held_to_its_own_periods_sum_insured(claims: Claims):
    old_from, old_to = date.today() - timedelta(days=500), date.today() - timedelta(days=136)
    small_policy(claims.engine, "P-RENEWING", "12000", effective_from=old_from, effective_to=old_to)
    first = standard_claim(policy_number="P-RENEWING", incident={"occurred_at": days_ago(300)})
    await claims.start(first)
    await claims.at_stage(first["claim_id"], "awaiting_approval")
    await claims.update(first["claim_id"], "approve", {"approver_id": "adj-1", "role": "adjuster"})
    await claims.wait(first["claim_id"], lambda s: s["outcome"] == "paid", "paid")
    small_policy(claims.engine, "P-RENEWING", "12000", effective_from=old_to + timedelta(days=1),
                 effective_to=old_to + timedelta(days=366))  # the renewal
    second = standard_claim(policy_number="P-RENEWING", incident={"occurred_at": days_ago(200)})
    handle = await claims.start(second)
    result = await handle.result()  # 4,500 is within the system's authority: no person needs to approve it
    assert result["outcome"] == "paid", f"the old period covers the incident: {result['decision']}"
    assert result["paid_amount"] == "4500.00", "12,000 less the 7,500 the period has paid"
    assert paid_on(claims.engine, {first["claim_id"], second["claim_id"]}) == D("12000.00")


# ---------------------------------------------------------------------------------------------- 5

async def test_two_managers_with_identity_provider_ids_decide_a_large_claim(claims_on_postgres: Claims):
    claims = claims_on_postgres
    claim = auto_claim(policy_number="P-AUTO-002", claimed_amount="650000.00", line_items=[])
    claim["documents"] = docs(*ALL_AUTO_DOCS, claim_id=claim["claim_id"])
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_approval")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    await claims.update(cid, "approve", {"approver_id": first, "role": "manager"})
    await claims.update(cid, "approve", {"approver_id": second, "role": "manager"})
    result = await handle.result()
    assert result["outcome"] == "paid" and result["paid_amount"] == "584100.00"
    assert set(result["decision"]["decided_by"].split(", ")) == {first, second}


# ---------------------------------------------------------------------------------------------- 6

async def test_the_longest_document_reference_the_contract_allows_is_read_and_stored(claims_on_postgres: Claims):
    claims = claims_on_postgres
    claim = auto_claim()
    cid = claim["claim_id"]
    long_ref = "doc://sha256/" + "ab" * 32 + "/" + "x" * (500 - len("doc://sha256/") - 65)
    assert len(long_ref) == 500
    claim["documents"] = [*claim["documents"], {"kind": "medical_invoice", "ref": long_ref}]
    claim["documents"][2] = {"kind": "repair_invoice", "ref": long_ref[:-1] + "y"}
    handle = await claims.start(claim)
    result = await handle.result()  # the reading is stored, the claim goes on: it does not fail
    assert result["outcome"] in ("paid", "denied", "closed_incomplete"), result
    with Session(claims.engine) as session:
        stored = session.exec(select(DocumentReadingRow.ref).where(DocumentReadingRow.claim_id == cid)).all()
    assert long_ref in stored


# ---------------------------------------------------------------------------------------------- 7

async def test_an_endorsement_after_the_coverage_check_does_not_change_the_claims_terms(claims: Claims):
    small_policy(claims.engine, "P-ENDORSED", "200000", deductible="2000")
    claim = standard_claim(policy_number="P-ENDORSED")
    claim["documents"] = docs("claim_form", "damage_photos", claim_id=claim["claim_id"])
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_documents")
    small_policy(claims.engine, "P-ENDORSED", "200000", deductible="0")  # endorsed while the claim waits
    await claims.update(cid, "submit_documents", {"documents": docs(*ALL_AUTO_DOCS, claim_id=cid)})
    status = await claims.at_stage(cid, "awaiting_approval")
    assert status["payout"]["total"] == "6000.00", "the terms in force on the incident date, read once"
    await claims.update(cid, "approve", {"approver_id": "adj-1", "role": "adjuster"})
    assert (await handle.result())["paid_amount"] == "6000.00"


# ---------------------------------------------------------------------------------------------- 8

async def test_one_document_reference_counts_for_one_kind_only(claims: Claims):
    claim = auto_claim()
    one = f"doc://{claim['claim_id']}/everything.pdf"
    claim["documents"] = [{"kind": kind, "ref": one} for kind in ("claim_form", "damage_photos", "repair_invoice")]
    cid = claim["claim_id"]
    await claims.start(claim)
    status = await claims.wait(cid, lambda s: s["path"] is not None, "triaged")
    assert status["path"] != "fast", "one file cannot be the form, the photos and the invoice at once"
    assert set(status["missing_documents"]) >= {"damage_photos", "repair_invoice"}, status["missing_documents"]


def test_the_payout_is_rounded_one_way_everywhere():
    """Half a cent rounds up (docs/rules.md#payout) in the computed payout, in the guard's ceiling and in the
    estimate an advance is held to."""
    claimed, deductible, ratio = D("1000.05"), D("0"), D("0.5")  # 500.025
    assert after_terms(claimed, deductible, ratio) == D("500.03")
    payout = compute_payout(claimed_amount=claimed, line_items=[], confirmed_amount=None, deductible=deductible,
                            payout_ratio=ratio, sum_insured=D("100000"), paid_on_policy=D("0"),
                            advances_paid=D("0"), clauses={})
    terms = Terms(claimed_amount=claimed, deductible=deductible, payout_ratio=ratio,
                  sum_insured_available=D("100000"))
    assert payout.total == terms.ceiling == D("500.03")


# ---------------------------------------------------------------------------------------------- 9

async def test_a_continued_run_answers_with_the_carried_claim_and_no_start_may_bring_a_carried_state(
        dev_env: WorkflowEnvironment, settings: Settings, engine: Engine, tmp_path: Path):
    """The continued run answers updates with the carried state. A start that brings a carried state, here the
    claim's own, copied from its history after the claim was terminated (a Temporal operator's rollback, with the
    proofs spent since forgotten), is refused at once and moves no money."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"continue_after_events": 40}))
    async with claims_rig(dev_env, settings.model_copy(update={"rules_file": rules}), engine) as claims:
        claim = standard_claim()
        cid = claim["claim_id"]
        claim["documents"] = docs("claim_form", claim_id=cid)
        await claims.start(claim)
        await claims.at_stage(cid, "awaiting_documents")
        for kind in ("driver_license", "vehicle_license", "accident_report", "repair_invoice", "damage_photos"):
            if "continued_as_new" in events(await claims.status(cid)):
                break  # each document sent lengthens the history toward the 40 events the claim continues after
            await claims.update(cid, "submit_documents", {"documents": docs(kind, claim_id=cid)})
        await claims.wait(cid, lambda s: s["stage"] == "awaiting_documents" and "continued_as_new" in events(s),
                          "waiting for documents in a continued run")

        async def first_event() -> Any:  # the timeline says so just before the run continues: wait for the new run
            return (await claims.handle(cid).fetch_history()).events[0].workflow_execution_started_event_attributes

        started = await eventually(first_event, lambda e: len(e.input.payloads) == 2, "the run continued as new")
        missing = await claims.update(cid, "submit_documents", {"documents": docs("id_card", claim_id=cid)})
        assert "id_card" not in missing and "claim_form" not in missing, missing
        await claims.handle(cid).terminate("rolled back by someone with access to Temporal")
        operator = Client(dev_env.client.service_client, namespace=dev_env.client.namespace)  # the stored bytes
        await operator.start_workflow(WORKFLOW_TYPE, args=[RawValue(p) for p in started.input.payloads],
                                      id=workflow_id_for(cid), task_queue=claims.queue)
        with pytest.raises(WorkflowFailureError) as refused:
            await claims.handle(cid).result()
        assert isinstance(refused.value.cause, ApplicationError) and refused.value.cause.type == "InvalidClaim", \
            refused.value.cause
        assert "carried state" in str(refused.value.cause)
        assert claims.payments(cid) == []
