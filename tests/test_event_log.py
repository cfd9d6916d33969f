"""The claim event log: one hash chain per claim, idempotent appends, tampering detected (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from activities.database import ClaimsDatabase
from audit.log_heads import heads_in, merge
from config.encryption import EncryptionCodec, SealKeys
from db.engine import make_engine
from db.event_log import GENESIS, RecordedHead, row_hash, verify, write_checkpoint
from db.schema import grant_app_role
from documents.archive import FolderArchive
from models.messages import ClaimEvent, EventBatch
from models.tables import Claim, ClaimEventRow
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
from testkit.waiting import eventually
from testkit.world import TEST_KEYRING, TEST_SEAL_KEY
from tests.conftest import claims_rig
from tests.test_database import register


def _log_some_events(engine, count: int = 5) -> str:
    db = ClaimsDatabase(engine, TEST_SEAL_KEY)
    claim = register(db)
    for n in range(count):
        db.record_event(ClaimEvent(claim_id=claim.claim_id, key=str(n + 1), event=f"step-{n}",
                                   at=datetime.now(UTC), by="system", detail=f"detail {n}"))
    return claim.claim_id


def _rows(engine, claim_id: str) -> list[ClaimEventRow]:
    with Session(engine) as session:
        return list(session.exec(select(ClaimEventRow).where(ClaimEventRow.claim_id == claim_id)
                                 .order_by(col(ClaimEventRow.seq))).all())


def _tamper(engine, statement: str, **params) -> None:
    """What a person with direct database access might do (on PostgreSQL, first switching the guard off)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE claim_events DISABLE TRIGGER claim_events_append_only"))
        conn.execute(text(statement), params)
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE claim_events ENABLE TRIGGER claim_events_append_only"))


def test_each_claim_has_its_own_chain_from_seq_1(any_engine):
    first, second = _log_some_events(any_engine, 3), _log_some_events(any_engine, 2)
    for claim_id, count in ((first, 3), (second, 2)):
        rows = _rows(any_engine, claim_id)
        assert [r.seq for r in rows] == list(range(1, count + 1)), f"claim {claim_id} is numbered from 1"
        assert rows[0].prev_hash == GENESIS and all(b.prev_hash == a.hash for a, b in pairwise(rows))
    result = verify(any_engine, TEST_SEAL_KEY)
    assert (result.rows, result.claims, result.problems) == (5, 2, [])


def test_a_retried_append_with_the_same_key_adds_no_row_and_leaves_the_read_model(any_engine):
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    claim_id = _log_some_events(any_engine, 2)
    event = ClaimEvent(claim_id=claim_id, key="3", event="stage:closed", at=datetime.now(UTC),
                       changes={"stage": "closed"})
    db.record_event(event)
    db.record_event(event.model_copy(update={"changes": {"stage": "retried"}}))
    rows = _rows(any_engine, claim_id)
    assert [(r.seq, r.key) for r in rows] == [(1, "1"), (2, "2"), (3, "3")], "the retry added a row"
    with Session(any_engine) as session:
        assert session.get(Claim, claim_id).stage == "closed", "the retry moved the read model again"


def test_events_without_a_key_get_a_unique_one(any_engine):
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    claim = register(db)
    for _ in range(2):
        db.record_event(ClaimEvent(claim_id=claim.claim_id, event="note", at=datetime.now(UTC)))
    keys = [r.key for r in _rows(any_engine, claim.claim_id)]
    assert len(set(keys)) == 2 and all(len(k) == 32 for k in keys)


def test_verify_log_catches_a_modified_row(any_engine):
    claim_id = _log_some_events(any_engine)
    _tamper(any_engine, "UPDATE claim_events SET detail = 'paid 1,000,000' WHERE event = 'step-2'")
    problems = verify(any_engine, TEST_SEAL_KEY).problems
    assert [(p.claim_id, p.seq, p.what) for p in problems] == [
        (claim_id, 3, "its contents were changed after it was written")]


def test_verify_log_catches_a_deleted_middle_row(any_engine):
    claim_id = _log_some_events(any_engine)
    _tamper(any_engine, "DELETE FROM claim_events WHERE event = 'step-1'")
    problems = verify(any_engine, TEST_SEAL_KEY).problems
    assert [(p.claim_id, p.seq) for p in problems] == [(claim_id, 3)], problems
    assert "removed or inserted" in problems[0].what


