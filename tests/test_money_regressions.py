"""Each way money used to move when it should not (issue: money moves only when it may), as a test.

The properties in test_money_rules_properties.py and the state machine in testkit/money_machine.py are the
general proof; these are the cases found by hand, kept so each stays fixed.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from activities.policies import load_policies
from models.contract import PolicyTerms
from models.tables import Payment
from testkit.claims import ALL_AUTO_DOCS, auto_claim, days_ago, docs

D = Decimal
DAY = timedelta(days=1)


def small_policy(engine, number: str, sum_insured: str, **changes) -> None:
    terms = {"policy_number": number, "product": "auto", "holder_name": "Li Lei", "status": "active",
             "effective_from": date.today() - timedelta(days=200), "effective_to": date.today() + timedelta(days=365),
             "sum_insured": sum_insured, "deductible": "500", "payout_ratio": "1", **changes}
    load_policies(engine, [PolicyTerms.model_validate(terms)])


def paid_on(engine, claim_ids) -> Decimal:
    with Session(engine) as session:
        rows = session.exec(select(Payment).where(Payment.status == "paid")).all()
    return sum((D(r.amount) for r in rows if r.claim_id in claim_ids), D("0"))


def standard_claim(**changes):
    """A claim with every document (its own, not reused) that a person must approve."""
    claim = auto_claim(claimed_amount="8000.00", line_items=[], **changes)
    claim["documents"] = docs(*ALL_AUTO_DOCS, claim_id=claim["claim_id"])
    return claim


async def awaiting_approval(claims, claim):
    handle = await claims.start(claim)
    await claims.at_stage(claim["claim_id"], "awaiting_approval")
    return handle


async def test_two_claims_on_one_policy_never_overrun_its_sum_insured(claims_on_any):
    claims = claims_on_any
    small_policy(claims.engine, "P-SMALL-1", "12000")
    first, second = (standard_claim(policy_number="P-SMALL-1") for _ in range(2))
    handles = [await awaiting_approval(claims, first),
               await awaiting_approval(claims, second)]  # both payouts computed before either is paid
    await asyncio.gather(*(claims.update(c["claim_id"], "approve", {"approver_id": "adj-1", "role": "adjuster"})
                           for c in (first, second)))
    results = [await h.result() for h in handles]
    ids = {first["claim_id"], second["claim_id"]}
    assert paid_on(claims.engine, ids) == D("12000.00"), "7,500 each was approved; the sum insured holds 12,000"
    assert sorted(r["paid_amount"] for r in results) == ["4500.00", "7500.00"]
    reduced = next(c for c, r in zip((first, second), results, strict=True) if r["paid_amount"] == "4500.00")
    status = await claims.status(reduced["claim_id"])
    assert status["decision"]["kind"] == "partial"
    assert status["payout"]["basis"][-1]["step"] == "capped at the sum insured still available at payment"
    assert len(claims.notices(reduced["claim_id"], "payout_reduced")) == 1, "the claimant is told"


async def test_payments_of_another_policy_period_do_not_count(claims_on_any):
    claims = claims_on_any
    small_policy(claims.engine, "P-RENEWED", "5000", effective_from=date.today() - timedelta(days=500),
                 effective_to=date.today() - timedelta(days=136))
    old = auto_claim(policy_number="P-RENEWED", claimed_amount="3200.00", incident={"occurred_at": days_ago(200)})
    assert (await (await claims.start(old)).result())["paid_amount"] == "2700.00"
    small_policy(claims.engine, "P-RENEWED", "5000", effective_from=date.today() - timedelta(days=135))
    new = auto_claim(policy_number="P-RENEWED", claimed_amount="3200.00")
    assert (await (await claims.start(new)).result())["paid_amount"] == "2700.00", \
        "the renewed period starts with its whole sum insured"


async def test_an_amount_agreed_on_appeal_is_held_to_the_policy_terms_and_authority(claims):
    claim = auto_claim(claimed_amount="30000.00", incident={"injuries": True}, line_items=[],
                       documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "partly",
                                                      "confirmed_amount": "20000.00"})
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "approve", {"approver_id": "sup-1", "role": "supervisor"})
    await claims.wait(cid, lambda s: s["stage"] == "closed", "closed")
    await claims.update(cid, "appeal", {"reason": "the repair cost more"})
    await claims.at_stage(cid, "awaiting_approval")
    absurd = await claims.refused(cid, "approve", {"approver_id": "sup-2", "role": "supervisor",
                                                   "amount": "900000.00"})
    assert absurd.type == "NotAuthorized" and "above what this claim may be paid (29500.00" in absurd.message
    beyond = await claims.refused(cid, "approve", {"approver_id": "sup-2", "role": "adjuster", "amount": "29500.00"})
    assert beyond.type == "NotAuthorized"
    await claims.update(cid, "approve", {"approver_id": "sup-2", "role": "supervisor", "amount": "29500.00"})
    result = await handle.result()
    assert result["paid_amount"] == "29500.00"


async def test_an_advance_needs_authority_for_its_amount(claims):
    claim = auto_claim(policy_number="P-AUTO-002", claimed_amount="900000.00", line_items=[],
                       incident={"major": True}, documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.wait(cid, lambda s: s["handler"] is not None, "a dedicated handler")
    refused = await claims.refused(cid, "approve_advance", {"approver_id": "sup-1", "role": "supervisor",
                                                           "amount": "700000.00"})
    assert refused.type == "NotAuthorized" and "supervisor may decide up to 100000" in refused.message
    await claims.update(cid, "approve_advance", {"approver_id": "sup-1", "role": "supervisor", "amount": "60000.00"})
    cumulative = await claims.refused(cid, "approve_advance", {"approver_id": "sup-2", "role": "supervisor",
                                                              "amount": "60000.00"})
    assert "120000.00" in cumulative.message, "a supervisor's limit counts every advance on the claim"
    await claims.wait(cid, lambda s: len(s["payments"]) == 1, "the advance paid")
    assert claims.payments(cid)[0].amount == D("60000.00")


async def test_approve_and_withdraw_together_never_pay_a_withdrawn_claim(claims):
    for _ in range(3):  # either order of the two updates: a withdrawn claim is not paid, a paid one not withdrawn
        claim = standard_claim()
        cid = claim["claim_id"]
        handle = await awaiting_approval(claims, claim)
        approve = claims.update(cid, "approve", {"approver_id": "adj-1", "role": "adjuster"})
        withdraw = claims.update(cid, "withdraw", {"by": "claimant", "reason": "changed my mind"})
        answers = await asyncio.gather(approve, withdraw, return_exceptions=True)
        result = await handle.result()
        withdrawn = not isinstance(answers[1], BaseException)
        if withdrawn:
            assert result["outcome"] == "withdrawn" and claims.payments(cid) == []
        else:
            assert result["outcome"] == "paid" and "payment has begun" in str(answers[1].cause)


async def test_a_withdrawal_is_refused_once_the_decision_to_pay_is_taken(claims):
    claim = standard_claim()
    cid = claim["claim_id"]
    handle = await awaiting_approval(claims, claim)
    await claims.update(cid, "approve", {"approver_id": "adj-1", "role": "adjuster"})
    refused = await claims.refused(cid, "withdraw", {"by": "claimant", "reason": "too late"})
    assert refused.type == "NotAllowedInStage"
    assert (await handle.result())["paid_amount"] == "7500.00"


async def test_a_reopened_claim_pays_its_statutory_advance_and_then_the_rest(claims, time_env):
    claim = auto_claim(claimed_amount="30000.00", incident={"injuries": True}, line_items=[],
                       documents=docs("claim_form"))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_documents")
    await time_env.sleep(31 * DAY)
    await claims.wait(cid, lambda s: s["outcome"] == "closed_incomplete", "closed incomplete")
    await claims.update(cid, "reopen", {"by": "sup-1", "reason": "documents by post", "role": "supervisor"})
    await claims.at_stage(cid, "awaiting_documents")
    await claims.update(cid, "submit_documents", {"documents": docs(*ALL_AUTO_DOCS[1:], claim_id=cid)})
    await claims.at_stage(cid, "investigating")
    await time_env.sleep(61 * DAY)
    await claims.wait(cid, lambda s: len(s["payments"]) == 1, "the statutory advance")
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "as reported"})
    await claims.at_stage(cid, "awaiting_approval")
    status = await claims.status(cid)
    assert status["required_role"] == "manager", "the determination clock ran out twice while waiting"
    await claims.update(cid, "approve", {"approver_id": "mgr-1", "role": "manager"})
    result = await handle.result()
    assert result["paid_amount"] == "29500.00", "advance and the rest; the reopened claim did not deadlock"


async def test_a_letter_that_cannot_be_sent_holds_up_nothing(claims):
    claim = auto_claim()
    claim["claimant"] = {**claim["claimant"], "name": "Li {{ Lei"}  # rendered fine: escaped
    claims.settings.var_dir.mkdir(parents=True, exist_ok=True)
    (claims.settings.outbox_dir).write_text("not a folder: every letter fails to be written")
    result = await (await claims.start(claim)).result()
    assert result["paid_amount"] == "2700.00"
    status = await claims.status(claim["claim_id"])
    failed = [t for t in status["timeline"] if t["event"] == "notification_failed"]
    assert {f["detail"].split(":")[0] for f in failed} >= {"acknowledgement", "decision_approved", "payment_sent"}


async def test_fraud_suspected_holds_the_statutory_advance_for_a_person(claims, time_env):
    claim = auto_claim(claimed_amount="30000.00", incident={"injuries": True}, line_items=[],
                       documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "staged?",
                                                      "fraud_suspected": True})
    await claims.at_stage(cid, "awaiting_approval")
    await time_env.sleep(61 * DAY)
    status = await claims.wait(cid, lambda s: any(t["event"] == "statutory_advance_held" for t in s["timeline"]),
                               "the advance held")
    assert status["payments"] == [], "no advance without a person while fraud is suspected"
    assert len(await claims.sent(cid, "advance_held")) == 1


async def test_a_previous_handler_and_case_variants_of_an_investigator_may_not_approve(claims):
    claim = auto_claim(claimed_amount="30000.00", incident={"injuries": True}, line_items=[],
                       documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    await claims.update(cid, "assign", {"handler_id": "sup-7", "by": "mgr-1"})
    await claims.update(cid, "assign", {"handler_id": "adj-2", "by": "mgr-1"})
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-7", "findings": "ok"})
    await claims.at_stage(cid, "awaiting_approval")
    former = await claims.refused(cid, "approve", {"approver_id": "SUP-7", "role": "supervisor"})
    assert "former handler" in former.message
    investigator = await claims.refused(cid, "approve", {"approver_id": "INV-7", "role": "supervisor"})
    assert "investigator" in investigator.message


async def test_coverage_is_judged_on_the_incident_date(claims):
    small_policy(claims.engine, "P-LAPSED-LATER", "100000", status="lapsed",
                 status_since=date.today() - timedelta(days=2))
    before = auto_claim(policy_number="P-LAPSED-LATER", incident={"occurred_at": days_ago(5)})
    assert (await (await claims.start(before)).result())["outcome"] == "paid", "in force on the incident date"
    after = auto_claim(policy_number="P-LAPSED-LATER", incident={"occurred_at": days_ago(1)})
    assert (await (await claims.start(after)).result())["outcome"] == "denied"


async def test_reused_documents_sent_later_count_as_reused(claims):
    first = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS, claim_id="shared"))
    await awaiting_approval(claims, first)
    later = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs("claim_form"))
    cid = later["claim_id"]
    await claims.start(later)
    await claims.at_stage(cid, "awaiting_documents")
    await claims.update(cid, "submit_documents", {"documents": docs(*ALL_AUTO_DOCS[1:], claim_id="shared")})
    status = await claims.wait(cid, lambda s: any(r["rule"] == "reused_document" for r in s["risk"]["reasons"]),
                               "the reused-document rule")
    assert status["risk"]["score"] >= 40


async def test_an_unknown_policy_leaves_the_claim_id_free_for_the_corrected_report(claims):
    from client.claims import start_claim
    from models.contract import ClaimInput

    claim = auto_claim(policy_number="P-NOPE-404")
    await start_claim(claims.client, ClaimInput.model_validate(claim), claims.queue)
    handle = claims.handle(claim["claim_id"])
    try:
        await handle.result()
    except Exception as err:  # noqa: BLE001
        assert "UnknownPolicy" in str(err.cause)
    assert claims.notices(claim["claim_id"]) == [], "nothing was sent for a report that was refused"
    corrected = {**claim, "policy_number": "P-AUTO-001"}
    await start_claim(claims.client, ClaimInput.model_validate(corrected), claims.queue)
    status = await claims.wait(claim["claim_id"], lambda s: s["outcome"] is not None, "an outcome")
    assert status["outcome"] == "paid"
