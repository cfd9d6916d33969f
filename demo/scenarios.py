"""`python starter.py demo`: sample claims down every path against the embedded server and a worker.

Each scenario starts a claim, acts as the back office would (documents, investigation, approvals, refused
attempts, withdrawal, new bank details) and waits for the outcome; the table at the end shows claim, path,
outcome, amount and time taken, and the demo fails if any claim did not reach its expected outcome.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select
from temporalio.client import (
    Client,
)

from activities.policies import load_policies
from client.claims import Refused, RunFailed, claim_result, parse_claim, start_claim, still_running
from client.complaints import complaint_result
from config.settings import Settings
from config.temporal import connect, embedded_server_running, stop_embedded_server
from db.engine import make_engine
from db.schema import upgrade
from demo.desk import Desk, at_stage, claim_status, wait_for
from demo.read_documents import invoice_above_claim, invoice_read, uploaded_invoice
from demo.samples import SAMPLES, base_claim, documents
from demo.services import demo_queue, start_background
from demo.waiting import STAGE_WORDS, leave_claims_to_decide, open_progress_page
from documents.store import DocumentStore, store_for
from models.contract import PolicyTerms, workflow_id_for
from models.tables import LedgerRow
from ocr.worker import build_ocr_worker
from reporting import finance
from reporting.reports import build_daily_report, render_daily_report
from workers.claims import build_worker

Script = Callable[[Desk, str, list[str]], Awaitable[None]]


@dataclass
class Scenario:
    name: str
    expected: str
    claim: dict[str, Any]
    script: Script | None = None
    notes: list[str] = field(default_factory=list)


async def refused(desk: Desk, claim_id: str, update: str, payload: dict[str, Any], notes: list[str]) -> None:
    try:
        await desk.send(claim_id, update, payload)
    except Refused as err:
        notes.append(f"{update} {payload.get('approver_id', '')} {err}")
        return
    raise AssertionError(f"{update} {payload} should have been refused")


RENEWED_INCIDENT = "2025-11-20T21:00:00+08:00"
"""The incident of the renewed-policy sample: in the policy's 2025 period (samples/policies.json)."""

DECIDERS = {"adjuster": "adj-zhao", "supervisor": "sup-liu", "manager": "mgr-chen"}
"""Who decides at each tier in the demo."""
REVIEWERS = {"supervisor": "sup-zhou", "manager": "mgr-wu"}
"""Who reviews an appeal: people who took no part in the first decision."""


async def decide_at_tier(desk: Desk, claim_id: str, update: str, payload: dict[str, Any],
                         people: dict[str, str] = DECIDERS) -> str:
    """Approve or reject as the person of the tier the claim needs now; the tier the decision was taken at.

    A clock that breaches raises the tier on its own (a day lasts a second in the demo, so a busy machine may miss
    one): when the tier moved between reading it and deciding, the decision is taken again at the new tier."""
    for _ in range(len(people) + 1):
        tier = (await claim_status(desk.client, claim_id))["required_role"]
        try:
            await desk.send(claim_id, update, {**payload, "approver_id": people[tier], "role": tier})
            return str(tier)
        except Refused:
            if (await claim_status(desk.client, claim_id))["required_role"] == tier:
                raise
    raise AssertionError(f"{update} on {claim_id}: the tier kept moving")


# ----------------------------------------------------------------------------- scripts


async def supply_documents(desk: Desk, claim_id: str, notes: list[str]) -> None:
    status = await wait_for(desk.client, claim_id, at_stage("awaiting_documents"))
    notes.append("one request for: " + ", ".join(status["missing_documents"]))
    await desk.send(claim_id, "submit_documents",
                      {"documents": documents(claim_id, *status["missing_documents"])})


