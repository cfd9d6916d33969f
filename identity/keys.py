"""The keys credentials are verified with, and how workflow code reaches them.

The API verifies callers' bearer tokens with the identity provider's keys (`Verifier`) and signs action proofs
(`signer_for`); workers verify those proofs (`ActionVerifier`). `build_worker` installs the worker's
`ActionVerifier` for its task queue before the worker starts; update validators look it up by
`workflow.info().task_queue`. This is replay-safe: Temporal runs an update's validator only when the update is
first delivered, never on replay, so checking against the worker's current keys (which rotate) cannot change a
history that is replayed. Update handlers, which do replay, only read the proof already in the payload.
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

from config.embedded import UnsafeIdentity, no_identity_problem
from config.settings import Settings
from identity import actions, development, key_pairs
from identity import installed as installed_verifiers
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
    """The configured issuer's keys, or the development issuer's when it is enabled (made under var/ on first
    use); neither is refused."""
    if settings.oidc_issuer:
        if not settings.oidc_jwks_url:
            raise ValueError("CLAIMS_OIDC_JWKS_URL is required when CLAIMS_OIDC_ISSUER is set")
        remote = RemoteKeys(settings.oidc_jwks_url)
        remote.prefetch()
        return Verifier(remote, settings.oidc_issuer, settings.oidc_audience, settings.token_max_hours * 3600)
    problem = no_identity_problem(settings)
    if problem:
        raise UnsafeIdentity(problem)
    development.signing_key(settings.var_dir)
    return Verifier(LocalKeys(development.jwks_path(settings.var_dir)), development.ISSUER, settings.oidc_audience,
                    settings.token_max_hours * 3600)


@dataclass(frozen=True)
class ActionVerifier:
    """What a workflow checks an update's `credential` with: the public keys of the API's action proofs."""

    keys: KeySource
    issuer: str

    def verify(self, proof: str | None, action: actions.Action, now: datetime) -> Sender:
        return actions.verify_proof(proof, self.keys, issuer=self.issuer, action=action, now=now)


def action_key_path(settings: Settings) -> Path:
    return settings.action_key_file or development.key_dir(settings.var_dir) / "action-signing-key.pem"


def action_jwks_path(settings: Settings) -> Path:
    return development.key_dir(settings.var_dir) / "action-jwks.json"


def signer_for(settings: Settings) -> actions.ActionSigner:
    """The API's action-proof signer: its key file, made on first use (with the JWKS beside it) when unset."""
    private, kid = key_pairs.signing_key(action_key_path(settings),
                                         None if settings.action_key_file else action_jwks_path(settings))
    return actions.ActionSigner(private, kid, settings.action_issuer)


def action_verifier_for(settings: Settings) -> ActionVerifier:
    """The keys a worker verifies action proofs with: the API's published set (CLAIMS_ACTION_JWKS_URL), or the
    file beside the key on this machine (made with the key on first use)."""
    if settings.action_jwks_url:
        remote = RemoteKeys(settings.action_jwks_url)
        remote.prefetch()
        return ActionVerifier(remote, settings.action_issuer)
    if settings.action_key_file:
        raise ValueError("CLAIMS_ACTION_JWKS_URL is required when CLAIMS_ACTION_KEY_FILE is set: the workers verify "
                         "action proofs with the key set the API publishes at /.well-known/action-jwks.json")
    signer_for(settings)
    return ActionVerifier(LocalKeys(action_jwks_path(settings)), settings.action_issuer)


install = installed_verifiers.install
installed = installed_verifiers.installed
