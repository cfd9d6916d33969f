"""Claimant notifications: rendered from templates, sent at most once per (claim, kind, sequence)."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import structlog
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.engine import insert_once, now_utc, refuses_bad_data
from activities.i18n import DEFAULT_LANGUAGE, LANGUAGES, EmptyValue, catalog, filters, gettext_for, template_gettext
from activities.sms import sms_text
from config.encryption import Keyring, seal_text
from config.masking import mask_text
from config.settings import Settings
from models.contract import ErrorType
from models.messages import NotificationReceipt, NotificationRequest, Recipient
from models.tables import Notification

log = structlog.get_logger(__name__)
TEMPLATES = Path(__file__).parent / "templates"


def _money(value: Any) -> str:
    return f"{float(value):,.2f}" if value is not None else "-"


def _when(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M %Z").strip() if isinstance(value, datetime) else str(value)


def template_env(directory: Path = TEMPLATES) -> Environment:
    """The one jinja2 setup for letters, reports and trails: HTML-escaped, and a missing field is an error,
    never a blank."""
    env = Environment(loader=FileSystemLoader(directory), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    env.filters["when"] = _when
    return env


class Renderer:
    """Letters: a subject line and an HTML body per kind, in Chinese or English (activities/i18n.py), and the
    short text an SMS carries. `public_url` is where claimants open their progress page."""

    def __init__(self, directory: Path = TEMPLATES, public_url: str = "http://127.0.0.1:8000") -> None:
        self.public_url = public_url.rstrip("/")
        self.envs: dict[str, Environment] = {}
        self.gettext: dict[str, Callable[..., str]] = {}
        for language in LANGUAGES:
            translations = catalog(language)
            env = template_env(directory)
            env.filters.update(filters(language, translations))
            env.globals.update(_=template_gettext(translations), language=language)
            self.envs[language] = env
            self.gettext[language] = gettext_for(translations)

    def context(self, claim_id: str, values: dict[str, Any], language: str) -> dict[str, Any]:
        progress = f"{self.public_url}/c/{claim_id}" + ("?lang=en" if language == "en" else "")
        return {"claim_id": claim_id, "progress_url": progress,
                "workbench_url": f"{self.public_url}/app/claims/{claim_id}", **values}

    def render(self, kind: str, context: dict[str, Any], language: str = DEFAULT_LANGUAGE) -> tuple[str, str]:
        template = self.envs[language].get_template(f"{kind}.html.j2")
        context = self.context(context["claim_id"], context, language)
        subject = "".join(template.blocks["subject"](template.new_context(context))).strip()
        return subject, template.render(context)

    def sms(self, kind: str, context: dict[str, Any], language: str = DEFAULT_LANGUAGE) -> str:
        context = self.context(context["claim_id"], context, language)
        return sms_text(kind, context, self.gettext[language], self.envs[language].filters, context["progress_url"])


class Sender(Protocol):
    def send(self, recipient: Recipient, subject: str, body: str, *, claim_id: str, kind: str,
             sequence: int) -> str: ...


class FileSender:
    """The embedded sender: each letter is a file under var/outbox/<claim>/."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, recipient: Recipient, subject: str, body: str, *, claim_id: str, kind: str,
             sequence: int) -> str:
        folder = self.directory / claim_id
        folder.mkdir(parents=True, exist_ok=True)
        kind_of_file = "txt" if recipient.channel == "sms" else "html"  # an SMS is its short text
        path = folder / f"{kind}-{sequence}.{recipient.channel}.{kind_of_file}"
        path.write_text(body, encoding="utf-8")
        return str(path)


class SmtpSender:
    """E-mail through SMTP; other channels (SMS, app) still go to the outbox folder for their gateways."""

    def __init__(self, settings: Settings, fallback: Sender) -> None:
        self.settings = settings
        self.fallback = fallback

    def send(self, recipient: Recipient, subject: str, body: str, *, claim_id: str, kind: str,
             sequence: int) -> str:
        if recipient.channel != "email" or not recipient.email:
            return self.fallback.send(recipient, subject, body, claim_id=claim_id, kind=kind, sequence=sequence)
        s = self.settings
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = s.smtp_sender, recipient.email, subject
        msg["Message-ID"] = f"<{claim_id}.{kind}.{sequence}@claims>"
        msg.set_content("This letter is in HTML.")
        msg.add_alternative(body, subtype="html")
        assert s.smtp_host is not None
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
            smtp.send_message(msg)
        return f"smtp:{recipient.email}"


def build_sender(settings: Settings) -> Sender:
    files = FileSender(settings.outbox_dir)
    return SmtpSender(settings, files) if settings.smtp_host else files


class NotificationActivities:
    """Letters through the outbox. The outbox keeps each letter's body sealed with the payload keys (it is the
    record of what was sent, readable with the keys) and the recipient's address masked."""

    def __init__(self, engine: Engine, renderer: Renderer, sender: Sender, keyring: Keyring) -> None:
        self.engine = engine
        self.renderer = renderer
        self.sender = sender
        self.keyring = keyring

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def notify(self, req: NotificationRequest) -> NotificationReceipt:
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
        with Session(self.engine) as session:
            row = self._outbox_row(session, req, subject, seal_text(self.keyring, body),
                                   mask_text(address) if address else "claimant", language,
                                   seal_text(self.keyring, text) if text is not None else None)
            if row.status == "sent":
                logger.info("notification already sent")
                assert row.id is not None
                return NotificationReceipt(outbox_id=row.id, kind=req.kind, sequence=req.sequence,
                                           already_sent=True)
            where = self.sender.send(req.recipient, subject, text if text is not None else body,
                                     claim_id=req.claim_id, kind=req.kind, sequence=req.sequence)
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
