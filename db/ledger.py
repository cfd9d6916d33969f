"""The financial ledger: every movement of a claim's money, append-only, hash-chained per claim and sealed.

Rows are written by two writers, each inside the transaction of what it books: the pay activity writes a payment in
the transaction that marks the payment made, and the claim's event writer (`record_event`) writes the movements its
workflow computed (reserves, recoveries; `core/rules/reserves.py`) in the transaction of the event that caused them.
Both hold the claim's append lock (`db.event_log.locked_for_claim`'s advisory lock on PostgreSQL, the write lock on
SQLite), so a chain never forks. A row's key is unique per claim: a retry adds nothing.

Like the event log, a row's hash covers its contents and the row before it, and its seal (HMAC under the audit seal
key, which the database does not hold) covers the hash and the moment it was recorded. `verify` walks the chains and
`reconcile` holds the payments in the ledger against the payments table: `audit verify-ledger` runs both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from config.encryption import SealKeys
from db.engine import utc
from db.event_log import CHECKPOINTS, GENESIS, Problem, Verification, keyed_rows_and_head, seal_row, signed
from documents.archive import Archive
from models.messages import LedgerMove
from models.tables import Claim, LedgerRow, LedgerStart, Payment

LEDGER = LedgerRow.__table__  # type: ignore[attr-defined]
CLAIMS = Claim.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ClaimFacts:
    """What every row of a claim carries besides the movement: the policy, its period, the product, the accident."""

    policy_number: str
    policy_period: str | None
    product: str
    accident_date: date


FACT_COLUMNS = (CLAIMS.c.policy_number, CLAIMS.c.policy_period, CLAIMS.c.claim_type, CLAIMS.c.incident_at)
"""The read model's columns a claim's facts come from: a caller reading the claim's row for more selects them too."""


def facts_of(conn: Connection, claim_id: str, zone: str) -> ClaimFacts | None:
    """The claim's facts from its read model (None for a claim not registered), the accident day in `zone`."""
    found = conn.execute(select(*FACT_COLUMNS).where(CLAIMS.c.claim_id == claim_id)).first()
    return facts_from(found, zone) if found is not None else None


def facts_from(row: Any, zone: str) -> ClaimFacts:
    """The facts from a read-model row holding `FACT_COLUMNS`."""
    return ClaimFacts(row.policy_number, row.policy_period, row.claim_type,
                      utc(row.incident_at).astimezone(ZoneInfo(zone)).date())


def row_hash(prev_hash: str, claim_id: str, seq: int, key: str, facts: ClaimFacts, at: datetime,
             move: LedgerMove) -> str:
    material = "\x1f".join([
        prev_hash, claim_id, str(seq), key, facts.policy_number, facts.policy_period or "", facts.product,
        facts.accident_date.isoformat(), utc(at).isoformat(timespec="microseconds"), move.movement, move.cost_type,
        f"{move.amount:.2f}", f"{move.balance:.2f}", str(move.recovery or ""), move.cause, move.actor])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def append(conn: Connection, claim_id: str, facts: ClaimFacts, key: str, at: datetime, move: LedgerMove,
           recorded_at: datetime, seal_keys: bytes | SealKeys) -> bool:
    """Add the claim's next ledger row in the connection's transaction (the caller holds the claim's lock). False
    when the claim already has a row with this key (written by an earlier attempt)."""
    return append_all(conn, claim_id, facts, [(key, at, move)], recorded_at, seal_keys) == 1