async def investigate_then_manager(desk: Desk, claim_id: str, notes: list[str]) -> None:
    await wait_for(desk.client, claim_id, at_stage("investigating"))
    await desk.send(claim_id, "record_investigation", {
        "investigator_id": "inv-wang", "findings": "damage consistent with the report; one invoice reduced",
        "confirmed_amount": "140000.00", "fraud_suspected": False})
    await wait_for(desk.client, claim_id, at_stage("awaiting_approval"))
    await refused(desk, claim_id, "approve", {"approver_id": "adj-zhao", "role": "adjuster"}, notes)
    await refused(desk, claim_id, "approve", {"approver_id": "inv-wang", "role": "manager"}, notes)
    await decide_at_tier(desk, claim_id, "approve", {"comment": "investigation report reviewed"})


async def supervisor_rejects(desk: Desk, claim_id: str, notes: list[str]) -> None:
    await wait_for(desk.client, claim_id, at_stage("awaiting_approval"))
    await refused(desk, claim_id, "approve", {"approver_id": "adj-zhao", "role": "adjuster"}, notes)
    await decide_at_tier(desk, claim_id, "reject", {
        "reason": "repair invoice predates the incident", "clause": "General Terms 6.2 (false or inflated claims)"})


async def withdraw(desk: Desk, claim_id: str, notes: list[str]) -> None:
    await wait_for(desk.client, claim_id, at_stage("awaiting_documents"))
    await desk.send(claim_id, "withdraw", {"by": "call-centre", "reason": "claimant settled privately"})


async def new_bank_details(desk: Desk, claim_id: str, notes: list[str]) -> None:
    await wait_for(desk.client, claim_id, lambda s: any(t["event"] == "payment_failed" for t in s["timeline"]))
    notes.append("account rejected; claimant asked once for new details")
    await desk.send(claim_id, "request_code", {"purpose": "bank_account", "account_last4": "8888"})
    code = desk.code_received(claim_id, "bank_account")
    notes.append("new account proved with the one-time code sent to the phone on file, naming the account ending 8888")
    await desk.send(claim_id, "update_bank_account", {"holder": "Li Lei", "number": "6222000099998888", "code": code})


async def nobody_decides(desk: Desk, claim_id: str, notes: list[str]) -> None:
    await wait_for(desk.client, claim_id, at_stage("awaiting_approval"))
    status = await wait_for(desk.client, claim_id, lambda s: bool(s["sla_breaches"]))
    breach = status["sla_breaches"][0]
    notes.append(f"{breach['clock']} deadline missed; escalated to {breach['escalated_to']} on its own")
    await decide_at_tier(desk, claim_id, "approve", {})


async def statutory_advance(desk: Desk, claim_id: str, notes: list[str]) -> None:
    await wait_for(desk.client, claim_id, at_stage("investigating"))
    status = await wait_for(desk.client, claim_id, lambda s: bool(s["payments"]), seconds=120)
    advance = status["payments"][0]
    notes.append(f"no decision for 60 days: statutory advance of {advance['amount']} paid by the workflow itself")
    await desk.send(claim_id, "record_investigation", {
        "investigator_id": "inv-wang", "findings": "injury confirmed by hospital records",
        "confirmed_amount": "30000.00"})
    await wait_for(desk.client, claim_id, at_stage("awaiting_approval"))
    tier = await decide_at_tier(desk, claim_id, "approve", {}, dict.fromkeys(DECIDERS, "lead-chen"))
    notes.append(f"investigation overdue: approved by a {tier}")


async def green_channel(desk: Desk, claim_id: str, notes: list[str]) -> None:
    status = await wait_for(desk.client, claim_id, at_stage("investigating"))
    notes.append(f"dedicated handler {status['handler']}; clocks halved")
    await desk.send(claim_id, "approve_advance", {"approver_id": "sup-liu", "role": "supervisor",
                                                            "amount": "10000.00"})
    await wait_for(desk.client, claim_id, lambda s: bool(s["payments"]))
    notes.append("advance of 10000.00 approved by a supervisor and paid")
    await desk.send(claim_id, "record_investigation", {
        "investigator_id": "inv-wang", "findings": "total loss", "confirmed_amount": "50000.00"})
    await wait_for(desk.client, claim_id, at_stage("awaiting_approval"))
    await decide_at_tier(desk, claim_id, "approve", {}, {**DECIDERS, "supervisor": "sup-zhou"})


