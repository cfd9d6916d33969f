"""A bank-account change needs the claimant's proof (docs/rules.md#identity-and-access): a one-time code sent to the
phone or e-mail on file through the notification outbox. A wrong code is counted; the third locks account changes and
alerts a supervisor; the claimant is told of a change on the contact on file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy.engine import Engine

from activities.codes import CodeActivities
from activities.notifications import NotificationActivities
from config.encryption import open_text
from db.engine import make_engine
from db.schema import upgrade
from db.verification_codes import check
from identity import codes
from letters.render import Renderer
from letters.senders import FileSender
from letters.sms import LIMIT
from models.contract import CodePurpose, workflow_id_for
from models.messages import CodeCheck, IssueCode, Recipient
from testkit.claims import auto_claim, docs
from testkit.world import TEST_KEYRING

NEW_ACCOUNT = {"holder": "Li Lei", "number": "6222000011113333"}


def wrong(code: str) -> str:
    return str((int(code) + 1) % 10**codes.DIGITS).zfill(codes.DIGITS)


async def waiting_for_documents(claims) -> str:
    claim = auto_claim(documents=docs("claim_form", claim_id="x"))
    await claims.start(claim)
    await claims.at_stage(claim["claim_id"], "awaiting_documents")
    return claim["claim_id"]


async def test_the_code_goes_to_the_contact_on_file_and_changes_the_account_once(claims):
    cid = await waiting_for_documents(claims)
    await claims.update(cid, "request_code", {"purpose": "bank_account"})
    [letter] = claims.notices(cid, "code_bank_account")
    assert (letter.channel, letter.recipient) == ("sms", "138****0000"), "the code went somewhere else than on file"
    code = claims.code_sent(cid)

    refused = await claims.refused(cid, "update_bank_account", {**NEW_ACCOUNT, "code": wrong(code)})
    assert refused.type == "ClaimantCodeRefused" and "2 tries left" in refused.message, refused.message
    await claims.update(cid, "update_bank_account", {**NEW_ACCOUNT, "code": code})
    again = await claims.refused(cid, "update_bank_account", {"holder": "Mallory", "number": "6222000099990000",
                                                             "code": code})
    assert "used" in again.message, "a bank-account code changed the account twice"

    status = await claims.status(cid)
    events = [e["event"] for e in status["timeline"]]
    assert events.count("bank_account_updated") == 1 and events.count("bank_account_code_refused") == 2
    [told] = await claims.sent(cid, "bank_account_changed")
    assert told.recipient == "138****0000" and "****3333" in told.body and "****2222" in told.body
    assert code not in str(status), "the status shows a one-time code"


async def test_the_code_names_the_new_account_and_changes_the_account_only_to_that_one(claims):
    """A claimant tricked into passing the code on reads whose account it would pay; and the code, once named
    for an account, changes the account to no other."""
    cid = await waiting_for_documents(claims)
    await claims.update(cid, "request_code", {"purpose": "bank_account", "account_last4": "3333"})
    [letter] = claims.notices(cid, "code_bank_account")
    sms = open_text(TEST_KEYRING, letter.text or "")
    assert "尾号 <strong>3333</strong>" in letter.body, letter.body
    assert "尾号3333" in sms and len(sms) <= LIMIT, sms
    code = claims.code_sent(cid)
    other = await claims.refused(cid, "update_bank_account", {"holder": "Mallory", "number": "6222000099990000",
                                                             "code": code})
    assert other.type == "ClaimantCodeRefused" and "ending 3333" in other.message, other.message
    await claims.update(cid, "update_bank_account", {**NEW_ACCOUNT, "code": code})
    [told] = await claims.sent(cid, "bank_account_changed")
    assert "****3333" in told.body, "the account ending 3333 is the one the claim now pays to"


async def test_three_wrong_codes_lock_changes_and_alert_a_supervisor_who_releases_them(claims):
    cid = await waiting_for_documents(claims)
    await claims.update(cid, "request_code", {"purpose": "bank_account"})
    code = claims.code_sent(cid)
    for _ in range(codes.MAX_WRONG_TRIES):
        await claims.refused(cid, "update_bank_account", {"holder": "Mallory", "number": "6222000099990000",
                                                         "code": wrong(code)})
    locked = await claims.refused(cid, "update_bank_account", {**NEW_ACCOUNT, "code": code})
    assert locked.type == "NotAuthorized" and "locked" in locked.message
    assert (await claims.refused(cid, "request_code", {"purpose": "bank_account"})).type == "NotAuthorized"
    [alert] = await claims.sent(cid, "bank_account_locked")
    assert alert.channel == "email" and "主管" in alert.subject + alert.body, "staff letters are in Chinese"

    adjuster = await claims.refused(cid, "release_bank_account", {"by": "adj-1", "role": "adjuster",
                                                                  "reason": "called the claimant"})
    assert adjuster.type == "NotAuthorized"
    await claims.update(cid, "release_bank_account", {"by": "sup-1", "role": "supervisor",
                                                      "reason": "claimant verified by phone"})
    await claims.skip(61)  # past the least time between two codes
    await claims.change_bank_account(cid, NEW_ACCOUNT)
    events = [e["event"] for e in (await claims.status(cid))["timeline"]]
    assert events.count("bank_account_locked") == 1 and "bank_account_updated" in events[-2:], events


async def test_codes_are_a_minute_apart_and_a_few_a_day_for_each_sender(claims):
    cid = await waiting_for_documents(claims)
    await claims.update(cid, "request_code", {"purpose": "progress"})
    burst = await claims.refused(cid, "request_code", {"purpose": "progress"})
    assert "seconds ago" in burst.message
    for _ in range(4):
        await claims.skip(61)
        await claims.update(cid, "request_code", {"purpose": "progress"})
    await claims.skip(61)
    assert "24 hours" in (await claims.refused(cid, "request_code", {"purpose": "progress"})).message
    await claims.update(cid, "request_code", {"purpose": "bank_account"})  # each purpose has its own count
    # Strangers asking through the anonymous page spend that page's budget, never the call centre's:
    await claims.update(cid, "request_code", await claims.proved(workflow_id_for(cid), "request_code",
                                                                 {"purpose": "progress"}, "call-centre", "channel"))
    await claims.skip(24 * 3600)
    await claims.update(cid, "request_code", {"purpose": "progress"})
    assert len(claims.notices(cid, "code_progress")) == 7


# --------------------------------------------------------------------------- the code book on its own


class CodeBook(RuleBasedStateMachine):
    """Random sequences of codes sent, right and wrong tries, and time passing, against a model: a code is
    accepted only while it is the latest, unexpired, not voided by wrong tries and (for a bank account) unused."""

    engine: Engine
    outbox: Path

    @initialize()
    def start(self) -> None:
        self.claim_id = f"CB-{id(self)}-{datetime.now(UTC).timestamp()}"
        self.secret = b"s" * 32
        self.now = datetime(2026, 11, 22, tzinfo=UTC)
        self.issued = 0
        self.model: dict[str, object] = {}
        self.sender = CodeActivities(self.engine, self.secret, NotificationActivities(
            self.engine, Renderer(), FileSender(self.outbox, TEST_KEYRING), TEST_KEYRING))

    def _latest(self) -> tuple[int, datetime, int, bool] | None:
        return self.model.get("latest")  # type: ignore[return-value]

    @rule()
    def send(self) -> None:
        self.issued += 1
        self.sender.issue_code(IssueCode(claim_id=self.claim_id, purpose=CodePurpose.BANK_ACCOUNT,
                                         sequence=self.issued, at=self.now,
                                         recipient=Recipient(name="Li Lei", channel="sms", phone="13800000000")))
        self.model["latest"] = (self.issued, self.now + timedelta(minutes=codes.VALID_MINUTES), 0, False)

    @rule(right=st.booleans(), which=st.integers(min_value=0, max_value=3))
    def attempt(self, right: bool, which: int) -> None:
        latest = self._latest()
        sequence = max(1, (latest[0] if latest else 1) - which)
        given = codes.derive(self.secret, self.claim_id, "bank_account", sequence)
        if not right:
            given = wrong(given)
        got = check(self.engine, self.secret, self.claim_id, CodePurpose.BANK_ACCOUNT, given, self.now)
        if latest is None:
            assert got == CodeCheck.NONE
            return
        number, expires, tries, used = latest
        correct = right and sequence == number
        if tries >= codes.MAX_WRONG_TRIES:
            assert got == CodeCheck.LOCKED
        elif expires <= self.now:
            assert got == CodeCheck.EXPIRED
        elif used:
            assert got == CodeCheck.USED
        elif correct:
            assert got == CodeCheck.OK
            self.model["latest"] = (number, expires, tries, True)
        else:
            tries += 1
            assert got == (CodeCheck.LOCKED if tries >= codes.MAX_WRONG_TRIES else CodeCheck.WRONG), got
            self.model["latest"] = (number, expires, tries, used)

    @rule(minutes=st.integers(min_value=1, max_value=15))
    def wait(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @invariant()
    def codes_are_six_digits(self) -> None:
        if self.issued:
            code = codes.derive(self.secret, self.claim_id, "bank_account", self.issued)
            assert len(code) == codes.DIGITS and code.isdigit()


def test_a_code_is_accepted_only_while_it_may_be(tmp_path):
    CodeBook.engine = make_engine(f"sqlite:///{tmp_path / 'codes.db'}")
    CodeBook.outbox = tmp_path / "outbox"
    upgrade(CodeBook.engine)
    run_state_machine_as_test(CodeBook, settings=settings(max_examples=60, stateful_step_count=20, deadline=None,
                                                          suppress_health_check=list(HealthCheck)))
