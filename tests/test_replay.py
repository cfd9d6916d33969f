"""Saved histories of every path replay against the current workflow code.

A change that running claims would replay differently fails here, in CI, instead of in production.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.worker import Replayer, Worker
from temporalio.workflow import NondeterminismError

from activities.gateway import LedgerGateway
from activities.notifications import NotificationActivities
from audit.replay import history_from_file
from config.settings import Settings
from config.temporal import workflow_runner
from identity import keys
from letters.render import Renderer
from letters.senders import FileSender
from models.contract import CLAIM_TASK_TIMEOUT, WORKFLOW_TYPE, workflow_id_for
from testkit.claims import auto_claim
from testkit.harness import queue_name
from testkit.world import TEST_KEYRING, TEST_KEYS, data_converter
from tests.changed_workflows import ChangedWithoutPatch, ChangedWithPatch
from workers.claims import build_activities, build_worker
from workflows import metrics
from workflows.claim import ClaimWorkflow
from workflows.complaint import ComplaintWorkflow
from workflows.ended_claim_code import EndedClaimCodeWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def saved(path: Path) -> WorkflowHistory:
    return history_from_file(path, settings=Settings(CLAIMS_ENCRYPTION_KEYS=TEST_KEYS))


def replayer(workflow_class: type = ClaimWorkflow) -> Replayer:
    return Replayer(workflows=[workflow_class, ComplaintWorkflow, EndedClaimCodeWorkflow],
                    data_converter=data_converter,
                    workflow_runner=workflow_runner())


def test_every_path_has_a_saved_history():
    names = {p.stem for p in HISTORIES}
    assert {"fast-path", "missing-materials-then-supplied", "investigation-manager-approval", "withdrawal",
            "statutory-advance-payment", "green-channel", "partial-approval-appeal-upheld",
            "continued-run-1", "continued-run-2", "complaint-late", "complaint-late-before-events",
            "invoice-read-by-machine", "invoice-above-the-claim", "denied-then-appeal-upheld",
            "closed-incomplete-then-reopened", "advance-then-denied-owed-back-written-off", "appeal-continued-run-1",
            "appeal-continued-run-2", "appeal-continued-run-3", "excluded-then-appeal-with-nothing-to-pay",
            "proofs-run-1", "proofs-run-2", "proofs-run-3", "complaint-with-action-proofs", "ended-claim-code"} <= names
    first = saved(Path(__file__).parent / "histories" / "continued-run-1.json")
    assert first.events[-1].HasField("workflow_execution_continued_as_new_event_attributes"), \
        "the saved chain starts with a run that continued as new"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_saved_history_replays_against_the_current_code(path: Path):
    await replayer().replay_workflow(saved(path))


def stages_recorded(history: WorkflowHistory) -> list[str]:
    """The stages a run entered, as its history recorded them: each change of the claim's `ClaimStage` search
    attribute, from the stage the run started at (a continued run starts where the run before left off)."""
    def stage(fields: Any) -> str | None:
        field = fields.indexed_fields.get("ClaimStage")
        return json.loads(field.data) if field is not None and field.data else None

    started = history.events[0].workflow_execution_started_event_attributes
    stages = [stage(started.search_attributes) or "registered"]
    for event in history.events:
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            now = stage(event.upsert_workflow_search_attributes_event_attributes.search_attributes)
            if now is not None and now != stages[-1]:
                stages.append(now)
    return stages[1:]


CLAIM_HISTORIES = [p for p in HISTORIES if not p.stem.startswith(("complaint", "ended-claim-code"))]


@pytest.mark.parametrize("path", CLAIM_HISTORIES, ids=[p.stem for p in CLAIM_HISTORIES])
async def test_the_current_code_enters_the_stages_each_saved_history_entered(path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch):
    """Replay compares commands, not the values a workflow computes: a stage entered differently goes unseen by it
    (the stage reaches only the claim's state, its search attributes and an activity's input). The stages the
    current code enters while replaying must be those the history recorded."""
    entered: list[str] = []
    monkeypatch.setattr(metrics, "stage_entered", lambda stage: entered.append(stage))
    history = saved(path)
    await replayer().replay_workflow(history)
    again = [stage for i, stage in enumerate(entered) if i == 0 or stage != entered[i - 1]]
    recorded = stages_recorded(history)
    if not any(patched(history, change) for change in ("lean-fast-path", "letters-with-the-lifecycle",
                                                       "three-local-steps", "every-moment-a-timer")):
        assert again == recorded, f"{path.stem}: entered {again}, recorded {recorded}"
        return
    # Such a claim upserts its search attributes once per batch on its intake and fast path: the stages it passed
    # through within one workflow task are not in its history, the one it stood at when the task ended is.
    remaining = iter(again)
    assert all(stage in remaining for stage in recorded) and again[-1:] == recorded[-1:], \
        f"{path.stem}: entered {again}, recorded {recorded}"


def patched(history: WorkflowHistory, change: str) -> bool:
    """Whether the run took this change (its history holds the change's marker)."""
    for event in history.events:
        if event.HasField("marker_recorded_event_attributes"):
            for payload in event.marker_recorded_event_attributes.details["patch-data"].payloads \
                    if "patch-data" in event.marker_recorded_event_attributes.details else []:
                if json.loads(payload.data).get("id") == change:
                    return True
    return False


TIMED = [p for p in HISTORIES if p.stem.endswith("-moments")]
"""Claims started since `every-moment-a-timer`."""


LATE = 86_400 * 10**9
"""How much later than it did, in nanoseconds, the last workflow task of a saved history may start (a day)."""


def tasks_started_at(history: WorkflowHistory, shares: list[float]) -> WorkflowHistory:
    """The history with each workflow task after the first started at another moment between the task before it and
    the task after it (the last: up to a day later than it did): at its share of the way (0, with the task before)."""
    events = [copy.deepcopy(e) for e in history.events]
    starts = [e for e in events if e.HasField("workflow_task_started_event_attributes")]
    times = [e.event_time.ToNanoseconds() for e in starts]
    moved = times[0]
    for k, share in zip(range(1, len(starts)), shares, strict=False):
        low, high = max(moved, times[k - 1]), times[k + 1] if k + 1 < len(times) else times[k] + LATE
        moved = low + int(share * (high - low))
        starts[k].event_time.FromNanoseconds(moved)
    return WorkflowHistory(history.workflow_id, events)


@examples(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TIMED), st.lists(st.floats(min_value=0, max_value=1), min_size=40, max_size=40))
def test_a_claim_issues_the_same_commands_whatever_time_its_tasks_read(path: Path, shares: list[float]):
    """A local activity's result can reach a replay in an earlier workflow task than it reached the run, so that the
    code after it reads an earlier time. A claim's commands must not hang on that time: each saved history replays
    with its tasks started at any moment between the task before and their own."""
    replayed = asyncio.run(replayer().replay_workflow(tasks_started_at(saved(path), shares),
                                                      raise_on_replay_failure=False))
    assert replayed.replay_failure is None, f"{path.stem}: {replayed.replay_failure}"


