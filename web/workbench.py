"""The staff workbench (`/app`): the claims queue and the claim page, server-rendered by the API process.

Staff sign in on `/sign-in` (their identity provider's token; with the development issuer, a list of demo staff
to choose from). The session cookie carries their token; every action is sent to the claim's workflow with it as
the update's `credential`, exactly as the JSON API does, so the workflow decides who may do what and the page
only shows its answer. Forms carry a token derived from the session (against cross-site requests, on top of the
cookie's SameSite=Strict).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from client.claims import UpdateMethod, claims_matching, worklist_query
from core.rules.authority import RANK
from documents.uploads import sniff
from edge import auth
from edge.auth import Caller
from edge.claims import claim_status_of, send_update
from edge.problems import ProblemError, not_found
from edge.services import secure_cookie, services_of
from identity.codes import MAX_WRONG_TRIES, claimant_key, search_key
from letters.i18n import LANGUAGES, N_, catalog, template_gettext
from models import contract as c
from models.documents import FIELDS, READ_KINDS, DocumentReading, DocumentRules
from models.tables import Claim, ClaimDocument, VerificationCode
from reporting import finance
from reporting.charts import CHARTS, DRAW_CHARTS, chart_options, charts_json
from reporting.reports import build_daily_report
from web.names import QUEUE_NAMES, money, staff_words
from workflows.claim import ClaimWorkflow

router = APIRouter(prefix="/app", tags=["workbench"], include_in_schema=False)

STAFF_LANGUAGE = "claims_staff_language"
"""The staff member's language for the workbench, chosen with its switch (`?lang=en`); Chinese by default."""


def _templates(language: str) -> Jinja2Templates:
    pages = Jinja2Templates(directory=Path(__file__).parent / "templates")
    pages.env.filters.update(staff_words(language))
    pages.env.globals["_"] = template_gettext(catalog(language))
    return pages


TEMPLATES = {language: _templates(language) for language in LANGUAGES}


