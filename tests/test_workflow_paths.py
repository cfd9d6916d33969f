"""Every path of a claim on the time-skipping server, with the real activities on SQLite."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from letters.render import Renderer
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs

D = Decimal


def document_name(kind: str) -> str:
    """A document's name as the claimant's (Chinese) letters print it."""
    return str(Renderer().envs["zh-CN"].filters["document"](kind))


def kinds(notices) -> list[str]:
    return [n.kind for n in notices]


async def test_fast_path_pays_a_small_clear_claim_without_a_human(claims):
    claim = auto_claim()
    result = await (await claims.start(claim)).result()
    cid = claim["claim_id"]
    assert (result["outcome"], result["fast_path"], result["paid_amount"]) == ("paid", True, "2700.00")
    assert [p.amount for p in claims.payments(cid)] == [D("2700.00")], "paid once: 3200 less the 500 deductible"
    assert kinds(claims.notices(cid)) == ["acknowledgement", "decision_approved", "payment_sent", "survey"]
    assert result["decision"]["kind"] == "approved"
    status = await claims.status(cid)
    assert status["approvals"][0]["role"] == "system"


async def test_acknowledgement_lists_the_whole_checklist_at_once(claims):
    claim = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs("claim_form"))
    await claims.start(claim)
    await claims.at_stage(claim["claim_id"], "awaiting_documents")
    [ack] = await claims.sent(claim["claim_id"], "acknowledgement")
    for kind in ALL_AUTO_DOCS:
        assert document_name(kind) in ack.body, f"{kind} missing from the acknowledgement checklist"


async def test_below_deductible_is_denied_with_that_reason(claims):
    claim = auto_claim(claimed_amount="380.00", line_items=[{"description": "mirror", "amount": "380.00"}])
    result = await (await claims.start(claim)).result()
    assert result["outcome"] == "denied"
    assert result["decision"]["reasons"] == ["below deductible"]
    assert claims.payments(claim["claim_id"]) == []


async def test_excluded_cause_is_denied_citing_the_clause(claims):
    claim = auto_claim(incident={"cause": "racing"})
    result = await (await claims.start(claim)).result()
    assert result["outcome"] == "denied"
    assert "excluded" in result["decision"]["reasons"][0]
    assert result["decision"]["clauses"] == ["General Terms 4 (exclusions)"]
    letter = claims.notices(claim["claim_id"], "decision_denied")[0].body
    assert "General Terms 4 (exclusions)" in letter and "申诉" in letter, "the clause and how to appeal"


async def test_lapsed_policy_is_denied(claims):
    claim = auto_claim(policy_number="P-AUTO-LAPSED")
    result = await (await claims.start(claim)).result()
    assert result["outcome"] == "denied"
    assert result["decision"]["clauses"] == ["General Terms 2.2 (policy in force)"]


async def test_health_claim_within_waiting_period_is_denied(claims):
    from testkit.claims import days_ago

    claim = auto_claim(policy_number="P-HEALTH-001", claim_type="health", incident={"occurred_at": days_ago(195)},
                       documents=docs("claim_form", "medical_invoice"))
    result = await (await claims.start(claim)).result()
    assert result["decision"]["clauses"] == ["Health Terms 3.1 (waiting period)"]


async def test_one_request_for_missing_materials_then_supplied_in_two_batches(claims):
    claim = auto_claim(policy_number="P-PROP-001", claim_type="property", claimed_amount="4000.00",
                       incident={"cause": "water_leak"}, line_items=[], documents=docs("claim_form"))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    status = await claims.at_stage(cid, "awaiting_documents")
    assert status["missing_documents"] == ["id_card", "loss_list", "damage_photos", "ownership_proof"]
    assert status["documents_requested_at"] and status["deadlines"]["documents"]
    still = await claims.update(cid, "submit_documents", {"documents": docs("id_card", "loss_list", claim_id=cid)})
    assert still == ["damage_photos", "ownership_proof"]
    still = await claims.update(cid, "submit_documents",
                                {"documents": docs("damage_photos", "ownership_proof", claim_id=cid)})
    assert still == []
    result = await handle.result()
    assert (result["outcome"], result["paid_amount"]) == ("paid", "3000.00")
    assert len(claims.notices(cid, "missing_materials")) == 1, "materials are requested once"
    assert claims.notices(cid, "reminder") == []


async def test_materials_never_sent_close_the_claim_incomplete_after_reminders(claims, time_env):
    claim = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs("claim_form"))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_documents")
    result = await handle.result()  # the server skips the 30 days and the reopening window
    assert result["outcome"] == "closed_incomplete"
    assert kinds(claims.notices(cid)) == ["acknowledgement", "missing_materials", "reminder", "reminder",
                                          "closed_incomplete"]
    request = claims.notices(cid, "missing_materials")[0].body
    for reminder in claims.notices(cid, "reminder"):
        for kind in ALL_AUTO_DOCS[1:]:
            assert document_name(kind) in request and document_name(kind) in reminder.body


async def test_supervisor_reopens_an_incomplete_claim_and_it_is_paid(claims, time_env):
    claim = auto_claim(claimed_amount="4000.00", line_items=[], documents=docs("claim_form"))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_documents")
    await time_env.sleep(timedelta(days=31))
    await claims.wait(cid, lambda s: s["outcome"] == "closed_incomplete", "closed_incomplete")
    refusal = await claims.refused(cid, "reopen", {"by": "adj-1", "reason": "docs came", "role": "adjuster"})
    assert refusal.type == "NotAuthorized"
    await claims.update(cid, "reopen", {"by": "sup-1", "reason": "claimant sent the documents by post",
                                        "role": "supervisor"})
    await claims.at_stage(cid, "awaiting_documents")
    await claims.update(cid, "submit_documents", {"documents": docs(*ALL_AUTO_DOCS[1:], claim_id=cid)})
    result = await handle.result()
    assert (result["outcome"], result["paid_amount"]) == ("paid", "3500.00")
    assert len(claims.notices(cid, "missing_materials")) == 1, "reopening repeats the list, never a new request"


async def test_investigation_then_manager_approval_with_refused_attempts(claims):
    claim = auto_claim(policy_number="P-AUTO-002", claimed_amount="150000.00", incident={"injuries": True},
                       line_items=[{"description": "repair", "amount": "150000.00"}], documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    early = await claims.refused(cid, "approve", {"approver_id": "mgr-1", "role": "manager"})
    assert early.type == "NotAllowedInStage"
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "one invoice reduced",
                                                      "confirmed_amount": "140000.00", "fraud_suspected": False})
    status = await claims.at_stage(cid, "awaiting_approval")
    assert status["payout"]["total"] == "125100.00" and status["required_role"] == "manager"
    adjuster = await claims.refused(cid, "approve", {"approver_id": "adj-1", "role": "adjuster"})
    assert adjuster.type == "NotAuthorized" and "needs a manager" in adjuster.message
    supervisor = await claims.refused(cid, "approve", {"approver_id": "sup-1", "role": "supervisor"})
    assert supervisor.type == "NotAuthorized"
    investigator = await claims.refused(cid, "approve", {"approver_id": "inv-1", "role": "manager"})
    assert "investigator" in investigator.message
    ack = await claims.update(cid, "approve", {"approver_id": "mgr-1", "role": "manager", "comment": "ok"})
    assert ack["claim_id"] == cid
    result = await handle.result()
    assert (result["outcome"], result["paid_amount"]) == ("paid", "125100.00")
    assert result["decision"]["kind"] == "partial", "the investigator confirmed less than was claimed"
    assert kinds(claims.notices(cid))[:2] == ["acknowledgement", "investigation_opened"]
    history = await handle.fetch_history()
    assert "adj-1" not in history.to_json(), "refused updates leave no trace in the history"


async def test_above_half_a_million_two_different_managers_must_approve(claims):
    claim = auto_claim(policy_number="P-AUTO-002", claimed_amount="800000.00", line_items=[],
                       documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "approve", {"approver_id": "mgr-1", "role": "manager"})
    again = await claims.refused(cid, "approve", {"approver_id": "mgr-1", "role": "manager"})
    assert "already approved" in again.message
    assert (await claims.status(cid))["stage"] == "awaiting_approval"
    await claims.update(cid, "approve", {"approver_id": "mgr-2", "role": "manager"})
    result = await handle.result()
    assert result["paid_amount"] == "719100.00"


async def test_escalation_raises_the_tier_and_the_handler_may_not_approve(claims):
    claim = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    status = await claims.at_stage(cid, "awaiting_approval")
    assert status["required_role"] == "adjuster"
    await claims.update(cid, "assign", {"handler_id": "sup-9", "by": "team-lead"})
    await claims.update(cid, "escalate", {"by": "adj-1", "reason": "claimant disputes the estimate"})
    assert (await claims.status(cid))["required_role"] == "supervisor"
    adjuster = await claims.refused(cid, "approve", {"approver_id": "adj-1", "role": "adjuster"})
    assert adjuster.type == "NotAuthorized"
    handler = await claims.refused(cid, "approve", {"approver_id": "sup-9", "role": "supervisor"})
    assert "handler" in handler.message
    await claims.update(cid, "approve", {"approver_id": "sup-1", "role": "supervisor"})
    assert (await handle.result())["paid_amount"] == "7500.00"


async def test_rejection_denies_and_an_appeal_is_reviewed_by_someone_else(claims):
    claim = auto_claim(claimed_amount="30000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "reject", {"approver_id": "sup-1", "role": "supervisor",
                                        "reason": "invoice predates the incident", "clause": "GT 6.2"})
    status = await claims.wait(cid, lambda s: s["outcome"] == "denied", "denied")
    assert status["decision"]["clauses"] == ["GT 6.2"]
    await claims.update(cid, "appeal", {"reason": "the invoice date is a typo; garage letter attached"})
    await claims.at_stage(cid, "awaiting_approval")
    same = await claims.refused(cid, "approve", {"approver_id": "sup-1", "role": "supervisor"})
    assert "decided it before" in same.message
    adjuster = await claims.refused(cid, "approve", {"approver_id": "adj-1", "role": "adjuster"})
    assert adjuster.type == "NotAuthorized", "appeals are reviewed by a supervisor"
    await claims.update(cid, "approve", {"approver_id": "sup-2", "role": "supervisor"})
    result = await handle.result()
    assert (result["outcome"], result["paid_amount"]) == ("paid", "29500.00")
    assert len(claims.notices(cid, "decision_denied")) == 1 and len(claims.notices(cid, "decision_approved")) == 1
    assert len(claims.notices(cid, "appeal_received")) == 1


async def test_an_appeal_with_nothing_assessed_to_pay_still_goes_to_its_reviewer(claims):
    """Denied at the coverage check (an excluded cause), so no payout was ever assessed; the appeal's review assesses
    one, and below the deductible it is nothing. The review still waits for its reviewer, who can answer it: the
    claim does not sit in a stage where neither an approval nor a rejection is taken."""
    claim = auto_claim(claimed_amount="400.00", incident={"cause": "racing"},
                       line_items=[{"description": "mirror", "amount": "400.00", "category": "repair"}],
                       documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.wait(cid, lambda s: s["outcome"] == "denied", "denied at the coverage check")
    await claims.update(cid, "appeal", {"reason": "it was a parking lot, not a race"})
    status = await claims.at_stage(cid, "awaiting_approval")
    assert status["outcome"] is None and status["payout"]["total"] == "0.00", status["payout"]
    for nothing in ({}, {"amount": "0.00"}):  # else the system would deny it in the reviewer's place
        refused = await claims.refused(cid, "approve", {"approver_id": "sup-2", "role": "supervisor", **nothing})
        assert refused.type == "InvalidUpdate" and "assesses nothing to pay" in str(refused), refused
    await claims.update(cid, "reject", {"approver_id": "sup-2", "role": "supervisor", "reason": "below the deductible",
                                        "clause": "art. 4"})
    result = await handle.result()
    assert (result["outcome"], result["paid_amount"]) == ("denied", "0.00")
    assert not claims.payments(cid)


async def test_partial_approval_appeal_agrees_a_higher_amount_and_pays_the_difference(claims):
    claim = auto_claim(policy_number="P-AUTO-002", claimed_amount="150000.00", incident={"injuries": True},
                       line_items=[], documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "reduced",
                                                      "confirmed_amount": "100000.00"})
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "approve", {"approver_id": "mgr-1", "role": "manager"})
    await claims.wait(cid, lambda s: s["outcome"] == "paid", "paid")
    await claims.update(cid, "appeal", {"reason": "the garage's second estimate was ignored"})
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "approve", {"approver_id": "mgr-2", "role": "manager", "amount": "120000.00"})
    result = await handle.result()
    assert [p.amount for p in claims.payments(cid)] == [D("89100.00"), D("30900.00")]
    assert result["paid_amount"] == "120000.00"
    assert result["decision"]["kind"] == "partial"
    assert len(claims.notices(cid, "payment_sent")) == 2


async def test_withdrawal_closes_the_claim_once(claims):
    claim = auto_claim(policy_number="P-HEALTH-001", claim_type="health", claimed_amount="2600.00",
                       incident={"cause": "illness"}, line_items=[], documents=docs("claim_form"))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_documents")
    await claims.update(cid, "withdraw", {"by": "call-centre", "reason": "settled privately"})
    result = await handle.result()
    assert result["outcome"] == "withdrawn" and result["paid_amount"] == "0.00"
    assert len(claims.notices(cid, "withdrawn")) == 1
    assert claims.payments(cid) == []


async def test_each_rejected_account_is_told_to_the_claimant_then_pays(claims):
    claim = auto_claim(bank_account={"holder": "Li Lei", "number": "12345678"})
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.wait(cid, lambda s: any(t["event"] == "payment_failed" for t in s["timeline"]), "payment_failed")
    await claims.change_bank_account(cid, {"holder": "Li Lei", "number": "6222000000000000"})  # a closed account
    await claims.wait(cid, lambda s: sum(t["event"] == "payment_failed" for t in s["timeline"]) == 2, "2nd failure")
    await claims.skip(61)  # a new code may be sent a minute after the last
    await claims.change_bank_account(cid, {"holder": "Li Lei", "number": "6222000099998888"})
    result = await handle.result()
    assert result["paid_amount"] == "2700.00"
    assert len(claims.notices(cid, "payment_failed")) == 2, "each rejected account is told to the claimant"
    assert [t.account_number for t in claims.transfers(cid)] == ["6222000099998888"]


async def test_gateway_outage_is_retried_and_pays_once(claims):
    claims.gateway.fail_next(2)
    claim = auto_claim()
    result = await (await claims.start(claim)).result()
    assert result["paid_amount"] == "2700.00"
    assert len(claims.transfers(claim["claim_id"])) == 1
    assert claims.gateway.calls >= 3
