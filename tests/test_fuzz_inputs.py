"""Fuzzing the inputs: any start input or update payload is either accepted and stored, or refused with a
typed error. Never another exception, never a value the database cannot hold, never a retry loop."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from sqlmodel import Session
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from models import contract as c
from models.tables import Claim, ClaimDocument, ClaimEventRow, Notification, Payment
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs

UPDATES: dict[str, tuple[type[BaseModel], dict[str, Any]]] = {
    "submit_documents": (c.SubmitDocuments, {"documents": [{"kind": "id_card", "ref": "doc://x/id.pdf"}]}),
    "record_investigation": (c.RecordInvestigation, {"investigator_id": "inv-1", "findings": "as reported",
                                                     "confirmed_amount": "100.00", "fraud_suspected": False}),
    "approve": (c.Approve, {"approver_id": "sup-1", "role": "supervisor", "comment": "fine"}),
    "reject": (c.Reject, {"approver_id": "sup-1", "role": "supervisor", "reason": "no", "clause": "exclusion"}),
    "escalate": (c.Escalate, {"by": "adj-1", "reason": "large loss"}),
    "assign": (c.Assign, {"handler_id": "adj-2", "by": "sup-1"}),
    "withdraw": (c.Withdraw, {"by": "portal", "reason": "settled"}),
    "appeal": (c.Appeal, {"reason": "unfair"}),
    "update_bank_account": (c.UpdateBankAccount, {"holder": "Li Lei", "number": "6222000011113333",
                                                  "code": "123456"}),
    "request_code": (c.RequestCode, {"purpose": "bank_account"}),
    "release_bank_account": (c.ReleaseBankAccount, {"by": "sup-1", "role": "supervisor", "reason": "verified"}),
    "reopen": (c.Reopen, {"by": "sup-1", "reason": "documents found"}),
    "approve_advance": (c.ApproveAdvance, {"approver_id": "sup-1", "role": "supervisor", "amount": "1000.00"}),
}

# --------------------------------------------------------------------------- strategies


def sendable(value: Any) -> bool:
    """Whether a client can put the value on the wire at all: a lone surrogate is no UTF-8, so no system sends
    one in a JSON payload (the model-level tests still see them)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):
        return False
    return True


NASTY = "\x00\x01\x07\x1b\x7f\x85\x9f\u200b\u202e\u2066\ufeff\ud800\u0663\uff11\u06f1 aZ9-+.:@_\t\n/"
nasty_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=NASTY, max_size=30),
    st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "\u0663", "é", " ", "\x00", "1"]),
              st.sampled_from([63, 64, 65, 99, 100, 101, 199, 200, 201, 254, 255, 500, 501, 2000, 2001, 10_000])),
    st.sampled_from(["", " ", "NaN", "Infinity", "-0", "1e9", "3200.001", "99999999999999.99", "2026-13-45T25:00:00Z",
                     "1700000000", "2026-11-20T08:30:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                     "2026-11-20T08:30:00+08:00", "\u0663\u0662\u0660\u0660", "\uff13\uff12\uff10\uff10"]),
)
numbers = st.one_of(st.integers(min_value=-(10**20), max_value=10**20), st.floats(allow_nan=True),
                    st.sampled_from([0, 1_700_000_000, 1.5, -1, 2**63]))
json_scalars = st.one_of(st.none(), st.booleans(), numbers, nasty_text)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)


def deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """A valid payload with one to three places changed: a random JSON value, a nasty string, a number, deep
    nesting, a removed field, or an added unknown field."""
    value = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(value) or [()]))
        if not where:
            return draw(json_values)
        parent = value
        for step in where[:-1]:
            parent = parent[step]
        key = where[-1]
        action = draw(st.sampled_from(["value", "text", "number", "deep", "remove", "extra"]))
        if action == "remove" and isinstance(parent, dict):
            del parent[key]
        elif action == "extra" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_values)
        elif action == "deep":
            parent[key] = deep(draw(st.sampled_from([5, 50, 150])))
        else:
            parent[key] = draw({"value": json_values, "text": nasty_text, "number": numbers}.get(action, json_values))
    return value


def start_inputs() -> st.SearchStrategy[Any]:
    return st.one_of(mutated(auto_claim("C-FUZZ")), json_values)


