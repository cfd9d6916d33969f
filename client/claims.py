"""Claims through Temporal: start one, send it an update, ask where it stands, list the open ones."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from pydantic import ValidationError
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from client.refusals import DuplicateClaim as DuplicateClaim
from client.refusals import Ended as Ended
from client.refusals import NoSuchWorkflow as NoSuchWorkflow
from client.refusals import NotRegistered as NotRegistered
from client.refusals import Refused as Refused
from client.refusals import RunFailed as RunFailed
from client.refusals import UpdateRefused as UpdateRefused
from client.refusals import missing_workflow as missing_workflow
from client.status import ANSWER_WITHIN
from client.status import claim_status as claim_status
from models import search_attributes as sa
from models.contract import (
    CLAIM_TASK_TIMEOUT,
    WORKFLOW_TYPE,
    ClaimInput,
    ClaimResult,
    ErrorType,
    workflow_id_for,
)
from models.messages import EndedClaimCode
from workflows.claim import ClaimWorkflow
from workflows.ended_claim_code import EndedClaimCodeWorkflow, ended_code_workflow_id

R = TypeVar("R")
UpdateMethod = UpdateMethodMultiParam[[Any, Any], Awaitable[R]]
"""A workflow's update handler, as the client names it: `ClaimWorkflow.approve`. Each takes one payload, checked by
the handler's validator, and answers with the contract's model."""


async def execute_update(handle: WorkflowHandle[Any, Any], update: UpdateMethod[R], payload: Any) -> R:
    """Send the update the handler names; its answer decoded into the handler's return type. A claim that does not
    answer within `ANSWER_WITHIN` (its workers busy or gone) raises `WorkflowUpdateRPCTimeoutOrCancelledError`: the
    update may still be taken."""
    sent: UpdateMethodMultiParam[[Any, Any], R] = cast(UpdateMethodMultiParam[[Any, Any], R], update)
    return await handle.execute_update(sent, payload, rpc_timeout=ANSWER_WITHIN)


def update_name(update: UpdateMethod[Any]) -> str:
    """The name the workflow registered the update's handler under (`@workflow.update(name=...)`)."""
    name = update._defn.name
    if not name:
        raise ValueError("a dynamic update handler has no name of its own")
    return name


CLAIM_UPDATES: dict[str, UpdateMethod[Any]] = {
    update_name(method): method for method in (
        ClaimWorkflow.submit_documents, ClaimWorkflow.withdraw, ClaimWorkflow.appeal, ClaimWorkflow.request_code,
        ClaimWorkflow.update_bank_account, ClaimWorkflow.release_bank_account, ClaimWorkflow.record_investigation,
        ClaimWorkflow.approve, ClaimWorkflow.reject, ClaimWorkflow.approve_advance, ClaimWorkflow.escalate,
        ClaimWorkflow.assign, ClaimWorkflow.reopen, ClaimWorkflow.record_recovery, ClaimWorkflow.write_off_recovery,
        ClaimWorkflow.open_recovery, ClaimWorkflow.set_reserve,
        ClaimWorkflow.survey_response, ClaimWorkflow.record_callback, ClaimWorkflow.correct_document_field)}
"""The claim's updates by their names in the contract (docs/contract.md), for the command line and the demo,
which take the name from the user or a script."""


class InvalidClaim(Refused):
    """A report the contract's model refuses, with every field that is wrong, in one line."""


def parse_claim(claim: Any) -> ClaimInput:
    """A report checked against the contract, at the edge that received it (a file, a script): the one check
    before it starts; the HTTP API's model does the same for a request's body."""
    if not isinstance(claim, dict):
        raise InvalidClaim(f"invalid claim: expected a JSON object, got {type(claim).__name__}")
    try:
        return ClaimInput.model_validate(claim)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise InvalidClaim(f"invalid claim: {problems}") from None


async def start_claim(client: Client, claim: ClaimInput, task_queue: str) -> str:
    """Start a claim's workflow once; a second start for the same claim id is refused. A report that
    failed (an unknown policy, say) recorded nothing, so the corrected report may use its claim id again.
    The claim arrives checked: the edge that received it parsed it into the contract's model."""
    workflow_id = workflow_id_for(claim.claim_id)
    duplicate = DuplicateClaim(f"claim {claim.claim_id} already exists ({workflow_id}); not started again")
    try:  # a new claim id (the usual case): one call
        await _start(client, claim, workflow_id, task_queue, WorkflowIDReusePolicy.REJECT_DUPLICATE)
        return workflow_id
    except WorkflowAlreadyStartedError:
        pass
    if await _registered(client, workflow_id):  # the id was used: only a run that registered nothing frees it
        raise duplicate
    try:
        await _start(client, claim, workflow_id, task_queue, WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY)
    except WorkflowAlreadyStartedError:
        raise duplicate from None
    return workflow_id


