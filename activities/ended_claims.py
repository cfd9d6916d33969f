"""A claim whose workflow has ended still answers its queries: the contact on file, which a progress code asked
for on the ended claim goes to (workflows/ended_claim_code.py). The one activity that queries a claim, by the
query's name in the contract (`CONTACT_QUERY`), as activities sit below the workflows."""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from models.contract import CONTACT_QUERY, ErrorType, workflow_id_for
from models.messages import Recipient


class EndedClaims:
    """What an ended claim's workflow still answers: the contact on file, asked with the claim's own query."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @activity.defn(name="ended_claim_contact")
    async def ended_claim_contact(self, claim_id: str) -> Recipient:
        """The claimant's contact on file, for a claim whose workflow has ended; refused for one still running (it
        sends its own codes) and for none (nothing to send)."""
        handle = self.client.get_workflow_handle(workflow_id_for(claim_id))
        try:  # the raw call: only the status is needed, not the decoded search attributes
            described = await self.client.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(namespace=self.client.namespace,
                                                 execution=WorkflowExecution(workflow_id=handle.id)))
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            raise ApplicationError(f"request_code: claim {claim_id} does not exist", type=ErrorType.NOT_ALLOWED,
                                   non_retryable=True) from None
        if described.workflow_execution_info.status == WorkflowExecutionStatus.RUNNING.value:
            raise ApplicationError(f"request_code: claim {claim_id} is open and sends its own codes",
                                   type=ErrorType.NOT_ALLOWED, non_retryable=True)
        try:
            contact: Any = await handle.query(CONTACT_QUERY, result_type=Recipient)
        except WorkflowQueryFailedError as err:  # not a claim's workflow, or one that cannot answer: never retried
            raise ApplicationError(f"request_code: claim {claim_id} cannot say its contact: {err}",
                                   type=ErrorType.NOT_ALLOWED, non_retryable=True) from None
        if contact is None:
            raise ApplicationError(f"request_code: claim {claim_id} was never registered", type=ErrorType.NOT_ALLOWED,
                                   non_retryable=True)
        return Recipient.model_validate(contact)
