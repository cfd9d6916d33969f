"""Policies and their periods of cover: the lookups intake, payment and the `policies load` command share.

A policy has one row of its latest terms (`Policy`) and a row per period it has had (`PolicyPeriod`): a claim is
covered by the period its incident fell in, and holds that period's sum insured."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlalchemy import func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select
from temporalio.exceptions import ApplicationError

from models.contract import ErrorType, PolicyTerms
from models.tables import Claim, Payment, Policy, PolicyPeriod

CLAIMS = Claim.__table__  # type: ignore[attr-defined]
PAYMENTS = Payment.__table__  # type: ignore[attr-defined]


def policy_row(session: Session, policy_number: str) -> Policy:
    policy = session.get(Policy, policy_number)
    if policy is None:
        raise ApplicationError(f"unknown policy {policy_number!r} (field policy_number)",
                               type=ErrorType.UNKNOWN_POLICY, non_retryable=True)
    return policy


def policy_terms(policy: Policy | PolicyPeriod) -> PolicyTerms:
    return PolicyTerms.model_validate(policy.model_dump())


def periods_of(session: Session, policy_number: str) -> list[PolicyPeriod]:
    """Every period the policy has had, the latest first."""
    return list(session.exec(select(PolicyPeriod).where(PolicyPeriod.policy_number == policy_number)
                             .order_by(col(PolicyPeriod.effective_from).desc())).all())


def period_on(session: Session, policy_number: str, day: date) -> PolicyPeriod | None:
    """The period of the policy an incident on this day falls in (of overlapping ones, the latest); None when
    the day is outside every period of cover."""
    return next((p for p in periods_of(session, policy_number) if p.effective_from <= day <= p.effective_to), None)


def period_key(period: PolicyPeriod | None) -> str | None:
    """How a claim names its policy period: the day it starts (so an extended end date keeps one sum insured)."""
    return period.effective_from.isoformat() if period is not None else None


def period_named(session: Session, policy_number: str, key: str | None) -> PolicyPeriod | None:
    if key is None:
        return None
    return session.get(PolicyPeriod, (policy_number, date.fromisoformat(key)))


def status_on(policy: Policy | PolicyPeriod, day: date) -> str:
    """The policy's status on a day: a lapse or cancellation counts from the day it took effect."""
    if policy.status != "active" and policy.status_since is not None and day < policy.status_since:
        return "active"
    return policy.status


def held_on_policy(db: Session | Connection, policy_number: str, period: str | None, *,
                   except_key: str | None = None, except_claim: str | None = None) -> Decimal:
    """What the policy has paid, or holds for payments under way, in one policy period (in a session's or a
    connection's transaction)."""
    query = (sa_select(func.coalesce(func.sum(PAYMENTS.c.amount), 0))
             .select_from(PAYMENTS.join(CLAIMS, CLAIMS.c.claim_id == PAYMENTS.c.claim_id))
             .where(CLAIMS.c.policy_number == policy_number, CLAIMS.c.policy_period == period,
                    or_(PAYMENTS.c.status == "pending", PAYMENTS.c.status == "paid")))
    if except_key is not None:
        query = query.where(PAYMENTS.c.idempotency_key != except_key)
    if except_claim is not None:
        query = query.where(PAYMENTS.c.claim_id != except_claim)
    return Decimal(str(db.execute(query).scalar_one()))


def load_policies(engine: Engine, policies: Iterable[PolicyTerms]) -> int:
    """Load policies (the `policies load` command). Terms for a period the policy already has (the same first
    day) replace that period's terms, as an endorsement does; terms for a new period (a renewal) add it and keep
    the periods before, whose claims stay covered by them. `policies` keeps each policy's latest terms."""
    count = 0
    with Session(engine) as session:
        for terms in policies:
            values = terms.model_dump()
            period = session.get(PolicyPeriod, (terms.policy_number, terms.effective_from))
            latest = session.get(Policy, terms.policy_number)
            if period is None:
                session.add(PolicyPeriod(**values))
            if latest is None:
                session.add(Policy(**values))
            # an older period loaded late leaves the policy's latest terms as they are
            stale = latest is not None and latest.effective_from > terms.effective_from
            for row in [r for r in (period, None if stale else latest) if r is not None]:
                for name, value in values.items():
                    setattr(row, name, value)
                session.add(row)
            session.flush()
            count += 1
        session.commit()
    return count
