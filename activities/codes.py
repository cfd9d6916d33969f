"""One-time codes: sent to the claimant's phone or e-mail on file through the notification outbox, and checked
with their wrong tries counted in the database (so every worker and API process sees the same count).

The workflow asks for a code (`request_code`) and checks the bank-account code through `check_code`, an
activity, so the check's result is in the claim's history and replays the same whatever the secret is later.
The HTTP API checks progress codes with `check` directly.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity

from activities.notifications import NotificationActivities
from db.engine import insert_once, refuses_bad_data, utc
from db.verification_codes import check
from identity import codes
from models.contract import CodePurpose
from models.messages import CheckCode, CodeCheck, CodeIssued, IssueCode, NotificationRequest, PlanCode, PlannedCode
from models.tables import VerificationCode

log = structlog.get_logger(__name__)


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
            context={"code": code, "expires_at": expires_at, "minutes": codes.VALID_MINUTES,
                     "account_last4": req.account_last4}))
        log.info("one-time code sent", claim_id=req.claim_id, purpose=req.purpose.value, sequence=req.sequence)
        return CodeIssued(expires_at=expires_at, channel=req.recipient.channel)

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def check_code(self, req: CheckCode) -> CodeCheck:
        result = check(self.engine, self.secret, req.claim_id, req.purpose, req.code, req.at)
        log.info("one-time code checked", claim_id=req.claim_id, purpose=req.purpose.value, result=result.value)
        return result

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def plan_progress_code(self, req: PlanCode) -> PlannedCode:
        """The number of an ended claim's next progress code, from the codes it sent (while it ran, and since);
        refused when the last went out less than a minute ago or five went out in a day. Its workflow runs one
        at a time per claim, so two requests never take one number."""
        with Session(self.engine) as session:
            sent = session.exec(select(VerificationCode).where(
                VerificationCode.claim_id == req.claim_id,
                VerificationCode.purpose == CodePurpose.PROGRESS.value)).all()
        at = utc(req.at)
        recent = sorted(utc(row.issued_at) for row in sent if utc(row.issued_at) > at - timedelta(days=1))
        if len(recent) >= codes.CODES_PER_DAY:
            after = (recent[0] + timedelta(days=1)).isoformat()
            return PlannedCode(refused=f"request_code: {codes.CODES_PER_DAY} progress codes were sent in the last 24 "
                                       f"hours; the next may be sent from {after}")
        if recent and (at - recent[-1]).total_seconds() < codes.RESEND_SECONDS:
            return PlannedCode(refused=f"request_code: a progress code was sent less than {codes.RESEND_SECONDS} "
                                       "seconds ago")
        return PlannedCode(sequence=max((row.sequence for row in sent), default=0) + 1)
