"""Claim events for other systems: the transactional outbox, the relay, signed webhooks (SQLite and PostgreSQL).

The property at the end drives the relay through random orders of new events, a receiver that goes down, refuses
or loses acknowledgements, and relays that restart: whatever happens, each claim's events reach the subscriber
in order, and once the receiver is back every one of them has arrived."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from activities.database import ClaimsDatabase
from activities.policies import load_policies
from config.settings import Webhook
from db import outbox
from db.cloud_events import INTERNAL, event_type, read
from db.engine import make_engine
from db.outbox import Outgoing, Retry
from db.schema import upgrade
from events.relay import Relay
from events.sinks import BadSignature, DeliveryFailed, WebhookSink, sign, verify
from models.messages import ClaimEvent
from models.tables import ClaimEventRow
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
from testkit.world import TEST_SEAL_KEY, sample_policies
from tests.event_receivers import SECRET, WebhookReceiver, first_seen
from tests.test_database import register

NO_WAIT = Retry(max_attempts=1000, first=timedelta(0), ceiling=timedelta(0))


def webhook(receiver: WebhookReceiver, name: str = "warehouse") -> WebhookSink:
    return WebhookSink(Webhook.model_validate({"name": name, "url": receiver.url, "secret": SECRET}))


def outbox_seqs(engine, claim_ids) -> dict[str, list[int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.OUTBOX.c.subject, outbox.OUTBOX.c.seq)
                            .where(outbox.OUTBOX.c.subject.in_(list(claim_ids)))
                            .order_by(outbox.OUTBOX.c.subject, outbox.OUTBOX.c.seq)).all()
    found: dict[str, list[int]] = {}
    for claim_id, seq in rows:
        found.setdefault(claim_id, []).append(seq)
    return found


def log_event(db: ClaimsDatabase, claim_id: str, event: str = "assigned", **changes) -> None:
    db.record_event(ClaimEvent(claim_id=claim_id, key=uuid.uuid4().hex, event=event, at=datetime.now(UTC),
                               by="sup-1", detail="to adj-1", changes=changes))


async def drain(relay: Relay, engine, subscriber: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while outbox.backlog(engine, subscriber):
        assert time.monotonic() < deadline, f"{outbox.backlog(engine, subscriber)} events never reached {subscriber}"
        await relay.run_once()
        await asyncio.sleep(0.02)


# --------------------------------------------------------------------------- the outbox


def test_a_published_event_is_in_the_outbox_with_its_log_row_and_a_retry_adds_neither(any_engine):
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY, event_source="urn:test")
    cid = register(db).claim_id
    event = ClaimEvent(claim_id=cid, key="1", event="stage:investigating", at=datetime.now(UTC), by="system",
                       changes={"stage": "investigating", "risk_score": 70})
    db.record_event(event)
    db.record_event(event)  # the activity retried after its commit
    db.record_event(ClaimEvent(claim_id=cid, key="2", event="continued_as_new", at=datetime.now(UTC)))
    with any_engine.connect() as conn:
        rows = conn.execute(select(outbox.OUTBOX).where(outbox.OUTBOX.c.subject == cid)).all()
        logged = conn.execute(select(ClaimEventRow.__table__).where(ClaimEventRow.__table__.c.claim_id == cid)).all()
    assert len(logged) == 2 and len(rows) == 1, "the engine's bookkeeping stays out; a retry adds nothing"
    ce = read(rows[0].body)
    assert (ce.get_id(), ce.get_type(), ce.get_subject(), ce.get_source()) == \
        (f"{cid}:1", "claims.stage_changed", cid, "urn:test")
    assert ce.get_data()["stage"] == "investigating" and ce.get_data()["changes"]["risk_score"] == 70


def test_no_outbox_row_without_its_log_row(any_engine):
    """One transaction: a log append that fails leaves no outbox row behind (and the other way round)."""
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    cid = register(db).claim_id
    try:
        db.record_event(ClaimEvent(claim_id=cid, key="1", event="decided", at=datetime.now(UTC),
                                   changes={"not_a_column": 1}))
    except Exception as err:  # noqa: BLE001
        assert "not_a_column" in str(err)
    log_event(db, cid)
    with any_engine.connect() as conn:
        logged = conn.execute(select(ClaimEventRow.__table__.c.seq)
                              .where(ClaimEventRow.__table__.c.claim_id == cid)).scalars().all()
    assert outbox_seqs(any_engine, [cid])[cid] == list(logged) == [1]


# --------------------------------------------------------------------------- dead letters


async def test_a_refused_event_is_dead_lettered_and_its_claim_waits_until_redriven(any_engine):
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    stuck, other = register(db).claim_id, register(db).claim_id
    for cid in (stuck, other):
        log_event(db, cid)
        log_event(db, cid, "decided")
    receiver = WebhookReceiver()
    refusing = {stuck}
    receiver.answer = lambda event: 422 if event.subject in refusing else 204
    await receiver.start()
    relay = Relay(any_engine, [webhook(receiver)], Retry(max_attempts=3, first=timedelta(0), ceiling=timedelta(0)))
    try:
        for _ in range(5):
            await relay.run_once()
        letters = outbox.dead_letters(any_engine)
        assert [(d.subscriber, d.subject, d.seq, d.attempts) for d in letters] == [("warehouse", stuck, 1, 3)]
        assert "HTTP 422" in letters[0].last_error
        log_event(db, stuck, "paid")
        for _ in range(3):
            await relay.run_once()
        assert first_seen(receiver.received) == {other: [1, 2]}, "the parked claim's later events wait behind it"

        refusing.clear()
        assert outbox.redrive(any_engine, datetime.now(UTC), subscriber="warehouse") == 1
        await drain(relay, any_engine, "warehouse")
        assert first_seen(receiver.received) == {other: [1, 2], stuck: [1, 2, 3]}
        assert outbox.dead_letters(any_engine) == []
        assert len(outbox.dead_letters(any_engine, include_redriven=True)) == 1, "kept, marked redriven"
        assert receiver.bad_signatures == 0
    finally:
        await relay.close()
        await receiver.stop()


async def test_the_retry_waits_double_up_to_the_ceiling(any_engine):
    retry = Retry(max_attempts=10, first=timedelta(seconds=1), ceiling=timedelta(seconds=30))
    assert [retry.wait(n).total_seconds() for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert retry.wait(10_000) == timedelta(seconds=30), "a subscriber down for a long time stays at the ceiling"
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    cid = register(db).claim_id
    log_event(db, cid)
    now = datetime.now(UTC)
    event = outbox.pending(any_engine, "warehouse", now)[0]
    assert not outbox.failed(any_engine, "warehouse", event, "HTTP 503", now, retry)
    assert outbox.pending(any_engine, "warehouse", now + timedelta(seconds=0.5)) == [], "not before its retry"
    again = outbox.pending(any_engine, "warehouse", now + timedelta(seconds=1.5))
    assert [(e.seq, e.attempts) for e in again] == [(1, 1)]


async def test_events_every_subscriber_took_are_pruned_after_the_retention(any_engine):
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    cid = register(db).claim_id
    log_event(db, cid)
    log_event(db, cid, "decided")
    first = outbox.pending(any_engine, "warehouse", datetime.now(UTC))[0]
    outbox.delivered(any_engine, "warehouse", first)
    later = datetime.now(UTC) + timedelta(days=8)
    assert outbox.prune(any_engine, ["warehouse", "finance"], later) == 0, "finance has taken nothing"
    for event in outbox.pending(any_engine, "finance", datetime.now(UTC)):
        outbox.delivered(any_engine, "finance", event)
    assert outbox.prune(any_engine, ["warehouse", "finance"], later) == 1, "only what both took"
    assert outbox_seqs(any_engine, [cid]) == {cid: [2]}


# --------------------------------------------------------------------------- every path, receiver down for a while


async def test_every_event_of_each_path_reaches_the_webhook_in_order_signed_though_it_was_down(claims, time_env):
    receiver = WebhookReceiver()
    await receiver.start()
    relay = Relay(claims.engine, [webhook(receiver)], Retry(max_attempts=1000, first=timedelta(seconds=0.05),
                                                            ceiling=timedelta(seconds=0.2)))
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop, poll_seconds=0.05))

    async def fast_path() -> str:
        claim = auto_claim()
        await (await claims.start(claim)).result()
        return claim["claim_id"]

    async def denied() -> str:
        claim = auto_claim(claimed_amount="380.00", line_items=[{"description": "mirror", "amount": "380.00"}])
        await (await claims.start(claim)).result()
        return claim["claim_id"]

    async def withdrawn() -> str:
        cid = f"C-{uuid.uuid4().hex[:8]}"
        claim = auto_claim(cid, claimed_amount="8000.00", line_items=[], documents=docs("claim_form", claim_id=cid))
        handle = await claims.start(claim)
        await claims.at_stage(claim["claim_id"], "awaiting_documents")
        await claims.update(claim["claim_id"], "withdraw", {"by": "call-centre", "reason": "settled privately"})
        await handle.result()
        return claim["claim_id"]

    async def rejected_then_appealed() -> str:  # on another policy: three claims on one look frequent
        cid = f"C-{uuid.uuid4().hex[:8]}"
        claim = auto_claim(cid, policy_number="P-AUTO-002", claimed_amount="30000.00", line_items=[],
                           documents=docs(*ALL_AUTO_DOCS, claim_id=cid))
        handle = await claims.start(claim)
        await claims.at_stage(cid, "awaiting_approval")
        await claims.update(cid, "reject", {"approver_id": "sup-1", "role": "supervisor",
                                            "reason": "invoice predates the incident", "clause": "GT 6.2"})
        await claims.wait(cid, lambda s: s["outcome"] == "denied", "denied")
        await claims.update(cid, "appeal", {"reason": "the invoice date is a typo"})
        await claims.at_stage(cid, "awaiting_approval")
        await claims.update(cid, "approve", {"approver_id": "sup-2", "role": "supervisor"})
        await handle.result()
        return cid

    async def investigated() -> str:
        cid = f"C-{uuid.uuid4().hex[:8]}"
        claim = auto_claim(cid, policy_number="P-HEALTH-001", claim_type="health", claimed_amount="30000.00",
                           incident={"cause": "illness", "injuries": True}, line_items=[],
                           documents=docs("claim_form", "id_card", "medical_invoice", "diagnosis_report",
                                          "expense_list", claim_id=cid))
        handle = await claims.start(claim)
        await claims.at_stage(cid, "investigating")
        await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "as reported",
                                                          "confirmed_amount": "30000.00"})
        await claims.at_stage(cid, "awaiting_approval")
        await claims.update(cid, "approve", {"approver_id": "mgr-1", "role": "manager"})
        await handle.result()
        return cid

    async def never_completed() -> str:  # reminders, then closed incomplete after the skipped 30 days
        cid = f"C-{uuid.uuid4().hex[:8]}"
        claim = auto_claim(cid, policy_number="P-PROP-001", claim_type="property", claimed_amount="4000.00",
                           incident={"cause": "water_leak"}, line_items=[], documents=docs("claim_form", claim_id=cid))
        await (await claims.start(claim)).result()
        return cid

    async def nobody_approves() -> str:  # the approval clock warns, breaches and escalates on its own
        cid = f"C-{uuid.uuid4().hex[:8]}"
        claim = auto_claim(cid, claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS, claim_id=cid))
        handle = await claims.start(claim)
        await claims.at_stage(cid, "awaiting_approval")
        await time_env.sleep(timedelta(days=10))
        await claims.wait(cid, lambda s: bool(s["sla_breaches"]), "a breach")
        await claims.update(cid, "approve", {"approver_id": "mgr-1", "role": "manager"})
        await handle.result()
        return cid

    try:
        ids = [await fast_path(), await denied()]
        await receiver.stop()  # down while the next claims move
        ids += [await withdrawn(), await rejected_then_appealed()]
        await asyncio.sleep(0.5)
        assert outbox.backlog(claims.engine, "warehouse") > 0, "events waited while the receiver was down"
        await receiver.start()
        await drain(relay, claims.engine, "warehouse")
        ids += [await investigated(), await never_completed(), await nobody_approves()]
        await drain(relay, claims.engine, "warehouse")
    finally:
        stop.set()
        await running
        await receiver.stop()

    expected = outbox_seqs(claims.engine, ids)
    with claims.engine.connect() as conn:
        log = ClaimEventRow.__table__
        logged = conn.execute(select(log.c.claim_id, log.c.seq, log.c.event).where(log.c.claim_id.in_(ids))
                              .order_by(log.c.claim_id, log.c.seq)).all()
    published = {}
    for cid, seq, event in logged:
        if event not in INTERNAL:
            published.setdefault(cid, []).append(seq)
    assert published == expected, "the outbox holds every published log row of each claim"
    assert first_seen(receiver.received) == expected, "every event once or more, each claim's in order"
    assert receiver.bad_signatures == 0
    types = {e.type for e in receiver.received}
    for name in ("registered", "decided", "paid", "withdrawal_requested", "appeal_received", "rejected", "approved",
                 "investigation_opened", "documents_overdue", "sla_warning", "sla_breached"):
        assert event_type(name) in types, f"no {event_type(name)} event arrived"
    closed = {(e.subject, e.data["outcome"]) for e in receiver.received
              if e.type == "claims.stage_changed" and e.data["stage"] == "closed"}
    assert closed == {(ids[0], "paid"), (ids[1], "denied"), (ids[2], "withdrawn"), (ids[3], "denied"),
                      (ids[3], "paid"), (ids[4], "paid"), (ids[5], "closed_incomplete"), (ids[6], "paid")}, \
        "the appealed claim closed denied, then paid"


# --------------------------------------------------------------------------- the property


class LosesAcks:
    """A webhook whose acknowledgement is lost `lose` times: the event arrived, the relay thinks it did not (as
    when a relay dies between the answer and its cursor write), so it comes again."""

    def __init__(self, sink: WebhookSink) -> None:
        self.sink, self.name, self.lose = sink, sink.name, 0

    async def send(self, event: Outgoing) -> None:
        await self.sink.send(event)
        if self.lose:
            self.lose -= 1
            raise DeliveryFailed("acknowledgement lost")

    async def close(self) -> None:
        await self.sink.close()


STEP = st.one_of(st.tuples(st.just("log"), st.integers(0, 3)), st.tuples(st.just("round"), st.just(0)),
                 st.tuples(st.just("down"), st.just(0)), st.tuples(st.just("up"), st.just(0)),
                 st.tuples(st.just("refuse"), st.integers(1, 4)), st.tuples(st.just("lose_acks"), st.integers(1, 3)),
                 st.tuples(st.just("restart"), st.just(0)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=5, max_size=40))
def test_whatever_happens_each_claims_events_arrive_in_order_and_none_is_lost(tmp_path_factory, steps):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('events') / 'claims.db'}")
    upgrade(engine)
    asyncio.run(_example(engine, steps))
    engine.dispose()


async def _example(engine, steps) -> None:
    load_policies(engine, sample_policies())
    db = ClaimsDatabase(engine, TEST_SEAL_KEY)
    claim_ids = [register(db).claim_id for _ in range(4)]
    receiver = WebhookReceiver()
    refusals = 0

    def answer(_event) -> int:
        nonlocal refusals
        if refusals:
            refusals -= 1
            return 503
        return 204

    receiver.answer = answer
    await receiver.start()
    up = True
    sink = LosesAcks(webhook(receiver))
    relay = Relay(engine, [sink], NO_WAIT)
    try:
        for op, n in steps:
            if op == "log":
                log_event(db, claim_ids[n])
            elif op == "round":
                await relay.run_once()
            elif op == "down" and up:
                await receiver.stop()
                up = False
            elif op == "up" and not up:
                await receiver.start()
                up = True
            elif op == "refuse":
                refusals += n
            elif op == "lose_acks":
                sink.lose += n
            elif op == "restart":
                relay = Relay(engine, [sink], NO_WAIT)
            expected = outbox_seqs(engine, claim_ids)
            for cid, seqs in first_seen(receiver.received).items():
                assert seqs == expected[cid][:len(seqs)], f"claim {cid}: {seqs} is not in order of {expected[cid]}"
        if not up:
            await receiver.start()
        refusals, sink.lose = 0, 0
        await drain(relay, engine, "warehouse")
        assert first_seen(receiver.received) == outbox_seqs(engine, claim_ids)
        assert receiver.bad_signatures == 0
    finally:
        await relay.close()
        await receiver.stop()



def test_a_subjects_later_events_do_not_inherit_its_next_events_failed_attempts(any_engine):
    """Event 1 failed often; when it goes through, event 2 starts with no failures of its own (it must not be
    dead-lettered for event 1's)."""
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    cid = register(db).claim_id
    for _ in range(3):
        log_event(db, cid)
    now = datetime.now(UTC)
    retry = Retry(max_attempts=5, first=timedelta(0), ceiling=timedelta(0))
    for _ in range(4):
        outbox.failed(any_engine, "warehouse", outbox.pending(any_engine, "warehouse", now)[0], "HTTP 503", now, retry)
    due = outbox.pending(any_engine, "warehouse", now)
    assert [(e.seq, e.attempts) for e in due] == [(1, 4), (2, 0), (3, 0)]
    outbox.delivered(any_engine, "warehouse", due[0])
    assert not outbox.failed(any_engine, "warehouse", due[1], "HTTP 503", now, retry), "its first failure"
    assert outbox.dead_letters(any_engine) == []


def test_a_cursor_never_moves_back_and_nothing_is_pruned_without_subscribers(any_engine):
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    cid = register(db).claim_id
    log_event(db, cid)
    log_event(db, cid)
    first, second = outbox.pending(any_engine, "warehouse", datetime.now(UTC))
    outbox.delivered(any_engine, "warehouse", second)
    outbox.delivered(any_engine, "warehouse", first)  # a late writer
    assert outbox.backlog(any_engine, "warehouse") == 0
    assert outbox.prune(any_engine, [], datetime.now(UTC) + timedelta(days=30)) == 0
    assert outbox_seqs(any_engine, [cid]) == {cid: [1, 2]}


def test_a_webhook_signature_is_checked_strictly():
    body = b'{"id": "C-1:1"}'
    stamp = int(time.time())
    good = {"Webhook-Id": "C-1:1", "Webhook-Timestamp": str(stamp), "Webhook-Signature": sign(SECRET, "C-1:1",
                                                                                              stamp, body)}
    assert verify(SECRET, good, body) == "C-1:1", "header names in any case"
    for bad in ({**good, "Webhook-Signature": "v1,ＡＢＣ"}, {**good, "Webhook-Timestamp": f" +{stamp}"},
                {**good, "Webhook-Timestamp": str(stamp - 3600)}, {**good, "Webhook-Id": "C-1:2"},
                {k: v for k, v in good.items() if k != "Webhook-Signature"}):
        with pytest.raises(BadSignature):
            verify(SECRET, bad, body)
    with pytest.raises(BadSignature):
        verify(SECRET, good, body + b" ")
