"""ClaimWorkflow: one claim from first notice of loss to payment, decision letter and survey.

The lifecycle reads top to bottom in `run`. The class extends one other, `ClaimUpdates` (claim_updates.py: the
updates and the `status` query), and is made of parts it holds rather than inherits: the shell (shell.py:
activities, timeline, letters, supervised side tasks, long waits), its clocks (clocks.py), its decisions
(decisions.py: payout, the money guard, payment, advances, closing), its reader (readings.py) and the claimant's
bank account (account_changes.py: codes, changes, the lock). Rules are pure
functions (core/rules); every side effect is an activity, so no workflow module imports database or template code.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.configuration import ConfigurationActivities
    from activities.database import ClaimsDatabase
    from activities.intake import IntakeActivities
    from core.claim import commands as c
    from core.rules import catastrophes, intake, triage
    from core.rules import recovery as recoveries
    from core.rules.calendar import due
    from identity.tokens import sender_of
    from models.contract import (
        WORKFLOW_TYPE,
        ApprovalRecord,
        ClaimInput,
        ClaimResult,
        ErrorType,
        Outcome,
        Path,
        Payout,
        RiskAssessment,
        Role,
        Stage,
        workflow_id_for,
    )
    from models.messages import AssessRisk, AssignHandler, CoverageResult, RegisterClaim, Rules, TakeIn
    from workflows import core_view
    from workflows.account_changes import AccountChanges
    from workflows.after_closing import AfterClosing
    from workflows.claim_state import ClaimState, parse, refuse
    from workflows.claim_updates import ClaimUpdates
    from workflows.clocks import Clocks
    from workflows.decisions import Decisions
    from workflows.readings import Reader
    from workflows.shell import LOCAL_OPTIONS, ON_LIFECYCLE, STEADY_RETRY, ClaimClosed, Shell


@workflow.defn(name=WORKFLOW_TYPE)
class ClaimWorkflow(ClaimUpdates):
    @workflow.init
    def __init__(self, claim: Any = None, carried: Any = None) -> None:
        """A continued run restores the carried state here, before any update's validator can run: an update
        that reaches the new run in its first task sees the claim as it was, not an empty one."""
        continued = workflow.info().continued_run_id is not None
        state = core_view.restored(carried) if carried is not None and continued else \
            ClaimState(workflow.info().workflow_id.removeprefix("claim-"))
        self.shell = Shell(state)
        self.clocks = Clocks(self.shell)
        self.decisions = Decisions(self.shell, self.clocks)
        self.reader = Reader(self.shell)
        self.accounts = AccountChanges(self.shell, self.clocks)
        self.after = AfterClosing(self.shell, self.clocks)
        self.decisions.opens_recovery = self.after.open
        self.risk_at_intake: RiskAssessment | None = None
        """The risk taking the claim in assessed (claims started since `lean-fast-path`)."""
        self.payout_at_intake: Payout | None = None
        """The payout taking the claim in assessed, which the fast path pays on (claims started since
        `letters-with-the-lifecycle`)."""

    # ================================================================== lifecycle

    @workflow.run
    async def run(self, claim: Any = None, carried: Any = None) -> ClaimResult:
        """`carried` is the state of the run before, when the claim continued as new; only the workflow
        itself passes it. A start that brings one (a state copied from a history, or made up: approvals, a bank
        account) is refused: only a run the claim itself continued may carry state."""
        ON_LIFECYCLE.set(True)
        if carried is not None:
            if workflow.info().continued_run_id is None or self.s.claim_id != workflow.info().workflow_id.removeprefix(
                    "claim-"):
                raise refuse("invalid claim: a start may not bring a carried state; only the claim's own "
                             "continue-as-new passes one", ErrorType.INVALID_CLAIM)
            return await self._resume(carried)
        s = self.s
        if claim is None:  # `temporal workflow start` without --input
            raise refuse("invalid claim: payload: no start input was given", ErrorType.INVALID_CLAIM)
        s.claim = parse(ClaimInput, claim, "invalid claim", ErrorType.INVALID_CLAIM)
        # A claim started since `every-moment-a-timer` takes every change made before it on that one marker, one
        # started since `three-local-steps` every change before that, and so on down to `lean-fast-path`: each marker
        # costs the claim an upsert of TemporalChangeVersion as well. Claims started before them ask each change.
        s.moments_by_timer = workflow.patched("every-moment-a-timer")
        s.three_steps = s.moments_by_timer or workflow.patched("three-local-steps")
        s.letters_with_lifecycle = s.three_steps or workflow.patched("letters-with-the-lifecycle")
        s.lean = s.letters_with_lifecycle or workflow.patched("lean-fast-path")
        if s.lean:
            s.one_ref_one_kind = s.recoveries_on = s.local_one_at_a_time = s.changes_at_start = True
            s.invoice_number_expected = s.financials = s.catastrophes_on = True
        else:
            s.one_ref_one_kind = workflow.patched("one-ref-one-kind")
            s.recoveries_on = workflow.patched("overpayment-recovery")
            s.local_one_at_a_time = workflow.patched("local-activities-one-at-a-time")
            s.changes_at_start = workflow.patched("changes-asked-at-start")
            s.invoice_number_expected = workflow.patched("invoice-number-expected")
            s.financials = workflow.patched("claim-financials")
            s.catastrophes_on = workflow.patched("catastrophes")
        problem = intake.refusal(s.claim, workflow.now())
        if problem:
            raise refuse(problem, ErrorType.INVALID_CLAIM)
        if workflow.info().workflow_id != workflow_id_for(s.claim.claim_id):
            raise refuse(f"workflow id must be {workflow_id_for(s.claim.claim_id)!r} for claim_id "
                         f"{s.claim.claim_id!r}", ErrorType.INVALID_CLAIM)
        if s.lean:  # the rules, the cover, the registration and the risk in one local activity
            s.registered_at = workflow.now()
            self.shell.fast = True
            taken = await self.shell.activity(IntakeActivities.take_in, TakeIn(
                claim=s.claim, chain_id=workflow.info().first_execution_run_id, registered_at=s.registered_at))
            rules, coverage, self.risk_at_intake = taken.rules, taken.coverage, taken.risk
            self.payout_at_intake = taken.payout if s.letters_with_lifecycle else None
            self._taken_in(rules)
        else:
            rules = await workflow.execute_local_activity_method(
                ConfigurationActivities.load_rules, start_to_close_timeout=timedelta(seconds=10),
                retry_policy=STEADY_RETRY,
                local_retry_threshold=LOCAL_OPTIONS["local_retry_threshold"] if s.local_one_at_a_time else None)
            unknown = sorted({d.kind for d in s.claim.documents} - set(rules.known_document_kinds))
            if unknown:
                raise refuse(f"invalid claim: documents.kind: unknown kinds {unknown}", ErrorType.INVALID_CLAIM)
            s.registered_at = workflow.now()
            self._taken_in(rules)
            self.shell.fast = True  # intake runs on local activities: no round trips through the server
            # The policy is looked up before anything is recorded or sent: an unknown policy refuses the report
            # and leaves the claim id free for the corrected one.
            coverage = await self.shell.activity(ClaimsDatabase.check_coverage, s.claim)
        s.policy = coverage.policy
        if s.catastrophes_on and coverage.catastrophe is not None:  # its rules apply from the start
            s.catastrophe = coverage.catastrophe.code
            s.rules = rules = catastrophes.under(rules, coverage.catastrophe.rules, s.claim.claim_type.value)
            s.required_documents = triage.required_documents(rules, s.claim.claim_type.value, s.claim.incident.cause)
            self.shell.upsert_search_attributes()
        if not s.lean:
            await self.shell.activity(ClaimsDatabase.register_claim, RegisterClaim(
                claim=s.claim, chain_id=workflow.info().first_execution_run_id, registered_at=s.registered_at))
        await self.shell.note("registered", detail=f"{s.claim.claim_type.value} claim on policy "
                                                   f"{s.claim.policy_number} for {s.claim.claimed_amount}"
                                                   + (f"; catastrophe {s.catastrophe}" if s.catastrophe else ""),
                              changes={"catastrophe": s.catastrophe} if s.catastrophe else None)
        self.shell.notify("acknowledgement", {
            "claim_type": s.claim.claim_type.value, "registered_at": s.registered_at,
            "checklist": s.required_documents, "received": [d.kind for d in s.submitted],
            "determination_days": rules.sla.determination_days, "payment_days": rules.sla.payment_days})

        await self.shell.supervise(self._lifecycle(coverage))
        return await self._finished()

    def _taken_in(self, rules: Rules) -> None:
        """The claim as registered, under the rules in force."""
        s = self.s
        claim = s.claim
        assert claim is not None
        s.rules = rules
        s.bank_account = claim.bank_account
        s.submitted = list(claim.documents)
        s.required_documents = triage.required_documents(rules, claim.claim_type.value, claim.incident.cause)
        self.shell.upsert_search_attributes()

    async def _finished(self) -> ClaimResult:
        await self.shell.flush()
        await workflow.wait_condition(lambda: (workflow.all_handlers_finished() and self.shell.side_tasks == 0)
                                      or self.shell.crash is not None)
        if self.shell.crash is not None:
            raise self.shell.crash
        return self.s.result()

    async def _resume(self, carried: Any) -> ClaimResult:
        """The claim continued as new at one of its long waits: the same state, the same clocks with the
        same due times, and the lifecycle picks up at the wait it left."""
        s = self.s
        wait, s.resume_at = s.resume_at, None
        self.shell.upsert_search_attributes()
        for name, clock in s.clocks.items():
            if clock.watched:
                self.shell.spawn(self.clocks.watch(name), name=f"clock:{name}")
        if "advance_payment" in s.clocks and not s.statutory_advance_done:
            self.shell.spawn(self.decisions.statutory_advance(), name="statutory advance")
        await self.shell.supervise(self._lifecycle_from(wait))
        return await self._finished()

    async def _lifecycle_from(self, wait: str | None) -> None:
        if wait == "approval" and self.s.review == "appeal":
            await self._guarded(self._resume_appeal)
        elif wait in ("documents", "investigation", "approval"):
            await self._guarded(lambda: self._standard_path(resume=wait))
        await self._after_close()

    async def _lifecycle(self, coverage: CoverageResult) -> None:
        await self._guarded(lambda: self._assess(coverage))
        await self._after_close()

    async def _assess(self, coverage: CoverageResult) -> None:
        s = self.s
        claim, rules = s.require_ready()
        await self.shell.enter(core_view.registered(s))
        if not coverage.covered:
            assert coverage.reason and coverage.clause
            await self.decisions.deny([coverage.reason], [rules.clauses.get(coverage.clause, coverage.clause)])
            return
        risk = self.risk_at_intake
        if risk is None:
            risk = await self.shell.activity(ClaimsDatabase.assess_risk, AssessRisk(
                claim=claim, reported_at=s.registered_at or workflow.now(), risk=rules.risk))
        s.risk = risk
        if rules.ocr_task_queue and self.shell.changed("document-reading"):
            s.reads_documents = True
            await self.reader.read_new()
        s.path = triage.choose_path(claim, s.risk, rules, s.one_ref_one_kind)
        why_not_fast = triage.fast_path_refusal(claim, s.risk, rules, s.one_ref_one_kind)
        if s.path == Path.FAST and s.document_review:
            s.path, why_not_fast = Path.STANDARD, "documents a person must read"
        if s.path == Path.STANDARD and coverage.catastrophe is not None and s.catastrophe is not None \
                and coverage.catastrophe.rules.green_channel:
            s.path = Path.GREEN  # the catastrophe's claims not paid at once: a dedicated handler, advances
        await self.shell.note("triaged", detail=f"risk {risk.score} ({risk.level}); {s.path.value} path"
                                                + (f" ({why_not_fast})" if why_not_fast else ""),
                              changes={"risk_score": risk.score, "risk_level": risk.level, "path": s.path.value})
        self.clocks.start("determination", rules.sla.determination_days)
        if s.path == Path.FAST:
            await self._fast_path()
            return
        self.shell.fast = False
        if s.path == Path.GREEN:
            await self._assign_dedicated_handler()
        await self._standard_path()

    async def _assign_dedicated_handler(self) -> None:
        """Green channel: a dedicated handler from the first hour, who is told at once."""
        s = self.s
        claim, _ = s.require_ready()
        s.set_handler(await self.shell.activity(ClaimsDatabase.assign_handler,
                                                AssignHandler(claim_id=claim.claim_id, claim_type=claim.claim_type)))
        assert s.handler is not None
        self.shell.upsert_search_attributes()
        await self.shell.note("assigned", detail=f"green channel: dedicated handler {s.handler}",
                              changes={"handler": s.handler})
        self.clocks.notify_staff("handler_assigned", Role.ADJUSTER, {"handler": s.handler,
                                                                     "description": claim.incident.description})

    def _triaged(self, documents_missing: bool) -> Stage:
        """Where the core sends the claim from triage: for its documents, an investigation, or adjusting."""
        s = self.s
        assert s.path is not None
        return core_view.moved_to(s, c.Triage(path=s.path, risk_low=s.risk is None or s.risk.level == "low",
                                              investigate=bool(s.investigation_reason),
                                              documents_missing=documents_missing))

    def _after_documents(self) -> Stage:
        """Where the core sends the claim once its materials are complete: an investigation, or adjusting."""
        if core_view.lifecycle_stage(self.s) == Stage.AWAITING_DOCUMENTS:  # asked for them, or reopened
            return core_view.moved_to(self.s, c.DocumentsComplete())
        return self._triaged(documents_missing=False)

    async def _fast_path(self) -> None:
        """Small, clear-cut claims: no human touches them; paid and notified within seconds."""
        await self.shell.enter(self._triaged(documents_missing=False))
        await self._assess_payout("fast path: within the system's authority", known=self.payout_at_intake)

    async def _standard_path(self, resume: str | None = None) -> None:
        """Documents, investigation when the rules call for one, payout, approval and payment. `resume` is
        the wait a continued run picks up at; the steps before it are done."""
        s = self.s
        claim, rules = s.require_ready()
        then = None
        if resume in (None, "documents"):
            if not await self._collect_documents(resumed=resume is not None):
                return
            s.investigation_reason = triage.investigation_reason(claim, s.risk, rules) if s.risk else None
            then = self._after_documents()
        if resume == "investigation":
            await self.clocks.wait_for(lambda: s.investigation is not None, "investigation")
        elif then == Stage.INVESTIGATING:
            assert s.investigation_reason is not None
            self.shell.fast = False
            await self._investigate(s.investigation_reason, then)
        if resume == "approval":
            await self._approve_and_pay(None)
            return
        await self.shell.enter(then if then == Stage.ADJUSTING else core_view.after_findings(s))
        await self._assess_payout("low risk, within the system's authority")

    async def _assess_payout(self, why_system: str, known: Payout | None = None) -> None:
        """The payout (`known`: as assessed when the claim was taken in), and where the core sends the claim on it:
        denied with nothing to pay, paid on the system's own approval, or to a person to approve."""
        payout = await self.decisions.compute_payout(known)
        then = core_view.assessed(self.s)
        if then == Stage.CLOSED:
            await self.decisions.deny_zero(payout)
            return
        await self._approve_and_pay(then, why_system)

    async def _approve_and_pay(self, then: Stage | None, why_system: str = "") -> None:
        """The system approves what the core sends straight to payment (`then`); anything else waits for a person
        (`then` None: the run continued as new while it waited at the stage it had entered)."""
        s = self.s
        assert s.payout is not None
        if then == Stage.PAYING:
            s.approvals.append(ApprovalRecord(approver_id="system", role=Role.SYSTEM, at=workflow.now(),
                                              comment=why_system))
        else:
            self.shell.fast = False
            if then is None:
                await self.clocks.wait_for(lambda: s.approved() or s.rejection is not None, "approval")
            else:
                await self._await_approval(then)
            if s.rejection is not None:
                await self.decisions.deny([s.rejection.reason], [s.rejection.clause], s.payout.basis,
                                          by=s.rejection.approver_id)
                return
        await self.decisions.decide_and_pay()

    async def _collect_documents(self, resumed: bool = False) -> bool:
        """The one consolidated request for everything missing, reminders of the same list, and closing as
        incomplete when the deadline passes. True when the materials are complete. `resumed`: the run
        continued as new while it waited; the reminders not yet sent are still to come."""
        s = self.s
        _, rules = s.require_ready()
        if resumed and s.moments_by_timer:  # the reminders not yet waited for, each one's timer even if just past
            clock = s.clocks["documents"]
            start, deadline = clock.started_at, clock.due_at
        elif resumed:
            assert s.continued_at is not None
            start, deadline = s.continued_at, s.clocks["documents"].due_at
        else:
            s.missing = s.still_missing()
            if not s.missing:
                self._materials_complete()
                return True
            self.shell.fast = False
            start = workflow.now()
            deadline = await self._request_documents(start)
        reminders = sorted(deadline - timedelta(seconds=d * rules.sla.day_seconds)
                           for d in rules.sla.reminder_days_before)
        due = [r for r in reminders if r > start and self._window_key("reminder", r) not in s.windows_waited]
        for moment in [*due, deadline]:
            if await self.shell.wait_quietly(lambda: not s.missing or s.withdrawal is not None, "documents", moment):
                break
            if moment != deadline:
                if s.moments_by_timer:
                    s.windows_waited.append(self._window_key("reminder", moment))
                self.shell.notify("reminder", self._reminder_context(deadline))
        self.shell.check_withdrawn()
        self.clocks.stop("documents")
        if s.missing:
            await self.shell.note("documents_overdue", detail="still missing: " + ", ".join(s.missing))
            self.shell.notify("closed_incomplete", {"missing": list(s.missing), "requested_at": s.requested_at})
            await self.decisions.close(Outcome.CLOSED_INCOMPLETE)
            return False
        await self.shell.note("documents_complete")
        if s.reads_documents:
            await self.reader.read_new()
        self._materials_complete()
        return True

    async def _request_documents(self, start: datetime) -> datetime:
        """Start the documents clock and send the one request (or, reopened, the same list again)."""
        s = self.s
        _, rules = s.require_ready()
        first_request = s.requested_at is None
        s.requested_at = s.requested_at or start
        deadline = self.clocks.start("documents", rules.sla.documents_days, staff=False, watched=False).due_at
        self.clocks.pause("determination")  # the law's clock does not run while the claimant gathers materials
        # Sent for its documents by the core at triage; a reopened claim is there already (the core's `Reopened`).
        await self.shell.enter(self._triaged(documents_missing=True) if first_request
                               else core_view.lifecycle_stage(s))
        if first_request:
            await self.shell.note("documents_requested", detail="one request for: " + ", ".join(s.missing))
            self.shell.notify("missing_materials", {"missing": list(s.missing), "due_at": deadline})
        else:  # reopened: the same list again, with a new deadline
            self.shell.notify("reminder", self._reminder_context(deadline))
        return deadline

    def _materials_complete(self) -> None:
        s = self.s
        _, rules = s.require_ready()
        if "determination" not in s.clocks:
            self.clocks.start("determination", rules.sla.determination_days)
        self.clocks.resume("determination")
        if not s.statutory_advance_done and "advance_payment" not in s.clocks:
            self.clocks.start("advance_payment", rules.sla.advance_payment_days, staff=False, watched=False)
            self.shell.spawn(self.decisions.statutory_advance(), name="statutory advance")

    def _reminder_context(self, deadline: datetime) -> dict[str, Any]:
        _, rules = self.s.require_ready()
        days_left = max(0, int((deadline - workflow.now()).total_seconds() // rules.sla.day_seconds))
        return {"missing": list(self.s.missing), "due_at": deadline, "requested_at": self.s.requested_at,
                "days_left": days_left}

    async def _investigate(self, reason: str, stage: Stage) -> None:
        """The investigation the core sent the claim to (`stage`), and the wait for its findings."""
        s = self.s
        _, rules = s.require_ready()
        clock = self.clocks.start("investigation", rules.sla.investigation_days)
        await self.shell.enter(stage)
        await self.shell.note("investigation_opened", detail=reason)
        self.shell.notify("investigation_opened", {"reason": reason, "due_at": clock.due_at})
        await self.clocks.wait_for(lambda: s.investigation is not None, "investigation")

    async def _await_approval(self, stage: Stage) -> None:
        """The wait for a person's decision, at the stage the core sent the claim to for it."""
        s = self.s
        _, rules = s.require_ready()
        self.clocks.start("approval", rules.sla.approval_business_days, owner=s.required_role(), business=True)
        payout = str(s.payout.total) if s.payout else None
        await self.shell.enter(stage, changes={"payout_amount": payout})
        await self.clocks.wait_for(lambda: s.approved() or s.rejection is not None, "approval")

    async def _withdraw(self) -> None:
        s = self.s
        assert s.withdrawal is not None
        self.shell.notify("withdrawn", {"reason": s.withdrawal.reason})
        await self.decisions.close(Outcome.WITHDRAWN)

    async def _guarded(self, step: Callable[[], Coroutine[Any, Any, None]]) -> None:
        try:
            await step()
        except ClaimClosed:
            await self._withdraw()

    # ================================================================== after closing

    async def _after_close(self) -> None:
        """Survey a day after closing; meanwhile an appeal (after a denial or partial approval) or a
        reopening (after closing incomplete) takes the claim back into review. Money owed back keeps the claim
        open until it is repaid or written off."""
        s = self.s
        _, rules = s.require_ready()
        while True:
            assert s.closed_at is not None
            moments: dict[str, datetime] = {}
            if not s.survey_sent and s.outcome in (Outcome.PAID, Outcome.DENIED):
                moments["survey"] = due(s.closed_at, rules.sla.survey_days, rules.sla)
            answer_until = s.survey_until()
            # The patch is asked about whenever there is a window, before the time is compared: whether a marker is
            # written must not hang on the moment a task runs.
            if answer_until is not None and self.shell.changed("survey-window") and self._open(answer_until,
                                                                                               "survey_window"):
                moments["survey_window"] = answer_until  # the claim stays open for the claimant's answer
            window = self._appeal_window_end()
            if window is not None and self._open(window, "appeal_window"):
                moments["appeal_window"] = window
            if s.outcome == Outcome.CLOSED_INCOMPLETE:
                reopen_until = due(s.closed_at, rules.sla.reopen_window_days, rules.sla)
                if self._open(reopen_until, "reopen_window"):
                    moments["reopen_window"] = reopen_until
            owing = recoveries.outstanding(s.recoveries) > 0
            if not moments and not owing:
                return
            # Money owed back keeps the claim open (for its repayments and write-off) after every window passed.
            clock, moment = min(moments.items(), key=lambda kv: kv[1]) if moments else (recoveries.CLOCK, None)
            news = await self.shell.wait_quietly(self._after_close_news(until_repaid=moment is None), "after_close",
                                                 moment)
            if not news and moment is not None and s.moments_by_timer:
                s.windows_waited.append(self._window_key(clock, moment))
            if s.appeal is not None:
                await self._guarded(self._review_appeal)
            elif s.reopen_request is not None:
                await self._guarded(self._reopen)
            elif clock == "survey":
                s.survey_sent, s.survey_sent_at = True, workflow.now()
                self.shell.notify("survey", {})

    def _open(self, end: datetime, name: str) -> bool:
        """Whether a window after closing is still to be waited for.

        A claim started since `every-moment-a-timer` waits for each window until its timer fires, whatever the clock
        says. A time compared here could differ between the run and its replay: the moment the claim closed is read
        when a local activity's result reaches the workflow, which a replay may meet in an earlier task."""
        if self.s.moments_by_timer:
            return self._window_key(name, end) not in self.s.windows_waited
        return end > workflow.now()

    @staticmethod
    def _window_key(name: str, end: datetime) -> str:
        return f"{name}@{end.isoformat()}"

    def _after_close_news(self, until_repaid: bool) -> Callable[[], bool]:
        """What ends a wait after closing: an appeal, a reopening, or (`until_repaid`: no window is left to wait
        for) nothing more owed back."""
        s = self.s
        return lambda: s.appeal is not None or s.reopen_request is not None or (
            until_repaid and recoveries.outstanding(s.recoveries) <= 0)

    async def _review_appeal(self) -> None:
        """A supervisor who took no part reviews the decision: upholds it (reject) or replaces it (approve)."""
        s = self.s
        _, rules = s.require_ready()
        appeal = s.appeal
        assert appeal is not None and s.decision is not None
        then = core_view.moved_to(s, c.Appeal(appeal.reason))  # adjusting first when no payout was ever assessed
        s.appeal, s.appeals = None, s.appeals + 1
        s.review, s.outcome, s.closed_at, s.rejection, s.agreed_amount = "appeal", None, None, None, None
        s.decision_taken = False
        s.approvals_from = len(s.approvals)
        self.clocks.start("appeal_ack", rules.sla.appeal_ack_days, owner=Role.SUPERVISOR)
        self.clocks.start("appeal_resolution", rules.sla.appeal_resolution_days, owner=Role.SUPERVISOR)
        sender = s.appeal_sender or sender_of(appeal.credential)  # a state carried from before kept the proof
        await self.shell.note("appeal_received", detail=appeal.reason, sender=sender)
        self.shell.notify("appeal_received", {"reason": appeal.reason})
        self.clocks.stop("appeal_ack")
        if then == Stage.ADJUSTING:
            await self.shell.enter(then)
            await self.decisions.compute_payout()
            then = core_view.assessed(s)  # a review goes to its reviewer, even with nothing assessed to pay
        await self._await_approval(then)
        await self._decide_appeal()

    async def _resume_appeal(self) -> None:
        """The run continued as new while the appeal waited for its reviewer: it goes on waiting."""
        s = self.s
        if self.shell.changed("appeal-resume-awaits-approval"):
            await self.clocks.wait_for(lambda: s.approved() or s.rejection is not None, "approval")
        await self._decide_appeal()

    async def _decide_appeal(self) -> None:
        """The reviewer's answer: the decision stands (a rejection of the appeal) or a new one is paid."""
        s = self.s
        claim, _ = s.require_ready()
        previous = s.decision
        assert previous is not None
        if s.rejection is not None:
            reasons = [*previous.reasons, f"appeal reviewed and not upheld: {s.rejection.reason}"]
            if previous.kind == "denied":
                await self.decisions.deny(reasons, [*previous.clauses, s.rejection.clause], previous.basis,
                                          by=s.rejection.approver_id)
            else:
                s.decision = previous.model_copy(update={"reasons": reasons, "decided_at": workflow.now()})
                await self.shell.note("decided", by=s.rejection.approver_id, detail="appeal not upheld")
                self.shell.notify("decision_partial", {
                    "amount": previous.amount, "claimed": claim.claimed_amount, "basis": previous.basis,
                    "appeal_days": 0})
                await self.decisions.close(Outcome.PAID)
            return
        await self.decisions.decide_and_pay()

    async def _reopen(self) -> None:
        s = self.s
        request = s.reopen_request
        assert request is not None
        s.reopen_request, s.outcome, s.closed_at, s.decision_taken = None, None, None, False
        sender = s.reopen_sender or sender_of(request.credential)  # a state carried from before kept the proof
        await self.shell.note("reopened", by=request.by, detail=request.reason, sender=sender)
        await self._standard_path()
