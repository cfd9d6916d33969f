"""The HTTP API (docs/integrators.md): report a claim, upload its documents, act on it, follow it.

Every route talks to the claim's workflow through the Temporal client; the API keeps no claim state of its
own beyond the idempotency keys of reports. Changes are the workflow's updates, each sent with an action proof
in the caller's name as `credential` (bound to that update, claim and payload; never the caller's token), so the
workflow decides who may do what.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Body, FastAPI, File, Form, Header, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from sqlalchemy import func, or_
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.catastrophes import router as catastrophes_router
from api.codec import router as codec_router
from api.complaints import router as complaints_router
from api.token import router as token_router
from client.claims import DuplicateClaim, UpdateMethod, start_claim
from config.tracing import shutdown_tracing
from db.engine import utc
from db.verification_codes import check
from edge.claims import claim_status_of, send_update, store_and_submit
from edge.cors import CodecCORS
from edge.deps import ANYONE, CHANNEL, REPORTER, SERVICES, STAFF
from edge.limits import BodyLimit
from edge.problems import (
    PROBLEM_RESPONSES,
    FieldProblem,
    ProblemError,
    UnexpectedFailures,
    database_handler,
    forbidden,
    http_handler,
    problem_handler,
    temporal_handler,
    validation_handler,
)
from edge.services import Services
from edge.tracing import Traced
from edge.views import ClaimAccepted, ClaimProgress, MissingDocuments, StoredUpload, WorkItem, Worklist
from models import contract as c
from models.documents import CorrectDocumentField
from models.fields import DocumentKind
from models.messages import CodeCheck
from models.tables import Claim, IdempotentRequest
from reporting import finance
from reporting.charts import ECHARTS
from web.catastrophes import router as catastrophe_pages
from web.claimant import router as claimant_router
from web.dev_idp import router as dev_idp_router
from web.session import router as session_router
from web.workbench import SignInNeeded
from web.workbench import router as workbench_router
from workflows.claim import ClaimWorkflow

log = structlog.get_logger(__name__)

CLAIM_ID = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$", max_length=64,
                                    description="The claim id given at the first report")]
IDEMPOTENCY_KEY = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=150,
                                               pattern=r"^[\x21-\x7e]+$")]
CLAIMANT_CODE = Annotated[str, Header(alias="X-Claimant-Code", pattern=r"^[0-9]{6}$",
                                      description="The progress code sent to the claimant's phone or e-mail")]

CONTENT_REF = "doc://sha256/"

UPDATES: dict[str, tuple[UpdateMethod[Any], type[BaseModel], str]] = {
    "submit_documents": (ClaimWorkflow.submit_documents, c.SubmitDocuments,
                        "Send documents (references; to upload files use /documents)"),
    "record_investigation": (ClaimWorkflow.record_investigation, c.RecordInvestigation,
                            "Record the investigation's findings"),
    "approve": (ClaimWorkflow.approve, c.Approve,
               "Approve the payout (within the approver's authority)"),
    "reject": (ClaimWorkflow.reject, c.Reject,
              "Reject the claim, citing the clause"),
    "escalate": (ClaimWorkflow.escalate, c.Escalate,
                "Raise the approval tier"),
    "assign": (ClaimWorkflow.assign, c.Assign,
              "Assign a handler"),
    "withdraw": (ClaimWorkflow.withdraw, c.Withdraw,
                "Withdraw the claim (the claimant's wish, through a channel)"),
    "appeal": (ClaimWorkflow.appeal, c.Appeal,
              "Appeal a denial or partial approval"),
    "request_code": (ClaimWorkflow.request_code, c.RequestCode,
                    "Send a one-time code to the claimant's phone or e-mail on file"),
    "update_bank_account": (ClaimWorkflow.update_bank_account, c.UpdateBankAccount,
                           "Change the account the claim is paid to (with the claimant's code)"),
    "release_bank_account": (ClaimWorkflow.release_bank_account, c.ReleaseBankAccount,
                            "Let bank-account changes happen again after wrong codes"),
    "reopen": (ClaimWorkflow.reopen, c.Reopen,
              "Reopen a claim closed as incomplete"),
    "approve_advance": (ClaimWorkflow.approve_advance, c.ApproveAdvance,
                       "Approve an advance payment"),
    "correct_document_field": (ClaimWorkflow.correct_document_field, CorrectDocumentField,
                              "Correct a field machine reading got wrong (staff)"),
    "record_recovery": (ClaimWorkflow.record_recovery, c.RecordRecovery,
                       "Record money the claimant paid back on a recovery (finance)"),
    "write_off_recovery": (ClaimWorkflow.write_off_recovery, c.WriteOffRecovery,
                          "Write off what is still owed on a recovery (a manager)"),
    "open_recovery": (ClaimWorkflow.open_recovery, c.OpenRecovery,
                     "Open a recovery: subrogation against a third party, or the salvage (staff)"),
    "set_reserve": (ClaimWorkflow.set_reserve, c.SetReserve,
                   "Set the claim's case reserve within the reserve authority (staff)"),
}


# --------------------------------------------------------------------------- routes

router = APIRouter(responses=PROBLEM_RESPONSES)


@router.post("/claims", status_code=201, response_model=ClaimAccepted, tags=["claims"],
             summary="Report a claim (first notice of loss)",
             responses={200: {"model": ClaimAccepted, "description": "The same report again: the same claim"}})
async def report_claim(claim: c.ClaimInput, response: Response, svc: SERVICES, caller: REPORTER,
                       idempotency_key: IDEMPOTENCY_KEY = None) -> ClaimAccepted:
    """Starts the claim's workflow. With an `Idempotency-Key`, repeating the request (same key, same body)
    returns the same claim; the same key with another body is refused (409). Without one, a second report
    with the same claim id is refused (409)."""
    body = claim.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    repeat = False
    if idempotency_key is not None:
        scoped = f"{caller.sender.subject}\x1f{idempotency_key}"
        known_digest, known_claim, repeat = await run_in_threadpool(
            _remember_key, svc.engine, scoped, digest, claim.claim_id)
        if known_digest != digest or known_claim != claim.claim_id:
            raise ProblemError(409, "idempotency-key-reused", "Idempotency-Key reused",
                               "Idempotency-Key: this key was used for another report; use a new key per claim")
    try:
        await start_claim(svc.client, claim, svc.task_queue)
        created = True
    except DuplicateClaim as err:
        if not repeat:  # someone else's claim with this id: this report started nothing
            raise ProblemError(409, "duplicate-claim", "Duplicate claim", str(err)) from None
        created = False  # the earlier request with this key started it
    log.info("claim reported", claim_id=claim.claim_id, by=caller.sender.subject, created=created)
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/claims/{claim.claim_id}"
    return ClaimAccepted(claim_id=claim.claim_id, workflow_id=c.workflow_id_for(claim.claim_id), created=created,
                         status_url=f"/claims/{claim.claim_id}", progress_url=f"/claims/{claim.claim_id}/progress")


def _remember_key(engine: Engine, key: str, digest: str, claim_id: str) -> tuple[str, str, bool]:
    """The body digest and claim the key names, and whether an earlier request made it (a repeat). A new key (the
    usual case) costs one insert; a key seen before, the insert refused and one read."""
    with Session(engine) as session:
        session.add(IdempotentRequest(key=key, body_sha256=digest, claim_id=claim_id, created_at=datetime.now(UTC)))
        try:
            session.commit()
            return digest, claim_id, False
        except IntegrityError:  # an earlier request (or one at the same moment) made it
            session.rollback()
            known = session.get(IdempotentRequest, key)
            assert known is not None
            return known.body_sha256, known.claim_id, True


@router.get("/claims/{claim_id}", response_model=c.ClaimStatus, tags=["claims"], summary="Where a claim stands (staff)")
async def claim_status(claim_id: CLAIM_ID, svc: SERVICES, caller: STAFF) -> c.ClaimStatus:
    return await claim_status_of(svc.client, claim_id)


@router.post("/claims/{claim_id}/progress/code", response_model=c.UpdateAck, tags=["claimant"],
             summary="Send the claimant a code to see the claim's progress")
async def progress_code(claim_id: CLAIM_ID, svc: SERVICES, caller: CHANNEL) -> Any:
    """The code goes to the phone or e-mail on file, never to an address given here."""
    return await send_update(svc, claim_id, ClaimWorkflow.request_code,
                             {"purpose": c.CodePurpose.PROGRESS.value}, caller)


@router.get("/claims/{claim_id}/progress", response_model=ClaimProgress, tags=["claimant"],
            summary="What the claimant may see of the claim")
async def claim_progress(claim_id: CLAIM_ID, svc: SERVICES, caller: CHANNEL, code: CLAIMANT_CODE) -> ClaimProgress:
    """Behind the code sent to the claimant (`POST /claims/{id}/progress/code`), good for ten minutes; three
    wrong codes void it. Shows the stage, what is missing, the next deadline, the decision and the payments:
    no staff notes, risk reasons or other people's names."""
    checked = await run_in_threadpool(check, svc.engine, svc.code_secret, claim_id, c.CodePurpose.PROGRESS, code,
                                      datetime.now(UTC))
    if checked != CodeCheck.OK:
        why = {CodeCheck.NONE: "no code has been sent for this claim", CodeCheck.EXPIRED: "the code has expired",
               CodeCheck.LOCKED: "the code is void after wrong tries; request a new one"}.get(checked, "wrong code")
        raise forbidden(f"X-Claimant-Code: {why}")
    return ClaimProgress.of(await claim_status_of(svc.client, claim_id))


