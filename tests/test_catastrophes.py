"""Declared catastrophes (docs/catastrophes.md): a manager declares one; claims whose incident falls in its regions,
window and claim types join it at intake and take its rules (the green channel, a reduced documents list, an
authority uplift within the money guard); open claims join when it is declared; closing it stops new claims
joining and leaves those that joined as they are. On the time-skipping server, with a real worker and database."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import Session, select
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from client.claims import worklist_order
from config.rules import load_rules
from config.settings import Settings
from core.rules.catastrophes import covers, under
from models.catastrophes import (
    CATASTROPHE_WORKFLOW_TYPE,
    DECLARE_CATASTROPHE,
    CatastropheRules,
    catastrophe_workflow_id,
)
from models.tables import CatastropheRow, Claim, EventOutboxRow
from reporting.catastrophes import catastrophe_view
from testkit.claims import auto_claim, days_ago, docs
from testkit.harness import Claims
from testkit.waiting import eventually


def typhoon(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"code": f"CAT-TY-{uuid.uuid4().hex[:6]}", "name": "台风“海葵”", "regions": ["440000"],
            "starts_at": (now - timedelta(days=3)).isoformat(), "ends_at": (now + timedelta(days=2)).isoformat(),
            "claim_types": ["auto", "property"],
            "rules": {"green_channel": True, "documents": {"auto": ["claim_form", "damage_photos"]},
                      "authority_uplift": "2"},
            "declared_by": "mgr-1", "reason": "typhoon landfall in Guangdong", **changes}


async def declare(claims: Claims, declaration: dict[str, Any], subject: str = "mgr-1",
                  role: str = "manager") -> WorkflowHandle[Any, Any]:
    """Declared as the API declares it for a manager: with an action proof for the declaration; returns once intake
    can see it."""
    workflow_id = catastrophe_workflow_id(declaration["code"])
    start = await claims.proved(workflow_id, DECLARE_CATASTROPHE, declaration, subject, role)
    handle = await claims.client.start_workflow(CATASTROPHE_WORKFLOW_TYPE, start, id=workflow_id,
                                                task_queue=claims.queue)
    if role == "manager":
        await eventually(lambda: declared(claims, declaration["code"]), bool, "the catastrophe recorded")
    return handle


async def declared(claims: Claims, code: str) -> CatastropheRow | None:
    with Session(claims.engine) as session:
        return session.get(CatastropheRow, code)


def in_guangdong(**changes: Any) -> dict[str, Any]:
    claim = auto_claim(**changes)
    claim["incident"] = {**claim["incident"], "region": claim["incident"].get("region", "440305")}
    return claim


def test_a_division_covers_the_divisions_below_it():
    assert covers("440000", "440305") and covers("440300", "440305") and covers("440305", "440305")
    assert not covers("440300", "440105") and not covers("310000", "440305")


async def test_a_claim_in_the_region_and_window_joins_at_intake_on_the_catastrophes_rules(claims: Claims):
    cat = typhoon()
    await declare(claims, cat)
    claim = in_guangdong(claimed_amount="30000.00", line_items=[])
    claim["documents"] = docs("claim_form", "damage_photos", claim_id=claim["claim_id"])
    await claims.start(claim)
    status = await claims.wait(claim["claim_id"], lambda s: s["stage"] not in ("registered", "coverage_check"),
                               "triage")
    assert status["catastrophe"] == cat["code"]
    assert status["path"] == "green", "not paid at once: the green channel"
    assert status["missing_documents"] == [], "the catastrophe's reduced list: form and photos are enough"
    with Session(claims.engine) as session:
        row = session.get(Claim, claim["claim_id"])
        assert row is not None and row.catastrophe == cat["code"] and row.region == "440305"


async def test_a_claim_outside_the_region_the_window_or_the_types_does_not_join(claims: Claims):
    cat = typhoon()
    await declare(claims, cat)
    elsewhere = in_guangdong(incident={"region": "310104"})
    before = in_guangdong(incident={"occurred_at": days_ago(5)})
    health = in_guangdong(claim_type="health", policy_number="P-HEALTH-001",
                          incident={"cause": "illness", "region": "440305"})
    unplaced = auto_claim()
    for claim in (elsewhere, before, health, unplaced):
        await claims.start(claim)
    for claim in (elsewhere, before, health, unplaced):
        status = await claims.wait(claim["claim_id"], lambda s: s["stage"] not in ("registered", "coverage_check"),
                                   "triage")
        assert status["catastrophe"] is None, f"{claim['incident']} joined {cat['code']}"


async def test_closing_stops_new_claims_joining_and_leaves_those_joined(claims: Claims):
    cat = typhoon()
    handle = await declare(claims, cat)
    first = in_guangdong(claimed_amount="30000.00", line_items=[])
    await claims.start(first)
    await claims.wait(first["claim_id"], lambda s: s["catastrophe"] == cat["code"], "joined")
    refused = None
    try:
        await handle.execute_update("close_catastrophe", await claims.proved(
            handle.id, "close_catastrophe", {"by": "sup-1", "reason": "over"}, "sup-1", "supervisor"))
    except Exception as err:  # noqa: BLE001 (the refusal is checked below)
        refused = err
    assert refused is not None and "manager" in str(getattr(refused, "cause", refused))
    closed = await handle.execute_update("close_catastrophe", await claims.proved(
        handle.id, "close_catastrophe", {"by": "mgr-2", "reason": "the typhoon has passed"}, "mgr-2", "manager"))
    assert closed["state"] == "closed" and closed["closed_by"] == "mgr-2"
    result = await handle.result()
    assert [t["event"] for t in result["timeline"]] == ["declared", "closed"]
    await eventually(lambda: declared(claims, cat["code"]), lambda row: row is not None and row.closed_at is not None,
                     "the catastrophe recorded closed")
    later = in_guangdong()
    await claims.start(later)
    status = await claims.wait(later["claim_id"], lambda s: s["stage"] not in ("registered", "coverage_check"),
                               "triage")
    assert status["catastrophe"] is None, "closed: no claim joins it any more"
    assert (await claims.status(first["claim_id"]))["catastrophe"] == cat["code"], "those joined stay joined"


async def test_open_claims_join_when_a_catastrophe_is_declared(claims: Claims):
    waiting = in_guangdong(claimed_amount="30000.00", line_items=[], documents=[])
    outside = in_guangdong(claimed_amount="30000.00", line_items=[], documents=[], incident={"region": "310104"})
    for claim in (waiting, outside):
        await claims.start(claim)
        await claims.at_stage(claim["claim_id"], "awaiting_documents")
    cat = typhoon()
    handle = await declare(claims, cat)
    status = await claims.wait(waiting["claim_id"], lambda s: s["catastrophe"] == cat["code"], "joined on the batch")
    assert any(t["event"] == "catastrophe_joined" for t in status["timeline"])
    told = await eventually(lambda: handle.query("status"), lambda s: s["open_claims_told"] >= 1, "claims told")
    assert told["open_claims_told"] == 1, "only the claim in its region was told"
    assert (await claims.status(outside["claim_id"]))["catastrophe"] is None


async def awaiting_a_decision(claims: Claims, claimed_amount: str) -> tuple[str, dict[str, Any]]:
    """A claim in Guangdong reported for this amount, investigated when the rules call for it, waiting for a person's
    decision: its id and status."""
    claim = in_guangdong(claimed_amount=claimed_amount, line_items=[])
    cid = claim["claim_id"]
    await claims.start(claim)
    status = await claims.wait(cid, lambda s: s["stage"] in ("awaiting_approval", "investigating"),
                               "a decision to take")
    if status["stage"] == "investigating":
        await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "as reported"})
        status = await claims.at_stage(cid, "awaiting_approval")
    return cid, status


async def test_the_authority_uplift_lets_an_adjuster_decide_more_within_the_money_guard(claims: Claims):
    cat = typhoon()
    await declare(claims, cat)
    cid, status = await awaiting_a_decision(claims, "15000.00")
    assert status["required_role"] == "adjuster", "15,000 is within an adjuster's 10,000 raised twofold"
    await claims.update(cid, "approve", {"approver_id": "adj-7", "role": "adjuster"})
    paid = await claims.wait(cid, lambda s: s["outcome"] is not None, "paid")
    assert paid["outcome"] == "paid"

    big, _ = await awaiting_a_decision(claims, "25000.00")
    refusal = await claims.refused(big, "approve", {"approver_id": "adj-7", "role": "adjuster"})
    assert refusal.type == "NotAuthorized" and "20000" in str(refusal), "the uplift is bounded: a supervisor decides"


async def test_an_uplift_for_the_catastrophe_team_is_the_teams_alone(claims: Claims):
    """A catastrophe that names its team raises its members' authority only: another adjuster decides the same claim
    within the usual limit, and is told who can."""
    cat = typhoon(rules={"green_channel": True, "documents": {"auto": ["claim_form", "damage_photos"]},
                         "authority_uplift": "2", "team": ["ADJ-CAT-1", "sup-cat-1"]})
    await declare(claims, cat)
    cid, status = await awaiting_a_decision(claims, "15000.00")
    assert status["required_role"] == "adjuster", "an adjuster of the team may decide it"
    refusal = await claims.refused(cid, "approve", {"approver_id": "adj-7", "role": "adjuster"})
    assert refusal.type == "NotAuthorized" and "10000" in str(refusal) and "catastrophe team" in str(refusal), \
        str(refusal)
    await claims.update(cid, "approve", {"approver_id": "adj-cat-1", "role": "adjuster"})
    paid = await claims.wait(cid, lambda s: s["outcome"] is not None, "paid")
    assert paid["outcome"] == "paid" and sum(Decimal(p["amount"]) for p in paid["payments"]) > Decimal("10000")


async def test_only_a_manager_declares_a_catastrophe(claims: Claims):
    cat = typhoon()
    handle = await declare(claims, cat, subject="sup-1", role="supervisor")
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "NotAuthorized", cause
    assert await declared(claims, cat["code"]) is None


async def test_the_catastrophe_view_counts_its_claims_by_stage_and_times_their_payment(claims: Claims):
    cat = typhoon()
    await declare(claims, cat)
    paid = in_guangdong()  # small and clear: paid on the fast path
    waiting = in_guangdong(claimed_amount="30000.00", line_items=[], documents=[])
    for claim in (paid, waiting):
        await claims.start(claim)
    await claims.wait(paid["claim_id"], lambda s: s["outcome"] == "paid", "paid")
    await claims.at_stage(waiting["claim_id"], "awaiting_documents")
    await eventually(lambda: asyncio.to_thread(catastrophe_view, claims.engine, cat["code"]),
                     lambda v: v is not None and v.paid_claims == 1 and v.open_claims == 1, "both in the read model")
    view = catastrophe_view(claims.engine, cat["code"])
    assert view is not None
    assert view.by_stage == {"closed:paid": 1, "awaiting_documents": 1}
    assert [c.claim_id for c in view.oldest] == [waiting["claim_id"]] and view.hours_to_pay is not None
    with Session(claims.engine) as session:
        published = session.exec(select(EventOutboxRow).where(EventOutboxRow.subject == paid["claim_id"])).all()
    codes = {json.loads(row.body)["data"]["catastrophe"] for row in published}
    assert published and codes == {cat["code"]}, "every event of a claim that joined carries the catastrophe's code"


async def test_the_catastrophes_advance_comes_sooner_and_larger_while_the_investigation_is_open(claims: Claims,
                                                                                                  time_env):
    cat = typhoon(rules={**typhoon()["rules"], "advance_days": 7, "advance_share": "0.7"})
    await declare(claims, cat)
    claim = in_guangdong(claimed_amount="30000.00", line_items=[], incident={"injuries": True})
    claim["documents"] = docs("claim_form", "damage_photos", claim_id=claim["claim_id"])
    cid = claim["claim_id"]
    await claims.start(claim)
    status = await claims.at_stage(cid, "investigating")
    assert status["catastrophe"] == cat["code"]
    await time_env.sleep(timedelta(days=6))
    assert (await claims.status(cid))["payments"] == [], "not before the catastrophe's 7 days"
    await time_env.sleep(timedelta(days=2))
    status = await claims.wait(cid, lambda s: bool(s["payments"]), "the advance paid")
    assert [(p["kind"], p["amount"]) for p in status["payments"]] == [("advance", "20650.00")], \
        "0.7 of the 29,500 determinable while the investigation is open, after 7 days rather than the law's 60"


def test_a_catastrophes_advance_is_never_later_than_the_law_allows():
    rules = load_rules(Settings())
    sooner = under(rules, CatastropheRules(advance_days=7, advance_share=Decimal("0.7")), "auto")
    assert sooner.sla.advance_payment_days == 7 and sooner.sla.advance_share_in_dispute == Decimal("0.7")
    short = rules.model_copy(update={"sla": rules.sla.model_copy(update={"advance_payment_days": 5})})
    assert under(short, CatastropheRules(advance_days=30), "auto").sla.advance_payment_days == 5, \
        "rules already sooner than the catastrophe's stay as they are"
    with pytest.raises(ValidationError):
        CatastropheRules(advance_days=90)  # Insurance Law art. 25: 60 days at most


def test_the_worklist_puts_a_catastrophes_claims_first_then_the_nearest_deadline():
    now = datetime.now(UTC)
    rows = [{"workflow_id": "a", "catastrophe": None, "sla_due_at": now},
            {"workflow_id": "b", "catastrophe": "CAT-1", "sla_due_at": now + timedelta(days=3)},
            {"workflow_id": "c", "catastrophe": None, "sla_due_at": None},
            {"workflow_id": "d", "catastrophe": "CAT-1", "sla_due_at": now + timedelta(days=1)}]
    assert [r["workflow_id"] for r in worklist_order(rows)] == ["d", "b", "a", "c"]


def test_the_command_line_names_the_team_the_uplift_is_for():
    from cli import catastrophes as cat_cli
    from cli.main import build_parser

    args = build_parser().parse_args([
        "cat", "declare", "--code", "CAT-2026-TY09", "--name", "台风", "--regions", "440000",
        "--from", "2026-09-01T00:00:00+08:00", "--to", "2026-09-08T00:00:00+08:00", "--types", "auto",
        "--uplift", "2", "--team", "adj-zhao, sup-liu", "--by", "mgr-chen", "--reason", "typhoon landfall"])
    declared = cat_cli.declaration(args)
    assert declared.rules.team == ["adj-zhao", "sup-liu"] and declared.rules.authority_uplift == Decimal("2")
    rules = under(load_rules(Settings()), declared.rules, "auto")
    assert rules.authority_team == ["adj-zhao", "sup-liu"]
    assert rules.authority_limits["adjuster"] == 2 * rules.authority_limits_outside_team["adjuster"]