def staff_language(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(STAFF_LANGUAGE)
    return asked if asked in LANGUAGES else "zh-CN"


def gettext_of(request: Request) -> Any:
    return catalog(staff_language(request)).gettext

DECIDING_ROLES = (c.Role.MANAGER, c.Role.SUPERVISOR, c.Role.ADJUSTER)
QUEUES = {  # each role's queue: the stages whose work is theirs
    "service": ("registered", "awaiting_documents"), "investigator": ("investigating",),
    "adjuster": ("adjusting", "awaiting_approval"), "supervisor": ("awaiting_approval",),
    "manager": ("awaiting_approval",), "finance": ("paying",),
}
class SignInNeeded(Exception):
    """The page needs a signed-in staff member: answered with a redirect to the sign-in page."""


def staff_session(request: Request) -> Caller:
    token = request.cookies.get(auth.SESSION_COOKIE)
    if not token:
        raise SignInNeeded
    try:
        caller = auth.verify(request, token)
    except ProblemError:
        raise SignInNeeded from None
    if not caller.is_staff:
        raise SignInNeeded
    return caller


def csrf_token(request: Request, caller: Caller) -> str:
    secret: bytes = services_of(request).code_secret
    return hmac.new(secret, b"csrf:" + caller.token.encode(), hashlib.sha256).hexdigest()[:32]


def deciding_role(caller: Caller) -> c.Role | None:
    """The highest deciding role the person holds: the role their approvals carry."""
    return next((r for r in DECIDING_ROLES if r.value in caller.roles), None)


def page(request: Request, name: str, caller: Caller | None, status: int = 200, **context: Any) -> HTMLResponse:
    language = staff_language(request)
    response = TEMPLATES[language].TemplateResponse(
        request, name, {"caller": caller, "language": language, **context}, status_code=status,
        headers={"Cache-Control": "no-store"})
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(STAFF_LANGUAGE, language, max_age=365 * 86400, samesite="lax", path="/",
                            secure=secure_cookie(request))
    return response


PAGE_SIZE = 50
"""Claims a queue page shows."""


@router.get("", response_class=HTMLResponse)
async def queue(request: Request, stage: str | None = None, overdue: bool = False, queue: str | None = None,
                q: Annotated[str | None, Query(max_length=64)] = None,
                page_number: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1) -> Response:
    """A role's queue (the signed-in person's first, by default): the claims at its stages, and for the deciding
    roles only those it may decide; or every open claim (`queue=all`), nearest deadline first; overdue ones marked;
    counts per stage. `q` finds claims, open or closed, by claim number, policy number, the claimant's full name or
    phone number (kept keyed: the list shows them masked)."""
    caller = staff_session(request)
    mine = [name for name in QUEUES if name in caller.roles]
    chosen = queue if queue in QUEUES or queue == "all" else (mine[0] if mine and stage is None and not q else "all")
    now = datetime.now(UTC)
    services = services_of(request)
    found = await claims_matching(services.client, worklist_query(None, None, False, None, now))
    open_rows = [r for r in found if r["stage"] != c.Stage.CLOSED.value]  # open means open: closed claims wait for
    # their appeal window in Temporal, not for anyone's work
    counts: dict[str, int] = {}
    for row in open_rows:
        counts[row["stage"] or "registered"] = counts.get(row["stage"] or "registered", 0) + 1
    if q and q.strip():
        rows = [_row_of(fact) for fact in await run_in_threadpool(
            _search, services.engine, services.code_secret, q.strip())]
    else:
        ids = [r["workflow_id"].removeprefix("claim-") for r in open_rows]
        by_id = {f.claim_id: f for f in await run_in_threadpool(_read_model, services.engine, ids)}
        rows = []
        for row in open_rows:
            row["claim_id"] = row["workflow_id"].removeprefix("claim-")
            row["overdue"] = bool(row["breached"]) or (row["sla_due_at"] is not None and row["sla_due_at"] < now)
            fact = by_id.get(row["claim_id"])
            row["handler"] = (fact.handler if fact else None) or row["assigned_to"]
            row["to_decide"] = fact.payout_amount if fact and row["stage"] == c.Stage.AWAITING_APPROVAL.value else None
            row["deciding_role"] = fact.deciding_role if fact else None
            row["claimant"] = fact.claimant_masked if fact else None
            rows.append(row)
        stages = QUEUES.get(chosen or "all")
        rows = [r for r in rows if (stage is None or r["stage"] == stage) and (not overdue or r["overdue"])
                and (stages is None or r["stage"] in stages) and _may_decide(chosen, r)]
    shown = rows[(page_number - 1) * PAGE_SIZE: page_number * PAGE_SIZE]

    def page_link(number: int) -> str:
        kept = {k: v for k, v in request.query_params.items() if k != "page"}
        return "/app?" + urlencode({**kept, "page": number})

    done = request.query_params.get("done")
    return page(request, "queue.html", caller, rows=shown, counts=counts, stage=stage, overdue=overdue,
                queue=chosen, queues=list(QUEUE_NAMES), mine=mine, q=q, page_number=page_number,
                more=len(rows) > page_number * PAGE_SIZE, page_link=page_link,
                done=gettext_of(request)(DONE[done]) if done in DONE else None,
                assigns=bool({"supervisor", "manager"} & set(caller.roles)), csrf=csrf_token(request, caller))


def _may_decide(queue: str | None, row: dict[str, Any]) -> bool:
    """A deciding role's queue holds the claims awaiting approval that it may decide: at or below its tier."""
    if queue not in DECIDING or row["stage"] != c.Stage.AWAITING_APPROVAL.value or row["deciding_role"] is None:
        return True
    return RANK[c.Role(row["deciding_role"])] <= RANK[c.Role(queue)]


DECIDING = {"adjuster", "supervisor", "manager"}


def _row_of(fact: Claim) -> dict[str, Any]:
    return {"claim_id": fact.claim_id, "stage": fact.stage, "type": fact.claim_type, "risk": fact.risk_level,
            "to_decide": fact.payout_amount if fact.stage == c.Stage.AWAITING_APPROVAL.value else None,
            "amount": fact.claimed_amount, "handler": fact.handler, "sla_due_at": None, "overdue": False,
            "claimant": fact.claimant_masked, "deciding_role": fact.deciding_role, "catastrophe": fact.catastrophe}


def _search(engine: Engine, secret: bytes, text: str) -> list[Claim]:
    """Claims whose number contains the text, or whose policy number, claimant name or phone is the text."""
    key = claimant_key(search_key(secret), text)
    with Session(engine) as session:
        return list(session.exec(select(Claim).where(or_(
            col(Claim.claim_id).contains(text, autoescape=True), col(Claim.policy_number) == text,
            col(Claim.name_key) == key, col(Claim.phone_key) == key))
            .order_by(col(Claim.registered_at).desc()).limit(500)).all())


CONFIRM_ABOVE = Decimal("50000")
"""A payout from this amount up is approved only with a confirmation and a comment, whatever its risk."""


def confirmation_reasons(claim: c.ClaimStatus, gettext: Any = None) -> list[str]:
    """Why approving this claim needs a second, deliberate step (a required comment and a confirmation): a high
    risk, a flagged document, documents a person has yet to read, or a large payout. Empty when one click will do."""
    gettext = gettext or catalog("zh-CN").gettext
    reasons = []
    if claim.risk is not None and claim.risk.level == "high":
        reasons.append(gettext(N_("a high risk (%(score)s points)")) % {"score": claim.risk.score})
    if claim.risk is not None and any(r.rule in ("reused_document", "invoice_total_mismatch", "reused_invoice")
                                      for r in claim.risk.reasons):
        reasons.append(gettext(N_("a document is flagged (used before, or its amount does not match)")))
    if claim.document_review:
        reasons.append(gettext(N_("%(count)s documents for a person to read")) % {"count": len(claim.document_review)})
    if claim.payout is not None and claim.payout.total >= CONFIRM_ABOVE:
        reasons.append(gettext(N_("a payout of %(amount)s or more")) % {"amount": money(CONFIRM_ABOVE)})
    return reasons


def _read_model(engine: Engine, claim_ids: list[str]) -> list[Claim]:
    """The claims' rows of the read model: handler, the payout awaiting decision, who decides, the claimant
    masked."""
    if not claim_ids:
        return []
    with Session(engine) as session:
        return list(session.exec(select(Claim).where(col(Claim.claim_id).in_(claim_ids))).all())


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request, day: date | None = None) -> Response:
    """The daily report's figures as charts (today's, in the report timezone), drawn by the browser from the
    figures the page carries."""
    caller = staff_session(request)
    services = services_of(request)
    day = day or datetime.now(ZoneInfo(services.report_timezone)).date()
    report = await run_in_threadpool(build_daily_report, services.engine, day, services.report_timezone)
    return page(request, "dashboard.html", caller, report=report, charts=charts_json(chart_options(report)),
                chart_names=CHARTS, draw=Markup(DRAW_CHARTS))