async def advance_then_denied(desk: Desk, claim_id: str, notes: list[str]) -> None:
    """Money out that no decision allows is owed back: an advance on a claim that is then denied opens a recovery,
    finance records what the claimant repays, and a manager who took no part writes off the rest."""
    await wait_for(desk.client, claim_id, at_stage("investigating"))
    await desk.send(claim_id, "approve_advance", {"approver_id": "sup-liu", "role": "supervisor",
                                                  "amount": "8000.00"})
    await wait_for(desk.client, claim_id, lambda s: bool(s["payments"]))
    notes.append("advance of 8000.00 approved by a supervisor and paid")
    await desk.send(claim_id, "record_investigation", {
        "investigator_id": "inv-wang", "findings": "the vehicle was used for paid racing that night"})
    await wait_for(desk.client, claim_id, at_stage("awaiting_approval"))
    await decide_at_tier(desk, claim_id, "reject", {"reason": "the loss arose in an excluded use",
                                                    "clause": "General Terms 7.3 (excluded uses)"},
                         {**DECIDERS, "supervisor": "sup-zhou"})
    status = await wait_for(desk.client, claim_id, lambda s: bool(s["recoveries"]))
    owed = status["recoveries"][0]
    notes.append(f"denied with {owed['amount']} out: recovery {owed['number']} opened, letter to the claimant")
    await desk.send(claim_id, "record_recovery", {"amount": "5000.00", "reference": "TRF-REPAY-0001",
                                                  "by": "fin-qian"})
    await desk.send(claim_id, "write_off_recovery", {"reason": "the claimant cannot repay the rest",
                                                     "by": "mgr-wu"})
    status = await claim_status(desk.client, claim_id)
    notes.append(f"5000.00 repaid (recorded by finance); {status['recoveries'][0]['written_off']} written off by "
                 f"a manager who took no part; still owed {status['recovery_outstanding']}")


OTHER_DRIVER = {"at_fault": True, "name": "张三", "plate": "沪A12345", "insurer": "平安财险",
                "policy_number": "PA-2026-889", "insurer_email": "claims@other-insurer.example"}


async def third_party_at_fault(desk: Desk, claim_id: str, notes: list[str]) -> None:
    """A collision the other driver caused: the claim is reserved at registration and paid; what it paid is then
    recovered from the other driver's insurer (代位追偿), who pays half and disputes the rest, which a manager writes
    off. Every movement is a row of the financial ledger."""
    status = await wait_for(desk.client, claim_id, lambda s: bool(s["recoveries"]))
    recovery = status["recoveries"][0]
    notes.append(f"paid {status['payments'][0]['amount']}; subrogation recovery {recovery['number']} opened for "
                 f"{recovery['amount']} against {recovery['party']}, demand sent to the other insurer")
    half = (Decimal(recovery["amount"]) / 2).quantize(Decimal("0.01"))
    await desk.send(claim_id, "record_recovery", {"kind": "subrogation", "amount": str(half),
                                                  "reference": "PA-SUBRO-0001", "by": "fin-qian"})
    await desk.send(claim_id, "write_off_recovery", {"kind": "subrogation", "by": "mgr-wu",
                                                     "reason": "the other insurer accepts half the liability"})
    notes.append(f"{half} received from the other insurer (recorded by finance); the rest written off by a manager")
    for move in ledger_of(desk, claim_id):
        notes.append(f"ledger: {move}")


def ledger_of(desk: Desk, claim_id: str) -> list[str]:
    """The claim's rows of the financial ledger, one line each."""
    with Session(make_engine(desk.settings.resolved_database_url)) as session:
        rows = session.exec(select(LedgerRow).where(LedgerRow.claim_id == claim_id).order_by(col(LedgerRow.seq)))
        return [f"{r.movement:<16} {r.cost_type:<12} {Decimal(r.amount):>10} -> {Decimal(r.balance):>10}  ({r.cause})"
                for r in rows]


