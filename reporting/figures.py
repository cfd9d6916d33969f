"""What the daily report holds: the day's figures, by type, stage, clock and path, as the report and the charts
read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

# Stages of the lifecycle with the names the claims department reports them under.
STAGE_LABELS = {
    "registered": "受理 intake", "coverage_check": "受理 coverage check", "awaiting_documents": "资料 documents",
    "investigating": "调查 investigation", "adjusting": "理算 adjustment", "awaiting_approval": "审核 approval",
    "paying": "赔付 payment",
}
TREND_DAYS = 30
# Which claims a clock applied to: those that entered this stage (determination: every claim triaged).
CLOCK_STAGES = {"investigation": "investigating", "approval": "awaiting_approval", "payment": "paying",
                "determination": "adjusting", "documents": "awaiting_documents"}


@dataclass
class TrendDay:
    day: date
    received: int
    closed: int
    paid: Decimal


@dataclass
class RecoveryFigures:
    opened: int = 0
    opened_amount: Decimal = Decimal("0.00")
    received: int = 0
    received_amount: Decimal = Decimal("0.00")
    written_off: int = 0
    written_off_amount: Decimal = Decimal("0.00")
    owing_claims: int = 0
    outstanding: Decimal = Decimal("0.00")


@dataclass
class BookFigures:
    """The day's movements in the financial ledger (docs/finance.md), and what it holds at the day's end."""

    reserve_set: Decimal = Decimal("0.00")
    """Case reserves set or raised this day."""
    reserve_released: Decimal = Decimal("0.00")
    """Case reserves released this day (by payments, closings, staff lowering them): a positive figure."""
    reserves_held: Decimal = Decimal("0.00")
    reserved_claims: int = 0
    recovery_reserves: dict[str, Decimal] = field(default_factory=dict)
    """What open recoveries are still expected to bring at the day's end, by kind."""
    recovered: dict[str, Decimal] = field(default_factory=dict)
    """Money received on recoveries this day, by kind."""


@dataclass
class DailyReport:
    day: date
    timezone: str
    received: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    paid: dict[str, Decimal] = field(default_factory=dict)
    stage_hours: dict[str, float] = field(default_factory=dict)
    fast_path_share: float | None = None
    sla: dict[str, dict[str, Any]] = field(default_factory=dict)
    reopened: int = 0
    appealed: int = 0
    paths: dict[str, int] = field(default_factory=dict)
    """Claims closed that day by the path they took (fast, standard, green)."""
    trend: list[TrendDay] = field(default_factory=list)
    """The thirty days up to the report's day, oldest first."""
    scores: dict[int, int] = field(default_factory=dict)
    """Survey answers given that day, by score (1-5)."""
    callbacks: dict[str, int] = field(default_factory=dict)
    """Call-backs for the day's low scores: `opened`, `done`, `on_time` (done before their clock passed)."""
    complaints_received: dict[str, int] = field(default_factory=dict)
    """Complaints received that day, by category."""
    complaints_resolved: dict[str, int] = field(default_factory=dict)
    """Complaints resolved that day, by root cause."""
    complaint_on_time: dict[str, dict[str, int]] = field(default_factory=dict)
    """For the complaints resolved that day, per clock: how many, and how many kept it."""
    recoveries: RecoveryFigures = field(default_factory=lambda: RecoveryFigures())
    books: BookFigures = field(default_factory=BookFigures)
    catastrophes: dict[str, dict[str, int]] = field(default_factory=dict)
    """By declared catastrophe: its claims received this day, and those still open."""
    """Money owed back: recoveries opened, repayments received and write-offs that day; what is still owed."""

    @property
    def satisfaction(self) -> float | None:
        answers = sum(self.scores.values())
        return sum(s * n for s, n in self.scores.items()) / answers if answers else None

    @property
    def total_paid(self) -> Decimal:
        return sum(self.paid.values(), Decimal("0.00"))
