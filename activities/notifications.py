"""Claimant notifications: rendered from templates, sent at most once per (claim, kind, sequence)."""

from __future__ import annotations

import structlog
from jinja2 import TemplateError
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from config.encryption import Keyring, seal_text
from config.masking import mask_text
from db.engine import insert_once, now_utc, refuses_bad_data
from letters.i18n import EmptyValue
from letters.render import Renderer
from letters.senders import NoGateway, Sender
from models.contract import ErrorType
from models.messages import LetterBatch, LetterOutcome, NotificationReceipt, NotificationRequest
from models.tables import Notification

log = structlog.get_logger(__name__)


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
        """The letters in their order, each as `notify` sends it. One that fails for good (it cannot be rendered, there
        is no sender, the database refuses a value) is recorded as failed and the next goes on. One that could be sent
        on a later try (the gateway is down) stops the batch: it and the letters after it are left without an outcome,
        for the workflow to send one by one with retries, so none overtakes it."""
        outcomes = []
        for req in batch.letters:
            if req.claim_id != batch.claim_id:
                raise ApplicationError("notify_all: every letter must be of the batch's claim",
                                       type=ErrorType.INVALID_UPDATE, non_retryable=True)
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

    @refuses_bad_data
    def _send(self, req: NotificationRequest) -> NotificationReceipt:
        logger = log.bind(claim_id=req.claim_id, kind=req.kind, sequence=req.sequence)
        language = req.recipient.language
        try:
            context = {"claim_id": req.claim_id, "recipient": req.recipient, **req.context}
            subject, body = self.renderer.render(req.kind, context, language)
            text = self.renderer.sms(req.kind, context, language) if req.recipient.channel == "sms" else None
        except (TemplateError, EmptyValue, KeyError) as err:
            raise ApplicationError(f"letter {req.kind!r} cannot be rendered: {err}",
                                   type=ErrorType.TEMPLATE_ERROR, non_retryable=True) from err
        address = req.recipient.email if req.recipient.channel == "email" else req.recipient.phone
        with Session(self.engine, expire_on_commit=False) as session:  # the row as written: no reload to read it
            row = self._outbox_row(session, req, subject, seal_text(self.keyring, body),
                                   mask_text(address) if address else "claimant", language,
                                   seal_text(self.keyring, text) if text is not None else None)
            if row.status == "sent":
                logger.info("notification already sent")
                assert row.id is not None
                return NotificationReceipt(outbox_id=row.id, kind=req.kind, sequence=req.sequence,
                                           already_sent=True)
            try:
                where = self.sender.send(req.recipient, subject, text if text is not None else body,
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
