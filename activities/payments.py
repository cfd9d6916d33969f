"""The pay activity: a payout is paid at most once, whatever retries, restarts or second starts happen."""

from __future__ import annotations

from decimal import Decimal

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.engine import insert_once, now_utc, refuses_bad_data, utc
from activities.gateway import InvalidAccountError, PaymentGateway
from models.contract import ErrorType
from models.messages import PaymentReceipt, PaymentRequest
from models.tables import Claim, Payment

log = structlog.get_logger(__name__)


def idempotency_key(claim_id: str, sequence: int) -> str:
    """Derived from the claim and the payout sequence only: never from a run id or an attempt."""
    return f"claim/{claim_id}/payout/{sequence}"


class PaymentActivities:
    def __init__(self, engine: Engine, gateway: PaymentGateway) -> None:
        self.engine = engine
        self.gateway = gateway

    @activity.defn
    @refuses_bad_data
    def pay(self, req: PaymentRequest) -> PaymentReceipt:
        key = idempotency_key(req.claim_id, req.sequence)
        logger = log.bind(claim_id=req.claim_id, idempotency_key=key)
        if req.amount <= 0:
            raise ApplicationError(f"payment amount must be positive, got {req.amount}",
                                   type=ErrorType.INVALID_UPDATE, non_retryable=True)
        with Session(self.engine) as session:
            row = self._ledger_row(session, req, key)
            if row.status == "paid":
                logger.info("payment already made", reference=row.gateway_reference)
                return self._receipt(row, replayed=True)
            if row.amount != req.amount:
                raise ApplicationError(
                    f"payout {req.sequence} of claim {req.claim_id} is booked at {row.amount}, not {req.amount}",
                    non_retryable=True)
            row.account_holder, row.account_masked = req.account.holder, req.account.masked
            try:
                transfer = self.gateway.transfer(key, req.account, req.amount)
            except InvalidAccountError as err:
                row.status = "rejected"
                session.add(row)
                session.commit()
                logger.warning("payment rejected", reason=str(err))
                raise ApplicationError(str(err), type=ErrorType.INVALID_BANK_ACCOUNT, non_retryable=True) from err
            row.status, row.gateway_reference, row.paid_at = "paid", transfer.reference, transfer.executed_at
            session.add(row)
            claim = session.get(Claim, req.claim_id)
            if claim is not None:
                claim.paid_amount = Decimal(claim.paid_amount) + req.amount
                session.add(claim)
            session.commit()
            session.refresh(row)
            logger.info("payment made", amount=str(req.amount), reference=transfer.reference,
                        gateway_replayed=transfer.replayed)
            return self._receipt(row, replayed=transfer.replayed)

    def _ledger_row(self, session: Session, req: PaymentRequest, key: str) -> Payment:
        existing = select(Payment).where(Payment.idempotency_key == key)
        row = session.exec(existing).first()
        if row is not None:
            return row
        return insert_once(session, Payment(
            claim_id=req.claim_id, sequence=req.sequence, kind=req.kind, idempotency_key=key, amount=req.amount,
            account_holder=req.account.holder, account_masked=req.account.masked, status="pending",
            created_at=now_utc()), existing)

    @staticmethod
    def _receipt(row: Payment, replayed: bool) -> PaymentReceipt:
        assert row.paid_at is not None and row.gateway_reference is not None
        return PaymentReceipt(idempotency_key=row.idempotency_key, reference=row.gateway_reference,
                              amount=Decimal(row.amount), paid_at=utc(row.paid_at), replayed=replayed)
