"""Messages between the claim workflow and its activities, and the rule tables a claim is decided by.

Internal: other systems never see these (the public contract is models/contract.py). Plain pydantic
messages, so a running claim's history stays readable JSON.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from models.catastrophes import CatastropheRef
from models.contract import (
    BankAccount,
    ClaimInput,
    ClaimType,
    CodePurpose,
    DocumentRef,
    LineItem,
    Message,
    Payout,
    PolicyTerms,
    RiskAssessment,
)
from models.documents import DocumentRules


class AssignHandler(Message):
    claim_id: str
    claim_type: ClaimType


ROOT_CAUSES = ("process", "communication", "staff_conduct", "delay", "decision_error", "system_error",
               "policy_terms", "third_party", "unfounded")


class SlaTable(Message):
    """Durations in days; `day_seconds` makes the demo profile run a day in a second."""

    day_seconds: int = 86_400
    business_days_as_days: bool = False
    holidays: list[date] = Field(default_factory=list)
    documents_days: int = 30
    reminder_days_before: list[int] = Field(default_factory=lambda: [7, 3])
    investigation_days: int = 10
    determination_days: int = 30
    approval_business_days: int = 2
    payment_days: int = 10
    bank_details_days: int = 15
    appeal_window_days: int = 60
    reopen_window_days: int = 30
    survey_days: int = 1
    denial_notice_days: int = 3
    appeal_ack_days: float = 1
    appeal_resolution_days: float = 3
    advance_payment_days: int = 60
    warn_at: Decimal = Decimal("0.8")
    """Share of a clock's time after which its owner is warned."""
    green_factor: Decimal = Decimal("0.5")
    """Green-channel claims run every staff clock at this share of its length."""
    complaint_ack_days: float = 1
    """A complaint is acknowledged within 24 hours (service standard)."""
    complaint_resolution_days: float = 3
    """... and resolved within 72 hours (service standard)."""
    complaint_ceiling_days: float = 15
    """The regulator's ceiling for resolving a complaint; `complaint_complex_ceiling_days` for a complex one."""
    complaint_complex_ceiling_days: float = 30
    survey_window_days: int = 30
    """How long after the survey is sent the claimant may answer it."""
    callback_days: float = 1
    """A score of 1 or 2: the call-back clock's length (24 hours; a supervisor's, warned and escalated)."""
    recovery_days: int = 30
    """Money owed back: the claimant is asked to repay within this time (the supervisors' clock: warned, then
    escalated to a manager, who may write the rest off)."""
    advance_share_in_dispute: Decimal = Decimal("0.5")
    """Share of the computed payout the statutory advance pays while an investigation is still open."""


class RiskRules(Message):
    late_report_days: int = 30
    late_report_points: int = 20
    new_policy_days: int = 30
    new_policy_points: int = 25
    high_claim_ratio: Decimal = Decimal("0.80")
    high_claim_points: int = 25
    frequent_claims_count: int = 3
    frequent_claims_window_days: int = 365
    frequent_claims_points: int = 20
    reused_document_points: int = 40
    medium_from: int = 30
    high_from: int = 60


class ReserveRules(Message):
    """How a claim's case reserve is set (docs/finance.md#reserves): the initial figure by claim type, or by
    "type/cause" (the more precise wins; none: the amount claimed), and the reserve authority of each role."""

    initial: dict[str, Decimal] = Field(default_factory=dict)
    adjuster: Decimal = Decimal("50000")
    supervisor: Decimal = Decimal("500000")
    four_eyes_above: Decimal = Decimal("1000000")

    def initial_for(self, claim_type: str, cause: str) -> Decimal | None:
        return self.initial.get(f"{claim_type}/{cause}", self.initial.get(claim_type))


class Rules(Message):
    """Every business rule a claim is decided by, captured once at its start (so a change of
    configuration never changes how a running claim replays)."""

    profile: str
    required_documents: dict[str, list[str]]
    documents_by_cause: dict[str, dict[str, list[str]]]
    fast_path_documents: dict[str, list[str]]
    known_document_kinds: list[str]
    fast_path_limits: dict[str, Decimal]
    authority_limits: dict[str, Decimal | None]
    dual_manager_threshold: Decimal
    investigation_amount_threshold: Decimal
    risk: RiskRules
    sla: SlaTable
    clauses: dict[str, str]
    staff_mailboxes: dict[str, str] = Field(default_factory=dict)
    green_channel_handlers: dict[str, list[str]] = Field(default_factory=dict)
    authority_team: list[str] = Field(default_factory=list)
    """The catastrophe team (staff ids, compared as `person_key`s) when the claim's catastrophe raised the authority
    limits for its team alone (core/rules/catastrophes.py `under`): `authority_limits` are then theirs."""
    authority_limits_outside_team: dict[str, Decimal | None] | None = None
    """The limits of everyone outside `authority_team`: the claim's own before the uplift. None: `authority_limits` are
    everyone's."""
    complaint_root_causes: list[str] = Field(default_factory=lambda: list(ROOT_CAUSES))
    """The categories a resolved complaint's root cause is filed under (reports count them)."""
    ocr_task_queue: str | None = None
    """Where the claim's uploaded documents are read (OCR workers' task queue); None: they are not read (the
    claims started before reading existed, or reading switched off)."""
    document_reading_hours: float = Field(default=24, gt=0)
    """How long a claim waits for its documents to be read (the OCR workers may be stopped); after that a person
    reads them."""
    documents: DocumentRules = Field(default_factory=DocumentRules)
    reserves: ReserveRules = Field(default_factory=ReserveRules)
    continue_after_events: int | None = Field(default=None, ge=40)
    """A claim's run continues as new at its next quiet wait once its history holds this many events (or
    sooner, when the server suggests it), so a long claim never nears the engine's history limits. None (the
    claims started before this rule existed) never continues: their histories replay as they were made. At
    least 40, above what a run holds when it resumes, so a run never continues again before it has waited."""