async def _start(client: Client, claim: ClaimInput, workflow_id: str, task_queue: str,
                 reuse: WorkflowIDReusePolicy) -> None:
    await client.start_workflow(ClaimWorkflow.run, claim, id=workflow_id, task_queue=task_queue,
                                task_timeout=CLAIM_TASK_TIMEOUT, id_reuse_policy=reuse,
                                id_conflict_policy=WorkflowIDConflictPolicy.FAIL)


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


async def send_update(client: Client, claim_id: str, update: UpdateMethod[R], payload: dict[str, Any]) -> R:
    return await send_to(client, workflow_id_for(claim_id), update, payload)


async def send_to(client: Client, workflow_id: str, update: UpdateMethod[R], payload: dict[str, Any]) -> R:
    """An update to a claim's or a complaint's workflow. The workflow's refusal is `UpdateRefused` with its type;
    no such workflow is `NoSuchWorkflow`, one that has ended `Ended`."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        return await execute_update(handle, update, payload)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise UpdateRefused(cause.type, cause.message) from None
        raise UpdateRefused(None, f"{update_name(update)}: {cause}") from None
    except RPCError as err:
        raise missing_workflow(workflow_id, err) from None


def unanswered(err: RPCError) -> bool:
    """A query that timed out before a worker answered it (a busy worker; on the time-skipping test server, a run
    that has just continued as new): asking again is right, the claim is there."""
    return err.status == RPCStatusCode.DEADLINE_EXCEEDED or (
        err.status == RPCStatusCode.CANCELLED and "timeout" in err.message.lower())


async def still_running(client: Client, workflow_id: str) -> bool:
    """Whether the workflow's latest run is still running."""
    described = await client.get_workflow_handle(workflow_id).describe()
    return described.status == WorkflowExecutionStatus.RUNNING


async def claim_result(client: Client, claim_id: str) -> ClaimResult:
    """The claim's result once its workflow ends (following any continue-as-new); a failed run as `RunFailed`."""
    handle = client.get_workflow_handle_for(ClaimWorkflow.run, workflow_id_for(claim_id))
    return await result_of(handle)


async def result_of(handle: WorkflowHandle[Any, R]) -> R:
    try:
        return await handle.result()
    except WorkflowFailureError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise RunFailed(cause.type or "ApplicationError", cause.message) from None
        raise RunFailed(type(cause).__name__, str(cause)) from None


def worklist_query(stage: str | None, assignee: str | None, overdue: bool, claim_type: str | None,
                   now: datetime) -> str:
    """The visibility query for open claims, narrowed by stage, assignee, type or being overdue."""
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


async def claims_matching(client: Client, query: str) -> list[dict[str, Any]]:
    """Open claims a visibility query finds, as worklist rows: a declared catastrophe's first (its green channel
    goes ahead of the everyday queue), then nearest deadline first."""
    rows: list[dict[str, Any]] = []
    async for wf in client.list_workflows(query):
        attrs = wf.typed_search_attributes
        rows.append({"workflow_id": wf.id, "stage": attrs.get(sa.CLAIM_STAGE), "type": attrs.get(sa.CLAIM_TYPE),
                     "risk": attrs.get(sa.RISK_LEVEL), "assigned_to": attrs.get(sa.ASSIGNED_TO),
                     "amount": attrs.get(sa.CLAIM_AMOUNT), "sla_due_at": attrs.get(sa.SLA_DUE_AT),
                     "breached": attrs.get(sa.SLA_BREACHED), "catastrophe": attrs.get(sa.CATASTROPHE)})
    return worklist_order(rows)


def worklist_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A declared catastrophe's claims first (its green channel goes ahead of the everyday queue), then the nearest
    deadline first, claims with none last."""
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(rows, key=lambda r: (r.get("catastrophe") is None, r["sla_due_at"] or far))


async def ended_claim_code(client: Client, task_queue: str, request: EndedClaimCode) -> None:
    """Start the ended claim's progress-code workflow for this request, one at a time per claim, without waiting
    for it: the page answers at once, the same whether a code goes out or not (the workflow's result says which).
    `Refused` when another request for the claim is under way."""
    try:
        await client.start_workflow(
            EndedClaimCodeWorkflow.run, request, id=ended_code_workflow_id(request.claim_id), task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL, id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            execution_timeout=timedelta(minutes=2))
    except WorkflowAlreadyStartedError:
        raise Refused(f"a progress code for claim {request.claim_id} is being sent already") from None


async def code_destination(client: Client, claim_id: str) -> str | None:
    """Where the claim's codes go, masked (****5678); None when there is no such claim, or it cannot say."""
    try:
        return await client.get_workflow_handle(workflow_id_for(claim_id)).query(ClaimWorkflow.code_destination)
    except (RPCError, WorkflowQueryFailedError):
        return None


async def start_once(client: Client, run: Any, start: dict[str, Any], workflow_id: str, task_queue: str,
                     duplicate: Refused) -> str:
    """Start a workflow whose id may be used once (a complaint, a catastrophe): `duplicate` is raised when it was."""
    try:
        await client.start_workflow(run, start, id=workflow_id, task_queue=task_queue,
                                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL)
    except WorkflowAlreadyStartedError:
        raise duplicate from None
    return workflow_id
