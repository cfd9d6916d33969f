"""Staff sign-in for the browser: so the Temporal web UI, calling the codec server with cross-origin credentials
included, shows a claim decrypted to a signed-in staff member and to nobody else.

Staff sign in by the identity provider's OpenID Connect authorization-code flow with PKCE (`/sign-in/oidc`, back
at `/sign-in/callback`; identity/oidc.py; with the development issuer its provider is web/dev_idp.py), or paste a
token (`POST /sign-in`). Either way the token is checked as every call checks it and kept in an HttpOnly,
SameSite=Strict cookie that expires with it; the workbench and the codec server read it; `POST /sign-out` clears
it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from edge import auth
from edge.problems import PROBLEM_RESPONSES, ProblemError, forbidden
from edge.services import secure_cookie, services_of
from web.names import ROLE_NAMES, when

router = APIRouter(tags=["session"], responses=PROBLEM_RESPONSES)
FLOW_COOKIE = "claims_sign_in"
CSRF_COOKIE = "claims_form"
FLOW_SECONDS = 600

PAGE = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>工作人员登录</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 36rem; margin: 3rem auto"><main>
{% if subject %}
<h1>已登录</h1>
<p id="signed-in">{{ subject }}（{{ roles }}）已登录，有效至 {{ until }}（北京时间）。
Temporal 界面现在可以解密显示理赔数据；已打开的 Temporal 页面请刷新一次。</p>
<p><a href="{{ next or '/app' }}" id="continue">{% if next %}继续{% else %}进入工作台{% endif %}</a></p>
{% if next %}<meta http-equiv="refresh" content="0;url={{ next }}">{% endif %}
<form method="post" action="/sign-out"><input type="hidden" name="csrf" value="{{ csrf }}">
<button type="submit">退出登录</button></form>
{% else %}
<h1>工作人员登录</h1>
{% if problem %}<p role="alert" id="problem">{{ problem }}</p>{% endif %}
{% if provider %}
<p><a href="/sign-in/oidc?next={{ next|urlencode }}" id="sign-in-oidc" style="display:inline-block;
 padding:.6rem 1.2rem;background:#12355b;color:#fff;text-decoration:none;border-radius:.3rem">
通过统一身份认证登录</a></p>
{% endif %}
{% if demo_staff %}
<h2>演示员工 <small>（仅限开发环境）</small></h2>
<form method="post" action="/sign-in/demo">
<input type="hidden" name="next" value="{{ next }}"><input type="hidden" name="csrf" value="{{ csrf }}">
{% for subject, name, roles in demo_staff %}
<button type="submit" name="subject" value="{{ subject }}" id="demo-{{ subject }}">
{{ name }} · {{ subject }}（{{ role_names(roles) }}）</button><br>
{% endfor %}
</form>
<h2>或使用访问令牌</h2>
{% endif %}
<form method="post" action="/sign-in">
<input type="hidden" name="next" value="{{ next }}"><input type="hidden" name="csrf" value="{{ csrf }}">
<label for="token">访问令牌</label><br>
<textarea id="token" name="token" rows="6" cols="60" required autocomplete="off"></textarea><br>
<button type="submit" id="sign-in">登录</button>
</form>
{% endif %}
</main></body></html>""")


DEMO_STAFF = [
    ("sup-1", "张主管", ("supervisor",)), ("mgr-1", "王经理", ("manager",)), ("adj-1", "李理算", ("adjuster",)),
    ("inv-1", "赵查勘", ("investigator",)), ("desk-1", "陈客服", ("service",)), ("fin-1", "刘财务", ("finance",)),
]
"""Who the development issuer offers on the sign-in page (never with a real identity provider)."""


def _role_names(roles: Any) -> str:
    return "、".join(ROLE_NAMES.get(r, r) for r in sorted(roles))


def _safe_next(next_: str | None) -> str:
    """Only a page of the workbench: never another site."""
    return next_ if next_ and next_.startswith("/app") and "//" not in next_ else ""


def _page(request: Request, status: int = 200, **values: Any) -> HTMLResponse:
    """The page, with its forms' CSRF token: the same value in a SameSite=Strict cookie and in each form, so a form
    posted from another site (which sends no such cookie) is refused."""
    services = services_of(request)
    demo = DEMO_STAFF if services.demo_tokens is not None else None
    next_ = _safe_next(values.pop("next", None) or request.query_params.get("next"))
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    page = HTMLResponse(PAGE.render(role_names=_role_names, demo_staff=demo, next=next_,
                                    provider=services.login is not None, csrf=csrf, **values),
                        status_code=status, headers={"Cache-Control": "no-store"})
    page.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=secure_cookie(request), path="/")
    return page


def _form_is_ours(request: Request, csrf: str) -> bool:
    kept = request.cookies.get(CSRF_COOKIE, "")
    return bool(kept) and hmac.compare_digest(kept, csrf)


FORM_EXPIRED = "表单已过期，请重新打开登录页 · the form expired or came from another site: open the sign-in page again"