@router.post("/claims/{claim_id}/documents", status_code=201, response_model=StoredUpload, tags=["claimant"],
             summary="Upload a document", responses={413: {**PROBLEM_RESPONSES[422], "description": "Too large"}})
async def upload_document(claim_id: CLAIM_ID, svc: SERVICES, caller: CHANNEL,
                          kind: Annotated[DocumentKind, Form(description="claim_form, id_card, damage_photos, ...")],
                          file: Annotated[UploadFile, File(description="PDF, JPEG, PNG, HEIC, TIFF or WebP")]
                          ) -> StoredUpload:
    """Stores the file by its SHA-256 (the same file twice is stored once), then sends it to the claim as
    `submit_documents` with the reference `doc://sha256/<hex>`: a file another claim already used counts
    against the reused-document rule."""
    await claim_status_of(svc.client, claim_id)  # nothing is stored for a claim that does not exist
    content = await file.read(svc.max_upload_bytes + 1)
    return await store_and_submit(svc, claim_id, kind, content, file.content_type,
                                  svc.max_upload_bytes, caller)


async def _require_stored(svc: Services, documents: list[dict[str, Any]]) -> None:
    """A content-addressed reference must name a document this service stores (uploaded to it before)."""
    for i, document in enumerate(documents):
        ref = document["ref"]
        if ref.startswith(CONTENT_REF) and not await run_in_threadpool(svc.store.exists, ref[len(CONTENT_REF):]):
            raise ProblemError(422, "unknown-document", "Unknown document",
                               f"documents.{i}.ref: no document {ref} was uploaded; upload it with /documents")


