"""The world the tests and the benchmarks run claims in: the payload and seal keys every history they write is
encrypted and sealed with, the sample policies, and where PostgreSQL is."""

from __future__ import annotations

import base64
import os
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import text

from config.encryption import converter_for
from config.keyring import Keyring
from db.engine import make_engine
from models.contract import PolicyTerms

TEST_KEYRING = Keyring("test-1", {"test-1": bytes(range(32))})
"""The tests' payload key: every history a test writes is encrypted, as in production."""
TEST_KEYS = "test-1=" + base64.b64encode(bytes(range(32))).decode()
data_converter = converter_for(keyring=TEST_KEYRING)
TEST_SEAL_KEY = bytes(range(50, 82))
"""The tests' audit seal key, as `CLAIMS_AUDIT_SEAL_KEY` in the settings below."""

POSTGRES_URL = os.environ.get("CLAIMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def sample_policies() -> list[PolicyTerms]:
    base = {"holder_name": "Li Lei", "status": "active", "effective_from": date.today() - timedelta(days=200),
            "effective_to": date.today() + timedelta(days=365), "payout_ratio": Decimal("1"), "exclusions": [],
            "waiting_period_days": 0}
    return [PolicyTerms.model_validate(p) for p in [
        {**base, "policy_number": "P-AUTO-001", "product": "auto", "sum_insured": "200000",
         "deductible": "500", "exclusions": ["racing", "drunk_driving"]},
        {**base, "policy_number": "P-AUTO-002", "product": "auto", "sum_insured": "2000000",
         "deductible": "1000", "payout_ratio": "0.9"},
        {**base, "policy_number": "P-AUTO-LAPSED", "product": "auto", "status": "lapsed",
         "sum_insured": "100000", "deductible": "500"},
        {**base, "policy_number": "P-HEALTH-001", "product": "health", "sum_insured": "50000",
         "deductible": "200", "payout_ratio": "0.8", "waiting_period_days": 30},
        {**base, "policy_number": "P-PROP-001", "product": "property", "sum_insured": "300000",
         "deductible": "1000", "exclusions": ["flood"]},
    ]]


def postgres_available() -> bool:
    try:
        probe = make_engine(POSTGRES_URL)
        with probe.connect() as conn:
            conn.execute(text("select 1"))
        probe.dispose()
        return True
    except Exception:
        return False
