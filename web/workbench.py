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
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
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
from models import contract as c
from models.documents import FIELD_NAMES, FIELDS, READ_KINDS, DocumentReading, DocumentRules
from models.tables import Claim, ClaimDocument
from reporting.charts import CHARTS, DRAW_CHARTS, chart_options, charts_json
from reporting.reports import build_daily_report
from web.names import (
    DOCUMENT_NAMES,
    OUTCOME_NAMES,
    QUEUE_NAMES,
    RECOVERY_REASON_NAMES,
    RECOVERY_STATUS_NAMES,
    RISK_NAMES,
    ROLE_NAMES,
    STAGE_NAMES,
    TYPE_NAMES,
    clock_name,
    event_name,
    money,
    payout_step,
    risk_rule,
    when,
)
from workflows.claim import ClaimWorkflow

router = APIRouter(prefix="/app", tags=["workbench"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

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


templates.env.filters.update(money=money, when=when, local=when, event_name=event_name, clock_name=clock_name,
                             risk_rule=risk_rule, payout_step=payout_step)
templates.env.globals.update(FIELD_NAMES=FIELD_NAMES, DOCUMENT_NAMES=DOCUMENT_NAMES, STAGE_NAMES=STAGE_NAMES,
                             OUTCOME_NAMES=OUTCOME_NAMES, ROLE_NAMES=ROLE_NAMES, TYPE_NAMES=TYPE_NAMES,
                             RISK_NAMES=RISK_NAMES,
                             RECOVERY_STATUS_NAMES=RECOVERY_STATUS_NAMES, RECOVERY_REASON_NAMES=RECOVERY_REASON_NAMES)


def page(request: Request, name: str, caller: Caller | None, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"caller": caller, **context}, status_code=status,
                                      headers={"Cache-Control": "no-store"})


@router.get("", response_class=HTMLResponse)
async def queue(request: Request, stage: str | None = None, overdue: bool = False,
                queue: str | None = None) -> Response:
    """A role's queue (the signed-in person's first, by default), or every open claim (`queue=all`), nearest
    deadline first; overdue ones marked; counts per stage."""
    caller = staff_session(request)
    mine = [q for q in QUEUES if q in caller.roles]
    chosen = queue if queue in QUEUES or queue == "all" else (mine[0] if mine and stage is None else "all")
    now = datetime.now(UTC)
    services = services_of(request)
    found = await claims_matching(services.client, worklist_query(None, None, False, None, now))
    rows = [r for r in found if r["stage"] != c.Stage.CLOSED.value]  # open means open: closed claims wait for
    # their appeal window in Temporal, not for anyone's work
    ids = [r["workflow_id"].removeprefix("claim-") for r in rows]
    facts = await run_in_threadpool(_read_model, services.engine, ids)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["stage"] or "registered"] = counts.get(row["stage"] or "registered", 0) + 1
        row["claim_id"] = row["workflow_id"].removeprefix("claim-")
        row["overdue"] = bool(row["breached"]) or (row["sla_due_at"] is not None and row["sla_due_at"] < now)
        handler, payout = facts.get(row["claim_id"], (None, None))
        row["handler"] = handler or row["assigned_to"]
        row["to_decide"] = payout if row["stage"] == c.Stage.AWAITING_APPROVAL.value else None
    stages = QUEUES.get(chosen or "all")
    shown = [r for r in rows if (stage is None or r["stage"] == stage) and (not overdue or r["overdue"])
             and (stages is None or r["stage"] in stages)]
    return page(request, "queue.html", caller, rows=shown, counts=counts, stage=stage, overdue=overdue,
                queue=chosen, queues=QUEUE_NAMES, mine=mine)


CONFIRM_ABOVE = Decimal("50000")
"""A payout from this amount up is approved only with a confirmation and a comment, whatever its risk."""


def confirmation_reasons(claim: c.ClaimStatus) -> list[str]:
    """Why approving this claim needs a second, deliberate step (a required comment and a confirmation): a high
    risk, a flagged document, documents a person has yet to read, or a large payout. Empty when one click will do."""
    reasons = []
    if claim.risk is not None and claim.risk.level == "high":
        reasons.append(f"风险等级高（{claim.risk.score}分）")
    if claim.risk is not None and any(r.rule in ("reused_document", "invoice_total_mismatch", "reused_invoice")
                                      for r in claim.risk.reasons):
        reasons.append("有材料被标记（重复使用或金额不符）")
    if claim.document_review:
        reasons.append(f"有{len(claim.document_review)}项材料需人工核阅")
    if claim.payout is not None and claim.payout.total >= CONFIRM_ABOVE:
        reasons.append(f"赔付金额达 {money(CONFIRM_ABOVE)} 以上")
    return reasons