Payload = TypeVar("Payload", bound=BaseModel)
"""An action's payload model: the route is made once per update, with the update's own model."""


def _action(name: str, update: UpdateMethod[Any], model: type[Payload],
            summary: str) -> Callable[..., Awaitable[Any]]:
    async def act(claim_id: CLAIM_ID, svc: SERVICES, caller: ANYONE,
                  payload: Annotated[Payload, Body()]) -> Any:
        body: BaseModel = payload
        sent = body.model_dump(mode="json", exclude_unset=True, exclude={"credential"})
        if name == "submit_documents":
            await _require_stored(svc, sent["documents"])
        result = await send_update(svc, claim_id, update, sent, caller)
        return MissingDocuments(missing_documents=list(result)) if name == "submit_documents" else result

    act.__annotations__["payload"] = Annotated[model, Body()]  # the class itself: this module's annotations are text
    act.__name__ = f"action_{name}"
    act.__doc__ = (f"{summary}. The API sends the update with an action proof in the caller's name as its "
                   f"`credential` (a `credential` in the body is ignored); the workflow checks it and the rules "
                   f"of `{name}`.")
    return act


for _name, (_update, _model, _summary) in UPDATES.items():
    router.add_api_route(
        f"/claims/{{claim_id}}/actions/{_name}", _action(_name, _update, _model, _summary), methods=["POST"],
        response_model=MissingDocuments if _name == "submit_documents" else c.UpdateAck, tags=["actions"],
        summary=_summary)


@router.get("/worklist", response_model=Worklist, tags=["staff"], summary="The caller's queue")
async def worklist(svc: SERVICES, caller: STAFF,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Worklist:
    """Open claims assigned to the caller, and, for supervisors and managers, every claim waiting for a
    decision (whatever tier it needs: the claim's status says which); oldest first."""
    me = caller.sender.subject.casefold()
    deciders = bool(caller.roles & {"supervisor", "manager"})
    with Session(svc.engine) as session:
        mine = func.lower(col(Claim.handler)) == me
        where = or_(mine, col(Claim.stage) == c.Stage.AWAITING_APPROVAL.value) if deciders else mine
        rows = session.exec(select(Claim).where(where, col(Claim.stage) != c.Stage.CLOSED.value)
                            .order_by(col(Claim.registered_at)).limit(limit)).all()
    items = [WorkItem(claim_id=r.claim_id, claim_type=r.claim_type, stage=r.stage, path=r.path,
                      risk_level=r.risk_level, handler=r.handler, claimed_amount=r.claimed_amount,
                      registered_at=utc(r.registered_at),
                      why="assigned" if (r.handler or "").casefold() == me else "awaiting_approval")
             for r in rows]
    return Worklist(subject=caller.sender.subject, items=items)


FINANCE_ROLES = frozenset({"finance", "manager"})
"""Who may take the claims' figures out of the financial ledger."""
FINANCE_MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet",
                 "json": "application/json"}
FINANCE_MONTH = Annotated[str, Query(examples=["2026-11"], description=(
    "YYYY-MM: the figures are taken at the month's last instant in the report time zone (Beijing time by default)"))]