def test_verify_log_catches_an_inserted_row(any_engine):
    claim_id = _log_some_events(any_engine)
    rows = _rows(any_engine, claim_id)
    # A forger renumbers the tail to make room, then inserts a row with a correct hash after seq 2.
    _tamper(any_engine, "UPDATE claim_events SET seq = seq + 100 WHERE claim_id = :c AND seq > 2", c=claim_id)
    at = datetime.now(UTC)
    forged = row_hash(rows[1].hash, claim_id, 3, "forged", at, "paid", "system", "forged")
    _tamper(any_engine, "INSERT INTO claim_events (claim_id, seq, key, at, event, actor, detail, recorded_at, "
                        "prev_hash, hash) VALUES (:c, 3, 'forged', :at, 'paid', 'system', 'forged', :at, :prev, :h)",
            c=claim_id, at=at, prev=rows[1].hash, h=forged)
    problems = verify(any_engine, TEST_SEAL_KEY).problems
    assert problems and {p.claim_id for p in problems} == {claim_id}
    assert any(p.seq == 103 for p in problems), f"the row after the forged one is flagged: {problems}"


def test_a_forged_chain_of_its_own_is_caught(any_engine):
    _log_some_events(any_engine)
    _tamper(any_engine, "INSERT INTO claim_events (claim_id, seq, key, at, event, actor, detail, recorded_at, "
                        "prev_hash, hash) VALUES ('C-X', 1, 'k', :at, 'paid', 'system', 'forged', :at, :prev, :h)",
            at=datetime.now(UTC), prev=GENESIS, h="f" * 64)
    problems = verify(any_engine, TEST_SEAL_KEY).problems
    assert [(p.claim_id, p.seq) for p in problems] == [("C-X", 1)]


def test_chains_of_two_claims_are_independent(any_engine):
    first, second = _log_some_events(any_engine, 3), _log_some_events(any_engine, 3)
    _tamper(any_engine, "DELETE FROM claim_events WHERE claim_id = :c AND seq = 2", c=first)
    problems = verify(any_engine, TEST_SEAL_KEY).problems
    assert {p.claim_id for p in problems} == {first}, "a break in one claim's chain says nothing of another's"
    assert [r.seq for r in _rows(any_engine, second)] == [1, 2, 3]


def test_postgresql_itself_refuses_to_change_the_log(any_engine):
    if any_engine.dialect.name != "postgresql":
        pytest.skip("the database-level guard is PostgreSQL's; SQLite relies on verify-log")
    _log_some_events(any_engine)
    for statement in ("UPDATE claim_events SET detail = 'x'", "DELETE FROM claim_events",
                      "TRUNCATE claim_events"):
        with pytest.raises(DBAPIError, match="append-only"), any_engine.begin() as conn:
            conn.execute(text(statement))


# --------------------------------------------------------------------------- against whoever holds the database


def _rewrite_from(engine, claim_id: str, seq: int, detail: str) -> None:
    """What a forger with the database and this code can do: switch the trigger off (`_tamper`), change a row,
    then recompute every plain hash from it to the end of the chain, so the chain itself is whole again."""
    rows = _rows(engine, claim_id)
    prev = rows[seq - 2].hash if seq > 1 else GENESIS
    for row in rows[seq - 1:]:
        new_detail = detail if row.seq == seq else row.detail
        new_hash = row_hash(prev, claim_id, row.seq, row.key, row.at, row.event, row.actor, new_detail)
        _tamper(engine, "UPDATE claim_events SET detail = :d, prev_hash = :p, hash = :h WHERE id = :i",
                d=new_detail, p=prev, h=new_hash, i=row.id)
        prev = new_hash


def test_a_rewritten_row_with_recomputed_hashes_fails_its_seal(any_engine):
    claim_id = _log_some_events(any_engine)
    _rewrite_from(any_engine, claim_id, 2, "paid 1,000,000")
    problems = verify(any_engine, TEST_SEAL_KEY).problems
    assert [(p.claim_id, p.seq) for p in problems] == [(claim_id, s) for s in range(2, 6)], problems
    assert all("seal" in p.what for p in problems)


