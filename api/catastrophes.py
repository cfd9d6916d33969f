"""Catastrophes over HTTP (docs/catastrophes.md): a manager declares one and closes it; staff follow it. The
declaration and the closing carry an action proof in the caller's name, so the workflow decides who may."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel

from client import catastrophes as cat_client
from client.claims import Ended, NoSuchWorkflow, UpdateRefused
from edge import auth
from edge.auth import Caller
from edge.problems import PROBLEM_RESPONSES, ProblemError, forbidden, not_found, refused
from edge.services import services_of
from models.catastrophes import (
    DECLARE_CATASTROPHE,
    CatastropheStatus,
    CloseCatastrophe,
    DeclareCatastrophe,
    catastrophe_workflow_id,
)

router = APIRouter(prefix="/catastrophes", tags=["catastrophes"], responses=PROBLEM_RESPONSES)
CODE = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$", max_length=64)]
STAFF = Annotated[Caller, Depends(auth.authenticate)]


class CatastropheDeclared(BaseModel):
    code: str
    workflow_id: str
    status_url: str


@router.post("", status_code=201, response_model=CatastropheDeclared, summary="Declare a catastrophe (a manager)")
async def declare(declaration: DeclareCatastrophe, request: Request, response: Response,
                  caller: STAFF) -> CatastropheDeclared:
    """Claims whose incident falls in its regions, window and claim types join it from now on, and open ones are
    told to look; `declared_by` is the caller, a manager (the workflow checks the proof)."""
    svc = services_of(request)
    start = cat_client.start_payload(declaration)
    sent = svc.signer.credential(caller.sender, catastrophe_workflow_id(declaration.code), DECLARE_CATASTROPHE, start)
    try:
        workflow_id = await cat_client.declare(svc.client, sent, svc.task_queue)
    except cat_client.DuplicateCatastrophe as err:
        raise ProblemError(409, "duplicate-catastrophe", "Duplicate catastrophe", str(err)) from None
    response.headers["Location"] = f"/catastrophes/{declaration.code}"
    return CatastropheDeclared(code=declaration.code, workflow_id=workflow_id,
                               status_url=f"/catastrophes/{declaration.code}")


@router.get("/{code}", response_model=CatastropheStatus, summary="Where a catastrophe stands")
async def catastrophe_status(code: CODE, request: Request, caller: STAFF) -> Any:
    if not caller.is_staff:
        raise forbidden("a staff member's token is needed")
    try:
        return await cat_client.status(services_of(request).client, code)
    except (NoSuchWorkflow, Ended):
        raise not_found(f"catastrophe {code} was not declared") from None


@router.post("/{code}/close", response_model=CatastropheStatus, summary="Close a catastrophe (a manager)")
async def close(code: CODE, body: CloseCatastrophe, request: Request, caller: STAFF) -> Any:
    """No claim joins it any more; those that joined stay as they are."""
    svc = services_of(request)
    payload = svc.signer.credential(caller.sender, catastrophe_workflow_id(code), "close_catastrophe",
                                    body.model_dump(mode="json", exclude_unset=True, exclude={"credential"}))
    try:
        return await cat_client.close(svc.client, code, payload)
    except UpdateRefused as err:
        raise refused(err.type, err.reason) from None
    except (NoSuchWorkflow, Ended):
        raise not_found(f"catastrophe {code} was not declared, or is closed") from None
