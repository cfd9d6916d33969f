"""A message gateway for processes the tests start without the embedded demo's outbox folder (no development
issuer): it takes every SMS and app message as a provider that answered "accepted" would, and keeps nothing.
Named by `CLAIMS_MESSAGE_GATEWAY=testkit.messages:AcceptingGateway` (letters/senders.py)."""

from __future__ import annotations

from models.messages import Recipient


class AcceptingGateway:
    def send(self, recipient: Recipient, subject: str, body: str, *, claim_id: str, kind: str,
             sequence: int) -> str:
        return f"gateway:{claim_id}/{kind}-{sequence}.{recipient.channel}"
