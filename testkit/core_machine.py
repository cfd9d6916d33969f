"""The decision core's state machine: random sequences of every command from every actor, against a small world.

The world is what the shell and the activities are to the core: a policy with periods that are renewed and endorsed
between steps, several claims on it, a payment gateway that settles, refuses an account or caps a payment at what
the period's sum insured has left, a claimant who sends new details, clocks that breach, runs that continue as new
(the state round-trips through JSON). Each rule sends one command; a refusal changes nothing; the events accepted
are folded in and the effects they ask for reach the world. The invariants (docs/rules.md#money-invariants) are
checked after every step, against an oracle the model keeps on its own, not against the core's own bookkeeping.

`tests/test_decision_core.py` runs it in `make test`; `bench/core_sequences.py` runs 100,000 sequences.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from core import claim as core
from core.claim import commands as c
from core.claim import decisions as core_decisions
from core.claim import events as e
from core.claim.carry import carried, restored
from core.claim.state import ClaimCore, Limits, Period, RecoveryStatus, ReserveTable
from core.rules.payout import ZERO, after_terms, cents
from models.contract import Outcome, Path, Role, Stage

D = Decimal
TODAY = date(2026, 12, 4)
LIMITS = Limits(adjuster=D("10000"), supervisor=D("100000"), system=D("5000"), dual_manager_threshold=D("500000"))
LONG_IDS = [str(uuid.UUID(int=n)) for n in (1, 2)]
PEOPLE = ["adj-1", "ADJ-1", "sup-1", "sup-2", "mgr-1", "mgr-2", "inv-1", *LONG_IDS]
"""Who acts: ids compared case-insensitively, and two of an identity provider's 36 characters."""
ROLES = [Role.ADJUSTER, Role.SUPERVISOR, Role.MANAGER, Role.SYSTEM]
"""Any role any person may claim (the shell checks the credential; the core must hold under any role)."""
AMOUNTS = [D(a) for a in ("0.01", "800.00", "3200.00", "4900.00", "8000.00", "14000.00", "26000.00", "120000.00",
                          "650000.00")]
ODD = [D("NaN"), D("Infinity"), D("-0.01")]
"""Amounts no contract field accepts: the core refuses them too, never raising anything else."""
CLAIMS = 2
RESERVES = [ReserveTable(), ReserveTable(initial=D("3000"), adjuster=D("5000"), four_eyes_above=D("100000"))]
"""The reserve tables claims are registered under, in turn: the amount claimed first, then an average cost."""
DECIDERS = {Role.ADJUSTER: ["adj-8", "adj-9"], Role.SUPERVISOR: ["sup-8", "sup-9", "sup-7"],
            Role.MANAGER: ["mgr-8", "mgr-9", "MGR-8", "mgr-7"]}
"""Who the claim's own course asks to decide at each tier: several, for four-eyes and appeals."""


@dataclass
class Terms:
    """A period as the world knows it: the truth the oracle checks against."""

    starts: date
    ends: date
    sum_insured: Decimal
    deductible: Decimal
    ratio: Decimal

    def period(self) -> Period:
        return Period(self.starts, self.ends, self.sum_insured, self.deductible, self.ratio)


@dataclass
class Oracle:
    """What the model knows of one claim, kept apart from the core's state."""

    incident: date
    claimed: Decimal
    true_terms: Terms | None
    """The terms in force on the incident date when the claim was reported: the most it may ever be paid."""
    round_approvals: list[tuple[str, Role]] = field(default_factory=list)
    took_part: set[str] = field(default_factory=set)
    """Everyone who may not decide this round: the investigator, every handler, every advance's approver, and every
    approver or rejecter of an earlier round (ids compared case-insensitively)."""
    stopped: bool = False
    """An accepted rejection or withdrawal: nothing more may be asked of the gateway until an appeal."""
    requested: list[tuple[str, Decimal]] = field(default_factory=list)
    third_party: bool = False
    """A third party caused the loss (the claim is reported so)."""
    estimate: Decimal = ZERO
    """The latest estimate of the claim's cost, as the last reserve movement made it (payments do not move it)."""
    reserve_authors: list[tuple[tuple[str, ...], Role | None, Decimal]] = field(default_factory=list)
    """Every reserve a person set: by whom, as what, and the figure."""
    appealed: tuple[str, Decimal, Decimal, Outcome | None] | None = None
    """The decision under appeal as it stood when the appeal was lodged: its kind, its amount, what was paid on it,
    and the outcome it closed with. A rejected appeal leaves all of it standing."""


