"""The keys a worker verifies credentials with, and how workflow code reaches them.

`build_worker` installs a `Verifier` for its task queue before the worker starts; update validators look it
up by `workflow.info().task_queue`. This is replay-safe: Temporal runs an update's validator only when the
update is first delivered, never on replay, so checking against the worker's current keys (which rotate)
cannot change a history that is replayed. Update handlers, which do replay, only read the token already in
the payload (`tokens.sender_of`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog
from jwt import PyJWK, PyJWKClient, PyJWKClientConnectionError, PyJWKClientError, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

from config.settings import Settings
from identity import development
from identity.tokens import MAX_LIFETIME_SECONDS, KeySource, verify
from models.contract import Sender

log = structlog.get_logger(__name__)


class LocalKeys:
    """A JWKS file (the development issuer's). An unknown key id reads the file again, at most once a second,
    so a key made after the worker started is found."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: dict[str, PyJWK] = {}
        self._read_at = 0.0
        self._load()

    def _load(self) -> None:
        self._read_at = time.monotonic()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._keys = {k.key_id: k for k in PyJWKSet.from_dict(data).keys if k.key_id}
        except (OSError, ValueError, PyJWKError, PyJWKSetError) as err:
            log.warning("verifying keys unreadable", path=str(self.path), error=str(err))

    def key(self, kid: str) -> PyJWK | None:
        if kid not in self._keys and time.monotonic() - self._read_at >= 1.0:
            self._load()
        return self._keys.get(kid)


class RemoteKeys:
    """A real issuer's JWKS endpoint. Keys are cached; an unknown key id fetches the set again (at most once
    per `cooldown` seconds, within `timeout`), so a rotated key is trusted as soon as the issuer publishes
    it. While the endpoint cannot be reached, the keys last fetched keep working."""

    def __init__(self, url: str, *, timeout: float = 1.5, cooldown: float = 30, lifespan: float = 600) -> None:
        self.url = url
        self._client = PyJWKClient(url, cache_jwk_set=True, lifespan=lifespan, timeout=timeout,
                                   cooldown_duration=cooldown)
        self._known: dict[str, PyJWK] = {}

    def prefetch(self) -> None:
        try:
            self._known.update({k.key_id: k for k in self._client.get_signing_keys(refresh=True) if k.key_id})
        except PyJWKClientError as err:
            log.warning("issuer keys not fetched yet", jwks_url=self.url, error=str(err))

    def key(self, kid: str) -> PyJWK | None:
        try:
            found = self._client.get_signing_key(kid)
        except PyJWKClientConnectionError as err:
            log.warning("issuer keys unreachable; using the keys last fetched", jwks_url=self.url, error=str(err))
            return self._known.get(kid)
        except (PyJWKClientError, PyJWKError, PyJWKSetError):
            return None
        self._known[kid] = found
        return found


@dataclass(frozen=True)
class Verifier:
    """Everything a validator needs to check a credential: the keys, and whom the token must come from and be for."""

    keys: KeySource
    issuer: str
    audience: str
    max_lifetime: float = MAX_LIFETIME_SECONDS

    def verify(self, token: str | None, now: datetime) -> Sender:
        return verify(token, self.keys, issuer=self.issuer, audience=self.audience, now=now,
                      max_lifetime=self.max_lifetime)


def verifier_for(settings: Settings) -> Verifier:
    """The configured issuer's keys, or the development issuer's (made under var/ on first use)."""
    if settings.oidc_issuer:
        if not settings.oidc_jwks_url:
            raise ValueError("CLAIMS_OIDC_JWKS_URL is required when CLAIMS_OIDC_ISSUER is set")
        remote = RemoteKeys(settings.oidc_jwks_url)
        remote.prefetch()
        return Verifier(remote, settings.oidc_issuer, settings.oidc_audience, settings.token_max_hours * 3600)
    development.signing_key(settings.var_dir)
    return Verifier(LocalKeys(development.jwks_path(settings.var_dir)), development.ISSUER, settings.oidc_audience,
                    settings.token_max_hours * 3600)


_INSTALLED: dict[str, Verifier] = {}


def install(task_queue: str, verifier: Verifier) -> None:
    """Make the verifier the one validators of workflows on this task queue use (before the worker starts)."""
    _INSTALLED[task_queue] = verifier


def installed(task_queue: str) -> Verifier | None:
    return _INSTALLED.get(task_queue)
