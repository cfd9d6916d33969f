"""The financial ledger (db/ledger.py; docs/finance.md): every movement of a claim's money, one sealed row each,
written by the claim's own steps. A claim run through the workflow books its reserve from registration, its payments
and its recoveries; the ledger reconciles with the payments table on SQLite and PostgreSQL; a row altered, removed or
forged by whoever can write the database is caught by `audit verify-ledger`."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from cli.main import CommandError, verify_ledger
from db import ledger
from documents.archive import archive_for
from edge.views import ClaimProgress
from models.contract import ClaimStatus
from models.tables import LedgerRow
from testkit.claims import auto_claim
from testkit.harness import Claims
from testkit.world import TEST_SEAL_KEY
from tests.test_recoveries import denied_after_an_advance

D = Decimal


def rows_of(engine: Engine, claim_id: str) -> list[LedgerRow]:
    with Session(engine) as session:
        return list(session.exec(select(LedgerRow).where(LedgerRow.claim_id == claim_id)
                                 .order_by(col(LedgerRow.seq))).all())


def balances(rows: list[LedgerRow]) -> dict[str, Decimal]:
    """Each movement's sum over the claim's rows."""
    sums: dict[str, Decimal] = defaultdict(lambda: D("0"))
    for row in rows:
        sums[row.movement] += D(row.amount)
    return dict(sums)


def tamper(engine: Engine, statement: str, **params: Any) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE ledger DISABLE TRIGGER ledger_append_only"))
        conn.execute(text(statement), params)
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE ledger ENABLE TRIGGER ledger_append_only"))


async def paid_fast(claims: Claims) -> str:
    claim = auto_claim(claimed_amount="1200.00")
    await (await claims.start(claim)).result()
    return str(claim["claim_id"])


async def test_a_paid_claim_is_reserved_at_registration_paid_and_released_to_nothing(claims_on_any: Claims):
    claims = claims_on_any
    cid = await paid_fast(claims)
    status = await claims.status(cid)
    rows = rows_of(claims.engine, cid)
    assert rows[0].movement == "reserve" and D(rows[0].amount) > 0 and rows[0].cause == "registered", \
        f"the reserve starts at registration: {[(r.movement, r.amount, r.cause) for r in rows]}"
    sums = balances(rows)
    paid = D(status["payments"][0]["amount"])
    assert sums["payment"] == paid == D(status["decision"]["amount"])
    assert sums["reserve"] == D("0") and D(status["reserve"]) == D("0"), "a closed claim holds no reserve"
    assert D(status["estimate"]) == paid, "its estimate is what it paid"
    assert {r.product for r in rows} == {"auto"} and len({r.accident_date for r in rows}) == 1
    assert ledger.verify(claims.engine, TEST_SEAL_KEY).problems == []
    assert [p for p in ledger.reconcile(claims.engine) if p.claim_id == cid] == []


async def test_a_recovery_is_booked_opened_received_and_written_off(claims: Claims):
    cid, _ = await denied_after_an_advance(claims)
    await claims.update(cid, "record_recovery", {"amount": "4000.00", "reference": "TRF-1", "by": "fin-1"})
    shown = ClaimProgress.of(ClaimStatus.model_validate(await claims.status(cid)))
    assert [(o.amount, o.repaid, o.outstanding) for o in shown.owed_back] == [
        (D("10000.00"), D("4000.00"), D("6000.00"))], "the claimant sees what they still owe"
    await claims.update(cid, "write_off_recovery", {"reason": "the claimant cannot be found", "by": "mgr-1"})
    rows = rows_of(claims.engine, cid)
    sums = balances(rows)
    assert sums["payment"] == D("10000.00")
    assert (sums["recovery"], sums["write_off"], sums["recovery_reserve"]) == (D("4000.00"), D("6000.00"), D("0")), \
        sums
    opened = next(r for r in rows if r.movement == "recovery_reserve")
    assert (D(opened.amount), opened.cost_type, opened.recovery) == (D("10000.00"), "overpayment", 1)
    assert next(r for r in rows if r.movement == "write_off").actor == "mgr-1"
    assert sums["reserve"] == D("0")


async def test_set_reserve_moves_the_reserve_within_authority_with_its_reason_on_the_timeline(claims: Claims):
    claim = auto_claim(claimed_amount="30000.00", line_items=[])
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.at_stage(cid, "awaiting_documents")
    assert D((await claims.status(cid))["reserve"]) == D("29500.00"), "the amount claimed less the deductible"
    too_high = await claims.refused(cid, "set_reserve", {"amount": "60000.00", "reason": "severe", "by": "adj-7",
                                                         "role": "adjuster"})
    assert too_high.type == "NotAuthorized" and "up to 50000" in str(too_high)
    negative = await claims.refused(cid, "set_reserve", {"amount": "-1", "reason": "x", "by": "adj-7",
                                                         "role": "adjuster"})
    assert negative.type == "InvalidUpdate" and "amount" in str(negative)
    await claims.update(cid, "set_reserve", {"amount": "45000.00", "reason": "second vehicle damaged; Li Lei "
                                             "called from 13800000000", "by": "adj-7", "role": "adjuster"})
    status = await claims.status(cid)
    assert D(status["reserve"]) == D("45000.00")
    assert any(t["event"] == "reserve_set" and "second vehicle damaged" in t["detail"] for t in status["timeline"])
    row = rows_of(claims.engine, cid)[-1]
    assert (row.movement, D(row.balance), row.actor) == ("reserve", D("45000.00"), "adj-7")
    assert "second vehicle damaged" in row.cause
    assert "13800000000" not in row.cause and "Li Lei" not in row.cause, \
        f"a typed reason reaches the sealed ledger masked, as the event log's: {row.cause}"


async def test_audit_catches_a_ledger_row_altered_removed_or_a_payment_changed(claims_on_any: Claims, capsys):
    claims = claims_on_any
    engine = claims.engine
    cid = await paid_fast(claims)
    assert ledger.verify(engine, TEST_SEAL_KEY).problems == [] and ledger.reconcile(engine) == []
    payment = next(r for r in rows_of(engine, cid) if r.movement == "payment")
    if engine.dialect.name == "postgresql":  # the database itself refuses, to anyone who has not switched it off
        for statement in ("UPDATE ledger SET amount = 0", "DELETE FROM ledger", "TRUNCATE ledger"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))

    tamper(engine, "UPDATE ledger SET amount = 12.00 WHERE id = :id", id=payment.id)
    problems = ledger.verify(engine, TEST_SEAL_KEY).problems
    assert any(p.claim_id == cid and "changed after it was written" in p.what for p in problems), problems
    assert any(p.claim_id == cid and "the ledger has 12.00" in p.what for p in ledger.reconcile(engine))

    tamper(engine, "DELETE FROM ledger WHERE id = :id", id=payment.id)
    assert any(p.claim_id == cid and "removed" in p.what for p in ledger.verify(engine, TEST_SEAL_KEY).problems)
    assert any(p.claim_id == cid and "is not in the ledger" in p.what for p in ledger.reconcile(engine))

    # The auditor's command says so and fails, naming the claim.
    with pytest.raises(CommandError, match="financial ledger is broken"):
        verify_ledger(claims.settings, engine)
    assert f"claim {cid}" in capsys.readouterr().out


THIRD_PARTY = {"at_fault": True, "name": "张三", "plate": "沪A12345", "insurer": "平安财险",
               "policy_number": "PA-2026-889", "insurer_email": "claims@other-insurer.example"}


async def test_a_collision_a_third_party_caused_recovers_what_it_paid_from_their_insurer(claims: Claims):
    claim = auto_claim(claimed_amount="1200.00", third_party=THIRD_PARTY)
    cid = claim["claim_id"]
    await claims.start(claim)
    status = await claims.wait(cid, lambda s: s["recoveries"], "the subrogation recovery opened")
    paid = D(status["payments"][0]["amount"])
    recovery = status["recoveries"][0]
    assert (recovery["kind"], D(recovery["amount"]), recovery["status"]) == ("subrogation", paid, "open")
    assert "平安财险" in recovery["party"]
    letter = (await claims.sent(cid, "subrogation_demand"))[0]
    assert "代位" in letter.body and "沪A12345" in letter.body, letter.body

    shown = ClaimProgress.of(ClaimStatus.model_validate(status))
    assert shown.owed_back == [], "the claimant owes nothing: the other insurer does"
    assert shown.next_deadline is None or shown.next_deadline.clock != "recovery", shown.next_deadline
    half = (paid / 2).quantize(D("0.01"))
    await claims.update(cid, "record_recovery", {"kind": "subrogation", "amount": str(half),
                                                 "reference": "PA-PAY-1", "by": "fin-1"})
    await claims.update(cid, "write_off_recovery", {"kind": "subrogation", "reason": "liability split 50/50",
                                                    "by": "mgr-1"})
    sums = balances(rows_of(claims.engine, cid))
    assert (sums["payment"], sums["recovery"], sums["write_off"]) == (paid, half, paid - half), sums
    assert sums["recovery_reserve"] == D("0") and sums["reserve"] == D("0")
    salvage = await claims.refused(cid, "open_recovery", {"kind": "salvage", "amount": str(paid + 1),
                                                          "reason": "wreck sold", "item": "车辆残骸",
                                                          "by": "sup-1", "role": "supervisor"})
    assert salvage.type == "InvalidUpdate" and "more than the claim costs" in str(salvage)


async def test_rows_removed_from_a_chains_end_are_caught_against_the_ledgers_checkpoint(claims: Claims, capsys):
    """The chain itself cannot show a removed tail: the signed checkpoint of every chain's head, kept outside the
    database, does."""
    cid = await paid_fast(claims)
    archive = archive_for(claims.settings)
    ledger.write_checkpoint(claims.engine, TEST_SEAL_KEY, archive, datetime.now(UTC))
    verify_ledger(claims.settings, claims.engine)
    assert "financial ledger intact" in capsys.readouterr().out
    last = rows_of(claims.engine, cid)[-1]
    tamper(claims.engine, "DELETE FROM ledger WHERE id = :id", id=last.id)
    assert ledger.verify(claims.engine, TEST_SEAL_KEY).problems == [], "the chain alone cannot tell"
    with pytest.raises(CommandError, match="financial ledger is broken"):
        verify_ledger(claims.settings, claims.engine)
    assert f"claim {cid} row {last.seq}: ledger rows up to {last.seq} were removed" in capsys.readouterr().out
