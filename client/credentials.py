"""The sender's token on an update: the one given, or, with the development issuer on, one it mints for the
person and role (or the channel) the payload names. A real identity provider configured turns minting off."""

from __future__ import annotations

from typing import Any

from client.claims import Refused
from config.settings import Settings


class MissingCredential(Refused):
    """No token was given and the development issuer is off."""


def development_token(settings: Settings, subject: str, roles: list[str],
                      ttl_seconds: float | None = None) -> str:
    """A token from the development issuer; refused when a real identity provider is configured."""
    from identity import development  # the token library only for the commands that mint

    if not settings.uses_development_issuer:
        raise MissingCredential(f"a real identity provider is configured ({settings.oidc_issuer}); "
                                "get a token from it, the development issuer is off")
    return development.mint(settings.var_dir, subject=subject, roles=roles, audience=settings.oidc_audience,
                            ttl_seconds=ttl_seconds or development.DEFAULT_TTL_SECONDS)


def with_credential(settings: Settings, update: str, payload: dict[str, Any], credential: str | None) -> dict[str, Any]:
    """The payload with the sender's token: the one given, or with the development issuer one minted for the
    person and role (or the channel) the payload names."""
    if credential is None:
        if not settings.uses_development_issuer:
            raise MissingCredential(f"{update}: a real identity provider is configured; pass --credential TOKEN")
        from identity import development

        subject, roles = development.sender_for(update, payload)
        credential = development_token(settings, subject, roles)
    return {**payload, "credential": credential}
