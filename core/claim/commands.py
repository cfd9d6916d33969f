"""What can be asked of a claim: by the claimant's channel, by staff, by the claim's own clocks, and by the world
answering the effects the decider asked for (a payout assessed, a payment made or refused)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.claim.state import Limits, Period, ReserveTable
from models.contract import Path, Role


@dataclass(frozen=True)
class Register:
    claim_id: str
    claimed: Decimal
    incident_day: date
    periods: tuple[Period, ...]
    """Every period the policy has had: the decider takes the one the incident falls in."""
    limits: Limits
    refusal: str | None = None
    """Why coverage fails on other grounds (status, product, exclusion, waiting period), as the policy says."""
    reserves: ReserveTable = ReserveTable()
    third_party_at_fault: bool = False


@dataclass(frozen=True)
class Triage:
    path: Path
    risk_low: bool
    investigate: bool
    documents_missing: bool


@dataclass(frozen=True)
class DocumentsComplete:
    pass


@dataclass(frozen=True)
class DocumentsOverdue:
    pass


@dataclass(frozen=True)
class RecordInvestigation:
    who: str
    confirmed: Decimal | None
    fraud_suspected: bool


@dataclass(frozen=True)
class Assess:
    """The loss as assessed (line items, or the investigator's figure), and what the period's other claims hold."""

    loss: Decimal
    held_by_others: Decimal


@dataclass(frozen=True)
class Approve:
    who: str
    role: Role
    amount: Decimal | None = None
    """On an appeal's review only: the amount agreed in all."""


@dataclass(frozen=True)
class Reject:
    who: str
    role: Role
    reason: str = ""


@dataclass(frozen=True)
class Escalate:
    who: str


@dataclass(frozen=True)
class Assign:
    handler: str


@dataclass(frozen=True)
class ApproveAdvance:
    who: str
    role: Role
    amount: Decimal


@dataclass(frozen=True)
class Withdraw:
    reason: str = ""


@dataclass(frozen=True)
class Appeal:
    reason: str = ""


@dataclass(frozen=True)
class Reopen:
    who: str
    role: Role


@dataclass(frozen=True)
class ClockBreached:
    clock: str


@dataclass(frozen=True)
class PaymentSettled:
    """The gateway made the transfer: `amount` is what went out (less than asked when the period's sum insured ran
    short at the moment of paying)."""

    sequence: int
    amount: Decimal


@dataclass(frozen=True)
class PaymentRefused:
    """The bank refused the account: the claimant is asked for new details."""

    sequence: int


@dataclass(frozen=True)
class AccountUpdated:
    pass


@dataclass(frozen=True)
class RecordRepayment:
    number: int
    amount: Decimal


@dataclass(frozen=True)
class WriteOff:
    number: int
    who: str
    role: Role


@dataclass(frozen=True)
class OpenRecovery:
    """Staff open a recovery: subrogation against a third party, or the salvage of an item, for what it should bring."""

    kind: str
    amount: Decimal
    reason: str
    who: str
    role: Role


@dataclass(frozen=True)
class SetReserve:
    """Staff set the case reserve (what the claim is still expected to cost), with a reason."""

    who: str
    role: Role
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class Resume:
    """The claim's run continued as new: the next run carries the state and resumes where it waited."""


Command = (Register | Triage | DocumentsComplete | DocumentsOverdue | RecordInvestigation | Assess | Approve | Reject
           | Escalate | Assign | ApproveAdvance | Withdraw | Appeal | Reopen | ClockBreached | PaymentSettled
           | PaymentRefused | AccountUpdated | RecordRepayment | WriteOff | Resume | SetReserve
           | OpenRecovery)
