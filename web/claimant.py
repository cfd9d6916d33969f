"""The claimant's progress page (`/c/{claim_id}`), mobile-first, served by the API process.

The claimant proves who they are with a one-time code sent to the phone or e-mail on file (never to an address
typed here); a right code opens a session for this claim alone, kept in an HttpOnly, SameSite=Strict cookie
signed with the code secret, for thirty minutes. The page then shows where the claim stands (a stepper of the
stages), the one list of missing materials with an upload button for each, the next deadline, the decision with
its basis and the payments. What it sends (code requests, uploads) goes to the claim as the self-service
channel (identity/portal.py), so the workflow's rules apply as for any other channel.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from db.verification_codes import check, tries_left
from edge.auth import Caller, verify
from edge.claims import claim_status_of, request_progress_code, send_update, store_and_submit
from edge.problems import ProblemError
from edge.services import secure_cookie, services_of
from edge.views import ClaimProgress
from identity.codes import MAX_WRONG_TRIES, masked
from letters.i18n import DEFAULT_LANGUAGE, DOCUMENT_KINDS, LANGUAGES, N_, catalog, filters, template_gettext
from letters.reasons import clause_name, decision_reason, payout_step
from models import contract as c
from models.fields import DocumentKind
from models.messages import CodeCheck
from workflows.claim import ClaimWorkflow

router = APIRouter(prefix="/c", tags=["claimant pages"], include_in_schema=False)
log = structlog.get_logger(__name__)

COOKIE = "claims_claimant"
SESSION_SECONDS = 30 * 60
LANGUAGE_COOKIE = "claims_language"
CHECK_PROBLEMS = {CodeCheck.NONE: N_("No code has been sent yet: ask for one first."),
                  CodeCheck.EXPIRED: N_("The code has expired: ask for a new one."),
                  CodeCheck.LOCKED: N_("Too many wrong codes: this one no longer works; ask for a new one.")}
WRONG_CODE = N_("That code is not right: check it and try again.")
SIX_DIGITS = N_("The code is six digits: type them as the message shows them.")
PROBLEMS = {
    "file_type": N_("This file cannot be read: please send a PDF, or a photo (JPEG, PNG, HEIC, TIFF or WebP)."),
    "file_size": N_("This file is too large: please send a smaller one, or a photo of each page."),
    "file_pages": N_("This document has too many or too large pages: please send the pages we need, one by one."),
    "file_count": N_("Please send at most 10 files at a time."),
    "not_accepted": N_("We could not take this now: please try again later, or call us."),
}
"""What the page may say went wrong, by code: the address carries the code, never text, so no link can put words of
its own into the page's alert."""
CLAIM_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
"""What a claim number may be (the contract's `Identifier`)."""
GONE = N_("We cannot show this claim any more: please call us.")
"""A claim whose history is no longer kept (the namespace's retention passed), to a claimant with its code."""


def problem_code(err: ProblemError) -> str:
    """The code of a refusal the claimant may be told about."""
    kind = err.problem.type.rsplit("/", 1)[-1]
    if kind == "document-too-large":
        return "file_size"
    if kind == "document-rejected":
        detail = err.problem.detail or ""
        return "file_pages" if "page" in detail or "pixel" in detail else "file_type"
    return "not_accepted"


def _signature(secret: bytes, claim_id: str, until: int) -> str:
    return hmac.new(secret, f"claimant:{claim_id}:{until}".encode(), hashlib.sha256).hexdigest()


def _session_for(request: Request, claim_id: str) -> bool:
    """The claimant passed the code check for this claim within the last thirty minutes."""
    value = request.cookies.get(COOKIE, "")
    cid, _, rest = value.partition("|")
    until, _, signature = rest.partition("|")
    if cid != claim_id or not until.isdigit() or int(until) < time.time():
        return False
    return hmac.compare_digest(signature, _signature(services_of(request).code_secret, cid, int(until)))


def _csrf(request: Request, claim_id: str) -> str:
    return _signature(services_of(request).code_secret, "csrf:" + claim_id, 0)[:32]


