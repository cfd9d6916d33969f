"""Deadline arithmetic: calendar days and business days (Mon-Fri minus listed holidays)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta

from models.messages import SlaTable


def add_business_days(start: datetime, days: int, holidays: Collection[date]) -> datetime:
    """The moment `days` business days after `start` (same time of day)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current.date() not in holidays:
            remaining -= 1
    return current


def due(start: datetime, days: float, sla: SlaTable, *, business: bool = False) -> datetime:
    """When a clock of `days` started at `start` falls due under the SLA table's profile."""
    if business and not sla.business_days_as_days:
        return add_business_days(start, int(days), set(sla.holidays))
    return start + timedelta(seconds=days * sla.day_seconds)