FINANCE_FORMAT = Annotated[Literal["csv", "parquet", "json"], Query(alias="format", description=(
    "csv (UTF-8, no byte-order mark), parquet (amounts as decimal(18, 2)) or json (amounts as strings)"))]


class ClaimFiguresRow(BaseModel):
    """One claim's figures as at the month's end (docs/finance.md); amounts as decimal strings with two places."""

    claim_id: str
    policy_number: str
    policy_period: str | None
    product: str
    accident_date: str
    reserve: str
    paid: str
    recovered: str
    recovery_reserve: str
    written_off: str
    incurred: str
    gross_incurred: str


@router.get("/finance/claims", tags=["finance"], summary="Each claim's figures as at a month's end (finance)",
            response_class=Response, responses={
                200: {"description": "One row per claim with a ledger movement by the month's end, by claim id",
                      "model": list[ClaimFiguresRow],
                      "content": {"text/csv": {"schema": {"type": "string"}},
                                  "application/vnd.apache.parquet": {"schema": {"type": "string",
                                                                                "format": "binary"}}}},
                400: {**PROBLEM_RESPONSES[422], "description": "The month is not a month written YYYY-MM"}})
async def finance_claims(svc: SERVICES, caller: STAFF, month: FINANCE_MONTH,
                         as_format: FINANCE_FORMAT = "json") -> Response:
    """Each claim's reserve, paid, recovered, recovery reserve, written off, net and gross incurred, summed from the
    financial ledger up to the end of `month` in the report time zone (docs/finance.md): for finance and managers."""
    if not caller.roles & FINANCE_ROLES:
        raise forbidden(f"the claims' figures are for {', '.join(sorted(FINANCE_ROLES))}; "
                        f"{caller.sender.subject} holds {sorted(caller.roles)}")
    try:
        finance.parse_month(month)
    except ValueError as err:
        raise ProblemError(400, "invalid-month", "Invalid month", str(err),
                           [FieldProblem(field="month", message=str(err).removeprefix("month: "))]) from None
    figures = await run_in_threadpool(finance.month_end, svc.engine, month, svc.report_timezone)
    if as_format == "json":
        return JSONResponse(finance.figures_json(figures))
    name = f"claims-{month}.{as_format}"
    content = finance.figures_csv(figures).encode("utf-8") if as_format == "csv" \
        else await run_in_threadpool(finance.figures_parquet, figures)
    return Response(content, media_type=FINANCE_MEDIA[as_format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/health", tags=["operations"], summary="Liveness: the API answers and reaches Temporal")
async def health(svc: SERVICES) -> dict[str, str]:
    await svc.client.service_client.check_health()
    return {"status": "ok"}


# --------------------------------------------------------------------------- the app


async def _to_sign_in(request: Request, _err: Exception) -> Response:
    return RedirectResponse(f"/sign-in?next={quote(request.url.path)}", status_code=303)


def create_app(make_services: Callable[[], Awaitable[Services]] | None = None,
               ready: Services | None = None, max_upload_bytes: int = 20 * 1024 * 1024,
               cors_origins: Sequence[str] = ()) -> FastAPI:
    """The app. `ready` services (a test's) are used as they are; otherwise `make_services` builds them at
    start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if ready is None:
            assert make_services is not None
            app.state.services = await make_services()
        yield
        shutdown_tracing()

    app = FastAPI(title="Claims orchestrator API", version="1.0",
                  description="Report claims, upload their documents, act on them and follow them. Every call "
                              "carries an OpenID Connect bearer token; errors are RFC 9457 problem details.",
                  lifespan=lifespan)
    if ready is not None:
        app.state.services = ready
    app.add_exception_handler(ProblemError, problem_handler)
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(StarletteHTTPException, http_handler)
    app.add_exception_handler(RPCError, temporal_handler)
    app.add_exception_handler(RuntimeError, temporal_handler)
    app.add_exception_handler(OperationalError, database_handler)
    app.add_exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError, temporal_handler)
    app.add_middleware(UnexpectedFailures)
    app.add_middleware(BodyLimit, upload_limit=max_upload_bytes)
    app.add_middleware(Traced)

    app.add_middleware(CodecCORS, prefix="/codec", origins=cors_origins)
    app.include_router(router)
    app.include_router(codec_router)
    app.include_router(session_router)
    app.include_router(workbench_router)
    app.include_router(catastrophe_pages)
    app.include_router(claimant_router)
    app.include_router(dev_idp_router)
    app.include_router(complaints_router)
    app.include_router(catastrophes_router)
    app.include_router(token_router)
    app.mount("/app/static", StaticFiles(directory=ECHARTS.parent), name="static")
    app.add_exception_handler(SignInNeeded, _to_sign_in)
    return app