def _portal(request: Request) -> Caller:
    mint = services_of(request).portal_token
    if mint is None:
        raise ProblemError(503, "self-service-not-configured", "Self-service is not set up",
                           "the self-service channel has no token: set CLAIMS_PORTAL_TOKEN_URL, "
                           "CLAIMS_PORTAL_CLIENT_ID and CLAIMS_PORTAL_CLIENT_SECRET")
    return verify(request, mint())


def _language(request: Request) -> str:
    """The page's language: asked for in the link (`?lang=en`, as English claimants' messages link it), else
    as chosen before in this browser, else Chinese."""
    asked = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    return asked if asked in LANGUAGES else DEFAULT_LANGUAGE


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    language = _language(request)
    said = catalog(language)
    problems = {code: said.gettext(message) for code, message in PROBLEMS.items()}
    response = PAGES[language].TemplateResponse(request, name, {"language": language, "problems": problems,
                                                                **context},
                                                status_code=status, headers={"Cache-Control": "no-store"})
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax", path="/c",
                            secure=secure_cookie(request))
    return response


def _pages(language: str) -> Jinja2Templates:
    pages = Jinja2Templates(directory=Path(__file__).parent / "templates")
    translations = catalog(language)
    pages.env.filters.update(filters(language, translations), decision_reason=decision_reason(translations),
                             payout_step=payout_step(translations), clause_name=clause_name(translations))
    pages.env.globals["_"] = template_gettext(translations)
    return pages


PAGES = {language: _pages(language) for language in LANGUAGES}
"""The claimant's pages in each language, with the letters' catalog and filters (letters/i18n.py)."""


@router.get("/{claim_id}", response_class=HTMLResponse)
async def progress_page(request: Request, claim_id: str, sent: str | None = None, uploaded: str | None = None,
                        problem: str | None = None, answered: str | None = None,
                        appealed: str | None = None) -> Response:
    svc = services_of(request)
    if not CLAIM_NUMBER.fullmatch(claim_id):  # no claim has such a number: nothing of it goes into the page
        return _page(request, "claimant_code.html", status=404, claim_id="—", sent=False,
                     problem=catalog(_language(request)).gettext(GONE), sent_to=None, tries_left=None,
                     hotline=svc.hotline)
    said = catalog(_language(request)).gettext(PROBLEMS[problem]) if problem in PROBLEMS else None
    if not _session_for(request, claim_id):
        return _page(request, "claimant_code.html", claim_id=claim_id, sent=sent is not None, problem=said,
                     sent_to=_sent_to(request, claim_id), tries_left=None, hotline=svc.hotline)
    try:
        status = await claim_status_of(svc.client, claim_id)
    except ProblemError as err:
        if err.problem.status != 404:
            raise
        said = catalog(_language(request)).gettext(GONE)
        return _page(request, "claimant_code.html", status=404, claim_id=claim_id, sent=False, problem=said,
                     sent_to=None, tries_left=None, hotline=svc.hotline)
    return _page(request, "claimant.html", claim_id=claim_id, progress=ClaimProgress.of(status),
                 csrf=_csrf(request, claim_id), uploaded=uploaded if uploaded in DOCUMENT_KINDS else None,
                 problem=said, answered=answered is not None, appealed=appealed is not None, hotline=svc.hotline,
                 max_upload_bytes=svc.max_upload_bytes)


TOO_MANY_CODES = N_("Too many codes were asked for from this network. Please try again in an hour, or call us.")