def test_a_replaced_row_fails_its_seal_and_the_checkpoint(any_engine, tmp_path):
    claim_id = _log_some_events(any_engine)
    write_checkpoint(any_engine, TEST_SEAL_KEY, FolderArchive(tmp_path))
    last = _rows(any_engine, claim_id)[-1]
    forged = row_hash(last.prev_hash, claim_id, last.seq, last.key, last.at, "paid", "system", "forged")
    _tamper(any_engine, "DELETE FROM claim_events WHERE id = :i", i=last.id)
    _tamper(any_engine, "INSERT INTO claim_events (claim_id, seq, key, at, event, actor, detail, recorded_at, "
                        "prev_hash, hash, seal) VALUES (:c, :s, :k, :at, 'paid', 'system', 'forged', :at, :p, :h, :h)",
            c=claim_id, s=last.seq, k=last.key, at=last.at, p=last.prev_hash, h=forged)
    problems = verify(any_engine, TEST_SEAL_KEY, FolderArchive(tmp_path)).problems
    checkpoint = next(tmp_path.glob("checkpoints/*.json")).name
    assert {p.what.split(":")[0] for p in problems} >= {
        "its seal does not match", f"differs from checkpoint {checkpoint}"}, problems


def test_a_removed_tail_and_an_emptied_table_fall_short_of_the_checkpoint(any_engine, tmp_path):
    claim_id = _log_some_events(any_engine)
    write_checkpoint(any_engine, TEST_SEAL_KEY, FolderArchive(tmp_path))
    assert verify(any_engine, TEST_SEAL_KEY, FolderArchive(tmp_path)).problems == []
    _tamper(any_engine, "DELETE FROM claim_events WHERE claim_id = :c AND seq > 3", c=claim_id)
    [tail] = verify(any_engine, TEST_SEAL_KEY).problems or [None]
    assert tail is None, "without the checkpoint a removed tail looks like a shorter chain: that is its job"
    [problem] = verify(any_engine, TEST_SEAL_KEY, FolderArchive(tmp_path)).problems
    assert (problem.claim_id, problem.seq) == (claim_id, 4) and "removed" in problem.what
    _tamper(any_engine, "DELETE FROM claim_events")
    [gone] = verify(any_engine, TEST_SEAL_KEY, FolderArchive(tmp_path)).problems
    assert gone.claim_id == claim_id and "gone" in gone.what


def test_an_altered_checkpoint_is_refused(any_engine, tmp_path):
    _log_some_events(any_engine)
    path = tmp_path / write_checkpoint(any_engine, TEST_SEAL_KEY, FolderArchive(tmp_path))
    path.write_text(path.read_text().replace('"heads": {', '"heads": {"C-NEVER": [9, "x"], '))
    [problem] = verify(any_engine, TEST_SEAL_KEY, FolderArchive(tmp_path)).problems
    assert "signature" in problem.what


def test_the_workers_role_may_only_append_to_the_log(any_engine):
    """On PostgreSQL the workers connect as a role that does not own the tables: it may insert and read the
    log, and the database refuses it everything else, switching the trigger off included."""
    if any_engine.dialect.name != "postgresql":
        pytest.skip("roles are PostgreSQL's")
    role = f"claims_app_{uuid.uuid4().hex[:8]}"
    with any_engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        schema = conn.execute(text("select current_schema()")).scalar_one()
    grant_app_role(any_engine, role)
    app = make_engine(any_engine.url.set(username=role).render_as_string(hide_password=False),
                      connect_args={"options": f"-csearch_path={schema}"})
    try:
        claim_id = _log_some_events(app, 3)
        assert verify(app, TEST_SEAL_KEY).problems == [] and len(_rows(app, claim_id)) == 3
        for statement in ("UPDATE claim_events SET detail = 'x'", "DELETE FROM claim_events",
                          "TRUNCATE claim_events", "ALTER TABLE claim_events DISABLE TRIGGER ALL",
                          "DROP TABLE claim_events", "UPDATE history_exports SET name = 'x'",
                          "DELETE FROM history_exports", "TRUNCATE history_exports"):
            with pytest.raises(DBAPIError, match="permission denied|must be owner"), app.begin() as conn:
                conn.execute(text(statement))
    finally:
        app.dispose()
        with any_engine.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))


