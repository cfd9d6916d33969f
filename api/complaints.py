"""Complaints over HTTP (docs/complaints.md): file one, act on it, follow it. The complaint's start and every
update carry an action proof in the caller's name as `credential` (never the caller's token), so the workflow
decides who may do what, as for claims."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel
from temporalio.client import Client

from client import complaints as complaint_client
from client.claims import Ended, NoSuchWorkflow, UpdateMethod, UpdateRefused
from core.rules.access import FILE_COMPLAINT
from edge import auth
from edge.auth import Caller
from edge.problems import PROBLEM_RESPONSES, ProblemError, forbidden, not_found, refused
from edge.services import services_of
from models import complaints as k
from models.complaints import complaint_workflow_id
from workflows.complaint import ComplaintWorkflow

router = APIRouter(prefix="/complaints", tags=["complaints"], responses=PROBLEM_RESPONSES)
COMPLAINT_ID = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$", max_length=64)]
ANYONE = Annotated[Caller, Depends(auth.authenticate)]
REPORTER = Annotated[Caller, Depends(auth.channel_or_staff)]
UPDATES: dict[str, tuple[UpdateMethod[Any], type[BaseModel], str]] = {
    "assign_complaint": (ComplaintWorkflow.assign_complaint, k.AssignComplaint,
                         "Assign a handler who took no part in the matter"),
    "acknowledge_complaint": (ComplaintWorkflow.acknowledge_complaint, k.AcknowledgeComplaint,
                              "Acknowledge the complaint (the handler)"),
    "mark_complex": (ComplaintWorkflow.mark_complex, k.MarkComplex,
                     "Mark the complaint complex: 30 days to resolve (the handler)"),
    "resolve_complaint": (ComplaintWorkflow.resolve_complaint, k.ResolveComplaint,
                          "Resolve the complaint with its root cause (the handler)"),
    "refer_to_appeal": (ComplaintWorkflow.refer_to_appeal, k.ReferToAppeal,
                        "Hand the complaint over to the claim's appeal (the handler)"),
}


class ComplaintAccepted(BaseModel):
    complaint_id: str
    workflow_id: str
    status_url: str


def _client(request: Request) -> Client:
    client: Client = services_of(request).client
    return client


@router.post("", status_code=201, response_model=ComplaintAccepted, summary="File a complaint")
async def file_complaint(complaint: k.ComplaintInput, request: Request, response: Response,
                         caller: REPORTER) -> ComplaintAccepted:
    """Starts the complaint's workflow (once per complaint id); its clocks run from `received_at` (now when
    not given)."""
    svc = services_of(request)
    start = complaint_client.start_payload(complaint)
    sent = svc.signer.credential(caller.sender, complaint_workflow_id(complaint.complaint_id), FILE_COMPLAINT, start)
    try:
        workflow_id = await complaint_client.file_complaint(svc.client, sent, svc.task_queue)
    except complaint_client.DuplicateComplaint as err:
        raise ProblemError(409, "duplicate-complaint", "Duplicate complaint", str(err)) from None
    response.headers["Location"] = f"/complaints/{complaint.complaint_id}"
    return ComplaintAccepted(complaint_id=complaint.complaint_id, workflow_id=workflow_id,
                             status_url=f"/complaints/{complaint.complaint_id}")


@router.get("/{complaint_id}", response_model=k.ComplaintStatus, summary="Where a complaint stands")
async def complaint_status(complaint_id: COMPLAINT_ID, request: Request, caller: ANYONE) -> Any:
    if not caller.is_staff and not caller.is_channel:
        raise forbidden("a staff member's or a channel's token is needed")
    try:
        return await complaint_client.complaint_status(_client(request), complaint_id)
    except (NoSuchWorkflow, Ended):  # a query reaches a resolved complaint; this is only a guard
        raise not_found(f"complaint {complaint_id} does not exist") from None


Payload = TypeVar("Payload", bound=BaseModel)
"""An action's payload model: the route is made once per update, with the update's own model."""


def _action(name: str, update: UpdateMethod[Any], model: type[Payload], summary: str) -> Any:
    async def act(complaint_id: COMPLAINT_ID, request: Request, caller: ANYONE,
                  payload: Annotated[Payload, Body()]) -> Any:
        body: BaseModel = payload
        sent = services_of(request).signer.credential(
            caller.sender, complaint_workflow_id(complaint_id), name,
            body.model_dump(mode="json", exclude_unset=True, exclude={"credential"}))
        try:
            return await complaint_client.send_to_complaint(_client(request), complaint_id, update, sent)
        except UpdateRefused as err:
            raise refused(err.type, err.reason) from None
        except (NoSuchWorkflow, Ended):
            raise not_found(f"complaint {complaint_id} does not exist or is resolved") from None

    act.__annotations__["payload"] = Annotated[model, Body()]
    act.__name__ = f"complaint_{name}"
    act.__doc__ = f"{summary}. The update's `credential` is an action proof in the caller's name."
    return act


for _name, (_update, _model, _summary) in UPDATES.items():
    router.add_api_route(f"/{{complaint_id}}/actions/{_name}", _action(_name, _update, _model, _summary),
                         methods=["POST"],
                         response_model=k.ComplaintStatus, summary=_summary)
