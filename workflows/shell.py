"""The claim workflow's shell: activities, the timeline, letters, stages, supervised side tasks and the long waits.

The claim is put together from parts, not from a chain of base classes: `ClaimWorkflow` (claim.py, the lifecycle)
extends `ClaimUpdates` (claim_updates.py, the updates and the `status` query) and holds a `Shell` (this module), its
`Clocks` (clocks.py), its `Decisions` (decisions.py: payout, the money guard, payment, advances, closing) and its
`Reader` (readings.py: documents read by machine). Each part gets the ones it uses when it is made; the claim's state
lives in the shell (`Shell.s`) and every part reads the same one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.database import ClaimsDatabase
    from activities.lifecycle import LifecycleActivities
    from activities.notifications import NotificationActivities
    from activities.payments import PaymentActivities
    from models.contract import ErrorType, Sender, Stage, TimelineEntry, UpdateAck
    from models.messages import (
        ClaimEvent,
        EventBatch,
        LetterBatch,
        LetterOutcome,
        LettersAfterEvents,
        NotificationRequest,
        PaymentAfterEvents,
        PaymentReceipt,
        PaymentRequest,
        Recipient,
    )
    from workflows import core_view, financials, metrics
    from workflows.claim_state import ClaimState, refuse

T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")

BUSINESS_ERRORS = [e.value for e in ErrorType]
# Database: retried with backoff for as long as an outage lasts; business rejections never.
STEADY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                           maximum_interval=timedelta(minutes=1), non_retryable_error_types=BUSINESS_ERRORS)
# Payments: the gateway may be down for a while; the idempotency key makes every retry safe.
PAYMENT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                            maximum_interval=timedelta(minutes=5), non_retryable_error_types=BUSINESS_ERRORS)
# Letters: a few tries over about ten minutes, then recorded as failed. A letter never holds anything up.
LETTER_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=3.0,
                           maximum_interval=timedelta(minutes=5), maximum_attempts=6,
                           non_retryable_error_types=BUSINESS_ERRORS)
# A batch of letters: one try; a letter it could not send goes on by itself, with LETTER_RETRY (`Shell.send_queued`).
ONE_TRY = RetryPolicy(maximum_attempts=1)
MOMENT_JUST_PAST = 0.001
"""The timer, in seconds, for a moment already past (claims started since `every-moment-a-timer`)."""


async def until(condition: Callable[[], bool], moment: datetime, *, timer_when_past: bool) -> bool:
    """Wait for the condition until a moment: True if it held before the moment came, False once it came.

    `timer_when_past` (claims since `every-moment-a-timer`, complaints since `complaint-every-moment-a-timer`): a timer
    even for a moment just past, so that whether one is set never hangs on the time: a replay may read an earlier time
    than the run did, where a local activity's result reached the run in a later task than it reaches the replay.
    Without it, none for a moment past."""
    remaining = (moment - workflow.now()).total_seconds()
    if remaining <= 0 and not timer_when_past:
        return False
    try:
        await workflow.wait_condition(condition, timeout=timedelta(seconds=max(remaining, MOMENT_JUST_PAST)))
    except TimeoutError:
        return False
    return True


EarlierChange = Literal["document-reading", "survey-window", "appeal-resume-awaits-approval", "carry-core"]
"""The changes asked in the middle of a run before claims asked every change at their start (`Shell.changed`). A
later change is asked at the start of `ClaimWorkflow.run`, before its first local activity, into the claim's
state; never in the middle of a run."""

LOCAL_OPTIONS: dict[str, Any] = {"start_to_close_timeout": timedelta(seconds=10),
                                   "local_retry_threshold": timedelta(seconds=1)}
"""A local activity (claims started since `local_one_at_a_time`): an attempt has ten seconds, and a retry after
more than a second's backoff waits on a timer, in a workflow task of its own, rather than inside the task. A task
held open by local activities is extended by the worker, and a replay may meet a result in another task after an
extension (`Shell.changed`); a slow or failing database must not hold a task open."""

ON_LIFECYCLE: ContextVar[bool] = ContextVar("on_lifecycle", default=False)
"""True in the claim's lifecycle (the run and what it awaits), False in update handlers and side tasks: only the
lifecycle's own steps may run as local activities (see `Shell.activity`)."""


class ClaimClosed(Exception):
    """Unwinds the lifecycle when the claim closes early (withdrawn)."""


