"""Action proofs: what an update carries as `credential`, good for one action and nothing else.

A person's (or a channel's) bearer token never reaches a workflow. The API verifies it, then signs with its own
key a short-lived proof (OAuth 2.0 Token Exchange, RFC 8693) whose one `authorization_details` entry (RFC 9396)
names the action: the workflow, the update and the SHA-256 of the rest of the payload. The workflow checks the
signature with the public key set its worker trusts, the binding to itself, to the update and to the payload it
received, the expiry, and that the proof's id was never used on it before; then it records the proof's sender
(issuer, subject, roles, proof id), never the proof. So a proof read from a history is expired, spent, and
bound to an action that has already happened: it lets nobody do anything.

The proof's claims:

    iss  the API (CLAIMS_ACTION_ISSUER)          aud  urn:claims:workflows
    sub  the person or channel                   roles  their roles, as their token stated them
    subject_issuer  who issued their token       act  {"sub": the API}: who exchanged it (RFC 8693 4.1)
    iat, exp  at most PROOF_MAX_SECONDS apart     jti  the one-time id
    authorization_details  [{"type": "claim_update", "workflow_id", "update", "payload_sha256"}]

`payload_sha256` is the SHA-256 of the payload without `credential`, as canonical JSON (keys sorted, no spaces,
UTF-8 unescaped): the JSON the workflow receives, so any sender (the API, the command line, the `temporal` CLI)
that sends the payload it had bound gets the same digest.

Verification (`verify_proof`, `payload_digest`, `proof_id`) is pure given the keys and the moment of checking:
workflow code calls it from update validators with `workflow.now()`. Signing (`ActionSigner`) is for the API,
the command line with a local key, and tests.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from identity.key_pairs import public_key_set
from identity.tokens import PROOF_AUDIENCE, KeySource, NotAuthenticated, check_times, decode_signed
from models.contract import Sender

AUDIENCE = PROOF_AUDIENCE
DETAIL_TYPE = "claim_update"
PROOF_TTL_SECONDS = 300
"""How long the API's proofs live: long enough for a slow queue, short enough that a proof seen is useless."""
PROOF_MAX_SECONDS = 900
"""The longest lifetime a workflow accepts, whatever the signer wrote."""
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "jti", "authorization_details", "subject_issuer"]


def payload_digest(payload: Any) -> str:
    """The SHA-256 (hex) of the payload without its `credential`, as canonical JSON."""
    body = {k: v for k, v in payload.items() if k != "credential"} if isinstance(payload, dict) else payload
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()  # a lone surrogate too: no crash


@dataclass(frozen=True)
class Action:
    """One update of one workflow with one payload: what a proof is good for."""

    workflow_id: str
    update: str
    payload_sha256: str

    @staticmethod
    def of(workflow_id: str, update: str, payload: Any) -> Action:
        return Action(workflow_id, update, payload_digest(payload))

    def detail(self) -> dict[str, str]:
        """The proof's `authorization_details` entry (RFC 9396)."""
        return {"type": DETAIL_TYPE, "workflow_id": self.workflow_id, "update": self.update,
                "payload_sha256": self.payload_sha256}


def verify_proof(proof: str | None, keys: KeySource, *, issuer: str, action: Action, now: datetime) -> Sender:
    """The sender a proof names, when it is signed by a trusted key, current, and bound to exactly this action;
    otherwise NotAuthenticated saying which (never the proof)."""
    if not proof:
        raise NotAuthenticated("credential: an action proof is required (the API's /token exchanges a token for "
                               "one)")
    claims = decode_signed(proof, keys, issuer=issuer, audience=AUDIENCE, required=REQUIRED_CLAIMS,
                           what="action proof", untrusted="credential: not an action proof signed by a key the "
                           "workers trust (a bearer token is not accepted here: exchange it at the API's /token)")
    check_times(claims, now.timestamp(), PROOF_MAX_SECONDS, what="action proof")
    _check_binding(claims.get("authorization_details"), action)
    return sender_in(claims)


def _check_binding(details: Any, action: Action) -> None:
    if not isinstance(details, list) or len(details) != 1 or not isinstance(details[0], dict) \
            or details[0].get("type") != DETAIL_TYPE:
        raise NotAuthenticated(f"credential: the proof must name exactly one {DETAIL_TYPE!r} action")
    bound = details[0]
    if bound.get("workflow_id") != action.workflow_id:
        raise NotAuthenticated("credential: the proof is bound to another claim or complaint")
    if bound.get("update") != action.update:
        raise NotAuthenticated(f"credential: the proof is for another action, not {action.update!r}")
    if bound.get("payload_sha256") != action.payload_sha256:
        raise NotAuthenticated("credential: the proof is bound to another payload (the payload was changed)")


def sender_in(claims: dict[str, Any]) -> Sender:
    roles, subject, proof_id = claims.get("roles", []), claims["sub"], claims["jti"]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise NotAuthenticated("credential: the 'roles' claim must be a list of role names")
    if not isinstance(subject, str) or not subject or not isinstance(proof_id, str) or not proof_id:
        raise NotAuthenticated("credential: the 'sub' and 'jti' claims must be strings")
    return Sender(issuer=str(claims["subject_issuer"]), subject=subject, roles=roles, token_id=proof_id)


def read_unverified(credential: str | None) -> dict[str, Any] | None:
    """A proof's claims read without checking: only for update handlers, after their validator verified it (the
    handler runs again on replay, where validators do not). None for anything that is not an action proof,
    such as the bearer tokens older histories carry."""
    if not credential:
        return None
    try:
        claims: dict[str, Any] = jwt.decode(credential, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None
    audience = claims.get("aud")
    if audience != AUDIENCE and not (isinstance(audience, list) and AUDIENCE in audience):
        return None
    return claims


class ActionSigner:
    """Signs action proofs with the API's key for senders whose tokens the caller has verified."""

    def __init__(self, private: PrivateKeyTypes, kid: str, issuer: str, ttl_seconds: float = PROOF_TTL_SECONDS,
                 actor: str = "claims-api") -> None:
        self._private, self.kid, self.issuer, self.ttl, self.actor = private, kid, issuer, ttl_seconds, actor

    def prove(self, sender: Sender, action: Action, *, issued_at: float | None = None) -> str:
        now = int(time.time() if issued_at is None else issued_at)
        claims = {"iss": self.issuer, "aud": AUDIENCE, "sub": sender.subject, "roles": list(sender.roles),
                  "subject_issuer": sender.issuer, "act": {"sub": self.actor}, "iat": now,
                  "exp": int(now + self.ttl), "jti": uuid.uuid4().hex, "authorization_details": [action.detail()]}
        return jwt.encode(claims, self._private, algorithm="ES256", headers={"kid": self.kid})  # type: ignore[arg-type]

    def public_keys(self) -> dict[str, Any]:
        """The JWKS workers verify this signer's proofs with."""
        return public_key_set(self._private)

    def credential(self, sender: Sender, workflow_id: str, update: str, payload: dict[str, Any], *,
                   issued_at: float | None = None) -> dict[str, Any]:
        """The payload with a proof for sending it as `update` to `workflow_id` in `sender`'s name."""
        proof = self.prove(sender, Action.of(workflow_id, update, payload), issued_at=issued_at)
        return {**{k: v for k, v in payload.items() if k != "credential"}, "credential": proof}
