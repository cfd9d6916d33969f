"""Verifying a bearer token: pure and deterministic given the key set, the expected issuer and audience and
the moment of checking. Workflow code imports this module (passed through the sandbox) and calls it from
update validators with `workflow.now()`; nothing here reads a clock, a file or the network.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import jwt
from jwt import PyJWK

from models.contract import Sender

ALGORITHMS = ["RS256", "ES256", "EdDSA"]
"""Asymmetric signatures only: a shared secret (HS256) or `none` is never accepted."""
LEEWAY_SECONDS = 60
"""Clock skew allowed between the issuer and the worker."""
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "jti"]
PROOF_AUDIENCE = "urn:claims:workflows"
"""The audience of the API's action proofs (identity/actions.py): what workflows accept as `credential`."""


class KeySource(Protocol):
    """The verifying keys a worker holds, by key id (`kid`)."""

    def key(self, kid: str) -> PyJWK | None: ...


class NotAuthenticated(Exception):
    """The credential does not prove who sent it: missing, malformed, expired, wrongly signed, or not meant
    for this service. The message says which, never the token."""


MAX_LIFETIME_SECONDS = 12 * 3600
"""The longest a token may live from its issue to its expiry (`CLAIMS_TOKEN_MAX_HOURS`): a token lost or read
somewhere works no longer than a working day, whatever its issuer wrote into it."""


def verify(token: str | None, keys: KeySource, *, issuer: str, audience: str, now: datetime,
           max_lifetime: float = MAX_LIFETIME_SECONDS) -> Sender:
    """The verified sender of a token, or NotAuthenticated."""
    if not token:
        raise NotAuthenticated("credential: a bearer token is required")
    claims = decode_signed(token, keys, issuer=issuer, audience=audience, required=REQUIRED_CLAIMS)
    check_times(claims, now.timestamp(), max_lifetime)
    return _sender(claims)


def decode_signed(token: str, keys: KeySource, *, issuer: str, audience: str, required: list[str],
                  what: str = "token", untrusted: str = "") -> dict[str, Any]:
    """The claims of a JWT signed by one of `keys` with an accepted algorithm, from `issuer`, for `audience`, with
    the `required` claims; NotAuthenticated naming what is wrong (the token's times are the caller's to check)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise NotAuthenticated(f"credential: not a signed {what} (JWT)") from None
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise NotAuthenticated(f"credential: the {what} names no signing key (kid)")
    if header.get("alg") not in ALGORITHMS:
        raise NotAuthenticated(f"credential: signature algorithm {header.get('alg')!r} is not accepted")
    key = keys.key(kid)
    if key is None:
        raise NotAuthenticated(untrusted or f"credential: signed by a key this service does not trust "
                                            f"(kid {kid[:40]!r})")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=ALGORITHMS, audience=audience, issuer=issuer,
            options={"require": required, "verify_exp": False, "verify_iat": False, "verify_nbf": False})
    except jwt.InvalidSignatureError:
        raise NotAuthenticated(f"credential: the {what}'s signature does not verify") from None
    except jwt.InvalidAudienceError:
        raise NotAuthenticated(f"credential: the {what} is not meant for this service (audience {audience!r})") \
            from None
    except jwt.InvalidIssuerError:
        raise NotAuthenticated(f"credential: the {what} was not issued by {issuer!r}") from None
    except jwt.MissingRequiredClaimError as err:
        raise NotAuthenticated(f"credential: the {what} has no {err.claim!r} claim") from None
    except jwt.InvalidTokenError as err:
        raise NotAuthenticated(f"credential: {err}") from None
    return claims


def check_times(claims: dict[str, Any], now: float, max_lifetime: float, what: str = "token") -> None:
    """Refuse a token that has expired, is not valid yet, or lives longer than `max_lifetime` seconds."""
    for name in ("exp", "iat", "nbf"):
        if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], int | float)):
            raise NotAuthenticated(f"credential: the {name!r} claim is not a time")
    if claims["exp"] + LEEWAY_SECONDS <= now:
        raise NotAuthenticated(f"credential: the {what} has expired")
    if claims["iat"] - LEEWAY_SECONDS > now or claims.get("nbf", now) - LEEWAY_SECONDS > now:
        raise NotAuthenticated(f"credential: the {what} is not valid yet")
    if claims["exp"] - claims["iat"] > max_lifetime:
        unit, size = ("hours", 3600) if max_lifetime >= 3600 else ("seconds", 1)
        raise NotAuthenticated(f"credential: the {what} lives {(claims['exp'] - claims['iat']) / size:.0f} {unit}; "
                               f"this service accepts {what}s of at most {max_lifetime / size:.0f} {unit}")


def _sender(claims: dict[str, Any]) -> Sender:
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise NotAuthenticated("credential: the 'roles' claim must be a list of role names")
    subject, token_id = claims["sub"], claims["jti"]
    if not isinstance(subject, str) or not subject or not isinstance(token_id, str):
        raise NotAuthenticated("credential: the 'sub' and 'jti' claims must be strings")
    return Sender(issuer=str(claims["iss"]), subject=subject, roles=roles, token_id=token_id)


def sender_of(token: str | None) -> Sender | None:
    """Who a token (or an action proof) names, read without checking it. Only for update handlers, after the
    validator has verified the same token: the handler runs again on replay, where validators do not, and this reads
    nothing but the payload, so a replay records exactly what the first run did."""
    if not token:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        if claims.get("aud") == PROOF_AUDIENCE and isinstance(claims.get("subject_issuer"), str):
            claims["iss"] = claims["subject_issuer"]  # an action proof names the person's issuer apart from its own
        return _sender(claims)
    except (jwt.InvalidTokenError, NotAuthenticated, KeyError):
        return None