async def test_a_claim_started_before_every_moment_had_a_timer_could_hang_on_the_time():
    """What the property above guards against, on a claim started before `every-moment-a-timer`: denied at intake, it
    compared the end of its appeal window with the time. Its last task started at the time of the one before (as a
    replay may see it) no longer replays."""
    history = saved(Path(__file__).parent / "histories" / "excluded-cause-three-steps.json")
    assert (await replayer().replay_workflow(history, raise_on_replay_failure=False)).replay_failure is None
    earlier = tasks_started_at(history, [1.0, 0.0])
    assert (await replayer().replay_workflow(earlier, raise_on_replay_failure=False)).replay_failure is not None


async def test_an_unpatched_change_fails_replay_with_a_clear_message():
    with pytest.raises(NondeterminismError) as caught:
        await replayer(ChangedWithoutPatch).replay_workflow(saved(HISTORIES[0]))
    message = str(caught.value)
    assert "nondetermin" in message.lower() and ("ClaimWorkflow" in message or "Timer" in message), message


async def test_a_patched_change_replays_old_and_new_histories(time_env, settings, engine):
    claim = auto_claim()
    async with build_worker(time_env.client, settings, engine, task_queue=(queue := queue_name()),
                            workflows=[ChangedWithPatch]):
        handle = await time_env.client.start_workflow(WORKFLOW_TYPE, claim, id=f"claim-{claim['claim_id']}",
                                                      task_queue=queue)
        assert (await handle.result())["outcome"] == "paid"
        new = await handle.fetch_history()
    patched = replayer(ChangedWithPatch)
    await patched.replay_workflow(new)
    for path in HISTORIES:
        await patched.replay_workflow(saved(path))
    with pytest.raises(NondeterminismError):
        await replayer(ClaimWorkflow).replay_workflow(new)


