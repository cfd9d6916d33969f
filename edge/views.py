"""What the API answers with, beyond the contract's own classes: the claimant's progress view, the worklist,
and the replies to a report and an upload."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from models.contract import BasisStep, ClaimStatus, ClaimType, Outcome, Path, RecoveryKind, RecoveryStatus, Stage


class ClaimAccepted(BaseModel):
    claim_id: str
    workflow_id: str
    created: bool
    """False when the same report (same Idempotency-Key and body) was made before: this is that claim."""
    status_url: str
    progress_url: str


class StoredUpload(BaseModel):
    kind: str
    ref: str
    """The content-addressed reference sent to the claim: `doc://sha256/<hex>`."""
    sha256: str
    size: int
    media_type: str
    missing_documents: list[str]
    """The kinds the claim still needs after this one."""


class MissingDocuments(BaseModel):
    missing_documents: list[str]


class NextDeadline(BaseModel):
    clock: str
    due_at: datetime


class DecisionView(BaseModel):
    kind: Literal["approved", "partial", "denied"]
    amount: Decimal
    basis: list[BasisStep] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    clauses: list[str] = Field(default_factory=list)
    decided_at: datetime | None = None


class PaymentView(BaseModel):
    kind: Literal["final", "advance"]
    amount: Decimal
    account: str
    paid_at: datetime


class OwedView(BaseModel):
    """Money the claimant owes back on the claim (an overpayment recovery): what is owed, repaid and still open.
    Recoveries from third parties and the salvage are the insurer's business, not the claimant's: never shown."""

    amount: Decimal
    repaid: Decimal
    outstanding: Decimal
    status: str


class ProgressStep(BaseModel):
    """One step of the claim as its claimant sees it: a stage it went through (with when it got there), the one
    it is at, or one still to come. A closing step carries the outcome it closed with."""

    stage: Stage
    state: Literal["done", "current", "todo"]
    at: datetime | None = None
    outcome: Outcome | None = None


AHEAD = (Stage.ADJUSTING, Stage.AWAITING_APPROVAL, Stage.PAYING, Stage.CLOSED)
"""The stages still to come, in order, for a claim not yet closed (documents and investigation are shown only when
a claim goes through them)."""


def progress_steps(status: ClaimStatus) -> list[ProgressStep]:
    """The stages the claim went through, in order and dated, from its timeline (an appeal or a reopening shows
    the stages it went through again), then the ones still to come. True on every path: a claim denied, withdrawn
    or closed incomplete never shows a payment step it did not reach."""
    went = [ProgressStep(stage=Stage.REGISTERED, state="done", at=status.registered_at)]
    closes = [t for t in status.timeline if t.event == "stage:closed"]
    for entry in status.timeline:
        if not entry.event.startswith("stage:"):
            continue
        try:
            stage = Stage(entry.event.removeprefix("stage:"))
        except ValueError:
            continue
        if went and went[-1].stage == stage:
            continue
        final = stage == Stage.CLOSED and entry is closes[-1]
        went.append(ProgressStep(stage=stage, state="done", at=entry.at,
                                 outcome=status.outcome if final else None))
    if status.stage == Stage.CLOSED:
        return went
    went[-1] = went[-1].model_copy(update={"state": "current"})
    ahead = AHEAD[AHEAD.index(status.stage) + 1:] if status.stage in AHEAD else AHEAD
    return [*went, *(ProgressStep(stage=stage, state="todo") for stage in ahead)]


def _ahead(moment: datetime | None) -> datetime | None:
    """A window's end while it is still ahead: one that has passed offers the claimant nothing."""
    return moment if moment is not None and moment > datetime.now(UTC) else None


class ClaimProgress(BaseModel):
    """What a claimant may see of their claim: no staff notes, no risk reasons, no other person's name."""

    claim_id: str
    stage: Stage
    outcome: Outcome | None
    claim_type: ClaimType | None
    missing_documents: list[str]
    documents_requested_at: datetime | None
    next_deadline: NextDeadline | None
    decision: DecisionView | None
    payments: list[PaymentView]
    paid_amount: Decimal
    registered_at: datetime | None
    closed_at: datetime | None
    survey_until: datetime | None = None
    """The survey may be answered until then (it was sent, and is not answered yet)."""
    survey_score: int | None = None
    appeal_until: datetime | None = None
    """The decision may be appealed until then (a denial or a partial payment, not appealed yet)."""
    steps: list[ProgressStep] = Field(default_factory=list)
    owed_back: list[OwedView] = Field(default_factory=list)
    """What the claimant owes back, by recovery (overpayments only)."""

    @classmethod
    def of(cls, status: ClaimStatus) -> ClaimProgress:
        owed = [r for r in status.recoveries if r.kind == RecoveryKind.OVERPAYMENT]
        deadlines = {clock: due for clock, due in status.deadlines.items()
                     if clock != "recovery" or any(r.status == RecoveryStatus.OPEN for r in owed)}
        upcoming = min(deadlines.items(), key=lambda item: item[1], default=None)
        decision = status.decision
        return cls(
            claim_id=status.claim_id, stage=status.stage, outcome=status.outcome, claim_type=status.claim_type,
            missing_documents=status.missing_documents, documents_requested_at=status.documents_requested_at,
            next_deadline=NextDeadline(clock=upcoming[0], due_at=upcoming[1]) if upcoming else None,
            decision=DecisionView(kind=decision.kind, amount=decision.amount, basis=decision.basis,
                                  reasons=decision.reasons, clauses=decision.clauses,
                                  decided_at=decision.decided_at) if decision else None,
            payments=[PaymentView(kind=p.kind, amount=p.amount, account=p.account, paid_at=p.paid_at)
                      for p in status.payments],
            paid_amount=sum((p.amount for p in status.payments), Decimal("0")),
            registered_at=status.registered_at, closed_at=status.closed_at, survey_until=_ahead(status.survey_until),
            survey_score=status.survey_score, appeal_until=_ahead(status.appeal_until), steps=progress_steps(status),
            owed_back=[OwedView(amount=r.amount, repaid=r.received, outstanding=r.outstanding, status=r.status.value)
                       for r in owed])


class WorkItem(BaseModel):
    claim_id: str
    claim_type: str
    stage: str
    path: str | None
    risk_level: str | None
    handler: str | None
    claimed_amount: Decimal
    registered_at: datetime
    why: Literal["assigned", "awaiting_approval"]
    """Why the claim is in the caller's queue: assigned to them, or waiting for a decider of their tier."""


class Worklist(BaseModel):
    subject: str
    items: list[WorkItem]


__all__ = ["ClaimAccepted", "ClaimProgress", "MissingDocuments", "Path", "StoredUpload", "WorkItem", "Worklist"]
