"""Complaints through Temporal: file one, send it an update, ask where it stands."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from client.claims import R, Refused, UpdateMethod, missing_workflow, result_of, send_to, start_once, update_name
from models.complaints import ComplaintInput, ComplaintStatus, complaint_workflow_id
from workflows.complaint import ComplaintWorkflow

COMPLAINT_UPDATES: dict[str, UpdateMethod[Any]] = {
    update_name(method): method for method in (
        ComplaintWorkflow.assign_complaint, ComplaintWorkflow.acknowledge_complaint, ComplaintWorkflow.mark_complex,
        ComplaintWorkflow.resolve_complaint, ComplaintWorkflow.refer_to_appeal)}
"""The complaint's updates by their names in the contract (docs/complaints.md)."""


class DuplicateComplaint(Refused):
    """A complaint with this id was filed already."""


def start_payload(complaint: ComplaintInput) -> dict[str, Any]:
    """The complaint's start as the workflow receives it (JSON, without a credential): what its proof binds."""
    return complaint.model_dump(mode="json", exclude={"credential"})


async def file_complaint(client: Client, start: dict[str, Any], task_queue: str) -> str:
    """Start the complaint's workflow, once per complaint id. The start is the complaint as JSON
    (`start_payload`) with an action proof for `file_complaint` as its credential."""
    complaint_id = str(start["complaint_id"])
    return await start_once(client, ComplaintWorkflow.run, start, complaint_workflow_id(complaint_id), task_queue,
                            DuplicateComplaint(f"complaint_id: complaint {complaint_id} exists already"))


async def complaint_status(client: Client, complaint_id: str) -> ComplaintStatus:
    """The complaint's `status` query; `NoSuchWorkflow` when there is no complaint of that id."""
    workflow_id = complaint_workflow_id(complaint_id)
    try:
        return await client.get_workflow_handle(workflow_id).query(ComplaintWorkflow.status)
    except RPCError as err:
        raise missing_workflow(workflow_id, err) from None


async def send_to_complaint(client: Client, complaint_id: str, update: UpdateMethod[R],
                            payload: dict[str, Any]) -> R:
    return await send_to(client, complaint_workflow_id(complaint_id), update, payload)


async def complaint_result(client: Client, complaint_id: str) -> ComplaintStatus:
    """The complaint as it stood when resolved; a failed run as `RunFailed`."""
    return await result_of(client.get_workflow_handle_for(ComplaintWorkflow.run, complaint_workflow_id(complaint_id)))
