"""The claim event log: append-only and hash-chained, so any changed, removed or inserted row shows.

Each row's hash covers its contents and the previous row's hash. Appends are serialised (an advisory lock on
PostgreSQL, a process lock on embedded SQLite) so the chain never forks. On PostgreSQL a trigger refuses
UPDATE and DELETE on the table outright.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from activities.engine import utc
from models.tables import ClaimEventRow

GENESIS = "0" * 64
_APPEND_LOCK = threading.Lock()
_PG_LOCK_KEY = 0x0C1A1E0E  # any constant shared by every writer of the log

APPEND_ONLY_DDL = [
    """CREATE OR REPLACE FUNCTION claim_events_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'claim_events is append-only: % refused', TG_OP; END; $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS claim_events_append_only ON claim_events",
    """CREATE TRIGGER claim_events_append_only BEFORE UPDATE OR DELETE ON claim_events
       FOR EACH ROW EXECUTE FUNCTION claim_events_append_only()""",
]


def row_hash(prev_hash: str, claim_id: str, at: datetime, event: str, actor: str, detail: str) -> str:
    material = "\x1f".join([prev_hash, claim_id, utc(at).isoformat(timespec="microseconds"), event, actor, detail])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def protect(engine: Engine) -> None:
    """On PostgreSQL, make the database itself refuse updates and deletes of the log."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        for statement in APPEND_ONLY_DDL:
            conn.execute(text(statement))


def append(session: Session, claim_id: str, at: datetime, event: str, actor: str, detail: str,
           recorded_at: datetime) -> None:
    """Add the next row of the chain to the session's transaction (the caller commits)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    last = session.exec(select(ClaimEventRow).order_by(col(ClaimEventRow.id).desc()).limit(1)).first()
    prev = last.hash if last is not None else GENESIS
    session.add(ClaimEventRow(claim_id=claim_id, at=utc(at), event=event, actor=actor, detail=detail,
                              recorded_at=recorded_at, prev_hash=prev,
                              hash=row_hash(prev, claim_id, at, event, actor, detail)))


def append_lock() -> threading.Lock:
    return _APPEND_LOCK


@dataclass(frozen=True)
class Problem:
    row_id: int
    what: str


def verify(engine: Engine) -> tuple[int, list[Problem]]:
    """Walk the chain: the number of rows checked and every break found."""
    problems: list[Problem] = []
    expected_prev = GENESIS
    count = 0
    with Session(engine) as session:
        for row in session.exec(select(ClaimEventRow).order_by(col(ClaimEventRow.id))):
            count += 1
            assert row.id is not None
            if row.prev_hash != expected_prev:
                problems.append(Problem(row.id, "does not follow the row before it: a row was removed or "
                                                "inserted before it"))
            if row_hash(row.prev_hash, row.claim_id, row.at, row.event, row.actor, row.detail) != row.hash:
                problems.append(Problem(row.id, "its contents were changed after it was written"))
            expected_prev = row.hash
    return count, problems
