"""Money out that no decision allows is owed back (docs/rules.md#money-invariants): a recovery opens when the claim
closes, the claimant gets a letter, and it stays open (keeping the claim's run open) until finance records the repayment
or a manager who took no part writes off the rest. A later decision that allows the money sets it off.

The general proof is the decision core's machine (tests/test_decision_core.py), which reaches every one of these
events thousands of times; these run the same rule through the workflow, its letters and its read model.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from models.contract import workflow_id_for
from models.tables import Claim, ClaimEventRow
from testkit.harness import Claims
from tests.test_attack_money import green_awaiting_approval, green_claim

D = Decimal


def owed(status: dict[str, Any]) -> list[tuple[Decimal, str]]:
    return [(D(r["amount"]) - D(r["received"]) - D(r["set_off"]) - D(r["written_off"]), r["status"])
            for r in status["recoveries"]]


def paid_in(status: dict[str, Any]) -> Decimal:
    return sum((D(p["amount"]) for p in status["payments"]), D("0"))


async def denied_after_an_advance(claims: Claims) -> tuple[str, Any]:
    """A green-channel claim on which sup-1 advanced 10,000 (paid), then sup-2 rejected it."""
    cid, handle = await green_awaiting_approval(claims)
    await claims.update(cid, "approve_advance", {"approver_id": "sup-1", "role": "supervisor", "amount": "10000.00"})
    await claims.wait(cid, lambda s: len(s["payments"]) == 1, "the advance paid")
    await claims.update(cid, "reject", {"approver_id": "sup-2", "role": "supervisor", "reason": "not covered",
                                        "clause": "art. 27"})
    await claims.wait(cid, lambda s: s["recoveries"], "the recovery opened")
    return cid, handle


async def test_an_advance_on_a_claim_then_denied_is_owed_back_until_repaid_or_written_off(claims: Claims):
    cid, handle = await denied_after_an_advance(claims)
    status = await claims.status(cid)
    assert status["outcome"] == "denied"
    assert owed(status) == [(D("10000.00"), "open")] and D(status["recovery_outstanding"]) == D("10000.00")
    await claims.wait(cid, lambda s: claims.notices(cid, "recovery_requested"), "the letter to the claimant")
    letter = claims.notices(cid, "recovery_requested")[0]
    assert "10,000.00" in letter.body and "退还" in letter.body, letter.body

    too_much = await claims.refused(cid, "record_recovery", {"amount": "10000.01", "reference": "TRF-1",
                                                             "by": "fin-1"})
    assert too_much.type == "InvalidUpdate" and "10000.00 still owed" in str(too_much)
    await claims.update(cid, "record_recovery", {"amount": "4000.00", "reference": "TRF-1", "by": "fin-1"})
    assert owed(await claims.status(cid)) == [(D("6000.00"), "open")]

    supervisor = await claims.refused(cid, "write_off_recovery", await claims.proved(
        workflow_id_for(cid), "write_off_recovery", {"reason": "cannot be found", "by": "sup-3"},
        "sup-3", "supervisor"))
    assert supervisor.type == "NotAuthorized" and "manager" in str(supervisor)
    took_part = await claims.refused(cid, "write_off_recovery", await claims.proved(
        workflow_id_for(cid), "write_off_recovery", {"reason": "cannot be found", "by": "sup-2"}, "sup-2", "manager"))
    assert took_part.type == "NotAuthorized" and "four-eyes" in str(took_part)
    await claims.update(cid, "write_off_recovery", {"reason": "the claimant cannot be found", "by": "mgr-1"})
    status = await claims.status(cid)
    assert owed(status) == [(D("0.00"), "written_off")] and status["recoveries"][0]["written_off_by"] == "mgr-1"
    nothing_left = await claims.refused(cid, "record_recovery", {"amount": "1.00", "reference": "TRF-2",
                                                                 "by": "fin-1"})
    assert nothing_left.type == "NotAllowedInStage"

    result = await handle.result()  # nothing is owed: the run ends when its windows have passed
    assert result["outcome"] == "denied" and D(result["paid_amount"]) == D("10000.00")
    with Session(claims.engine) as session:
        row = session.get(Claim, cid)
        assert row is not None and D(row.recovery_outstanding) == D("0.00")
        events = session.exec(select(ClaimEventRow.event).where(ClaimEventRow.claim_id == cid).where(
            col(ClaimEventRow.event).startswith("recovery_"))).all()
    assert events == ["recovery_opened", "recovery_received", "recovery_written_off"]


async def test_advances_above_the_amount_decided_are_owed_back(claims: Claims):
    claim = green_claim(claimed_amount="30000.00")
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    await claims.update(cid, "approve_advance", {"approver_id": "sup-1", "role": "supervisor", "amount": "10000.00"})
    await claims.wait(cid, lambda s: len(s["payments"]) == 1, "the advance paid")
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "smaller than reported",
                                                      "confirmed_amount": "6000.00"})
    status = await claims.at_stage(cid, "awaiting_approval")
    total = D(status["payout"]["total"])
    assert total < D("10000.00"), status["payout"]
    await claims.update(cid, "approve", {"approver_id": "sup-2", "role": "supervisor"})
    status = await claims.wait(cid, lambda s: s["recoveries"], "the recovery opened")
    assert status["outcome"] == "paid" and D(status["decision"]["amount"]) == total, "the decision is what it was"
    assert owed(status) == [(D("10000.00") - total, "open")], "the advance beyond it is owed back"
    await claims.update(cid, "record_recovery", {"amount": str(D("10000.00") - total), "reference": "TRF-9",
                                                 "by": "fin-1"})
    status = await claims.status(cid)
    assert owed(status) == [(D("0.00"), "recovered")] and "recovery" not in status["deadlines"]
    result = await handle.result()  # repaid at once, before the letters were written: the run still ends
    assert result["outcome"] == "paid"


async def test_money_owed_back_is_set_off_when_the_appeal_allows_it(claims: Claims):
    cid, handle = await denied_after_an_advance(claims)
    await claims.update(cid, "appeal", {"reason": "the loss is covered"})
    status = await claims.at_stage(cid, "awaiting_approval")
    assert owed(status) == [(D("10000.00"), "open")], "still owed while the appeal is reviewed"
    await claims.update(cid, "approve", {"approver_id": "mgr-2", "role": "manager"})
    status = await claims.wait(cid, lambda s: s["outcome"] == "paid", "paid on appeal")
    assert owed(status) == [(D("0.00"), "set_off")], status["recoveries"]
    assert D(status["recovery_outstanding"]) == D("0.00") and "recovery" not in status["deadlines"]
    assert paid_in(status) == D(status["decision"]["amount"]), "paid what the appeal decided, no more"
    result = await handle.result()
    assert D(result["paid_amount"]) == D(status["decision"]["amount"])
