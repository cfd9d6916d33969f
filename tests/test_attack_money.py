"""Attacks on the money invariants (docs/rules.md#money-invariants): each test is a sequence of updates a back-office
system or a person with the `temporal` CLI can send today, and asserts what docs/rules.md says must hold. They fail
while the hole they describe is open.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError

from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
from tests.test_money_regressions import paid_on, small_policy, standard_claim

D = Decimal


def total_paid(status) -> Decimal:
    return sum((D(p["amount"]) for p in status["payments"]), D("0"))


def green_claim(**changes):
    """A major (green-channel) claim with every document: a dedicated handler, an investigation, advances."""
    claim = auto_claim(**{"line_items": [], **changes}, incident={"major": True})
    claim["documents"] = docs(*ALL_AUTO_DOCS, claim_id=claim["claim_id"])
    return claim


async def green_awaiting_approval(claims, **changes):
    """A green-channel claim of 30,000 (to the given bank account, if any), investigated and awaiting approval: its
    id and handle."""
    claim = green_claim(claimed_amount="30000.00", **changes)
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "as reported"})
    await claims.at_stage(cid, "awaiting_approval")
    return cid, handle


async def advance_paid_by_sup_1(claims) -> str:
    """A green-channel claim of 30,000 on which sup-1 approved an advance of 10,000, now paid; its id."""
    claim = green_claim(claimed_amount="30000.00")
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.wait(cid, lambda s: s["handler"] is not None, "a dedicated handler")
    await claims.update(cid, "approve_advance", {"approver_id": "sup-1", "role": "supervisor", "amount": "10000.00"})
    await claims.wait(cid, lambda s: len(s["payments"]) == 1, "the advance paid")
    return cid


async def test_an_advance_is_never_more_than_the_payout_already_computed(claims):
    """Shrunk: green claim for 100,000 with line items of 20,000 -> investigation -> payout 19,500 ->
    a supervisor approves an advance of 90,000 -> paid 90,000 on a payout of 19,500."""
    claim = green_claim(claimed_amount="100000.00",
                        line_items=[{"description": "repair", "amount": "20000.00", "category": "repair"}])
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "as invoiced"})
    status = await claims.at_stage(cid, "awaiting_approval")
    assert status["payout"]["total"] == "19500.00"
    try:
        await claims.update(cid, "approve_advance", {"approver_id": "sup-1", "role": "supervisor",
                                                     "amount": "90000.00"})
    except WorkflowUpdateFailedError:
        return  # refused: the advance is held to the payout
    status = await claims.wait(cid, lambda s: len(s["payments"]) == 1, "the advance paid")
    assert total_paid(status) <= D(status["payout"]["total"]), \
        f"paid {total_paid(status)} on a payout of {status['payout']['total']}"


async def test_before_the_payout_is_computed_an_advance_is_held_to_the_estimate_and_its_approver_stays_free(claims):
    """While the investigation runs there is no payout yet: the advance is held to what the line items come to. An
    advance the claim would refuse to pay is refused when approved, so its approver has not taken part in the claim
    (the decision core alone, which holds no estimate, let 2,500 through on line items of 1,000, and the workflow then
    refused to pay it while the approver was barred from deciding the claim)."""
    claim = green_claim(claimed_amount="3200.00",
                        line_items=[{"description": "repair", "amount": "1000.00", "category": "repair"}])
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    refused = await claims.refused(cid, "approve_advance", {"approver_id": "sup-1", "role": "supervisor",
                                                            "amount": "2500.00"})
    assert refused.type == "NotAuthorized" and "above the payout assessed so far" in str(refused), refused
    assert (await claims.status(cid))["payments"] == []
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "as invoiced"})
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "approve", {"approver_id": "sup-1", "role": "supervisor"})
    status = await claims.wait(cid, lambda s: s["outcome"] == "paid", "paid on sup-1's approval")
    assert total_paid(status) == D(status["payout"]["total"])


async def test_one_manager_cannot_move_more_than_the_dual_manager_threshold_as_an_advance(claims):
    """Shrunk: green claim for 900,000 on P-AUTO-002 -> mgr-1 alone approves an advance of 600,000 -> paid.
    Above 500,000 two different managers must approve (docs/rules.md#authority-limits)."""
    claim = green_claim(policy_number="P-AUTO-002", claimed_amount="900000.00")
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.wait(cid, lambda s: s["handler"] is not None, "a dedicated handler")
    refused = await claims.refused(cid, "approve_advance", {"approver_id": "mgr-1", "role": "manager",
                                                           "amount": "600000.00"})
    assert refused.type == "NotAuthorized"


async def test_one_manager_cannot_split_an_advance_to_pass_the_dual_manager_threshold(claims):
    """Shrunk: mgr-1 approves an advance of 400,000, then another of 400,000: 800,000 by one manager."""
    claim = green_claim(policy_number="P-AUTO-002", claimed_amount="900000.00")
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.wait(cid, lambda s: s["handler"] is not None, "a dedicated handler")
    await claims.update(cid, "approve_advance", {"approver_id": "mgr-1", "role": "manager", "amount": "400000.00"})
    await claims.wait(cid, lambda s: len(s["payments"]) == 1, "the first advance paid")
    refused = await claims.refused(cid, "approve_advance", {"approver_id": "mgr-1", "role": "manager",
                                                           "amount": "400000.00"})
    assert refused.type == "NotAuthorized"


async def test_on_appeal_both_managers_agree_the_amount_that_is_paid(claims):
    """Shrunk: claim for 1,100,000 on P-AUTO-002, confirmed 700,000 -> payout 629,100 approved by two managers
    and paid (partial) -> appeal -> mgr-1 approves (the 629,100) -> mgr-2 approves with amount 989,100 ->
    989,100 is paid although only mgr-2 agreed to it."""
    claim = auto_claim(policy_number="P-AUTO-002", claimed_amount="1100000.00", line_items=[],
                       incident={"injuries": True})
    claim["documents"] = docs(*ALL_AUTO_DOCS, claim_id=claim["claim_id"])
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "partly",
                                                      "confirmed_amount": "700000.00"})
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "approve", {"approver_id": "mgr-a", "role": "manager"})
    await claims.update(cid, "approve", {"approver_id": "mgr-b", "role": "manager"})
    status = await claims.wait(cid, lambda s: s["outcome"] == "paid", "paid")
    assert total_paid(status) == D("629100.00") and status["decision"]["kind"] == "partial"
    await claims.update(cid, "appeal", {"reason": "the repair cost more"})
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "approve", {"approver_id": "mgr-1", "role": "manager"})
    try:
        await claims.update(cid, "approve", {"approver_id": "mgr-2", "role": "manager", "amount": "989100.00"})
    except WorkflowUpdateFailedError:
        return  # refused: mgr-1 agreed to another amount
    await asyncio.sleep(3)
    status = await claims.status(cid)
    assert total_paid(status) == D("629100.00"), (
        f"{total_paid(status)} paid on the word of one manager: mgr-1 approved 629100.00, "
        f"only mgr-2 agreed 989100.00")


