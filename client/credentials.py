"""The `credential` an update carries when the command line, the demo or a worker sends it to Temporal itself:
an action proof for that update of that workflow with that payload (identity/actions.py).

- A person holding a token (`--credential TOKEN`): the token is exchanged at the API's `/token`
  (CLAIMS_API_URL, by default the API of this installation), which signs the proof after checking the token.
- No token, with the development issuer on: the proof is signed here with this installation's action key for the
  person and role (or the channel) the payload names, as the development issuer would have vouched for them.
"""

from __future__ import annotations

from typing import Any

from client.claims import Refused
from config.settings import Settings
from models.contract import Sender


class MissingCredential(Refused):
    """No token was given and the development issuer is off, or the API refused the exchange."""


def development_token(settings: Settings, subject: str, roles: list[str],
                      ttl_seconds: float | None = None) -> str:
    """A token from the development issuer; refused when a real identity provider is configured."""
    from identity import development  # the token library only for the commands that mint

    if not settings.uses_development_issuer:
        raise MissingCredential(f"a real identity provider is configured ({settings.oidc_issuer}); "
                                "get a token from it, the development issuer is off")
    return development.mint(settings.var_dir, subject=subject, roles=roles, audience=settings.oidc_audience,
                            ttl_seconds=ttl_seconds or development.DEFAULT_TTL_SECONDS)


def signed_here(settings: Settings, sender: Sender, workflow_id: str, update: str, payload: dict[str, Any],
                issued_at: float | None = None) -> dict[str, Any]:
    """The payload with a proof signed with this installation's action key, for a sender the caller vouches for."""
    from identity.keys import signer_for

    return signer_for(settings).credential(sender, workflow_id, update, payload, issued_at=issued_at)


def development_sender(update: str, payload: dict[str, Any]) -> Sender:
    """Who the development issuer would vouch for as sending this payload (identity.development.sender_for)."""
    from identity import development

    subject, roles = development.sender_for(update, payload)
    return development.vouched(subject, roles)


def development_channel(subject: str) -> Sender:
    """A channel (the call centre, the app) as the development issuer would vouch for it."""
    from identity import development

    return development.vouched(subject, ["channel"])


def exchanged(settings: Settings, token: str, workflow_id: str, update: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with a proof the API signed for the holder of `token` (RFC 8693 at its `/token`)."""
    from identity.exchange import ExchangeRefused, proof_for

    try:
        return {**payload, "credential": proof_for(settings, token, workflow_id, update, payload)}
    except ExchangeRefused as err:
        raise MissingCredential(str(err)) from None


def with_credential(settings: Settings, workflow_id: str, update: str, payload: dict[str, Any],
                    token: str | None) -> dict[str, Any]:
    """The payload with its action proof: the token given exchanged at the API, or with the development issuer a
    proof signed here for the person and role (or the channel) the payload names."""
    if token is not None:
        return exchanged(settings, token, workflow_id, update, payload)
    if not settings.uses_development_issuer:
        raise MissingCredential(f"{update}: a real identity provider is configured; pass --credential TOKEN")
    return signed_here(settings, development_sender(update, payload), workflow_id, update, payload)
