"""How a call to a claim's or a complaint's workflow is refused, in one plain line each: kept apart from the calls
(client/claims.py) so a command that only reads a claim (`starter.py status`) starts without the workflows' code."""

from __future__ import annotations

from temporalio.service import RPCError, RPCStatusCode


class Refused(Exception):
    """A refusal or bad input, in one plain line: the workflow refused an update, or there is no such claim."""


class DuplicateClaim(Refused):
    """A claim with this id exists already; nothing was started."""


class NoSuchWorkflow(Refused):
    """No claim or complaint has this id (or it was never registered)."""


class NotRegistered(Refused):
    """The claim's workflow ran but never registered the claim (a report refused at intake)."""


class Ended(Refused):
    """The claim or complaint has ended: it takes no more updates."""


class UpdateRefused(Refused):
    """The workflow refused the update: its typed reason (`ErrorType`, None for an untyped failure) and message."""

    def __init__(self, type_: str | None, reason: str) -> None:
        super().__init__(f"refused ({type_}): {reason}" if type_ else f"refused: {reason}")
        self.type = type_
        self.reason = reason


class RunFailed(Refused):
    """The workflow's run failed: its typed reason and message (a claim refused at intake, say)."""

    def __init__(self, type_: str, reason: str) -> None:
        super().__init__(f"failed ({type_}): {reason}")
        self.type = type_
        self.reason = reason


def missing_workflow(workflow_id: str, err: RPCError) -> Exception:
    """What an RPC error on a workflow means here: not there, ended, or the service's own failure (kept)."""
    if err.status == RPCStatusCode.NOT_FOUND:
        if "workflow execution already completed" in err.message.lower():  # not an id that says "completed"
            return Ended(f"{workflow_id}: {err.message}")
        return NoSuchWorkflow(f"{workflow_id}: {err.message}")
    return err