TYPHOON_REGION = "440305"
"""深圳市南山区: inside the typhoon the demo declares (all of 广东省, 440000)."""


def typhoon(prefix: str) -> dict[str, object]:
    """The catastrophe the demo declares: a typhoon over Guangdong since yesterday, for auto and property claims,
    with a reduced documents list for property claims, the authority of its team's adjuster and supervisor doubled
    (everyone else's stays), and the advance the workflow pays of its own initiative due after 7 days of complete
    materials rather than 60."""
    now = datetime.now(UTC)
    return {"code": f"CAT-{prefix}", "name": "台风“海葵” (demo)", "regions": ["440000"],
            "starts_at": (now - timedelta(days=2)).isoformat(), "ends_at": (now + timedelta(days=3)).isoformat(),
            "claim_types": ["auto", "property"],
            "rules": {"green_channel": True, "documents": {"property": ["claim_form", "damage_photos"]},
                      "authority_uplift": "2", "team": [DECIDERS["adjuster"], DECIDERS["supervisor"]],
                      "advance_days": 7, "advance_share": "0.7"},
            "declared_by": "mgr-chen", "reason": "typhoon landfall in Guangdong"}


async def typhoon_claim(desk: Desk, claim_id: str, notes: list[str]) -> None:
    """A flooded ground floor in Shenzhen during the declared typhoon: it joins the catastrophe at intake, needs only
    the form and photos, goes to the green channel, and an adjuster decides 12,000 under the doubled authority."""
    status = await wait_for(desk.client, claim_id, lambda s: s["stage"] in ("awaiting_approval", "investigating"))
    notes.append(f"joined catastrophe {status['catastrophe']} at intake; {status['path']} channel, handler "
                 f"{status['handler']}; documents needed: form and photos only")
    if status["stage"] == "investigating":
        await desk.send(claim_id, "record_investigation", {"investigator_id": "inv-wang",
                                                           "findings": "water line 40 cm, as photographed"})
        await wait_for(desk.client, claim_id, at_stage("awaiting_approval"))
    tier = await decide_at_tier(desk, claim_id, "approve", {})
    notes.append(f"approved by the {tier} (an adjuster of the catastrophe team may decide up to 20,000)")


async def renewed_policy(desk: Desk, claim_id: str, notes: list[str]) -> None:
    """Reported after the policy renewed, for an incident before: the period the incident fell in covers it, on that
    period's terms (a 2,000 deductible), not the renewal's (500)."""
    status = await wait_for(desk.client, claim_id, lambda s: s["outcome"] is not None or s["stage"] in (
        "investigating", "awaiting_approval"))
    notes.append(f"incident of {RENEWED_INCIDENT[:10]}, reported after the renewal of 2026-01-01: "
                 "covered by the 2025 period and its terms")
    if status["stage"] == "investigating":  # reported long after the incident: a risk that may call for one
        await desk.send(claim_id, "record_investigation", {
            "investigator_id": "inv-wang", "findings": "the leak was reported to the building manager that night"})
        status = await wait_for(desk.client, claim_id, at_stage("awaiting_approval"))
    if status["stage"] == "awaiting_approval":
        await decide_at_tier(desk, claim_id, "approve", {})
    status = await wait_for(desk.client, claim_id, lambda s: s["outcome"] is not None)
    notes.append(f"payout {status['payout']['total']}: 4500.00 less the 2025 period's deductible of 2000.00 "
                 "(the renewal's 500.00 would have paid 4000.00)")


