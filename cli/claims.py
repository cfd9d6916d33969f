"""Talking to claims through Temporal: start, update, query and list them. Used by the command line and the demo."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from config.settings import Settings
from models.contract import WORKFLOW_TYPE, ClaimInput, ErrorType, workflow_id_for


class CommandError(Exception):
    """A refusal or bad input, shown to the user as one plain line."""


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def read_claim_file(path: Path) -> dict[str, Any]:
    """A claim from a JSON file, or one plain line saying why the file is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CommandError(f"{path}: cannot be read ({err.__class__.__name__})") from None
    if not text.strip():
        raise CommandError(f"{path}: the file is empty; expected a claim as a JSON object")
    try:
        claim = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        where = f" (line {err.lineno}, column {err.colno}: {err.msg})" if isinstance(err, json.JSONDecodeError) else ""
        raise CommandError(f"{path}: not valid JSON{where}") from None
    if not isinstance(claim, dict):
        raise CommandError(f"{path}: expected a claim as a JSON object, got a JSON {type(claim).__name__}")
    return claim


def parse_claim(claim: Any) -> ClaimInput:
    if not isinstance(claim, dict):
        raise CommandError(f"invalid claim: expected a JSON object, got {type(claim).__name__}")
    try:
        return ClaimInput.model_validate(claim)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise CommandError(f"invalid claim: {problems}") from None


async def start_claim(client: Client, claim: dict[str, Any], task_queue: str) -> str:
    """Start a claim's workflow once; a second start for the same claim id is refused. A report that
    failed (an unknown policy, say) recorded nothing, so the corrected report may use its claim id again."""
    parsed = parse_claim(claim)
    workflow_id = workflow_id_for(parsed.claim_id)
    if await _registered(client, workflow_id):
        raise CommandError(f"claim {parsed.claim_id} already exists ({workflow_id}); not started again")
    try:
        await client.start_workflow(WORKFLOW_TYPE, claim, id=workflow_id, task_queue=task_queue,
                                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL)
    except WorkflowAlreadyStartedError:
        raise CommandError(f"claim {parsed.claim_id} already exists ({workflow_id}); not started again") from None
    return workflow_id


async def _registered(client: Client, workflow_id: str) -> bool:
    """Whether a claim with this workflow id exists: any run but one that failed before registering it."""
    handle = client.get_workflow_handle(workflow_id)
    try:  # the raw call: only the status is needed, not the decoded search attributes
        described = await client.workflow_service.describe_workflow_execution(DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)))
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    if described.workflow_execution_info.status != WorkflowExecutionStatus.FAILED.value:
        return True
    try:
        await handle.result(follow_runs=False)
    except WorkflowFailureError as err:
        return isinstance(err.cause, ApplicationError) and err.cause.type == ErrorType.DUPLICATE_CLAIM
    return True


def development_token(settings: Settings, subject: str, roles: list[str],
                      ttl_seconds: float | None = None) -> str:
    """A token from the development issuer; refused when a real identity provider is configured."""
    from identity import development  # the token library only for the commands that mint

    if not settings.uses_development_issuer:
        raise CommandError(f"a real identity provider is configured ({settings.oidc_issuer}); "
                           "get a token from it, the development issuer is off")
    return development.mint(settings.var_dir, subject=subject, roles=roles, audience=settings.oidc_audience,
                            ttl_seconds=ttl_seconds or development.DEFAULT_TTL_SECONDS)


def with_credential(settings: Settings, update: str, payload: dict[str, Any], credential: str | None) -> dict[str, Any]:
    """The payload with the sender's token: the one given, or with the development issuer one minted for the
    person and role (or the channel) the payload names."""
    if credential is None:
        if not settings.uses_development_issuer:
            raise CommandError(f"{update}: a real identity provider is configured; pass --credential TOKEN")
        from identity import development

        subject, roles = development.sender_for(update, payload)
        credential = development_token(settings, subject, roles)
    return {**payload, "credential": credential}


Flags = list[tuple[str, str, dict[str, Any]]]
"""An update's command-line flags: (flag, payload field, argparse options)."""


def add_update_commands(commands: Any, updates: dict[str, tuple[str, Flags]], id_name: str,
                        credential_help: str) -> None:
    """A subcommand per update: the workflow's id, the update's flags and `--credential`."""
    for command, (update, flags) in updates.items():
        cmd = commands.add_parser(command, help=f"send the {update} update")
        cmd.add_argument(id_name)
        for flag, _, options in flags:
            cmd.add_argument(flag, **options)
        cmd.add_argument("--credential", help=credential_help)


def update_payload(settings: Settings, args: argparse.Namespace, update: str, flags: Flags) -> dict[str, Any]:
    """The update's payload from the command's flags (those given), with the sender's credential."""
    payload = {field: getattr(args, flag.lstrip("-").replace("-", "_")) for flag, field, _ in flags}
    return with_credential(settings, update, {k: v for k, v in payload.items() if v is not None}, args.credential)


async def send_update(client: Client, claim_id: str, update: str, payload: dict[str, Any]) -> Any:
    return await send_to(client, workflow_id_for(claim_id), update, payload)


async def send_to(client: Client, workflow_id: str, update: str, payload: dict[str, Any]) -> Any:
    """An update to a claim's or a complaint's workflow; a refusal as the command's error."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        return await handle.execute_update(update, payload)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise CommandError(f"refused ({cause.type}): {cause.message}") from None
        raise CommandError(f"refused: {cause}") from None
    except RPCError as err:  # no such workflow, or it has ended (a resolved complaint)
        raise CommandError(f"{workflow_id}: {err.message}") from None


async def claim_status(client: Client, claim_id: str) -> dict[str, Any]:
    status: dict[str, Any] = await client.get_workflow_handle(workflow_id_for(claim_id)).query("status")
    return status


def worklist_query(stage: str | None, assignee: str | None, overdue: bool, claim_type: str | None,
                   now: datetime) -> str:
    clauses = [f"WorkflowType = '{WORKFLOW_TYPE}'", "ExecutionStatus = 'Running'"]
    if stage:
        clauses.append(f"ClaimStage = '{stage}'")
    if assignee:
        clauses.append(f"AssignedTo = '{assignee}'")
    if claim_type:
        clauses.append(f"ClaimType = '{claim_type}'")
    if overdue:  # a breached clock restarts for the next tier, so a breach counts as overdue too
        clauses.append(f"(SlaDueAt < '{now.isoformat()}' OR SlaBreached = true)")
    return " AND ".join(clauses)


async def worklist(client: Client, args: argparse.Namespace) -> list[dict[str, Any]]:
    from reporting.reports import claims_matching

    query = worklist_query(args.stage, args.assignee, args.overdue, args.type, datetime.now(UTC))
    return await claims_matching(client, query)
