"""Database rows (SQLModel, `table=True`). Only activities import this module; workflows never do."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel


def _money() -> Any:
    return Field(sa_column=Column(Numeric(15, 2), nullable=False))


def _when(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index))


class Policy(SQLModel, table=True):
    __tablename__ = "policies"

    policy_number: str = Field(primary_key=True, max_length=64)
    product: str = Field(max_length=20)
    holder_name: str = Field(max_length=200)
    status: str = Field(max_length=20)
    effective_from: date
    effective_to: date
    sum_insured: Decimal = _money()
    deductible: Decimal = _money()
    payout_ratio: Decimal = Field(sa_column=Column(Numeric(6, 4), nullable=False))
    exclusions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    waiting_period_days: int = 0
    status_since: date | None = None


class PolicyPeriod(SQLModel, table=True):
    """One period of a policy with the terms in force in it. A renewal adds a period and keeps the ones before;
    loading terms for a period that exists (an endorsement) replaces that period's terms. A claim is covered by
    the period its incident falls in, and its payments count against that period's sum insured."""

    __tablename__ = "policy_periods"

    policy_number: str = Field(primary_key=True, max_length=64)
    effective_from: date = Field(primary_key=True)
    effective_to: date
    product: str = Field(max_length=20)
    holder_name: str = Field(max_length=200)
    status: str = Field(max_length=20)
    sum_insured: Decimal = _money()
    deductible: Decimal = _money()
    payout_ratio: Decimal = Field(sa_column=Column(Numeric(6, 4), nullable=False))
    exclusions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    waiting_period_days: int = 0
    status_since: date | None = None


class Claim(SQLModel, table=True):
    """The claim read model: where each claim stands, for worklists, reports and staff screens."""

    __tablename__ = "claims"

    claim_id: str = Field(primary_key=True, max_length=64)
    chain_id: str = Field(max_length=64)
    policy_number: str = Field(index=True, max_length=64)
    policy_period: str | None = Field(default=None, max_length=25)
    """The policy period the incident falls in (the day it starts): payments on claims of one policy period count
    together against its sum insured."""
    claim_type: str = Field(max_length=20)
    stage: str = Field(max_length=30, index=True)
    outcome: str | None = Field(default=None, max_length=30)
    path: str | None = Field(default=None, max_length=20)
    risk_score: int | None = None
    risk_level: str | None = Field(default=None, max_length=10)
    handler: str | None = Field(default=None, max_length=64)
    claimed_amount: Decimal = _money()
    payout_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(15, 2)))
    paid_amount: Decimal = Field(default=Decimal("0"), sa_column=Column(Numeric(15, 2), nullable=False))
    incident_at: datetime = _when()
    registered_at: datetime = _when(index=True)
    closed_at: datetime | None = _when(nullable=True)
    stage_entered_at: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    survey_score: int | None = None
    """The claimant's survey score (1-5), once given."""
    recovery_outstanding: Decimal = Field(default=Decimal("0"), sa_column=Column(
        Numeric(15, 2), nullable=False, server_default="0"))
    """What the claimant still owes back on the claim's open recoveries."""
    deciding_role: str | None = Field(default=None, max_length=20)
    """Who must decide a claim awaiting approval (adjuster, supervisor, manager): each role's queue."""
    claimant_masked: str | None = Field(default=None, max_length=80)
    """The claimant as a list shows them: the name's first character and the phone's last four digits."""
    name_key: str | None = Field(default=None, max_length=64, index=True)
    phone_key: str | None = Field(default=None, max_length=64, index=True)
    """The claimant's name and phone keyed for an exact search (identity/codes.py `claimant_key`)."""
    updated_at: datetime = _when()
    region: str | None = Field(default=None, max_length=6)
    """Where the incident happened (an administrative division code), as reported."""
    catastrophe: str | None = Field(default=None, max_length=64, index=True)
    """The declared catastrophe the claim joined, by its code."""


