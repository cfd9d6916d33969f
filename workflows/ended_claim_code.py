"""A progress code for a claim whose workflow has ended: the claimant may open the claim's page (its decision, its
payments, its letters) for as long as its history is kept, well after the claim stopped taking updates.

One run per request, under the workflow id `progress-code:<claim id>` (no claim's workflow id has that shape), so
two requests for one claim never run at once. The code goes to the contact on file, which the ended claim's own
query gives (never an address in the request), with the same budget as while the claim ran: one a minute, five a
day; a request beyond it ends with the reason, not as a failure. The request names who asked (the
channel the API verified); it carries no action proof to check here, as the workflow moves no money and changes no
claim, and a proof checked in a workflow's own code would be checked again, against other keys, on every replay.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.codes import CodeActivities
    from activities.ended_claims import EndedClaims
    from models.contract import CodePurpose
    from models.messages import EndedClaimCode, EndedCodeResult, IssueCode, PlanCode
    from workflows.shell import STEADY_RETRY, business_error

TIMEOUT = timedelta(seconds=30)


def ended_code_workflow_id(claim_id: str) -> str:
    return f"progress-code:{claim_id}"


@workflow.defn(name="EndedClaimCode")
class EndedClaimCodeWorkflow:
    @workflow.run
    async def run(self, req: EndedClaimCode) -> EndedCodeResult:
        workflow.logger.info("progress code asked for an ended claim", extra={"requested_by": req.requested_by})
        planned = await workflow.execute_activity_method(
            CodeActivities.plan_progress_code, PlanCode(claim_id=req.claim_id, at=workflow.now()),
            start_to_close_timeout=TIMEOUT, retry_policy=STEADY_RETRY)
        if planned.refused is not None:  # too soon or too many: an answer, not a failure to alert on
            return EndedCodeResult(refused=planned.refused)
        try:
            recipient = await workflow.execute_activity_method(
                EndedClaims.ended_claim_contact, req.claim_id, start_to_close_timeout=TIMEOUT,
                retry_policy=STEADY_RETRY)
        except ActivityError as err:
            if business_error(err) is None:
                raise
            return EndedCodeResult(refused=str(err.cause))
        issued = await workflow.execute_activity_method(CodeActivities.issue_code, IssueCode(
            claim_id=req.claim_id, purpose=CodePurpose.PROGRESS, sequence=planned.sequence, recipient=recipient,
            at=workflow.now()), start_to_close_timeout=TIMEOUT, retry_policy=STEADY_RETRY)
        return EndedCodeResult(issued=issued)
