"""A progress code for a claim whose workflow has ended: the claimant may open the claim's page (its decision, its
payments, its letters) for as long as its history is kept, well after the claim stopped taking updates.

One run per request, under the workflow id `claim-<id>-progress-code`, so two requests for one claim never run at
once. The code goes to the contact on file, which the ended claim's own query gives (never an address in the
request), with the same budget as while the claim ran: one a minute, five a day. The request names who asked (the
channel the API verified); it carries no action proof to check here, as the workflow moves no money and changes no
claim, and a proof checked in a workflow's own code would be checked again, against other keys, on every replay.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.codes import CodeActivities
    from activities.ended_claims import EndedClaims
    from models.contract import CodePurpose
    from models.messages import CodeIssued, EndedClaimCode, IssueCode, PlanCode
    from workflows.shell import STEADY_RETRY

TIMEOUT = timedelta(seconds=30)


def ended_code_workflow_id(claim_id: str) -> str:
    return f"claim-{claim_id}-progress-code"


@workflow.defn(name="EndedClaimCode")
class EndedClaimCodeWorkflow:
    @workflow.run
    async def run(self, req: EndedClaimCode) -> CodeIssued:
        workflow.logger.info("progress code asked for an ended claim", extra={"requested_by": req.requested_by})
        recipient = await workflow.execute_activity_method(
            EndedClaims.ended_claim_contact, req.claim_id, start_to_close_timeout=TIMEOUT, retry_policy=STEADY_RETRY)
        sequence = await workflow.execute_activity_method(
            CodeActivities.plan_progress_code, PlanCode(claim_id=req.claim_id, at=workflow.now()),
            start_to_close_timeout=TIMEOUT, retry_policy=STEADY_RETRY)
        return await workflow.execute_activity_method(CodeActivities.issue_code, IssueCode(
            claim_id=req.claim_id, purpose=CodePurpose.PROGRESS, sequence=sequence, recipient=recipient,
            at=workflow.now()), start_to_close_timeout=TIMEOUT, retry_policy=STEADY_RETRY)