async def appeal_upheld(desk: Desk, claim_id: str, notes: list[str]) -> None:
    await wait_for(desk.client, claim_id, at_stage("investigating"))
    await desk.send(claim_id, "record_investigation", {
        "investigator_id": "inv-wang", "findings": "one invoice not accepted", "confirmed_amount": "9000.00"})
    await wait_for(desk.client, claim_id, at_stage("awaiting_approval"))
    await decide_at_tier(desk, claim_id, "approve", {})
    await wait_for(desk.client, claim_id, lambda s: s["outcome"] == "paid")
    notes.append("approved in part (9000 of 12000 accepted); claimant appeals")
    await desk.send(claim_id, "appeal", {"reason": "the second invoice is for the same repair"})
    await wait_for(desk.client, claim_id, at_stage("awaiting_approval"))
    await decide_at_tier(desk, claim_id, "approve", {"amount": "11500.00", "comment": "second invoice accepted"},
                         REVIEWERS)


async def low_score_and_complaint(desk: Desk, claim_id: str, notes: list[str]) -> None:
    """After closing: a low survey score and its call-back, then a complaint about the claim, resolved in time
    by a supervisor who took no part in it."""
    await wait_for(desk.client, claim_id, lambda s: s["survey_until"] is not None)
    await desk.send(claim_id, "survey_response", {"score": 2, "comment": "nobody told me what was happening"})
    await wait_for(desk.client, claim_id, lambda s: "callback" in s["deadlines"])
    await desk.send(claim_id, "record_callback", {"by": "sup-zhou", "reached": True,
                                                  "outcome": "explained the fast path; apologised for the silence"})
    notes.append("survey score 2: call-back opened (24 h) and made by sup-zhou")
    complaint = await desk.file_complaint({
        "complaint_id": f"{claim_id}-K", "claim_id": claim_id, "category": "letter",
        "description": "the payment letter came before any word that the claim was accepted",
        "complainant": {"name": "Li Lei", "phone": "13800000000", "channel": "sms"}})
    await desk.on_complaint(complaint, "assign_complaint", {"handler_id": "sup-wu", "by": "sup-liu"})
    await desk.on_complaint(complaint, "acknowledge_complaint", {"by": "sup-wu"})
    await desk.on_complaint(complaint, "resolve_complaint", {
        "by": "sup-wu", "resolution": "letters now go in the order decisions are taken", "root_cause": "communication",
        "claimant_acknowledged": True})
    result = await complaint_result(desk.client, complaint)
    took = (datetime.now(UTC) - result.received_at).total_seconds()
    notes.append(f"complaint {claim_id}-K resolved by sup-wu in {took:.1f}s, within the 72-hour standard "
                 f"(root cause {result.root_cause}; breaches: {len(result.sla_breaches)})")