FINANCE_ROLES = frozenset({"finance", "manager"})
"""Who may open the finance page and its download: the roles the finance API (`GET /finance/claims`) serves."""
TOTALS = (("paid_in_month", N_("Paid in the month")), ("paid", N_("Paid up to the month's end")),
          ("reserve", N_("Case reserves at the month's end")),
          ("recovered_in_month", N_("Recoveries received in the month")),
          ("recovered", N_("Recoveries received up to the month's end")),
          ("recovery_reserve", N_("Recovery reserves at the month's end")),
          ("written_off", N_("Written off up to the month's end")),
          ("incurred", N_("Incurred (net) at the month's end")),
          ("gross_incurred", N_("Incurred (gross) at the month's end")))
"""The finance page's totals, in the order shown: each figure of `reporting.finance.ClaimFigures` summed over the
claims, and what was paid and recovered within the month (the change since the previous month's end)."""
FIGURE_NAMES = {"paid": N_("paid losses"), "incurred": N_("incurred losses (net)")}


def previous_month(month: str) -> str | None:
    """The month before `month` (YYYY-MM), or None before the first month figures are taken for."""
    first = finance.parse_month(month)
    year, number = (first.year - 1, 12) if first.month == 1 else (first.year, first.month - 1)
    return None if year < finance.FIRST_YEAR else f"{year:04d}-{number:02d}"


def month_totals(figures: list[finance.ClaimFigures], before: list[finance.ClaimFigures]) -> dict[str, Decimal]:
    """The totals of `TOTALS`: the month's figures summed over the claims, and the paid and recovered of the month
    (less those of `before`, the previous month's end)."""
    def total(rows: list[finance.ClaimFigures], name: str) -> Decimal:
        return sum((getattr(f, name) for f in rows), finance.ZERO)

    sums = {name: total(figures, name) for name in finance.AMOUNTS}
    return {**sums, "paid_in_month": sums["paid"] - total(before, "paid"),
            "recovered_in_month": sums["recovered"] - total(before, "recovered")}


