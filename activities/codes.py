"""One-time codes: sent to the claimant's phone or e-mail on file through the notification outbox, and checked
with their wrong tries counted in the database (so every worker and API process sees the same count).

The workflow asks for a code (`request_code`) and checks the bank-account code through `check_code`, an
activity, so the check's result is in the claim's history and replays the same whatever the secret is later.
The HTTP API checks progress codes with `check` directly.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio import activity

from activities.engine import insert_once, lock_for_write, refuses_bad_data, utc
from activities.notifications import NotificationActivities
from identity import codes
from models.contract import CodePurpose
from models.messages import CheckCode, CodeCheck, CodeIssued, IssueCode, NotificationRequest
from models.tables import VerificationCode

log = structlog.get_logger(__name__)


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


class CodeActivities:
    def __init__(self, engine: Engine, secret: bytes, letters: NotificationActivities) -> None:
        self.engine = engine
        self.secret = secret
        self.letters = letters

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def issue_code(self, req: IssueCode) -> CodeIssued:
        """Record the code and send it. A retry sends the same code (it is derived, not drawn), and the outbox
        sends each letter once."""
        expires_at = utc(req.at) + timedelta(minutes=codes.VALID_MINUTES)
        with Session(self.engine) as session:
            existing = select(VerificationCode).where(
                VerificationCode.claim_id == req.claim_id, VerificationCode.purpose == req.purpose.value,
                VerificationCode.sequence == req.sequence)
            row = insert_once(session, VerificationCode(
                claim_id=req.claim_id, purpose=req.purpose.value, sequence=req.sequence, issued_at=utc(req.at),
                expires_at=expires_at), existing)
            expires_at = utc(row.expires_at)
        code = codes.derive(self.secret, req.claim_id, req.purpose.value, req.sequence)
        self.letters.notify(NotificationRequest(
            claim_id=req.claim_id, kind=f"code_{req.purpose.value}", sequence=req.sequence, recipient=req.recipient,
            context={"code": code, "expires_at": expires_at, "minutes": codes.VALID_MINUTES}))
        log.info("one-time code sent", claim_id=req.claim_id, purpose=req.purpose.value, sequence=req.sequence)
        return CodeIssued(expires_at=expires_at, channel=req.recipient.channel)

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def check_code(self, req: CheckCode) -> CodeCheck:
        result = check(self.engine, self.secret, req.claim_id, req.purpose, req.code, req.at)
        log.info("one-time code checked", claim_id=req.claim_id, purpose=req.purpose.value, result=result.value)
        return result
