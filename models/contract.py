"""The public contract and the workflow/activity contract, in one module both sides import.

Plain pydantic messages only: every payload is JSON (amounts as decimal strings, times ISO-8601 with
offset), so a back-office system in any language, or the `temporal` CLI, can use them. Fields may be
added later; none may be renamed (running claims and other systems depend on them).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from models.fields import (
    MAX_LIST,
    AccountNumber,
    Actor,
    Category,
    Cause,
    Clause,
    Comment,
    Credential,
    DocumentKind,
    DocumentRefText,
    Email,
    FreeText,
    Identifier,
    ItemDescription,
    Money,
    Name,
    OneTimeCode,
    Phone,
    PositiveMoney,
    Region,
    Timestamp,
)
from models.names import STATUS_QUERY as STATUS_QUERY
from models.names import workflow_id_for as workflow_id_for

WORKFLOW_TYPE = "ClaimWorkflow"
CLAIM_TASK_TIMEOUT = timedelta(seconds=60)
"""A claim's workflow task timeout. The intake and fast path run as local activities inside one workflow task, which
the worker extends when they take 80 % of it: a task of 60 seconds is extended only when a busy worker takes 48
seconds over them. Extending it is rare and stays so, because a local activity's result can reach a replay in an
earlier workflow task than it reached the run when the task was extended (a known engine limit), so that the replay
reads an earlier time after it; a claim started since `every-moment-a-timer` issues the same commands whatever time it
reads (workflows/shell.py `Shell.wait_until`). The cost: a worker that dies in the middle of a task leaves the claim
waiting up to a minute for another worker."""
CONTACT_QUERY = "claimant_contact"
"""The claim's query for the claimant's contact on file, by its name: what an ended claim's code is sent to
(activities/ended_claims.py names it so, below the workflows)."""
APPEAL_UPDATE = "appeal"
"""The claim's appeal update, by its name: what a complaint's handover sends (activities name it so, below the
workflows), and what the workflow registers its handler under."""


class Message(BaseModel):
    """Base of every message: unknown fields are ignored so senders may add fields freely."""

    model_config = ConfigDict(extra="ignore", frozen=False)


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
    name: Name
    phone: Phone | None = None
    email: Email | None = None
    channel: Literal["sms", "email", "app"] = "sms"
    language: Literal["zh-CN", "en"] = "zh-CN"
    """The language of the claimant's letters, SMS and pages: Chinese unless they ask for English."""

    @model_validator(mode="after")
    def _reachable(self) -> Claimant:
        if self.channel == "sms" and not self.phone:
            raise ValueError("phone is required when channel is 'sms'")
        if self.channel == "email" and not self.email:
            raise ValueError("email is required when channel is 'email'")
        return self


class Incident(Message):
    occurred_at: Timestamp
    description: FreeText
    cause: Cause
    injuries: bool = False
    major: bool = False
    region: Region | None = None
    """Where it happened, as an administrative division code (GB/T 2260): the region a declared catastrophe covers."""


class LineItem(Message):
    description: ItemDescription
    amount: Money
    category: Category = "other"


class DocumentRef(Message):
    kind: DocumentKind
    ref: DocumentRefText


class BankAccount(Message):
    holder: Name
    number: AccountNumber

    @property
    def masked(self) -> str:
        return f"****{self.number[-4:]}"


class ThirdParty(Message):
    """Another party to the incident (an auto collision's other driver): when they were at fault, what the claim pays
    is recovered from them or their insurer (代位追偿, docs/finance.md#recoveries)."""

    at_fault: bool
    name: Name | None = None
    plate: Name | None = None
    insurer: Name | None = None
    policy_number: Identifier | None = None
    insurer_email: Email | None = None
    """Where the demand for repayment goes (the other insurer's claims mailbox)."""


class ClaimInput(Message):
    """First notice of loss: the workflow's start input (docs/contract.md)."""

    claim_id: Identifier
    policy_number: Identifier
    claim_type: ClaimType
    claimant: Claimant
    incident: Incident
    claimed_amount: PositiveMoney
    line_items: Annotated[list[LineItem], Field(max_length=MAX_LIST)] = Field(default_factory=list)
    documents: Annotated[list[DocumentRef], Field(max_length=MAX_LIST)] = Field(default_factory=list)
    bank_account: BankAccount | None = None
    third_party: ThirdParty | None = None


# --------------------------------------------------------------------------- updates


class SubmitDocuments(Message):
    documents: Annotated[list[DocumentRef], Field(min_length=1, max_length=MAX_LIST)]
    credential: Credential | None = None


