"""Who sent an update: the credential verified with the worker's keys, then checked against who may send it
(core/rules/access.py). Shared by the claim and complaint workflows.

Replay-safe although the keys live in the worker and rotate: Temporal runs a validator only when the update is
first delivered, never on replay, so a replayed history is never checked against other keys. The check itself
is pure given the keys and `workflow.now()`.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.rules import access
    from identity import keys
    from identity.tokens import NotAuthenticated
    from models.contract import ErrorType, Role, Sender
    from workflows.claim_state import refuse


def authenticate(update: str, credential: str | None, actor: str | None = None, role: Role | None = None, *,
                 any_sender: bool = False) -> Sender:
    """The credential's verified sender; refused when it proves nobody, or (unless `any_sender`) when its sender
    may not send this update as `actor` in `role`."""
    verifier = keys.installed(workflow.info().task_queue)
    if verifier is None:
        raise refuse(f"{update}: this worker holds no keys to verify credentials with", ErrorType.NOT_AUTHENTICATED)
    try:
        sender = verifier.verify(credential, workflow.now())
    except NotAuthenticated as err:
        raise refuse(f"{update}: {err}", ErrorType.NOT_AUTHENTICATED) from None
    problem = None if any_sender else access.refusal(update, sender, actor, role.value if role is not None else None)
    if problem:
        raise refuse(f"{update}: {problem}", ErrorType.NOT_AUTHORIZED)
    return sender
