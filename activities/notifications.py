"""Claimant notifications: rendered from templates, sent at most once per (claim, kind, sequence)."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from jinja2 import TemplateError
from sqlalchemy import insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from config.encryption import seal_text
from config.keyring import Keyring
from config.masking import mask_text
from db.engine import insert_once, now_utc, refuses_bad_data
from letters.i18n import EmptyValue
from letters.render import Renderer
from letters.senders import NoGateway, Sender
from models.contract import ErrorType
from models.messages import LetterBatch, LetterOutcome, NotificationReceipt, NotificationRequest
from models.tables import Notification

log = structlog.get_logger(__name__)


NOTIFICATIONS = Notification.__table__  # type: ignore[attr-defined]


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
        its own commit as soon as the gateway took it, as `notify` does."""
        if any(req.claim_id != batch.claim_id for req in batch.letters):
            raise ApplicationError("notify_all: every letter must be of the batch's claim",
                                   type=ErrorType.INVALID_UPDATE, non_retryable=True)
        letters: list[tuple[NotificationRequest, Letter | str]] = []
        for req in batch.letters:
            try:
                letters.append((req, self._render(req)))
            except ApplicationError as err:
                letters.append((req, err.message))
        try:
            rows = self._rows_for(batch.claim_id, [(req, letter) for req, letter in letters
                                                   if isinstance(letter, Letter)])
        except (IntegrityError, DataError, StatementError):  # a race, or a value refused: each letter by itself
            return self._one_by_one(batch.letters)
        outcomes = []
        for req, letter in letters:
            if isinstance(letter, str):
                outcomes.append(LetterOutcome(kind=req.kind, sequence=req.sequence, failure=letter))
                continue
            row_id, status = rows[(req.kind, req.sequence)]
            logger = log.bind(claim_id=req.claim_id, kind=req.kind, sequence=req.sequence)
            if status == "sent":
                logger.info("notification already sent")
                outcomes.append(LetterOutcome(kind=req.kind, sequence=req.sequence))
                continue
            try:
                where = self.sender.send(req.recipient, letter.subject, letter.message, claim_id=req.claim_id,
                                         kind=req.kind, sequence=req.sequence)
            except NoGateway as err:
                outcomes.append(LetterOutcome(kind=req.kind, sequence=req.sequence, failure=str(err)))
                continue
            except Exception as err:  # noqa: BLE001 (sent again, with retries, by the workflow)
                logger.warning("letter not sent in its batch; sent again by itself", error=type(err).__name__)
                break
            with self.engine.begin() as conn:
                conn.execute(update(NOTIFICATIONS).where(NOTIFICATIONS.c.id == row_id)
                             .values(status="sent", sent_at=now_utc()))
            logger.info("notification sent", channel=req.recipient.channel, to=where)
            outcomes.append(LetterOutcome(kind=req.kind, sequence=req.sequence))
        return outcomes

    def _one_by_one(self, letters: list[NotificationRequest]) -> list[LetterOutcome]:
        """`notify_all` a letter at a time, each row written by itself (`_send`)."""
        outcomes = []
        for req in letters:
            try:
                self._send(req)
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
            .where(NOTIFICATIONS.c.claim_id == claim_id,
                   NOTIFICATIONS.c.kind.in_(sorted({kind for kind, _ in wanted})))
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
        logger = log.bind(claim_id=req.claim_id, kind=req.kind, sequence=req.sequence)
        letter = self._render(req)
        with Session(self.engine, expire_on_commit=False) as session:  # the row as written: no reload to read it
            row = self._outbox_row(session, req, letter.subject, letter.body, letter.recipient, letter.language,
                                   letter.text)
            if row.status == "sent":
                logger.info("notification already sent")
                assert row.id is not None
                return NotificationReceipt(outbox_id=row.id, kind=req.kind, sequence=req.sequence,
                                           already_sent=True)
            try:
                where = self.sender.send(req.recipient, letter.subject, letter.message,
                                         claim_id=req.claim_id, kind=req.kind, sequence=req.sequence)
            except NoGateway as err:  # nothing to retry: the letter is recorded as not sent, and why
                raise ApplicationError(str(err), type="NoSender", non_retryable=True) from None
            row.status, row.sent_at = "sent", now_utc()
            session.add(row)
            session.commit()
            assert row.id is not None
            logger.info("notification sent", channel=req.recipient.channel, to=where)
            return NotificationReceipt(outbox_id=row.id, kind=req.kind, sequence=req.sequence, already_sent=False)

    @staticmethod
    def _outbox_row(session: Session, req: NotificationRequest, subject: str, body: str,
                    recipient: str, language: str, text: str | None) -> Notification:
        query = select(Notification).where(Notification.claim_id == req.claim_id,
                                           Notification.kind == req.kind, Notification.sequence == req.sequence)
        row = session.exec(query).first()
        if row is not None:
            return row
        return insert_once(session, Notification(
            claim_id=req.claim_id, kind=req.kind, sequence=req.sequence, channel=req.recipient.channel,
            recipient=recipient, subject=subject, body=body, language=language, text=text, status="pending",
            created_at=now_utc()), query)
