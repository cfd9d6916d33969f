"""Claimant notifications: rendered from templates, sent at most once per (claim, kind, sequence)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from jinja2 import TemplateError
from sqlalchemy import bindparam, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from config.encryption import seal_text
from config.keyring import Keyring
from config.masking import mask_text
from db.engine import now_utc, refuses_bad_data
from letters.i18n import EmptyValue
from letters.render import Renderer
from letters.senders import NoGateway, Sender
from models.contract import ErrorType
from models.messages import LetterBatch, LetterOutcome, NotificationReceipt, NotificationRequest
from models.tables import Notification

log = structlog.get_logger(__name__)


NOTIFICATIONS = Notification.__table__  # type: ignore[attr-defined]
MARK_SENT = update(NOTIFICATIONS).where(NOTIFICATIONS.c.id == bindparam("row_id")).values(
    status="sent", sent_at=bindparam("sent_at"))
"""A letter's outbox row marked sent: built once, as it runs for every letter."""


@dataclass(frozen=True)
class Letter:
    """A letter rendered: what the gateway is handed (`subject`, `message`: the SMS text or the letter) and what the
    outbox keeps (the letter and SMS sealed, the address masked)."""

    subject: str
    message: str
    body: str
    text: str | None
    recipient: str
    language: str

    def row(self, req: NotificationRequest) -> dict[str, object]:
        return {"claim_id": req.claim_id, "kind": req.kind, "sequence": req.sequence, "channel": req.recipient.channel,
                "recipient": self.recipient, "subject": self.subject, "body": self.body, "language": self.language,
                "text": self.text, "status": "pending", "created_at": now_utc()}


def latest_start() -> float | None:
    """The last moment (`time.monotonic()`) at which a letter of a batch may be begun in this activity attempt: when
    half its start-to-close timeout has passed. None outside an activity, or with no timeout."""
    if not activity.in_activity():
        return None
    timeout = activity.info().start_to_close_timeout
    return None if not timeout else time.monotonic() + timeout.total_seconds() / 2


