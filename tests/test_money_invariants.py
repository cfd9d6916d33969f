"""The money invariants (docs/rules.md#money-invariants), under randomly generated sequences of updates and timer
skips: the state machine of testkit/money_machine.py, on SQLite and on PostgreSQL.

    CLAIMS_PROPERTY_EXAMPLES=2000 CLAIMS_PROPERTY_STEPS=12 .venv/bin/python -m pytest tests/test_money_invariants.py
"""

from __future__ import annotations

import os

import pytest

from testkit.money_machine import ClaimsMachine, machine_settings
from testkit.money_rig import Rig
from testkit.world import POSTGRES_URL, postgres_available


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_money_invariants_hold_under_random_updates_outages_and_timer_skips(database: str) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    if database == "postgresql" and not postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI and not reachable at {POSTGRES_URL}")
        pytest.skip("PostgreSQL not reachable")
    rig = Rig(database)
    ClaimsMachine.rig = rig
    try:
        run_state_machine_as_test(ClaimsMachine, settings=machine_settings())
    finally:
        print(f"tasks the test server lost at a continue-as-new: {rig.lost_tasks}")  # noqa: T201
        rig.close()
