"""Who sent an update: the action proof in its `credential` verified with the worker's keys (identity/actions.py),
bound to this workflow, this update and this payload, never used here before; then checked against who may send
it (core/rules/access.py). Shared by the claim, complaint and catastrophe workflows.

Replay-safe although the keys live in the worker and rotate: Temporal runs a validator only when the update is
first delivered, never on replay, so a replayed history is never checked against other keys. The check itself
is pure given the keys, `workflow.now()` and the proofs already spent. Handlers spend the proof (`spend`), since
validators must not change state and handlers replay.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.rules import access
    from identity.actions import Action, read_unverified
    from identity.installed import installed
    from identity.tokens import LEEWAY_SECONDS, NotAuthenticated, sender_of
    from models.contract import ErrorType, Role, Sender
    from workflows.claim_state import refuse


def authenticate(update: str, payload: Any, actor: str | None = None, role: Role | None = None, *,
                 spent: MutableMapping[str, datetime] | None = None, any_sender: bool = False) -> Sender:
    """The sender the payload's proof names; refused when it proves nobody, is bound to another action or was
    used already (`spent`), or (unless `any_sender`) when its sender may not send this update as `actor` in
    `role`."""
    verifier = installed(workflow.info().task_queue)
    if verifier is None:
        raise refuse(f"{update}: this worker holds no keys to verify credentials with", ErrorType.NOT_AUTHENTICATED)
    credential = payload.get("credential") if isinstance(payload, dict) else None
    try:
        sender = verifier.verify(credential, Action.of(workflow.info().workflow_id, update, payload), workflow.now())
    except NotAuthenticated as err:
        raise refuse(f"{update}: {err}", ErrorType.NOT_AUTHENTICATED) from None
    if spent is not None and sender.token_id in spent:
        raise refuse(f"{update}: credential: this action proof was used already; ask for a new one",
                     ErrorType.NOT_AUTHENTICATED)
    problem = None if any_sender else access.refusal(update, sender, actor, role.value if role is not None else None)
    if problem:
        raise refuse(f"{update}: {problem}", ErrorType.NOT_AUTHORIZED)
    return sender


def spend(update: str, payload: Any, spent: MutableMapping[str, datetime]) -> None:
    """Keep the proof's id, so it is never accepted again on this workflow; refuse one spent already (two updates
    with one proof, both validated before either handler ran). Ids of proofs past their expiry are dropped: an
    expired proof is refused anyway. Bearer tokens in older histories are not proofs and are not kept."""
    claims = read_unverified(payload.get("credential") if isinstance(payload, dict) else None)
    if claims is None or not isinstance(claims.get("jti"), str):
        return
    if claims["jti"] in spent:
        raise refuse(f"{update}: credential: this action proof was used already; ask for a new one",
                     ErrorType.NOT_AUTHENTICATED)
    now = workflow.now()
    for proof_id in [k for k, until in spent.items() if until < now]:
        del spent[proof_id]
    expiry = claims.get("exp")
    until = datetime.fromtimestamp(expiry + LEEWAY_SECONDS, UTC) if isinstance(expiry, int | float) else now
    spent[claims["jti"]] = max(until, now)


def start_sender(action: str, payload: Any, actor: str | None = None, role: Role | None = None) -> Sender:
    """Who started a workflow (a complaint filed, a catastrophe declared): the start's action proof, verified with
    the worker's keys. On replay (an audit, a worker rebuilding the run) the keys may have rotated and the proof
    expired: it was checked when the run first ran, so its sender is read as recorded."""
    try:
        return authenticate(action, payload, actor, role)
    except ApplicationError:
        credential = payload.get("credential") if isinstance(payload, dict) else None
        recorded = sender_of(credential) if workflow.unsafe.is_replaying() else None
        if recorded is None:
            raise
        return recorded
