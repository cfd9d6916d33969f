"""Payment gateways. The embedded `LedgerGateway` behaves like a bank's: it executes a transfer once per
idempotency key, rejects accounts it cannot pay into, and can be told to be unavailable.

Going live means writing a class with the same `transfer` method against the bank's or payment
provider's API (passing the idempotency key through, as every serious provider accepts one) and naming
it in `CLAIMS_PAYMENT_GATEWAY=package.module:ClassName`; the class is built with the database engine.
"""

from __future__ import annotations

import importlib
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from db.engine import now_utc, utc
from models.contract import BankAccount
from models.tables import GatewayTransfer

TRANSFERS = GatewayTransfer.__table__  # type: ignore[attr-defined]


class InvalidAccountError(Exception):
    """The gateway cannot pay into this account: a business rejection, never retried."""


class GatewayUnavailableError(Exception):
    """The gateway could not be reached or failed: transient, retried with backoff."""


@dataclass(frozen=True)
class Transfer:
    reference: str
    executed_at: datetime
    replayed: bool


class PaymentGateway(Protocol):
    def transfer(self, idempotency_key: str, account: BankAccount, amount: Decimal) -> Transfer: ...


class LedgerGateway:
    """The embedded gateway: a ledger table with a unique idempotency key.

    Accounts must have 16 to 19 digits (a mainland bank card number) and not be on the closed list.
    `fail_next(n)` makes the next n calls fail as an outage would, to exercise retries.
    """

    def __init__(self, engine: Engine, closed_accounts: frozenset[str] = frozenset()) -> None:
        self.engine = engine
        self.closed_accounts = closed_accounts
        self._failures = 0
        self._lock = threading.Lock()
        self.calls = 0

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures = count

    def transfer(self, idempotency_key: str, account: BankAccount, amount: Decimal) -> Transfer:
        with self._lock:
            self.calls += 1
            if self._failures > 0:
                self._failures -= 1
                raise GatewayUnavailableError("payment gateway unavailable (simulated outage)")
        existing = select(TRANSFERS.c.reference, TRANSFERS.c.executed_at) \
            .where(TRANSFERS.c.idempotency_key == idempotency_key)
        try:
            with self.engine.begin() as conn:
                done = conn.execute(existing).first()
                if done is not None:
                    return Transfer(done.reference, utc(done.executed_at), replayed=True)
                if not 16 <= len(account.number) <= 19:
                    raise InvalidAccountError(f"account {account.masked} is not a valid bank card number")
                if account.number in self.closed_accounts:
                    raise InvalidAccountError(f"account {account.masked} is closed")
                reference, executed_at = f"TRF-{uuid.uuid4().hex[:12]}", now_utc()
                conn.execute(insert(TRANSFERS).values(idempotency_key=idempotency_key, reference=reference,
                                                      amount=amount, account_number=account.number,
                                                      executed_at=executed_at))
            return Transfer(reference, executed_at, replayed=False)
        except IntegrityError:  # a concurrent execution of the same key got there first: it stands
            with self.engine.connect() as conn:
                done = conn.execute(existing).first()
            if done is None:
                raise  # not the key's: another constraint refused the row
            return Transfer(done.reference, utc(done.executed_at), replayed=True)


def build_gateway(spec: str, engine: Engine) -> PaymentGateway:
    """`ledger` for the embedded gateway, or `package.module:ClassName` for a real adapter."""
    if spec == "ledger":
        return LedgerGateway(engine)
    module_name, _, class_name = spec.partition(":")
    gateway_class = getattr(importlib.import_module(module_name), class_name)
    gateway: PaymentGateway = gateway_class(engine)
    return gateway
