"""Errors as RFC 9457 problem details: `type`, `title`, `status`, `detail`, and for bad input the fields at fault.

Every refusal the workflow gives (its `ApplicationError.type`) has one HTTP status here, so a caller can act on
the status and show the `detail`, which names the field or rule.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from models.contract import ErrorType

log = structlog.get_logger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://claims.example/problems/"

STATUS_OF_REFUSAL: dict[str, int] = {
    ErrorType.NOT_AUTHENTICATED: 401,
    ErrorType.NOT_AUTHORIZED: 403,
    ErrorType.CODE_REFUSED: 403,
    ErrorType.NOT_ALLOWED: 409,
    ErrorType.DUPLICATE_CLAIM: 409,
    ErrorType.INVALID_UPDATE: 422,
    ErrorType.INVALID_CLAIM: 422,
    ErrorType.INVALID_DATA: 422,
    ErrorType.INVALID_BANK_ACCOUNT: 422,
    ErrorType.UNKNOWN_POLICY: 422,
}


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] = Field(default_factory=list)
    """For bad input: each field at fault and what is wrong with it."""
    error: str | None = None
    """On the token endpoint: the OAuth error code (RFC 6749 section 5.2) token clients read."""


class ProblemError(Exception):
    def __init__(self, status: int, kind: str, title: str, detail: str | None = None,
                 errors: list[FieldProblem] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or title)
        self.problem = Problem(type=TYPE_BASE + kind, title=title, status=status, detail=detail, errors=errors or [])
        self.headers = headers or {}


def unauthenticated(detail: str) -> ProblemError:
    return ProblemError(401, "not-authenticated", "Not authenticated", detail,
                        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "not-authorized", "Not authorized", detail)


def not_found(detail: str) -> ProblemError:
    return ProblemError(404, "not-found", "Not found", detail)


def refused(kind: str | None, message: str) -> ProblemError:
    """A refusal by the workflow, by its typed error."""
    status = STATUS_OF_REFUSAL.get(kind or "", 422)
    name = kind or "Refused"
    return ProblemError(status, _kebab(name), name, message)


def _kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _respond(request: Request, error: ProblemError) -> JSONResponse:
    problem = error.problem.model_copy(update={"instance": request.url.path})
    return JSONResponse(problem.model_dump(mode="json", exclude_none=True), status_code=problem.status,
                        media_type=MEDIA_TYPE, headers=error.headers)


async def problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return _respond(request, exc)


async def validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [FieldProblem(field=".".join(str(p) for p in e["loc"] if p != "body") or "body", message=e["msg"])
              for e in exc.errors()]
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    return _respond(request, ProblemError(422, "invalid-request", "Invalid request", detail, errors))


HTTP_PROBLEMS = {404: ("not-found", "Not found"), 405: ("method-not-allowed", "Method not allowed"),
                 413: ("content-too-large", "Content too large")}


async def http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind, title = HTTP_PROBLEMS.get(exc.status_code, ("error", "Error"))
    error = ProblemError(exc.status_code, kind, title, str(exc.detail) if exc.detail else None,
                         headers=dict(exc.headers or {}))
    return _respond(request, error)


RETRY_AFTER_SECONDS = 5
UNAVAILABLE_RPC = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED,
                   RPCStatusCode.CANCELLED}
"""Temporal did not answer: unreachable, out of time on its side or ours (a query the client gave up on, `Timeout
expired`), or overloaded."""


def unavailable(what: str) -> ProblemError:
    return ProblemError(503, "unavailable", "Service unavailable",
                        f"{what} cannot be reached just now; nothing was changed: send the request again shortly",
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def temporal_unreachable(exc: Exception) -> bool:
    """A call to Temporal that failed because the service cannot be reached: the service's own answer (unavailable,
    out of time, overloaded), or the SDK's failure to (re)connect."""
    if isinstance(exc, RPCError):
        return exc.status in UNAVAILABLE_RPC
    return isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect")


async def temporal_handler(request: Request, exc: Exception) -> JSONResponse:
    """Temporal unreachable (an outage, a restart): 503 with Retry-After, logged once without a traceback. Any other
    failure of a call to Temporal is unexpected."""
    if isinstance(exc, WorkflowUpdateRPCTimeoutOrCancelledError):  # the claim's worker did not answer in time
        log.warning("update not answered in time", path=request.url.path)
        return _respond(request, ProblemError(
            503, "not-answered", "Not answered in time",
            "the claim did not answer in time (its workers are busy): the action may still be taken; look at the "
            "claim's status before sending it again", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}))
    if not temporal_unreachable(exc):
        return await unexpected_handler(request, exc)
    log.warning("temporal unavailable", path=request.url.path,
                status=exc.status.name if isinstance(exc, RPCError) else "not connected")
    return _respond(request, unavailable("The workflow service"))


async def database_handler(request: Request, exc: Exception) -> JSONResponse:
    """The database unreachable: 503 with Retry-After, logged once without a traceback."""
    log.warning("database unavailable", path=request.url.path, error=type(exc).__name__)
    return _respond(request, unavailable("The database"))


async def unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    """Anything else: logged in full, answered as a problem without the details (they may hold data)."""
    log.error("request failed", path=request.url.path, error=type(exc).__name__, exc_info=exc)
    return _respond(request, ProblemError(500, "internal-error", "Internal error",
                                          "the request could not be completed; it is safe to retry"))


class UnexpectedFailures:
    """Answers a failure no handler took with `unexpected_handler`, logged once. (Starlette's last-resort handler
    re-raises once it has answered, so the server logged every such failure a second time with its traceback.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:  # noqa: BLE001 (answered and logged here, once)
            if started:  # the answer is under way: nothing else can be said
                raise
            response = await unexpected_handler(Request(scope, receive), exc)
            await response(scope, receive, send)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
             "description": description}
    for status, description in [(401, "The bearer token is missing or does not verify"),
                                (403, "The caller may not do this"), (404, "No such claim"),
                                (409, "Not possible in the claim's current state"),
                                (422, "Invalid input: the fields at fault are named"),
                                (503, "Temporal or the database cannot be reached just now: retry after the "
                                      "Retry-After seconds")]
}
