"""The development issuer's authorization endpoint: what the insurer's identity provider does in production,
here for the embedded default only, so the workbench signs in by the same OpenID Connect authorization-code flow
(identity/oidc.py) everywhere. It lists the demo staff instead of asking for a password, issues one-time codes
bound to the client's PKCE challenge and redirect address, and exchanges them at `/dev-idp/token` for a token of
the development issuer. With a real issuer configured, every route here answers 404."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment

from edge.problems import not_found
from edge.services import services_of
from identity.oidc import DEV_CLIENT_ID
from web.session import DEMO_STAFF

router = APIRouter(prefix="/dev-idp", include_in_schema=False)
CODE_SECONDS = 60

PAGE = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>开发身份认证 · Development identity provider</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 36rem; margin: 3rem auto">
<h1>选择演示员工 · Choose a demo staff member</h1>
<p>开发环境的身份认证平台：生产环境中此处是保险公司的统一身份认证登录页。
<span lang="en">The development identity provider: in production, the insurer's own sign-in page.</span></p>
<form method="post" action="/dev-idp/authorize">
{% for name, value in hidden.items() %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
{% for subject, name, roles in staff %}
<button type="submit" name="subject" value="{{ subject }}" id="idp-{{ subject }}">
{{ name }} · {{ subject }}（{{ roles|join(", ") }}）</button><br>
{% endfor %}
</form></body></html>""")


@dataclass(frozen=True)
class Grant:
    subject: str
    roles: tuple[str, ...]
    challenge: str
    redirect_uri: str
    until: float


_grants: dict[str, Grant] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class DevProvider:
    """What the development provider needs of the app's services: who it mints for, and the workbench's client."""

    mint: Callable[[str, tuple[str, ...]], str]
    client_secret: str
    redirect_uri: str


def _provider(request: Request) -> DevProvider:
    services = services_of(request)
    if services.demo_tokens is None or services.login is None:
        raise not_found("the development identity provider is off: a real issuer is configured")
    provider = services.login.provider
    return DevProvider(services.demo_tokens, provider.client_secret, provider.redirect_uri)


@router.get("/authorize", response_class=HTMLResponse)
async def authorize_page(request: Request, response_type: str, client_id: str, redirect_uri: str, state: str,
                         code_challenge: str, code_challenge_method: str, scope: str = "") -> Response:
    expected = _provider(request).redirect_uri
    if (response_type, client_id, redirect_uri, code_challenge_method) != ("code", DEV_CLIENT_ID, expected, "S256"):
        return HTMLResponse("unknown client, redirect address or challenge method", status_code=400)
    hidden = {"redirect_uri": redirect_uri, "state": state, "code_challenge": code_challenge}
    return HTMLResponse(PAGE.render(hidden=hidden, staff=DEMO_STAFF), headers={"Cache-Control": "no-store"})


@router.post("/authorize")
async def authorize(request: Request, subject: Annotated[str, Form(max_length=64)],
                    redirect_uri: Annotated[str, Form(max_length=500)], state: Annotated[str, Form(max_length=200)],
                    code_challenge: Annotated[str, Form(max_length=128)]) -> Response:
    expected = _provider(request).redirect_uri
    staff = {s: roles for s, _, roles in DEMO_STAFF}
    if redirect_uri != expected or subject not in staff:
        return HTMLResponse("unknown staff member or redirect address", status_code=400)
    code = secrets.token_urlsafe(24)
    with _lock:
        now = time.monotonic()
        for old in [c for c, g in _grants.items() if g.until < now]:
            del _grants[old]
        _grants[code] = Grant(subject, staff[subject], code_challenge, redirect_uri, now + CODE_SECONDS)
    return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", status_code=303)


@router.post("/token")
async def token(request: Request, grant_type: Annotated[str, Form()], code: Annotated[str, Form(max_length=100)],
                redirect_uri: Annotated[str, Form(max_length=500)],
                code_verifier: Annotated[str, Form(min_length=43, max_length=128)]) -> Response:
    provider = _provider(request)
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    client_id, _, secret = base64.b64decode(credentials or "Og==").decode().partition(":")
    expected_secret = provider.client_secret
    if scheme.lower() != "basic" or client_id != DEV_CLIENT_ID or not hmac.compare_digest(secret, expected_secret):
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    with _lock:
        grant = _grants.pop(code, None)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
    if (grant_type != "authorization_code" or grant is None or grant.until < time.monotonic()
            or grant.redirect_uri != redirect_uri or not hmac.compare_digest(challenge, grant.challenge)):
        return JSONResponse({"error": "invalid_grant"}, status_code=400)
    access = provider.mint(grant.subject, grant.roles)
    return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": 8 * 3600},
                        headers={"Cache-Control": "no-store"})
