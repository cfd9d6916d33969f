"""Asking the API for an action proof (RFC 8693 token exchange at its `/token`): how a process that holds a bearer
token but no signing key (the command line, a worker handing a complaint over as an appeal) gets the
`credential` for one update it sends to Temporal itself."""

from __future__ import annotations

import json
from typing import Any

import httpx

from config.settings import Settings

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


class ExchangeRefused(Exception):
    """The API could not be reached, or refused the token or the action; the message says which."""


def token_url(settings: Settings) -> str:
    return (settings.api_url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/") + "/token"


def proof_for(settings: Settings, token: str, workflow_id: str, update: str, payload: dict[str, Any]) -> str:
    """A proof for sending `payload` as `update` to `workflow_id`, signed by the API for the holder of `token`."""
    url = token_url(settings)
    details = [{"type": "claim_update", "workflow_id": workflow_id, "update": update,
                "payload": {k: v for k, v in payload.items() if k != "credential"}}]
    try:
        answer = httpx.post(url, data={"grant_type": GRANT_TYPE, "subject_token": token,
                                       "subject_token_type": ACCESS_TOKEN_TYPE,
                                       "authorization_details": json.dumps(details, ensure_ascii=False)}, timeout=30)
    except httpx.HTTPError as err:
        raise ExchangeRefused(f"{update}: the API at {url} could not be reached to exchange the token ({err}); "
                              "set CLAIMS_API_URL") from None
    if answer.status_code != 200:
        try:
            reason = answer.json().get("detail") or answer.text
        except ValueError:
            reason = answer.text
        raise ExchangeRefused(f"{update}: the API refused the token ({answer.status_code}): {reason}")
    return str(answer.json()["access_token"])