# --------------------------------------------------------------------------- what the histories recorded, seal keys


def _recorded(engine, claim_id: str) -> dict[str, RecordedHead]:
    last = _rows(engine, claim_id)[-1]
    return {claim_id: RecordedHead(last.seq, last.hash, "the claim's history")}


def test_a_changed_recorded_at_fails_its_seal(any_engine):
    claim_id = _log_some_events(any_engine)
    _tamper(any_engine, "UPDATE claim_events SET recorded_at = :at WHERE claim_id = :c AND seq = 2",
            at=datetime(2020, 1, 1, tzinfo=UTC), c=claim_id)
    problems = verify(any_engine, TEST_SEAL_KEY).problems
    assert [(p.claim_id, p.seq) for p in problems] == [(claim_id, 2)] and "recorded_at" in problems[0].what, problems


def test_rows_and_checkpoints_name_their_seal_key_and_verify_after_rotation(any_engine, tmp_path):
    old, new = TEST_SEAL_KEY, bytes(range(32))
    claim_id = _log_some_events(any_engine, 2)
    name = write_checkpoint(any_engine, old, FolderArchive(tmp_path))
    assert json.loads((tmp_path / name).read_text())["kid"] == SealKeys.kid_of(old)
    db = ClaimsDatabase(any_engine, SealKeys(new, (old,)))
    db.record_event(ClaimEvent(claim_id=claim_id, key="3", event="after-rotation", at=datetime.now(UTC)))
    assert [r.seal_kid for r in _rows(any_engine, claim_id)] == [SealKeys.kid_of(old)] * 2 + [SealKeys.kid_of(new)]
    assert verify(any_engine, SealKeys(new, (old,)), FolderArchive(tmp_path)).problems == []
    forgot = verify(any_engine, new, FolderArchive(tmp_path)).problems
    assert {p.seq for p in forgot if p.claim_id == claim_id} == {1, 2} and "does not hold" in forgot[0].what
    assert any("checkpoint" in p.what and "does not hold" in p.what for p in forgot), forgot


def test_a_removed_tail_and_a_removed_chain_are_seen_against_the_histories_without_any_checkpoint(any_engine):
    tail, whole, kept = (_log_some_events(any_engine) for _ in range(3))
    recorded = {**_recorded(any_engine, tail), **_recorded(any_engine, whole), **_recorded(any_engine, kept)}
    assert verify(any_engine, TEST_SEAL_KEY, recorded=recorded).problems == []
    _tamper(any_engine, "DELETE FROM claim_events WHERE claim_id = :c AND seq > 3", c=tail)
    _tamper(any_engine, "DELETE FROM claim_events WHERE claim_id = :c", c=whole)
    assert verify(any_engine, TEST_SEAL_KEY).problems == [], "the chains left are whole: only the histories tell"
    problems = {p.claim_id: p for p in verify(any_engine, TEST_SEAL_KEY, recorded=recorded).problems}
    assert set(problems) == {tail, whole}, problems
    assert problems[tail].seq == 4 and "rows 4-5 were removed" in problems[tail].what
    assert "whole chain is gone" in problems[whole].what