@asynccontextmanager
async def following(handle: WorkflowHandle[Any, Any]) -> AsyncIterator[None]:
    """The claim's status asked for all the while, as a claimant's page and the back office ask for it: a query
    answered while local activities run is what splits a run's workflow tasks where its replay does not."""
    async def follow() -> None:
        while True:
            await handle.query("status")
            await asyncio.sleep(0.05)
    task = asyncio.create_task(follow())
    try:
        yield
    finally:
        task.cancel()


class SlowSender(FileSender):
    """An SMS gateway that takes a demo day and a half to take each letter: a letter still going out while the
    lifecycle goes on to its next wait."""

    def send(self, recipient: Any, subject: str, body: str, *, claim_id: str, kind: str, sequence: int) -> str:
        time.sleep(1.5)  # the provider's own slowness, not a wait in the test
        return super().send(recipient, subject, body, claim_id=claim_id, kind=kind, sequence=sequence)


@pytest.mark.parametrize("cause", ["racing", "collision"], ids=["denied", "paid"])
async def test_a_claim_whose_letters_go_out_slowly_replays(dev_env, fast_clock, engine, cause: str):
    """Found under load: a decision letter still being sent while the claim went on to its survey wait. A local
    activity's result carries the moment it completed, and a replay took that moment earlier than the run had, so
    the replay saw the survey already due where the run had set a timer for it, and refused the history. A letter
    is work beside the lifecycle and goes through the server; the lifecycle's own steps stay local, one at a time.
    Since `letters-with-the-lifecycle` the fast path's letters are one of those steps (a batch, 4.5 s here,
    outlasting its workflow task while the status is asked for). The whole claim (decision, survey, its window and
    the appeal window) must replay as it ran."""
    claim = auto_claim(incident={"cause": cause})
    queue = queue_name()
    slow = NotificationActivities(engine, Renderer(), SlowSender(fast_clock.outbox_dir, TEST_KEYRING), TEST_KEYRING)
    activities = build_activities(fast_clock, engine, client=dev_env.client, notifications=slow)
    keys.install(queue, keys.action_verifier_for(fast_clock))
    async with Worker(dev_env.client, task_queue=queue, workflows=[ClaimWorkflow], workflow_runner=workflow_runner(),
                      activities=activities,
                      activity_executor=ThreadPoolExecutor(max_workers=8)):
        handle = await dev_env.client.start_workflow(WORKFLOW_TYPE, claim, id=workflow_id_for(claim["claim_id"]),
                                                     task_queue=queue)
        async with following(handle):
            result = await handle.result()
        history = await handle.fetch_history()
    assert result["outcome"] == ("denied" if cause == "racing" else "paid")
    assert any(e.HasField("marker_recorded_event_attributes") for e in history.events), "the lifecycle ran locally"
    await replayer().replay_workflow(history)