class RecordInvestigation(Message):
    investigator_id: Identifier
    findings: FreeText
    confirmed_amount: Money | None = None
    fraud_suspected: bool = False
    credential: Credential | None = None


class Approve(Message):
    approver_id: Identifier
    role: Role
    comment: Comment = ""
    amount: Money | None = None
    """Only when reviewing an appeal: the amount the reviewer agrees, if not the computed payout."""
    credential: Credential | None = None


class Reject(Message):
    approver_id: Identifier
    role: Role
    reason: FreeText
    clause: Clause
    credential: Credential | None = None


class Escalate(Message):
    by: Identifier
    reason: FreeText
    credential: Credential | None = None


class Assign(Message):
    handler_id: Identifier
    by: Identifier
    credential: Credential | None = None


class Withdraw(Message):
    by: Actor
    """Who asked: a staff id, or the channel the claimant used ("portal", "call-centre")."""
    reason: FreeText
    credential: Credential | None = None


class Appeal(Message):
    reason: FreeText
    credential: Credential | None = None


class CodePurpose(StrEnum):
    BANK_ACCOUNT = "bank_account"
    """Changing the account the claim is paid to: a code is used once."""
    PROGRESS = "progress"
    """Seeing the claim's progress (the HTTP API's claimant view): a code may be used again until it expires."""


class RequestCode(Message):
    """Send a one-time code to the claimant's phone or e-mail on file (sent by a channel)."""

    purpose: CodePurpose
    account_last4: str | None = Field(default=None, pattern=r"^[0-9]{4}$")
    """For a bank-account code: the last four digits of the account it is to change to. The message names them,
    so a claimant tricked into passing a code on reads whose account it would pay, and the code then changes the
    account only to one ending so."""
    credential: Credential | None = None


class UpdateBankAccount(Message):
    holder: Name
    number: AccountNumber
    code: OneTimeCode | None = None
    """The code `request_code {purpose: bank_account}` sent to the claimant: required."""
    credential: Credential | None = None


class ReleaseBankAccount(Message):
    """A supervisor lets the claimant change the bank account again after wrong codes locked it."""

    by: Identifier
    role: Role
    reason: FreeText
    credential: Credential | None = None


class SurveyResponse(Message):
    """The claimant's answer to the survey sent after closing: a score from 1 (poor) to 5 (very good)."""

    score: int = Field(ge=1, le=5)
    comment: FreeText | None = None
    credential: Credential | None = None


class RecordCallback(Message):
    """A supervisor who took no part in the claim called the claimant back after a low score."""

    by: Identifier
    reached: bool
    """Whether the claimant was reached."""
    outcome: FreeText
    credential: Credential | None = None


class Reopen(Message):
    by: Identifier
    reason: FreeText
    role: Role
    """Required: a supervisor or manager reopens a claim, and says so."""
    credential: Credential | None = None


class ApproveAdvance(Message):
    """Green channel: a supervisor or manager approves an advance before the final determination."""

    approver_id: Identifier
    role: Role
    amount: PositiveMoney
    comment: Comment = ""
    credential: Credential | None = None


class RecoveryKind(StrEnum):
    OVERPAYMENT = "overpayment"
    """Money out that no decision allows: an advance above the final amount, money out on a claim that closed
    denied, withdrawn or incomplete."""
    SUBROGATION = "subrogation"
    """代位追偿: what the claim paid, from the third party at fault or their insurer."""
    SALVAGE = "salvage"
    """残值: what the damaged property (a total-loss vehicle) fetches."""


class OpenRecovery(Message):
    """Staff open a recovery: subrogation against a third party, or the salvage of an item, with its expected amount
    (the recovery reserve). Overpayments open by themselves."""

    kind: Literal[RecoveryKind.SUBROGATION, RecoveryKind.SALVAGE]
    amount: PositiveMoney
    reason: FreeText
    party: Name | None = None
    """Subrogation: who is pursued (the party at fault, or their insurer and policy)."""
    item: Name | None = None
    """Salvage: what is sold."""
    by: Identifier
    role: Role
    credential: Credential | None = None


class RecordRecovery(Message):
    """Finance (or a supervisor or manager) records money the claimant paid back on a recovery."""

    kind: RecoveryKind = RecoveryKind.OVERPAYMENT
    number: int | None = Field(default=None, ge=1)
    """Which of the claim's recoveries; when none is given, the oldest open one of the kind."""
    amount: PositiveMoney
    reference: Identifier
    """The bank's reference of the repayment received."""
    by: Identifier
    credential: Credential | None = None


