"""Where a rendered letter goes: an SMTP server for e-mail, the insurer's message gateway for SMS and app messages
(CLAIMS_MESSAGE_GATEWAY, an adapter like the payment gateway's), or, on the embedded demo stack only (the development
issuer on), a sealed file under the outbox folder. Nothing is written in the clear: a letter carries a claimant's
name, masked contact and, for one-time codes, the code itself."""

from __future__ import annotations

import importlib
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from config.encryption import keyring_for, open_text, seal_text
from config.keyring import Keyring
from config.settings import Settings
from models.messages import Recipient


class Sender(Protocol):
    def send(self, recipient: Recipient, subject: str, body: str, *, claim_id: str, kind: str,
             sequence: int) -> str: ...


class NoGateway(Exception):
    """No way to send on this channel is configured: the letter is recorded as not sent, never written anywhere."""


class FileSender:
    """The embedded demo's sender: each letter is a file under var/outbox/<claim>/, sealed with the payload keys
    (`<kind>-<sequence>.<channel>.sealed`); `python starter.py outbox read <claim id>` opens them."""

    def __init__(self, directory: Path, keyring: Keyring) -> None:
        self.directory = directory
        self.keyring = keyring

    def send(self, recipient: Recipient, subject: str, body: str, *, claim_id: str, kind: str,
             sequence: int) -> str:
        folder = self.directory / claim_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{kind}-{sequence}.{recipient.channel}.sealed"  # an SMS is its short text
        path.write_text(seal_text(self.keyring, body), encoding="utf-8")
        return str(path)


def read_letter(keyring: Keyring, path: Path) -> str:
    """A letter the embedded sender wrote, opened."""
    return open_text(keyring, path.read_text(encoding="utf-8"))


def letters_of(directory: Path, claim_id: str, kind: str | None = None) -> list[Path]:
    """The letters of a claim in the outbox folder (of one kind), in the order they were sent."""
    found = (directory / claim_id).glob(f"{kind}-*" if kind else "*-*")
    return sorted(found, key=lambda p: (p.name.rsplit("-", 1)[0], int(p.name.rsplit("-", 1)[1].split(".")[0])))


class Unconfigured:
    """A channel nothing is configured for (outside the embedded demo): says what to set."""

    def __init__(self, what: str) -> None:
        self.what = what

    def send(self, recipient: Recipient, subject: str, body: str, *, claim_id: str, kind: str,
             sequence: int) -> str:
        raise NoGateway(f"{recipient.channel} letters: {self.what}")


def gateway_sender(adapter: str) -> Sender:
    """The insurer's message gateway: `package.module:Class`, built with no arguments, with this module's `send`."""
    module_name, _, class_name = adapter.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"CLAIMS_MESSAGE_GATEWAY must be package.module:Class, not {adapter!r}")
    sender: Sender = getattr(importlib.import_module(module_name), class_name)()
    return sender


class SmtpSender:
    """E-mail through SMTP; other channels (SMS, app) to the sender given for them."""

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
    """SMTP for e-mail when a host is set; the message gateway for SMS and app messages when one is set; the sealed
    outbox folder for what is left on the embedded demo stack (the development issuer on); otherwise nothing, and
    such letters are recorded as not sent."""
    if settings.uses_development_issuer:
        others: Sender = FileSender(settings.outbox_dir, keyring_for(settings))
    else:
        others = Unconfigured("no sender is configured (CLAIMS_SMTP_HOST for e-mail, CLAIMS_MESSAGE_GATEWAY for SMS "
                              "and app messages); the outbox folder serves the embedded demo only")
    if settings.message_gateway:
        others = _Split(gateway_sender(settings.message_gateway), email=others)
    return SmtpSender(settings, others) if settings.smtp_host else others


class _Split:
    """SMS and app messages to the gateway; e-mail (when no SMTP server takes it) to the other sender."""

    def __init__(self, gateway: Sender, *, email: Sender) -> None:
        self.gateway, self.email = gateway, email

    def send(self, recipient: Recipient, subject: str, body: str, *, claim_id: str, kind: str,
             sequence: int) -> str:
        target = self.email if recipient.channel == "email" else self.gateway
        return target.send(recipient, subject, body, claim_id=claim_id, kind=kind, sequence=sequence)
