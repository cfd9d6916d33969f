"""Staff sign-in for the browser: so the Temporal web UI, calling the codec server with cross-origin credentials
included, shows a claim decrypted to a signed-in staff member and to nobody else.

`POST /sign-in` takes a staff token (from the insurer's identity provider, or `python starter.py token` from the
development issuer), checks it as every call does, and keeps it in an HttpOnly, SameSite=Strict cookie that
expires with the token. Only the codec server reads the cookie; `POST /sign-out` clears it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import jwt
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment

from api import auth
from api.problems import PROBLEM_RESPONSES, ProblemError, forbidden

router = APIRouter(tags=["session"], responses=PROBLEM_RESPONSES)

PAGE = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>工作人员登录 · Staff sign-in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 36rem; margin: 3rem auto">
{% if subject %}
<h1>已登录 · Signed in</h1>
<p id="signed-in">{{ subject }}（{{ roles }}）已登录，有效至 {{ until }}。Temporal 界面现在可以解密显示理赔数据。</p>
<p lang="en">Signed in as {{ subject }} until {{ until }}: the Temporal web UI now shows claims decrypted.</p>
<form method="post" action="sign-out"><button type="submit">退出 · Sign out</button></form>
{% else %}
<h1>工作人员登录 · Staff sign-in</h1>
{% if problem %}<p role="alert">{{ problem }}</p>{% endif %}
<form method="post" action="sign-in">
<label for="token">访问令牌 · Access token</label><br>
<textarea id="token" name="token" rows="6" cols="60" required autocomplete="off"></textarea><br>
<button type="submit">登录 · Sign in</button>
</form>
{% endif %}
</body></html>""")


def _page(status: int = 200, **values: str) -> HTMLResponse:
    return HTMLResponse(PAGE.render(**values), status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/sign-in", response_class=HTMLResponse, summary="The staff sign-in page")
async def sign_in_page(request: Request) -> HTMLResponse:
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        try:
            caller = auth.verify(request, cookie)
            return _page(subject=caller.sender.subject, roles=", ".join(sorted(caller.roles)),
                         until=_expiry(cookie).isoformat(timespec="minutes"))
        except ProblemError:
            pass  # expired or revoked: sign in again
    return _page()


@router.post("/sign-in", response_class=HTMLResponse, summary="Sign a staff member in for the web UI")
async def sign_in(request: Request, token: Annotated[str, Form(max_length=16_384)]) -> HTMLResponse:
    token = token.strip()
    try:
        caller = auth.verify(request, token)
        if not caller.is_staff:
            raise forbidden(f"only staff sign in here; {caller.sender.subject} holds {sorted(caller.roles)}")
    except ProblemError as err:
        return _page(err.problem.status, problem=err.problem.detail or err.problem.title)
    until = _expiry(token)
    page = _page(subject=caller.sender.subject, roles=", ".join(sorted(caller.roles)),
                 until=until.isoformat(timespec="minutes"))
    same_site = request.app.state.services.session_same_site
    page.set_cookie(auth.SESSION_COOKIE, token, expires=until, httponly=True, samesite=same_site,
                    secure=same_site == "none" or request.url.scheme == "https", path="/")
    return page


@router.post("/sign-out", response_class=HTMLResponse, summary="End the staff member's web session")
async def sign_out(request: Request) -> HTMLResponse:
    page = _page()
    page.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True,
                       samesite=request.app.state.services.session_same_site)
    return page


def _expiry(token: str) -> datetime:
    """When the (already verified) token expires: the cookie lives no longer."""
    exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    return datetime.fromtimestamp(int(exp), UTC) if exp else datetime.now(UTC)
