"""The claim event log: append-only and hash-chained per claim, so any changed, removed or inserted row shows.

Each claim has its own chain, numbered from seq 1: a row's hash covers its contents, its seq and key, and the
hash of the claim's row before it (GENESIS for the first). Appends to one claim are serialised by a lock on
that claim (PostgreSQL: a transaction-scoped advisory lock; SQLite: the transaction starts with BEGIN
IMMEDIATE, the database's write lock), so any number of worker processes can write without forking a chain.
Every event carries a key, unique per claim: appending a key that is already there is a no-op, which makes a
retry after a commit harmless. On PostgreSQL, triggers (see the migrations) refuse UPDATE, DELETE and TRUNCATE.

A plain hash chain proves nothing against whoever can write to the table: they can recompute it. So each row
is also sealed (HMAC-SHA256 of its hash) under a key the database does not hold, and checkpoints of every
chain's head, signed with the same key, are written outside the database (`write_checkpoint`): a changed or
replaced row fails its seal, and a removed tail or a emptied table falls short of the last checkpoint.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Select, String, Table, bindparam, func, insert, or_
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection, Engine, Row
from sqlmodel import Session, col, select

from config.encryption import SealKeys
from db.engine import SQLITE_BEGIN, utc
from documents.archive import Archive
from models.tables import ClaimEventRow

GENESIS = "0" * 64


def row_hash(prev_hash: str, claim_id: str, seq: int, key: str, at: datetime, event: str, actor: str,
             detail: str) -> str:
    material = "\x1f".join([prev_hash, claim_id, str(seq), key, utc(at).isoformat(timespec="microseconds"), event,
                            actor, detail])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def seal(key: bytes, hash_: str) -> str:
    """The seal of rows written before key ids: of the hash alone."""
    return hmac.new(key, hash_.encode(), hashlib.sha256).hexdigest()


def seal_row(key: bytes, hash_: str, recorded_at: datetime) -> str:
    """A row's seal: of its hash and the moment it was recorded, so neither can be changed unseen."""
    material = "\x1f".join(["v2", hash_, utc(recorded_at).isoformat(timespec="microseconds")])
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()


EVENTS = ClaimEventRow.__table__  # type: ignore[attr-defined]
"""The table, for the append path's plain SQL: it runs nine times in a fast-path claim, and the ORM's unit of
work was a fifth of a worker's CPU there."""


CLAIM_LOCK = sa_select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("claim_id", type_=String), 0)))
"""PostgreSQL: a transaction-scoped advisory lock on a claim. The hot path's statements are built once, with their
parameters bound at each run: building one and working out its cache key cost more than running it."""


@contextmanager
def locked_for_claim(engine: Engine, claim_id: str) -> Iterator[Connection]:
    """A transaction holding the claim's append lock until it ends (committed on leaving, rolled back on an
    error). PostgreSQL: an advisory lock on the claim; SQLite: the database's write lock (BEGIN IMMEDIATE)."""
    with engine.connect() as conn:
        conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(CLAIM_LOCK, {"claim_id": claim_id})
            yield conn


@dataclass(frozen=True)
class Head:
    """Where a claim's chain stands after an append: the row's seq and hash (the workflow keeps it in its
    history, where whoever holds the database cannot take it back)."""

    seq: int
    hash: str
    new: bool = True


def head_of(conn: Connection, claim_id: str, key: str) -> Head | None:
    """The row of the claim's event with this key, if there is one."""
    found = conn.execute(select(EVENTS.c.seq, EVENTS.c.hash).where(EVENTS.c.claim_id == claim_id,
                                                                   EVENTS.c.key == key).limit(1)).first()
    return Head(found.seq, found.hash, new=False) if found is not None else None


@dataclass(frozen=True)
class Entry:
    """One event to append: its key (unique per claim), moment, name, actor and detail."""

    key: str
    at: datetime
    event: str
    actor: str
    detail: str


def append(conn: Connection, claim_id: str, key: str, at: datetime, event: str, actor: str, detail: str,
           recorded_at: datetime, seal_keys: bytes | SealKeys) -> Head:
    """Add the claim's next row in the connection's transaction (the caller holds `locked_for_claim`): its seq and
    hash. When the claim already has an event with this key, nothing is added: that row's (`new` False)."""
    return append_all(conn, claim_id, [Entry(key, at, event, actor, detail)], recorded_at, seal_keys)[0]


