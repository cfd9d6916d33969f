"""The fast path's letters go out together, as one of the lifecycle's steps (claims started since
`letters-with-the-lifecycle`; workflows/shell.py `Shell.send_queued`): in the order they were written, each once,
and a letter that fails never holds up another or the money, on a real Temporal server."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer, Worker

from activities.gateway import LedgerGateway
from activities.notifications import NotificationActivities
from audit.log_heads import LOCAL_ACTIVITY_MARKER, heads_in
from config.encryption import EncryptionCodec, decrypted_history
from config.settings import Settings
from config.temporal import workflow_runner
from identity import keys
from letters.render import Renderer
from letters.senders import FileSender, NoGateway
from models.contract import WORKFLOW_TYPE, workflow_id_for
from models.tables import ClaimEventRow, Notification, Payment
from testkit.claims import auto_claim
from testkit.harness import Claims, queue_name
from testkit.world import TEST_KEYRING, data_converter
from workers.claims import build_activities
from workflows.claim import ClaimWorkflow

FAST_PATH_LETTERS = ["acknowledgement", "decision_approved", "payment_sent"]


class RecordingSender(FileSender):
    """A gateway that says what it took, in order, and fails as told: `fail(kind, attempt)` raises for that attempt of a
    letter of that kind (the first attempt is 1)."""

    def __init__(self, directory: Path, fail: Callable[[str, int], Exception | None]) -> None:
        super().__init__(directory, TEST_KEYRING)
        self.fail = fail
        self.taken: list[str] = []
        self.attempts: dict[str, int] = {}
        self.lock = threading.Lock()

    def send(self, recipient: Any, subject: str, body: str, *, claim_id: str, kind: str, sequence: int) -> str:
        with self.lock:
            self.attempts[kind] = self.attempts.get(kind, 0) + 1
            failure = self.fail(kind, self.attempts[kind])
            if failure is not None:
                raise failure
            self.taken.append(kind)
        return super().send(recipient, subject, body, claim_id=claim_id, kind=kind, sequence=sequence)


async def paid_claim(client: Client, settings: Settings, engine: Any, sender: RecordingSender) -> dict[str, Any]:
    """A fast-path claim run to its end on a worker whose letters go through `sender`; its history must replay."""
    claim = auto_claim()
    queue = queue_name()
    letters = NotificationActivities(engine, Renderer(), sender, TEST_KEYRING)
    activities = build_activities(settings, engine, client=client, notifications=letters)
    keys.install(queue, keys.action_verifier_for(settings))
    async with Worker(client, task_queue=queue, workflows=[ClaimWorkflow], workflow_runner=workflow_runner(),
                      activities=activities,
                      activity_executor=ThreadPoolExecutor(max_workers=8)):
        handle = await client.start_workflow(WORKFLOW_TYPE, claim, id=workflow_id_for(claim["claim_id"]),
                                             task_queue=queue)
        result: dict[str, Any] = await handle.result()
        history = await handle.fetch_history()
    await Replayer(workflows=[ClaimWorkflow], workflow_runner=workflow_runner(),
                   data_converter=data_converter).replay_workflow(history)
    result["history"] = history
    return result


def outbox(engine: Any, claim_id: str) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(Notification).where(Notification.claim_id == claim_id)).all()
        return sorted((r.kind, r.status) for r in rows)


def activity_types(history: Any) -> list[str]:
    return [e.activity_task_scheduled_event_attributes.activity_type.name for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")]


async def test_the_fast_path_sends_its_letters_in_one_step_of_the_lifecycle(dev_env, fast_clock, engine, tmp_path):
    sender = RecordingSender(tmp_path, lambda kind, attempt: None)
    result = await paid_claim(dev_env.client, fast_clock, engine, sender)
    assert result["outcome"] == "paid"
    assert sender.taken[:3] == FAST_PATH_LETTERS, "in the order written"
    assert "notify" not in activity_types(result["history"]), "no letter went through the server by itself"
    assert outbox(engine, result["claim_id"]) >= sorted((k, "sent") for k in FAST_PATH_LETTERS)


def local_activities(history: Any) -> list[str]:
    """The local activities a run recorded, in their order (their markers' payloads decrypted)."""
    plain = decrypted_history(history.to_json_dict(), EncryptionCodec(TEST_KEYRING))
    found = []
    for event in plain["events"]:
        attrs = event.get("markerRecordedEventAttributes") or {}
        if attrs.get("markerName") == LOCAL_ACTIVITY_MARKER:
            payload = attrs["details"]["data"]["payloads"][0]
            found.append(json.loads(base64.b64decode(payload["data"]))["activity_type"])
    return found


async def test_a_claim_paid_at_once_runs_three_local_activities_and_its_log_is_whole(dev_env, fast_clock, engine,
                                                                                     tmp_path):
    """Taken in, paid, told: three local activities (`three-local-steps`). The timeline goes with the payment and the
    letters, written before each, and the history keeps the log's last head for `audit verify-log`."""
    sender = RecordingSender(tmp_path, lambda kind, attempt: None)
    result = await paid_claim(dev_env.client, fast_clock, engine, sender)
    assert result["outcome"] == "paid" and result["fast_path"]
    assert local_activities(result["history"]) == ["take_in", "record_and_pay", "record_and_notify",
                                                    "notify_all"], "three, then the survey a day later"
    assert activity_types(result["history"]) == [], "nothing went through the server"
    with Session(engine) as session:
        rows = session.exec(select(ClaimEventRow).where(ClaimEventRow.claim_id == result["claim_id"])
                            .order_by(ClaimEventRow.seq)).all()  # type: ignore[arg-type]
        payment = session.exec(select(Payment).where(Payment.claim_id == result["claim_id"])).one()
    events = [r.event for r in rows]
    assert len(events) == len({r.key for r in rows}) and "paid" in events and "stage:closed" in events, events
    decided = next(r for r in rows if r.event == "decided")
    assert decided.recorded_at <= payment.created_at, "the decision is in the log before the money moves"
    head = heads_in(result["history"].to_json_dict(), EncryptionCodec(TEST_KEYRING))
    assert head is not None and (head.seq, head.hash) == (rows[-1].seq, rows[-1].hash), \
        "the history holds the log's last head"


class SlowUpdateLetters(RecordingSender):
    """A gateway that takes three seconds over the letter an update writes (a new bank account's confirmation)."""

    def send(self, recipient: Any, subject: str, body: str, *, claim_id: str, kind: str, sequence: int) -> str:
        if kind == "bank_account_changed":
            time.sleep(3)  # the provider's own slowness, not a wait in the test
        return super().send(recipient, subject, body, claim_id=claim_id, kind=kind, sequence=sequence)


async def test_the_steps_a_claim_takes_never_hang_on_an_update_letter_still_going_out(dev_env, fast_clock, engine,
                                                                                     tmp_path):
    """Found on review: a fast-path claim whose bank refused the account is paid once the claimant gives another, and
    the confirmation of the new account goes out through the server beside it. Which activity the lifecycle's last
    batch ran (the timeline with its letters, or the timeline, then the letters) hung on whether that letter was
    out yet, which a replay may meet at another point than the run did. It is the same activity either way, and the
    claim replays as it ran."""
    claim = auto_claim(bank_account={"holder": "Li Lei", "number": "6222000000000000"})
    queue = queue_name()
    gateway = LedgerGateway(engine, closed_accounts=frozenset({"6222000000000000"}))
    letters = NotificationActivities(engine, Renderer(), SlowUpdateLetters(fast_clock.outbox_dir, lambda k, a: None),
                                     TEST_KEYRING)
    keys.install(queue, keys.action_verifier_for(fast_clock))
    async with Worker(dev_env.client, task_queue=queue, workflows=[ClaimWorkflow], workflow_runner=workflow_runner(),
                      activities=build_activities(fast_clock, engine, gateway, dev_env.client, notifications=letters),
                      activity_executor=ThreadPoolExecutor(max_workers=8)):
        claims = Claims(dev_env.client, queue, engine, gateway, fast_clock)
        handle = await claims.start(claim)
        await claims.wait(claim["claim_id"], lambda s: "bank_details" in s["deadlines"], "new bank details asked for")
        await claims.change_bank_account(claim["claim_id"], {"holder": "Li Lei", "number": "6222000011113333"})
        result = await handle.result()
        history = await handle.fetch_history()
    assert result["outcome"] == "paid"
    steps = local_activities(history)
    assert steps[:3] == ["take_in", "record_and_pay", "record_and_notify"], steps
    assert steps[3:5] == ["pay", "record_and_notify"], f"the last batch went by another activity: {steps}"
    await Replayer(workflows=[ClaimWorkflow], workflow_runner=workflow_runner(),
                   data_converter=data_converter).replay_workflow(history)


async def test_a_letter_the_gateway_refuses_once_goes_on_by_itself_and_none_overtakes_it(dev_env, fast_clock, engine,
                                                                                          tmp_path):
    """The decision letter's first try fails: it and the payment letter after it go through the server with retries,
    in their order; the acknowledgement before it is not sent again."""
    sender = RecordingSender(tmp_path, lambda kind, attempt: ConnectionError("gateway busy")
                             if kind == "decision_approved" and attempt == 1 else None)
    result = await paid_claim(dev_env.client, fast_clock, engine, sender)
    assert result["outcome"] == "paid" and result["paid_amount"] == "2700.00"
    assert sender.taken[:3] == FAST_PATH_LETTERS, "each once, in the order written"
    assert sender.attempts["decision_approved"] == 2 and sender.attempts["acknowledgement"] == 1
    assert activity_types(result["history"]).count("notify") >= 2, "the rest went on by themselves"
    assert outbox(engine, result["claim_id"]) >= sorted((k, "sent") for k in FAST_PATH_LETTERS)


async def test_a_letter_that_can_never_be_sent_is_recorded_and_the_next_goes_out(dev_env, fast_clock, engine,
                                                                                tmp_path):
    sender = RecordingSender(tmp_path, lambda kind, attempt: NoGateway("no SMS gateway for this number")
                             if kind == "decision_approved" else None)
    result = await paid_claim(dev_env.client, fast_clock, engine, sender)
    assert result["outcome"] == "paid" and result["paid_amount"] == "2700.00", "the payment was not held up"
    assert sender.taken[:2] == ["acknowledgement", "payment_sent"]
    assert sender.attempts["decision_approved"] == 1, "a letter failed for good is not tried again"
    with Session(engine) as session:
        from models.tables import ClaimEventRow
        events = [r.detail for r in session.exec(select(ClaimEventRow).where(
            ClaimEventRow.claim_id == result["claim_id"], ClaimEventRow.event == "notification_failed")).all()]
    assert len(events) == 1 and events[0].startswith("decision_approved: no SMS gateway"), events


def test_a_batch_tried_again_sends_none_of_its_letters_twice(any_engine, tmp_path):
    """The activity tried again after a worker died mid-batch: letters the outbox holds as sent are not sent again,
    the rest go out, each in its own commit; a letter whose template cannot be rendered fails for good."""
    from models.messages import LetterBatch, NotificationRequest, Recipient

    claim_id = "C-BATCH-1"
    person = Recipient(name="李雷", channel="sms", phone="13800138000", language="zh-CN")
    letters = [NotificationRequest(claim_id=claim_id, kind=kind, recipient=person, context=context)
               for kind, context in (("survey", {}), ("no-such-letter", {}), ("survey", {}))]
    letters[2] = letters[2].model_copy(update={"sequence": 2})
    flaky = RecordingSender(tmp_path, lambda kind, attempt: ConnectionError("down") if attempt == 2 else None)
    activities = NotificationActivities(any_engine, Renderer(), flaky, TEST_KEYRING)
    first = activities.notify_all(LetterBatch(claim_id=claim_id, letters=letters))
    assert [(o.kind, o.failure is None) for o in first] == [("survey", True), ("no-such-letter", False)], \
        "the second survey's try failed: it and those after it are left for the workflow"
    again = activities.notify_all(LetterBatch(claim_id=claim_id, letters=letters))
    assert [(o.sequence, o.failure is None) for o in again] == [(1, True), (1, False), (2, True)]
    assert flaky.taken == ["survey", "survey"], "the first survey once, the second once"
    assert outbox(any_engine, claim_id) == [("survey", "sent"), ("survey", "sent")]


class SlowGatewayLetters(RecordingSender):
    """A gateway that takes 1.5 seconds over every letter."""

    def send(self, recipient: Any, subject: str, body: str, *, claim_id: str, kind: str, sequence: int) -> str:
        time.sleep(1.5)  # the provider's own slowness, not a wait in the test
        return super().send(recipient, subject, body, claim_id=claim_id, kind=kind, sequence=sequence)


def test_a_batch_begins_no_letter_once_half_its_time_is_gone(engine, tmp_path):
    """A batch that outlasted its timeout went on sending in its thread while the workflow, told it had timed out, sent
    the same letters again one by one. Four letters at 1.5 s each in an attempt of 4 s: the batch stops beginning
    letters after 2 s, and those it did not begin have no outcome (they go on by themselves) and stay unsent."""
    from models.messages import LetterBatch, NotificationRequest, Recipient

    claim_id = "C-BATCH-SLOW"
    person = Recipient(name="李雷", channel="sms", phone="13800138000", language="zh-CN")
    letters = [NotificationRequest(claim_id=claim_id, kind="survey", sequence=n, recipient=person, context={})
               for n in range(1, 5)]
    slow = SlowGatewayLetters(tmp_path, lambda kind, attempt: None)
    activities = NotificationActivities(engine, Renderer(), slow, TEST_KEYRING)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, start_to_close_timeout=timedelta(seconds=4))
    outcomes = env.run(activities.notify_all, LetterBatch(claim_id=claim_id, letters=letters))
    assert 1 <= len(outcomes) < 4, "the batch begins no letter once half its time is gone"
    assert all(o.failure is None for o in outcomes) and len(slow.taken) == len(outcomes)
    assert [status for _, status in outbox(engine, claim_id)].count("sent") == len(outcomes), \
        "the letters not begun are left unsent, for the workflow"