def _finance_figures(engine: Engine, month: str, zone: str) -> tuple[
        dict[str, Decimal], dict[str, dict[finance.Figure, finance.Estimate]]]:
    """The month's totals, and each product's triangles with their chain-ladder estimates."""
    earlier = previous_month(month)
    totals = month_totals(finance.month_end(engine, month, zone),
                          finance.month_end(engine, earlier, zone) if earlier else [])
    return totals, finance.estimated(finance.triangles(engine, month, zone))


def _amount(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def triangle_views(estimates: dict[str, dict[finance.Figure, finance.Estimate]], month: str,
                   gettext: Any, type_name: Any) -> list[dict[str, Any]]:
    """Each product's triangles as the page shows them: the cells, the factors, and per origin the latest figure,
    the ultimate and the IBNR (to the cent, as the JSON export gives them), with the totals and the words around
    them."""
    products = []
    for index, (product, by_figure) in enumerate(estimates.items()):
        views = []
        for figure, estimate in by_figure.items():
            shown = estimate.as_json()
            words = {"figure": gettext(FIGURE_NAMES[figure]), "product": type_name(product), "month": month}
            views.append({
                "figure": figure, "chart": f"triangle-{index}-{figure}", "heading": gettext(
                    N_("%(product)s: %(figure)s")) % words,
                "title": gettext(N_("%(product)s: %(figure)s by accident month")) % words,
                "caption": gettext(N_(
                    "%(product)s, %(figure)s as at the end of %(month)s: cumulative by accident month (rows) and "
                    "development month (columns), with the development factors and the chain-ladder IBNR")) % words,
                "origins": shown["origins"], "ages": shown["developments"],
                "cells": [[None if v is None else Decimal(v) for v in row] for row in shown["values"]],
                "factors": shown["ldf"], "latest": [Decimal(v) for v in shown["latest"]],
                "ultimates": [Decimal(v) for v in shown["ultimates"]], "ibnr": [Decimal(v) for v in shown["ibnr"]],
                "total_latest": sum((Decimal(v) for v in shown["latest"]), finance.ZERO),
                "total_ultimate": Decimal(shown["total_ultimate"]), "total_ibnr": Decimal(shown["total_ibnr"])})
        products.append({"product": product, "name": type_name(product), "triangles": views,
                         "heading": gettext(N_("%(product)s: loss development and IBNR")) % {
                             "product": type_name(product)}})
    return products


def finance_charts(totals: dict[str, Decimal], products: list[dict[str, Any]], month: str,
                   gettext: Any) -> dict[str, dict[str, Any]]:
    """The finance page's ECharts options, carrying the figures themselves (as the dashboard's do): the month's
    totals as bars, and each triangle as a line per accident month across the development months."""
    charts: dict[str, dict[str, Any]] = {"totals": {
        "title": {"text": gettext(N_("Totals of %(month)s")) % {"month": month}, "textStyle": {"fontSize": 14}},
        "tooltip": {}, "grid": {"left": 90, "right": 20, "bottom": 90},
        "xAxis": {"type": "category", "data": [gettext(label) for _key, label in TOTALS],
                  "axisLabel": {"interval": 0, "rotate": 20}},
        "yAxis": {"type": "value", "name": "¥"},
        "series": [{"name": gettext(N_("Amount")), "type": "bar",
                    "data": [_amount(totals[key]) for key, _label in TOTALS]}]}}
    for product in products:
        for view in product["triangles"]:
            charts[view["chart"]] = {
                "title": {"text": view["title"], "textStyle": {"fontSize": 14}}, "tooltip": {"trigger": "axis"},
                "legend": {"bottom": 0, "type": "scroll"}, "grid": {"left": 90, "right": 30, "bottom": 80},
                "xAxis": {"type": "category", "name": gettext(N_("Development month")), "nameLocation": "middle",
                          "nameGap": 28, "data": [str(age) for age in view["ages"]]},
                "yAxis": {"type": "value", "name": "¥"},
                "series": [{"name": origin, "type": "line", "data": [_amount(v) for v in row]}
                           for origin, row in zip(view["origins"], view["cells"], strict=True)]}
    for options in charts.values():
        options["animation"] = False
    return charts


def _finance_month(request: Request, month: str | None) -> str:
    """The month asked, or the current one in the report time zone."""
    zone = services_of(request).report_timezone
    return month if month is not None else datetime.now(ZoneInfo(zone)).strftime("%Y-%m")


FINANCE_REFUSED = N_("The finance page is for finance staff and managers.")
BAD_MONTH = N_("Choose a month: it is written year-month, for example 2026-11.")


def _finance_caller(request: Request, month: str | None) -> tuple[Caller, str | Response]:
    """The signed-in caller and the month asked (the current one by default); instead of the month, the page that
    refuses someone not in finance or management (403), or a month that cannot be read (400)."""
    caller = staff_session(request)
    gettext = gettext_of(request)
    if not caller.roles & FINANCE_ROLES:
        return caller, page(request, "finance.html", caller, status=403, problem=gettext(FINANCE_REFUSED),
                            refused=True)
    asked = _finance_month(request, month)
    try:
        finance.parse_month(asked)
    except ValueError:
        return caller, page(request, "finance.html", caller, status=400, problem=gettext(BAD_MONTH), month=None)
    return caller, asked


@router.get("/finance", response_class=HTMLResponse)
async def finance_page(request: Request, month: str | None = None) -> Response:
    """The financial ledger's figures as at the end of `month` (YYYY-MM; the current month in the report time
    zone by default), for finance staff and managers: the month's totals, and per product the paid and incurred
    triangles with the chain-ladder IBNR, as charts drawn by the browser from the figures the page carries and as
    tables (docs/finance.md)."""
    caller, asked = _finance_caller(request, month)
    if isinstance(asked, Response):
        return asked
    gettext, services, first = gettext_of(request), services_of(request), finance.parse_month(asked)
    totals, estimates = await run_in_threadpool(_finance_figures, services.engine, asked, services.report_timezone)
    products = triangle_views(estimates, asked, gettext, staff_words(staff_language(request))["type_name"])
    charts = finance_charts(totals, products, asked, gettext)
    return page(request, "finance.html", caller, month=asked, totals=[(key, gettext(label), totals[key])
                                                                      for key, label in TOTALS],
                products=products, cut=finance.month_cut(first, services.report_timezone),
                charts=charts_json(charts), chart_names=list(charts), titles={
                    name: options["title"]["text"] for name, options in charts.items()},
                draw=Markup(DRAW_CHARTS))


@router.get("/finance/claims.csv")
async def finance_csv(request: Request, month: str | None = None) -> Response:
    """Each claim's figures as at the end of `month`, as the finance API's CSV (`GET /finance/claims?format=csv`):
    the finance page's download, for the same roles."""
    _, asked = _finance_caller(request, month)
    if isinstance(asked, Response):
        return asked
    services = services_of(request)
    figures = await run_in_threadpool(finance.month_end, services.engine, asked, services.report_timezone)
    return Response(finance.figures_csv(figures).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="claims-{asked}.csv"',
                             "Cache-Control": "no-store"})


