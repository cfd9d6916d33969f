"""`POST /token`: a person's (or a channel's) bearer token exchanged for an action proof, and the proof keys.

OAuth 2.0 Token Exchange (RFC 8693): the form names the grant, the caller's access token as `subject_token`, and
in `authorization_details` (RFC 9396, a JSON array of one entry) the action: `{"type": "claim_update",
"workflow_id", "update", "payload"}` (or `payload_sha256` instead of the payload). The answer's `access_token` is
the proof to send as the update's `credential` with exactly that payload (identity/actions.py); it is good for
that update of that workflow, once, for five minutes. The API's own routes do this for their callers; this
endpoint is for the `temporal` CLI and the command line, which send updates to Temporal themselves.

`GET /.well-known/action-jwks.json` is the public key set workers verify proofs with (CLAIMS_ACTION_JWKS_URL).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request

from client.claims import CLAIM_UPDATES
from client.complaints import COMPLAINT_UPDATES
from core.rules import access
from core.rules.access import FILE_COMPLAINT
from edge.problems import PROBLEM_RESPONSES, ProblemError, forbidden, unauthenticated
from edge.services import services_of
from identity.actions import DETAIL_TYPE, PROOF_TTL_SECONDS, Action, payload_digest
from identity.exchange import ACCESS_TOKEN_TYPE, GRANT_TYPE
from identity.tokens import NotAuthenticated

router = APIRouter(tags=["identity"], responses={
    **PROBLEM_RESPONSES, 400: {**PROBLEM_RESPONSES[422], "description": "Not a token exchange this API does: the "
                                                                        "OAuth `error` says why"}})

JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"

_WORKFLOW_ID = re.compile(r"^(claim|complaint)-[A-Za-z0-9][A-Za-z0-9_.:-]{0,95}$")


def _invalid(error: str, detail: str, status: int = 400) -> ProblemError:
    """A problem document that also carries the OAuth error code (RFC 6749 section 5.2) token clients read."""
    problem = ProblemError(status, "token-exchange", "Token exchange refused", detail)
    problem.problem.error = error
    return problem


def _action(details: str) -> tuple[str, str, dict[str, Any] | None, str]:
    try:
        parsed = json.loads(details)
    except ValueError:
        raise _invalid("invalid_authorization_details", "authorization_details: not JSON") from None
    if not isinstance(parsed, list) or len(parsed) != 1 or not isinstance(parsed[0], dict) \
            or parsed[0].get("type") != DETAIL_TYPE:
        raise _invalid("invalid_authorization_details",
                       f"authorization_details: a JSON array of exactly one {DETAIL_TYPE!r} entry")
    entry = parsed[0]
    workflow_id, update = entry.get("workflow_id"), entry.get("update")
    if not isinstance(workflow_id, str) or not _WORKFLOW_ID.match(workflow_id):
        raise _invalid("invalid_authorization_details",
                       "authorization_details.workflow_id: a claim's (claim-<id>) or complaint's (complaint-<id>)")
    known = set(CLAIM_UPDATES) if workflow_id.startswith("claim-") else {*COMPLAINT_UPDATES, FILE_COMPLAINT}
    if update not in known:
        raise _invalid("invalid_authorization_details",
                       f"authorization_details.update: not an update of this workflow (one of {sorted(known)})")
    payload = entry.get("payload")
    if payload is not None:
        if not isinstance(payload, dict):
            raise _invalid("invalid_authorization_details", "authorization_details.payload: a JSON object")
        return workflow_id, update, payload, payload_digest(payload)
    digest = entry.get("payload_sha256")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise _invalid("invalid_authorization_details",
                       "authorization_details: give the update's `payload`, or its `payload_sha256` (hex)")
    return workflow_id, update, None, digest


@router.post("/token", summary="Exchange a bearer token for an action proof (RFC 8693)")
async def exchange(request: Request, grant_type: Annotated[str, Form()], subject_token: Annotated[str, Form()],
                   subject_token_type: Annotated[str, Form()],
                   authorization_details: Annotated[str, Form()]) -> dict[str, Any]:
    """The caller's token (`subject_token`) exchanged for a proof good for one update of one claim or complaint,
    with one payload, once, for five minutes: send it as that update's `credential`. Refused, as the workflow
    would refuse the update, when the token proves nobody or its holder may not send this update."""
    svc = services_of(request)
    if grant_type != GRANT_TYPE:
        raise _invalid("unsupported_grant_type", f"grant_type: only {GRANT_TYPE}")
    if subject_token_type not in (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE):
        raise _invalid("invalid_request", f"subject_token_type: {ACCESS_TOKEN_TYPE} or {JWT_TOKEN_TYPE}")
    workflow_id, update, payload, digest = _action(authorization_details)
    try:
        sender = svc.verifier.verify(subject_token, datetime.now(UTC))
    except NotAuthenticated as err:
        raise unauthenticated(str(err)) from None
    fields = payload or {}
    actor = next((fields[k] for k in ("approver_id", "investigator_id", "by") if isinstance(fields.get(k), str)),
                 None)
    role = fields.get("role") if isinstance(fields.get("role"), str) else None
    problem = access.refusal(update, sender, actor, role)
    if problem:
        raise forbidden(f"{update}: {problem}")
    action = Action(workflow_id, update, digest)
    return {"access_token": svc.signer.prove(sender, action), "issued_token_type": JWT_TOKEN_TYPE,
            "token_type": "N_A", "expires_in": PROOF_TTL_SECONDS, "authorization_details": [action.detail()]}


@router.get("/.well-known/action-jwks.json", summary="The keys action proofs are signed with")
async def action_keys(request: Request) -> dict[str, Any]:
    """The public key set the workers verify action proofs with (set CLAIMS_ACTION_JWKS_URL to this address)."""
    return services_of(request).signer.public_keys()

