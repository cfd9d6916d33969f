"""Test-only variants of ClaimWorkflow that change what it does, for the replay tests.

A module of its own, with workflow imports only, because the sandbox re-imports a workflow's module."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contract import WORKFLOW_TYPE, ClaimResult
    from models.messages import CoverageResult
    from workflows.claim import ClaimWorkflow


@workflow.defn(name=WORKFLOW_TYPE)
class ChangedWithoutPatch(ClaimWorkflow):
    """A new step before the coverage check, added carelessly."""

    @workflow.run
    async def run(self, claim: Any = None, carried: Any = None) -> ClaimResult:
        return await super().run(claim, carried)

    async def _assess(self, coverage: CoverageResult) -> None:
        await workflow.sleep(1)
        await super()._assess(coverage)


@workflow.defn(name=WORKFLOW_TYPE)
class ChangedWithPatch(ClaimWorkflow):
    """The same new step, behind workflow.patched as docs/operators.md prescribes."""

    @workflow.run
    async def run(self, claim: Any = None, carried: Any = None) -> ClaimResult:
        return await super().run(claim, carried)

    async def _assess(self, coverage: CoverageResult) -> None:
        if workflow.patched("pause-before-coverage"):
            await workflow.sleep(1)
        await super()._assess(coverage)


@workflow.defn(name=WORKFLOW_TYPE)
class BrokenLetterTask(ClaimWorkflow):
    """A side task (the letter sender) with a bug: its failure must surface, not leave the claim hanging."""

    @workflow.init
    def __init__(self, claim: Any = None, carried: Any = None) -> None:
        super().__init__(claim, carried)

        async def broken(request: Any, turn: int | None = None) -> None:
            raise RuntimeError(f"bug in the task sending the {request.kind} letter")

        async def broken_run(run: Any) -> None:  # the letters queued on the fast path, sent once it is left
            await broken(run[0][0])

        self.shell.send = broken  # type: ignore[method-assign]
        self.shell._send_run = broken_run  # type: ignore[method-assign]

    @workflow.run
    async def run(self, claim: Any = None, carried: Any = None) -> ClaimResult:
        return await super().run(claim, carried)