@router.get("/claims/{claim_id}", response_class=HTMLResponse)
async def claim_page(request: Request, claim_id: str, done: str | None = None) -> Response:
    """The claim; after an action (`?done=<action>`) a note that it was sent, named from the page's own list of
    actions: an address cannot put words of its own on the page."""
    caller = staff_session(request)
    refused = _flash(request, caller, claim_id)
    words = staff_words(staff_language(request))
    said = None if refused is None else words["refusal"](*refused.split("|", 1)) if "|" in refused else refused
    done_text = gettext_of(request)(DONE[done]) if done in DONE else None
    page_ = await _claim(request, caller, claim_id, done=done_text, problem=said)
    if refused is not None:
        page_.delete_cookie(FLASH_COOKIE, path=f"/app/claims/{claim_id}")
    return page_


FLASH_COOKIE = "claims_refused"
"""Why the last action on a claim page was refused, for the page the browser is sent back to (Post/Redirect/Get: a
reload never sends the form again). Signed, so only this server's words are shown."""


def _flash_signature(request: Request, caller: Caller, claim_id: str, text: str) -> str:
    secret: bytes = services_of(request).code_secret
    material = b"flash:" + caller.token.encode() + b"|" + claim_id.encode() + b"|" + text.encode()
    return hmac.new(secret, material, hashlib.sha256).hexdigest()[:32]