ActivityFailure = (ActivityError, ApplicationError)
"""How an activity's failure reaches workflow code: wrapped in ActivityError (normal activities) or, for a
local activity's non-retryable failure, as the ApplicationError itself."""


def business_error(err: ActivityError | ApplicationError) -> ApplicationError | None:
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError) and cause.type in BUSINESS_ERRORS:
        return cause
    return None


class Shell:
    """State, activities, the timeline and letters. No business rule lives here."""

    s: ClaimState
    fast: bool
    """True while intake and the fast path run: the lifecycle's activities are local (no server round trip)."""
    local_in_flight: int
    """Local activities running now: at most one, when the claim keeps to one at a time."""
    letters_queued: int
    letters_done: set[int]
    """Letters handed out, and the turns of those done with (sent or recorded as failed): a claim's letters go out in
    the order they were written (claims started since `local_one_at_a_time`; see `send`)."""
    crash: BaseException | None
    """The first failure of a side task (clock watcher, letter, advance): the run re-raises it, so it
    surfaces as a failed workflow task an operator sees instead of a silent hang."""
    side_tasks: int
    """Side tasks still running; the workflow completes only when they are done."""
    in_flight: int
    """Activities running now (letters among them): the run continues as new only when none is."""
    pending: list[ClaimEvent]
    """Timeline entries the lifecycle noted on its fast path and has yet to hand to a write (`flush`)."""
    unwritten: list[ClaimEvent]
    """Every timeline entry noted and not yet known written, in the order noted: each write carries them all, so no
    entry overtakes one noted before it, and the log takes an entry it holds already as written (its key)."""
    attributes_stale: bool
    """The search attributes changed since the lifecycle last upserted them (`flush`)."""
    queued_letters: list[tuple[NotificationRequest, int]]
    """Letters the lifecycle wrote on its intake and fast path, with their turns, to go out together at its next
    `flush` (claims started since `letters-with-the-lifecycle`)."""

    def __init__(self, state: ClaimState) -> None:
        self.s = state
        self.fast = False
        self.local_in_flight = 0
        self.letters_queued, self.letters_done = 0, set()
        self.crash = None
        self.side_tasks = 0
        self.in_flight = 0
        self.pending = []
        self.unwritten = []
        self.attributes_stale = False
        self.queued_letters = []

    # ------------------------------------------------------------------ supervised side tasks

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run work beside the lifecycle. Its failure is never lost: it ends the run (see `crash`)."""

        async def supervised() -> None:
            ON_LIFECYCLE.set(False)  # work beside the lifecycle is never local (see `activity`)
            try:
                await work
            except ClaimClosed:
                pass
            except asyncio.CancelledError:
                raise
            except BaseException as err:  # noqa: BLE001 (kept and re-raised by the run)
                if self.crash is None:
                    self.crash = err
            finally:
                self.side_tasks -= 1

        self.side_tasks += 1
        asyncio.create_task(supervised(), name=name)

    async def supervise(self, main: Coroutine[Any, Any, None]) -> None:
        """Run the lifecycle; a side task's failure ends it the same way its own failure would."""
        task = asyncio.create_task(main, name="lifecycle")
        await workflow.wait_condition(lambda: task.done() or self.crash is not None)
        if not self.s.lean:
            if self.crash is not None:
                task.cancel()
                raise self.crash
            task.result()
            return
        if self.crash is not None:  # stopped first: nothing moves after the failure, then what it noted is written
            task.cancel()
            await asyncio.wait([task])
        failure = self.crash or (task.exception() if not task.cancelled() else None)
        try:
            await self.flush()  # what the lifecycle noted is written however it ended
        except BaseException as err:
            if failure is None:
                raise
            raise failure from err  # the run's own failure, not the write's
        if failure is not None:
            raise failure

    # ------------------------------------------------------------------ activities

    async def activity(self, fn: Callable[[Any, A], R], arg: A, *, retry: RetryPolicy = STEADY_RETRY,
                       timeout: timedelta = timedelta(seconds=30), passthrough: bool = False) -> R:
        """Run an activity, named by its method (`ClaimsDatabase.pay`): a local one for the lifecycle's steps on the
        intake and fast path, a normal one otherwise. A business rejection surfaces as the workflow's own typed error
        unless `passthrough` (the caller handles it).

        A local activity's result reaches the workflow with the moment it completed, and a replay may take that
        moment at another point of the run than the run did when two local activities overlapped: a letter still
        going out while the lifecycle went on to a wait replayed as if the wait were already due. So (claims
        started since `local_one_at_a_time`) only the lifecycle runs local activities, one at a time; letters,
        side tasks and update handlers go through the server, whose events a replay sees where the run saw them."""
        one_at_a_time = self.s.local_one_at_a_time
        local = self._local()
        if not local and (self.pending or self.attributes_stale) and fn is not ClaimsDatabase.record_events:
            # The lifecycle leaves its fast path: what it noted is written first (claims started since
            # `letters-with-the-lifecycle`: its letters at its next wait, a moment later).
            await self.flush(before_money=self.s.letters_with_lifecycle)
        self.in_flight += 1
        self.local_in_flight += local
        try:
            if local and one_at_a_time:
                return await workflow.execute_local_activity_method(fn, arg, **LOCAL_OPTIONS, retry_policy=retry)
            if local:
                return await workflow.execute_local_activity_method(
                    fn, arg, start_to_close_timeout=timeout, retry_policy=retry)
            return await workflow.execute_activity_method(fn, arg, start_to_close_timeout=timeout, retry_policy=retry)
        except ActivityFailure as err:
            cause = business_error(err)
            if cause is None or passthrough:
                raise
            raise refuse(cause.message, ErrorType(cause.type or ErrorType.INVALID_CLAIM)) from err
        finally:
            self.in_flight -= 1
            self.local_in_flight -= local

    def _local(self) -> bool:
        """Whether an activity the lifecycle runs now runs locally (`activity`)."""
        return self.fast and (not self.s.local_one_at_a_time or (ON_LIFECYCLE.get() and self.local_in_flight == 0))

    def _carries_timeline(self) -> bool:
        """The lifecycle's next local activity carries the timeline entries noted before it (claims started since
        `three-local-steps`, on their intake and fast path): the payment those noted before the money moves, the
        letters those noted when the lifecycle ends."""
        return self.s.three_steps and ON_LIFECYCLE.get() and self._local()

    async def pay(self, request: PaymentRequest) -> PaymentReceipt:
        """Pay (`PaymentActivities.pay`). A business refusal (an account the bank rejects) reaches the caller as it is.

        Claims started since `three-local-steps`, on their fast path: the timeline entries noted since the last write
        go with the payment, written before the money moves (`LifecycleActivities.record_and_pay`). A refused payment
        leaves them to the next write, which carries them again; the log takes them as written."""
        if self._carries_timeline() and self.pending:
            self._upsert_stale()
            self.pending.clear()
            events = list(self.unwritten)
            paid = await self.activity(LifecycleActivities.record_and_pay, PaymentAfterEvents(
                events=EventBatch(claim_id=self.s.claim_id, events=events), payment=request),
                retry=PAYMENT_RETRY, timeout=timedelta(minutes=2), passthrough=True)
            self._written(events)
            return paid.receipt
        return await self.activity(PaymentActivities.pay, request, retry=PAYMENT_RETRY, timeout=timedelta(minutes=2),
                                   passthrough=True)

    # ------------------------------------------------------------------ timeline, stages, letters

    async def enter(self, stage: Stage, changes: dict[str, Any] | None = None) -> None:
        self.s.stage = stage
        metrics.stage_entered(stage.value)
        self.upsert_search_attributes()
        await self.note(f"stage:{stage.value}", changes={"stage": stage.value, **(changes or {})})

    def upsert_search_attributes(self) -> None:
        """The claim's search attributes as they stand. On the lifecycle's intake and fast path (claims started since
        `lean-fast-path`) once per batch (`flush`): the upserts of one workflow task reach the server together, so
        only the last one counts."""
        if self.s.lean and self.fast and ON_LIFECYCLE.get():
            self.attributes_stale = True
            return
        self.attributes_stale = False
        workflow.upsert_search_attributes(self.s.search_attributes())

    async def note(self, event: str, *, by: str = "system", detail: str = "",
                   changes: dict[str, Any] | None = None, sender: Sender | None = None) -> None:
        """A timeline entry, written to the claim's event log and read model. Each event carries a key
        of its own, so a retried write after its commit adds nothing. The money the claim's steps moved since the
        last entry goes with it to the financial ledger (workflows/financials.py)."""
        s = self.s
        at = workflow.now()
        s.timeline.append(TimelineEntry(at=at, event=event, by=by, detail=detail, sender=sender))
        s.event_count += 1
        names = [s.claim.claimant.name] if s.claim is not None else []
        if s.claim is not None and s.claim.third_party is not None and s.claim.third_party.name:
            names.append(s.claim.third_party.name)
        if s.bank_account is not None:
            names.append(s.bank_account.holder)
        changes = dict(changes or {})
        if s.stage == Stage.AWAITING_APPROVAL and s.rules is not None:
            changes.setdefault("deciding_role", s.required_role().value)  # the queue shows each role what it decides
        elif "stage" in changes:
            changes.setdefault("deciding_role", None)
        recorded = ClaimEvent(claim_id=s.claim_id, event=event, at=at, by=by, detail=detail, changes=changes,
                              key=str(s.event_count), names=names, ledger=financials.ledger_moves(s))
        if not s.lean:
            await self.activity(ClaimsDatabase.record_event, recorded)
            return
        self.unwritten.append(recorded)
        if ON_LIFECYCLE.get() and self.fast:  # written with the lifecycle's next batch (`flush`)
            self.pending.append(recorded)
            return
        if ON_LIFECYCLE.get():
            self.pending.clear()
        # Off the fast path, and always for an update or a side task: one write now, of this entry and every entry
        # noted before it and not yet known written. Whether it is issued never hangs on how far the lifecycle got.
        await self._write(list(self.unwritten))

    async def flush(self, before_money: bool = False) -> None:
        """Write the timeline entries the lifecycle noted on its intake and fast path (claims started since
        `lean-fast-path`): one local activity for the entries of a workflow task. The lifecycle flushes before
        money moves (`Decisions._pay`), before any wait (`wait_until`, `wait_quietly`, `wait`) and when it ends,
        so the event log and the read model trail the workflow only while it runs on without waiting. Only the
        lifecycle flushes: one writer keeps the log in the order the entries were noted.

        Then the letters it wrote meanwhile go out, after the entries they tell of are written (`send_queued`).
        `before_money` (and, for claims started since `letters-with-the-lifecycle`, leaving the fast path): not the
        letters, since a letter never holds up a payment. The search attributes are upserted at every flush, before
        the activity that follows: an upsert issued after a local activity's result could reach a replay in another
        order against an update's activity than it reached the run (`tests/test_reports.py` found one).

        Claims started since `three-local-steps`, on their fast path: the entries and the letters go in one local
        activity, the entries written first (`LifecycleActivities.record_and_notify`); before money moves, the entries
        wait for the payment, which carries them (`pay`)."""
        if not ON_LIFECYCLE.get():
            return
        self._upsert_stale()
        if before_money and self._carries_timeline():
            return
        if not before_money and self.pending and self.queued_letters and self._carries_timeline():
            self.pending.clear()
            await self.send_queued(events=list(self.unwritten))
            if self.pending:  # a letter that failed for good, noted as such
                self.pending.clear()
                await self._write(list(self.unwritten))
        elif self.pending:  # the lifecycle's own entries decide whether a write is issued: never another's progress
            self.pending.clear()
            await self._write(list(self.unwritten))
        if not before_money and self.queued_letters:
            await self.send_queued()
            if self.pending:  # a letter that failed for good, noted as such
                self.pending.clear()
                await self._write(list(self.unwritten))

    def _upsert_stale(self) -> None:
        if self.attributes_stale:
            self.attributes_stale = False
            workflow.upsert_search_attributes(self.s.search_attributes())

    async def _write(self, events: list[ClaimEvent]) -> None:
        """Write the entries (`record_events`), then forget them as unwritten. A write cancelled or failed leaves
        them unwritten, for the next."""
        await self.activity(ClaimsDatabase.record_events, EventBatch(claim_id=self.s.claim_id, events=events))
        self._written(events)

    def _written(self, events: list[ClaimEvent]) -> None:
        written = {id(e) for e in events}
        self.unwritten = [e for e in self.unwritten if id(e) not in written]

    async def wait(self, condition: Callable[[], bool]) -> None:
        """Wait for the condition, the timeline written first when it does not hold yet."""
        if not condition():
            await self.flush()
        await workflow.wait_condition(condition)

    def notify(self, kind: str, context: dict[str, Any], sequence: int | None = None,
               recipient: Recipient | None = None) -> None:
        """A letter, at most once per (claim, kind, sequence), sent beside the lifecycle with a few
        retries. One that cannot be sent is recorded as failed; it never holds up a decision or payment."""
        s = self.s
        claim, _ = s.require_ready()
        seq = sequence if sequence is not None else s.next_notice(kind)
        c = claim.claimant
        recipient = recipient or Recipient(name=c.name, channel=c.channel, phone=c.phone, email=c.email,
                                           language=c.language)
        request = NotificationRequest(claim_id=s.claim_id, kind=kind, sequence=seq, recipient=recipient,
                                      context=context)
        turn = None
        if self.s.local_one_at_a_time:
            turn, self.letters_queued = self.letters_queued, self.letters_queued + 1
        if turn is not None and self.s.letters_with_lifecycle and self.fast and ON_LIFECYCLE.get():
            self.queued_letters.append((request, turn))  # sent with the lifecycle's next flush
            return
        self.spawn(self.send(request, turn), name=f"letter:{kind}:{seq}")

    async def send_queued(self, events: list[ClaimEvent] | None = None) -> None:
        """Send the letters the lifecycle queued, in their turns: each run of consecutive turns in one activity, after
        every letter before it is done with. On the fast path the lifecycle sends it, as a local activity; once it
        has left the fast path a side task does, through the server, so no letter holds up the lifecycle at a wait
        where people act. `events`: timeline entries to write first, with the first run (`flush`)."""
        while self.queued_letters:
            run = [self.queued_letters[0]]
            for item in self.queued_letters[1:]:
                if item[1] != run[-1][1] + 1:
                    break
                run.append(item)
            del self.queued_letters[:len(run)]
            if self.fast:
                await self._send_run(run, events or [])
                events = None
            else:
                self.spawn(self._send_run(run, []), name=f"letters:{run[0][1]}-{run[-1][1]}")

    async def _send_run(self, run: list[tuple[NotificationRequest, int]], events: list[ClaimEvent]) -> None:
        """One run of letters (`send_queued`), after the timeline `events` (`record_and_notify`; written by themselves,
        with retries, when its one try failed). A letter failed for good is recorded as `send` records it; one the
        batch could not send this time, and every letter after it, goes on by itself through the server with `send`'s
        retries, so none overtakes another.

        A letter written before the run (by an update: a new bank account's confirmation) may still be going out
        through the server: the run waits for it, and so do the entries it carries. Which activity the run issues
        never hangs on that letter's progress, which a replay may meet at another point than the run did."""
        earlier = range(run[0][1])
        if not self.letters_done.issuperset(earlier):
            await workflow.wait_condition(lambda: self.letters_done.issuperset(earlier))
        outcomes: list[LetterOutcome] = []
        batch = LetterBatch(claim_id=self.s.claim_id, letters=[request for request, _ in run])
        try:
            if events:
                sent = await self.activity(LifecycleActivities.record_and_notify, LettersAfterEvents(
                    events=EventBatch(claim_id=self.s.claim_id, events=events), letters=batch),
                    retry=ONE_TRY, passthrough=True)
                self._written(events)
                outcomes = sent.outcomes
            else:
                outcomes = await self.activity(NotificationActivities.notify_all, batch, retry=ONE_TRY,
                                               passthrough=True)
        except ActivityFailure:
            outcomes = []  # each goes on by itself; the outbox sends none twice
            if events:
                await self._write(list(self.unwritten))  # the entries before their letters, with retries
        for (request, turn), outcome in zip(run, outcomes, strict=False):
            if outcome.failure is None:
                self.s.timeline.append(TimelineEntry(at=workflow.now(), event=f"notified:{request.kind}",
                                                     detail=request.recipient.name))
            else:
                await self._letter_failed(request, outcome.failure)
            self.letters_done.add(turn)
        for request, turn in run[len(outcomes):]:
            self.spawn(self.send(request, turn), name=f"letter:{request.kind}:{request.sequence}")

    async def _letter_failed(self, request: NotificationRequest, why: object) -> None:
        self.s.letters_failed.append(f"{request.kind}-{request.sequence}")
        metrics.letter_failed(request.kind)
        await self.note("notification_failed", detail=f"{request.kind}: {why}")

    async def send(self, request: NotificationRequest, turn: int | None = None) -> None:
        """Send one letter. With a `turn`, after every letter written before it is done with: the claimant reads
        the acknowledgement before the decision, though each goes through the server on its own."""
        try:
            if turn is not None:
                await workflow.wait_condition(lambda: self.letters_done.issuperset(range(turn)))
            try:
                await self.activity(NotificationActivities.notify, request, retry=LETTER_RETRY,
                                    timeout=timedelta(seconds=30), passthrough=True)
            except ActivityFailure as err:
                await self._letter_failed(request, err.cause or err)
                return
            self.s.timeline.append(TimelineEntry(at=workflow.now(), event=f"notified:{request.kind}",
                                                 detail=request.recipient.name))
        finally:
            if turn is not None:
                self.letters_done.add(turn)

    async def wait_until(self, condition: Callable[[], bool], moment: datetime) -> bool:
        """Wait for the condition until a moment; True if it held in time."""
        await self.flush()
        return await self._until(condition, moment) or condition()

    async def _until(self, condition: Callable[[], bool], moment: datetime) -> bool:
        return await until(condition, moment, timer_when_past=self.s.moments_by_timer)

    # ------------------------------------------------------------------ continuing as new

    async def wait_quietly(self, condition: Callable[[], bool], wait: str, moment: datetime | None = None) -> bool:
        """Wait for the condition (until the moment, when one is given); True if it held in time.

        These are the lifecycle's long waits, for claimants and staff. When the history has grown long the
        run continues as new here, carrying the whole state, and the next run resumes at the same wait
        (claim.py `_resume`): clocks keep their due times, a moment that already passed is not waited for
        again, and nothing is decided twice."""
        await self.flush()
        for also in (self._history_long, self._quiet):  # a long history, then a moment when nothing is under way
            came = False
            if moment is None:
                await workflow.wait_condition(lambda also=also: condition() or also())  # type: ignore[misc]
            else:
                await self.flush()
                came = not await self._until(lambda also=also: condition() or also(), moment)  # type: ignore[misc]
            if condition():
                return True
            if moment is not None and (came if self.s.moments_by_timer else workflow.now() >= moment):
                return False
        await self.continue_as_new(wait)
        raise AssertionError("unreachable: continuing as new ends the run")

    def _history_long(self) -> bool:
        limit = self.s.rules.continue_after_events if self.s.rules else None
        if limit is None:
            return False
        info = workflow.info()
        return info.get_current_history_length() >= limit or info.is_continue_as_new_suggested()

    def _quiet(self) -> bool:
        """Nothing under way that the next run could not pick up: no activity (letters included), no
        update being handled, no money moving and no account change being checked."""
        s = self.s
        return (self.in_flight == 0 and not self.pending and not self.unwritten and not self.attributes_stale
                and not self.queued_letters
                and len(self.letters_done) == self.letters_queued and workflow.all_handlers_finished()
                and not s.advance_requests and not s.advance_in_flight and not s.transfer_in_flight
                and not s.awaiting_bank_details and not s.account_change_checking)

    async def continue_as_new(self, wait: str) -> None:
        s = self.s
        s.continued, s.continued_at = s.continued + 1, workflow.now()
        await self.note("continued_as_new", detail=f"run {s.continued} continues at the wait for {wait}; "
                                                   f"history of {workflow.info().get_current_history_length()} "
                                                   "events")
        await self.flush()
        await workflow.wait_condition(self._quiet)
        s.resume_at = wait
        carried = s.snapshot()
        if self.changed("carry-core"):  # and the core's own state, which the next run must read the same
            carried[core_view.CARRIED_CORE] = core_view.carried_core(s)
        workflow.continue_as_new(args=[s.claim, carried])

    def changed(self, change: EarlierChange) -> bool:
        """Whether this claim takes a change its workflow code made after the claim may have started.

        A claim started since `changes_at_start` takes every such change: its run asked, once and first of all,
        before any local activity. A change asked in the middle of a run may not replay: a local activity's result
        can reach a replay in an earlier workflow task than it reached the run (after the task was extended while
        the activity ran), so the replay asks in another task than the one that wrote the change's marker, and
        refuses the history. Older claims ask where they always did."""
        return self.s.changes_at_start or workflow.patched(change)

    def check_withdrawn(self) -> None:
        if self.s.withdrawal is not None and self.s.outcome is None:
            raise ClaimClosed

    def ack(self, detail: str) -> UpdateAck:
        return UpdateAck(claim_id=self.s.claim_id, stage=self.s.stage, outcome=self.s.outcome, detail=detail)