class ComplaintRecord(Message):
    """A complaint's row for the reports, as its workflow knows it now."""

    complaint_id: str
    claim_id: str | None
    category: str
    handler: str | None
    complex: bool
    received_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    root_cause: str | None = None
    breached: list[str] = Field(default_factory=list)
    """A clock's name for each time it passed its due time (a clock re-armed after a breach can breach again)."""
    warned: list[str] = Field(default_factory=list)
    """The clocks that reached their warning."""
    version: int = 0
    """The workflow's count of its writes: a write older than the row's (a retry after a later one) is ignored."""


class HandOverAppeal(Message):
    """A complaint that is an appeal: the claim's `appeal` update, sent for the complainant."""

    claim_id: str
    complaint_id: str
    reason: str


class RegisterClaim(Message):
    claim: ClaimInput
    chain_id: str
    """The first run id of this claim's workflow: a later run that is not the same chain is a duplicate."""
    registered_at: datetime


class CoverageResult(Message):
    covered: bool
    reason: str | None = None
    clause: str | None = None
    policy: PolicyTerms
    catastrophe: CatastropheRef | None = None
    """The declared catastrophe the incident falls in, if any (docs/catastrophes.md)."""


class TakeIn(Message):
    """A new claim taken in in one step (claims started since `lean-fast-path`): the rule tables in force, the
    documents' kinds checked against them, the policy looked up, the claim registered and its risk assessed."""

    claim: ClaimInput
    chain_id: str
    registered_at: datetime


class TakenIn(Message):
    """What taking a claim in found: the rules it keeps to the end, its cover, and its risk when covered."""

    rules: Rules
    coverage: CoverageResult
    risk: RiskAssessment | None = None
    payout: Payout | None = None
    """The payout as the covered claim stands when taken in: what the fast path pays on (claims started since
    `letters-with-the-lifecycle`); a claim on any other path assesses its payout when it gets there."""


class FindCatastrophe(Message):
    claim_type: str
    region: str | None
    occurred_at: datetime


class AssessRisk(Message):
    claim: ClaimInput
    reported_at: datetime
    risk: RiskRules


class ComputePayout(Message):
    claim_id: str
    policy_number: str
    claimed_amount: Decimal
    line_items: list[LineItem]
    confirmed_amount: Decimal | None = None
    advances_paid: Decimal = Decimal("0")
    clauses: dict[str, str] = Field(default_factory=dict)
    terms: PolicyTerms | None = None
    """The terms the claim captured at its coverage check (those of its incident's policy period); without them
    (a claim started before they were captured) the period's terms as they stand."""


class PaymentRequest(Message):
    claim_id: str
    sequence: int
    kind: Literal["final", "advance"]
    amount: Decimal
    account: BankAccount


class PaymentReceipt(Message):
    idempotency_key: str
    reference: str
    amount: Decimal
    paid_at: datetime
    replayed: bool = False
    """True when the gateway had already executed this key: nothing was paid twice."""
    requested: Decimal | None = None
    """What the workflow asked to pay; `amount` is less when the sum insured still available was less."""


class Recipient(Message):
    name: str
    channel: Literal["sms", "email", "app"]
    phone: str | None = None
    email: str | None = None
    language: Literal["zh-CN", "en"] = "zh-CN"


class NotificationRequest(Message):
    claim_id: str
    kind: str
    sequence: int = 1
    recipient: Recipient
    context: dict[str, Any] = Field(default_factory=dict)


class NotificationReceipt(Message):
    outbox_id: int
    kind: str
    sequence: int
    already_sent: bool


class LetterBatch(Message):
    """A claim's letters sent in their order by one activity (`NotificationActivities.notify_all`): those its lifecycle
    wrote on its intake and fast path (claims started since `letters-with-the-lifecycle`)."""

    claim_id: str
    letters: list[NotificationRequest]


