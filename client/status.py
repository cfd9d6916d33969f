"""A claim's `status` query, for callers that start light: the command line's `status` (held to 0.3 s with its
start-up, `make bench`) and every other caller through client/claims.py. It names the query by the contract's name
and decodes the contract's model, importing none of the workflows' code."""

from __future__ import annotations

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import RPCError

from client.refusals import NotRegistered, missing_workflow
from models.contract import STATUS_QUERY, ClaimStatus, workflow_id_for


async def claim_status(client: Client, claim_id: str) -> ClaimStatus:
    """The claim's `status` query, decoded into the contract's model; `NoSuchWorkflow` when there is no registered
    claim of that id (a report refused at intake never registered one)."""
    workflow_id = workflow_id_for(claim_id)
    try:
        status: ClaimStatus = await client.get_workflow_handle(workflow_id).query(STATUS_QUERY, result_type=ClaimStatus)
        return status
    except RPCError as err:
        raise missing_workflow(workflow_id, err) from None
    except ValidationError:
        raise NotRegistered(f"claim {claim_id} was not registered") from None
