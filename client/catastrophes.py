"""Catastrophes through Temporal: declare one, close it, ask where it stands (docs/catastrophes.md)."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from client.claims import Refused, missing_workflow, send_to, start_once
from models.catastrophes import CatastropheStatus, DeclareCatastrophe, catastrophe_workflow_id
from workflows.catastrophe import CatastropheWorkflow


class DuplicateCatastrophe(Refused):
    """A catastrophe with this code was declared already."""


def start_payload(declaration: DeclareCatastrophe) -> dict[str, Any]:
    """The declaration as the workflow receives it (JSON, without a credential): what its proof binds."""
    return declaration.model_dump(mode="json", exclude={"credential"})


async def declare(client: Client, start: dict[str, Any], task_queue: str) -> str:
    """Start the catastrophe's workflow, once per code; the start carries its action proof."""
    return await start_once(client, CatastropheWorkflow.run, start, catastrophe_workflow_id(str(start["code"])),
                            task_queue, DuplicateCatastrophe(f"code: catastrophe {start['code']} was declared already"))


async def status(client: Client, code: str) -> CatastropheStatus:
    workflow_id = catastrophe_workflow_id(code)
    try:
        return await client.get_workflow_handle(workflow_id).query(CatastropheWorkflow.status)
    except RPCError as err:
        raise missing_workflow(workflow_id, err) from None


async def close(client: Client, code: str, payload: dict[str, Any]) -> CatastropheStatus:
    return await send_to(client, catastrophe_workflow_id(code), CatastropheWorkflow.close_catastrophe, payload)
