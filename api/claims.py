"""Talking to a claim's workflow for the API and the workbench: its status, and updates sent with the caller's
own token, the workflow's answers turned into problem documents."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Caller
from api.problems import not_found, refused
from models import contract as c


async def claim_status_of(client: Client, claim_id: str) -> c.ClaimStatus:
    """The claim's `status` query, or 404 when there is no registered claim of that id."""
    handle = client.get_workflow_handle(c.workflow_id_for(claim_id))
    try:
        raw = await handle.query("status")
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise not_found(f"claim {claim_id} does not exist") from None
        raise
    try:
        return c.ClaimStatus.model_validate(raw)
    except ValidationError:  # the claim failed before it was registered (an unknown policy, say)
        raise not_found(f"claim {claim_id} was not registered") from None


async def send_update(client: Client, claim_id: str, name: str, payload: dict[str, Any], caller: Caller) -> Any:
    """An update with the caller's token as its `credential`; the workflow's refusal as a problem document."""
    handle = client.get_workflow_handle(c.workflow_id_for(claim_id))
    try:
        return await handle.execute_update(name, {**payload, "credential": caller.token})
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise refused(cause.type, cause.message) from None
        raise refused(None, f"{name}: {cause}") from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            if "completed" in err.message.lower():
                raise refused(c.ErrorType.NOT_ALLOWED, f"{name}: claim {claim_id} has ended") from None
            raise not_found(f"claim {claim_id} does not exist") from None
        raise
