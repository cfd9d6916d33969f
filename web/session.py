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
from pathlib import Path
from typing import Annotated, Any

import jwt
import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, Template

from edge import auth
from edge.problems import PROBLEM_RESPONSES, ProblemError, forbidden
from edge.services import secure_cookie, services_of
from letters.i18n import LANGUAGES, N_, catalog, template_gettext
from web.names import staff_words, when
from web.workbench import STAFF_LANGUAGE, staff_language

log = structlog.get_logger(__name__)
router = APIRouter(tags=["session"], responses=PROBLEM_RESPONSES)
FLOW_COOKIE = "claims_sign_in"
CSRF_COOKIE = "claims_form"
FLOW_SECONDS = 600

def _sign_in_page(language: str) -> Template:
    environment = Environment(autoescape=True, loader=FileSystemLoader(Path(__file__).parent / "templates"))
    environment.globals["_"] = template_gettext(catalog(language))
    return environment.get_template("sign_in.html")


PAGES = {language: _sign_in_page(language) for language in LANGUAGES}


DEMO_STAFF = [
    ("sup-1", "张主管", ("supervisor",)), ("mgr-1", "王经理", ("manager",)), ("adj-1", "李理算", ("adjuster",)),
    ("inv-1", "赵查勘", ("investigator",)), ("desk-1", "陈客服", ("service",)), ("fin-1", "刘财务", ("finance",)),
]
"""Who the development issuer offers on the sign-in page (never with a real identity provider)."""


def _role_names(roles: Any, language: str = "zh-CN") -> str:
    name = staff_words(language)["role_name"]
    return ("、" if language == "zh-CN" else ", ").join(name(r) for r in sorted(roles))


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
    language = staff_language(request)
    problem = values.pop("problem", None)
    said = catalog(language).gettext(problem) if problem else None
    page = HTMLResponse(PAGES[language].render(role_names=lambda roles: _role_names(roles, language),
                                               demo_staff=demo, next=next_, language=language, problem=said,
                                               provider=services.login is not None, csrf=csrf, **values),
                        status_code=status, headers={"Cache-Control": "no-store"})
    if request.query_params.get("lang") in LANGUAGES:
        page.set_cookie(STAFF_LANGUAGE, language, max_age=365 * 86400, samesite="lax", path="/",
                        secure=secure_cookie(request))
    page.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=secure_cookie(request), path="/")
    return page


def _form_is_ours(request: Request, csrf: str) -> bool:
    kept = request.cookies.get(CSRF_COOKIE, "")
    return bool(kept) and hmac.compare_digest(kept, csrf)


FORM_EXPIRED = N_("The form expired or came from another site: open the sign-in page again.")


@router.get("/sign-in", response_class=HTMLResponse, summary="The staff sign-in page")
async def sign_in_page(request: Request) -> HTMLResponse:
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        try:
            caller = auth.verify(request, cookie)
            return _page(request, subject=caller.sender.subject,
                         roles=_role_names(caller.roles, staff_language(request)), until=when(_expiry(cookie)))
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
        return _page(request, 403, problem=N_("Demo staff exist only with the development issuer."))
    return _signed_in(request, mint(subject, staff[subject]), next)


@router.get("/sign-in/oidc", include_in_schema=False)
async def sign_in_oidc(request: Request, next: str = "") -> Response:  # noqa: A002
    """Sends the browser to the provider's sign-in, with a state and a PKCE challenge kept in a short-lived
    signed cookie until it comes back to `/sign-in/callback`."""
    login = services_of(request).login
    if login is None:
        return _page(request, 404, problem=N_("Sign-in by the identity provider is not set up."))
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
        log.info("sign-in did not complete", error=error or "state or code missing or wrong")
        return _page(request, 400, problem=N_("Sign-in did not complete: start again."))
    login = services_of(request).login
    if login is None:
        return _page(request, 404, problem=N_("Sign-in by the identity provider is not set up."))
    try:
        token = await login.finish(code, verifier)
    except Exception as err:  # noqa: BLE001 (the provider's refusal: logged, the person told to start again)
        log.info("the identity provider refused the code", error=str(err))
        return _page(request, 400, problem=N_("The identity provider did not accept the sign-in: start again."))
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
        log.info("sign-in refused", reason=err.problem.detail or err.problem.title)
        return _page(request, err.problem.status, problem=N_(
            "Only staff sign in here") if err.problem.status == 403 else N_(
            "This token is not valid (expired, or not from the company's identity provider)."))
    until = _expiry(token)
    target = _safe_next(next_) or ("" if follow else "/app")
    page: Response = RedirectResponse(target, status_code=303) if target else _page(
        request, subject=caller.sender.subject, roles=_role_names(caller.roles, staff_language(request)),
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
