"""A complaint that turns out to be an appeal: the claim's `appeal` update, sent for the complainant.

The update goes as a channel would send it (the complaints desk acts for the claimant, as the call centre
does), with an action proof for the self-service channel: signed here with the development issuer on, or
otherwise the channel's token (the client-credentials grant, `CLAIMS_PORTAL_*`) exchanged at the API's `/token`
(CLAIMS_API_URL). Its update id is the complaint's, so an attempt retried
after the claim took the appeal gets the same answer instead of a second appeal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from config.settings import Settings
from identity import development
from identity.exchange import ExchangeRefused, proof_for
from identity.keys import signer_for
from identity.portal import CHANNEL_SUBJECT, portal_token
from models.contract import APPEAL_UPDATE, ErrorType, workflow_id_for
from models.messages import HandOverAppeal

log = structlog.get_logger(__name__)


class AppealHandover:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self._token: Callable[[], str] | None = None if settings.uses_development_issuer else portal_token(settings)

    def _proved(self, workflow_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The appeal with its action proof: with the development issuer signed here for the self-service channel;
        otherwise the channel's token exchanged at the API."""
        if self.settings.uses_development_issuer:
            # Issued at the server's time of this attempt, which the claim's workflow checks proofs against.
            issued = activity.info().current_attempt_scheduled_time.timestamp()
            sender = development.vouched(CHANNEL_SUBJECT, ["channel"])
            return signer_for(self.settings).credential(sender, workflow_id, APPEAL_UPDATE, payload, issued_at=issued)
        if self._token is None:
            raise ApplicationError("no channel credential to send the appeal with: set CLAIMS_PORTAL_TOKEN_URL, "
                                   "CLAIMS_PORTAL_CLIENT_ID and CLAIMS_PORTAL_CLIENT_SECRET",
                                   type=ErrorType.NOT_AUTHENTICATED, non_retryable=True)
        try:
            proof = proof_for(self.settings, self._token(), workflow_id, APPEAL_UPDATE, payload)
        except ExchangeRefused as err:
            raise ApplicationError(str(err), type=ErrorType.NOT_AUTHENTICATED) from None  # retried: the API may be back
        return {**payload, "credential": proof}

    @activity.defn(name="hand_over_appeal")
    async def hand_over_appeal(self, req: HandOverAppeal) -> None:
        handle = self.client.get_workflow_handle(workflow_id_for(req.claim_id))
        payload = self._proved(handle.id, {"reason": f"{req.reason} (complaint {req.complaint_id})"})
        try:
            await handle.execute_update(APPEAL_UPDATE, payload, id=f"appeal-from-complaint-{req.complaint_id}")
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError):
                raise ApplicationError(f"claim {req.claim_id} refused the appeal: {cause.message}",
                                       type=cause.type or ErrorType.INVALID_UPDATE, non_retryable=True) from None
            raise
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise ApplicationError(f"claim {req.claim_id}: no such claim", type=ErrorType.INVALID_UPDATE,
                                       non_retryable=True) from None
            raise
        log.info("complaint handed over as an appeal", claim_id=req.claim_id, complaint_id=req.complaint_id)