@router.post("/{claim_id}/code", response_class=HTMLResponse)
async def send_code(request: Request, claim_id: str) -> Response:
    """Asks the claim to send a progress code to the phone or e-mail on file. The answer is the same whether or
    not the claim exists or sent a code (its own daily budget for the self-service page may be spent): the page
    tells no stranger which claim numbers exist. An address gets `ANONYMOUS_CODES_PER_HOUR` tries an hour
    (`edge/budget.py`)."""
    if not services_of(request).code_budget.take(request.client.host if request.client else "unknown"):
        return _page(request, "claimant_code.html", status=429, claim_id=claim_id, sent=False,
                     problem=catalog(_language(request)).gettext(TOO_MANY_CODES))
    svc = services_of(request)
    portal = _portal(request)  # a page not set up says so
    destination = await request_progress_code(svc, claim_id, portal)
    response = RedirectResponse(f"/c/{claim_id}?sent=1", status_code=303)
    # Where the code went, for the next page to say: the claim's masked contact, or for a number that is no claim
    # one made from the number (the same each time), so the page tells no stranger which claims exist.
    shown = destination or _decoy(svc.code_secret, claim_id)
    response.set_cookie(SENT_COOKIE, f"{claim_id}|{shown}|{_sent_signature(svc.code_secret, claim_id, shown)}",
                        max_age=SESSION_SECONDS, httponly=True, samesite="strict", path="/c",
                        secure=secure_cookie(request))
    return response


SENT_COOKIE = "claims_code_sent"


