"""The claim event log's heads as the claims' own histories recorded them.

Every append to the log returns the row's seq and hash (`ClaimsDatabase.record_event`), and Temporal keeps that
answer in the claim's workflow history, which the database's owner does not control. `audit verify-log` reads the
latest head of every claim from its histories (every run Temporal still holds, and the histories exported to the
audit archive) and holds the log against them: a tail removed, or a whole claim's chain removed, shows, whether
or not a checkpoint was written since.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from temporalio.client import Client

from audit.retention import HISTORIES
from config.encryption import EncryptionCodec, decrypted_history
from db.event_log import RecordedHead
from documents.archive import Archive
from models.contract import WORKFLOW_TYPE

RECORD_EVENT = "record_event"
RECORD_EVENTS = "record_events"
"""Both write the log: one event (its head), or a batch of one claim's events (a head each)."""
RECORD_AND_PAY = "record_and_pay"
RECORD_AND_NOTIFY = "record_and_notify"
"""A batch of one claim's events written before a payment or letters (claims started since `three-local-steps`): their
heads are the answer's `log_heads`."""
WRITES_THE_LOG = (RECORD_EVENT, RECORD_EVENTS, RECORD_AND_PAY, RECORD_AND_NOTIFY)
LOCAL_ACTIVITY_MARKER = "core_local_activity"


def _json(payload: dict[str, Any]) -> Any:
    try:
        return json.loads(base64.b64decode(payload.get("data", "")))
    except ValueError:
        return None


def heads_in(history: dict[str, Any], codec: EncryptionCodec) -> RecordedHead | None:
    """The last event-log head a claim's history (as `temporal workflow show -o json` writes it) recorded: the
    answer of its highest `record_event`, `record_events`, `record_and_pay` or `record_and_notify`, from an activity or
    a local activity. None when it recorded none."""
    plain = decrypted_history(history, codec)
    scheduled: set[str] = set()
    best: RecordedHead | None = None
    for event in plain.get("events", []):
        answer = None
        if (attrs := event.get("activityTaskScheduledEventAttributes")) is not None:
            if attrs.get("activityType", {}).get("name") in WRITES_THE_LOG:
                scheduled.add(str(event.get("eventId")))
        elif (attrs := event.get("activityTaskCompletedEventAttributes")) is not None:
            if str(attrs.get("scheduledEventId")) in scheduled:
                answer = (attrs.get("result") or {}).get("payloads", [None])[0]
        elif (attrs := event.get("markerRecordedEventAttributes")) is not None:
            details = attrs.get("details") or {}
            if attrs.get("markerName") == LOCAL_ACTIVITY_MARKER and "result" in details:
                data = _json((details.get("data") or {}).get("payloads", [{}])[0])
                if isinstance(data, dict) and data.get("activity_type") in WRITES_THE_LOG:
                    answer = details["result"].get("payloads", [None])[0]
        found = _json(answer) if isinstance(answer, dict) else None
        if isinstance(found, dict) and "log_heads" in found:  # written before a payment or letters
            found = found["log_heads"]
        for head in found if isinstance(found, list) else [found]:
            if isinstance(head, dict) and isinstance(head.get("seq"), int) and isinstance(head.get("hash"), str):
                if best is None or head["seq"] > best.seq:
                    best = RecordedHead(head["seq"], head["hash"], "")
    return best


def _claim_id(workflow_id: str) -> str | None:
    return workflow_id[len("claim-"):] if workflow_id.startswith("claim-") else None


def merge(found: Iterable[tuple[str, RecordedHead]]) -> dict[str, RecordedHead]:
    """The highest head per claim."""
    heads: dict[str, RecordedHead] = {}
    for claim_id, head in found:
        if claim_id not in heads or head.seq > heads[claim_id].seq:
            heads[claim_id] = head
    return heads


async def from_temporal(client: Client, codec: EncryptionCodec, task_queue: str) -> list[tuple[str, RecordedHead]]:
    """The heads every claim run of this installation (its task queue) that Temporal still holds (open, and closed
    within the namespace's retention) recorded."""
    found = []
    query = f"WorkflowType = '{WORKFLOW_TYPE}' AND TaskQueue = '{task_queue}'"
    async for execution in client.list_workflows(query):
        claim_id = _claim_id(execution.id)
        if claim_id is None:
            continue
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        head = heads_in(history.to_json_dict(), codec)
        if head is not None:
            found.append((claim_id, RecordedHead(head.seq, head.hash, f"run {execution.run_id}")))
    return found


def from_archive(archive: Archive, codec: EncryptionCodec) -> list[tuple[str, RecordedHead]]:
    """The heads the histories exported to the audit archive recorded (those Temporal no longer keeps)."""
    found = []
    for name in archive.names(HISTORIES):
        parts = name[len(HISTORIES):].split("/")
        claim_id = _claim_id(parts[0]) if parts else None
        if claim_id is None or not name.endswith(".json"):
            continue
        head = heads_in(json.loads(archive.get(name)), codec)
        if head is not None:
            found.append((claim_id, RecordedHead(head.seq, head.hash, f"exported history {name}")))
    return found