class SlowGateway(LedgerGateway):
    """A bank that takes three seconds to take a transfer."""

    def transfer(self, idempotency_key: str, account: Any, amount: Any) -> Any:
        time.sleep(3)  # the bank's own slowness, not a wait in the test
        return super().transfer(idempotency_key, account, amount)


async def test_a_fast_path_payment_that_outlasts_its_workflow_task_replays(dev_env, fast_clock, engine):
    """The fast path's local activities may outlast the workflow task, which the worker then extends; under load a
    replay met a claim's later steps in an earlier task than the run had, and a change asked in the middle of the run
    (`survey-window`) replayed in another task than the one holding its marker (the test below keeps every change at
    the start). A two-second task and a bank that takes three make the extension certain here, while the claim's
    status is asked for all the while; the claim must replay as it ran."""
    claim = auto_claim()
    queue = queue_name()
    async with build_worker(dev_env.client, fast_clock, engine, task_queue=queue, gateway=SlowGateway(engine)):
        handle = await dev_env.client.start_workflow(WORKFLOW_TYPE, claim, id=workflow_id_for(claim["claim_id"]),
                                                     task_queue=queue, task_timeout=timedelta(seconds=2))
        async with following(handle):
            result = await handle.result()
        history = await handle.fetch_history()
    assert result["outcome"] == "paid" and result["fast_path"]
    tasks = sum(e.HasField("workflow_task_completed_event_attributes") for e in history.events)
    assert tasks >= 3, "the payment outlasted a workflow task"
    await replayer().replay_workflow(history)


def test_every_change_is_asked_at_the_start_of_a_claim():
    """A change asked in the middle of a run is asked, on replay, wherever a local activity's result reaches the
    replay, which may be another workflow task than the run's (test above). The claim's code asks `workflow.patched`
    only at the start of its run, before the first thing it awaits, and the changes asked mid-run by claims started
    before that rule go through `Shell.changed`, which new claims answer from their state."""
    import ast

    from workflows import shell

    folder = Path(shell.__file__).parent
    earlier = set(get_args(shell.EarlierChange))
    asked_in: list[tuple[str, str, int]] = []
    for path in sorted(folder.glob("*.py")):
        if path.stem == "complaint":  # a complaint runs no local activity after its start
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            first_await = min((n.lineno for n in ast.walk(function) if isinstance(n, ast.Await)
                               and "_resume" not in ast.unparse(n)), default=10**9)  # a continued run asks none
            for call in ast.walk(function):
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
                    continue
                if call.func.attr == "patched":
                    asked_in.append((path.stem, function.name, call.lineno))
                    assert (path.stem, function.name) in {("claim", "run"), ("shell", "changed")}, \
                        f"{path.name}:{call.lineno}: workflow.patched in {function.name}; ask changes at the start"
                    if function.name == "run":
                        assert call.lineno < first_await, f"{path.name}:{call.lineno}: a change asked after an await"
                if call.func.attr == "changed" and call.args:
                    assert isinstance(call.args[0], ast.Constant) and call.args[0].value in earlier, \
                        f"{path.name}:{call.lineno}: Shell.changed is for the changes asked mid-run before the rule"
    assert sum(f == "run" for _, f, _ in asked_in) >= 4, "the changes asked at the start are found"


async def test_a_claim_starts_with_a_task_its_local_activities_rarely_outlast(live):
    """The other half of the fix above: the worker extends a workflow task only when its local activities take
    four-fifths of it, and a claim's task is long enough that a busy worker rarely does."""
    from client.claims import parse_claim, start_claim

    claim = auto_claim()
    workflow_id = await start_claim(live.client, parse_claim(claim), live.queue)
    handle = live.client.get_workflow_handle(workflow_id)
    config = (await handle.describe()).raw_description.execution_config
    assert config.default_workflow_task_timeout.ToTimedelta() == CLAIM_TASK_TIMEOUT == timedelta(seconds=60)
    await handle.result()
