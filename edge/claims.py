"""Talking to a claim's workflow for the API and the workbench: its status, and updates sent with the caller's
own token, the workflow's answers turned into problem documents."""

from __future__ import annotations

from typing import Any, TypeVar

import structlog
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from client import claims as claim_client
from client.claims import Ended, NoSuchWorkflow, NotRegistered, Refused, UpdateMethod, UpdateRefused, update_name
from documents.pages import refuse_oversized
from documents.store import DocumentRejected, check_upload
from edge.auth import Caller
from edge.problems import ProblemError, not_found, refused
from edge.services import Services
from edge.views import StoredUpload
from models import contract as c
from models.contract import workflow_id_for
from models.messages import EndedClaimCode
from workflows.claim import ClaimWorkflow

R = TypeVar("R")

log = structlog.get_logger(__name__)


async def claim_status_of(client: Client, claim_id: str) -> c.ClaimStatus:
    """The claim's `status` query, or 404 when there is no registered claim of that id."""
    try:
        return await claim_client.claim_status(client, claim_id)
    except NotRegistered:  # the claim failed before it was registered (an unknown policy, say)
        raise not_found(f"claim {claim_id} was not registered") from None
    except (NoSuchWorkflow, Ended):  # a query reaches an ended claim; this is only a guard
        raise not_found(f"claim {claim_id} does not exist") from None


async def send_update(svc: Services, claim_id: str, update: UpdateMethod[R], payload: dict[str, Any],
                      caller: Caller) -> R:
    """An update in the caller's name: its `credential` an action proof for this claim, update and payload, signed
    for the caller's verified token (never the token); the workflow's refusal as a problem document."""
    sent = svc.signer.credential(caller.sender, workflow_id_for(claim_id), update_name(update), payload)
    try:
        return await claim_client.send_update(svc.client, claim_id, update, sent)
    except UpdateRefused as err:
        raise refused(err.type, err.reason) from None
    except Ended:
        raise refused(c.ErrorType.NOT_ALLOWED, f"{update_name(update)}: claim {claim_id} has ended") from None
    except NoSuchWorkflow:
        raise not_found(f"claim {claim_id} does not exist") from None


async def request_progress_code(svc: Services, claim_id: str, caller: Caller) -> str | None:
    """Ask the claim to send a progress code to the contact on file; a claim whose workflow has ended sends it
    through a workflow of its own (workflows/ended_claim_code.py), so a paid, rejected or withdrawn claim's page
    opens as any other. Where the code went, masked (****5678); None when the claim does not exist. A code
    refused (one a minute, five a day) is logged, and the answer is the same."""
    payload = {"purpose": c.CodePurpose.PROGRESS.value}
    sent = svc.signer.credential(caller.sender, workflow_id_for(claim_id), update_name(ClaimWorkflow.request_code),
                                 payload)
    try:
        await claim_client.send_update(svc.client, claim_id, ClaimWorkflow.request_code, sent)
    except Ended:
        request = EndedClaimCode(claim_id=claim_id, requested_by=caller.sender.subject)
        try:
            await claim_client.ended_claim_code(svc.client, svc.task_queue, request)
        except Refused as err:
            log.info("progress code not sent", claim_id=claim_id, reason=str(err))
    except NoSuchWorkflow:
        return None
    except UpdateRefused as err:
        log.info("progress code not sent", claim_id=claim_id, type=err.type, reason=err.reason)
    return await claim_client.code_destination(svc.client, claim_id)


async def store_and_submit(svc: Services, claim_id: str, kind: str, content: bytes,
                           declared_type: str | None, max_bytes: int, caller: Caller) -> StoredUpload:
    """Store an uploaded file by its SHA-256 (the same file twice is stored once), then send it to the claim as
    `submit_documents` with the reference `doc://sha256/<hex>`, in the caller's name."""
    if len(content) > max_bytes:
        raise ProblemError(413, "document-too-large", "Document too large",
                           f"file: larger than the limit of {max_bytes} bytes")
    try:
        media_type = check_upload(content, declared_type, max_bytes=max_bytes)
        await run_in_threadpool(refuse_oversized, content)  # before anything is stored
        stored = await run_in_threadpool(svc.store.put, content, media_type)
    except DocumentRejected as err:
        raise ProblemError(422, "document-rejected", "Document rejected", f"{err.field}: {err}") from None
    missing = await send_update(svc, claim_id, ClaimWorkflow.submit_documents,
                                {"documents": [{"kind": kind, "ref": stored.ref}]}, caller)
    log.info("document uploaded", claim_id=claim_id, kind=kind, sha256=stored.sha256, size=stored.size)
    return StoredUpload(kind=kind, ref=stored.ref, sha256=stored.sha256, size=stored.size,
                        media_type=stored.media_type, missing_documents=list(missing))