async def test_each_claims_history_keeps_its_log_head_and_verify_log_holds_the_database_to_it(
        time_env, settings, any_engine, tmp_path):
    """A claim paid before the last checkpoint and two after it: the tail of one and the whole chain of the other
    are removed. The checkpoint cannot see it; the heads the histories recorded do."""
    async with claims_rig(time_env, settings, any_engine, ocr=False) as claims:
        first = auto_claim(claimed_amount="3200.00", documents=docs(*ALL_AUTO_DOCS, claim_id="first"))
        await claims.start(first)
        await claims.wait(first["claim_id"], lambda s: s["outcome"] == "paid", "paid")
        archive = FolderArchive(tmp_path / "audit")
        write_checkpoint(any_engine, TEST_SEAL_KEY, archive)
        later = [auto_claim(claimed_amount="3200.00", documents=docs(*ALL_AUTO_DOCS, claim_id=n)) for n in "ab"]
        for claim in later:
            await claims.start(claim)
        for claim in later:
            await claims.wait(claim["claim_id"], lambda s: s["outcome"] == "paid", "paid")
        codec = EncryptionCodec(TEST_KEYRING)
        heads = []
        for claim in (first, *later):
            history = (await claims.handle(claim["claim_id"]).fetch_history()).to_json_dict()
            head = heads_in(history, codec)
            rows = {r.seq: r.hash for r in _rows(any_engine, claim["claim_id"])}
            assert head is not None and head.seq >= 5 and rows[head.seq] == head.hash, "the history keeps the head"
            heads.append((claim["claim_id"], head))
    recorded = merge(heads)
    assert verify(any_engine, TEST_SEAL_KEY, archive, recorded).problems == []
    cut, gone = later[0]["claim_id"], later[1]["claim_id"]
    _tamper(any_engine, "DELETE FROM claim_events WHERE claim_id = :c AND seq > 2", c=cut)
    _tamper(any_engine, "DELETE FROM claim_events WHERE claim_id = :c", c=gone)
    assert verify(any_engine, TEST_SEAL_KEY, archive).problems == [], "the checkpoint predates both claims"
    problems = {p.claim_id: p.what for p in verify(any_engine, TEST_SEAL_KEY, archive, recorded).problems}
    assert set(problems) == {cut, gone} and "were removed" in problems[cut] and "gone" in problems[gone], problems


async def test_a_claim_that_leaves_the_fast_path_keeps_its_log_in_the_order_noted_and_its_read_model_where_it_is(
        time_env, settings, any_engine):
    """Entries noted on the intake wait for their batch; when the claim leaves the fast path (here to ask for its
    documents) they are written before the entries after them, so the log keeps the order they were noted in and the
    read model ends at the stage the claim waits at. A batch written after a later entry (found by the surge bench)
    left the read model at `coverage_check` while the claim waited for documents."""
    async with claims_rig(time_env, settings, any_engine, ocr=False) as claims:
        claim = auto_claim(documents=docs("claim_form"))
        await claims.start(claim)
        await claims.at_stage(claim["claim_id"], "awaiting_documents")
        rows = await eventually(lambda: _rows(any_engine, claim["claim_id"]),
                                lambda rows: any(r.event == "documents_requested" for r in rows),
                                "the request for documents in the log")
        keys = [int(r.key) for r in rows]
        assert keys == sorted(keys), f"the log holds its entries out of the order noted: {[r.event for r in rows]}"
        with Session(any_engine) as session:
            row = session.get(Claim, claim["claim_id"])
            assert row is not None and row.stage == "awaiting_documents", row


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(st.integers(1, 8), min_size=1, max_size=5), min_size=1, max_size=6))
def test_events_written_in_batches_chain_as_written_one_by_one(any_engine, batches: list[list[int]]):
    """A claim's events in batches (`record_events`, three statements a batch whatever its size), any key repeated
    within a batch or retried in a later one: the same rows and seqs as the events written one at a time, each key
    once, in the order first written, and a chain `verify` passes."""
    moment = datetime(2026, 12, 1, 9, tzinfo=UTC)

    def event(claim_id: str, key: int) -> ClaimEvent:
        return ClaimEvent(claim_id=claim_id, key=str(key), event=f"step-{key}", at=moment, detail=f"detail {key}")

    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    batched, single = register(db), register(db)
    for keys in batches:
        heads = db.record_events(EventBatch(claim_id=batched.claim_id,
                                            events=[event(batched.claim_id, k) for k in keys]))
        one_by_one = [db.record_event(event(single.claim_id, k)) for k in keys]
        assert [h.seq for h in heads] == [h.seq for h in one_by_one], "each event's head as written one by one"
    first_written = list(dict.fromkeys(str(k) for keys in batches for k in keys))
    rows, alone = _rows(any_engine, batched.claim_id), _rows(any_engine, single.claim_id)
    assert [r.key for r in rows] == first_written == [r.key for r in alone]
    assert [(r.seq, r.event, r.detail) for r in rows] == [(r.seq, r.event, r.detail) for r in alone]
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == GENESIS and all(b.prev_hash == a.hash for a, b in pairwise(rows))
    assert verify(any_engine, TEST_SEAL_KEY).problems == []