def update_payloads() -> st.SearchStrategy[tuple[str, Any]]:
    return st.sampled_from(sorted(UPDATES)).flatmap(
        lambda name: st.tuples(st.just(name), st.one_of(mutated(UPDATES[name][1]), json_values)))


# --------------------------------------------------------------------------- the pure level

def store(engine: Any, rows: list[Any]) -> None:
    """Write the rows an accepted value ends up in, then roll back: the database itself says whether it fits."""
    with Session(engine) as session:
        session.add_all(rows)
        session.flush()
        session.rollback()


def rows_for_claim(claim: c.ClaimInput) -> list[Any]:
    now = datetime.now(UTC)
    rows: list[Any] = [
        Claim(claim_id=claim.claim_id, chain_id="run", policy_number=claim.policy_number,
              claim_type=claim.claim_type.value, stage="registered", claimed_amount=claim.claimed_amount,
              incident_at=claim.incident.occurred_at, registered_at=now, updated_at=now),
        ClaimEventRow(claim_id=claim.claim_id, seq=1, key="1", at=now, event="registered", actor="system",
                      detail=f"{claim.incident.description} {claim.incident.cause} "
                             + " ".join(f"{i.description} {i.category} {i.amount}" for i in claim.line_items),
                      recorded_at=now, prev_hash="0" * 64, hash=uuid.uuid4().hex),
    ]
    recipient = claim.claimant
    for address in {recipient.name, recipient.phone, recipient.email} - {None}:
        rows.append(Notification(claim_id=claim.claim_id, kind="acknowledgement", sequence=len(rows),
                                 channel=recipient.channel, recipient=address, subject="s", body=recipient.name,
                                 status="pending", created_at=now))
    rows += [ClaimDocument(claim_id=claim.claim_id, kind=d.kind, ref=d.ref, submitted_at=now)
             for d in {(d.kind, d.ref): d for d in claim.documents}.values()]
    if claim.bank_account:
        rows.append(Payment(claim_id=claim.claim_id, sequence=1, kind="final", idempotency_key=uuid.uuid4().hex,
                            amount=claim.claimed_amount, account_holder=claim.bank_account.holder,
                            account_masked=claim.bank_account.masked, status="pending", created_at=now))
    return rows


def rows_for_update(payload: BaseModel) -> list[Any]:
    now = datetime.now(UTC)
    fields = payload.model_dump()
    actor = next((str(fields[k]) for k in ("by", "approver_id", "investigator_id") if k in fields), "claimant")
    detail = " ".join(str(v) for k, v in fields.items() if isinstance(v, str))
    rows: list[Any] = [ClaimEventRow(claim_id="C-1", seq=1, key="1", at=now, event="update", actor=actor,
                                     detail=detail,
                                     recorded_at=now, prev_hash="0" * 64, hash=uuid.uuid4().hex)]
    if isinstance(payload, c.SubmitDocuments):
        rows += [ClaimDocument(claim_id="C-1", kind=d.kind, ref=d.ref, submitted_at=now)
                 for d in {(d.kind, d.ref): d for d in payload.documents}.values()]
    if isinstance(payload, c.UpdateBankAccount):
        rows.append(Payment(claim_id="C-1", sequence=1, kind="final", idempotency_key=uuid.uuid4().hex,
                            amount=1, account_holder=payload.holder,
                            account_masked=c.BankAccount(holder=payload.holder, number=payload.number).masked,
                            status="pending", created_at=now))
    for amount in (fields.get("amount"), fields.get("confirmed_amount")):
        if amount is not None:
            rows.append(Payment(claim_id="C-1", sequence=2, kind="advance", idempotency_key=uuid.uuid4().hex,
                                amount=amount, account_holder="x", account_masked="x", status="pending",
                                created_at=now))
    return rows


PURE = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def test_any_start_input_is_either_a_claim_that_fits_the_database_or_a_validation_error(any_engine):
    @PURE
    @given(start_inputs())
    def check(value: Any) -> None:
        try:
            claim = c.ClaimInput.model_validate(value)
        except ValidationError:
            return
        store(any_engine, rows_for_claim(claim))

    check()


def test_any_update_payload_is_either_valid_and_fits_the_database_or_a_validation_error(any_engine):
    @PURE
    @given(update_payloads())
    def check(update: tuple[str, Any]) -> None:
        name, value = update
        try:
            payload = UPDATES[name][0].model_validate(value)
        except ValidationError:
            return
        store(any_engine, rows_for_update(payload))

    check()


