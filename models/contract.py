"""The public contract and the workflow/activity contract, in one module both sides import.

Plain pydantic messages only: every payload is JSON (amounts as decimal strings, times ISO-8601 with
offset), so a back-office system in any language, or the `temporal` CLI, can use them. Fields may be
added later; none may be renamed (running claims and other systems depend on them).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

WORKFLOW_TYPE = "ClaimWorkflow"


def workflow_id_for(claim_id: str) -> str:
    return f"claim-{claim_id}"


class Message(BaseModel):
    """Base of every message: unknown fields are ignored so senders may add fields freely."""

    model_config = ConfigDict(extra="ignore", frozen=False)


Money = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=2)]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]


class ClaimType(StrEnum):
    AUTO = "auto"
    HEALTH = "health"
    PROPERTY = "property"


class Stage(StrEnum):
    REGISTERED = "registered"
    COVERAGE_CHECK = "coverage_check"
    AWAITING_DOCUMENTS = "awaiting_documents"
    INVESTIGATING = "investigating"
    ADJUSTING = "adjusting"
    AWAITING_APPROVAL = "awaiting_approval"
    PAYING = "paying"
    CLOSED = "closed"


class Outcome(StrEnum):
    PAID = "paid"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    CLOSED_INCOMPLETE = "closed_incomplete"


class Path(StrEnum):
    FAST = "fast"
    STANDARD = "standard"
    GREEN = "green"


class Role(StrEnum):
    SYSTEM = "system"
    ADJUSTER = "adjuster"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"


# --------------------------------------------------------------------------- start input


class Claimant(Message):
    name: NonEmpty
    phone: str | None = None
    email: str | None = None
    channel: Literal["sms", "email", "app"] = "sms"


class Incident(Message):
    occurred_at: AwareDatetime
    description: NonEmpty
    cause: NonEmpty
    injuries: bool = False
    major: bool = False


class LineItem(Message):
    description: NonEmpty
    amount: Money
    category: str = "other"


class DocumentRef(Message):
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,40}$")]
    ref: NonEmpty


class BankAccount(Message):
    holder: NonEmpty
    number: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{4,34}$")]

    @property
    def masked(self) -> str:
        return f"****{self.number[-4:]}"


class ClaimInput(Message):
    """First notice of loss: the workflow's start input (SPEC section 8)."""

    claim_id: Identifier
    policy_number: Identifier
    claim_type: ClaimType
    claimant: Claimant
    incident: Incident
    claimed_amount: Annotated[Decimal, Field(gt=0, max_digits=15, decimal_places=2)]
    line_items: list[LineItem] = Field(default_factory=list)
    documents: list[DocumentRef] = Field(default_factory=list)
    bank_account: BankAccount | None = None


# --------------------------------------------------------------------------- updates


class SubmitDocuments(Message):
    documents: Annotated[list[DocumentRef], Field(min_length=1)]


class RecordInvestigation(Message):
    investigator_id: Identifier
    findings: NonEmpty
    confirmed_amount: Money | None = None
    fraud_suspected: bool = False


class Approve(Message):
    approver_id: Identifier
    role: Role
    comment: str = ""
    amount: Money | None = None
    """Only when reviewing an appeal: the amount the reviewer agrees, if not the computed payout."""


class Reject(Message):
    approver_id: Identifier
    role: Role
    reason: NonEmpty
    clause: NonEmpty


class Escalate(Message):
    by: Identifier
    reason: NonEmpty


class Assign(Message):
    handler_id: Identifier
    by: Identifier


class Withdraw(Message):
    by: NonEmpty
    reason: NonEmpty


class Appeal(Message):
    reason: NonEmpty


class UpdateBankAccount(Message):
    holder: NonEmpty
    number: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{4,34}$")]


class Reopen(Message):
    by: Identifier
    reason: NonEmpty
    role: Role
    """Required: a supervisor or manager reopens a claim, and says so."""


class ApproveAdvance(Message):
    """Green channel: a supervisor or manager approves an advance before the final determination."""

    approver_id: Identifier
    role: Role
    amount: Annotated[Decimal, Field(gt=0, max_digits=15, decimal_places=2)]
    comment: str = ""