class ComplaintRow(SQLModel, table=True):
    """A complaint as the reports see it: moved at each milestone by its workflow (`record_complaint`)."""

    __tablename__ = "complaints"

    complaint_id: str = Field(primary_key=True, max_length=64)
    claim_id: str | None = Field(default=None, max_length=64)
    category: str = Field(max_length=20)
    handler: str | None = Field(default=None, max_length=64)
    complex: bool = False
    received_at: datetime = _when(index=True)
    acknowledged_at: datetime | None = _when(nullable=True)
    resolved_at: datetime | None = _when(nullable=True)
    root_cause: str | None = Field(default=None, max_length=64)
    breached: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """The clocks that passed their due time (complaint_ack, complaint_resolution, complaint_ceiling)."""
    warned: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """The clocks that reached their warning (80 %)."""
    event_seq: int = 0
    """The number of the complaint's last published event (events/)."""
    version: int = 0
    """The number of the workflow's write the row holds (`ComplaintRecord.version`)."""


class ClaimDocument(SQLModel, table=True):
    __tablename__ = "claim_documents"
    __table_args__ = (UniqueConstraint("claim_id", "kind", "ref", name="uq_claim_document"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=40)
    ref: str = Field(index=True, max_length=500)
    submitted_at: datetime = _when()


class Payment(SQLModel, table=True):
    """The payments ledger: one row per payout, unique on its idempotency key. A `pending` row holds its
    amount against the policy's sum insured until it is `paid` (or `rejected`, which releases it)."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_payment_idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(index=True, max_length=64)
    sequence: int
    kind: str = Field(max_length=20)
    idempotency_key: str = Field(max_length=128)
    amount: Decimal = _money()
    """What is held against the sum insured and paid: at most `requested`, less when the sum insured still
    available was less."""
    requested: Decimal | None = Field(default=None, sa_column=Column(Numeric(15, 2)))
    account_holder: str
    """The payee's name, sealed with the payload keys (`seal_text`)."""
    account_masked: str = Field(max_length=40)
    status: str = Field(max_length=20)
    gateway_reference: str | None = Field(default=None, max_length=128)
    created_at: datetime = _when()
    paid_at: datetime | None = _when(nullable=True)


class GatewayTransfer(SQLModel, table=True):
    """The embedded payment gateway's own book: a transfer executes once per idempotency key."""

    __tablename__ = "gateway_transfers"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_gateway_idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=128)
    reference: str = Field(max_length=128)
    amount: Decimal = _money()
    account_number: str = Field(max_length=40)
    executed_at: datetime = _when()


class Notification(SQLModel, table=True):
    """The notification outbox: at most one per (claim, kind, sequence)."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("claim_id", "kind", "sequence", name="uq_notification"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=40)
    sequence: int
    channel: str = Field(max_length=10)
    recipient: str = Field(max_length=200)
    subject: str = Field(max_length=300)
    body: str
    """The full letter (HTML), sealed: the record of what the claimant was told, whatever the channel."""
    language: str = Field(default="zh-CN", max_length=10)
    text: str | None = None
    """The short text an SMS carried (sealed), for the SMS channel; the letter itself is `body`."""
    status: str = Field(max_length=20)
    created_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)


class ReportRun(SQLModel, table=True):
    """One row per scheduled job and period: the first scheduler to insert it runs the job, any other skips."""

    __tablename__ = "report_runs"
    __table_args__ = (UniqueConstraint("job", "period", name="uq_report_run"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=40)
    period: str = Field(max_length=40)
    started_at: datetime = _when()
    output: str | None = Field(default=None, max_length=500)


class ClaimEventRow(SQLModel, table=True):
    """The append-only claim event log: one hash chain per claim, numbered from 1 by `seq`.

    Each row carries the hash of the claim's row before it. `key` is the id the workflow gave the event, so a
    retried append of the same event is recognised and not written twice.
    """

    __tablename__ = "claim_events"
    __table_args__ = (UniqueConstraint("claim_id", "seq", name="uq_claim_event_seq"),
                      UniqueConstraint("claim_id", "key", name="uq_claim_event_key"))

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(max_length=64)
    seq: int
    key: str = Field(max_length=64)
    at: datetime = _when()
    event: str = Field(max_length=60)
    actor: str
    """Who acted: one person, a channel, `system`, or the people who decided together ("mgr-1, mgr-2"): unbounded,
    since what several ids join to has no length the contract fixes."""
    detail: str
    recorded_at: datetime = _when()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    seal: str | None = Field(default=None, max_length=64)
    """HMAC-SHA256 of `hash` and `recorded_at` under the seal key, which the database does not hold: whoever can
    write to the table can recompute plain hashes, not seals. (Rows without `seal_kid`, sealed before key ids:
    of `hash` alone.)"""
    seal_kid: str | None = Field(default=None, max_length=24)
    """Which seal key sealed the row (`config.encryption.SealKeys`), so a rotated key's rows still verify."""


