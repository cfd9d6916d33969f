"""The money invariants (docs/rules.md#money-invariants) as a hypothesis state machine over real claims.

It drives real claims through a real worker with the real activities on the time-skipping server. Rules are what
the outside world can do to a claim: start it, send every update (valid and invalid, from a small pool of people
and roles), send two updates at once, let time pass. After each rule the claims are left to settle, and the
invariants are checked against the workflow's own `status` and the payments ledger. When one fails, the shrunk
sequence hypothesis prints is the bug report. `tests/test_money_invariants.py` runs it in `make test`;
`bench/money_soak.py` runs it for longer.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func
from sqlmodel import Session, col, select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.failure.v1 import Failure
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.policies import load_policies
from config.rules import AUTHORITY_LIMITS, FAST_PATH_DOCUMENTS, FAST_PATH_LIMITS, REQUIRED_DOCUMENTS
from models.contract import workflow_id_for
from models.tables import Claim, LedgerRow, Payment
from testkit.claims import auto_claim
from testkit.money_rig import CLOSED_ACCOUNT, ENDINGS, Rig
from testkit.waiting import STATE_DEADLINE
from testkit.world import sample_policies

D = Decimal
CENT = D("0.01")

EXAMPLES = int(os.environ.get("CLAIMS_PROPERTY_EXAMPLES", "25"))
STEPS = int(os.environ.get("CLAIMS_PROPERTY_STEPS", "10"))
SHRINK = os.environ.get("CLAIMS_PROPERTY_SHRINK", "1") != "0"
SETTLE_SECONDS = float(os.environ.get("CLAIMS_PROPERTY_SETTLE_SECONDS", STATE_DEADLINE))
"""A deadline only: claims that never stand still within it are a failure naming what kept moving."""
UPDATE_SECONDS = 20.0
PROGRESS = int(os.environ.get("CLAIMS_PROPERTY_PROGRESS", "0"))
"""Print a progress line every this many sequences (the soak sets it); 0 prints none."""
STARTED = time.monotonic()

PEOPLE = ["adj-1", "ADJ-1", "sup-1", "sup-2", "mgr-1", "mgr-2", "MGR-1", "inv-1", "HANDLER"]
"""Who acts. "HANDLER" stands for whoever handles the claim at that moment."""
ROLES = ["adjuster", "supervisor", "manager"]
AMOUNTS = ["800.00", "3200.00", "4900.00", "8000.00", "14000.00", "26000.00", "120000.00", "650000.00"]
CAUSE = {"auto": "collision", "health": "illness", "property": "water_leak"}
SAMPLE_FOR = {"auto": "P-AUTO-002", "health": "P-HEALTH-001", "property": "P-PROP-001"}
MOVING_STAGES = {"registered", "coverage_check"}
"""Stages a claim passes through before its first clock starts (triage starts the determination clock)."""


ROUTINE_TASK_FAILURES = {WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND}
"""The server refuses to let a workflow complete while an update it has not seen yet is waiting; the worker runs
the task again with the update. That is Temporal's own protocol, not a failure of the claim's code."""

SLOW_NOT_STUCK = "Potential deadlock detected"
"""The SDK fails a workflow task whose code has not yielded within 2 seconds (a fixed limit). On a machine starved of
CPU a task that is only slow can meet it (restoring a long claim's carried state, say); the server gives the task
again and it completes. A task failed so and completed after is slow, not stuck; one that is stuck fails every
attempt and never completes, and stays a failure."""



def money(value: Any) -> Decimal:
    return D(str(value))


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def limit_of(role: str) -> Decimal | None:
    """What a role may approve; None is unlimited. The system's limit is the type's fast-path limit."""
    return AUTHORITY_LIMITS.get(role)


def within(role: str, amount: Decimal, claim_type: str) -> bool:
    if role == "system":
        return amount <= FAST_PATH_LIMITS[claim_type]
    if role not in AUTHORITY_LIMITS:
        return False
    limit = limit_of(role)
    return limit is None or amount <= limit


# ====================================================================== what the model remembers


@dataclass
class ClaimRecord:
    claim_id: str
    claim_type: str
    policy_number: str
    claimed: Decimal
    valid: bool = True
    approvals: list[tuple[str, str, Decimal]] = field(default_factory=list)
    """Accepted `approve` updates: (approver, role, the amount the approval moved)."""
    advances: list[tuple[str, str, Decimal, list[str]]] = field(default_factory=list)
    """Accepted `approve_advance` updates: (approver, role, amount, the people conflicted at that moment)."""
    withdrawn: bool = False
    accounts: set[str] = field(default_factory=lambda: {"6222000011112222"})
    """The accounts the claimant gave: at the first report, or later with the code sent to the phone on file."""
    clockless: int = 0
    """Consecutive checks at which the open claim showed no running deadline."""
    terms: dict[str, Decimal] = field(default_factory=dict)
    """The policy's terms when the claim was reported: an endorsement after does not change what it may be paid."""


@dataclass
class Snapshot:
    status: dict[str, Any] | None
    ledger: list[Decimal]
    execution: WorkflowExecutionStatus | None
    task_failures: list[str]
    failure_type: str | None = None
    disagreements: list[str] | None = None
    """Where the workflow's reading of the claim differs from the decision core's (the `core_disagreements` query)."""
    task_pending: bool = False
    """The run's last event is a workflow task scheduled or started: its code is about to run or running."""
    books: dict[str, Decimal] = field(default_factory=dict)
    """The claim's rows of the financial ledger, summed by movement."""


class ClaimsMachine(RuleBasedStateMachine):
    """Claims on one small shared policy (so they compete for its sum insured) and one large one."""

    rig: Rig
    sequences = 0
    steps = 0
    answers: Counter[str] = Counter()
    """Accepted and refused updates by name, and outcomes seen: what the sequences reached."""

    def __init__(self) -> None:
        super().__init__()
        self.rig.begin()
        ClaimsMachine.sequences += 1
        if PROGRESS and ClaimsMachine.sequences % PROGRESS == 0:
            print(f"progress: {ClaimsMachine.sequences} sequences, {ClaimsMachine.steps} steps, "  # noqa: T201
                  f"{time.monotonic() - STARTED:.0f} s", file=sys.stderr, flush=True)
        self.claims: list[ClaimRecord] = []
        self.policies: dict[str, dict[str, Decimal]] = {}
        self.loaded: dict[str, Any] = {}
        """The policies as loaded (PolicyTerms), by number: an endorsement loads one again with other terms."""
        self.seen: dict[str, Snapshot] = {}
        self.policy_paid: dict[str, Decimal] = {}
        self.kind = "auto"
        self.tag = uuid.uuid4().hex[:8]

    # ------------------------------------------------------------------ helpers

    def run(self, coro: Any) -> Any:
        return self.rig.run(coro)

    def pick(self, index: int) -> ClaimRecord:
        """A claim by index, among those whose workflow still runs (updates to the others are wasted)."""
        running = [r for r in self.claims if r.valid and self.seen.get(r.claim_id) and
                   self.seen[r.claim_id].execution == WorkflowExecutionStatus.RUNNING] or self.claims
        return running[index % len(running)]

    def actor(self, name: str, cid: str) -> str:
        if name != "HANDLER":
            return name
        status = self.seen.get(cid)
        handler = status.status.get("handler") if status and status.status else None
        return handler or "adj-1"

    async def send(self, cid: str, name: str, payload: Any) -> tuple[bool, Any]:
        """(accepted, ack or refusal). A refusal is a typed ApplicationError; anything else fails the test."""
        try:
            ack = await asyncio.wait_for(self.rig.claims.update(cid, name, payload), UPDATE_SECONDS)
        except WorkflowUpdateFailedError as err:
            assert isinstance(err.cause, ApplicationError), f"{name} refused without a typed error: {err.cause!r}"
            ClaimsMachine.answers[f"{name} refused: {str(err.cause.message)[:60]}"] += 1
            return False, err.cause
        except RPCError as err:  # the workflow has completed: nothing more can be sent to it
            ClaimsMachine.answers[f"{name} not delivered: {err.message[:60]}"] += 1
            return False, err
        ClaimsMachine.answers[f"{name} accepted"] += 1
        return True, ack

    async def send_invalid(self, cid: str, name: str, payload: Any) -> None:
        accepted, answer = await self.send(cid, name, payload)
        assert not accepted, f"{name} accepted an invalid payload {payload!r}: {answer!r}"

    def act(self, coro: Any) -> Any:
        """Run one outside action, then let every claim settle and take a snapshot for the invariants."""
        ClaimsMachine.steps += 1
        ClaimsMachine.answers[f"rule {getattr(coro, '__qualname__', coro)}"] += 1
        result = self.run(coro)
        self.run(self.settle())
        return result

    async def failure_message(self, failure: Failure) -> str:
        """A failure's message as written (failures are encrypted: their messages are in the encoded attributes)."""
        plain = Failure()
        plain.CopyFrom(failure)
        return str(await self.rig.claims.client.data_converter.decode_failure(plain))

    async def snapshot(self, record: ClaimRecord) -> Snapshot:
        handle = self.rig.claims.handle(record.claim_id)
        execution, failure_type, last = WorkflowExecutionStatus.RUNNING, None, None
        failures: list[str] = []
        slow: list[str] = []
        async for event in handle.fetch_history_events():
            last = event.event_type
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED and \
                    event.workflow_task_failed_event_attributes.cause not in ROUTINE_TASK_FAILURES:
                message = await self.failure_message(event.workflow_task_failed_event_attributes.failure)
                (slow if SLOW_NOT_STUCK in message else failures).append(message)
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                slow.clear()  # the task the detector failed was given again and completed
            elif event.event_type in ENDINGS:
                execution = ENDINGS[event.event_type]
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
                failure_type = event.workflow_execution_failed_event_attributes.failure.application_failure_info.type
        failures += slow
        status = disagreements = None
        if execution in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED):
            try:
                status = await handle.query("status")
                disagreements = await handle.query("core_disagreements")
            except RPCError:
                status = disagreements = None
        with Session(self.rig.engine) as session:
            ledger = [money(p.amount) for p in session.exec(select(Payment).where(
                Payment.claim_id == record.claim_id, Payment.status == "paid")).all()]
            books: dict[str, Decimal] = {}
            for row in session.exec(select(LedgerRow).where(LedgerRow.claim_id == record.claim_id)).all():
                books[row.movement] = books.get(row.movement, D(0)) + money(row.amount)
        pending = last in (EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)
        return Snapshot(status, ledger, execution, failures, failure_type, disagreements, pending, books)

    async def moving(self, record: ClaimRecord, seen: Snapshot) -> list[str]:
        """What the claim's run is doing now: a workflow task to run, as its history shows (not one failing again and
        again: that is a fault the invariants name), or an activity running or about to (not one waiting to retry
        after a failure, as a payment does while the gateway is down)."""
        client = self.rig.claims.client  # the raw answer: the test server's search attributes do not decode
        try:
            found = await client.workflow_service.describe_workflow_execution(DescribeWorkflowExecutionRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id_for(record.claim_id))))
        except RPCError:
            return []
        under_way = []
        if seen.task_pending and not seen.task_failures:  # the test server describes no pending workflow task
            under_way.append("a workflow task")
        # An activity on its first attempt is under way; a later attempt waits out its retry after a failure (the
        # test server shows it as started meanwhile), as a payment does while the gateway is down.
        under_way += [f"activity {a.activity_type.name}" for a in found.pending_activities if a.attempt <= 1]
        return under_way

    def teardown(self) -> None:
        """End the sequence's claims that are still open, with the server they run on. Left running, their clocks
        would tick through every later sequence's timer skips (an abandoned claim escalates daily for years of
        skipped time), and a long soak would slow down with every sequence it ran."""

        self.rig.gateway.fail_next(0)  # an outage ends with the sequence that caused it
        self.rig.finish()

    async def settle(self) -> None:
        """Wait until every claim stands still: nothing of its run under way (no workflow task, no activity but one
        waiting to retry after a failure) and no change in its status between two looks. Time stands still
        meanwhile: the time-skipping server only moves it during `env.sleep`."""
        deadline = time.monotonic() + SETTLE_SECONDS
        previous: Any = None
        while True:
            snaps = {r.claim_id: await self.snapshot(r) for r in self.claims}
            moving = {r.claim_id: await self.moving(r, snaps[r.claim_id]) for r in self.claims}
            shape = {cid: (s.execution, s.status and (s.status["stage"], s.status["outcome"], len(s.status["timeline"]),
                                                      len(s.status["payments"])), len(s.ledger))
                     for cid, s in snaps.items()}
            if shape == previous and not any(moving.values()):
                self.seen = snaps
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the claims never stood still within {SETTLE_SECONDS:.0f} s: "
                                     f"{ {cid: what for cid, what in moving.items() if what} }; {shape}")
            previous = shape
            await asyncio.sleep(0.15)
        with Session(self.rig.engine) as session:
            rows = session.exec(select(Claim.policy_number, func.coalesce(func.sum(Payment.amount), 0))
                                .join(Claim, col(Claim.claim_id) == col(Payment.claim_id))
                                .where(Payment.status == "paid").group_by(Claim.policy_number)).all()
        self.policy_paid = {number: money(total) for number, total in rows}

    # ------------------------------------------------------------------ the example's policies

    @initialize(kind=st.sampled_from(["auto", "property", "health"]),
                sum_insured=st.sampled_from(["12000.00", "6000.00", "30000.00"]),
                ratio=st.sampled_from(["1", "0.8"]))
    def policies_for_this_example(self, kind: str, sum_insured: str, ratio: str) -> None:
        """A small policy the example's claims share, and a large one; both run around the server's clock."""
        self.kind = kind
        now = self.run(self.rig.env.get_current_time())
        template = next(p for p in sample_policies() if p.policy_number == SAMPLE_FOR[kind])
        common = {"effective_from": (now - timedelta(days=200)).date(),
                  "effective_to": (now + timedelta(days=3650)).date(), "waiting_period_days": 0}
        small = template.model_copy(update={**common, "policy_number": f"P-S-{self.tag}",
                                            "sum_insured": D(sum_insured), "payout_ratio": D(ratio)})
        large = template.model_copy(update={**common, "policy_number": f"P-L-{self.tag}",
                                            "sum_insured": D("2000000.00")})
        load_policies(self.rig.engine, [small, large])
        self.loaded = {p.policy_number: p for p in (small, large)}
        for p in (small, large):
            self.policies[p.policy_number] = {"sum_insured": p.sum_insured, "deductible": p.deductible,
                                              "ratio": p.payout_ratio}

    @rule(deductible=st.sampled_from(["0.00", "500.00", "2000.00"]))
    def endorse_the_shared_policy(self, deductible: str) -> None:
        """The policy is loaded again with another deductible (an endorsement, as `policies load` takes it): claims
        reported before keep the terms they were reported on; those reported after get the new ones."""
        number = f"P-S-{self.tag}"
        endorsed = self.loaded[number].model_copy(update={"deductible": D(deductible)})
        load_policies(self.rig.engine, [endorsed])
        self.loaded[number] = endorsed
        self.policies[number] = {**self.policies[number], "deductible": endorsed.deductible}

    # ------------------------------------------------------------------ rules: claims arrive

    @rule(on_shared=st.sampled_from([True, True, True, False]), amount=st.sampled_from(AMOUNTS),
          items=st.sampled_from(["match", "none", "less", "more"]),
          documents=st.sampled_from(["fast", "all", "all", "few"]),
          injuries=st.booleans(), major=st.booleans(), account=st.sampled_from(["good", "closed", "short"]),
          reused_refs=st.booleans(), invalid=st.sampled_from([False] * 7 + [True]))
    def start_claim(self, on_shared: bool, amount: str, items: str, documents: str, injuries: bool, major: bool,
                    account: str, reused_refs: bool, invalid: bool) -> None:
        assume_room = len(self.claims) < 5
        if not assume_room:
            return
        cid = f"C-{self.tag}-{len(self.claims) + 1}"
        policy = f"P-{'S' if on_shared else 'L'}-{self.tag}"
        kinds = {"fast": FAST_PATH_DOCUMENTS[self.kind], "all": REQUIRED_DOCUMENTS[self.kind],
                 "few": ["claim_form"]}[documents]
        ref_owner = f"{self.tag}-shared" if reused_refs else cid
        claimed = D(amount)
        line_items = {"match": [{"description": "repair", "amount": amount}], "none": [],
                      "less": [{"description": "repair", "amount": str(cents(claimed * D("0.6")))}],
                      "more": [{"description": "repair", "amount": amount},
                               {"description": "extra", "amount": "1500.00"}]}[items]
        number = {"good": "6222000011112222", "closed": CLOSED_ACCOUNT, "short": "12345678"}[account]
        now = self.run(self.rig.env.get_current_time())
        claim = auto_claim(
            cid, policy_number=policy, claim_type=self.kind, claimed_amount=amount, line_items=line_items,
            documents=[{"kind": k, "ref": f"doc://{ref_owner}/{k}.pdf"} for k in kinds],
            incident={"occurred_at": (now - timedelta(days=1)).isoformat(), "cause": CAUSE[self.kind],
                      "injuries": injuries, "major": major},
            bank_account={"holder": "Li Lei", "number": number})
        if invalid:
            claim["claimed_amount"] = "-5.00"
        self.claims.append(ClaimRecord(cid, self.kind, policy, claimed, valid=not invalid, accounts={number},
                                       terms=dict(self.policies[policy])))
        self.act(self.rig.claims.start(claim))

    @precondition(lambda self: len(self.claims) <= 3)
    @rule(amounts=st.tuples(st.sampled_from(AMOUNTS), st.sampled_from(AMOUNTS)), together=st.booleans(),
          who=st.sampled_from(["sup-9", "mgr-8", "adj-4"]))
    def two_claims_race_for_one_sum_insured(self, amounts: tuple[str, str], together: bool, who: str) -> None:
        """Two claims on the shared policy priced before either is paid, then approved (at once or one after
        the other): what the sum insured still available was when each payout was computed is stale by then."""
        records = []
        for amount in amounts:
            cid = f"C-{self.tag}-{len(self.claims) + 1}"
            policy = f"P-S-{self.tag}"
            now = self.run(self.rig.env.get_current_time())
            claim = auto_claim(
                cid, policy_number=policy, claim_type=self.kind, claimed_amount=amount, line_items=[],
                documents=[{"kind": k, "ref": f"doc://{cid}/{k}.pdf"} for k in REQUIRED_DOCUMENTS[self.kind]],
                incident={"occurred_at": (now - timedelta(days=1)).isoformat(), "cause": CAUSE[self.kind]})
            record = ClaimRecord(cid, self.kind, policy, D(amount), terms=dict(self.policies[policy]))
            self.claims.append(record)
            records.append(record)
            self.act(self.rig.claims.start(claim))

        async def approve_both() -> None:
            if together:
                await asyncio.gather(*(self._approve(r, who, "required", None) for r in records))
            else:
                for r in records:
                    await self._approve(r, who, "required", None)

        self.act(approve_both())

    # ------------------------------------------------------------------ rules: the updates

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 4), count=st.integers(1, 3), valid=st.booleans(), unknown_kind=st.booleans())
    def submit_documents(self, index: int, count: int, valid: bool, unknown_kind: bool) -> None:
        record = self.pick(index)
        cid = record.claim_id
        if not valid:
            payload = {"documents": [{"kind": "ransom_note" if unknown_kind else "BAD KIND", "ref": "doc://x"}]}
            self.act(self.send_invalid(cid, "submit_documents", payload))
            return
        kinds = REQUIRED_DOCUMENTS[record.claim_type]
        missing = (self.seen[cid].status or {}).get("missing_documents") or kinds
        chosen = missing[:count]
        self.act(self.send(cid, "submit_documents",
                           {"documents": [{"kind": k, "ref": f"doc://{cid}/{k}-late.pdf"} for k in chosen]}))

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 4), who=st.sampled_from(PEOPLE),
          confirmed=st.sampled_from([None, "claimed", "half", "900000.00", "-1"]), fraud=st.booleans())
    def record_investigation(self, index: int, who: str, confirmed: str | None, fraud: bool) -> None:
        record = self.pick(index)
        cid = record.claim_id
        amount = {None: None, "claimed": str(record.claimed), "half": str(cents(record.claimed / 2))}.get(
            confirmed, confirmed)
        payload = {"investigator_id": self.actor(who, cid), "findings": "site visit", "confirmed_amount": amount,
                   "fraud_suspected": fraud}
        if amount == "-1":
            self.act(self.send_invalid(cid, "record_investigation", payload))
        else:
            self.act(self.send(cid, "record_investigation", payload))

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 4), who=st.sampled_from(PEOPLE),
          role=st.sampled_from(["required", "required", *ROLES, "system", "boss"]),
          amount=st.sampled_from([None, None, "claimed", "900000.00", "10.00"]))
    def approve(self, index: int, who: str, role: str, amount: str | None) -> None:
        record = self.pick(index)
        self.act(self._approve(record, who, role, amount))

    async def _approve(self, record: ClaimRecord, who: str, role: str, amount: str | None) -> None:
        cid = record.claim_id
        agreed = str(record.claimed) if amount == "claimed" else amount
        payload: dict[str, Any] = {"approver_id": self.actor(who, cid), "role": role, "comment": "ok"}
        if agreed is not None:
            payload["amount"] = agreed
        # What the claim looked like at the last settle: a query here would race the other update of a pair, and
        # the test server then sometimes answers neither within its deadline.
        before = self.seen[cid].status
        if role == "required":  # the tier the claim asks for now, so approvals get through and rounds complete
            role = payload["role"] = (before or {}).get("required_role") or "adjuster"
        if role == "boss":
            await self.send_invalid(cid, "approve", payload)
            return
        accepted, _ = await self.send(cid, "approve", payload)
        if accepted:
            payout = money(before["payout"]["total"]) if before and before.get("payout") else D("0")
            moved = max(payout, D(agreed)) if agreed is not None else payout
            record.approvals.append((payload["approver_id"], role, moved))

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 4), who=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES), valid=st.booleans())
    def reject(self, index: int, who: str, role: str, valid: bool) -> None:
        cid = self.pick(index).claim_id
        payload = {"approver_id": self.actor(who, cid), "role": role, "reason": "not covered", "clause": "4.2"}
        if valid:
            self.act(self.send(cid, "reject", payload))
        else:
            self.act(self.send_invalid(cid, "reject", {**payload, "reason": ""}))

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 4), who=st.sampled_from(PEOPLE), valid=st.booleans())
    def escalate(self, index: int, who: str, valid: bool) -> None:
        cid = self.pick(index).claim_id
        payload = {"by": self.actor(who, cid), "reason": "complex case" if valid else "   "}
        self.act(self.send(cid, "escalate", payload) if valid else self.send_invalid(cid, "escalate", payload))

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 4), handler=st.sampled_from(PEOPLE), by=st.sampled_from(PEOPLE), valid=st.booleans())
    def assign(self, index: int, handler: str, by: str, valid: bool) -> None:
        cid = self.pick(index).claim_id
        payload = {"handler_id": self.actor(handler, cid) if valid else "no one!", "by": self.actor(by, cid)}
        self.act(self.send(cid, "assign", payload) if valid else self.send_invalid(cid, "assign", payload))

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 4), valid=st.booleans())
    def withdraw(self, index: int, valid: bool) -> None:
        record = self.pick(index)
        if not valid:
            self.act(self.send_invalid(record.claim_id, "withdraw", {"by": "claimant"}))
            return
        self.act(self._withdraw(record))

    async def _withdraw(self, record: ClaimRecord) -> None:
        accepted, _ = await self.send(record.claim_id, "withdraw", {"by": "claimant", "reason": "settled privately"})
        record.withdrawn = record.withdrawn or accepted

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 4), valid=st.booleans())
    def appeal(self, index: int, valid: bool) -> None:
        cid = self.pick(index).claim_id
        payload = {"reason": "the repair cost more than that" if valid else ""}
        self.act(self.send(cid, "appeal", payload) if valid else self.send_invalid(cid, "appeal", payload))

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 4), number=st.sampled_from(["6222000099998888", CLOSED_ACCOUNT, "12345678", "abc"]),
          proof=st.sampled_from(["code", "wrong code", "no code"]))
    def update_bank_account(self, index: int, number: str, proof: str) -> None:
        """A new account: with the code sent to the claimant's phone, with a wrong one (an impostor), or none."""
        record = self.pick(index)
        cid = record.claim_id
        payload: dict[str, Any] = {"holder": "Li Lei", "number": number}
        if number == "abc" or proof == "no code":
            self.act(self.send_invalid(cid, "update_bank_account", payload))
            return
        claims = self.rig.claims

        async def change() -> None:
            sent, _ = await self.send(cid, "request_code", {"purpose": "bank_account"})
            letters = claims.notices(cid, "code_bank_account")
            if not letters:
                return
            code = claims.code_sent(cid)
            if proof == "wrong code":
                payload["code"] = str((int(code) + 1) % 1_000_000).zfill(6)
                await self.send_invalid(cid, "update_bank_account", payload)
                return
            payload["code"] = code
            accepted, _ = await self.send(cid, "update_bank_account", payload)
            if accepted:
                record.accounts.add(number)

        self.act(change())

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 4), who=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES))
    def reopen(self, index: int, who: str, role: str) -> None:
        cid = self.pick(index).claim_id
        self.act(self.send(cid, "reopen", {"by": self.actor(who, cid), "reason": "documents arrived", "role": role}))

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 4), who=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES),
          amount=st.sampled_from(["500.00", "2000.00", "9000.00", "60000.00", "150000.00", "0"]))
    def approve_advance(self, index: int, who: str, role: str, amount: str) -> None:
        record = self.pick(index)
        self.act(self._approve_advance(record, who, role, amount))

    async def _approve_advance(self, record: ClaimRecord, who: str, role: str, amount: str) -> None:
        cid = record.claim_id
        payload = {"approver_id": self.actor(who, cid), "role": role, "amount": amount, "comment": "urgent"}
        if amount == "0":
            await self.send_invalid(cid, "approve_advance", payload)
            return
        status = self.seen[cid].status or {}
        conflicted = [p for p in [status.get("handler"), (status.get("investigation") or {}).get("investigator_id")]
                      if p]
        accepted, _ = await self.send(cid, "approve_advance", payload)
        if accepted:
            record.advances.append((payload["approver_id"], role, D(amount), conflicted))

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 4), who=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES),
          amount=st.sampled_from(["0.00", "900.00", "12000.00", "60000.00", "1200000.00", "-5"]))
    def set_reserve(self, index: int, who: str, role: str, amount: str) -> None:
        """Staff set a claim's reserve: any person, role and figure (the claim's rules and the core decide)."""
        cid = self.pick(index).claim_id
        payload = {"amount": amount, "reason": "estimate revised", "by": self.actor(who, cid), "role": role}
        self.act(self.send_invalid(cid, "set_reserve", payload) if amount.startswith("-") else
                 self.send(cid, "set_reserve", payload))

    @precondition(lambda self: self.claims)
    @rule(who=st.sampled_from(["sup-9", "mgr-8", "inv-5", "adj-4"]))
    def staff_move_every_claim_on(self, who: str) -> None:
        """What a working claims department does next on each open claim: materials supplied, an outside
        investigator's report, an approval at the tier asked for, by someone with no part in the claim. It
        drives claims to payment, where the money invariants bite (claims compete for one sum insured)."""
        self.act(self._move_on(who))

    async def _move_on(self, who: str) -> None:
        for record in self.claims:
            snap = self.seen.get(record.claim_id)
            status = snap.status if snap else None
            if not status or status["stage"] == "closed":
                continue
            cid = record.claim_id
            if status["stage"] == "awaiting_documents":
                await self.send(cid, "submit_documents", {"documents": [
                    {"kind": k, "ref": f"doc://{cid}/{k}-move.pdf"} for k in status["missing_documents"]]})
            elif status["stage"] == "investigating":
                await self.send(cid, "record_investigation", {"investigator_id": "inv-5", "findings": "as reported"})
            elif status["stage"] == "awaiting_approval":
                await self._approve(record, who, "required", None)

    # ------------------------------------------------------------------ rules: races and time

    @precondition(lambda self: self.claims)
    @rule(index=st.integers(0, 4), pair=st.sampled_from(["approve+withdraw", "approve+approve", "advance+withdraw",
                                                         "documents+withdraw", "reject+approve"]),
          who=st.sampled_from(PEOPLE), other=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES))
    def two_updates_at_once(self, index: int, pair: str, who: str, other: str, role: str) -> None:
        role = "manager" if role == "adjuster" else role  # a race where the approval can win
        record = self.pick(index)
        cid = record.claim_id
        first, second = pair.split("+")
        actions = {
            "approve": lambda by: self._approve(record, by, role, None),
            "withdraw": lambda by: self._withdraw(record),
            "advance": lambda by: self._approve_advance(record, by, role, "2000.00"),
            "reject": lambda by: self.send(cid, "reject", {"approver_id": self.actor(by, cid), "role": role,
                                                          "reason": "not covered", "clause": "4.2"}),
            "documents": lambda by: self.send(cid, "submit_documents", {"documents": [
                {"kind": k, "ref": f"doc://{cid}/{k}-race.pdf"} for k in REQUIRED_DOCUMENTS[record.claim_type]]}),
        }

        async def both() -> None:
            await asyncio.gather(actions[first](who), actions[second](other))

        self.act(both())

    @rule(calls=st.sampled_from([0, 1, 3]))
    def gateway_outage(self, calls: int) -> None:
        """The payment gateway fails its next calls as an outage would (0: it is back): the transfers in hand are
        retried, and whatever is decided meanwhile must not pay twice or after a refusal."""
        self.rig.gateway.fail_next(calls)
        self.act(asyncio.sleep(0))

    @rule(seconds=st.sampled_from([300, 3600, 86400, 3 * 86400, 300, 3600, 8 * 86400, 31 * 86400, 61 * 86400,
                                   90 * 86400]))
    def time_passes(self, seconds: int) -> None:
        self.act(self.sleep(seconds))

    async def sleep(self, seconds: int) -> None:
        """Skip time a day at a time. The test server answers once every timer of the day has fired and the claims are
        idle again, which on a loaded machine (every claim continuing as new, PostgreSQL beside) can take longer than
        the client's default deadline for a call: the call waits for that state, up to a bound no answer takes.
        While it waits, the server is read for tasks it lost (`Rig.release_time_held_by_lost_tasks`)."""
        lost = self.rig.lost_tasks
        while seconds > 0:
            request = SleepRequest()
            request.duration.FromTimedelta(timedelta(seconds=min(seconds, 86400)))
            day = asyncio.ensure_future(self.rig.env.client.test_service.unlock_time_skipping_with_sleep(
                request, timeout=timedelta(minutes=10)))
            # A day the server does not end at once may be held by a task it lost: looked for until the day ends.
            while not (await asyncio.wait({day}, timeout=1.0))[0]:
                await self.rig.release_time_held_by_lost_tasks([r.claim_id for r in self.claims])
            day.result()
            seconds -= 86400
        ClaimsMachine.answers["test server lost a continued run's last task"] += self.rig.lost_tasks - lost

    # ------------------------------------------------------------------ invariants (docs/rules.md#money-invariants)

    def views(self) -> list[tuple[ClaimRecord, Snapshot]]:
        return [(r, self.seen[r.claim_id]) for r in self.claims if r.claim_id in self.seen]

    @invariant()
    def nothing_is_paid_beyond_the_payout_nor_the_policy_terms(self) -> None:
        for record, snap in self.views():
            status = snap.status
            if status is None:
                continue
            terms = record.terms
            ceiling = min(cents(max(record.claimed - terms["deductible"], D(0)) * terms["ratio"]), record.claimed)
            ledger = sum(snap.ledger, D(0))
            shown = sum((money(p["amount"]) for p in status["payments"]), D(0))
            payout = status.get("payout")
            decision = status.get("decision") or {}
            where = f"claim {record.claim_id} ({record.claimed} claimed, ceiling {ceiling})"
            assert ledger <= ceiling, f"{where}: ledger paid {ledger} beyond (claimed - deductible) x ratio"
            assert shown <= ceiling, f"{where}: status shows {shown} paid beyond (claimed - deductible) x ratio"
            if payout is not None:
                total = money(payout["total"])
                assert total <= ceiling, f"{where}: payout total {total} beyond (claimed - deductible) x ratio"
                assert ledger <= total, f"{where}: ledger paid {ledger} beyond the payout total {total}"
                assert shown <= total, f"{where}: status shows {shown} paid beyond the payout total {total}"
            if status["outcome"] is not None:  # closed: what it keeps beyond its decision is owed back
                allowed = money(decision["amount"]) if status["outcome"] == "paid" and decision else D(0)
                settled = sum((money(r["received"]) + money(r["written_off"]) for r in status["recoveries"]), D(0))
                owed = money(status["recovery_outstanding"])
                assert shown - settled <= allowed + owed, (
                    f"{where}: closed {status['outcome']} keeping {shown - settled}; its decision allows {allowed} "
                    f"and {owed} is owed back")

    @invariant()
    def the_books_hold_what_the_claim_holds(self) -> None:
        """docs/finance.md: the reserve is never negative and none is held once closed; paid + reserve is the claim's
        estimate; and the financial ledger, summed, holds the claim's reserve, its payments (those of the payments
        table), and each recovery's expected, received and written-off amounts."""
        for record, snap in self.views():
            status = snap.status
            if status is None or status.get("reserve") is None:
                continue
            where = f"claim {record.claim_id} ({status['stage']}, {status['outcome']})"
            books = snap.books
            reserve, paid = money(status["reserve"]), sum(snap.ledger, D(0))
            assert reserve >= 0, f"{where}: a reserve of {reserve}"
            if status["outcome"] is not None:
                assert reserve == 0, f"{where}: closed, holding a reserve of {reserve}"
            assert money(status["estimate"]) == sum((money(p["amount"]) for p in status["payments"]), D(0)) + \
                reserve, f"{where}: estimate {status['estimate']} is not paid + reserve {reserve}"
            recoveries = status["recoveries"]
            expected = {
                "reserve": reserve, "payment": paid,
                "recovery_reserve": sum((money(r["amount"]) - money(r["received"]) - money(r["set_off"])
                                         - money(r["written_off"]) for r in recoveries if r["status"] == "open"),
                                        D(0)),
                "recovery": sum((money(r["received"]) for r in recoveries), D(0)),
                "write_off": sum((money(r["written_off"]) for r in recoveries), D(0))}
            for movement, amount in expected.items():
                assert books.get(movement, D(0)) == amount, \
                    f"{where}: the ledger's {movement} rows come to {books.get(movement, D(0))}, the claim {amount}"

    @invariant()
    def the_workflow_reads_the_claim_as_the_decision_core_does(self) -> None:
        """The validators ask the core (workflows/core_view.py); they can only be right if the core is shown the
        claim as the workflow holds it: the same money paid and being decided, the same tier, approvals, conflicts."""
        for record, snap in self.views():
            assert not snap.disagreements, f"claim {record.claim_id}: {snap.disagreements}"

    @invariant()
    def no_policy_pays_beyond_its_sum_insured(self) -> None:
        for number, terms in self.policies.items():
            paid = self.policy_paid.get(number, D(0))
            assert paid <= terms["sum_insured"], (
                f"policy {number}: its claims were paid {paid}, beyond its sum insured {terms['sum_insured']}")

    @invariant()
    def every_money_decision_is_within_authority_and_four_eyes(self) -> None:
        for record, snap in self.views():
            status = snap.status
            if status is None:
                continue
            where = f"claim {record.claim_id}"
            for approver, role, moved in record.approvals:
                assert within(role, moved, record.claim_type), (
                    f"{where}: {approver} as {role} approved {moved}, beyond a {role}'s authority")
            ids = [a["approver_id"].lower() for a in status["approvals"] if a["role"] != "system"]
            assert len(ids) == len(set(ids)), f"{where}: one person approved twice: {ids}"
            conflicted = {p.lower(): part for p, part in [(status.get("handler"), "handler"), (
                (status.get("investigation") or {}).get("investigator_id"), "investigator")] if p}
            for approver in ids:
                assert approver not in conflicted, f"{where}: {approver} approved as the {conflicted[approver]}"
            decision = status.get("decision") or {}
            if decision.get("kind") in ("approved", "partial"):
                amount = money(decision["amount"])
                deciders = [d.strip() for d in decision.get("decided_by", "system").split(",")]
                roles = {a["approver_id"]: a["role"] for a in status["approvals"] if a["approver_id"] in deciders}
                assert any(within(roles.get(d, "none"), amount, record.claim_type) for d in deciders), (
                    f"{where}: decision of {amount} by {deciders} ({roles}) is beyond every decider's authority")
                if amount > D("500000"):
                    managers = {d.lower() for d in deciders if roles.get(d) == "manager"}
                    assert len(managers) >= 2, f"{where}: {amount} decided without two different managers: {deciders}"
            for approver, role, amount, people in record.advances:
                assert role in ("supervisor", "manager") and within(role, amount, record.claim_type), (
                    f"{where}: advance of {amount} approved by {approver} as {role}, beyond that authority")
                assert approver.lower() not in {p.lower() for p in people}, (
                    f"{where}: advance approved by {approver}, who handles or investigated the claim")
            approved_by = {a[0] for a in record.advances} | {"statutory"}
            for entry in status["timeline"]:
                if entry["event"] == "advance_payment":
                    assert entry["by"] in approved_by, f"{where}: advance paid on nobody's approval: {entry}"

    @invariant()
    def money_goes_only_to_an_account_the_claimant_gave(self) -> None:
        for record in self.claims:
            for transfer in self.rig.claims.transfers(record.claim_id):
                assert transfer.account_number in record.accounts, (
                    f"claim {record.claim_id}: paid to {transfer.account_number}, which the claimant never proved "
                    f"(their accounts: {sorted(record.accounts)})")

    @invariant()
    def nothing_is_paid_after_a_withdrawal(self) -> None:
        for record, snap in self.views():
            status = snap.status
            if status is None or not record.withdrawn:
                continue
            events = [e["event"] for e in status["timeline"]]
            if "withdrawal_requested" not in events:
                continue
            after = events[events.index("withdrawal_requested"):]
            assert "paid" not in after, f"claim {record.claim_id}: paid after its withdrawal was accepted: {after}"
            assert status["outcome"] in (None, "withdrawn"), (
                f"claim {record.claim_id}: withdrawal accepted but the claim closed {status['outcome']}")

    @invariant()
    def every_open_claim_waits_on_a_named_clock(self) -> None:
        """An open claim (stage not `closed`) shows a running deadline in `deadlines`, except in the
        stages before its first clock (registered, coverage_check): there it may be seen once, never at two
        checks in a row, the second after a settle."""
        for record, snap in self.views():
            status = snap.status
            if status is None or status["stage"] == "closed" or status["deadlines"]:
                record.clockless = 0
                continue
            record.clockless += 1
            assert status["stage"] in MOVING_STAGES and record.clockless < 2, (
                f"claim {record.claim_id} waits at stage {status['stage']} with no named clock running")

    @invariant()
    def no_workflow_task_fails_and_only_bad_input_fails_a_claim(self) -> None:
        for record, snap in self.views():
            assert not snap.task_failures, f"claim {record.claim_id}: workflow task failed: {snap.task_failures}"
            if record.valid:
                assert snap.execution not in (WorkflowExecutionStatus.FAILED, WorkflowExecutionStatus.TERMINATED,
                                              WorkflowExecutionStatus.TIMED_OUT), (
                    f"claim {record.claim_id}: the workflow ended {snap.execution}")
            elif snap.execution != WorkflowExecutionStatus.RUNNING or snap.status is None:
                assert snap.failure_type == "InvalidClaim", (
                    f"claim {record.claim_id}: bad input ended {snap.execution} ({snap.failure_type}), "
                    "not a typed InvalidClaim refusal")
            else:
                raise AssertionError(f"claim {record.claim_id}: bad input still running after the settle")


def machine_settings(examples: int = EXAMPLES, steps: int = STEPS, shrink: bool = SHRINK) -> settings:
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target] + ([Phase.shrink] if shrink else [])
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                    suppress_health_check=list(HealthCheck), phases=phases, print_blob=True,
                    database=DirectoryBasedExampleDatabase(str(Path("var") / "hypothesis")))
