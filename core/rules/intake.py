"""Intake checks that need the current time, which a model's validation cannot know.

Pure: the workflow passes `workflow.now()`, the registering activity the registration time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.contract import ClaimInput
from models.fields import EARLIEST_YEAR

CLOCK_SKEW = timedelta(minutes=10)
"""How far in the future an incident may be dated: a sender's clock may run a little ahead."""
EARLIEST_INCIDENT = datetime(EARLIEST_YEAR, 1, 1, tzinfo=UTC)


def refusal(claim: ClaimInput, now: datetime) -> str | None:
    """Why the claim cannot be taken as reported, naming the field; None when it can."""
    occurred_at = claim.incident.occurred_at
    if occurred_at > now + CLOCK_SKEW:
        return (f"invalid claim: incident.occurred_at: {occurred_at.isoformat()} is in the future "
                f"(it is {now.astimezone(occurred_at.tzinfo).isoformat(timespec='seconds')} now)")
    if occurred_at < EARLIEST_INCIDENT:
        return f"invalid claim: incident.occurred_at: {occurred_at.isoformat()} is before {EARLIEST_YEAR}"
    return None
