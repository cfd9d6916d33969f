"""The decision trail of a claim, reconstructed from its Temporal history alone.

What the history holds is what the trail shows: the claim as reported, the rules in force, every stage, the
coverage finding, the risk score with its reasons, the payout with its basis, each accepted supervisor action
and who took it, timers that fired, payments with their idempotency keys, and letters sent. Refused actions
never entered the history, so they are not in it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from identity.tokens import sender_of

NOTED_EVENTS = {"documents_requested", "documents_complete", "documents_overdue", "investigation_opened",
                "sla_warning", "sla_breached", "statutory_advance_due", "decided", "payment_failed",
                "reopened", "appeal_received"}


@dataclass
class TrailEntry:
    at: str
    kind: str
    summary: str
    by: str = "system"
    details: list[str] = field(default_factory=list)


def _decode(payloads: dict[str, Any] | None) -> Any:
    items = (payloads or {}).get("payloads") or []
    if not items or "data" not in items[0]:
        return None
    return json.loads(base64.b64decode(items[0]["data"]))


def _failure_message(failure: dict[str, Any]) -> str:
    """A failure's message: stored encrypted, the real one is in its encoded attributes (the history must have
    been decrypted first, as `audit trail` does)."""
    encoded = failure.get("encodedAttributes") or {}
    if "data" in encoded:
        try:
            return str(json.loads(base64.b64decode(encoded["data"])).get("message", failure.get("message")))
        except (ValueError, AttributeError):
            pass
    return str(failure.get("message"))


def _activity(kind: str, arg: Any, result: Any) -> tuple[str, list[str], str] | None:
    """(summary, details, by) for an activity worth showing, or None."""
    if kind == "load_rules" and result:
        return f"rules in force: {result['profile']} profile", [], "system"
    if kind == "check_coverage" and result:
        if result["covered"]:
            return f"covered by policy {result['policy']['policy_number']}", [], "system"
        return f"not covered: {result['reason']}", [f"clause: {result['clause']}"], "system"
    if kind == "assess_risk" and result:
        return (f"risk {result['score']} ({result['level']})",
                [f"+{r['points']} {r['rule']}: {r['detail']}" for r in result["reasons"]], "system")
    if kind == "compute_payout" and result:
        details = [f"{s['step']}: {s['amount']} [{s['clause']}]" for s in result["basis"]]
        return f"payout {result['total']} (payable now {result['amount']})", details, "system"
    if kind == "pay" and result:
        return (f"paid {result['amount']}", [f"idempotency key {result['idempotency_key']}",
                                              f"gateway reference {result['reference']}"], "system")
    if kind == "record_and_pay" and result:  # the timeline written, then paid (since `three-local-steps`)
        return _activity("pay", None, result.get("receipt"))
    if kind == "notify" and result:
        return f"letter sent: {result['kind']} #{result['sequence']}", [], "system"
    if kind == "assign_handler" and result:
        return f"dedicated handler assigned: {result}", [], "system"
    if kind == "record_event" and arg and arg.get("event") in NOTED_EVENTS:
        return arg["event"].replace("_", " "), [arg["detail"]] if arg.get("detail") else [], arg.get("by", "system")
    return None


def _actor(payload: dict[str, Any]) -> str:
    for key in ("approver_id", "investigator_id", "by", "handler_id"):
        if payload.get(key):
            return str(payload[key])
    return "claimant / back office"


def build_trail(history: dict[str, Any]) -> list[TrailEntry]:
    entries: list[TrailEntry] = []
    scheduled: dict[str, tuple[str, Any]] = {}
    timers: dict[str, str] = {}
    stage = None
    for event in history.get("events", []):
        kind, at = event["eventType"].removeprefix("EVENT_TYPE_"), event.get("eventTime", "")
        attrs: dict[str, Any] = next((v for k, v in event.items() if k.endswith("Attributes")), {})
        if kind == "WORKFLOW_EXECUTION_STARTED" and attrs.get("continuedExecutionRunId"):
            entries.append(TrailEntry(at, "continued", "the claim's history continues in a new run, with its "
                                      "whole state carried over", "system",
                                      [f"previous run: {attrs['continuedExecutionRunId']}"]))
        elif kind == "WORKFLOW_EXECUTION_STARTED":
            claim = _decode(attrs.get("input")) or {}
            docs = ", ".join(d.get("kind", "?") for d in claim.get("documents", [])) or "none"
            entries.append(TrailEntry(at, "reported", f"claim {claim.get('claim_id')} reported: "
                                      f"{claim.get('claim_type')} on policy {claim.get('policy_number')} for "
                                      f"{claim.get('claimed_amount')}", "back office",
                                      [f"incident: {(claim.get('incident') or {}).get('description')}",
                                       f"documents with the report: {docs}"]))
        elif kind == "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES":
            field_ = ((attrs.get("searchAttributes") or {}).get("indexedFields") or {}).get("ClaimStage")
            value = json.loads(base64.b64decode(field_["data"])) if field_ and field_.get("data") else None
            if value and value != stage:
                stage = value
                entries.append(TrailEntry(at, "stage", f"stage: {value}"))
        elif kind == "MARKER_RECORDED" and attrs.get("markerName") == "core_local_activity":
            data = _decode(attrs.get("details", {}).get("data")) or {}
            shown = _activity(data.get("activity_type", ""), None, _decode(attrs["details"].get("result")))
            if shown:
                entries.append(TrailEntry(at, "activity", shown[0], shown[2], shown[1]))
        elif kind == "ACTIVITY_TASK_SCHEDULED":
            scheduled[event["eventId"]] = (attrs["activityType"]["name"], _decode(attrs.get("input")))
        elif kind == "ACTIVITY_TASK_COMPLETED":
            name, arg = scheduled.get(attrs["scheduledEventId"], ("?", None))
            batch = arg.get("events") if name == "record_events" and isinstance(arg, dict) else None
            for one_name, one_arg in [("record_event", e) for e in batch or []] or [(name, arg)]:
                shown = _activity(one_name, one_arg, _decode(attrs.get("result")))
                if shown:
                    entries.append(TrailEntry(at, "activity", shown[0], shown[2], shown[1]))
        elif kind == "ACTIVITY_TASK_FAILED":
            name, _ = scheduled.get(attrs["scheduledEventId"], ("?", None))
            entries.append(TrailEntry(at, "rejected", f"{name} refused: {_failure_message(attrs['failure'])}"))
        elif kind == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED":
            request = attrs["acceptedRequest"]["input"]
            payload = _decode(request.get("args")) or {}
            details = [f"{k}: {v}" for k, v in payload.items()
                       if k not in ("approver_id", "by", "investigator_id", "credential")]
            sender = sender_of(payload.get("credential"))
            if sender is not None:  # verified by the workflow when it accepted the update; the token is not shown
                details.append(f"sender: {sender.subject} ({', '.join(sender.roles)}) from {sender.issuer}, "
                               f"token {sender.token_id}")
            entries.append(TrailEntry(at, "action", request["name"], _actor(payload)
                                      if isinstance(payload, dict) else "?", details))
        elif kind == "TIMER_STARTED":
            timers[event["eventId"]] = attrs.get("startToFireTimeout", "")
        elif kind == "TIMER_FIRED":
            entries.append(TrailEntry(at, "timer", f"timer fired ({timers.get(attrs['startedEventId'], '?')})"))
        elif kind == "WORKFLOW_EXECUTION_COMPLETED":
            result = _decode(attrs.get("result")) or {}
            entries.append(TrailEntry(at, "completed", f"outcome {result.get('outcome')}, paid "
                                      f"{result.get('paid_amount')}"))
        elif kind == "WORKFLOW_EXECUTION_FAILED":
            entries.append(TrailEntry(at, "failed", f"claim refused: {_failure_message(attrs['failure'])}"))
    return entries


def render_text(entries: list[TrailEntry]) -> str:
    lines = []
    for e in entries:
        lines.append(f"{e.at[:19]}  {e.kind:<10} {e.summary}" + (f"  [{e.by}]" if e.by != "system" else ""))
        lines += [f"{'':32}{d}" for d in e.details]
    return "\n".join(lines)


def render_json(entries: list[TrailEntry]) -> str:
    return json.dumps([asdict(e) for e in entries], indent=2, ensure_ascii=False)


def render_html(entries: list[TrailEntry], workflow_id: str) -> str:
    from letters.render import template_env

    return template_env().get_template("audit_trail.html.j2").render(entries=entries, workflow_id=workflow_id)