@router.get("/sign-in", response_class=HTMLResponse, summary="The staff sign-in page")
async def sign_in_page(request: Request) -> HTMLResponse:
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        try:
            caller = auth.verify(request, cookie)
            return _page(request, subject=caller.sender.subject, roles=_role_names(caller.roles),
                         until=when(_expiry(cookie)))
        except ProblemError:
            pass  # expired or revoked: sign in again
    return _page(request)


@router.post("/sign-in/demo", response_class=HTMLResponse, summary="Sign in as a demo staff member (development)")
async def sign_in_demo(request: Request, subject: Annotated[str, Form(max_length=64)],
                       next: Annotated[str, Form(max_length=500)] = "",  # noqa: A002
                       csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    if not _form_is_ours(request, csrf):
        return _page(request, 403, problem=FORM_EXPIRED)
    mint = services_of(request).demo_tokens
    staff = {s: roles for s, _, roles in DEMO_STAFF}
    if mint is None or subject not in staff:
        return _page(request, 403, problem="demo staff exist only with the development issuer")
    return _signed_in(request, mint(subject, staff[subject]), next)


@router.get("/sign-in/oidc", include_in_schema=False)
async def sign_in_oidc(request: Request, next: str = "") -> Response:  # noqa: A002
    """Sends the browser to the provider's sign-in, with a state and a PKCE challenge kept in a short-lived
    signed cookie until it comes back to `/sign-in/callback`."""
    login = services_of(request).login
    if login is None:
        return _page(request, 404, problem="no identity provider client is configured (CLAIMS_OIDC_CLIENT_ID)")
    url, state, verifier = await login.start()
    response = RedirectResponse(url, status_code=303)
    kept = f"{state}|{verifier}|{_safe_next(next)}"
    response.set_cookie(FLOW_COOKIE, f"{kept}|{_seal(request, kept)}", max_age=FLOW_SECONDS, httponly=True,
                        samesite="lax", secure=secure_cookie(request), path="/sign-in")
    return response


@router.get("/sign-in/callback", response_class=HTMLResponse, include_in_schema=False)
async def sign_in_callback(request: Request, state: str = "", code: str = "", error: str = "") -> Response:
    """Exchanges the code for the staff member's token (with the PKCE verifier) and opens the session. The page
    then moves on by itself: a same-site step, so the SameSite=Strict session cookie goes with it."""
    kept, _, seal = request.cookies.get(FLOW_COOKIE, "").rpartition("|")
    expected, verifier, next_ = (kept.split("|") + ["", "", ""])[:3]
    if error or not code or not state or not hmac.compare_digest(seal, _seal(request, kept)) or state != expected:
        return _page(request, 400, problem=f"sign-in did not complete ({error or 'state or code missing or wrong'}); "
                                            "start again")
    login = services_of(request).login
    if login is None:
        return _page(request, 404, problem="sign-in by the identity provider is not configured")
    try:
        token = await login.finish(code, verifier)
    except Exception as err:  # noqa: BLE001 (the provider's refusal, shown to the person signing in)
        return _page(request, 400, problem=f"the identity provider refused the code: {err}")
    response = _signed_in(request, token, "", follow=next_ or "/app")
    response.delete_cookie(FLOW_COOKIE, path="/sign-in")
    return response


def _seal(request: Request, value: str) -> str:
    secret: bytes = services_of(request).code_secret
    return hmac.new(secret, b"oidc-flow:" + value.encode(), hashlib.sha256).hexdigest()


@router.post("/sign-in", response_class=HTMLResponse, summary="Sign a staff member in for the web UI")
async def sign_in(request: Request, token: Annotated[str, Form(max_length=16_384)],
                  next: Annotated[str, Form(max_length=500)] = "",  # noqa: A002
                  csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    if not _form_is_ours(request, csrf):
        return _page(request, 403, problem=FORM_EXPIRED)
    return _signed_in(request, token.strip(), next)


def _signed_in(request: Request, token: str, next_: str, follow: str = "") -> Response:
    try:
        caller = auth.verify(request, token)
        if not caller.is_staff:
            raise forbidden(f"only staff sign in here; {caller.sender.subject} holds {sorted(caller.roles)}")
    except ProblemError as err:
        return _page(request, err.problem.status, problem=err.problem.detail or err.problem.title)
    until = _expiry(token)
    target = _safe_next(next_)
    page: Response = RedirectResponse(target, status_code=303) if target else _page(
        request, subject=caller.sender.subject, roles=_role_names(caller.roles),
        until=when(until), next=follow)
    same_site = services_of(request).session_same_site
    page.set_cookie(auth.SESSION_COOKIE, token, expires=until, httponly=True, samesite=same_site,
                    secure=same_site == "none" or secure_cookie(request), path="/")
    return page


@router.post("/sign-out", response_class=HTMLResponse, summary="End the staff member's web session")
async def sign_out(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> HTMLResponse:
    if not _form_is_ours(request, csrf):
        return _page(request, 403, problem=FORM_EXPIRED)
    page = _page(request)
    page.delete_cookie(auth.SESSION_COOKIE, path="/", httponly=True,
                       samesite=services_of(request).session_same_site)
    return page


def _expiry(token: str) -> datetime:
    """When the (already verified) token expires: the cookie lives no longer."""
    exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    return datetime.fromtimestamp(int(exp), UTC) if exp else datetime.now(UTC)
