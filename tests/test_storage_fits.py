"""Every value the contract accepts fits where it is stored, and so does every value the code composes from them.

Claims whose every string is at the contract's maximum (models/fields.py: ids of 64 characters, names of 100,
free text of 2,000, 100 documents with references of 500, amounts of 13 digits) go the whole way, through
registration, documents, reading, two managers' approval with identity-provider-length ids, payment, rejection,
appeal and withdrawal, on PostgreSQL (whose columns refuse what is longer than they declare) and SQLite. Each
must end as the contract says, never failed.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, col, select

from activities.policies import load_policies
from models.contract import PolicyTerms
from models.fields import MAX_ACTOR, MAX_FREE_TEXT, MAX_LIST, MAX_NAME
from models.tables import ClaimDocument, ClaimEventRow, DocumentReadingRow, Payment
from testkit.claims import ALL_AUTO_DOCS, days_ago

LARGEST = "9999999999999.99"
"""The largest amount the contract accepts: 13 digits and cents (Numeric(15, 2))."""
POLICY = "P" + "9" * 63


def longest(prefix: str, length: int) -> str:
    return (prefix + "-" + "x" * length)[:length]


def free_text(what: str) -> str:
    return (f"{what}: 第一行 line one\n" + "长" * MAX_FREE_TEXT)[:MAX_FREE_TEXT]


def load_largest_policy(engine) -> None:
    load_policies(engine, [PolicyTerms.model_validate({
        "policy_number": POLICY, "product": "auto", "holder_name": "名" * 200, "status": "active",
        "effective_from": date.today() - timedelta(days=200), "effective_to": date.today() + timedelta(days=365),
        "sum_insured": LARGEST, "deductible": "0", "payout_ratio": "1", "exclusions": ["c" * 100],
        "waiting_period_days": 0})])


def largest_claim(tag: str) -> dict:
    claim_id = longest(f"C{tag}", 64)
    kinds = [ALL_AUTO_DOCS[i % len(ALL_AUTO_DOCS)] for i in range(MAX_LIST - 1)]
    documents = [{"kind": kind, "ref": longest(f"doc://{claim_id}/{n}", 500)} for n, kind in enumerate(kinds)]
    digest = hashlib.sha256(tag.encode()).hexdigest()  # a file of its own: no claim reuses another's document
    documents.append({"kind": "repair_invoice", "ref": (f"doc://sha256/{digest}/" + "y" * 500)[:500]})
    local = "l" * 64
    domain = ".".join(["d" * 60, "e" * 60, "f" * 10]) + ".cn"
    return {
        "claim_id": claim_id, "policy_number": POLICY, "claim_type": "auto",
        "claimant": {"name": "李" * MAX_NAME, "phone": "+86 138-0000-0000 00", "channel": "sms",
                     "email": f"{local}@{domain}"[:200]},
        "incident": {"occurred_at": days_ago(1), "description": free_text("incident"), "cause": "因" * 100,
                     "injuries": False, "major": False},
        "claimed_amount": LARGEST,
        "line_items": [{"description": longest(f"item {n}", 500), "amount": LARGEST, "category": "k" * 40}
                       for n in range(MAX_LIST)],
        "documents": documents,
        "bank_account": {"holder": "户" * MAX_NAME, "number": "6222000011112222999"},
    }


MANAGERS = [longest("mgr-a", MAX_ACTOR), longest("mgr-b", MAX_ACTOR)]


async def test_a_claim_at_every_maximum_is_paid_by_two_managers_and_stored_whole(claims_on_any):
    claims = claims_on_any
    load_largest_policy(claims.engine)
    claim = largest_claim("paid")
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_approval")
    for manager in MANAGERS:
        await claims.update(cid, "approve", {"approver_id": manager, "role": "manager",
                                             "comment": free_text("comment")})
    result = await handle.result()
    assert result["outcome"] == "paid" and result["paid_amount"] == LARGEST, result
    assert result["decision"]["decided_by"] == ", ".join(MANAGERS)
    with Session(claims.engine) as session:
        payments = session.exec(select(Payment).where(Payment.claim_id == cid)).all()
        documents = session.exec(select(func.count()).select_from(ClaimDocument)
                                 .where(ClaimDocument.claim_id == cid)).one()
        readings = session.exec(select(DocumentReadingRow.ref).where(DocumentReadingRow.claim_id == cid)).all()
        deciders = session.exec(select(ClaimEventRow.actor).where(ClaimEventRow.claim_id == cid,
                                                                   ClaimEventRow.event == "decided")).all()
    assert [Decimal(p.amount) for p in payments] == [Decimal(LARGEST)]
    assert documents == MAX_LIST
    assert readings == [claim["documents"][-1]["ref"]]
    assert deciders == [", ".join(MANAGERS)], "the two deciders are stored whole"


async def test_a_claim_at_every_maximum_is_rejected_appealed_and_another_withdrawn(claims_on_any):
    claims = claims_on_any
    load_largest_policy(claims.engine)
    rejected, withdrawn = largest_claim("rejected"), largest_claim("withdrawn")
    handle = await claims.start(rejected)
    await claims.start(withdrawn)
    cid = rejected["claim_id"]
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "reject", {"approver_id": MANAGERS[0], "role": "manager",
                                        "reason": free_text("reason"), "clause": "条" * 200})
    await claims.wait(cid, lambda s: s["outcome"] == "denied", "denied")
    await claims.update(cid, "appeal", {"reason": free_text("appeal")})
    await claims.at_stage(cid, "awaiting_approval")
    await claims.update(cid, "reject", {"approver_id": MANAGERS[1], "role": "manager",
                                        "reason": free_text("upheld"), "clause": "款" * 200})
    await claims.wait(cid, lambda s: s["outcome"] == "denied" and len(s["timeline"]) > 0, "denied again")
    await claims.update(withdrawn["claim_id"], "withdraw", {"by": longest("channel", MAX_ACTOR),
                                                            "reason": free_text("withdrawn")})
    status = await claims.wait(withdrawn["claim_id"], lambda s: s["outcome"] == "withdrawn", "withdrawn")
    assert status["payments"] == []
    status = await claims.status(cid)
    assert status["decision"]["kind"] == "denied" and status["payments"] == []
    with Session(claims.engine) as session:
        rows = session.exec(select(ClaimEventRow.event).where(col(ClaimEventRow.claim_id).in_(
            [cid, withdrawn["claim_id"]]))).all()
    assert "rejected" in rows and "withdrawal_requested" in rows
    del handle