def scenarios(prefix: str, store: DocumentStore | None = None) -> list[Scenario]:
    """Every path; with a document store, also the claims whose uploaded invoices are read by machine."""
    def cid(n: int) -> str:
        return f"{prefix}-{n:02d}"

    auto_all = ["claim_form", "id_card", "driver_license", "vehicle_license", "accident_report",
                "repair_invoice", "damage_photos"]
    return [
        Scenario("fast path", "paid", base_claim(cid(1), documents=documents(
            cid(1), "claim_form", "damage_photos", "repair_invoice"))),
        Scenario("below deductible", "denied", base_claim(
            cid(2), claimed_amount="380.00", line_items=[{"description": "mirror", "amount": "380.00"}],
            documents=documents(cid(2), "claim_form", "damage_photos", "repair_invoice"))),
        Scenario("excluded cause", "denied", base_claim(cid(3), incident={"cause": "racing"})),
        Scenario("lapsed policy", "denied", base_claim(cid(4), policy_number="P-AUTO-LAPSED")),
        Scenario("missing materials, then supplied", "paid", base_claim(
            cid(5), policy_number="P-PROP-001", claim_type="property", claimed_amount="4000.00",
            incident={"cause": "water_leak", "description": "pipe burst in the kitchen"},
            line_items=[{"description": "floor and cabinets", "amount": "4000.00"}],
            documents=documents(cid(5), "claim_form")), supply_documents),
        Scenario("investigation, manager approval", "paid", base_claim(
            cid(6), policy_number="P-AUTO-002", claimed_amount="150000.00",
            incident={"injuries": True, "description": "collision on the ring road, driver injured"},
            line_items=[{"description": "body and engine repair", "amount": "150000.00"}],
            documents=documents(cid(6), *auto_all)), investigate_then_manager),
        Scenario("approval refused", "denied", base_claim(
            cid(7), claimed_amount="30000.00", line_items=[{"description": "front end", "amount": "30000.00"}],
            documents=documents(cid(7), *auto_all)), supervisor_rejects),
        Scenario("withdrawal", "withdrawn", base_claim(
            cid(8), policy_number="P-HEALTH-001", claim_type="health", claimed_amount="2600.00",
            incident={"cause": "illness", "description": "outpatient treatment"},
            line_items=[{"description": "treatment", "amount": "2600.00"}],
            documents=documents(cid(8), "claim_form")), withdraw),
        Scenario("invalid bank account, new details", "paid", base_claim(
            cid(9), bank_account={"holder": "Li Lei", "number": "12345678"},
            documents=documents(cid(9), "claim_form", "damage_photos", "repair_invoice")), new_bank_details),
        Scenario("escalates on its own", "paid", base_claim(
            cid(12), claimed_amount="8000.00", line_items=[], documents=documents(cid(12), *auto_all)),
            nobody_decides),
        Scenario("statutory advance payment", "paid", base_claim(
            cid(13), claimed_amount="30000.00", incident={"injuries": True}, line_items=[],
            documents=documents(cid(13), *auto_all)), statutory_advance),
        Scenario("green channel", "paid", base_claim(
            cid(14), policy_number="P-AUTO-002", claimed_amount="50000.00", line_items=[],
            incident={"major": True, "description": "vehicle fire on the highway"},
            documents=documents(cid(14), *auto_all)), green_channel),
        Scenario("advance, then denied: owed back", "denied", base_claim(
            cid(19), policy_number="P-AUTO-002", claimed_amount="30000.00", line_items=[],
            incident={"major": True, "description": "vehicle burnt out after a night race"},
            documents=documents(cid(19), *auto_all)), advance_then_denied),
        Scenario("renewed policy, incident before", "paid", base_claim(
            cid(20), policy_number="P-PROP-002", claim_type="property", claimed_amount="4500.00",
            incident={"cause": "water_leak", "description": "pipe burst under the bathroom floor",
                      "occurred_at": RENEWED_INCIDENT},
            line_items=[{"description": "floor and ceiling below", "amount": "4500.00"}],
            documents=documents(cid(20), "claim_form", "id_card", "loss_list", "damage_photos", "ownership_proof")),
            renewed_policy),
        Scenario("partial approval, appeal upheld", "paid", base_claim(
            cid(15), claimed_amount="12000.00", incident={"injuries": True}, line_items=[],
            documents=documents(cid(15), *auto_all)), appeal_upheld),
        Scenario("low survey score, call-back, complaint", "paid", base_claim(
            cid(16), claimed_amount="1800.00", line_items=[{"description": "wing mirror", "amount": "1800.00"}],
            documents=documents(cid(16), "claim_form", "damage_photos", "repair_invoice")), low_score_and_complaint),
        Scenario("collision, third party at fault", "paid", base_claim(
            cid(21), claimed_amount="4200.00", third_party=OTHER_DRIVER,
            incident={"description": "hit from behind at a red light by 沪A12345"},
            line_items=[{"description": "rear bumper and tail lamp", "amount": "4200.00"}],
            documents=documents(cid(21), "claim_form", "damage_photos", "repair_invoice")), third_party_at_fault),
        Scenario("typhoon: a declared catastrophe", "paid", base_claim(
            cid(22), policy_number="P-PROP-001", claim_type="property", claimed_amount="12000.00",
            incident={"cause": "typhoon", "description": "ground floor flooded in the typhoon",
                      "region": TYPHOON_REGION},
            line_items=[{"description": "floor, walls and furniture", "amount": "12000.00"}],
            documents=documents(cid(22), "claim_form", "damage_photos")), typhoon_claim),
        Scenario("unknown policy", "error:UnknownPolicy", base_claim(cid(10), policy_number="P-NOPE-404")),
        Scenario("malformed claim", "error:InvalidClaim", base_claim(cid(11), claimed_amount="-50")),
    ] + ([] if store is None else [
        Scenario("invoice read by machine", "paid", base_claim(
            cid(17), policy_number="P-PROP-001", claim_type="property", claimed_amount="3200.00",
            incident={"cause": "water_leak", "description": "washing machine hose burst"},
            line_items=[{"description": "floor repair", "amount": "3200.00"}],
            documents=[*documents(cid(17), "claim_form", "damage_photos", "loss_list"),
                       uploaded_invoice(store, cid(17), "3200.00")]), invoice_read),
        Scenario("invoice above the claim", "paid", base_claim(
            cid(18), policy_number="P-AUTO-002", claimed_amount="3200.00",
            line_items=[{"description": "bumper repair", "amount": "3200.00"}],
            documents=[*documents(cid(18), *[k for k in auto_all if k != "repair_invoice"]),
                       uploaded_invoice(store, cid(18), "4160.00")]), invoice_above_claim),
    ])


