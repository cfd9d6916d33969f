"""Auditors' tools: replay claim and complaint histories against the code (`python starter.py audit replay ...`)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from config.encryption import EncryptionCodec, converter_for, decrypted_history, keyring_for
from config.keyring import WORKFLOW_ID
from config.settings import Settings
from config.temporal import workflow_runner
from models.complaints import complaint_workflow_id
from models.contract import workflow_id_for
from workflows.claim import ClaimWorkflow
from workflows.complaint import ComplaintWorkflow
from workflows.ended_claim_code import EndedClaimCodeWorkflow


def _start_input(events: list[dict[str, Any]], codec: EncryptionCodec | None) -> dict[str, Any]:
    first = decrypted_history(events[0], codec) if codec is not None else events[0]
    started = first.get("workflowExecutionStartedEventAttributes") or {}
    payloads = (started.get("input") or {}).get("payloads") or []
    if not payloads:
        return {}
    try:
        decoded = json.loads(base64.b64decode(payloads[0]["data"]))
    except ValueError:  # not JSON: a start refused for bad input
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _bound_workflow(events: list[dict[str, Any]]) -> str | None:
    """The workflow the start input's payload was encrypted for (its metadata says so in the clear)."""
    started = (events[0].get("workflowExecutionStartedEventAttributes") or {}) if events else {}
    for payload in (started.get("input") or {}).get("payloads") or []:
        bound = (payload.get("metadata") or {}).get(WORKFLOW_ID)
        if bound:
            return base64.b64decode(bound).decode()
    return None


def _first_run_id(events: list[dict[str, Any]]) -> str:
    started = events[0].get("workflowExecutionStartedEventAttributes") or {} if events else {}
    return str(started.get("firstExecutionRunId") or started.get("originalExecutionRunId") or "unknown")


def history_from_json(text: str, workflow_id: str | None = None,
                      settings: Settings | None = None) -> WorkflowHistory:
    """A history as `temporal workflow show --output json` or `fetch_history().to_json()` writes it. The
    workflow id, which the history itself does not hold, is the one its start input was encrypted for (the
    payload's metadata names it); for histories written before payloads were bound, the complaint's
    (`complaint-<complaint_id>`) or the claim's (`claim-<claim_id>`), read from the start input (decrypted with the
    configured keys). Such a start refused for bad input may name neither; it replays under
    `unidentified-<first run id>`, which nothing in a refused start's run reads."""
    data = json.loads(text)
    if workflow_id is None:
        workflow_id = _bound_workflow(data.get("events", []))
    if workflow_id is None:
        codec = EncryptionCodec(keyring_for(settings or Settings()))
        start = _start_input(data.get("events", []), codec)
        if start.get("complaint_id"):
            workflow_id = complaint_workflow_id(str(start["complaint_id"]))
        elif start.get("claim_id"):
            workflow_id = workflow_id_for(str(start["claim_id"]))
        else:
            workflow_id = f"unidentified-{_first_run_id(data.get('events', []))}"
    return WorkflowHistory.from_json(workflow_id, data)


def history_from_file(path: Path, workflow_id: str | None = None,
                      settings: Settings | None = None) -> WorkflowHistory:
    return history_from_json(path.read_text(encoding="utf-8"), workflow_id, settings)


@dataclass(frozen=True)
class ReplayOutcome:
    workflow_id: str
    ok: bool
    problem: str = ""


def production_replayer(settings: Settings | None = None) -> Replayer:
    """The replayer with the production data converter (its keys decrypt the history) and the production
    workflow."""
    return Replayer(workflows=[ClaimWorkflow, ComplaintWorkflow, EndedClaimCodeWorkflow],
                    data_converter=converter_for(settings),
                    workflow_runner=workflow_runner())


async def replay(histories: Iterable[WorkflowHistory] | AsyncIterator[WorkflowHistory],
                 replayer: Replayer | None = None, settings: Settings | None = None) -> list[ReplayOutcome]:
    replayer = replayer or production_replayer(settings)
    outcomes: list[ReplayOutcome] = []

    async def check(history: WorkflowHistory) -> None:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        failure = result.replay_failure
        outcomes.append(ReplayOutcome(history.workflow_id, failure is None, str(failure or "")))

    if isinstance(histories, AsyncIterator):
        async for history in histories:
            await check(history)
    else:
        for history in histories:
            await check(history)
    return outcomes


async def latest_history(client: Client, workflow_id: str) -> WorkflowHistory:
    """The history of the workflow's latest run, as the server keeps it."""
    return await client.get_workflow_handle(workflow_id).fetch_history()


async def runs_of(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a claim's workflow, first to last: a long claim continues as new, and each run's first
    event names the run it continued."""
    runs: list[WorkflowHistory] = []
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.insert(0, history)
        run_id = history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
        if not run_id:
            return runs


async def histories_for_query(client: Client, query: str) -> AsyncIterator[WorkflowHistory]:
    async for history in client.list_workflows(query).map_histories():
        yield history
