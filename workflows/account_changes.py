"""The claimant's bank account: one-time codes sent to the contact on file, a change of account proved by one, the
lock after wrong codes and a supervisor's release of it.

A part of the claim workflow (claim.py makes it), used by the updates in claim_updates.py, which check who sent each
request before anything here runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NoReturn

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.codes import CodeActivities
    from core.rules import authority
    from identity.codes import CODES_PER_DAY, MAX_WRONG_TRIES, RESEND_SECONDS
    from identity.tokens import sender_of
    from models.contract import (
        BankAccount,
        CodePurpose,
        ErrorType,
        ReleaseBankAccount,
        RequestCode,
        Role,
        Sender,
        UpdateAck,
        UpdateBankAccount,
    )
    from models.messages import CheckCode, CodeCheck, IssueCode, Recipient
    from workflows.claim_state import refuse
    from workflows.clocks import ClockedPart



def budget(purpose: str, credential: str | None) -> str:
    """The budget a code request spends: its purpose, and the verified sender that asked."""
    sender = sender_of(credential)
    return f"{purpose} for {sender.subject.casefold()}" if sender else purpose


class AccountChanges(ClockedPart):
    """Codes and bank-account changes on one claim."""

    # ------------------------------------------------------------------ codes

    async def request_code(self, req: RequestCode) -> UpdateAck:
        """Send a one-time code to the claimant's phone or e-mail on file (never to one given in the request)."""
        s = self.s
        claim, _ = s.require_ready()
        purpose = req.purpose.value
        sequence = s.codes_sent.get(purpose, 0) + 1
        s.codes_sent[purpose] = sequence
        spent = budget(purpose, req.credential)
        s.code_sent_at[spent] = [*self._codes_of_the_last_day(spent), workflow.now()]
        c = claim.claimant
        bank = req.purpose == CodePurpose.BANK_ACCOUNT
        if bank:
            s.code_account_last4 = req.account_last4
        issued = await self.shell.activity(CodeActivities.issue_code, IssueCode(
            claim_id=s.claim_id, purpose=req.purpose, sequence=sequence, at=workflow.now(),
            recipient=Recipient(name=c.name, channel=c.channel, phone=c.phone, email=c.email),
            account_last4=req.account_last4 if bank else None))
        s.code_expires_at[purpose] = issued.expires_at
        await self.shell.note("code_sent", detail=f"{purpose} code {sequence} by {issued.channel}",
                              sender=sender_of(req.credential))
        return self.shell.ack(f"a code was sent by {issued.channel} to the contact on file; "
                              f"it is valid until {issued.expires_at.isoformat()}")

    def check_request_code(self, req: RequestCode) -> None:
        s = self.s
        s.require_ready()
        purpose = req.purpose.value
        if req.purpose == CodePurpose.BANK_ACCOUNT and s.account_change_locked:
            raise refuse("request_code: bank-account changes are locked after wrong codes; a supervisor "
                         "must release them", ErrorType.NOT_AUTHORIZED)
        recent = self._codes_of_the_last_day(budget(purpose, req.credential))
        if len(recent) >= CODES_PER_DAY:
            raise refuse(f"request_code: {CODES_PER_DAY} {purpose} codes were sent in the last 24 hours; "
                         f"the next may be sent from {(recent[0] + timedelta(days=1)).isoformat()}")
        if recent and (workflow.now() - recent[-1]).total_seconds() < RESEND_SECONDS:
            raise refuse(f"request_code: a {purpose} code was sent less than {RESEND_SECONDS} seconds ago")

    def _codes_of_the_last_day(self, spent: str) -> list[datetime]:
        since = workflow.now() - timedelta(days=1)
        return [at for at in self.s.code_sent_at.get(spent, []) if at > since]

    # ------------------------------------------------------------------ the account

    async def update_bank_account(self, req: UpdateBankAccount) -> UpdateAck:
        """Replay-safe without a patch: the validator lets no change in without a code, so a history holds an
        update without one only if it was recorded before codes existed, and then replays down the old branch;
        one with a code replays the code check that was recorded (its activity result is in the history)."""
        s = self.s
        sender = sender_of(req.credential)
        if req.code is not None:
            s.account_change_checking = True
            try:
                checked = await self.shell.activity(CodeActivities.check_code, CheckCode(
                    claim_id=s.claim_id, purpose=CodePurpose.BANK_ACCOUNT, code=req.code, at=workflow.now()))
            finally:
                s.account_change_checking = False
            if checked != CodeCheck.OK:
                await self._wrong_code(checked, sender)
            old = s.bank_account
            s.bank_account = BankAccount(holder=req.holder, number=req.number)
            s.account_updated = True
            s.account_code_failures = 0
            self.shell.notify("bank_account_changed", {
                "old_account": old.masked if old else None, "new_account": s.bank_account.masked,
                "changed_at": workflow.now()})
        elif workflow.unsafe.is_replaying():  # recorded before bank-account codes: the change needed none
            s.bank_account = BankAccount(holder=req.holder, number=req.number)
            s.account_updated = True
        else:  # the validator refuses this; never change an account without the claimant's code
            raise refuse("update_bank_account: code: the claimant's one-time code is required",
                         ErrorType.CODE_REFUSED)
        await self.shell.note("bank_account_updated", detail=f"account {s.bank_account.masked}", sender=sender)
        return self.shell.ack("bank account updated")

    async def _wrong_code(self, checked: CodeCheck, sender: Sender | None) -> NoReturn:
        """Count a code that did not prove the claimant; the third locks account changes and tells a supervisor."""
        s = self.s
        s.account_code_failures += 1
        tries_left = MAX_WRONG_TRIES - s.account_code_failures
        await self.shell.note("bank_account_code_refused", sender=sender,
                              detail=f"code {checked.value}; {max(tries_left, 0)} tries left")
        if tries_left <= 0 and not s.account_change_locked:
            s.account_change_locked = True
            await self.shell.note("bank_account_locked", detail=f"{s.account_code_failures} wrong codes", sender=sender)
            account = s.bank_account.masked if s.bank_account else "none on file"
            self.clocks.notify_staff("bank_account_locked", Role.SUPERVISOR, {
                "tries": s.account_code_failures, "account": account,
                "sender": sender.subject if sender else "unknown"})
        reason = {CodeCheck.EXPIRED: "the code has expired; request a new one",
                  CodeCheck.USED: "the code has been used; request a new one",
                  CodeCheck.NONE: "no code has been sent; request one",
                  CodeCheck.LOCKED: "the code is void after wrong tries; request a new one"}.get(
            checked, "the code is wrong")
        locked = "; bank-account changes are now locked" if s.account_change_locked else \
            f"; {tries_left} tries left"
        raise refuse(f"update_bank_account: code: {reason}{locked}", ErrorType.CODE_REFUSED)

    def check_update_bank_account(self, req: UpdateBankAccount) -> None:
        s = self.s
        if s.account_change_locked:
            raise refuse("update_bank_account: changes are locked after wrong codes; a supervisor must release "
                         "them", ErrorType.NOT_AUTHORIZED)
        if req.code is None:
            raise refuse("update_bank_account: code: the one-time code sent to the claimant's phone or e-mail on "
                         "file is required (request_code with purpose bank_account)", ErrorType.CODE_REFUSED)
        expires = s.code_expires_at.get(CodePurpose.BANK_ACCOUNT.value)
        if expires is None or workflow.now() >= expires:
            raise refuse("update_bank_account: code: no valid code has been sent; request a new one",
                         ErrorType.CODE_REFUSED)
        if s.code_account_last4 is not None and not req.number.endswith(s.code_account_last4):
            raise refuse(f"update_bank_account: number: the code was sent for an account ending "
                         f"{s.code_account_last4}; ask for a code for this account", ErrorType.CODE_REFUSED)
        if s.transfer_in_flight:
            raise refuse("update_bank_account: a payment is being made to the account on file; try again shortly")

    # ------------------------------------------------------------------ the lock

    async def release(self, req: ReleaseBankAccount) -> UpdateAck:
        self.s.account_change_locked = False
        self.s.account_code_failures = 0
        for spent in [k for k in self.s.code_sent_at if k.split(" for ")[0] == CodePurpose.BANK_ACCOUNT.value]:
            del self.s.code_sent_at[spent]
        await self.shell.note("bank_account_released", by=req.by, detail=req.reason, sender=sender_of(req.credential))
        return self.shell.ack("bank-account changes are possible again, with a new code")

    def check_release(self, req: ReleaseBankAccount) -> None:
        if not self.s.account_change_locked:
            raise refuse("release_bank_account: bank-account changes are not locked")
        if authority.RANK[req.role] < authority.RANK[Role.SUPERVISOR]:
            raise refuse("release_bank_account: a supervisor or manager releases the lock", ErrorType.NOT_AUTHORIZED)