@functools.cache
def _keyed_rows_and_head(table: Table) -> Select[Any]:
    last_seq = sa_select(func.max(table.c.seq)).where(table.c.claim_id == bindparam("claim_id")).scalar_subquery()
    return sa_select(table.c.key, table.c.seq, table.c.hash).where(
        table.c.claim_id == bindparam("claim_id"),
        or_(table.c.key.in_(bindparam("keys", expanding=True)), table.c.seq == last_seq))


def keyed_rows_and_head(conn: Connection, table: Table, claim_id: str,
                        keys: set[str]) -> tuple[dict[str, Row[Any, Any, Any]], Row[Any, Any, Any] | None]:
    """In one statement, of a hash-chained table of claims' rows (the event log, the ledger): the claim's rows
    holding these keys, by key, and the last row of its chain (None for a claim with none)."""
    rows = conn.execute(_keyed_rows_and_head(table), {"claim_id": claim_id, "keys": sorted(keys)}).all()
    return {r.key: r for r in rows if r.key in keys}, max(rows, key=lambda r: r.seq, default=None)


def append_all(conn: Connection, claim_id: str, entries: list[Entry], recorded_at: datetime,
               seal_keys: bytes | SealKeys) -> list[Head]:
    """`append` for several events of the claim, in their order, in two statements whatever their number: the keys
    already there with the chain's head, and the new rows. Each event's head, in order (`new` False for a key the claim
    holds already, earlier in this batch included)."""
    keys = SealKeys.of(seal_keys)
    held, last = keyed_rows_and_head(conn, EVENTS, claim_id, {e.key for e in entries})
    found = {key: Head(r.seq, r.hash, new=False) for key, r in held.items()}
    seq, prev = (last.seq, last.hash) if last is not None else (0, GENESIS)
    heads, rows = [], []
    for e in entries:
        if e.key in found:
            heads.append(found[e.key])
            continue
        seq += 1
        hash_ = row_hash(prev, claim_id, seq, e.key, e.at, e.event, e.actor, e.detail)
        rows.append({"claim_id": claim_id, "seq": seq, "key": e.key, "at": utc(e.at), "event": e.event,
                     "actor": e.actor, "detail": e.detail, "recorded_at": recorded_at, "prev_hash": prev,
                     "hash": hash_, "seal": seal_row(keys.current, hash_, recorded_at), "seal_kid": keys.kid})
        heads.append(Head(seq, hash_))
        found[e.key] = Head(seq, hash_, new=False)
        prev = hash_
    if rows:
        conn.execute(insert(EVENTS), rows)
    return heads


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


def verify(engine: Engine, seal_keys: bytes | SealKeys, checkpoints: Archive | None = None,
           recorded: dict[str, RecordedHead] | None = None) -> Verification:
    """Walk every claim's chain in seq order, checking each row's hash and seal, then hold the chains against
    the latest checkpoint and against the heads the claims' workflows recorded in their histories (`recorded`):
    the rows and claims checked and every break found."""
    keys = SealKeys.of(seal_keys)
    problems: list[Problem] = []
    rows = claims = 0
    heads: dict[str, int] = {}
    hashes: dict[tuple[str, int], str] = {}
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
                elif (problem := _seal_problem(row, keys)) is not None:
                    problems.append(Problem(claim_id, row.seq, problem))
                expected_seq, expected_prev = row.seq + 1, row.hash
                heads[claim_id] = row.seq
                hashes[(claim_id, row.seq)] = row.hash
    if checkpoints is not None:
        problems += _against_checkpoint(heads, hashes, keys, checkpoints)
    if recorded is not None:
        problems += _against_recorded(heads, hashes, recorded)
    return Verification(rows, claims, problems)


def _seal_problem(row: ClaimEventRow, keys: SealKeys) -> str | None:
    if row.seal is None:
        return "it has no seal: the row was written by someone without the seal key"
    if row.seal_kid is None:  # sealed before key ids: of the hash alone, under any key held
        if any(hmac.compare_digest(row.seal, seal(k, row.hash)) for k in keys.all()):
            return None
        return "its seal does not match: the row was rewritten (hashes recomputed) or sealed with another key"
    key = keys.key(row.seal_kid)
    if key is None:
        return (f"sealed with key {row.seal_kid!r}, which this check does not hold (a key rotated out must stay in "
                "CLAIMS_AUDIT_SEAL_OLD_KEYS)")
    if not hmac.compare_digest(row.seal, seal_row(key, row.hash, row.recorded_at)):
        return ("its seal does not match: the row (its recorded_at included) was rewritten after it was written, "
                "or its seal forged")
    return None