@dataclass
class Row:
    claim_id: str
    scenario: str
    path: str
    outcome: str
    amount: str
    seconds: float | None
    expected: str
    notes: list[str]

    @property
    def ok(self) -> bool:
        return self.outcome == self.expected


async def play(client: Client, scenario: Scenario, settings: Settings) -> Row:
    claim_id = scenario.claim["claim_id"]
    row = Row(claim_id, scenario.name, "-", "", "-", None, scenario.expected, scenario.notes)
    try:
        await start_claim(client, parse_claim(scenario.claim), settings.task_queue)
    except Refused as err:
        row.outcome = "error:InvalidClaim"
        scenario.notes.append(f"refused before starting: {err}")
        return row
    if scenario.script is not None:
        await scenario.script(Desk(client, settings), claim_id, scenario.notes)
    while await still_running(client, workflow_id_for(claim_id)):
        status = await claim_status(client, claim_id)
        if status["outcome"] is not None:
            break
        await asyncio.sleep(0.2)
    else:
        try:
            await claim_result(client, claim_id)
        except RunFailed as err:
            row.outcome = f"error:{err.type}"
            scenario.notes.append(err.reason)
            return row
        status = await claim_status(client, claim_id)
    row.path, row.outcome = status["path"] or "-", status["outcome"]
    row.amount = str(sum((Decimal(p["amount"]) for p in status["payments"]), Decimal("0.00")))
    start, end = status["registered_at"], status["closed_at"]
    if start and end:
        row.seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    if status["decision"] and status["decision"]["reasons"]:
        scenario.notes.append("; ".join(status["decision"]["reasons"]))
    return row


def print_table(rows: list[Row]) -> None:
    print()
    print(f"{'claim':<16} {'scenario':<34} {'path':<9} {'outcome':<20} {'paid':>11} {'time':>8}  check")
    print("-" * 110)
    for r in rows:
        took = f"{r.seconds:.1f}s" if r.seconds is not None else "-"
        print(f"{r.claim_id:<16} {r.scenario:<34} {r.path:<9} {r.outcome:<20} {r.amount:>11} {took:>8}  "
              f"{'ok' if r.ok else 'EXPECTED ' + r.expected}")
        for note in r.notes:
            print(f"{'':<17}- {note}")


async def run_demo(settings: Settings) -> None:
    """Play the samples; a demo that fails stops the embedded server it started, so nothing is left running."""
    started_here = not settings.temporal_address and not embedded_server_running(settings)
    try:
        await _run_demo(settings)
    except BaseException:
        if started_here:
            stop_embedded_server(settings)
        raise