def append_all(conn: Connection, claim_id: str, facts: ClaimFacts, moves: list[tuple[str, datetime, LedgerMove]],
               recorded_at: datetime, seal_keys: bytes | SealKeys) -> int:
    """`append` for several movements (key, moment, movement), in their order and in two statements whatever their
    number; how many rows were added (a key the claim holds already, earlier in the list included, adds none)."""
    if not moves:
        return 0
    keys = SealKeys.of(seal_keys)
    held, last = keyed_rows_and_head(conn, LEDGER, claim_id, {key for key, _, _ in moves})
    fresh = [(key, at, move) for i, (key, at, move) in enumerate(moves)
             if key not in held and key not in {k for k, _, _ in moves[:i]}]
    if not fresh:
        return 0
    seq, prev = (last.seq, last.hash) if last is not None else (0, GENESIS)
    rows = []
    for key, at, move in fresh:
        seq += 1
        hash_ = row_hash(prev, claim_id, seq, key, facts, at, move)
        rows.append({
            "claim_id": claim_id, "seq": seq, "key": key, "policy_number": facts.policy_number,
            "policy_period": facts.policy_period, "product": facts.product, "accident_date": facts.accident_date,
            "transaction_at": utc(at), "movement": move.movement, "cost_type": move.cost_type, "amount": move.amount,
            "balance": move.balance, "recovery": move.recovery, "cause": move.cause[:200], "actor": move.actor[:200],
            "recorded_at": recorded_at, "prev_hash": prev, "hash": hash_,
            "seal": seal_row(keys.current, hash_, recorded_at), "seal_kid": keys.kid})
        prev = hash_
    conn.execute(insert(LEDGER), rows)
    return len(rows)


def lock_claim(conn: Connection, claim_id: str) -> None:
    """Take the claim's append lock in a transaction already begun (PostgreSQL; SQLite's write lock is the
    transaction's own once it writes)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(claim_id, 0))))


# --------------------------------------------------------------------------- checks


def verify(engine: Engine, seal_keys: bytes | SealKeys) -> Verification:
    """Walk every claim's ledger chain in seq order, checking each row's hash and seal."""
    keys = SealKeys.of(seal_keys)
    problems: list[Problem] = []
    rows = claims = 0
    with Session(engine) as session:
        ordered = session.exec(select(LedgerRow).order_by(col(LedgerRow.claim_id), col(LedgerRow.seq)))
        for claim_id, chain in groupby(ordered, key=lambda r: r.claim_id):
            claims += 1
            expected_seq, expected_prev = 1, GENESIS
            for row in chain:
                rows += 1
                if row.seq != expected_seq or row.prev_hash != expected_prev:
                    problems.append(Problem(claim_id, row.seq, f"ledger: expected row {expected_seq} here: a row "
                                                               "was removed or inserted before it"))
                facts = ClaimFacts(row.policy_number, row.policy_period, row.product, row.accident_date)
                move = LedgerMove(movement=row.movement, cost_type=row.cost_type, amount=Decimal(row.amount),
                                  balance=Decimal(row.balance), recovery=row.recovery, cause=row.cause,
                                  actor=row.actor)
                if row_hash(row.prev_hash, claim_id, row.seq, row.key, facts, row.transaction_at, move) != row.hash:
                    problems.append(Problem(claim_id, row.seq, "ledger: its contents were changed after it was "
                                                               "written"))
                else:
                    key = keys.key(row.seal_kid) if row.seal_kid else None
                    if key is None or not hmac.compare_digest(row.seal, seal_row(key, row.hash, row.recorded_at)):
                        problems.append(Problem(claim_id, row.seq, "ledger: its seal does not match: the row was "
                                                                   "rewritten, or sealed with a key this check "
                                                                   "does not hold"))
                expected_seq, expected_prev = row.seq + 1, row.hash
    return Verification(rows, claims, problems)


def reconcile(engine: Engine) -> list[Problem]:
    """The payments in the ledger against the payments table: every payment made since the ledger began has one
    ledger row of its amount under its idempotency key, and the ledger holds no payment the table does not."""
    with Session(engine) as session:
        started = session.exec(select(func.min(LedgerStart.started_at))).one()
        paid = list(session.exec(select(Payment).where(Payment.status == "paid")))
    made = {p.idempotency_key: p for p in paid
            if started is None or p.paid_at is None or utc(p.paid_at) >= utc(started)}
    paid_before = {p.idempotency_key for p in paid} - set(made)
    with Session(engine) as session:
        booked = {(r.claim_id, r.key): r for r in session.exec(select(LedgerRow).where(
            LedgerRow.movement == "payment"))}
    problems = []
    for key, payment in sorted(made.items()):
        row = booked.pop((payment.claim_id, key), None)
        if row is None:
            problems.append(Problem(payment.claim_id, 0, f"payment {key} ({payment.amount}) is not in the ledger"))
        elif Decimal(row.amount) != Decimal(payment.amount):
            problems.append(Problem(payment.claim_id, row.seq, f"payment {key}: the ledger has {row.amount}, the "
                                                               f"payments table {payment.amount}"))
    for (claim_id, key), row in sorted(booked.items()):
        if key in paid_before:  # made before the ledger began, booked since (a retry across the upgrade)
            continue
        problems.append(Problem(claim_id, row.seq, f"the ledger's payment {key} ({row.amount}) is not a payment "
                                                   "made in the payments table"))
    return problems


# --------------------------------------------------------------------------- checkpoints

LEDGER_CHECKPOINT = "ledger-"


def write_checkpoint(engine: Engine, seal_keys: bytes | SealKeys, archive: Archive, at: datetime) -> str:
    """Every claim's ledger head (last seq and hash), signed, in the audit archive: outside the database, so rows
    removed from a chain's end, or a whole chain, are seen (`verify` with the archive). The name written."""
    keys = SealKeys.of(seal_keys)
    with Session(engine) as session:
        last = (select(LedgerRow.claim_id, func.max(LedgerRow.seq).label("seq"))
                .group_by(col(LedgerRow.claim_id)).subquery())
        found = session.exec(select(LedgerRow.claim_id, LedgerRow.seq, LedgerRow.hash).join(
            last, (col(LedgerRow.claim_id) == last.c.claim_id) & (col(LedgerRow.seq) == last.c.seq))).all()
    body: dict[str, object] = {"at": utc(at).isoformat(), "kid": keys.kid,
                               "heads": {c: [seq, h] for c, seq, h in sorted(found)}}
    name = f"{CHECKPOINTS}{LEDGER_CHECKPOINT}{utc(at).strftime('%Y%m%dT%H%M%S%fZ')}.json"
    archive.put(name, json.dumps({**body, "signature": signed(body, keys.current)}, indent=1).encode(),
                "application/json")
    return name