def _decoy(secret: bytes, claim_id: str) -> str:
    """A masked contact for a number that is no claim, the same each time: a phone's last four digits, or (as
    about one claimant in eight gives only an e-mail) an e-mail's mask."""
    digest = hmac.new(secret, f"decoy\x1f{claim_id}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    return masked(None, "x@x") if number % 8 == 0 else f"****{number // 8 % 10000:04d}"


def _sent_signature(secret: bytes, claim_id: str, shown: str) -> str:
    return hmac.new(secret, f"code-sent\x1f{claim_id}\x1f{shown}".encode(), hashlib.sha256).hexdigest()


def _sent_to(request: Request, claim_id: str) -> str | None:
    """The masked contact the last code request on this claim named, from its signed cookie."""
    cid, _, rest = request.cookies.get(SENT_COOKIE, "").partition("|")
    shown, _, signature = rest.rpartition("|")
    if cid != claim_id or not shown:
        return None
    expected = _sent_signature(services_of(request).code_secret, claim_id, shown)
    return shown if hmac.compare_digest(signature, expected) else None


@router.post("/{claim_id}/verify", response_class=HTMLResponse)
async def verify_code(request: Request, claim_id: str, code: Annotated[str, Form(max_length=12)]) -> Response:
    svc = services_of(request)
    said = catalog(_language(request))
    typed = code.strip()
    if not (typed.isdigit() and len(typed) == 6):  # nothing is read for a code that cannot be one
        return _page(request, "claimant_code.html", status=422, claim_id=claim_id, sent=True,
                     problem=said.gettext(SIX_DIGITS), sent_to=_sent_to(request, claim_id), tries_left=None,
                     hotline=svc.hotline)
    if not svc.check_budget.take(request.client.host if request.client else "unknown"):
        return _page(request, "claimant_code.html", status=429, claim_id=claim_id, sent=False,
                     problem=said.gettext(TOO_MANY_CODES), sent_to=None, tries_left=None, hotline=svc.hotline)
    checked = await run_in_threadpool(check, svc.engine, svc.code_secret, claim_id, c.CodePurpose.PROGRESS,
                                      typed, datetime.now(UTC))
    if checked == CodeCheck.NONE:
        # As a wrong code, so a number that is no claim reads as one whose code was mistyped once.
        return _page(request, "claimant_code.html", status=403, claim_id=claim_id, sent=True,
                     problem=said.gettext(WRONG_CODE), sent_to=_sent_to(request, claim_id),
                     tries_left=MAX_WRONG_TRIES - 1, hotline=svc.hotline)
    if checked != CodeCheck.OK:  # a wrong code may be typed again; a spent, expired or missing one may not
        left = await run_in_threadpool(tries_left, svc.engine, claim_id, c.CodePurpose.PROGRESS)
        return _page(request, "claimant_code.html", status=403, claim_id=claim_id, sent=checked == CodeCheck.WRONG,
                     problem=said.gettext(CHECK_PROBLEMS.get(checked, WRONG_CODE)),
                     sent_to=_sent_to(request, claim_id), tries_left=left if checked == CodeCheck.WRONG else None,
                     hotline=svc.hotline)
    until = int(time.time()) + SESSION_SECONDS
    response = RedirectResponse(f"/c/{claim_id}", status_code=303)
    response.set_cookie(COOKIE, f"{claim_id}|{until}|{_signature(svc.code_secret, claim_id, until)}",
                        max_age=SESSION_SECONDS, httponly=True, samesite="strict", path="/c",
                        secure=secure_cookie(request))
    return response


@router.post("/{claim_id}/survey", response_class=HTMLResponse)
async def survey(request: Request, claim_id: str, score: Annotated[int, Form(ge=1, le=5)],
                 csrf: Annotated[str, Form(max_length=64)],
                 comment: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """The claimant's answer to the survey, sent to the claim as the self-service channel."""
    svc = services_of(request)
    if not _session_for(request, claim_id):
        return RedirectResponse(f"/c/{claim_id}", status_code=303)
    if not hmac.compare_digest(csrf, _csrf(request, claim_id)):
        raise ProblemError(403, "forbidden", "Forbidden", "csrf: the form is not this page's")
    answer = {"score": score, **({"comment": comment.strip()} if comment.strip() else {})}
    try:
        await send_update(svc, claim_id, ClaimWorkflow.survey_response, answer, _portal(request))
    except ProblemError as err:
        return RedirectResponse(f"/c/{claim_id}?problem={problem_code(err)}", status_code=303)
    return RedirectResponse(f"/c/{claim_id}?answered=1", status_code=303)


@router.post("/{claim_id}/appeal", response_class=HTMLResponse)
async def appeal(request: Request, claim_id: str, reason: Annotated[str, Form(min_length=1, max_length=2000)],
                 csrf: Annotated[str, Form(max_length=64)]) -> Response:
    """The claimant's appeal of a denial or a partial payment, within the appeal window, sent to the claim as the
    self-service channel: a supervisor who took no part in the decision reviews it."""
    svc = services_of(request)
    if not _session_for(request, claim_id):
        return RedirectResponse(f"/c/{claim_id}", status_code=303)
    if not hmac.compare_digest(csrf, _csrf(request, claim_id)):
        raise ProblemError(403, "forbidden", "Forbidden", "csrf: the form is not this page's")
    try:
        await send_update(svc, claim_id, ClaimWorkflow.appeal, {"reason": reason.strip()}, _portal(request))
    except ProblemError as err:
        return RedirectResponse(f"/c/{claim_id}?problem={problem_code(err)}", status_code=303)
    return RedirectResponse(f"/c/{claim_id}?appealed=1", status_code=303)


@router.post("/{claim_id}/documents", response_class=HTMLResponse)
async def upload(request: Request, claim_id: str, kind: Annotated[DocumentKind, Form()],
                 file: Annotated[list[UploadFile], File()], csrf: Annotated[str, Form(max_length=64)]) -> Response:
    """One item's files (several photos of the damage, say), each stored and sent to the claim as that item."""
    svc = services_of(request)
    if not _session_for(request, claim_id):
        return RedirectResponse(f"/c/{claim_id}", status_code=303)
    if not hmac.compare_digest(csrf, _csrf(request, claim_id)):
        raise ProblemError(403, "forbidden", "Forbidden", "csrf: the form is not this page's")
    if not file or len(file) > FILES_PER_ITEM:
        return RedirectResponse(f"/c/{claim_id}?problem=file_count", status_code=303)
    portal = _portal(request)
    for one in file:
        content = await one.read(svc.max_upload_bytes + 1)
        try:
            await store_and_submit(svc, claim_id, kind, content, one.content_type, svc.max_upload_bytes, portal)
        except ProblemError as err:
            return RedirectResponse(f"/c/{claim_id}?problem={problem_code(err)}", status_code=303)
    return RedirectResponse(f"/c/{claim_id}?uploaded={kind}", status_code=303)


FILES_PER_ITEM = 10
"""The most files one upload may carry for one item (photos of the damage, pages of a bill)."""
