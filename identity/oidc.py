"""Staff sign-in by the OpenID Connect authorization-code flow (with PKCE), as an Authlib client.

With a real identity provider (`CLAIMS_OIDC_ISSUER`), its endpoints come from the issuer's discovery document
and the workbench is a confidential client (`CLAIMS_OIDC_CLIENT_ID`, `CLAIMS_OIDC_CLIENT_SECRET`). With the
development issuer, the API itself plays the provider's part (web/dev_idp.py: a page listing the demo staff),
so the embedded default signs in by the very same flow.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client  # warns that it prefers the httpx2 fork

from config.settings import Settings

DEV_CLIENT_ID = "claims-workbench"


@dataclass(frozen=True)
class Provider:
    client_id: str
    client_secret: str
    redirect_uri: str
    authorize_url: str | None = None
    token_url: str | None = None
    discovery_url: str | None = None


class Login:
    """One provider's authorization-code flow: where to send the browser, and the code's exchange."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self._endpoints: tuple[str, str] | None = None

    async def endpoints(self) -> tuple[str, str]:
        """The authorization and token endpoints: configured, or read once from the discovery document."""
        if self._endpoints is None:
            p = self.provider
            if p.authorize_url and p.token_url:
                self._endpoints = (p.authorize_url, p.token_url)
            else:
                assert p.discovery_url is not None
                async with httpx.AsyncClient(timeout=10) as http:
                    document = (await http.get(p.discovery_url)).raise_for_status().json()
                self._endpoints = (document["authorization_endpoint"], document["token_endpoint"])
        return self._endpoints

    def _client(self) -> AsyncOAuth2Client:
        p = self.provider
        return AsyncOAuth2Client(client_id=p.client_id, client_secret=p.client_secret, redirect_uri=p.redirect_uri,
                                 scope="openid profile", code_challenge_method="S256", timeout=10)

    async def start(self) -> tuple[str, str, str]:
        """Where to send the browser, with the state and the PKCE verifier to keep until it comes back."""
        authorize, _ = await self.endpoints()
        verifier = generate_token(48)
        async with self._client() as client:
            url, state = client.create_authorization_url(authorize, code_verifier=verifier)
        return url, state, verifier

    async def finish(self, code: str, verifier: str) -> str:
        """The access token the provider gives for the code."""
        _, token_url = await self.endpoints()
        async with self._client() as client:
            token: dict[str, Any] = await client.fetch_token(token_url, grant_type="authorization_code", code=code,
                                                             code_verifier=verifier)
        return str(token["access_token"])


def dev_client_secret(code_secret: bytes) -> str:
    return hmac.new(code_secret, b"dev-idp-client", hashlib.sha256).hexdigest()


def login_for(settings: Settings, code_secret: bytes) -> Login | None:
    """The workbench's sign-in flow, or None when a real issuer is configured without a client for it."""
    public = settings.progress_base_url
    callback = settings.oidc_redirect_url or f"{public}/sign-in/callback"
    if settings.uses_development_issuer:
        own = f"http://{settings.api_host}:{settings.api_port}"
        return Login(Provider(client_id=DEV_CLIENT_ID, client_secret=dev_client_secret(code_secret),
                              redirect_uri=callback, authorize_url=f"{public}/dev-idp/authorize",
                              token_url=f"{own}/dev-idp/token"))
    if not (settings.oidc_client_id and settings.oidc_client_secret and settings.oidc_issuer):
        return None
    return Login(Provider(client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
                          redirect_uri=callback,
                          discovery_url=f"{settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration"))
