"""One-time codes' state in the database: each check counts a wrong try under a row lock, so every worker and API
process sees the same count; a bank-account code is used once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db.engine import lock_for_write, utc
from identity import codes
from models.contract import CodePurpose
from models.messages import CodeCheck
from models.tables import VerificationCode


def check(engine: Engine, secret: bytes, claim_id: str, purpose: CodePurpose, given: str, at: datetime) -> CodeCheck:
    """Check a code against the claim's latest one for this purpose, counting a wrong try. A bank-account code
    is used once; a progress code may be used again until it expires."""
    with Session(engine) as session:
        latest = (select(VerificationCode).where(VerificationCode.claim_id == claim_id,
                                                 VerificationCode.purpose == purpose.value)
                  .order_by(col(VerificationCode.sequence).desc()).limit(1))
        lock_for_write(session, latest)
        row = session.exec(latest).first()
        if row is None:
            return CodeCheck.NONE
        if row.wrong_tries >= codes.MAX_WRONG_TRIES:
            return CodeCheck.LOCKED
        if utc(row.expires_at) <= utc(at):
            return CodeCheck.EXPIRED
        if row.used_at is not None and purpose == CodePurpose.BANK_ACCOUNT:
            return CodeCheck.USED
        if not codes.matches(secret, claim_id, purpose.value, row.sequence, given):
            row.wrong_tries += 1
            session.add(row)
            session.commit()
            return CodeCheck.LOCKED if row.wrong_tries >= codes.MAX_WRONG_TRIES else CodeCheck.WRONG
        if row.used_at is None:
            row.used_at = utc(at)
            session.add(row)
        session.commit()
        return CodeCheck.OK


def tries_left(engine: Engine, claim_id: str, purpose: CodePurpose) -> int:
    """The wrong tries the claim's latest code of this purpose still allows (none when there is no code)."""
    with Session(engine) as session:
        row = session.exec(select(VerificationCode).where(
            VerificationCode.claim_id == claim_id, VerificationCode.purpose == purpose.value)
            .order_by(col(VerificationCode.sequence).desc()).limit(1)).first()
    return 0 if row is None else max(0, codes.MAX_WRONG_TRIES - row.wrong_tries)