async def test_once_an_advance_is_paid_the_claim_can_no_longer_be_withdrawn(claims):
    """Shrunk: green claim -> sup-1 approves an advance of 10,000 -> paid -> claimant withdraws -> accepted;
    the claim closes `withdrawn` with 10,000 paid. docs/rules.md, money invariants: once payment has begun, withdrawal
    is refused."""
    cid = await advance_paid_by_sup_1(claims)
    refused = await claims.refused(cid, "withdraw", {"by": "portal", "reason": "changed my mind"})
    assert refused.type == "NotAllowedInStage"


async def test_who_approved_an_advance_may_not_approve_the_final_decision(claims):
    """Shrunk: green claim -> sup-1 approves an advance -> investigation -> sup-1 approves the decision alone.
    Lifecycle step 7: the approver may not be anyone who already approved this claim."""
    cid = await advance_paid_by_sup_1(claims)
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "as reported"})
    await claims.at_stage(cid, "awaiting_approval")
    refused = await claims.refused(cid, "approve", {"approver_id": "SUP-1", "role": "supervisor"})
    assert refused.type == "NotAuthorized"


async def test_who_approved_an_advance_may_not_investigate_the_claim(claims):
    """Shrunk: green claim -> sup-1 approves an advance -> sup-1 records the investigation (and its figure).
    The reverse order is refused (an investigator may not approve an advance); this order is not."""
    claim = green_claim(claimed_amount="30000.00")
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    await claims.update(cid, "approve_advance", {"approver_id": "sup-1", "role": "supervisor", "amount": "10000.00"})
    refused = await claims.refused(cid, "record_investigation", {"investigator_id": "sup-1", "findings": "fine",
                                                                 "confirmed_amount": "29000.00"})
    assert refused.type == "NotAuthorized"