def _refused_redirect(request: Request, caller: Caller, claim_id: str, text: str) -> Response:
    text = text[:600]
    response = RedirectResponse(f"/app/claims/{claim_id}", status_code=303)
    value = base64.urlsafe_b64encode(text.encode()).decode() + "." + _flash_signature(request, caller, claim_id, text)
    response.set_cookie(FLASH_COOKIE, value, max_age=120, httponly=True, samesite="strict",
                        secure=secure_cookie(request), path=f"/app/claims/{claim_id}")
    return response


def _flash(request: Request, caller: Caller, claim_id: str) -> str | None:
    encoded, _, signature = (request.cookies.get(FLASH_COOKIE) or "").partition(".")
    try:
        text = base64.urlsafe_b64decode(encoded.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not text or not hmac.compare_digest(signature, _flash_signature(request, caller, claim_id, text)):
        return None
    return text


async def _claim(request: Request, caller: Caller, claim_id: str, status: int = 200, **context: Any) -> HTMLResponse:
    try:
        claim = await claim_status_of(services_of(request).client, claim_id)
    except ProblemError as err:
        if err.problem.status != 404:
            raise
        return page(request, "missing.html", caller, status=404, claim_id=claim_id)
    mine = deciding_role(caller)
    rule = None
    if claim.stage == c.Stage.AWAITING_APPROVAL and claim.required_role is not None:
        if mine is None or RANK[mine] < RANK[claim.required_role]:
            rule = (claim.required_role.value, mine.value if mine else None)
    documents = await run_in_threadpool(_documents_of, services_of(request).engine, claim_id)
    codes = await run_in_threadpool(_codes_of, services_of(request).engine, claim_id)
    summary = await run_in_threadpool(_summary_of, services_of(request).engine, claim_id)
    readings = {r["ref"]: DocumentReading.model_validate(r) for r in claim.document_readings}
    return page(request, "claim.html", caller, status=status, claim=claim, rule=rule, role=mine,
                confirm=confirmation_reasons(claim, gettext_of(request)), summary=summary,
                csrf=csrf_token(request, caller), documents=documents, readings=readings, codes=codes,
                max_tries=MAX_WRONG_TRIES,
                reading_fields={kind: FIELDS[layout] for kind, layout in READ_KINDS.items()},
                min_confidence=DocumentRules().min_confidence, **context)


def _summary_of(engine: Engine, claim_id: str) -> Claim | None:
    """The claim's read model: policy, period, incident date, amounts, for the page's summary."""
    with Session(engine) as session:
        return session.get(Claim, claim_id)


def _codes_of(engine: Engine, claim_id: str) -> list[VerificationCode]:
    """The one-time codes sent for the claim, with their wrong tries: staff see a claimant locked out, or someone
    guessing."""
    with Session(engine) as session:
        return list(session.exec(select(VerificationCode).where(VerificationCode.claim_id == claim_id)
                                 .order_by(col(VerificationCode.issued_at))).all())


def _documents_of(engine: Engine, claim_id: str) -> list[ClaimDocument]:
    with Session(engine) as session:
        return list(session.exec(select(ClaimDocument).where(ClaimDocument.claim_id == claim_id)
                                 .order_by(col(ClaimDocument.submitted_at))).all())


@router.get("/documents/{sha256}")
async def document_file(request: Request, sha256: str) -> Response:
    """A stored document, for staff: only one some claim was given (a content address alone opens nothing
    else), shown inline with its own media type and never sniffed into another."""
    staff_session(request)
    services = services_of(request)
    if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
        raise not_found("no such document")
    ref = f"doc://sha256/{sha256}"
    with Session(services.engine) as session:
        if session.exec(select(ClaimDocument).where(ClaimDocument.ref == ref)).first() is None:
            raise not_found("no claim was given this document")
    content = await run_in_threadpool(services.store.get, sha256)
    media_type = sniff(content) or "application/octet-stream"
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'inline; filename="{sha256[:12]}"', "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; frame-ancestors 'self'"})


