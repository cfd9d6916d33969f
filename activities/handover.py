"""A complaint that turns out to be an appeal: the claim's `appeal` update, sent for the complainant.

The update goes as a channel would send it (the complaints desk acts for the claimant, as the call centre
does), with the self-service channel's token: minted by the development issuer, or from the identity provider
by the client-credentials grant (`CLAIMS_PORTAL_*`). Its update id is the complaint's, so an attempt retried
after the claim took the appeal gets the same answer instead of a second appeal.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from config.settings import Settings
from identity import development
from identity.portal import CHANNEL_SUBJECT, portal_token
from models.contract import APPEAL_UPDATE, ErrorType, workflow_id_for
from models.messages import HandOverAppeal

log = structlog.get_logger(__name__)


class AppealHandover:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self._token: Callable[[], str] | None = None if settings.uses_development_issuer else portal_token(settings)

    def _credential(self) -> str:
        if self.settings.uses_development_issuer:
            # Issued at the server's time of this attempt, which the claim's workflow checks tokens against.
            issued = activity.info().current_attempt_scheduled_time.timestamp()
            return development.mint(self.settings.var_dir, subject=CHANNEL_SUBJECT, roles=("channel",),
                                    audience=self.settings.oidc_audience, ttl_seconds=600, issued_at=issued)
        if self._token is None:
            raise ApplicationError("no channel credential to send the appeal with: set CLAIMS_PORTAL_TOKEN_URL, "
                                   "CLAIMS_PORTAL_CLIENT_ID and CLAIMS_PORTAL_CLIENT_SECRET",
                                   type=ErrorType.NOT_AUTHENTICATED, non_retryable=True)
        return self._token()

    @activity.defn(name="hand_over_appeal")
    async def hand_over_appeal(self, req: HandOverAppeal) -> None:
        handle = self.client.get_workflow_handle(workflow_id_for(req.claim_id))
        payload = {"reason": f"{req.reason} (complaint {req.complaint_id})", "credential": self._credential()}
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