class UpdateAck(Message):
    """What every update but `submit_documents` returns: where the claim stands now."""

    claim_id: str
    stage: Stage
    outcome: Outcome | None
    detail: str


# --------------------------------------------------------------------------- status and result


class RiskReason(Message):
    rule: str
    points: int
    detail: str


class RiskAssessment(Message):
    score: int
    level: Literal["low", "medium", "high"]
    reasons: list[RiskReason]


class BasisStep(Message):
    step: str
    amount: Decimal
    clause: str


class Payout(Message):
    amount: Decimal
    """What this decision pays now (after advances already paid)."""
    total: Decimal
    """The whole payout the claim is entitled to, advances included."""
    basis: list[BasisStep]
    zero_reason: str | None = None
    in_full: bool = True
    """False when less than the claim was accepted (assessed below the amount claimed, or capped by the
    sum insured): the decision is then "approved in part". Deductible and ratio are the policy's terms."""
    sum_insured_available: Decimal | None = None
    """The policy's sum insured still available for this claim when the payout was computed (other claims'
    payments and reservations in the same policy period deducted)."""


class ApprovalRecord(Message):
    approver_id: str
    role: Role
    at: datetime
    comment: str = ""


class PaymentRecord(Message):
    sequence: int
    kind: Literal["final", "advance"]
    amount: Decimal
    idempotency_key: str
    reference: str
    account: str
    paid_at: datetime


class TimelineEntry(Message):
    at: datetime
    event: str
    by: str = "system"
    detail: str = ""


class SlaBreach(Message):
    clock: str
    due_at: datetime
    breached_at: datetime
    escalated_to: Role | None = None


class SlaWarning(Message):
    clock: str
    due_at: datetime
    warned_at: datetime
    owner: Role


class Decision(Message):
    kind: Literal["approved", "partial", "denied"]
    amount: Decimal
    basis: list[BasisStep] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    clauses: list[str] = Field(default_factory=list)
    decided_by: str = "system"
    decided_at: datetime | None = None


class ClaimStatus(Message):
    claim_id: str
    stage: Stage
    outcome: Outcome | None
    claim_type: ClaimType | None
    risk: RiskAssessment | None
    path: Path | None
    missing_documents: list[str]
    documents_requested_at: datetime | None
    deadlines: dict[str, datetime]
    sla_breaches: list[SlaBreach]
    payout: Payout | None
    approvals: list[ApprovalRecord]
    payments: list[PaymentRecord]
    handler: str | None
    timeline: list[TimelineEntry]
    required_role: Role | None = None
    decision: Decision | None = None
    investigation: RecordInvestigation | None = None
    registered_at: datetime | None = None
    closed_at: datetime | None = None
    sla_warnings: list[SlaWarning] = Field(default_factory=list)
    escalated_to: Role | None = None


class ClaimResult(Message):
    claim_id: str
    outcome: Outcome
    paid_amount: Decimal
    decision: Decision | None
    fast_path: bool
    sla_breaches: list[SlaBreach]
    closed_at: datetime | None


class PolicyTerms(Message):
    """A policy as `policies load` takes it and as coverage reads it."""

    policy_number: Identifier
    product: ClaimType
    holder_name: str = ""
    status: Literal["active", "lapsed", "cancelled", "suspended"]
    effective_from: date
    effective_to: date
    sum_insured: Money
    deductible: Money
    payout_ratio: Annotated[Decimal, Field(gt=0, le=1)]
    exclusions: list[str] = Field(default_factory=list)
    waiting_period_days: Annotated[int, Field(ge=0)] = 0
    status_since: date | None = None
    """The day `status` took effect. A lapsed or cancelled policy still covers incidents before it; without
    it, the status is taken to hold for the whole period."""


class ErrorType(StrEnum):
    """`ApplicationError.type` of every business rejection: stable names callers can match on."""

    INVALID_CLAIM = "InvalidClaim"
    UNKNOWN_POLICY = "UnknownPolicy"
    DUPLICATE_CLAIM = "DuplicateClaim"
    INVALID_UPDATE = "InvalidUpdate"
    NOT_ALLOWED = "NotAllowedInStage"
    NOT_AUTHORIZED = "NotAuthorized"
    INVALID_BANK_ACCOUNT = "InvalidBankAccount"
    TEMPLATE_ERROR = "TemplateError"