ACTIONS: dict[str, UpdateMethod[Any]] = {
    "approve": ClaimWorkflow.approve, "reject": ClaimWorkflow.reject, "correct": ClaimWorkflow.correct_document_field,
    "record_recovery": ClaimWorkflow.record_recovery, "write_off_recovery": ClaimWorkflow.write_off_recovery,
    "assign": ClaimWorkflow.assign, "set_reserve": ClaimWorkflow.set_reserve,
    "open_recovery": ClaimWorkflow.open_recovery}
"""The claim page's forms and the update each sends."""
DONE = {"approve": N_("Approved"), "reject": N_("Rejected"), "correct": N_("The reading is corrected"),
        "record_recovery": N_("The repayment is recorded"), "write_off_recovery": N_("Written off"),
        "assign": N_("The handler is assigned"), "set_reserve": N_("The reserve is set"),
        "open_recovery": N_("The recovery is opened")}
"""What the page says an action did, once sent."""


@router.post("/claims/{claim_id}/{action}", response_class=HTMLResponse)
async def act(request: Request, claim_id: str, action: str, csrf: Annotated[str, Form()],
              comment: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
              clause: Annotated[str, Form()] = "") -> Response:
    caller = staff_session(request)
    if not hmac.compare_digest(csrf, csrf_token(request, caller)):
        return await _claim(request, caller, claim_id, status=403,
                            problem=gettext_of(request)(N_("The form expired: send it again")))
    role = deciding_role(caller)
    payloads: dict[str, dict[str, Any]] = {
        "approve": {"approver_id": caller.sender.subject, "role": role.value if role else "adjuster",
                    "comment": comment},
        "reject": {"approver_id": caller.sender.subject, "role": role.value if role else "adjuster",
                   "reason": reason, "clause": clause},
    }
    form = await request.form()
    if action == "correct":
        payloads[action] = {"ref": str(form.get("ref", "")), "field": str(form.get("field", "")),
                            "value": str(form.get("value", "")), "by": caller.sender.subject,
                            "role": role.value if role else "adjuster"}
    elif action == "record_recovery":
        payloads[action] = {"number": str(form.get("number", "")) or None, "amount": str(form.get("amount", "")),
                            "reference": str(form.get("reference", "")), "by": caller.sender.subject,
                            "kind": str(form.get("kind", "")) or "overpayment"}
    elif action == "set_reserve":
        payloads[action] = {"amount": str(form.get("amount", "")), "reason": reason, "by": caller.sender.subject,
                            "role": role.value if role else "adjuster"}
    elif action == "open_recovery":
        kind, named = str(form.get("kind", "")), str(form.get("party", "")).strip() or None
        payloads[action] = {"kind": kind, "amount": str(form.get("amount", "")), "reason": reason,
                            "by": caller.sender.subject, "role": role.value if role else "adjuster",
                            "party" if kind == "subrogation" else "item": named}
    elif action == "assign":
        payloads[action] = {"handler_id": str(form.get("handler_id", "")).strip(), "by": caller.sender.subject}
    elif action == "write_off_recovery":
        payloads[action] = {"number": str(form.get("number", "")) or None, "reason": reason,
                            "by": caller.sender.subject, "kind": str(form.get("kind", "")) or "overpayment"}
    if action not in payloads:
        return await _claim(request, caller, claim_id, status=404,
                            problem=gettext_of(request)(N_("This page has no such action")))
    if action == "approve" and (form.get("confirmed") != "yes" or not comment.strip()) and confirmation_reasons(
            await claim_status_of(services_of(request).client, claim_id)):
        return _refused_redirect(request, caller, claim_id, gettext_of(request)(
            N_("Approving this claim needs the confirmation ticked and a comment (see the notes by the decision)")))
    try:
        await send_update(services_of(request), claim_id, ACTIONS[action], payloads[action], caller)
    except ProblemError as err:
        kind = err.problem.title
        return _refused_redirect(request, caller, claim_id, f"{kind}|{err.problem.detail or err.problem.title}")
    if form.get("back") == "queue":  # assigned from the queue: back to the list, which names what was done
        return RedirectResponse(f"/app?queue=all&done={action}", status_code=303)
    return RedirectResponse(f"/app/claims/{claim_id}?done={action}", status_code=303)