def _read_model(engine: Engine, claim_ids: list[str]) -> dict[str, tuple[str | None, Decimal | None]]:
    """Each claim's handler and the payout awaiting decision, from the read model."""
    if not claim_ids:
        return {}
    with Session(engine) as session:
        found = session.exec(select(Claim).where(col(Claim.claim_id).in_(claim_ids))).all()
    return {row.claim_id: (row.handler, row.payout_amount) for row in found}


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


@router.get("/claims/{claim_id}", response_class=HTMLResponse)
async def claim_page(request: Request, claim_id: str, done: str | None = None) -> Response:
    """The claim; after an action (`?done=<action>`) a note that it was sent, named from the page's own list of
    actions: an address cannot put words of its own on the page."""
    caller = staff_session(request)
    refused = _flash(request, caller, claim_id)
    page_ = await _claim(request, caller, claim_id, done=DONE.get(done or ""), problem=refused)
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
            rule = (f"此案需{ROLE_NAMES[claim.required_role.value]}审批，您的角色无此权限 · needs a "
                    f"{claim.required_role.value}'s approval; yours is {mine.value if mine else 'none'}")
    documents = await run_in_threadpool(_documents_of, services_of(request).engine, claim_id)
    summary = await run_in_threadpool(_summary_of, services_of(request).engine, claim_id)
    readings = {r["ref"]: DocumentReading.model_validate(r) for r in claim.document_readings}
    return page(request, "claim.html", caller, status=status, claim=claim, rule=rule, role=mine,
                confirm=confirmation_reasons(claim), summary=summary,
                csrf=csrf_token(request, caller), documents=documents, readings=readings,
                reading_fields={kind: FIELDS[layout] for kind, layout in READ_KINDS.items()},
                min_confidence=DocumentRules().min_confidence, **context)


def _summary_of(engine: Engine, claim_id: str) -> Claim | None:
    """The claim's read model: policy, period, incident date, amounts, for the page's summary."""
    with Session(engine) as session:
        return session.get(Claim, claim_id)


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
        "Cache-Control": "private, no-store", "Content-Security-Policy": "default-src 'none'; img-src 'self'"})


ACTIONS: dict[str, UpdateMethod[Any]] = {
    "approve": ClaimWorkflow.approve, "reject": ClaimWorkflow.reject, "correct": ClaimWorkflow.correct_document_field,
    "record_recovery": ClaimWorkflow.record_recovery, "write_off_recovery": ClaimWorkflow.write_off_recovery}
"""The claim page's forms and the update each sends."""
DONE = {"approve": "已批准", "reject": "已拒赔", "correct": "已更正识别结果", "record_recovery": "已登记追回款",
        "write_off_recovery": "已核销"}
"""What the page says an action did, once sent."""


@router.post("/claims/{claim_id}/{action}", response_class=HTMLResponse)
async def act(request: Request, claim_id: str, action: str, csrf: Annotated[str, Form()],
              comment: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
              clause: Annotated[str, Form()] = "") -> Response:
    caller = staff_session(request)
    if not hmac.compare_digest(csrf, csrf_token(request, caller)):
        return await _claim(request, caller, claim_id, status=403, problem="表单已过期，请重试 · the form expired")
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
                            "reference": str(form.get("reference", "")), "by": caller.sender.subject}
    elif action == "write_off_recovery":
        payloads[action] = {"number": str(form.get("number", "")) or None, "reason": reason,
                            "by": caller.sender.subject}
    if action not in payloads:
        return await _claim(request, caller, claim_id, status=404, problem=f"unknown action {action}")
    if action == "approve" and (form.get("confirmed") != "yes" or not comment.strip()) and confirmation_reasons(
            await claim_status_of(services_of(request).client, claim_id)):
        return _refused_redirect(request, caller, claim_id, "此案批准前须勾选确认并填写审批意见（见审批栏中的提示）")
    try:
        await send_update(services_of(request), claim_id, ACTIONS[action], payloads[action], caller)
    except ProblemError as err:
        return _refused_redirect(request, caller, claim_id, err.problem.detail or err.problem.title)
    return RedirectResponse(f"/app/claims/{claim_id}?done={action}", status_code=303)
