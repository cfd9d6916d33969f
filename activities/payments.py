"""The pay activity: a payout is paid at most once, whatever retries, restarts or second starts happen, and
never beyond the policy's sum insured for the policy period of the incident.

The sum insured is held in the same transaction that books the payment: the policy's row is locked (a row
lock on PostgreSQL; on SQLite the transaction takes the database's write lock at its start), what the
policy's other payments of that period hold or have paid is added up, and the booking takes at most what
is left. Two claims paid at once therefore never overrun it. A `pending` booking keeps holding its amount
until the transfer is made; a rejected account releases it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.gateway import InvalidAccountError, PaymentGateway
from activities.policies import held_on_policy
from config.encryption import SealKeys, seal_text
from config.keyring import Keyring
from core.rules.payout import ZERO, cents
from db import event_log, ledger
from db.engine import SQLITE_BEGIN, now_utc, refuses_bad_data, utc
from models.contract import ErrorType
from models.messages import LedgerMove, PaymentReceipt, PaymentRequest
from models.tables import Claim, Payment, Policy, PolicyPeriod

log = structlog.get_logger(__name__)

PAYMENTS = Payment.__table__  # type: ignore[attr-defined]
CLAIMS = Claim.__table__  # type: ignore[attr-defined]
POLICIES = Policy.__table__  # type: ignore[attr-defined]
PERIODS = PolicyPeriod.__table__  # type: ignore[attr-defined]


def idempotency_key(claim_id: str, sequence: int) -> str:
    """Derived from the claim and the payout sequence only: never from a run id or an attempt."""
    return f"claim/{claim_id}/payout/{sequence}"


class PaymentActivities:
    def __init__(self, engine: Engine, gateway: PaymentGateway, keyring: Keyring, seal_keys: bytes | SealKeys,
                 report_timezone: str = "Asia/Shanghai") -> None:
        self.engine = engine
        self.gateway = gateway
        self.keyring = keyring
        self.seal_keys = seal_keys
        """Seal the payment's row in the financial ledger (db/ledger.py)."""
        self.report_timezone = report_timezone

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def pay(self, req: PaymentRequest) -> PaymentReceipt:
        key = idempotency_key(req.claim_id, req.sequence)
        logger = log.bind(claim_id=req.claim_id, idempotency_key=key)
        if req.amount <= 0 or req.amount != cents(req.amount):
            raise ApplicationError(f"payment amount must be a positive sum in cents, got {req.amount}",
                                   type=ErrorType.INVALID_UPDATE, non_retryable=True)
        booked = self._book(req, key)
        if booked.status == "paid":
            logger.info("payment already made", reference=booked.reference)
            assert booked.reference is not None and booked.paid_at is not None
            return booked.receipt(key, booked.reference, booked.paid_at, replayed=True)
        if booked.amount <= ZERO:
            logger.warning("nothing left of the sum insured", requested=str(req.amount))
            return PaymentReceipt(idempotency_key=key, reference="", amount=ZERO, paid_at=now_utc(),
                                  requested=req.amount)
        try:
            transfer = self.gateway.transfer(key, req.account, booked.amount)
        except InvalidAccountError as err:
            self._set_status(key, "rejected")
            logger.warning("payment rejected", reason=str(err))
            raise ApplicationError(str(err), type=ErrorType.INVALID_BANK_ACCOUNT, non_retryable=True) from err
        # The payment marked paid, the claim's paid amount and its ledger row, in one transaction under the claim's
        # lock (the ledger's rows are appended under it). Only a booking still pending is marked: another attempt of
        # the same payout (this one's retry, started while this one waited on the gateway) may have marked it, and
        # then the claim's paid amount and ledger have it already.
        with event_log.locked_for_claim(self.engine, req.claim_id) as conn:
            marked = conn.execute(update(PAYMENTS).where(PAYMENTS.c.idempotency_key == key,
                                                         PAYMENTS.c.status == "pending").values(
                status="paid", gateway_reference=transfer.reference, paid_at=transfer.executed_at))
            if marked.rowcount == 0:
                status = conn.execute(select(PAYMENTS.c.status).where(PAYMENTS.c.idempotency_key == key)).scalar()
                if status != "paid":
                    raise RuntimeError(f"the booking {key} is {status or 'gone'}, not pending: not marked paid")
                logger.info("payment already made", reference=transfer.reference)
                return booked.receipt(key, transfer.reference, transfer.executed_at, replayed=True)
            claim = conn.execute(select(CLAIMS.c.paid_amount, *ledger.FACT_COLUMNS)
                                 .where(CLAIMS.c.claim_id == req.claim_id)).first()
            if claim is not None:
                balance = Decimal(claim.paid_amount or ZERO) + booked.amount
                conn.execute(update(CLAIMS).where(CLAIMS.c.claim_id == req.claim_id).values(paid_amount=balance))
                ledger.append(conn, req.claim_id, ledger.facts_from(claim, self.report_timezone), key,
                              transfer.executed_at, LedgerMove(
                                  movement="payment", amount=booked.amount, balance=balance,
                                  cause=f"{req.kind} payment {req.sequence}", actor="system"),
                              now_utc(), self.seal_keys)
        logger.info("payment made", amount=str(booked.amount), reference=transfer.reference,
                    gateway_replayed=transfer.replayed)
        return booked.receipt(key, transfer.reference, transfer.executed_at, replayed=transfer.replayed)

    def _book(self, req: PaymentRequest, key: str) -> Booked:
        """The ledger row for this payout, holding its amount against the sum insured (at most what is
        left of it in the incident's policy period). A retry finds the row it booked before."""
        with self.engine.connect() as conn:
            conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})  # SQLite: the write lock before anything is read
            with conn.begin():
                claim = conn.execute(select(CLAIMS.c.policy_number, CLAIMS.c.policy_period)
                                     .where(CLAIMS.c.claim_id == req.claim_id)).first()
                if claim is not None and conn.dialect.name == "postgresql":  # the policy's row, locked
                    conn.execute(select(POLICIES.c.policy_number)
                                 .where(POLICIES.c.policy_number == claim.policy_number).with_for_update())
                row = conn.execute(select(PAYMENTS.c.amount, PAYMENTS.c.requested, PAYMENTS.c.status,
                                          PAYMENTS.c.gateway_reference, PAYMENTS.c.paid_at)
                                   .where(PAYMENTS.c.idempotency_key == key)).first()
                if row is not None and row.requested is not None and Decimal(row.requested) != req.amount:
                    raise ApplicationError(
                        f"payout {req.sequence} of claim {req.claim_id} was booked for {row.requested}, "
                        f"not {req.amount}", type=ErrorType.INVALID_UPDATE, non_retryable=True)
                if row is not None and row.status in ("paid", "pending"):
                    return Booked(Decimal(row.amount), _decimal(row.requested), row.status, row.gateway_reference,
                                  row.paid_at)
                amount = req.amount
                if claim is not None:
                    # The sum insured of the incident's policy period; a claim outside every period has none.
                    found = conn.execute(select(PERIODS.c.sum_insured).where(
                        PERIODS.c.policy_number == claim.policy_number,
                        PERIODS.c.effective_from == date.fromisoformat(claim.policy_period))).scalar() \
                        if claim.policy_period is not None else None
                    sum_insured = _decimal(found) or ZERO
                    held = held_on_policy(conn, claim.policy_number, claim.policy_period, except_key=key)
                    amount = cents(max(min(amount, sum_insured - held), ZERO))
                status = "pending" if amount > ZERO else "nothing_left"
                values = {"amount": amount, "status": status, "account_masked": req.account.masked,
                          "account_holder": seal_text(self.keyring, req.account.holder)}
                if row is None:
                    conn.execute(insert(PAYMENTS), {"claim_id": req.claim_id, "sequence": req.sequence,
                                                    "kind": req.kind, "idempotency_key": key,
                                                    "requested": req.amount, "created_at": now_utc(), **values})
                    return Booked(amount, req.amount, status, None, None)
                conn.execute(update(PAYMENTS).where(PAYMENTS.c.idempotency_key == key).values(**values))
                return Booked(amount, _decimal(row.requested), status, None, None)

    def _set_status(self, key: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(PAYMENTS).where(PAYMENTS.c.idempotency_key == key).values(status=status))


def _decimal(value: object) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


@dataclass(frozen=True)
class Booked:
    """A payout's booking as `_book` left it: what it holds, what was asked, and, once paid, the transfer."""

    amount: Decimal
    requested: Decimal | None
    status: str
    reference: str | None
    paid_at: datetime | None

    def receipt(self, key: str, reference: str, paid_at: datetime, replayed: bool) -> PaymentReceipt:
        """The answer for this booking paid by the transfer `reference` at `paid_at`."""
        return PaymentReceipt(idempotency_key=key, reference=reference, amount=self.amount, paid_at=utc(paid_at),
                              replayed=replayed, requested=self.requested)
