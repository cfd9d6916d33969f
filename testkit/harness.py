"""Drives claims through a real worker on a real Temporal server, the way the back office would."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.empty_pb2 import Empty
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.gateway import LedgerGateway
from client.claims import unanswered
from config.encryption import EncryptionCodec, keyring_for, open_text
from config.settings import Settings
from documents.store import FolderStore
from edge.services import Services
from identity import development, keys
from models.contract import WORKFLOW_TYPE, workflow_id_for
from models.tables import GatewayTransfer, Notification, Payment
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
from testkit.waiting import STATE_DEADLINE, eventually

TOKEN_TTL_SECONDS = 12 * 3600
"""Tokens are checked against the workflow's clock; a day covers the time a test skips while one is in flight."""


@dataclass
class Claims:
    client: Client
    queue: str
    engine: Engine
    gateway: LedgerGateway
    settings: Settings
    skips_time: bool | None = None

    async def start(self, claim: dict[str, Any]) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(WORKFLOW_TYPE, claim, id=workflow_id_for(claim["claim_id"]),
                                                task_queue=self.queue)

    def handle(self, claim_id: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(workflow_id_for(claim_id))

    async def status(self, claim_id: str) -> dict[str, Any]:
        """The claim's status. A query the worker did not answer in time (a busy machine, a run that has just
        continued as new and not yet run its first task) is asked again: it fails the test only when it never
        comes."""
        deadline = time.monotonic() + STATE_DEADLINE
        while True:
            try:
                return await self.handle(claim_id).query("status")  # type: ignore[no-any-return]
            except RPCError as err:
                if not unanswered(err) or time.monotonic() > deadline:
                    raise

    async def update(self, claim_id: str, name: str, payload: Any) -> Any:
        """Send an update as the payload's actor would: with an action proof for the person and role it names (or
        the channel), as the API signs it for them, unless the payload brings its own `credential` (even None)."""
        if isinstance(payload, dict) and "credential" not in payload:
            payload = await self.proved(workflow_id_for(claim_id), name, payload)
        return await self.handle(claim_id).execute_update(name, payload)

    async def proved(self, workflow_id: str, name: str, payload: dict[str, Any], subject: str | None = None,
                     *roles: str) -> dict[str, Any]:
        """The payload with an action proof for `name` on `workflow_id`, issued at the server's time: for the
        person and role the payload names (or the channel), or for `subject` with `roles`."""
        return self.proof_for(workflow_id, name, payload, subject, *roles, issued_at=await self.server_time())

    def proof_for(self, workflow_id: str, name: str, payload: dict[str, Any], subject: str | None = None,
                  *roles: str, issued_at: float | None = None) -> dict[str, Any]:
        if subject is None:
            subject, named = development.sender_for(name, payload)
            roles = tuple(named)
        return keys.signer_for(self.settings).credential(development.vouched(subject, roles), workflow_id, name,
                                                         payload, issued_at=issued_at)

    async def server_time(self) -> float:
        """The server's clock: the time-skipping server's runs ahead of the wall clock (years, in long tests),
        and workflows check tokens against it."""
        if self.skips_time is False:
            return time.time()
        try:
            now = await self.client.test_service.get_current_time(Empty())
        except RPCError:
            self.skips_time = False
            return time.time()
        self.skips_time = True
        return float(now.time.ToSeconds())

    async def skip(self, seconds: float) -> None:
        """Let server time pass: skipped on the time-skipping server, waited out on a real one."""
        if await self.server_time() and self.skips_time:
            await self.client.test_service.unlock_time_skipping_with_sleep(
                SleepRequest(duration=Duration(seconds=int(seconds))))
        else:
            await asyncio.sleep(seconds)

    def token(self, subject: str, *roles: str, ttl_seconds: float = TOKEN_TTL_SECONDS,
              issued_at: float | None = None) -> str:
        return development.mint(self.settings.var_dir, subject=subject, roles=roles,
                                audience=self.settings.oidc_audience, ttl_seconds=ttl_seconds, issued_at=issued_at)

    async def refused(self, claim_id: str, name: str, payload: Any) -> ApplicationError:
        """Send an update that must be refused; the refusal's typed error."""
        try:
            await self.update(claim_id, name, payload)
        except WorkflowUpdateFailedError as err:
            assert isinstance(err.cause, ApplicationError), err.cause
            return err.cause
        raise AssertionError(f"{name} {payload} was accepted, expected a refusal")

    async def wait(self, claim_id: str, ready: Callable[[dict[str, Any]], bool], what: str,
                   seconds: float = STATE_DEADLINE) -> dict[str, Any]:
        status = await eventually(lambda: self.status(claim_id), ready, f"claim {claim_id} reached {what}", seconds)
        return status

    async def paid_on_approval(self, approver: str, role: str) -> str:
        """A claim that waits for a person's approval, approved by this one and paid: its id."""
        claim = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
        cid: str = claim["claim_id"]
        await self.start(claim)
        await self.at_stage(cid, "awaiting_approval")
        await self.update(cid, "approve", {"approver_id": approver, "role": role})
        await self.wait(cid, lambda s: s["outcome"] == "paid", "paid")
        return cid

    async def at_stage(self, claim_id: str, stage: str) -> dict[str, Any]:
        return await self.wait(claim_id, lambda s: s["stage"] == stage, stage)

    def notices(self, claim_id: str, kind: str | None = None) -> list[Notification]:
        """The claim's letters in the outbox, their bodies opened with the keys (they are stored sealed)."""
        keyring = keyring_for(self.settings)
        with Session(self.engine) as session:
            query = select(Notification).where(Notification.claim_id == claim_id)
            if kind:
                query = query.where(Notification.kind == kind)
            rows = list(session.exec(query.order_by(Notification.id)).all())
        return [row.model_copy(update={"body": open_text(keyring, row.body)}) for row in rows]

    async def sent(self, claim_id: str, kind: str, count: int = 1) -> list[Notification]:
        """The claim's letters of this kind once `count` of them are in the outbox. A letter goes out beside the
        lifecycle, so it may follow the state a test saw; only a run's result waits for every letter."""
        letters: list[Notification] = await eventually(
            lambda: self.notices(claim_id, kind), lambda rows: len(rows) >= count,
            f"{count} {kind} letter(s) sent on claim {claim_id}")
        return letters

    def code_sent(self, claim_id: str, purpose: str = "bank_account") -> str:
        """The one-time code in the latest letter of this purpose: what the claimant reads on their phone."""
        letters = self.notices(claim_id, f"code_{purpose}")
        assert letters, f"no {purpose} code was sent on claim {claim_id}"
        found = re.search(r"<strong>([0-9]{6})</strong>", letters[-1].body)
        assert found, f"no code in the letter {letters[-1].subject!r}"
        return found.group(1)

    async def change_bank_account(self, claim_id: str, account: dict[str, str]) -> Any:
        """What a claimant does: ask for a code, read it, send it with the new account."""
        await self.update(claim_id, "request_code", {"purpose": "bank_account"})
        code = self.code_sent(claim_id)
        return await self.update(claim_id, "update_bank_account", {**account, "code": code})

    def services(self, store_dir: Path, **changes: Any) -> Services:
        """What an in-process HTTP app needs to serve these claims: their client and database, a document folder,
        the development issuer's keys and the tests' payload key."""
        values: dict[str, Any] = {"client": self.client, "engine": self.engine, "store": FolderStore(store_dir),
                                  "verifier": keys.verifier_for(self.settings), "code_secret": b"c" * 32,
                                  "task_queue": self.queue, "max_upload_bytes": 1024,
                                  "codec": EncryptionCodec(keyring_for(self.settings)),
                                  "signer": keys.signer_for(self.settings)}
        return Services(**{**values, **changes})

    def payments(self, claim_id: str) -> list[Payment]:
        with Session(self.engine) as session:
            return list(session.exec(select(Payment).where(Payment.claim_id == claim_id,
                                                           Payment.status == "paid")).all())

    def transfers(self, claim_id: str) -> list[GatewayTransfer]:
        with Session(self.engine) as session:
            rows = session.exec(select(GatewayTransfer)).all()
            return [r for r in rows if f"/{claim_id}/" in r.idempotency_key]


def queue_name() -> str:
    return f"claims-test-{uuid.uuid4().hex[:8]}"
