"""The claim event log: append-only and hash-chained per claim, so any changed, removed or inserted row shows.

Each claim has its own chain, numbered from seq 1: a row's hash covers its contents, its seq and key, and the
hash of the claim's row before it (GENESIS for the first). Appends to one claim are serialised by a lock on
that claim (PostgreSQL: a transaction-scoped advisory lock; SQLite: the transaction starts with BEGIN
IMMEDIATE, the database's write lock), so any number of worker processes can write without forking a chain.
Every event carries a key, unique per claim: appending a key that is already there is a no-op, which makes a
retry after a commit harmless. On PostgreSQL, triggers (see the migrations) refuse UPDATE, DELETE and TRUNCATE.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from activities.engine import begin_immediate, utc
from models.tables import ClaimEventRow

GENESIS = "0" * 64


def row_hash(prev_hash: str, claim_id: str, seq: int, key: str, at: datetime, event: str, actor: str,
             detail: str) -> str:
    material = "\x1f".join([prev_hash, claim_id, str(seq), key, utc(at).isoformat(timespec="microseconds"), event,
                            actor, detail])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def lock_claim(session: Session, claim_id: str) -> None:
    """Hold the claim's append lock until the session's transaction ends. Call it first in the transaction:
    on SQLite the lock is the database's write lock, taken by starting the transaction with BEGIN IMMEDIATE."""
    if session.get_bind().dialect.name == "postgresql":
        session.exec(select(func.pg_advisory_xact_lock(func.hashtextextended(claim_id, 0))))
    else:
        begin_immediate(session)


def has_key(session: Session, claim_id: str, key: str) -> bool:
    return session.exec(select(ClaimEventRow.id).where(ClaimEventRow.claim_id == claim_id,
                                                       ClaimEventRow.key == key)).first() is not None


def append(session: Session, claim_id: str, key: str, at: datetime, event: str, actor: str, detail: str,
           recorded_at: datetime) -> bool:
    """Add the claim's next row to the session's transaction (the caller holds `lock_claim` and commits).
    False, adding nothing, when the claim already has an event with this key."""
    if has_key(session, claim_id, key):
        return False
    last = session.exec(select(ClaimEventRow).where(ClaimEventRow.claim_id == claim_id)
                        .order_by(col(ClaimEventRow.seq).desc()).limit(1)).first()
    seq, prev = (last.seq + 1, last.hash) if last is not None else (1, GENESIS)
    session.add(ClaimEventRow(claim_id=claim_id, seq=seq, key=key, at=utc(at), event=event, actor=actor,
                              detail=detail, recorded_at=recorded_at, prev_hash=prev,
                              hash=row_hash(prev, claim_id, seq, key, at, event, actor, detail)))
    return True


@dataclass(frozen=True)
class Problem:
    claim_id: str
    seq: int
    what: str


@dataclass(frozen=True)
class Verification:
    rows: int
    claims: int
    problems: list[Problem] = field(default_factory=list)


def verify(engine: Engine) -> Verification:
    """Walk every claim's chain in seq order: the rows and claims checked and every break found."""
    problems: list[Problem] = []
    rows = claims = 0
    with Session(engine) as session:
        ordered = session.exec(select(ClaimEventRow).order_by(col(ClaimEventRow.claim_id), col(ClaimEventRow.seq)))
        for claim_id, chain in groupby(ordered, key=lambda r: r.claim_id):
            claims += 1
            expected_seq, expected_prev = 1, GENESIS
            for row in chain:
                rows += 1
                if row.seq != expected_seq:
                    problems.append(Problem(claim_id, row.seq, f"expected seq {expected_seq}: a row was removed "
                                                               "or inserted before it"))
                elif row.prev_hash != expected_prev:
                    problems.append(Problem(claim_id, row.seq, "does not follow the row before it: a row was "
                                                               "removed or inserted before it"))
                if row_hash(row.prev_hash, claim_id, row.seq, row.key, row.at, row.event, row.actor,
                            row.detail) != row.hash:
                    problems.append(Problem(claim_id, row.seq, "its contents were changed after it was written"))
                expected_seq, expected_prev = row.seq + 1, row.hash
    return Verification(rows, claims, problems)
