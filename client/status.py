"""A claim's `status` query, for callers that start light: the command line's `status` (held to 0.3 s with its
start-up, `make bench`) and every other caller through client/claims.py. It names the query by the contract's name
and decodes the contract's model, importing none of the workflows' code."""

from __future__ import annotations

from datetime import timedelta

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import RPCError

from client.refusals import NotRegistered, missing_workflow
from models.contract import STATUS_QUERY, ClaimStatus, workflow_id_for

ANSWER_WITHIN = timedelta(seconds=60)
"""How long a caller waits for a claim to answer a query or an update before giving up (a 503 at the API): longer
than any workflow task of a working claim takes, so only a claim whose workers are overwhelmed or gone hits it."""


async def claim_status(client: Client, claim_id: str) -> ClaimStatus:
    """The claim's `status` query, decoded into the contract's model; `NoSuchWorkflow` when there is no registered
    claim of that id (a report refused at intake never registered one)."""
    workflow_id = workflow_id_for(claim_id)
    try:
        status: ClaimStatus = await client.get_workflow_handle(workflow_id).query(
            STATUS_QUERY, result_type=ClaimStatus, rpc_timeout=ANSWER_WITHIN)
        return status
    except RPCError as err:
        raise missing_workflow(workflow_id, err) from None
    except ValidationError:
        raise NotRegistered(f"claim {claim_id} was not registered") from None
