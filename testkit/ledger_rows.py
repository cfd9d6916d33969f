"""Claims and financial ledger rows written straight into a database, as registration and the ledger's writers write
them: for the tests of the figures built from the ledger (tests/test_finance.py, tests/test_finance_page.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from db import ledger
from models.messages import LedgerMove
from models.tables import Claim
from testkit.world import TEST_SEAL_KEY

ZONE = "Asia/Shanghai"
BEIJING = ZoneInfo(ZONE)
Movement = Literal["reserve", "payment", "recovery_reserve", "recovery", "write_off"]
CostType = Literal["indemnity", "subrogation", "salvage", "overpayment"]


def beijing(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A moment written in Beijing time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=BEIJING)


def claim(engine: Engine, product: str, incident_at: datetime, policy_period: str | None = "2026-01-01",
          prefix: str = "F") -> str:
    """A claim in the read model, as registration leaves it: the facts its ledger rows are booked with."""
    claim_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(Claim(claim_id=claim_id, chain_id=f"run-{claim_id}", policy_number=f"P-{product.upper()}-001",
                          policy_period=policy_period, claim_type=product, stage="registered",
                          claimed_amount=Decimal("10000.00"), incident_at=incident_at.astimezone(UTC),
                          registered_at=now, updated_at=now))
        session.commit()
    return claim_id


def book(engine: Engine, claim_id: str, at: datetime, movement: Movement, amount: str,
         cost_type: CostType = "indemnity", cause: str = "test") -> None:
    """One ledger row, written as the writers write it: under the claim's lock, with the claim's facts."""
    with engine.begin() as conn:
        ledger.lock_claim(conn, claim_id)
        facts = ledger.facts_of(conn, claim_id, ZONE)
        assert facts is not None
        move = LedgerMove(movement=movement, cost_type=cost_type, amount=Decimal(amount), balance=Decimal("0"),
                          recovery=1 if cost_type != "indemnity" else None, cause=cause)
        assert ledger.append(conn, claim_id, facts, f"test/{uuid.uuid4().hex}", at, move, datetime.now(UTC),
                             TEST_SEAL_KEY)