async def _run_demo(settings: Settings) -> None:
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)  # `make demo` has run `starter.py db upgrade`; this covers `starter.py demo` alone
    policies = [PolicyTerms.model_validate(p)
                for p in json.loads((SAMPLES / "policies.json").read_text(encoding="utf-8"))]
    prefix = "D" + datetime.now(UTC).strftime("%m%d%H%M%S")
    # The samples' policies as they are (for the README's examples), and a copy of each for this run's claims: a
    # run's payments count against the sum insured of the policies it used, so every run starts from a whole one.
    load_policies(engine, [*policies, *(p.model_copy(update={"policy_number": f"{p.policy_number}-{prefix}"})
                                        for p in policies)])
    client = await connect(settings)
    print(f"SLA profile: {settings.sla_profile}; Temporal: {settings.temporal_address or 'embedded dev server'}; "
          f"database: {engine.url.render_as_string()}")
    samples = settings.model_copy(update={"task_queue": demo_queue(settings)})
    async with build_worker(client, samples, engine), build_ocr_worker(client, settings):
        typhoon_code = await Desk(client, samples).declare_catastrophe(typhoon(prefix))
        print(f"Declared catastrophe {typhoon_code}: 广东省 (440000), auto and property claims, since yesterday")
        runs = scenarios(prefix, store_for(settings))
        for scenario in runs:
            if isinstance(scenario.claim.get("policy_number"), str):
                scenario.claim["policy_number"] = f"{scenario.claim['policy_number']}-{prefix}"
        rows = await asyncio.gather(*(play(client, s, samples) for s in runs))
    print_table(list(rows))
    today = datetime.now(ZoneInfo(settings.report_timezone)).date()
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    report = settings.reports_dir / f"daily-{today.isoformat()}.html"
    report.write_text(render_daily_report(build_daily_report(engine, today, settings.report_timezone)),
                      encoding="utf-8")
    print(f"\nToday's daily report: {report}")
    month = today.strftime("%Y-%m")
    print(f"\nThe month's loss triangles from the financial ledger (python starter.py finance triangle --month "
          f"{month}):")
    print(finance.estimates_text(finance.estimated(finance.triangles(engine, month, settings.report_timezone)),
                                 month, settings.report_timezone))
    outbox = Path(settings.outbox_dir)
    print(f"\nLetters (sealed in {outbox}/<claim id>/): python starter.py outbox read <claim id>   "
          f"(e.g. {rows[0].claim_id})")
    failed = [r for r in rows if not r.ok]
    if failed:
        raise Refused(f"{len(failed)} sample claims did not reach their expected outcome")
    print(f"\nAll {len(rows)} sample claims reached their expected outcome.")
    url = start_background(settings)
    waiting = await leave_claims_to_decide(client, settings, prefix)
    print(f"\nLeft for you on the workbench, on the statutory clock (they wait for days): "
          f"{', '.join(f'{cid} ({STAGE_WORDS[stage]})' for cid, stage in waiting)}")
    print("\nClaimants' progress pages (a code goes to the phone on file; read it with "
          "`python starter.py outbox read <claim id> --kind code_progress`):")
    paid = next(r for r in rows if r.outcome == "paid")
    shown = await open_progress_page(url, Desk(client, settings), paid.claim_id)
    print(f"  {url}/c/{paid.claim_id}   (paid; opened just now with the code sent to {shown})")
    for row in [r for r in rows if r.outcome in ("denied", "withdrawn")][:2]:
        print(f"  {url}/c/{row.claim_id}   ({row.outcome})")
    print(f"  {url}/c/{waiting[-1][0]}   (waiting for materials: upload them there)")
    print(f"Staff pages of the same claims: {url}/app/claims/<claim id>, e.g. {url}/app/claims/{rows[0].claim_id}")
    if not settings.temporal_address:
        print(f"Temporal UI: http://127.0.0.1:{settings.embedded_ui_port}")
    print(f"\nThe workbench keeps running with a worker and the embedded server; `make stop` ends them.\n"
          f"Open the staff workbench: {url}/app  (sign in as a demo supervisor, sup-1)")
