"""The pay activity: a payout is paid at most once, whatever retries, restarts or second starts happen, and
never beyond the policy's sum insured for the policy period of the incident.

The sum insured is held in the same transaction that books the payment: the policy's row is locked (a row
lock on PostgreSQL; on SQLite the transaction takes the database's write lock at its start), what the
policy's other payments of that period hold or have paid is added up, and the booking takes at most what
is left. Two claims paid at once therefore never overrun it. A `pending` booking keeps holding its amount
until the transfer is made; a rejected account releases it.
"""

from __future__ import annotations

from decimal import Decimal

import structlog
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.database import held_on_policy, period_named
from activities.gateway import InvalidAccountError, PaymentGateway
from config.encryption import SealKeys, seal_text
from config.keyring import Keyring
from core.rules.payout import ZERO, cents
from db import ledger
from db.engine import SQLITE_BEGIN, lock_for_write, now_utc, refuses_bad_data, utc
from models.contract import ErrorType
from models.messages import LedgerMove, PaymentReceipt, PaymentRequest
from models.tables import Claim, Payment, Policy

log = structlog.get_logger(__name__)


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
        row = self._book(req, key)
        if row.status == "paid":
            logger.info("payment already made", reference=row.gateway_reference)
            return self._receipt(row, replayed=True)
        if row.amount <= ZERO:
            logger.warning("nothing left of the sum insured", requested=str(req.amount))
            return PaymentReceipt(idempotency_key=key, reference="", amount=ZERO, paid_at=now_utc(),
                                  requested=req.amount)
        try:
            transfer = self.gateway.transfer(key, req.account, Decimal(row.amount))
        except InvalidAccountError as err:
            self._set_status(key, "rejected")
            logger.warning("payment rejected", reason=str(err))
            raise ApplicationError(str(err), type=ErrorType.INVALID_BANK_ACCOUNT, non_retryable=True) from err
        with Session(self.engine, expire_on_commit=False) as session:  # the rows as written: no reload
            conn = session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
            ledger.lock_claim(conn, req.claim_id)  # the ledger's row is written in the transaction that books it
            booked = session.exec(select(Payment).where(Payment.idempotency_key == key)).one()
            booked.status, booked.gateway_reference, booked.paid_at = "paid", transfer.reference, transfer.executed_at
            session.add(booked)
            claim = session.get(Claim, req.claim_id)
            if claim is not None:
                claim.paid_amount = Decimal(claim.paid_amount) + Decimal(booked.amount)
                session.add(claim)
                facts = ledger.facts_of(conn, req.claim_id, self.report_timezone)
                assert facts is not None
                ledger.append(conn, req.claim_id, facts, key, transfer.executed_at, LedgerMove(
                    movement="payment", amount=Decimal(booked.amount), balance=Decimal(claim.paid_amount),
                    cause=f"{req.kind} payment {req.sequence}", actor="system"), now_utc(), self.seal_keys)
            session.commit()
        logger.info("payment made", amount=str(booked.amount), reference=transfer.reference,
                    gateway_replayed=transfer.replayed)
        return self._receipt(booked, replayed=transfer.replayed)

    def _book(self, req: PaymentRequest, key: str) -> Payment:
        """The ledger row for this payout, holding its amount against the sum insured (at most what is
        left of it in the incident's policy period). A retry finds the row it booked before."""
        with Session(self.engine, expire_on_commit=False) as session:  # the row as written: no reload
            claim = session.get(Claim, req.claim_id)
            policy_number = claim.policy_number if claim is not None else None
            if policy_number is not None:
                lock_for_write(session, sa_select(Policy).where(col(Policy.policy_number) == policy_number))
            row = session.exec(select(Payment).where(Payment.idempotency_key == key)).first()
            if row is not None and row.requested is not None and Decimal(row.requested) != req.amount:
                raise ApplicationError(
                    f"payout {req.sequence} of claim {req.claim_id} was booked for {row.requested}, "
                    f"not {req.amount}", type=ErrorType.INVALID_UPDATE, non_retryable=True)
            if row is not None and row.status in ("paid", "pending"):
                return row
            amount = req.amount
            if policy_number is not None and claim is not None:
                # The sum insured of the incident's policy period; a claim outside every period has none.
                period = period_named(session, policy_number, claim.policy_period)
                sum_insured = Decimal(period.sum_insured) if period is not None else ZERO
                held = held_on_policy(session, policy_number, claim.policy_period, except_key=key)
                amount = cents(max(min(amount, sum_insured - held), ZERO))
            if row is None:
                row = Payment(claim_id=req.claim_id, sequence=req.sequence, kind=req.kind, idempotency_key=key,
                              amount=amount, requested=req.amount,
                              account_holder=seal_text(self.keyring, req.account.holder),
                              account_masked=req.account.masked, status="pending", created_at=now_utc())
            row.amount, row.status = amount, "pending" if amount > ZERO else "nothing_left"
            row.account_holder = seal_text(self.keyring, req.account.holder)
            row.account_masked = req.account.masked
            session.add(row)
            session.commit()
            return row

    def _set_status(self, key: str, status: str) -> None:
        with Session(self.engine) as session:
            row = session.exec(select(Payment).where(Payment.idempotency_key == key)).one()
            row.status = status
            session.add(row)
            session.commit()

    @staticmethod
    def _receipt(row: Payment, replayed: bool) -> PaymentReceipt:
        assert row.paid_at is not None and row.gateway_reference is not None
        return PaymentReceipt(idempotency_key=row.idempotency_key, reference=row.gateway_reference,
                              amount=Decimal(row.amount), paid_at=utc(row.paid_at), replayed=replayed,
                              requested=Decimal(row.requested) if row.requested is not None else None)
