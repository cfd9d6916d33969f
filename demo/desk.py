"""The back office as the demo plays it: the desk that sends updates and files complaints, and waiting for a claim
to reach a state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from client import catastrophes as cat_client
from client import claims as claim_client
from client.claims import CLAIM_UPDATES, send_update
from client.complaints import COMPLAINT_UPDATES, complaint_status, file_complaint, send_to_complaint, start_payload
from client.credentials import development_channel, signed_here, with_credential
from config.encryption import keyring_for
from config.settings import Settings
from core.rules.access import FILE_COMPLAINT
from db.engine import make_engine
from letters.senders import letters_of, read_letter
from letters.sms import code_in
from models.catastrophes import DECLARE_CATASTROPHE, DeclareCatastrophe, catastrophe_workflow_id
from models.complaints import ComplaintInput, complaint_workflow_id
from models.contract import workflow_id_for
from models.tables import CatastropheRow


@dataclass
class Desk:
    """The back office as the demo plays it: sends each update with an action proof for the person (or channel)
    it names, signed with this installation's action key as the development issuer vouches for them."""

    client: Client
    settings: Settings

    async def send(self, claim_id: str, update: str, payload: dict[str, Any]) -> Any:
        return await send_update(self.client, claim_id, CLAIM_UPDATES[update],
                                 with_credential(self.settings, workflow_id_for(claim_id), update, payload, None))

    async def file_complaint(self, complaint: dict[str, Any]) -> str:
        """A complaint as the call centre files it (a channel's token); its id, once it runs."""
        filed = ComplaintInput.model_validate({**complaint, "credential": None})
        start = signed_here(self.settings, development_channel("call-centre"),
                            complaint_workflow_id(filed.complaint_id), FILE_COMPLAINT, start_payload(filed))
        await file_complaint(self.client, start, self.settings.task_queue)
        for _ in range(200):
            try:
                await complaint_status(self.client, filed.complaint_id)
                return filed.complaint_id
            except WorkflowQueryFailedError:
                await asyncio.sleep(0.1)
            except RPCError as err:  # a busy worker left the query unanswered: ask again
                if not claim_client.unanswered(err):
                    raise
                await asyncio.sleep(0.5)
        raise TimeoutError(f"complaint {complaint['complaint_id']} never started")

    async def on_complaint(self, complaint_id: str, update: str, payload: dict[str, Any]) -> Any:
        return await send_to_complaint(self.client, complaint_id, COMPLAINT_UPDATES[update], with_credential(
            self.settings, complaint_workflow_id(complaint_id), update, payload, None))

    async def declare_catastrophe(self, declaration: dict[str, Any]) -> str:
        """A catastrophe as a manager declares it; its code, once intake can see it (its row is written)."""
        decl = DeclareCatastrophe.model_validate(declaration)
        start = with_credential(self.settings, catastrophe_workflow_id(decl.code), DECLARE_CATASTROPHE,
                                cat_client.start_payload(decl), None)
        await cat_client.declare(self.client, start, self.settings.task_queue)
        engine = make_engine(self.settings.resolved_database_url)
        for _ in range(600):
            with Session(engine) as session:
                if session.get(CatastropheRow, decl.code) is not None:
                    return decl.code
            await asyncio.sleep(0.1)
        raise TimeoutError(f"catastrophe {decl.code} was never recorded")

    def code_received(self, claim_id: str, purpose: str) -> str:
        """The code in the latest letter of this purpose in the outbox: what the claimant reads on the phone."""
        letters = letters_of(self.settings.outbox_dir, claim_id, f"code_{purpose}")
        found = code_in(read_letter(keyring_for(self.settings), letters[-1])) if letters else None
        if found is None:
            raise RuntimeError(f"no {purpose} code reached the outbox of claim {claim_id}")
        return found


async def wait_for(client: Client, claim_id: str, ready: Callable[[dict[str, Any]], bool],
                   seconds: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        status = await claim_status(client, claim_id)
        if ready(status):
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"claim {claim_id} stuck at {status['stage']}")
        await asyncio.sleep(0.2)


QUERY_PATIENCE = 120.0
"""How long the demo asks again when a busy worker leaves a status query unanswered."""


async def claim_status(client: Client, claim_id: str) -> dict[str, Any]:
    """The claim's status as the demo's scripts read it: the contract's JSON. A query a busy worker did not answer
    in time is asked again: the claim is there, the machine is slow."""
    deadline = time.monotonic() + QUERY_PATIENCE
    while True:
        try:
            return (await claim_client.claim_status(client, claim_id)).model_dump(mode="json")
        except RPCError as err:
            if not claim_client.unanswered(err) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def at_stage(stage: str) -> Callable[[dict[str, Any]], bool]:
    return lambda status: status["stage"] == stage
