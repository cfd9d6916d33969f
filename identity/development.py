"""The development issuer: the embedded default when no real identity provider is configured.

Its EC P-256 signing key is made on first use under `var/identity/` (readable by its owner only) beside the
public key set (JWKS) the worker verifies with. `python starter.py token` prints tokens from it; the demo,
the command line and the tests mint their own. Never used when CLAIMS_OIDC_ISSUER is set.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from identity import key_pairs
from models.contract import Sender

ISSUER = "urn:claims:development-issuer"
ALGORITHM = key_pairs.ALGORITHM
DEFAULT_TTL_SECONDS = 3600


def key_dir(var_dir: Path) -> Path:
    return var_dir / "identity"


def jwks_path(var_dir: Path) -> Path:
    return key_dir(var_dir) / "dev-jwks.json"


def _key_path(var_dir: Path) -> Path:
    return key_dir(var_dir) / "dev-signing-key.pem"


def signing_key(var_dir: Path) -> tuple[PrivateKeyTypes, str]:
    """The development signing key and its key id, made (with the public JWKS) on first use."""
    return key_pairs.signing_key(_key_path(var_dir), jwks_path(var_dir))


def mint(var_dir: Path, *, subject: str, roles: Sequence[str], audience: str,
         ttl_seconds: float = DEFAULT_TTL_SECONDS, issued_at: float | None = None) -> str:
    """A token from the development issuer for `subject` with `roles`."""
    private, kid = signing_key(var_dir)
    now = int(time.time() if issued_at is None else issued_at)
    claims = {"iss": ISSUER, "aud": audience, "sub": subject, "roles": list(roles), "iat": now,
              "exp": int(now + ttl_seconds), "jti": uuid.uuid4().hex}
    return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------- senders

CHANNEL_UPDATES = frozenset({"submit_documents", "withdraw", "appeal", "update_bank_account", "request_code",
                             "survey_response"})
DEFAULT_CHANNEL = "portal"
_ACTOR_FIELDS = ("approver_id", "investigator_id", "by", "declared_by")


def vouched(subject: str, roles: Sequence[str]) -> Sender:
    """A sender as the development issuer vouches for them: what the command line, the demo and the tests sign
    action proofs for."""
    return Sender(issuer=ISSUER, subject=subject, roles=list(roles))


def sender_for(update: str, payload: Any) -> tuple[str, list[str]]:
    """The subject and roles a development token needs for this update as the payload states it: the staff
    member the payload names, in the role it claims (or the role the update needs), or the channel."""
    fields = payload if isinstance(payload, dict) else {}
    actor = next((fields[k] for k in _ACTOR_FIELDS if isinstance(fields.get(k), str) and fields[k]), None)
    if update in CHANNEL_UPDATES:
        return (actor if update == "withdraw" and actor else DEFAULT_CHANNEL), ["channel"]
    role = fields.get("role")
    if isinstance(role, str) and role:
        roles = [role]
    elif update == "record_investigation":
        roles = ["investigator"]
    elif update in ("escalate", "assign", "record_callback", "assign_complaint"):
        roles = ["supervisor"]
    elif update == "record_recovery":
        roles = ["finance"]
    elif update in ("write_off_recovery", "declare_catastrophe", "close_catastrophe"):
        roles = ["manager"]
    else:
        roles = ["adjuster"]
    return actor or "staff", roles