# --------------------------------------------------------------------------- the engine level

ENGINE = settings(max_examples=30, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


async def describe(handle: WorkflowHandle) -> Any:
    return await handle._client.workflow_service.describe_workflow_execution(DescribeWorkflowExecutionRequest(
        namespace=handle._client.namespace, execution=WorkflowExecution(workflow_id=handle.id)))


async def assert_never_retried(handle: WorkflowHandle) -> None:
    history = await handle.fetch_history()
    failed = [e.workflow_task_failed_event_attributes.failure.message for e in history.events
              if e.HasField("workflow_task_failed_event_attributes")]
    assert not failed, f"workflow task failed: {failed[0][:300]}"
    retried = [(p.activity_type.name, p.attempt, p.last_failure.message[:200])
               for p in (await describe(handle)).pending_activities if p.attempt > 1 or p.HasField("last_failure")]
    assert not retried, f"activity retried: {retried}"


def typed_refusal(err: BaseException) -> ApplicationError:
    cause = err.cause if isinstance(err, WorkflowFailureError | WorkflowUpdateFailedError) else err
    assert isinstance(cause, ApplicationError), f"refused without a typed error: {cause!r}"
    assert cause.non_retryable and cause.type in {e.value for e in c.ErrorType}, (cause.type, cause.message)
    return cause


async def accepted_or_refused(claims: Any, value: Any) -> None:
    claim_id = value.get("claim_id") if isinstance(value, dict) else None
    workflow_id = f"claim-{claim_id}" if isinstance(claim_id, str) else f"claim-fuzz-{uuid.uuid4().hex[:8]}"
    handle = await claims.client.start_workflow("ClaimWorkflow", value, id=workflow_id, task_queue=claims.queue,
                                                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)
    deadline = time.monotonic() + 10
    try:
        while True:
            status = (await describe(handle)).workflow_execution_info.status
            if status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED:
                with pytest.raises(WorkflowFailureError) as caught:
                    await handle.result()
                typed_refusal(caught.value)
                break
            if status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED:
                break
            try:
                if (await handle.query("status"))["stage"] != "registered":
                    break
            except Exception:  # noqa: S110 (the first workflow task may not have run yet)
                pass
            assert time.monotonic() < deadline, "neither accepted nor refused within 10 s"
            await asyncio.sleep(0.05)
        await assert_never_retried(handle)
    finally:
        await end(handle)


async def update_accepted_or_refused(claims: Any, name: str, value: Any) -> None:
    claim = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
    handle = await claims.start(claim)
    try:
        # where earlier claims on the policy leave its risk: awaiting approval, or an investigation
        await claims.wait(claim["claim_id"], lambda s: s["stage"] in {"awaiting_approval", "investigating"},
                          "a stage that takes updates")
        try:
            # with a valid token for whoever the payload names, so the payload reaches every check after identity
            await asyncio.wait_for(claims.update(claim["claim_id"], name, value), 10)
        except WorkflowUpdateFailedError as err:
            typed_refusal(err)
        await handle.query("status")
        await asyncio.sleep(0.2)
        await assert_never_retried(handle)
    finally:
        await end(handle)


async def end(handle: Any) -> None:
    """Terminate the example's claim, unless it has already ended (an accepted withdrawal closes it)."""
    running = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    try:
        await handle.terminate("fuzz example done")
    except RPCError:
        if (await describe(handle)).workflow_execution_info.status == running:
            raise


def run_examples(loop: asyncio.AbstractEventLoop, test: Any) -> None:
    """Hypothesis drives the examples from a thread; each one runs on the test's own event loop, where the
    Temporal client and worker live."""
    test(lambda coro: asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60))


async def test_any_start_input_is_accepted_and_progresses_or_refused_with_a_typed_error(claims):
    @ENGINE
    @given(start_inputs())
    def check(run: Any, value: Any) -> None:
        assume(sendable(value))
        run(accepted_or_refused(claims, value))

    await asyncio.to_thread(run_examples, asyncio.get_running_loop(), check)


async def test_any_update_is_accepted_or_refused_with_a_typed_error(claims):
    @ENGINE
    @given(update_payloads())
    def check(run: Any, update: tuple[str, Any]) -> None:
        assume(sendable(update[1]))
        run(update_accepted_or_refused(claims, *update))

    await asyncio.to_thread(run_examples, asyncio.get_running_loop(), check)
