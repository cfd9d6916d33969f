"""Bad input gets a typed, non-retryable error naming what is wrong; no claim is left stuck or paid twice."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from cli.claims import CommandError, start_claim
from models.tables import Claim
from tests.claims import ALL_AUTO_DOCS, auto_claim, docs


async def failure_of(handle) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.non_retryable
    return cause


@pytest.mark.parametrize(("change", "field"), [
    ({"claimed_amount": "-50.00"}, "claimed_amount"),
    ({"claim_type": "marine"}, "claim_type"),
    ({"claimant": {"phone": "1"}}, "claimant.name"),
    ({"incident": {"occurred_at": "yesterday"}}, "incident.occurred_at"),
    ({"line_items": [{"description": "x", "amount": "-1"}]}, "line_items.0.amount"),
    ({"documents": [{"kind": "selfie_with_car", "ref": "doc://x"}]}, "documents.kind"),
])
async def test_malformed_claim_fails_fast_naming_the_field(claims, change, field):
    claim = auto_claim(**{k: v for k, v in change.items() if k != "claimant"})
    if "claimant" in change:
        claim["claimant"] = change["claimant"]
    handle = await claims.start(claim)
    error = await failure_of(handle)
    assert error.type == "InvalidClaim"
    assert field in error.message, error.message
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED


async def test_input_that_is_not_an_object_is_refused(claims):
    handle = await claims.client.start_workflow("ClaimWorkflow", "hello", id="claim-NOT-JSON", task_queue=claims.queue)
    assert (await failure_of(handle)).type == "InvalidClaim"


async def test_unknown_policy_is_a_typed_error(claims):
    handle = await claims.start(auto_claim(policy_number="P-NOPE-404"))
    error = await failure_of(handle)
    assert error.type == "UnknownPolicy" and "P-NOPE-404" in error.message


async def test_second_start_of_a_finished_claim_creates_no_second_claim_or_payment(claims):
    claim = auto_claim()
    cid = claim["claim_id"]
    assert (await (await claims.start(claim)).result())["outcome"] == "paid"
    # A back-office system that starts it again with the server's default reuse policy:
    second = await claims.start(claim)
    assert (await failure_of(second)).type == "DuplicateClaim"
    # The project's own starter refuses before anything starts:
    with pytest.raises(CommandError, match="already exists"):
        await start_claim(claims.client, claim, claims.queue)
    assert len(claims.payments(cid)) == 1 and len(claims.transfers(cid)) == 1
    with Session(claims.engine) as session:
        assert len(session.exec(select(Claim).where(Claim.claim_id == cid)).all()) == 1


async def test_starter_refuses_a_malformed_claim_before_starting_it(claims):
    with pytest.raises(CommandError, match="claimed_amount"):
        await start_claim(claims.client, auto_claim(claimed_amount="-1"), claims.queue)


@pytest.mark.parametrize(("update", "payload", "error_type", "names"), [
    ("approve", {"approver_id": "sup-1"}, "InvalidUpdate", "role"),
    ("approve", {"approver_id": "sup-1", "role": "ceo"}, "InvalidUpdate", "role"),
    ("approve", "yes please", "InvalidUpdate", "approve"),
    ("record_investigation", {"investigator_id": "i", "findings": "f", "confirmed_amount": "-5"},
     "InvalidUpdate", "confirmed_amount"),
    ("submit_documents", {"documents": []}, "InvalidUpdate", "documents"),
    ("submit_documents", {"documents": [{"kind": "horoscope", "ref": "x"}]}, "InvalidUpdate", "horoscope"),
    ("update_bank_account", {"holder": "Li Lei", "number": "not-a-number"}, "InvalidUpdate", "number"),
    ("assign", {"handler_id": "a b c", "by": "x"}, "InvalidUpdate", "handler_id"),
    ("appeal", {"reason": "unfair"}, "NotAllowedInStage", "appeal"),
    ("reopen", {"by": "sup-1", "reason": "x", "role": "supervisor"}, "NotAllowedInStage", "reopen"),
    ("record_investigation", {"investigator_id": "i", "findings": "f"}, "NotAllowedInStage", "investigation"),
])
async def test_malformed_or_misplaced_update_is_refused_and_the_claim_goes_on(claims, update, payload, error_type,
                                                                              names):
    claim = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_approval")
    error = await claims.refused(cid, update, payload)
    assert error.type == error_type and names in error.message, error.message
    await claims.update(cid, "approve", {"approver_id": "adj-1", "role": "adjuster"})
    assert (await handle.result())["paid_amount"] == "7500.00", "the refusal left the claim working"


async def test_withdrawal_after_payment_is_refused(claims):
    claim = auto_claim()
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.wait(cid, lambda s: s["outcome"] == "paid", "paid")
    error = await claims.refused(cid, "withdraw", {"by": "x", "reason": "changed my mind"})
    assert error.type == "NotAllowedInStage"
    assert (await handle.result())["outcome"] == "paid"
