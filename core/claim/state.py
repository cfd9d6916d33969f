"""What the decider knows of one claim: immutable, so a state can be kept, compared and carried whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from core.rules.authority import RANK, person_key, raise_tier, required_role
from core.rules.payout import ZERO
from models.contract import Outcome, Path, Role, Stage


@dataclass(frozen=True)
class Period:
    """One period of the policy with the terms in force in it. Named by its first day."""

    starts: date
    ends: date
    sum_insured: Decimal
    deductible: Decimal
    payout_ratio: Decimal

    def covers(self, day: date) -> bool:
        return self.starts <= day <= self.ends


@dataclass(frozen=True)
class Limits:
    """The authority table the claim is decided under (docs/rules.md#authority-limits), fixed at registration."""

    adjuster: Decimal = Decimal("10000")
    supervisor: Decimal = Decimal("100000")
    system: Decimal = Decimal("5000")
    """The claim type's fast-path limit: what the system approves without a person."""
    dual_manager_threshold: Decimal = Decimal("500000")
    team: tuple[str, ...] = ()
    """The catastrophe team (`person_key`s) when a catastrophe raised `adjuster` and `supervisor` for its team alone."""
    outside_adjuster: Decimal | None = None
    outside_supervisor: Decimal | None = None
    """The limits of everyone outside `team` (set with it)."""

    @property
    def table(self) -> dict[str, Decimal | None]:
        return {"adjuster": self.adjuster, "supervisor": self.supervisor, "manager": None}

    @property
    def outside_table(self) -> dict[str, Decimal | None] | None:
        if self.outside_adjuster is None or self.outside_supervisor is None:
            return None
        return {"adjuster": self.outside_adjuster, "supervisor": self.outside_supervisor, "manager": None}


@dataclass(frozen=True)
class ReserveTable:
    """How a claim's case reserve is set (docs/finance.md#reserves), fixed at registration: the initial figure for its
    type and cause (None: the amount claimed), and who may set it how high."""

    initial: Decimal | None = None
    adjuster: Decimal = Decimal("50000")
    supervisor: Decimal = Decimal("500000")
    """A manager's reserve authority has no limit."""
    four_eyes_above: Decimal = Decimal("1000000")
    """A reserve set above this by a person takes two managers: one proposes, another sets the same figure."""

    def limit(self, role: Role) -> Decimal | None:
        """The most this role may set a reserve to (None: no limit); zero for a role that sets none."""
        return {Role.ADJUSTER: self.adjuster, Role.SUPERVISOR: self.supervisor, Role.MANAGER: None}.get(
            role, Decimal("0"))


@dataclass(frozen=True)
class ReserveProposal:
    """A reserve above the four-eyes threshold, proposed by one manager and waiting for a second."""

    who: str
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class Approval:
    who: str
    role: Role


@dataclass(frozen=True)
class Payment:
    sequence: int
    kind: Literal["final", "advance"]
    amount: Decimal


@dataclass(frozen=True)
class Transfer:
    """A payment asked of the gateway and not yet answered."""

    sequence: int
    kind: Literal["final", "advance"]
    amount: Decimal
    approved_by: str = "system"


class RecoveryStatus(StrEnum):
    OPEN = "open"
    RECOVERED = "recovered"
    WRITTEN_OFF = "written_off"
    SET_OFF = "set_off"
    """A later decision (on appeal, or after a reopening) allows the money: nothing is owed any more."""


@dataclass(frozen=True)
class Recovery:
    """Money to come back on the claim: owed back by the claimant (money out no decision allows), or recoverable from
    a third party or the salvage; open until received or written off by a manager."""

    number: int
    reason: str
    amount: Decimal
    repaid: Decimal = ZERO
    set_off: Decimal = ZERO
    status: RecoveryStatus = RecoveryStatus.OPEN
    kind: str = "overpayment"
    """`overpayment` (owed back by the claimant), `subrogation` (代位追偿, from the party at fault or its insurer) or
    `salvage` (残值, what the damaged property fetches)."""

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.repaid - self.set_off if self.status == RecoveryStatus.OPEN else ZERO

    @property
    def brings(self) -> Decimal:
        """What it brings back in all: received, and still expected (not what was written off or set off)."""
        return self.repaid + self.outstanding

    @property
    def settled(self) -> Decimal:
        """What came off the debt for good: repaid, and what a manager wrote off."""
        written_off = self.amount - self.repaid - self.set_off if self.status == RecoveryStatus.WRITTEN_OFF else ZERO
        return self.repaid + written_off


@dataclass(frozen=True)
class Decision:
    kind: Literal["approved", "partial", "denied"]
    amount: Decimal
    """What the claim is paid in all under this decision (advances included)."""
    by: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True)