async def test_extending_a_policy_does_not_start_a_new_sum_insured(claims):
    """Shrunk: policy with 12,000 sum insured -> claim A paid 7,500 -> the policy's end date is moved out
    (an endorsement; same start, same cover) -> claim B on an incident inside both versions of the period
    paid 7,500 -> 15,000 paid against 12,000 in one policy period."""
    start = date.today() - timedelta(days=200)
    small_policy(claims.engine, "P-EXTENDED", "12000", effective_from=start,
                 effective_to=date.today() + timedelta(days=30))
    first = standard_claim(policy_number="P-EXTENDED")
    handle = await claims.start(first)
    await claims.at_stage(first["claim_id"], "awaiting_approval")
    await claims.update(first["claim_id"], "approve", {"approver_id": "adj-1", "role": "adjuster"})
    await claims.wait(first["claim_id"], lambda s: s["outcome"] == "paid", "paid")
    small_policy(claims.engine, "P-EXTENDED", "12000", effective_from=start,
                 effective_to=date.today() + timedelta(days=120))
    second = standard_claim(policy_number="P-EXTENDED")
    await claims.start(second)
    status = await claims.wait(second["claim_id"], lambda s: s["stage"] in ("awaiting_approval", "closed"),
                               "awaiting approval, or closed (4,500 left is within the system's authority)")
    if status["stage"] == "awaiting_approval":
        await claims.update(second["claim_id"], "approve", {"approver_id": "adj-1", "role": "adjuster"})
    await claims.wait(second["claim_id"], lambda s: s["outcome"] is not None, "an outcome")
    paid = paid_on(claims.engine, {first["claim_id"], second["claim_id"]})
    assert paid <= D("12000.00"), f"{paid} paid in one policy period with a sum insured of 12,000"
    del handle


async def test_a_denied_claim_is_not_left_waiting_for_bank_details_nobody_can_send(claims):
    """Shrunk: green claim paying to a closed account -> sup-1 approves an advance -> the bank rejects it and
    the claimant is asked for new details -> sup-2 rejects the claim -> denied and closed: every clock is
    cleared, `update_bank_account` and `withdraw` are refused on a closed claim, and the advance keeps
    waiting for an answer nobody can give, so the workflow never completes."""
    cid, handle = await green_awaiting_approval(claims, bank_account={"holder": "Li Lei",
                                                                      "number": "6222000000000000"})
    await claims.update(cid, "approve_advance", {"approver_id": "sup-1", "role": "supervisor", "amount": "10000.00"})
    await claims.wait(cid, lambda s: "bank_details" in s["deadlines"], "the request for new bank details")
    await claims.update(cid, "reject", {"approver_id": "sup-2", "role": "supervisor", "reason": "not covered",
                                        "clause": "art. 1"})
    status = await claims.wait(cid, lambda s: s["outcome"] is not None, "an outcome")
    assert status["outcome"] == "denied"
    refused = await claims.refused(cid, "update_bank_account", {"holder": "Li Lei", "number": "6222000011112222"})
    assert "closed" in refused.message
    status = await claims.status(cid)
    try:
        result = await asyncio.wait_for(handle.result(), timeout=60)
    except (TimeoutError, WorkflowFailureError) as err:
        raise AssertionError(f"the workflow never completes ({getattr(err, 'cause', err)}): stage "
                             f"{status['stage']}, deadlines {status['deadlines']}; the advance still waits for "
                             f"bank details nobody may send") from None
    assert result["outcome"] == "denied"
