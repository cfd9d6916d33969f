"""CatastropheWorkflow: one declared catastrophe, from its declaration by a manager to its closing
(docs/catastrophes.md).

Declared, it is written where intake reads it, so a claim reported from then on whose incident falls inside joins
it; the open claims that may fall inside are told, and each looks for itself. Closed by a manager's update, it is
written closed: no claim joins it any more, and those that joined stay as they are. Who declared and who closed it,
with their verified senders, stay in its history and its timeline.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.catastrophes import CatastropheActivities
    from identity.tokens import sender_of
    from models.catastrophes import (
        CATASTROPHE_WORKFLOW_TYPE,
        DECLARE_CATASTROPHE,
        CatastropheStatus,
        CloseCatastrophe,
        DeclareCatastrophe,
        catastrophe_workflow_id,
    )
    from models.contract import ErrorType, Role, Sender, TimelineEntry
    from workflows.claim_state import parse, refuse
    from workflows.credentials import authenticate, spend, start_sender
    from workflows.shell import STEADY_RETRY

CLOSE = "close_catastrophe"


@workflow.defn(name=CATASTROPHE_WORKFLOW_TYPE)
class CatastropheWorkflow:
    @workflow.init
    def __init__(self, declaration: Any = None) -> None:
        self.s: CatastropheStatus | None = None
        self.proofs: dict[str, Any] = {}

    @workflow.run
    async def run(self, declaration: Any = None) -> CatastropheStatus:
        req = parse(DeclareCatastrophe, declaration, "invalid catastrophe", ErrorType.INVALID_CLAIM)
        if workflow.info().workflow_id != catastrophe_workflow_id(req.code):
            raise refuse(f"invalid catastrophe: workflow id must be {catastrophe_workflow_id(req.code)!r}",
                         ErrorType.INVALID_CLAIM)
        by = start_sender(DECLARE_CATASTROPHE, declaration, req.declared_by, Role.MANAGER)
        self.s = s = CatastropheStatus(
            code=req.code, name=req.name, regions=list(req.regions), starts_at=req.starts_at, ends_at=req.ends_at,
            claim_types=list(req.claim_types), rules=req.rules, declared_by=req.declared_by,
            declared_at=workflow.now(), state="declared")
        self._note("declared", req.declared_by, f"{req.name}: regions {', '.join(req.regions)}, "
                                                f"{req.starts_at.isoformat()} to {req.ends_at.isoformat()}; "
                                                f"{req.reason}", by)
        await self._record()
        claims = await workflow.execute_activity_method(
            CatastropheActivities.claims_to_tell, req.code, start_to_close_timeout=timedelta(minutes=2),
            retry_policy=STEADY_RETRY)
        if claims:
            s.open_claims_told = await workflow.execute_activity_method(
                CatastropheActivities.tell_claims, claims, start_to_close_timeout=timedelta(minutes=30),
                heartbeat_timeout=timedelta(minutes=1), retry_policy=STEADY_RETRY)
            self._note("open_claims_told", "system", f"{s.open_claims_told} open claims told to look")
        await workflow.wait_condition(lambda: s.state == "closed")
        await self._record()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return s

    @workflow.update(name=CLOSE)
    async def close_catastrophe(self, payload: Any) -> CatastropheStatus:
        spend(CLOSE, payload, self.proofs)
        req = parse(CloseCatastrophe, payload, CLOSE)
        s = self._state()
        s.state, s.closed_at, s.closed_by = "closed", workflow.now(), req.by
        self._note("closed", req.by, req.reason, sender_of(req.credential))
        return s

    @close_catastrophe.validator
    def _validate_close(self, payload: Any) -> None:
        req = parse(CloseCatastrophe, payload, CLOSE)
        authenticate(CLOSE, payload, req.by, Role.MANAGER, spent=self.proofs)
        if self._state().state == "closed":
            raise refuse(f"{CLOSE}: the catastrophe is closed already")

    @workflow.query
    def status(self) -> CatastropheStatus:
        return self._state()

    def _state(self) -> CatastropheStatus:
        if self.s is None:
            raise refuse("the catastrophe is still being declared; try again in a moment")
        return self.s

    def _note(self, event: str, by: str, detail: str, sender: Sender | None = None) -> None:
        self._state().timeline.append(TimelineEntry(at=workflow.now(), event=event, by=by, detail=detail,
                                                    sender=sender))

    async def _record(self) -> None:
        await workflow.execute_activity_method(CatastropheActivities.record_catastrophe, self._state(),
                                               start_to_close_timeout=timedelta(seconds=30),
                                               retry_policy=STEADY_RETRY)