class ClaimCore:
    claim_id: str = ""
    stage: Stage = Stage.REGISTERED
    outcome: Outcome | None = None
    path: Path | None = None
    claimed: Decimal = ZERO
    period: Period | None = None
    """The policy period of the incident, with its terms: captured once, at registration."""
    limits: Limits = field(default_factory=Limits)
    risk_low: bool = True
    investigate: bool = False
    fraud_suspected: bool = False
    investigator: str | None = None
    handlers: tuple[str, ...] = ()
    assessed: Decimal | None = None
    """The loss assessed (line items or the investigator's figure), before the terms."""
    held_by_others: Decimal = ZERO
    """What the period's other claims have paid or hold, as of the last assessment."""
    payout: Decimal | None = None
    """What the claim may be paid in all, as assessed: the loss under the terms, within the sum insured left."""
    escalations: int = 0
    escalated_to: Role | None = None
    review: bool = False
    """An appeal is being reviewed: a new round, decided by someone who took no part before."""
    agreed: Decimal | None = None
    approvals: tuple[Approval, ...] = ()
    """This round's approvals."""
    earlier_deciders: tuple[str, ...] = ()
    advance_approvers: tuple[str, ...] = ()
    decision: Decision | None = None
    decision_taken: bool = False
    """This round's decision is taken: nobody approves, rejects or escalates until an appeal or a reopening."""
    rejected: bool = False
    withdrawn: bool = False
    payments: tuple[Payment, ...] = ()
    advances_waiting: tuple[Transfer, ...] = ()
    """Advances approved and not yet asked of the gateway (one transfer goes at a time)."""
    transfer: Transfer | None = None
    awaiting_account: Transfer | None = None
    """A transfer the bank refused for the account: it goes again when the claimant gives new details."""
    next_sequence: int = 1
    final_sent: bool = False
    """This round's final payment has been asked of the gateway (once a round, whatever it pays)."""
    recoveries: tuple[Recovery, ...] = ()
    appeals: int = 0
    closing: Outcome | None = None
    """The claim closes with this outcome as soon as the gateway answers the transfer in flight."""
    third_party_at_fault: bool = False
    """A third party caused the loss: what the claim pays is recoverable from them (subrogation) once it closes paid."""
    reserves: ReserveTable = field(default_factory=ReserveTable)
    reserve: Decimal = ZERO
    """The case reserve (未决赔款准备金): what the claim is still expected to cost. Released by payments."""
    estimate: Decimal = ZERO
    """The latest estimate of what the claim costs in all: what was paid when it was made, plus the reserve set."""
    reserve_basis: str = ""
    """What the estimate rests on (`core.claim.reserves.basis`): when it changes, the reserve follows."""
    reserve_proposal: ReserveProposal | None = None

    # ------------------------------------------------------------------ derived facts

    @property
    def paid(self) -> Decimal:
        return sum((p.amount for p in self.payments), ZERO)

    @property
    def in_flight(self) -> Decimal:
        """Asked of the gateway or waiting to be: counted against every bound as if paid."""
        moving = [*self.advances_waiting, *([self.transfer] if self.transfer else []),
                  *([self.awaiting_account] if self.awaiting_account else [])]
        return sum((t.amount for t in moving), ZERO)

    @property
    def committed(self) -> Decimal:
        """Money the claim must still pay out on what is decided: what is moving, and what a decision to pay leaves
        unpaid. The reserve never falls below it."""
        owed = ZERO
        if self.decision_taken and self.decision is not None and self.decision.kind != "denied" and not self.closed:
            owed = max(self.decision.amount - self.paid - self.in_flight, ZERO)
        return self.in_flight + owed

    @property
    def outstanding_recoveries(self) -> Decimal:
        return sum((r.outstanding for r in self.recoveries), ZERO)

    @property
    def owed_back(self) -> tuple[Recovery, ...]:
        """The recoveries of money out no decision allows (the claimant owes them): what each closing reckons with."""
        return tuple(r for r in self.recoveries if r.kind == "overpayment")

    @property
    def decision_amount(self) -> Decimal:
        if self.agreed is not None:
            return self.agreed
        return self.payout if self.payout is not None else ZERO

    @property
    def required_role(self) -> Role:
        floor = Role.SUPERVISOR if self.review or self.fraud_suspected else Role.ADJUSTER
        if self.escalated_to is not None:
            floor = max(floor, self.escalated_to, key=RANK.__getitem__)
        return required_role(self.decision_amount, self.limits.table, 0, floor)

    @property
    def approvals_needed(self) -> int:
        big = self.decision_amount > self.limits.dual_manager_threshold
        return 2 if self.required_role == Role.MANAGER and big else 1

    @property
    def approved(self) -> bool:
        if any(a.role == Role.SYSTEM for a in self.approvals):
            return True
        qualified = {person_key(a.who) for a in self.approvals if RANK[a.role] >= RANK[self.required_role]}
        return len(qualified) >= self.approvals_needed

    @property
    def conflicted(self) -> dict[str, str]:
        """Who may not decide now, and why."""
        people = {person_key(p): "person who decided it before" for p in self.earlier_deciders}
        people |= {person_key(p): "approver of an advance" for p in self.advance_approvers}
        if self.investigator:
            people[person_key(self.investigator)] = "investigator"
        current = person_key(self.handlers[-1]) if self.handlers else None
        people |= {person_key(p): "handler" if person_key(p) == current else "former handler" for p in self.handlers}
        return people

    @property
    def final_bounced(self) -> bool:
        """The final payment came back from the bank and waits for the claimant's new account."""
        return self.awaiting_account is not None and self.awaiting_account.kind == "final"

    @property
    def money_moving(self) -> bool:
        """Payment has begun: something was paid, is on its way, or a decision to pay was taken; unless all there is
        of it is a final payment the bank refused, which waits for the claimant (who may then still withdraw)."""
        if self.final_bounced and not self.payments and not self.advances_waiting and self.transfer is None:
            return False
        paying = self.decision_taken and self.decision is not None and self.decision.kind != "denied"
        return bool(self.payments) or self.in_flight > ZERO or paying

    @property
    def closed(self) -> bool:
        return self.stage == Stage.CLOSED

    def next_tier(self) -> Role:
        return raise_tier(self.escalated_to or self.required_role)


INITIAL = ClaimCore()
