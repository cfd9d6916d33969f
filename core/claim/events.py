"""What happened to a claim, as the decider says it happened. Events that ask the world for something (a payment,
a letter) are the shell's effects."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from core.claim.state import Decision, Limits, Period, ReserveTable, Transfer
from models.contract import Outcome, Path, Role, Stage


@dataclass(frozen=True)
class Registered:
    claim_id: str
    claimed: Decimal
    period: Period | None
    limits: Limits
    reserves: ReserveTable = ReserveTable()
    third_party_at_fault: bool = False


@dataclass(frozen=True)
class ReserveSet:
    """The case reserve is set: by the rules as the claim moves (`by` the system), or by staff within their reserve
    authority (`by` one person, or two above the four-eyes threshold)."""

    reserve: Decimal
    estimate: Decimal
    basis: str
    cause: str
    by: tuple[str, ...] = ("system",)
    role: Role | None = None


@dataclass(frozen=True)
class ReserveProposed:
    """A reserve above the four-eyes threshold, proposed by one manager: another must set the same figure."""

    who: str
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class Triaged:
    path: Path
    risk_low: bool
    investigate: bool


@dataclass(frozen=True)
class StageEntered:
    stage: Stage


@dataclass(frozen=True)
class InvestigationRecorded:
    who: str
    fraud_suspected: bool


@dataclass(frozen=True)
class PayoutAssessed:
    loss: Decimal
    held_by_others: Decimal
    payout: Decimal


@dataclass(frozen=True)
class Approved:
    who: str
    role: Role
    agreed: Decimal | None = None


@dataclass(frozen=True)
class Escalated:
    who: str
    tier: Role


@dataclass(frozen=True)
class Assigned:
    handler: str


@dataclass(frozen=True)
class Decided:
    decision: Decision


@dataclass(frozen=True)
class AdvanceApproved:
    transfer: Transfer


@dataclass(frozen=True)
class PaymentRequested:
    """An effect: the shell asks the gateway for this transfer, under a key made of the claim and its sequence."""

    transfer: Transfer


@dataclass(frozen=True)
class PaymentMade:
    sequence: int
    kind: Literal["final", "advance"]
    amount: Decimal


@dataclass(frozen=True)
class PaymentBounced:
    sequence: int


@dataclass(frozen=True)
class AccountReplaced:
    pass


@dataclass(frozen=True)
class Withdrawn:
    reason: str


@dataclass(frozen=True)
class AppealOpened:
    reason: str


@dataclass(frozen=True)
class Reopened:
    who: str


@dataclass(frozen=True)
class RecoveryOpened:
    number: int
    reason: str
    amount: Decimal
    kind: str = "overpayment"


@dataclass(frozen=True)
class RecoveryRepaid:
    number: int
    amount: Decimal


@dataclass(frozen=True)
class RecoverySetOff:
    number: int
    amount: Decimal


@dataclass(frozen=True)
class RecoveryWrittenOff:
    number: int
    who: str


@dataclass(frozen=True)
class ClosingWhenSettled:
    """The claim is to close, but a transfer is in flight: it closes when the gateway answers."""

    outcome: Outcome


@dataclass(frozen=True)
class Closed:
    outcome: Outcome


Event = (Registered | Triaged | StageEntered | InvestigationRecorded | PayoutAssessed | Approved | Escalated | Assigned
         | Decided | AdvanceApproved | PaymentRequested | PaymentMade | PaymentBounced | AccountReplaced | Withdrawn
         | AppealOpened | Reopened | RecoveryOpened | RecoveryRepaid | RecoverySetOff | RecoveryWrittenOff
         | ClosingWhenSettled | Closed | ReserveSet | ReserveProposed)