class VerificationCode(SQLModel, table=True):
    """A one-time code sent to the claimant's phone or e-mail on file: to change the bank account, or to see the
    claim's progress. The code itself is never stored (it is derived from the code secret); the row keeps when
    it expires, the wrong tries and when it was used."""

    __tablename__ = "verification_codes"
    __table_args__ = (UniqueConstraint("claim_id", "purpose", "sequence", name="uq_verification_code"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(max_length=64)
    purpose: str = Field(max_length=20)
    sequence: int
    issued_at: datetime = _when()
    expires_at: datetime = _when()
    wrong_tries: int = 0
    used_at: datetime | None = _when(nullable=True)


class IdempotentRequest(SQLModel, table=True):
    """A first notice of loss reported through the HTTP API with an `Idempotency-Key`: the same key with the
    same body names the same claim; with another body it is refused."""

    __tablename__ = "idempotent_requests"

    key: str = Field(primary_key=True, max_length=200)
    body_sha256: str = Field(max_length=64)
    claim_id: str = Field(max_length=64)
    created_at: datetime = _when()


class CodecDecode(SQLModel, table=True):
    """Who read decrypted payloads through the codec server, and when: one row per request. The codec answers the
    Temporal web UI and the `temporal` CLI, which send payloads without saying whose history they come from, so
    the row names the caller, the namespace and how many payloads were opened."""

    __tablename__ = "codec_decodes"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(index=True)
    subject: str = Field(max_length=200)
    roles: str = Field(max_length=200)
    namespace: str = Field(max_length=200)
    payloads: int
    through: str = Field(max_length=20)
    """`token` (the CLI's `--codec-auth`) or `session` (the web UI with the staff cookie)."""


class HistoryExport(SQLModel, table=True):
    """A closed claim workflow's history, exported (its payloads still encrypted) to the audit archive before the
    namespace's retention deletes it from Temporal; one row per run."""

    __tablename__ = "history_exports"

    run_id: str = Field(primary_key=True, max_length=64)
    workflow_id: str = Field(index=True, max_length=80)
    name: str = Field(max_length=300)
    """Where it is in the audit archive."""
    sha256: str = Field(max_length=64)
    events: int
    closed_at: datetime = _when()
    exported_at: datetime = _when()
    keep_until: date
    """Insurance Law art. 87: 5 years after the contract ends for terms of a year or less, 10 for longer ones."""


class EventOutboxRow(SQLModel, table=True):
    """The transactional outbox: a published event, written in the same transaction as what it reports (a claim's
    event log row, a complaint's row), as the CloudEvent (structured JSON) the relay sends. `subject` is what the
    event is about (a claim id, or `complaint-<id>`), and `seq` its number there: events of one subject go out
    in `seq` order."""

    __tablename__ = "event_outbox"
    __table_args__ = (UniqueConstraint("subject", "seq", name="uq_event_outbox_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=80)
    seq: int
    event_id: str = Field(max_length=100)
    type: str = Field(max_length=100)
    body: str
    created_at: datetime = _when(index=True)


class EventCursor(SQLModel, table=True):
    """How far one subscriber has received one subject's events, and the retry of the next one. A subject whose
    next event went to the dead letters is `parked` for that subscriber until an operator redrives it, so its
    later events never overtake it."""

    __tablename__ = "event_cursors"

    subscriber: str = Field(primary_key=True, max_length=64)
    subject: str = Field(primary_key=True, max_length=80)
    delivered_seq: int = 0
    attempts: int = 0
    retry_at: datetime | None = _when(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    parked: bool = False


class EventDeadLetter(SQLModel, table=True):
    """An event a subscriber still refused after the retry limit, kept for the operator (`events redrive`)."""

    __tablename__ = "event_dead_letters"

    id: int | None = Field(default=None, primary_key=True)
    subscriber: str = Field(max_length=64)
    subject: str = Field(max_length=80, index=True)
    seq: int
    event_id: str = Field(max_length=100)
    type: str = Field(max_length=100)
    attempts: int
    last_error: str = Field(max_length=500)
    dead_at: datetime = _when()
    redriven_at: datetime | None = _when(nullable=True)


class DocumentReadingRow(SQLModel, table=True):
    """What machine reading found in one of a claim's documents (`models/documents.py`). The fields are sealed
    (an ID card's name is personal data); the invoice number stays readable so a number used by two claims is
    found."""

    __tablename__ = "document_readings"
    __table_args__ = (UniqueConstraint("claim_id", "ref", name="uq_document_reading"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(max_length=64, index=True)
    ref: str = Field(max_length=500)
    kind: str = Field(max_length=40)
    engine: str = Field(max_length=60)
    readable: bool
    invoice_number: str | None = Field(default=None, max_length=40, index=True)
    fields: str
    """The fields as JSON, sealed with the payload keys."""
    read_at: datetime = _when()
    corrected_at: datetime | None = _when(nullable=True)


class LedgerRow(SQLModel, table=True):
    """The financial ledger: every movement of a claim's money, one row each, append-only and sealed like the event
    log (one hash chain per claim, numbered from 1 by `seq`; `key` makes a retried write a no-op).

    `movement` is what moved: `reserve` (the case reserve set, raised or released: the change), `payment` (money
    paid to the claimant), `recovery_reserve` (what a recovery is still expected to bring: the change),
    `recovery` (money received on a recovery) and `write_off` (what a manager wrote off a recovery). `amount` is
    signed: a reserve released is negative. docs/finance.md defines every figure built from these rows."""

    __tablename__ = "ledger"
    __table_args__ = (UniqueConstraint("claim_id", "seq", name="uq_ledger_seq"),
                      UniqueConstraint("claim_id", "key", name="uq_ledger_key"))

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(max_length=64, index=True)
    seq: int
    key: str = Field(max_length=100)
    policy_number: str = Field(max_length=64)
    policy_period: str | None = Field(default=None, max_length=25)
    product: str = Field(max_length=20)
    """The claim type (auto, health, property, travel): the line the triangles are built per."""
    accident_date: date
    """The day of the incident in the report time zone: the accident month of the triangles."""
    transaction_at: datetime = _when(index=True)
    movement: str = Field(max_length=20)
    cost_type: str = Field(max_length=20)
    """`indemnity` for the claim's own reserve and payments; the recovery's kind (`subrogation`, `salvage`,
    `overpayment`) for a recovery's movements."""
    amount: Decimal = Field(sa_column=Column(Numeric(15, 2), nullable=False))
    balance: Decimal = Field(sa_column=Column(Numeric(15, 2), nullable=False))
    """What the movement's account holds after it: the case reserve, the claim's paid to date, the recovery's
    reserve, its received to date, its written off to date."""
    recovery: int | None = None
    """The recovery's number on the claim, for a recovery's movements."""
    cause: str = Field(max_length=200)
    actor: str = Field(max_length=200)
    recorded_at: datetime = _when()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    seal: str = Field(max_length=64)
    seal_kid: str | None = Field(default=None, max_length=24)


class LedgerStart(SQLModel, table=True):
    """When the financial ledger began (its migration): payments made before it are not in it."""

    __tablename__ = "ledger_start"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = _when()


class CatastropheRow(SQLModel, table=True):
    """A declared catastrophe (its workflow writes it): what intake reads to join a claim to it."""

    __tablename__ = "catastrophes"

    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=100)
    regions: list[str] = Field(sa_column=Column(JSON, nullable=False))
    starts_at: datetime = _when()
    ends_at: datetime = _when()
    claim_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    rules: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    declared_by: str = Field(max_length=64)
    declared_at: datetime = _when()
    closed_at: datetime | None = _when(nullable=True)
    closed_by: str | None = Field(default=None, max_length=64)
