"""SLA clocks on the time-skipping server: warnings at 80 %, breaches that escalate, pauses, statutory advance,
green channel and appeal clocks."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from config.masking import mask_text
from core.rules.calendar import add_business_days
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs

D = Decimal
DAY = timedelta(days=1)


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def event_at(status, event: str) -> datetime:
    return when(next(t["at"] for t in status["timeline"] if t["event"] == event))


def about(span: timedelta, expected: timedelta) -> bool:
    """Clock arithmetic starts a few milliseconds after the event that marks it."""
    return abs(span - expected) < timedelta(minutes=5)


def investigated_claim(**changes):
    base = dict(claimed_amount="30000.00", incident={"injuries": True}, line_items=[],
                documents=docs(*ALL_AUTO_DOCS))
    base.update(changes)
    return auto_claim(**base)


async def test_investigation_clock_warns_at_80_percent_then_escalates_tier_by_tier(claims, time_env):
    claim = investigated_claim()
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    status = await claims.at_stage(cid, "investigating")
    opened = event_at(status, "stage:investigating")
    assert about(when(status["deadlines"]["investigation"]) - opened, 10 * DAY)

    await time_env.sleep(8 * DAY + timedelta(hours=2))
    status = await claims.status(cid)
    assert [(w["clock"], w["owner"]) for w in status["sla_warnings"]] == [("investigation", "adjuster")]
    assert status["sla_breaches"] == []
    assert len(await claims.sent(cid, "sla_warning")) == 1

    await time_env.sleep(2 * DAY)
    status = await claims.status(cid)
    assert [(b["clock"], b["escalated_to"]) for b in status["sla_breaches"]] == [("investigation", "supervisor")]
    assert status["escalated_to"] == "supervisor"
    breach = await claims.sent(cid, "sla_breach")
    assert len(breach) == 1 and breach[0].recipient == mask_text("claims-supervisors@insurer.example")

    await time_env.sleep(10 * DAY)
    status = await claims.status(cid)
    assert [b["escalated_to"] for b in status["sla_breaches"]] == ["supervisor", "manager"]
    assert len(claims.notices(cid, "sla_warning")) == 1, "the owner is warned once"

    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "as reported",
                                                      "confirmed_amount": "30000.00"})
    status = await claims.at_stage(cid, "awaiting_approval")
    assert status["required_role"] == "manager", "an escalated claim is decided by the tier it reached"
    assert "investigation" not in status["deadlines"]
    await claims.update(cid, "approve", {"approver_id": "mgr-1", "role": "manager"})
    assert (await handle.result())["paid_amount"] == "29500.00"


async def test_determination_clock_does_not_run_while_materials_are_outstanding(claims, time_env):
    claim = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs("claim_form"))
    cid = claim["claim_id"]
    await claims.start(claim)
    status = await claims.at_stage(cid, "awaiting_documents")
    assert "determination" not in status["deadlines"], "paused while the claimant gathers materials"
    await time_env.sleep(12 * DAY)
    await claims.update(cid, "submit_documents", {"documents": docs(*ALL_AUTO_DOCS[1:], claim_id=cid)})
    status = await claims.at_stage(cid, "awaiting_approval")
    complete = event_at(status, "documents_complete")
    remaining = when(status["deadlines"]["determination"]) - complete
    assert about(remaining, 30 * DAY), remaining
    assert about(when(status["deadlines"]["advance_payment"]) - complete, 60 * DAY)


async def test_approval_clock_counts_business_days_and_a_breach_raises_the_tier(claims, time_env):
    claim = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    status = await claims.at_stage(cid, "awaiting_approval")
    entered = event_at(status, "stage:awaiting_approval")
    assert abs(when(status["deadlines"]["approval"]) - add_business_days(entered, 2, set())) < timedelta(minutes=1)
    assert status["required_role"] == "adjuster"
    due = when(status["deadlines"]["approval"])
    # Just past the breach: two business days are two to four calendar days, depending on today's weekday.
    await time_env.sleep((due - entered).total_seconds() + 3600)
    status = await claims.status(cid)
    assert status["sla_breaches"][0]["clock"] == "approval"
    assert status["required_role"] == "supervisor"
    refused = await claims.refused(cid, "approve", {"approver_id": "adj-1", "role": "adjuster"})
    assert refused.type == "NotAuthorized"
    await claims.update(cid, "approve", {"approver_id": "sup-1", "role": "supervisor"})
    result = await handle.result()
    assert result["sla_breaches"][0]["escalated_to"] == "supervisor"


async def test_no_decision_for_60_days_pays_the_statutory_advance_once_then_the_rest(claims, time_env):
    claim = investigated_claim()
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    await time_env.sleep(61 * DAY)
    status = await claims.status(cid)
    assert [(p["kind"], p["amount"], p["sequence"]) for p in status["payments"]] == [("advance", "14750.00", 1)], \
        "half of the 29,500 computed payout while the investigation is open"
    assert status["payments"][0]["idempotency_key"] == f"claim/{cid}/payout/1"
    await time_env.sleep(30 * DAY)
    assert len((await claims.status(cid))["payments"]) == 1, "the advance is made once"

    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "as reported",
                                                      "confirmed_amount": "30000.00"})
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "approve", {"approver_id": "mgr-1", "role": "manager"})
    result = await handle.result()
    payments = claims.payments(cid)
    assert [(p.kind, p.amount) for p in payments] == [("advance", D("14750.00")), ("final", D("14750.00"))]
    assert result["paid_amount"] == "29500.00", "the final payment is the payout minus the advance"
    assert len({p.idempotency_key for p in payments}) == 2
    assert any(s["step"].startswith("less advance") for s in result["decision"]["basis"])


async def test_green_channel_gets_a_handler_half_clocks_and_a_supervisor_approved_advance(claims):
    claim = auto_claim(policy_number="P-AUTO-002", claimed_amount="50000.00", line_items=[],
                       incident={"major": True, "description": "vehicle fire on the highway"},
                       documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    status = await claims.at_stage(cid, "investigating")
    assert status["path"] == "green" and status["handler"] == "gc-auto-1"
    assert len(await claims.sent(cid, "handler_assigned")) == 1
    opened = event_at(status, "stage:investigating")
    assert about(when(status["deadlines"]["investigation"]) - opened, 5 * DAY), "green channel halves the clock"
    adjuster = await claims.refused(cid, "approve_advance", {"approver_id": "adj-1", "role": "adjuster",
                                                             "amount": "5000.00"})
    assert adjuster.type == "NotAuthorized"
    handler = await claims.refused(cid, "approve_advance", {"approver_id": "gc-auto-1", "role": "supervisor",
                                                            "amount": "5000.00"})
    assert "handler" in handler.message
    await claims.update(cid, "approve_advance", {"approver_id": "sup-1", "role": "supervisor", "amount": "5000.00"})
    await claims.wait(cid, lambda s: len(s["payments"]) == 1, "advance paid")
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "total loss",
                                                      "confirmed_amount": "50000.00"})
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "approve", {"approver_id": "sup-2", "role": "supervisor"})
    result = await handle.result()
    assert [p.amount for p in claims.payments(cid)] == [D("5000.00"), D("39100.00")]
    assert result["paid_amount"] == "44100.00"


async def test_appeal_is_acknowledged_at_once_and_has_a_72_hour_resolution_clock(claims, time_env):
    claim = auto_claim(claimed_amount="30000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "reject", {"approver_id": "sup-1", "role": "supervisor", "reason": "r", "clause": "c"})
    await claims.wait(cid, lambda s: s["outcome"] == "denied", "denied")
    await claims.update(cid, "appeal", {"reason": "please look again"})
    status = await claims.at_stage(cid, "awaiting_approval")
    received = event_at(status, "stage:awaiting_approval")
    assert "appeal_ack" not in status["deadlines"], "acknowledged at once"
    assert about(when(status["deadlines"]["appeal_resolution"]) - received, 3 * DAY)
    assert len(await claims.sent(cid, "appeal_received")) == 1
    await time_env.sleep(3 * DAY + timedelta(hours=1))
    status = await claims.status(cid)
    assert any(b["clock"] == "appeal_resolution" for b in status["sla_breaches"])
    assert status["required_role"] == "manager", "a missed appeal deadline goes up a tier"
    await claims.update(cid, "reject", {"approver_id": "mgr-1", "role": "manager", "reason": "upheld",
                                        "clause": "c"})
    result = await handle.result()
    assert result["outcome"] == "denied"
    first, second = claims.notices(cid, "decision_denied")
    assert "60 日内提出申诉" in first.body, "the first decision tells the claimant how long they have to appeal"
    assert "申诉" not in second.body.replace("不能再申诉", "") and "不能再申诉" in second.body, \
        "the decision on the appeal offers no second appeal (the one appeal is used)"


async def test_payment_clock_escalates_while_the_claimant_owes_bank_details(claims, time_env):
    claim = auto_claim(bank_account={"holder": "Li Lei", "number": "1234"})
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.wait(cid, lambda s: "bank_details" in s["deadlines"], "waiting for bank details")
    await time_env.sleep(16 * DAY)
    status = await claims.status(cid)
    breaches = {b["clock"]: b["escalated_to"] for b in status["sla_breaches"]}
    assert breaches == {"payment": "supervisor", "bank_details": "manager"}, \
        "nobody answered for the bank details: the clock hands the claim to the next tier"
    assert [w["clock"] for w in status["sla_warnings"]] == ["payment", "bank_details"]
    assert len(await claims.sent(cid, "payment_failed")) == 1
    assert len(await claims.sent(cid, "bank_details_reminder")) == 1, "reminded half-way"
    assert len(await claims.sent(cid, "sla_breach", 2)) == 2
