"""What a claim event looks like outside: a CloudEvents 1.0 event in structured JSON mode.

The event is made when its log row is written, in the same transaction (`activities.database.record_event`), so
the outbox holds exactly the bytes every subscriber receives, however often they are sent again.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from config.masking import mask_text
from db.engine import utc

TYPE_PREFIX = "claims."
CONTENT_TYPE = JSONFormat.CONTENT_TYPE
DEFAULT_SOURCE = "urn:claims-orchestrator"

INTERNAL = frozenset({"continued_as_new", "code_sent"})
"""Log entries that are the engine's bookkeeping or a one-time code's, not news for other systems."""


def published(event: str) -> bool:
    return event not in INTERNAL


def event_type(event: str) -> str:
    """`stage:paid` -> `claims.stage_changed` (the stage is in the data); `decided` -> `claims.decided`."""
    return TYPE_PREFIX + ("stage_changed" if event.startswith("stage:") else event)


def complaint_subject(complaint_id: str) -> str:
    """A complaint's events' subject: `complaint:<id>`. A colon is in no claim id, so a claim and a complaint
    never share a subject (nor its order, lock or event ids)."""
    return f"complaint:{complaint_id}"


def event_id(claim_id: str, seq: int) -> str:
    """Stable across redeliveries: subscribers drop what they have seen by this id."""
    return f"{claim_id}:{seq}"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return utc(value).isoformat()
    return value


def claim_event(*, source: str, claim_id: str, seq: int, event: str, at: datetime, actor: str, detail: str,
                changes: dict[str, Any], stage: str | None, outcome: str | None,
                catastrophe: str | None = None) -> tuple[str, str, str]:
    """The event's id, type and structured JSON body; `catastrophe` is the code of the declared catastrophe the
    claim joined, on every event of the claim from the one it joined on."""
    data = {
        "claim_id": claim_id,
        "sequence": seq,
        "event": event,
        "at": utc(at).isoformat(),
        "actor": actor,
        "detail": mask_text(detail),
        "stage": stage,
        "outcome": outcome,
        "catastrophe": catastrophe,
        "changes": {key: _plain(value) for key, value in sorted(changes.items())},
    }
    id_, type_ = event_id(claim_id, seq), event_type(event)
    attributes = {"id": id_, "source": source, "type": type_, "subject": claim_id, "time": utc(at),
                  "datacontenttype": "application/json", "sequence": str(seq)}
    return id_, type_, JSONFormat().write(CloudEvent(attributes, data)).decode("utf-8")


COMPLAINT_TIMES = {"received": "received_at", "acknowledged": "acknowledged_at", "resolved": "resolved_at"}


def complaint_milestones(before: dict[str, Any] | None, after: dict[str, Any]) -> list[tuple[str, str]]:
    """What a complaint's row gained, as (event, detail), in the order it happens: received, assigned, marked
    complex, acknowledged, each clock warned or breached, resolved. Nothing for a write that adds nothing."""
    was = before or {}
    found: list[tuple[str, str]] = []
    if before is None:
        found.append(("received", after["category"]))
    if after["handler"] and after["handler"] != was.get("handler"):
        found.append(("assigned", after["handler"]))
    if after["complex"] and not was.get("complex"):
        found.append(("marked_complex", ""))
    if after["acknowledged_at"] and not was.get("acknowledged_at"):
        found.append(("acknowledged", ""))
    for clock in sorted(set(after["warned"]) - set(was.get("warned", []))):
        found.append(("sla_warning", clock))
    earlier = list(was.get("breached", []))
    for clock in after["breached"]:
        if clock in earlier:
            earlier.remove(clock)
        else:
            found.append(("sla_breached", clock))
    if after["resolved_at"] and not was.get("resolved_at"):
        found.append(("resolved", after["root_cause"] or ""))
    return found


def complaint_event(*, source: str, subject: str, seq: int, event: str, detail: str, at: datetime,
                    row: dict[str, Any]) -> tuple[str, str, str]:
    """A complaint milestone's id, type (`claims.complaint_<event>`) and structured JSON body. The complainant's
    details stay out."""
    when = row.get(COMPLAINT_TIMES.get(event, "")) or at
    data = {
        "complaint_id": row["complaint_id"],
        "claim_id": row["claim_id"],
        "sequence": seq,
        "event": event,
        "at": utc(when).isoformat(),
        "detail": detail,
        "category": row["category"],
        "handler": row["handler"],
        "complex": row["complex"],
        "root_cause": row["root_cause"],
        "received_at": utc(row["received_at"]).isoformat(),
    }
    id_, type_ = event_id(subject, seq), f"{TYPE_PREFIX}complaint_{event}"
    attributes = {"id": id_, "source": source, "type": type_, "subject": subject, "time": utc(when),
                  "datacontenttype": "application/json", "sequence": str(seq)}
    return id_, type_, JSONFormat().write(CloudEvent(attributes, data)).decode("utf-8")


def read(body: bytes | str) -> CloudEvent:
    """A received event, checked against CloudEvents 1.0 (what a subscriber written in Python would do)."""
    event = JSONFormat().read(None, body)
    assert isinstance(event, CloudEvent)
    return event