class CoreMachine(RuleBasedStateMachine):
    """Claims on one policy whose periods change under them."""

    sequences = 0
    steps = 0
    reached: Counter[str] = Counter()
    """Events produced, by type, over every sequence run: proof that the sequences reach what the invariants are
    about (a recovery opened, repaid, written off, set off), not only that nothing failed."""

    def __init__(self) -> None:
        super().__init__()
        CoreMachine.sequences += 1
        self.periods: list[Terms] = [Terms(TODAY - timedelta(days=400), TODAY - timedelta(days=36), D("30000"),
                                           D("500"), D("1")),
                                     Terms(TODAY - timedelta(days=35), TODAY + timedelta(days=330), D("700000"),
                                           D("2000"), D("0.9"))]
        self.states: list[ClaimCore] = []
        self.oracles: list[Oracle] = []
        self.paid_in: dict[date, Decimal] = {}
        """What the gateway paid out per period (by its first day), across claims: the world's ledger."""

    # ------------------------------------------------------------------ sending commands

    def send(self, n: int, command: c.Command) -> list[e.Event] | None:
        """The command to claim n: its events (folded in, effects passed to the world), or None if refused."""
        CoreMachine.steps += 1
        before = self.states[n]
        try:
            events = core.decide(before, command)
        except core.Refused:
            return None
        if isinstance(command, c.Withdraw) and self.states[n].final_bounced:
            CoreMachine.reached["WithdrawnWhileTheFinalWaitsForAnAccount"] += 1
        self.states[n] = self.fold_checking_each_payment(n, events)
        oracle = self.oracles[n]
        CoreMachine.reached.update(type(event).__name__ for event in events)
        for event in events:
            if isinstance(event, e.PaymentRequested):
                assert not oracle.stopped, f"claim {n}: {event} asked after an accepted rejection or withdrawal"
                oracle.requested.append((event.transfer.kind, event.transfer.amount))
                if event.transfer.kind == "final":
                    self.check_final_is_authorised(n, event.transfer.amount)
            if isinstance(event, e.PaymentMade) and event.amount > 0:
                assert not oracle.stopped, f"claim {n}: {event.amount} paid after an accepted rejection or withdrawal"
            if isinstance(event, e.Approved):
                oracle.round_approvals.append((event.who, event.role))
            if isinstance(event, e.RecoveryOpened) and isinstance(command, c.OpenRecovery):
                expected = sum((r.brings for r in before.recoveries if r.kind != "overpayment"), ZERO)
                cost = before.paid + before.reserve if not before.closed else min(before.paid, (
                    before.decision.amount if before.outcome == Outcome.PAID and before.decision else ZERO))
                assert expected + event.amount <= cost, \
                    f"claim {n}: a recovery of {event.amount} beside {expected} expected, on a claim that cost {cost}"
            if isinstance(event, e.ReserveSet):
                oracle.estimate = event.estimate
                if event.by != ("system",):
                    oracle.reserve_authors.append((event.by, event.role, event.reserve))
        if oracle.third_party and any(isinstance(ev, e.Closed) and ev.outcome == Outcome.PAID for ev in events):
            after = self.states[n]
            bears = min(after.paid, after.decision.amount) if after.decision else ZERO
            brings = sum((r.brings for r in after.recoveries if r.kind != "overpayment"), ZERO)
            assert brings >= bears, f"claim {n}: closed paid keeping {bears}; its recoveries of the third party and " \
                                    f"the salvage bring {brings}"
        if isinstance(command, c.Reject) and before.review:
            self.check_a_rejected_appeal_leaves_the_decision_standing(n, events)
        if before.review:
            self.check_an_appeal_is_decided_by_its_reviewer(n, events)
        if isinstance(command, c.Appeal):
            assert before.decision is not None
            oracle.appealed = (before.decision.kind, before.decision.amount, before.paid, before.outcome)
        if isinstance(command, c.Reject | c.Withdraw):
            oracle.stopped = True
        if isinstance(command, c.Reject):
            oracle.took_part.add(command.who.casefold())
        if isinstance(command, c.RecordInvestigation | c.Assign | c.ApproveAdvance):
            oracle.took_part.add((command.handler if isinstance(command, c.Assign) else command.who).casefold())
        if isinstance(command, c.Appeal | c.Reopen):
            oracle.took_part |= {who.casefold() for who, _ in oracle.round_approvals}
            oracle.stopped, oracle.round_approvals = False, []
        return events

    def fold_checking_each_payment(self, n: int, events: list[e.Event]) -> ClaimCore:
        """Fold the events one by one: a payment asked of the gateway is covered by the reserve at that moment (a
        reserve too low is raised before, in the same decision), and one made leaves it at zero or more."""
        state = self.states[n]
        for event in events:
            state = core.evolve(state, event)
            if isinstance(event, e.PaymentRequested):
                assert state.reserve >= state.in_flight, \
                    f"claim {n}: {event.transfer.amount} asked of the gateway on a reserve of {state.reserve}"
            if isinstance(event, e.PaymentMade):
                assert state.reserve >= ZERO, f"claim {n}: {event.amount} paid leaves a reserve of {state.reserve}"
        return state

    def check_a_rejected_appeal_leaves_the_decision_standing(self, n: int, events: list[e.Event]) -> None:
        """The reviewer who rejects an appeal upholds the decision appealed against: its kind stands, and the amount
        of a partial approval, the claim closes as it had, and nothing paid on it is claimed back. (A denial upheld is
        a denial written again, as the workflow writes it: its amount is what was paid by then, advances included.)"""
        state, appealed = self.states[n], self.oracles[n].appealed
        assert appealed is not None and state.decision is not None, f"claim {n}: an appeal rejected with no decision"
        kind, amount, paid, outcome = appealed
        CoreMachine.reached[f"AppealNotUpheld:{kind}"] += 1
        assert state.decision.kind == kind and (kind == "denied" or state.decision.amount == amount), \
            f"claim {n}: the appeal was rejected, yet the decision became {state.decision} (it was {kind} {amount})"
        assert state.outcome == outcome and state.paid == paid, \
            f"claim {n}: the appeal was rejected, yet the claim closed {state.outcome} with {state.paid} paid " \
            f"(it had closed {outcome} with {paid})"
        assert not any(isinstance(event, e.RecoveryOpened) for event in events), \
            f"claim {n}: rejecting the appeal claimed back money the decision appealed against had paid: {events}"

    def check_an_appeal_is_decided_by_its_reviewer(self, n: int, events: list[e.Event]) -> None:
        """An appeal is answered by a person who reviews it, whatever its payout comes to (nothing, below the
        deductible): the reviewer may agree an amount or reject the appeal. The system never decides it."""
        for event in events:
            if isinstance(event, e.Decided):
                CoreMachine.reached["DecidedOnAppeal"] += 1
                assert event.decision.by != ("system",), \
                    f"claim {n}: the appeal was decided by the system, with no reviewer: {event.decision}"

    def check_final_is_authorised(self, n: int, amount: Decimal) -> None:
        """The oracle's own reading of the authority rules (docs/rules.md): the decision this final payment pays was
        approved by the system within its limit, or by enough people each within their own."""
        state, oracle = self.states[n], self.oracles[n]
        decided = state.decision.amount if state.decision else ZERO
        people = {(who.casefold(), role) for who, role in oracle.round_approvals if role != Role.SYSTEM}
        conflicted = {who for who, _ in people} & oracle.took_part
        assert not conflicted, f"claim {n}: {conflicted} decided a round they had taken part in before (four eyes)"
        if any(role == Role.SYSTEM for _, role in oracle.round_approvals):
            assert decided <= LIMITS.system and not state.review, \
                f"claim {n}: the system approved {decided} (its limit {LIMITS.system}, review {state.review})"
            return
        limit = {Role.ADJUSTER: LIMITS.adjuster, Role.SUPERVISOR: LIMITS.supervisor, Role.MANAGER: None}
        within = {who for who, role in people if limit[role] is None or decided <= limit[role]}  # type: ignore[operator]
        assert within, f"claim {n}: {decided} paid on approvals {people}, none within its authority"
        if decided > LIMITS.dual_manager_threshold:
            managers = {who for who, role in people if role == Role.MANAGER}
            assert len(managers) >= 2, f"claim {n}: {decided} paid on one manager's approval"

    # ------------------------------------------------------------------ the world

    @initialize(amounts=st.lists(st.sampled_from(AMOUNTS), min_size=CLAIMS, max_size=CLAIMS),
                days=st.lists(st.integers(0, 450), min_size=CLAIMS, max_size=CLAIMS))
    def report(self, amounts: list[Decimal], days: list[int]) -> None:
        for amount, days_ago in zip(amounts, days, strict=True):
            self.register(amount, TODAY - timedelta(days=days_ago))

    def register(self, claimed: Decimal, incident: date, refusal: str | None = None) -> None:
        """A claim reported (`refusal`: the policy refuses it on other grounds than its period, an excluded cause)."""
        n = len(self.states)
        self.states.append(core.INITIAL)
        truth = next((t for t in sorted(self.periods, key=lambda t: t.starts, reverse=True)
                      if t.starts <= incident <= t.ends), None)
        third_party = n % 3 == 1
        self.oracles.append(Oracle(incident, claimed, dataclasses.replace(truth) if truth else None,
                                   third_party=third_party))
        self.send(n, c.Register(f"C-{n}", claimed, incident, tuple(t.period() for t in self.periods), LIMITS,
                                refusal, RESERVES[n % len(RESERVES)], third_party))

    @rule(claimed=st.sampled_from(AMOUNTS), days=st.integers(0, 450))
    @precondition(lambda self: len(self.states) < CLAIMS + 2)
    def another_claim(self, claimed: Decimal, days: int) -> None:
        self.register(claimed, TODAY - timedelta(days=days))

    @rule(deductible=st.sampled_from([D("0"), D("200"), D("1000")]), ratio=st.sampled_from([D("1"), D("0.8")]),
          sum_insured=st.sampled_from([D("10000"), D("50000"), D("2000000")]))
    def renew(self, deductible: Decimal, ratio: Decimal, sum_insured: Decimal) -> None:
        """A renewal adds a period: it starts the day after the latest ends (incidents before stay in theirs)."""
        latest = max(self.periods, key=lambda t: t.starts)
        self.periods.append(Terms(latest.ends + timedelta(days=1), latest.ends + timedelta(days=366), sum_insured,
                                  deductible, ratio))

    @rule(which=st.integers(0, 5), deductible=st.sampled_from([D("0"), D("100"), D("5000")]))
    def endorse(self, which: int, deductible: Decimal) -> None:
        """An endorsement changes a period's terms: claims already reported keep the terms they were reported on."""
        terms = self.periods[which % len(self.periods)]
        terms.deductible = deductible

    def claim(self, data: st.DataObject) -> int:
        return data.draw(st.integers(0, len(self.states) - 1), label="claim")

    def owing(self, data: st.DataObject) -> int:
        """A claim with money owed back, when there is one (so that repayments, write-offs and set-offs are
        reached), else any claim."""
        owing = [m for m, s in enumerate(self.states) if s.outstanding_recoveries > ZERO]
        return data.draw(st.sampled_from(owing), label="claim") if owing else self.claim(data)

    @rule(data=st.data(), path=st.sampled_from(list(Path)), investigate=st.booleans(), missing=st.booleans(),
          steps=st.integers(1, 4), verdict=st.sampled_from(["approve", "approve", "approve", "reject"]))
    def progress(self, data: st.DataObject, path: Path, investigate: bool, missing: bool, steps: int,
                 verdict: str) -> None:
        """The next steps a claim's own course would take: what the shell and the staff do when nothing goes
        wrong, so that random sequences reach decisions and payments, and the other rules strike in between."""
        n = self.claim(data)
        for _ in range(steps):
            self.next_step(n, path, investigate, missing, verdict)

    def next_step(self, n: int, path: Path, investigate: bool, missing: bool, verdict: str) -> None:
        s = self.states[n]
        if s.transfer is not None:
            self.gateway_answers(n, "settle")
        elif s.awaiting_account is not None:
            self.send(n, c.AccountUpdated())
        elif s.stage == Stage.COVERAGE_CHECK:
            self.send(n, c.Triage(path, True, investigate, missing))
        elif s.stage == Stage.AWAITING_DOCUMENTS:
            self.send(n, c.DocumentsComplete())
        elif s.stage == Stage.INVESTIGATING:
            self.send(n, c.RecordInvestigation("inv-9", None, False))
        elif s.stage == Stage.ADJUSTING:
            self.send(n, c.Assess(self.oracles[n].claimed, self.held_by_others(n)))
        elif s.stage == Stage.AWAITING_APPROVAL:
            tier = s.required_role
            for who in DECIDERS[tier]:
                command = c.Approve(who, tier) if verdict == "approve" else c.Reject(who, tier, "not covered")
                if self.send(n, command) is not None:
                    break

    @rule(data=st.data(), documents_missing=st.booleans(), investigate=st.booleans(), risk_low=st.booleans(),
          path=st.sampled_from(list(Path)))
    def triage(self, data: st.DataObject, documents_missing: bool, investigate: bool, risk_low: bool,
               path: Path) -> None:
        self.send(self.claim(data), c.Triage(path, risk_low, investigate, documents_missing))

    @rule(data=st.data(), complete=st.booleans())
    def documents(self, data: st.DataObject, complete: bool) -> None:
        self.send(self.claim(data), c.DocumentsComplete() if complete else c.DocumentsOverdue())

    @rule(data=st.data(), who=st.sampled_from(PEOPLE), confirmed=st.sampled_from([None, *AMOUNTS]),
          fraud=st.booleans())
    def investigate(self, data: st.DataObject, who: str, confirmed: Decimal | None, fraud: bool) -> None:
        self.send(self.claim(data), c.RecordInvestigation(who, confirmed, fraud))

    @rule(data=st.data(), loss=st.sampled_from([*AMOUNTS, *ODD]))
    def assess(self, data: st.DataObject, loss: Decimal) -> None:
        """The payout activity: the loss, and what the period's other claims hold (from the world's ledger)."""
        n = self.claim(data)
        self.send(n, c.Assess(loss, self.held_by_others(n)))

    def held_by_others(self, n: int) -> Decimal:
        period = self.states[n].period
        if period is None:
            return ZERO
        return sum((self.holding(m) for m in range(len(self.states))
                    if m != n and (other := self.states[m].period) is not None and other.starts == period.starts),
                   ZERO)

    def holding(self, m: int) -> Decimal:
        s = self.states[m]
        return s.paid + (s.transfer.amount if s.transfer else ZERO)

    @rule(data=st.data(), who=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES),
          amount=st.sampled_from([None, None, *AMOUNTS]))
    def approve(self, data: st.DataObject, who: str, role: Role, amount: Decimal | None) -> None:
        self.send(self.claim(data), c.Approve(who, role, amount))

    @rule(data=st.data(), who=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES))
    def reject(self, data: st.DataObject, who: str, role: Role) -> None:
        self.send(self.claim(data), c.Reject(who, role, "not covered"))

    @rule(data=st.data(), who=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES),
          amount=st.sampled_from([*AMOUNTS, *ODD]))
    def advance(self, data: st.DataObject, who: str, role: Role, amount: Decimal) -> None:
        self.send(self.claim(data), c.ApproveAdvance(who, role, amount))

    @rule(data=st.data(), share=st.sampled_from([D("0.3"), D("0.7"), D("1")]))
    def advance_by_the_book(self, data: st.DataObject, share: Decimal) -> None:
        """A supervisor who took no part advances a share of what the claim may be paid as far as it is known: the
        advances that a lower assessment, a rejection or a closing as incomplete then leave owed back."""
        green = [m for m, s in enumerate(self.states) if s.path == Path.GREEN and not s.closed]
        self.advance_on(data.draw(st.sampled_from(green), label="claim") if green else self.claim(data), share)

    def advance_on(self, n: int, share: Decimal) -> None:
        s = self.states[n]
        if s.period is None:
            return
        bound = s.payout if s.payout is not None else after_terms(s.claimed, s.period.deductible, s.period.payout_ratio)
        amount = (bound * share).quantize(D("0.01"))
        for who in DECIDERS[Role.SUPERVISOR]:
            if amount > ZERO and self.send(n, c.ApproveAdvance(who, Role.SUPERVISOR, amount)) is not None:
                break

    @rule(claimed=st.sampled_from(AMOUNTS[2:]), share=st.sampled_from([D("0.5"), D("1")]),
          turn=st.sampled_from(["reject", "overdue", "assessed_lower", "approve"]),
          gateway=st.sampled_from(["settle", "settle", "refuse", "outage"]), looked_again=st.booleans(),
          owed=st.sampled_from(["left", "repaid in part", "written off"]),
          review=st.sampled_from(["approve", "reject"]))
    @precondition(lambda self: len(self.states) < CLAIMS + 2)
    def green_claim_with_an_advance(self, claimed: Decimal, share: Decimal, turn: str, gateway: str,
                                    looked_again: bool, owed: str, review: str) -> None:
        """A green-channel claim whose advance is paid (or refused, or still with the gateway) before its course
        turns: it is rejected, closes incomplete, is assessed below the advance, or is approved; then, maybe, it is
        appealed or reopened, and the appeal upheld or not. The other rules then strike at it like at any claim:
        repayments, write-offs, renewals. What it owes back may be repaid in part or written off before it is looked at
        again."""
        n = len(self.states)
        self.register(claimed, TODAY - timedelta(days=3))
        self.send(n, c.Triage(Path.GREEN, True, False, turn == "overdue"))
        self.advance_on(n, share)
        self.gateway_answers(n, gateway)
        if turn == "overdue":
            self.send(n, c.DocumentsOverdue())
        else:
            loss = claimed / 10 if turn == "assessed_lower" else claimed
            self.send(n, c.Assess(loss, self.held_by_others(n)))
            self.next_step(n, Path.GREEN, False, False, "reject" if turn == "reject" else "approve")
        for recovery in self.states[n].recoveries:
            if recovery.outstanding > ZERO and owed == "repaid in part":
                self.send(n, c.RecordRepayment(recovery.number, cents(recovery.outstanding / 2)))
            elif recovery.outstanding > ZERO and owed == "written off":
                self.send(n, c.WriteOff(recovery.number, "mgr-7", Role.MANAGER))
        if looked_again:
            self.send(n, c.Reopen("sup-7", Role.SUPERVISOR) if turn == "overdue" else c.Appeal("please look again"))
            for _ in range(3):
                self.next_step(n, Path.GREEN, False, False, review)

    @rule(claimed=st.sampled_from(AMOUNTS[2:]), share=st.sampled_from([D("0.5"), D("1")]))
    @precondition(lambda self: len(self.states) < CLAIMS + 2)
    def an_advance_owed_back_then_allowed(self, claimed: Decimal, share: Decimal) -> None:
        """A green-channel claim whose advance is paid, closes incomplete (the advance owed back), is reopened and
        approved: the later decision allows the money, and what was owed is set off."""
        self.green_claim_with_an_advance(claimed, share, "overdue", "settle", True, "left", "approve")

    @rule(claimed=st.sampled_from(AMOUNTS[2:]), review=st.sampled_from(["approve", "reject"]))
    @precondition(lambda self: len(self.states) < CLAIMS + 2)
    def a_partial_approval_appealed(self, claimed: Decimal, review: str) -> None:
        """A claim assessed at half what was claimed, approved in part and paid, then appealed: the reviewer upholds
        the decision (a rejection) or approves again."""
        n = len(self.states)
        self.register(claimed, TODAY - timedelta(days=3))
        self.send(n, c.Triage(Path.STANDARD, True, False, False))
        self.send(n, c.Assess(claimed / 2, self.held_by_others(n)))
        for _ in range(3):
            self.next_step(n, Path.STANDARD, False, False, "approve")
        self.send(n, c.Appeal("the garage's estimate was higher"))
        for _ in range(3):
            self.next_step(n, Path.STANDARD, False, False, review)

    @rule(claimed=st.sampled_from(AMOUNTS), loss=st.sampled_from([D("0.01"), D("150.00"), *AMOUNTS[2:5]]),
          review=st.sampled_from(["approve", "reject"]))
    @precondition(lambda self: len(self.states) < CLAIMS + 2)
    def a_denial_at_the_coverage_check_appealed(self, claimed: Decimal, loss: Decimal, review: str) -> None:
        """A claim the policy refuses (an excluded cause), so no payout was ever assessed, appealed: the review
        assesses one (often nothing, below the deductible) and its reviewer answers it."""
        n = len(self.states)
        self.register(claimed, TODAY - timedelta(days=3), refusal="cause 'racing' is excluded by the policy")
        self.send(n, c.Appeal("it was a car park, not a race"))
        self.send(n, c.Assess(min(loss, claimed), self.held_by_others(n)))
        for _ in range(3):
            self.next_step(n, Path.STANDARD, False, False, review)

    @rule(claimed=st.sampled_from(AMOUNTS), then=st.sampled_from(["withdraw", "new account", "wait"]))
    @precondition(lambda self: len(self.states) < CLAIMS + 2)
    def a_final_the_bank_refuses(self, claimed: Decimal, then: str) -> None:
        """A claim approved and paid to an account the bank refuses; the claimant then withdraws (allowed while nothing
        was paid), gives a new account, or leaves it to the other rules."""
        n = len(self.states)
        self.register(claimed, TODAY - timedelta(days=3))
        for _ in range(4):
            if self.states[n].transfer is not None:
                break
            self.next_step(n, Path.STANDARD, False, False, "approve")
        self.gateway_answers(n, "refuse")
        if then == "withdraw":
            self.send(n, c.Withdraw("changed my mind"))
        elif then == "new account":
            self.send(n, c.AccountUpdated())

    @rule(data=st.data(), who=st.sampled_from(PEOPLE))
    def escalate_or_assign(self, data: st.DataObject, who: str) -> None:
        n = self.claim(data)
        self.send(n, data.draw(st.sampled_from([c.Escalate(who), c.Assign(who)])))

    @rule(data=st.data(), wish=st.sampled_from([True, False, False, False]))
    def withdraw(self, data: st.DataObject, wish: bool) -> None:
        """The claimant withdraws (now and then: a withdrawal ends the sequence's story for that claim)."""
        if wish:
            self.send(self.claim(data), c.Withdraw("changed my mind"))

    @rule(data=st.data(), who=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES))
    def appeal_or_reopen(self, data: st.DataObject, who: str, role: Role) -> None:
        n = self.owing(data)
        self.send(n, data.draw(st.sampled_from([c.Appeal("please look again"), c.Reopen(who, role)])))

    @rule(data=st.data(), clock=st.sampled_from(["approval", "investigation", "payment", "determination"]))
    def clock_breaches(self, data: st.DataObject, clock: str) -> None:
        self.send(self.claim(data), c.ClockBreached(clock))

    @rule(data=st.data(), outcome=st.sampled_from(["settle", "settle", "refuse", "outage"]))
    def gateway(self, data: st.DataObject, outcome: str) -> None:
        """The gateway answers a transfer: pays it (at most what the period's sum insured has left), refuses the
        account, or is down (nothing happens: the transfer stays in flight)."""
        self.gateway_answers(self.claim(data), outcome)

    def gateway_answers(self, n: int, outcome: str) -> None:
        transfer = self.states[n].transfer
        if transfer is None or outcome == "outage":
            return
        if outcome == "refuse":
            self.send(n, c.PaymentRefused(transfer.sequence))
            return
        period = self.states[n].period
        left = transfer.amount
        if period is not None:
            paid_in = self.paid_in.get(period.starts, ZERO)
            total = next((t.sum_insured for t in self.periods if t.starts == period.starts), ZERO)
            left = max(min(transfer.amount, total - paid_in), ZERO)
        events = self.send(n, c.PaymentSettled(transfer.sequence, left))
        assert events is not None, f"claim {n}: the gateway's answer to {transfer} was refused"
        if period is not None:
            self.paid_in[period.starts] = self.paid_in.get(period.starts, ZERO) + left

    @rule(data=st.data())
    def new_account(self, data: st.DataObject) -> None:
        self.send(self.claim(data), c.AccountUpdated())

    @rule(data=st.data(), who=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES), part=st.booleans())
    def settle_recovery(self, data: st.DataObject, who: str, role: Role, part: bool) -> None:
        n = self.owing(data)
        for recovery in self.states[n].recoveries:
            if recovery.outstanding > 0:
                command: c.Command = c.RecordRepayment(recovery.number, recovery.outstanding / 2 if part else
                                                       recovery.outstanding) if role != Role.MANAGER else \
                    c.WriteOff(recovery.number, who, role)
                self.send(n, command)

    @rule(data=st.data(), who=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES),
          kind=st.sampled_from(["subrogation", "salvage", "overpayment"]), amount=st.sampled_from([*AMOUNTS, *ODD]))
    def open_recovery(self, data: st.DataObject, who: str, role: Role, kind: str, amount: Decimal) -> None:
        """Staff open a recovery: against a third party, or for the salvage; any kind, any figure."""
        self.send(self.claim(data), c.OpenRecovery(kind, amount, "the other driver's insurer", who, role))

    @rule(data=st.data(), who=st.sampled_from(PEOPLE), role=st.sampled_from(ROLES),
          amount=st.sampled_from([*AMOUNTS, D("0"), D("2500000.00"), *ODD]), again=st.booleans())
    def set_reserve(self, data: st.DataObject, who: str, role: Role, amount: Decimal, again: bool) -> None:
        """Staff set the reserve: any person, any role, any figure (a second manager may set the same one)."""
        n = self.claim(data)
        self.send(n, c.SetReserve(who, role, amount, "estimate revised"))
        if again:
            self.send(n, c.SetReserve("mgr-9" if who != "mgr-9" else "mgr-8", Role.MANAGER, amount, "agreed"))

    @rule(data=st.data())
    def continue_as_new(self, data: st.DataObject) -> None:
        """The run continues as new: the state is carried as JSON into the next run, which resumes."""
        n = self.claim(data)
        state = restored(json.loads(json.dumps(carried(self.states[n]))))
        assert state == self.states[n], "the carried state is the state"
        self.states[n] = state
        self.send(n, c.Resume())

    # ------------------------------------------------------------------ invariants

    @invariant()
    def money_stays_within_what_may_be_paid(self) -> None:
        for n, (s, oracle) in enumerate(zip(self.states, self.oracles, strict=True)):
            truth = oracle.true_terms
            ceiling = ZERO if truth is None else min(after_terms(oracle.claimed, truth.deductible, truth.ratio),
                                                     truth.sum_insured)
            assert s.paid <= ceiling, \
                f"claim {n}: paid {s.paid}, above what its incident's period allows ({ceiling}: {truth})"
            assert s.paid + s.in_flight <= max(ceiling, s.paid), f"claim {n}: {s.in_flight} moving beyond {ceiling}"
            assert s.paid >= ZERO and all(r.outstanding >= ZERO for r in s.recoveries)

    @invariant()
    def a_period_never_pays_beyond_its_sum_insured(self) -> None:
        for starts, paid in self.paid_in.items():
            total = next(t.sum_insured for t in self.periods if t.starts == starts)
            assert paid <= total, f"period from {starts} paid {paid} of a sum insured of {total}"

    @invariant()
    def money_out_without_a_decision_is_owed_back(self) -> None:
        for n, s in enumerate(self.states):
            if not s.closed:
                continue
            assert s.transfer is None and not s.advances_waiting, f"claim {n} closed with money moving"
            allowed = s.decision.amount if s.outcome == Outcome.PAID and s.decision else ZERO
            owed_back = s.owed_back
            written_off = sum((r.amount - r.repaid - r.set_off for r in owed_back
                               if r.status == RecoveryStatus.WRITTEN_OFF), ZERO)
            kept = s.paid - sum((r.repaid for r in owed_back), ZERO) - written_off
            owed = sum((r.outstanding for r in owed_back), ZERO)
            assert kept <= allowed + owed, \
                f"claim {n}: closed {s.outcome} keeping {kept}; the decision allows {allowed}, recoveries owe {owed}"
            assert owed <= max(kept - allowed, ZERO), \
                f"claim {n}: {owed} claimed back, though the decision allows {allowed} of the {kept} kept"

    @invariant()
    def a_claim_a_third_party_caused_recovers_what_it_paid(self) -> None:
        """Closed paid with a third party at fault: its recoveries of third parties and the salvage expect what it
        paid and keeps (subrogation opened by rule for what the others do not, topped up after an appeal pays more);
        none by rule with no third party at fault. Once closed, they expect no more than the claim cost (what was
        received stays received)."""
        for n, (s, oracle) in enumerate(zip(self.states, self.oracles, strict=True)):
            third = [r for r in s.recoveries if r.kind != "overpayment"]
            by_rule = sum((r.amount - r.set_off for r in third if r.reason == core_decisions.SUBROGATION_REASON),
                          ZERO)
            if not oracle.third_party:
                assert by_rule == ZERO, f"claim {n}: subrogation opened by rule with no third party at fault"
            if not s.closed:
                continue
            bears = min(s.paid, s.decision.amount) if s.outcome == Outcome.PAID and s.decision else ZERO
            expected = sum((r.brings for r in third), ZERO)
            received = sum((r.repaid for r in third), ZERO)
            assert expected <= max(bears, received), \
                f"claim {n}: closed {s.outcome}; its recoveries of third parties expect {expected}, the claim cost " \
                f"{bears}"

    @invariant()
    def the_reserve_is_what_the_claim_still_costs(self) -> None:
        """docs/finance.md#reserves: never negative; paid + reserve = the latest estimate; a closed claim holds
        none; an open one covers what is decided or on its way to the claimant."""
        for n, (s, oracle) in enumerate(zip(self.states, self.oracles, strict=True)):
            assert s.reserve >= ZERO, f"claim {n}: reserve {s.reserve} (paid {s.paid}, estimate {oracle.estimate})"
            assert s.paid + s.reserve == oracle.estimate, \
                f"claim {n}: paid {s.paid} + reserve {s.reserve} is not the latest estimate {oracle.estimate}"
            if s.closed:
                assert s.reserve == ZERO, f"claim {n}: closed {s.outcome} holding a reserve of {s.reserve}"
            elif s.stage != Stage.REGISTERED:
                assert s.reserve >= s.committed, \
                    f"claim {n}: reserve {s.reserve} below the {s.committed} decided or moving"

    @invariant()
    def every_reserve_a_person_set_is_within_their_authority(self) -> None:
        for n, oracle in enumerate(self.oracles):
            table = RESERVES[n % len(RESERVES)]
            for by, role, amount in oracle.reserve_authors:
                limit = {Role.ADJUSTER: table.adjuster, Role.SUPERVISOR: table.supervisor, Role.MANAGER: None}
                assert role in limit, f"claim {n}: a reserve of {amount} set as {role} by {by}"
                top = limit[role]  # type: ignore[index]
                assert top is None or amount <= top, f"claim {n}: {by} ({role}) set {amount}, above {top}"
                if amount > table.four_eyes_above:
                    assert len({who.casefold() for who in by}) == 2, f"claim {n}: {amount} set by {by} alone"

    @invariant()
    def every_open_wait_is_a_stage_with_a_way_out(self) -> None:
        for n, s in enumerate(self.states):
            if s.stage == Stage.PAYING and s.transfer is None and s.awaiting_account is None and not s.closed:
                assert s.advances_waiting or s.closing is not None or (
                    s.decision is not None and s.decision.kind == "denied"), \
                    f"claim {n} is paying with nothing moving and nothing to wait for: {s}"
