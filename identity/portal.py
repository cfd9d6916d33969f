"""The token the API's claimant pages act with: the self-service channel's own.

Every update needs a sender's token, and a claimant proves who they are with a one-time code, not with a token
of their own; so the pages send the claimant's uploads and code requests as the self-service channel, as any
other channel (the app, the call centre) would. With a real identity provider that token comes from the
OAuth 2.0 client-credentials grant and is kept until a minute before it expires; with the development issuer
it is minted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from config.settings import Settings

CHANNEL_SUBJECT = "self-service-web"


class ClientCredentials:
    def __init__(self, token_url: str, client_id: str, client_secret: str, audience: str) -> None:
        self.token_url, self.audience = token_url, audience
        self.client_id, self.client_secret = client_id, client_secret
        self._token, self._until = "", 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if time.monotonic() < self._until:
                return self._token
            answer = httpx.post(self.token_url, data={"grant_type": "client_credentials", "audience": self.audience},
                                auth=(self.client_id, self.client_secret), timeout=10)
            answer.raise_for_status()
            body = answer.json()
            self._token = str(body["access_token"])
            self._until = time.monotonic() + max(0.0, float(body.get("expires_in", 300)) - 60)
            return self._token


def portal_token(settings: Settings) -> Callable[[], str] | None:
    """How the claimant pages get their channel token; None when neither way is configured (the pages then say
    the self-service channel is not set up)."""
    if settings.uses_development_issuer:
        from identity import development

        return lambda: development.mint(settings.var_dir, subject=CHANNEL_SUBJECT, roles=("channel",),
                                        audience=settings.oidc_audience, ttl_seconds=600)
    if settings.portal_token_url and settings.portal_client_id and settings.portal_client_secret:
        return ClientCredentials(settings.portal_token_url, settings.portal_client_id, settings.portal_client_secret,
                                 settings.oidc_audience)
    return None