class NotificationActivities:
    """Letters through the outbox. The outbox keeps each letter's body sealed with the payload keys (it is the
    record of what was sent, readable with the keys) and the recipient's address masked."""

    def __init__(self, engine: Engine, renderer: Renderer, sender: Sender, keyring: Keyring) -> None:
        self.engine = engine
        self.renderer = renderer
        self.sender = sender
        self.keyring = keyring

    @activity.defn(no_thread_cancel_exception=True)
    def notify(self, req: NotificationRequest) -> NotificationReceipt:
        return self._send(req)

    @activity.defn(no_thread_cancel_exception=True)
    def notify_all(self, batch: LetterBatch) -> list[LetterOutcome]:
        """The letters in their order, each as `notify` sends it, their outbox rows written together. One that fails
        for good (it cannot be rendered, there is no sender) is recorded as failed and the next goes on. One that could
        be sent on a later try (the gateway is down) stops the batch: it and the letters after it are left without an
        outcome, for the workflow to send one by one with retries, so none overtakes it. Each letter is marked sent in
        its own commit as soon as the gateway took it, as `notify` does.

        A letter is begun only while half the attempt's time is left (`latest_start`): a batch that outlasted its
        timeout would go on sending in its thread while the workflow, told it timed out, sent the same letters again
        one by one. The letters not begun have no outcome and go on by themselves."""
        return self.send_batch(batch, latest_start())

    def send_batch(self, batch: LetterBatch, begin_until: float | None) -> list[LetterOutcome]:
        """`notify_all`, beginning no letter after the moment `begin_until` (`time.monotonic()`; None: no limit)."""
        if any(req.claim_id != batch.claim_id for req in batch.letters):
            raise ApplicationError("notify_all: every letter must be of the batch's claim",
                                   type=ErrorType.INVALID_UPDATE, non_retryable=True)
        rendered: dict[tuple[str, int], Letter | ApplicationError] = {}
        for req in batch.letters:
            try:
                rendered[req.kind, req.sequence] = self._render(req)
            except ApplicationError as err:
                rendered[req.kind, req.sequence] = err
        try:
            rows = self._rows_for(batch.claim_id, [(req, letter) for req in batch.letters
                                                   if isinstance(letter := rendered[req.kind, req.sequence], Letter)])
        except (IntegrityError, DataError, StatementError):  # a race, or a value refused: each letter by itself
            return self._each(batch.letters, self._send, begin_until)

        def send(req: NotificationRequest) -> None:
            letter = rendered[req.kind, req.sequence]
            if isinstance(letter, ApplicationError):
                raise letter
            self._deliver(req, letter, *rows[req.kind, req.sequence])

        return self._each(batch.letters, send, begin_until)

    @staticmethod
    def _each(letters: list[NotificationRequest], send: Callable[[NotificationRequest], object],
              begin_until: float | None) -> list[LetterOutcome]:
        """Each letter sent in its order and its outcome: failed for good, the next goes on; failed for now (another
        try could send it), or not begun by `begin_until`, the batch stops there."""
        outcomes = []
        for req in letters:
            if begin_until is not None and time.monotonic() > begin_until:
                log.warning("letters left for the workflow to send one by one: the batch's time is half gone",
                            claim_id=req.claim_id, kind=req.kind, sequence=req.sequence)
                break
            try:
                send(req)
            except ApplicationError as err:
                if not err.non_retryable:
                    break
                outcomes.append(LetterOutcome(kind=req.kind, sequence=req.sequence, failure=err.message))
                continue
            except Exception as err:  # noqa: BLE001 (sent again, with retries, by the workflow)
                log.warning("letter not sent in its batch; sent again by itself", claim_id=req.claim_id,
                            kind=req.kind, sequence=req.sequence, error=type(err).__name__)
                break
            outcomes.append(LetterOutcome(kind=req.kind, sequence=req.sequence))
        return outcomes

    def _rows_for(self, claim_id: str, letters: list[tuple[NotificationRequest, Letter]]) -> dict[
            tuple[str, int], tuple[int, str]]:
        """The outbox rows of the letters, (kind, sequence) → (id, status): those missing written as pending, in one
        statement and one commit."""
        if not letters:
            return {}
        wanted = {(req.kind, req.sequence) for req, _ in letters}
        query = select(NOTIFICATIONS.c.id, NOTIFICATIONS.c.kind, NOTIFICATIONS.c.sequence, NOTIFICATIONS.c.status) \
            .where(NOTIFICATIONS.c.claim_id == claim_id)  # a claim's letters are few: those wanted picked below
        with self.engine.begin() as conn:
            rows = {(r.kind, r.sequence): (r.id, r.status) for r in conn.execute(query)
                    if (r.kind, r.sequence) in wanted}
            missing = [letter.row(req) for req, letter in letters if (req.kind, req.sequence) not in rows]
            if missing:
                conn.execute(insert(NOTIFICATIONS), missing)
                rows = {(r.kind, r.sequence): (r.id, r.status) for r in conn.execute(query)
                        if (r.kind, r.sequence) in wanted}
        return rows

    def _render(self, req: NotificationRequest) -> Letter:
        """The letter as sent and as kept: a template that cannot be rendered fails it for good."""
        language = req.recipient.language
        try:
            context = {"claim_id": req.claim_id, "recipient": req.recipient, **req.context}
            subject, body = self.renderer.render(req.kind, context, language)
            text = self.renderer.sms(req.kind, context, language) if req.recipient.channel == "sms" else None
        except (TemplateError, EmptyValue, KeyError) as err:
            raise ApplicationError(f"letter {req.kind!r} cannot be rendered: {err}",
                                   type=ErrorType.TEMPLATE_ERROR, non_retryable=True) from err
        address = req.recipient.email if req.recipient.channel == "email" else req.recipient.phone
        return Letter(subject=subject, message=text if text is not None else body, body=seal_text(self.keyring, body),
                      text=seal_text(self.keyring, text) if text is not None else None,
                      recipient=mask_text(address) if address else "claimant", language=language)

    @refuses_bad_data
    def _send(self, req: NotificationRequest) -> NotificationReceipt:
        letter = self._render(req)
        try:
            rows = self._rows_for(req.claim_id, [(req, letter)])
        except IntegrityError:  # another attempt wrote the row first: it is there now
            rows = self._rows_for(req.claim_id, [(req, letter)])
        row_id, status = rows[req.kind, req.sequence]
        already_sent = self._deliver(req, letter, row_id, status)
        return NotificationReceipt(outbox_id=row_id, kind=req.kind, sequence=req.sequence, already_sent=already_sent)

    def _deliver(self, req: NotificationRequest, letter: Letter, row_id: int, status: str) -> bool:
        """The letter handed to the gateway and its outbox row marked sent in its own commit; True when the row says
        it was sent before (nothing is sent again). No sender at all fails it for good."""
        logger = log.bind(claim_id=req.claim_id, kind=req.kind, sequence=req.sequence)
        if status == "sent":
            logger.info("notification already sent")
            return True
        try:
            where = self.sender.send(req.recipient, letter.subject, letter.message, claim_id=req.claim_id,
                                     kind=req.kind, sequence=req.sequence)
        except NoGateway as err:  # nothing to retry: the letter is recorded as not sent, and why
            raise ApplicationError(str(err), type="NoSender", non_retryable=True) from None
        for attempt in (1, 2):  # a connection held only for the write, never while the gateway sends
            try:
                with self.engine.begin() as conn:
                    conn.execute(MARK_SENT, {"row_id": row_id, "sent_at": now_utc()})
                break
            except DBAPIError as err:
                # The letter is out: a pooled connection the database closed (a restart; a worker does not ping
                # them) must not leave its row pending, or the retry would send it again. The pool has dropped its
                # connections by now, so the second attempt takes a new one.
                if attempt == 2 or not err.connection_invalidated:
                    raise
        logger.info("notification sent", channel=req.recipient.channel, to=where)
        return False
