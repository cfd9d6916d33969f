"""The caller's bearer token, checked at the door with the identity provider's keys.

The API checks a token to answer early, to choose what a caller may read, and to sign, for every change, an
action proof in the caller's name (identity/actions.py): the update's `credential`, good for that one update of
that one claim with that payload. The token itself never leaves the API. The workflow checks the proof and its
own access rules again, so a request the API wrongly let through is still refused there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request

from core.rules.access import CHANNEL_ROLE, STAFF_ROLES
from edge.problems import forbidden, unauthenticated
from edge.services import services_of
from identity.keys import Verifier
from identity.tokens import NotAuthenticated
from models.contract import Sender

READING_ROLES = STAFF_ROLES | {"auditor"}
"""Who may read claims through the HTTP edges: the staff, and auditors, who read and never act (the workflow's own
access rules give them no update)."""


@dataclass(frozen=True)
class Caller:
    token: str
    sender: Sender

    @property
    def roles(self) -> set[str]:
        return {r.strip().casefold() for r in self.sender.roles}

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & READING_ROLES) and CHANNEL_ROLE not in self.roles

    @property
    def is_channel(self) -> bool:
        return CHANNEL_ROLE in self.roles


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("Authorization: a bearer token is required (Authorization: Bearer <token>)")
    return token.strip()


SESSION_COOKIE = "claims_session"
"""The staff session cookie set by `POST /sign-in`: the staff member's own token, readable by no script
(HttpOnly), sent only to this API and only from its own site (SameSite=Strict). Only the codec server reads it,
so a browser tab can decrypt what the Temporal web UI shows; every change still needs the bearer header."""


def authenticate(request: Request) -> Caller:
    return verify(request, bearer_token(request))


def verify(request: Request, token: str) -> Caller:
    verifier: Verifier = services_of(request).verifier
    try:
        sender = verifier.verify(token, datetime.now(UTC))
    except NotAuthenticated as err:
        raise unauthenticated(str(err)) from None
    return Caller(token=token, sender=sender)


def staff(request: Request) -> Caller:
    caller = authenticate(request)
    if not caller.is_staff:
        raise forbidden(f"this needs a staff member's token; {caller.sender.subject} holds {sorted(caller.roles)}")
    return caller


def staff_or_session(request: Request) -> Caller:
    """A staff member by bearer token (the CLI's `--codec-auth`) or by the session cookie (the web UI with
    cross-origin credentials included)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if "authorization" in request.headers or not cookie:
        return staff(request)
    caller = verify(request, cookie)
    if not caller.is_staff:
        raise forbidden(f"this needs a staff member's session; {caller.sender.subject} holds {sorted(caller.roles)}")
    return caller


def channel(request: Request) -> Caller:
    caller = authenticate(request)
    if not caller.is_channel:
        raise forbidden(f"this is done through a channel (a token with the role 'channel'); "
                        f"{caller.sender.subject} holds {sorted(caller.roles)}")
    return caller


def channel_or_staff(request: Request) -> Caller:
    caller = authenticate(request)
    if not (caller.is_channel or caller.is_staff):
        raise forbidden(f"{caller.sender.subject} holds no channel or staff role ({sorted(caller.roles)})")
    return caller