class LetterOutcome(Message):
    """What became of one letter of a batch: sent (or found sent before), or failed for good (`failure`: why). A letter
    the batch did not reach (one before it could not be sent this time) has no outcome: it goes on by itself."""

    kind: str
    sequence: int
    failure: str | None = None


REFUSED_PAYLOAD = "payload_refused"
"""What the payload codec (config/encryption.py) hands on in place of a payload it refused, one copied from another
workflow's history: the reason, which workflows turn into a typed refusal (workflows/claim_state.py `parse`) instead
of failing their task over and over."""


class LogHead(Message):
    """A claim's event-log row as the append left it: its seq and hash, kept in the workflow's history."""

    seq: int
    hash: str


class LedgerMove(Message):
    """One movement of a claim's money for the financial ledger (db/ledger.py; docs/finance.md): what moved, on which
    account, by how much (signed), what the account holds after it, why and on whose decision."""

    movement: Literal["reserve", "payment", "recovery_reserve", "recovery", "write_off"]
    cost_type: Literal["indemnity", "subrogation", "salvage", "overpayment"] = "indemnity"
    amount: Decimal
    balance: Decimal
    recovery: int | None = None
    cause: str = Field(default="", max_length=200)
    actor: str = Field(default="system", max_length=200)
    at: datetime | None = None
    """When the money moved, where it is not the event's own moment (a reserve released by the payment it follows)."""


class ClaimEvent(Message):
    """One entry in the append-only event log, with the read-model fields that change with it.

    `key` identifies the event within its claim (the workflow sends a per-claim counter, "1", "2", ...): an
    event whose key the claim already has is not recorded again, so a retry after a commit adds nothing.
    Without a key the activity makes up a unique one, and a retry may then record the event twice.
    """

    claim_id: str
    key: str | None = Field(default=None, max_length=64)
    event: str
    at: datetime
    by: str = "system"
    detail: str = ""
    changes: dict[str, Any] = Field(default_factory=dict)
    names: list[str] = Field(default_factory=list)
    """The people the claim names (the claimant, the account holder): masked out of `detail` before it is stored
    or published, with every phone, ID, account and e-mail in it."""
    ledger: list[LedgerMove] = Field(default_factory=list)
    """The money the event moved (reserves, recoveries), written to the financial ledger in the event's own
    transaction, each under the event's key and its place in this list."""


class EventBatch(Message):
    """Events of one claim written in one transaction, in their order (`ClaimsDatabase.record_events`)."""

    claim_id: str
    events: list[ClaimEvent]


class PaymentAfterEvents(Message):
    """A payment and the timeline entries its lifecycle noted before it, in one local activity
    (`LifecycleActivities.record_and_pay`; claims started since `three-local-steps`): the entries are written, in their
    own commit, before the money moves."""

    events: EventBatch
    payment: PaymentRequest


class PaidAfterEvents(Message):
    """What `record_and_pay` did: each entry's row in the event log (kept for `audit verify-log`), then the payment."""

    log_heads: list[LogHead]
    receipt: PaymentReceipt


class LettersAfterEvents(Message):
    """Letters and the timeline entries they tell of, in one local activity (`LifecycleActivities.record_and_notify`;
    claims started since `three-local-steps`): the entries are written before any letter goes out."""

    events: EventBatch
    letters: LetterBatch


class SentAfterEvents(Message):
    """What `record_and_notify` did: each entry's row in the event log, then what became of each letter (as
    `notify_all` answers: a letter without an outcome goes on by itself)."""

    log_heads: list[LogHead]
    outcomes: list[LetterOutcome]


class RecordDocuments(Message):
    claim_id: str
    documents: list[DocumentRef]
    at: datetime


class IssueCode(Message):
    """Send the claim's code number `sequence` for `purpose` to the claimant's contact on file."""

    claim_id: str
    purpose: CodePurpose
    sequence: int
    recipient: Recipient
    at: datetime
    account_last4: str | None = None
    """A bank-account code's new account, by its last four digits: the letter names them."""


class CodeIssued(Message):
    expires_at: datetime
    channel: str


class PlanCode(Message):
    """An ended claim's next progress code: its number, unless the claim sent one too recently or too often."""

    claim_id: str
    at: datetime


class PlannedCode(Message):
    """The next code's number, or why none may go out now (too soon, too many)."""

    sequence: int = 0
    refused: str | None = None


class EndedCodeResult(Message):
    """What asking an ended claim for a code came to: the code sent, or why not."""

    issued: CodeIssued | None = None
    refused: str | None = None


class EndedClaimCode(Message):
    """A progress code asked for on a claim whose workflow has ended, and who asked (the channel's subject)."""

    claim_id: str
    requested_by: str


class CodeCheck(StrEnum):
    """What checking a one-time code found."""

    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    USED = "used"
    LOCKED = "locked"
    """Too many wrong tries: the code is void; a new one must be requested."""
    NONE = "none"
    """No code has been sent for this claim and purpose."""


class CheckCode(Message):
    claim_id: str
    purpose: CodePurpose
    code: str
    at: datetime
