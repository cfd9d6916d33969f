"""The intake check against the current time, without Temporal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.rules import intake
from models.contract import ClaimInput
from testkit.claims import auto_claim

NOW = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


def claim_at(when: datetime) -> ClaimInput:
    return ClaimInput.model_validate(auto_claim(incident={"occurred_at": when.isoformat()}))


@pytest.mark.parametrize("offset", [timedelta(days=-1), timedelta(0), timedelta(minutes=10), timedelta(days=-3650)])
def test_an_incident_in_the_past_or_within_clock_skew_is_taken(offset):
    assert intake.refusal(claim_at(NOW + offset), NOW) is None


@pytest.mark.parametrize("offset", [timedelta(minutes=11), timedelta(days=1), timedelta(days=400)])
def test_an_incident_in_the_future_is_refused_naming_the_field(offset):
    reason = intake.refusal(claim_at(NOW + offset), NOW)
    assert reason is not None and "incident.occurred_at" in reason and "future" in reason


def test_the_future_is_measured_in_absolute_time_whatever_the_offset():
    shanghai = timezone(timedelta(hours=8))
    assert intake.refusal(claim_at(datetime(2026, 11, 20, 16, 35, tzinfo=shanghai)), NOW) is None  # 08:35 UTC
    assert intake.refusal(claim_at(datetime(2026, 11, 20, 16, 45, tzinfo=shanghai)), NOW) is not None  # 08:45 UTC


def test_an_incident_before_1900_is_refused():
    claim = claim_at(NOW).model_copy(deep=True)
    claim.incident.occurred_at = datetime(1899, 12, 31, tzinfo=UTC)
    reason = intake.refusal(claim, NOW)
    assert reason is not None and "incident.occurred_at" in reason and "1900" in reason