@dataclass(frozen=True)
class RecordedHead:
    """A claim's chain head as its workflow's history recorded it: the seq and hash the append returned, and
    where it was read (a workflow run, an exported history)."""

    seq: int
    hash: str
    source: str


def _against_recorded(heads: dict[str, int], hashes: dict[tuple[str, int], str],
                      recorded: dict[str, RecordedHead]) -> list[Problem]:
    problems = []
    for claim_id, head in sorted(recorded.items()):
        have = heads.get(claim_id)
        if have is None:
            problems.append(Problem(claim_id, head.seq, f"the claim's whole chain is gone: its history ({head.source}) "
                                                        f"recorded rows up to {head.seq}"))
        elif have < head.seq:
            problems.append(Problem(claim_id, have + 1, f"rows {have + 1}-{head.seq} were removed: the claim's history "
                                                        f"({head.source}) recorded rows up to {head.seq}"))
        elif hashes.get((claim_id, head.seq)) != head.hash:
            problems.append(Problem(claim_id, head.seq, f"differs from the row its history ({head.source}) recorded: "
                                                        "the chain was rewritten"))
    return problems


# --------------------------------------------------------------------------- checkpoints


def signed(body: dict[str, object], key: bytes) -> str:
    return hmac.new(key, json.dumps(body, sort_keys=True, separators=(",", ":")).encode(), hashlib.sha256).hexdigest()


CHECKPOINTS = "checkpoints/"


def write_checkpoint(engine: Engine, seal_keys: bytes | SealKeys, archive: Archive, now: datetime | None = None) -> str:
    """Write every chain's head (last seq and hash), signed, to the audit archive under a new name: outside the
    database, so whoever rewrites the database cannot take rows away unseen. The name written."""
    with Session(engine) as session:
        last = (select(ClaimEventRow.claim_id, func.max(ClaimEventRow.seq).label("seq"))
                .group_by(col(ClaimEventRow.claim_id)).subquery())
        found = session.exec(select(ClaimEventRow.claim_id, ClaimEventRow.seq, ClaimEventRow.hash).join(
            last, (col(ClaimEventRow.claim_id) == last.c.claim_id) & (col(ClaimEventRow.seq) == last.c.seq))).all()
    at = (now or datetime.now(UTC)).astimezone(UTC)
    keys = SealKeys.of(seal_keys)
    body: dict[str, object] = {"at": at.isoformat(), "kid": keys.kid,
                               "heads": {c: [seq, h] for c, seq, h in sorted(found)}}
    name = f"{CHECKPOINTS}checkpoint-{at.strftime('%Y%m%dT%H%M%S%fZ')}.json"
    archive.put(name, json.dumps({**body, "signature": signed(body, keys.current)}, indent=1).encode(),
                "application/json")
    return name


def _against_checkpoint(heads: dict[str, int], hashes: dict[tuple[str, int], str], keys: SealKeys,
                        archive: Archive) -> list[Problem]:
    names = [n for n in archive.names(CHECKPOINTS) if n.rsplit("/", 1)[-1].startswith("checkpoint-")]
    if not names:
        return []
    name = names[-1].rsplit("/", 1)[-1]
    data = json.loads(archive.get(names[-1]))
    signature = data.pop("signature", "")
    kid = data.get("kid")
    candidates = keys.all() if kid is None else [k for k in (keys.key(str(kid)),) if k is not None]
    if not candidates:
        return [Problem("-", 0, f"checkpoint {name}: signed with key {kid!r}, which this check does not hold")]
    if not any(hmac.compare_digest(signature, signed(data, key)) for key in candidates):
        return [Problem("-", 0, f"checkpoint {name}: its signature does not match (altered)")]
    problems = []
    for claim_id, (seq, hash_) in data["heads"].items():
        head = heads.get(claim_id)
        if head is None:
            problems.append(Problem(claim_id, seq, f"the claim's rows are gone: checkpoint {name} had {seq}"))
        elif head < seq:
            problems.append(Problem(claim_id, head + 1, f"rows {head + 1}-{seq} were removed: checkpoint {name} "
                                                        f"had {seq}"))
        elif hashes.get((claim_id, seq)) != hash_:
            problems.append(Problem(claim_id, seq, f"differs from checkpoint {name}: the chain was rewritten"))
    return problems
