"""Where a rendered letter goes: a file under the outbox folder (the embedded default) or an SMTP server."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from config.settings import Settings
from models.messages import Recipient


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