class WriteOffRecovery(Message):
    """A manager who took no part in the claim writes off what is still owed on a recovery, with a reason."""

    kind: RecoveryKind = RecoveryKind.OVERPAYMENT
    number: int | None = Field(default=None, ge=1)
    reason: FreeText
    by: Identifier
    credential: Credential | None = None


class SetReserve(Message):
    """Staff set the claim's case reserve (what it is still expected to cost) within their reserve authority, with a
    reason; above the four-eyes threshold a second manager sets the same figure (docs/finance.md#reserves)."""

    amount: Money
    reason: FreeText
    by: Identifier
    role: Role
    credential: Credential | None = None


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


class Sender(Message):
    """Who sent an update, as their verified token says: never the token itself."""

    issuer: str
    subject: str
    roles: list[str] = Field(default_factory=list)
    token_id: str | None = None
    """The token's `jti`: which token it was, for an auditor to match with the identity provider's log."""


class ApprovalRecord(Message):
    approver_id: str
    role: Role
    at: datetime
    comment: str = ""
    sender: Sender | None = None


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
    sender: Sender | None = None
    """The verified sender of the update that led to this entry (none for the system's own steps)."""


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


class RecoveryStatus(StrEnum):
    OPEN = "open"
    RECOVERED = "recovered"
    WRITTEN_OFF = "written_off"
    SET_OFF = "set_off"
    """A later decision (on appeal, or after a reopening) allows the money: nothing is owed any more."""


class RecoveryReceipt(Message):
    amount: Decimal
    reference: str
    by: str
    at: datetime


class Recovery(Message):
    """Money the claimant owes back on the claim (docs/rules.md#money-invariants): opened when the claim closes with
    more out than its decision allows, closed by repayments, a manager's write-off, or a later decision that allows
    it."""

    number: int
    kind: RecoveryKind = RecoveryKind.OVERPAYMENT
    reason: str
    amount: Decimal
    received: Decimal = Decimal("0.00")
    set_off: Decimal = Decimal("0.00")
    written_off: Decimal = Decimal("0.00")
    status: RecoveryStatus = RecoveryStatus.OPEN
    opened_at: datetime
    closed_at: datetime | None = None
    receipts: list[RecoveryReceipt] = Field(default_factory=list)
    written_off_by: str | None = None
    write_off_reason: str | None = None
    party: str | None = None
    """Subrogation: who is pursued. Salvage: what is sold (`item`)."""
    opened_by: str | None = None
    """Who opened it (`system` when the claim did, by rule)."""
    item: str | None = None

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.received - self.set_off - self.written_off

    @property
    def brings(self) -> Decimal:
        """What it brings back in all: received, and still expected (not what was written off or set off)."""
        return self.received + (self.outstanding if self.status == RecoveryStatus.OPEN else Decimal("0.00"))


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
    survey_score: int | None = None
    """The claimant's survey score, once given."""
    survey_until: datetime | None = None
    appeal_until: datetime | None = None
    """The decision may be appealed until then (a denial or a partial payment, not appealed yet)."""
    document_readings: list[dict[str, Any]] = Field(default_factory=list)
    """What machine reading found in each uploaded document: ref, kind, readable, fields {name: {value,
    confidence, corrected_by}} (models/documents.py)."""
    document_review: list[str] = Field(default_factory=list)
    """What a person should read for themselves: unreadable documents, fields read with low confidence."""
    recoveries: list[Recovery] = Field(default_factory=list)
    """Money owed back on the claim, open and closed."""
    recovery_outstanding: Decimal = Decimal("0.00")
    reserve: Decimal | None = None
    """The case reserve: what the claim is still expected to cost (None: a claim started before reserves)."""
    estimate: Decimal | None = None
    """The latest estimate of the claim's cost in all: paid + reserve."""
    catastrophe: str | None = None
    """The code of the declared catastrophe the claim joined (docs/catastrophes.md)."""
    reserve_proposed: Decimal | None = None
    """A reserve above the four-eyes threshold one manager proposed, waiting for a second."""
    """What is still owed back on the claim's open recoveries."""
    """Until when the survey may be answered: set once it was sent and while no answer has come."""


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
    NOT_AUTHENTICATED = "NotAuthenticated"
    """An update whose credential is missing, expired, wrongly signed, or from or for someone else."""
    NOT_AUTHORIZED = "NotAuthorized"
    CODE_REFUSED = "ClaimantCodeRefused"
    """A bank-account change without the claimant's one-time code, or with a wrong, expired or used one."""
    INVALID_BANK_ACCOUNT = "InvalidBankAccount"
    TEMPLATE_ERROR = "TemplateError"
    INVALID_DATA = "InvalidData"
    """A value the database cannot store or a payload that is not readable JSON: never retried."""