def against_checkpoint(engine: Engine, seal_keys: bytes | SealKeys, archive: Archive) -> list[Problem]:
    """The ledger held against its latest checkpoint: every chain there still reaches at least its head, unchanged."""
    names = [n for n in archive.names(CHECKPOINTS) if n.rsplit("/", 1)[-1].startswith(LEDGER_CHECKPOINT)]
    if not names:
        return []
    name = names[-1].rsplit("/", 1)[-1]
    data = json.loads(archive.get(names[-1]))
    signature = data.pop("signature", "")
    key = SealKeys.of(seal_keys).key(str(data.get("kid")))
    if key is None or not hmac.compare_digest(signature, signed(data, key)):
        return [Problem("-", 0, f"ledger checkpoint {name}: its signature does not match, or its key is not held")]
    with Session(engine) as session:
        rows = {(r.claim_id, r.seq): r.hash for r in session.exec(select(LedgerRow))}
    problems = []
    for claim_id, (seq, hash_) in sorted(data["heads"].items()):
        if (claim_id, seq) not in rows:
            problems.append(Problem(claim_id, seq, f"ledger rows up to {seq} were removed: checkpoint {name} had "
                                                   "them"))
        elif rows[(claim_id, seq)] != hash_:
            problems.append(Problem(claim_id, seq, f"ledger: differs from checkpoint {name}: the chain was rewritten"))
    return problems
