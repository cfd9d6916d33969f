"""Activities against real databases: the same tests on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError

from activities.database import ClaimsDatabase
from activities.gateway import LedgerGateway
from activities.notifications import NotificationActivities
from activities.payments import PaymentActivities, idempotency_key
from config.encryption import open_text
from config.rules import CLAUSES
from letters.render import Renderer
from letters.senders import FileSender, read_letter
from models.contract import BankAccount, ClaimInput
from models.messages import (
    AssessRisk,
    ClaimEvent,
    ComputePayout,
    NotificationRequest,
    PaymentRequest,
    Recipient,
    RegisterClaim,
    RiskRules,
)
from models.tables import Claim, ClaimEventRow, GatewayTransfer, Notification, Payment
from testkit.claims import auto_claim, docs
from testkit.waiting import STATE_DEADLINE
from testkit.world import TEST_KEYRING, TEST_SEAL_KEY

D = Decimal
ACCOUNT = BankAccount(holder="Li Lei", number="6222000011112222")


def register(db: ClaimsDatabase, **changes) -> ClaimInput:
    claim = ClaimInput.model_validate(auto_claim(**changes))
    db.register_claim(RegisterClaim(claim=claim, chain_id=f"run-{claim.claim_id}", registered_at=datetime.now(UTC)))
    return claim


def pay(engine, claim_id: str, sequence: int = 1, amount: str = "100.00", account: BankAccount = ACCOUNT):
    payments = PaymentActivities(engine, LedgerGateway(engine), TEST_KEYRING, TEST_SEAL_KEY)
    return payments.pay(PaymentRequest(claim_id=claim_id, sequence=sequence, kind="final", amount=D(amount),
                                       account=account))


def test_a_claim_id_is_registered_once(any_engine):
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    claim = register(db)
    db.register_claim(RegisterClaim(claim=claim, chain_id=f"run-{claim.claim_id}", registered_at=datetime.now(UTC)))
    with pytest.raises(ApplicationError) as err:
        db.register_claim(RegisterClaim(claim=claim, chain_id="another-run", registered_at=datetime.now(UTC)))
    assert err.value.type == "DuplicateClaim" and err.value.non_retryable


def test_payment_is_made_once_per_key_whatever_the_retries(any_engine):
    claim = register(ClaimsDatabase(any_engine, TEST_SEAL_KEY))
    first = pay(any_engine, claim.claim_id)
    again = pay(any_engine, claim.claim_id)
    assert first.idempotency_key == again.idempotency_key == idempotency_key(claim.claim_id, 1)
    assert (first.replayed, again.replayed, again.reference) == (False, True, first.reference)
    pay(any_engine, claim.claim_id, sequence=2, amount="50.00")
    with Session(any_engine) as session:
        assert len(session.exec(select(GatewayTransfer)).all()) == 2
        assert session.get(Claim, claim.claim_id).paid_amount == D("150.00")
        holders = [p.account_holder for p in session.exec(select(Payment))]
    assert holders and all(h.startswith("sealed:v1:") and ACCOUNT.holder not in h for h in holders), holders
    assert {open_text(TEST_KEYRING, h) for h in holders} == {ACCOUNT.holder}, "sealed, and opened with the keys"


class HeldGateway(LedgerGateway):
    """The embedded gateway, holding the attempts named in `held` at its door until each is let through."""

    def __init__(self, engine, held: list[str]) -> None:
        super().__init__(engine)
        self.arrived = {name: threading.Event() for name in held}
        self.through = {name: threading.Event() for name in held}

    def transfer(self, idempotency_key, account, amount):
        name = threading.current_thread().name
        if name in self.arrived:
            self.arrived[name].set()
            assert self.through[name].wait(STATE_DEADLINE), f"{name} was never let through"
        return super().transfer(idempotency_key, account, amount)


# Two attempts of one payout that overlap (a retry started while the first waited on a slow gateway): which are held
# at the gateway's door, and the order they are let through ("-" runs the other one to its end meanwhile).
OVERLAPS = {"first held while the retry runs": (["first"], ["-", "first"]),
            "both held, first let through first": (["first", "retry"], ["first", "retry"]),
            "both held, retry let through first": (["first", "retry"], ["retry", "first"])}


@pytest.mark.parametrize("overlap", list(OVERLAPS))
def test_two_overlapping_attempts_of_one_payout_add_it_to_the_claim_once(any_engine, overlap):
    """Whatever the order two attempts of one payout reach the gateway and come back, the transfer is made once and
    the claim's paid amount, its payments and its ledger all count the payout once."""
    held, order = OVERLAPS[overlap]
    claim = register(ClaimsDatabase(any_engine, TEST_SEAL_KEY))
    gateway = HeldGateway(any_engine, held)
    payments = PaymentActivities(any_engine, gateway, TEST_KEYRING, TEST_SEAL_KEY)
    request = PaymentRequest(claim_id=claim.claim_id, sequence=1, kind="final", amount=D("100.00"), account=ACCOUNT)
    receipts = {}
    attempts = {name: threading.Thread(target=lambda n=name: receipts.__setitem__(n, payments.pay(request)),
                                       name=name) for name in ("first", "retry")}
    for name in held:
        attempts[name].start()
        assert gateway.arrived[name].wait(STATE_DEADLINE)
    for step in order:
        if step == "-":
            other = next(n for n in attempts if n not in held)
            attempts[other].start()
            attempts[other].join(STATE_DEADLINE)
        else:
            gateway.through[step].set()
            attempts[step].join(STATE_DEADLINE)
    assert set(receipts) == {"first", "retry"}, "both attempts answered"
    assert receipts["first"].reference == receipts["retry"].reference
    with any_engine.connect() as conn:
        paid = conn.execute(text("SELECT paid_amount FROM claims WHERE claim_id = :c"), {"c": claim.claim_id}).scalar()
        payments_paid = conn.execute(text("SELECT COALESCE(SUM(amount), 0) FROM payments WHERE claim_id = :c AND "
                                          "status = 'paid'"), {"c": claim.claim_id}).scalar()
        in_ledger = conn.execute(text("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE claim_id = :c AND "
                                      "movement = 'payment'"), {"c": claim.claim_id}).scalar()
        transfers = conn.execute(text("SELECT COUNT(*) FROM gateway_transfers")).scalar()
    assert (D(str(paid)), D(str(payments_paid)), D(str(in_ledger)), transfers) == (D("100"), D("100"), D("100"), 1)


def test_ledger_refuses_two_rows_with_one_key(any_engine):
    from sqlalchemy.exc import IntegrityError

    row = {"claim_id": "C-1", "sequence": 1, "kind": "final", "idempotency_key": "k", "amount": D("1"),
           "account_holder": "x", "account_masked": "****1", "status": "paid", "created_at": datetime.now(UTC)}
    with Session(any_engine) as session:
        session.add(Payment(**row))
        session.add(Payment(**row))
        with pytest.raises(IntegrityError):
            session.commit()


def test_rejected_account_is_a_typed_business_error_and_a_retry_with_new_details_pays(any_engine):
    claim = register(ClaimsDatabase(any_engine, TEST_SEAL_KEY))
    with pytest.raises(ApplicationError) as err:
        pay(any_engine, claim.claim_id, account=BankAccount(holder="Li Lei", number="1234"))
    assert err.value.type == "InvalidBankAccount" and err.value.non_retryable
    receipt = pay(any_engine, claim.claim_id)
    assert receipt.amount == D("100.00")


def test_notification_is_sent_at_most_once_per_claim_kind_and_sequence(any_engine, tmp_path: Path):
    sender = FileSender(tmp_path / "outbox", TEST_KEYRING)
    notifications = NotificationActivities(any_engine, Renderer(), sender, TEST_KEYRING)
    req = NotificationRequest(claim_id="C-9", kind="withdrawn", recipient=Recipient(name="Li <b>Lei</b>",
                                                                                     channel="sms"),
                              context={"reason": "settled"})
    assert notifications.notify(req).already_sent is False
    assert notifications.notify(req).already_sent is True
    with Session(any_engine) as session:
        rows = session.exec(select(Notification)).all()
    assert len(rows) == 1 and rows[0].status == "sent"
    with Session(any_engine) as session:
        body = open_text(TEST_KEYRING, session.exec(select(Notification)).one().body)
    assert "Li&lt;b&gt;Lei&lt;/b&gt;" in body or "Li &lt;b&gt;Lei&lt;/b&gt;" in body, "letters are autoescaped"
    written = (tmp_path / "outbox" / "C-9" / "withdrawn-1.sms.sealed").read_text(encoding="utf-8")
    # Markers that ciphertext cannot hold by chance: a space, '&' and ';' are not in its alphabet, and seven letters
    # in a row come up once in 64**7.
    assert "Li &lt;b&gt;" not in written and "settled" not in written, "the demo's outbox file is sealed"
    sms = read_letter(TEST_KEYRING, tmp_path / "outbox" / "C-9" / "withdrawn-1.sms.sealed")
    assert "C-9" in sms and "<b>" not in sms, "an SMS is its short text, never the letter's markup"


def test_a_letter_missing_a_field_is_an_error_not_a_blank(any_engine, tmp_path: Path):
    notifications = NotificationActivities(any_engine, Renderer(), FileSender(tmp_path, TEST_KEYRING), TEST_KEYRING)
    req = NotificationRequest(claim_id="C-9", kind="withdrawn", recipient=Recipient(name="Li", channel="sms"))
    with pytest.raises(ApplicationError) as err:
        notifications.notify(req)
    assert err.value.type == "TemplateError" and "reason" in err.value.message


def test_risk_sees_reused_documents_and_frequent_claims(any_engine):
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    shared = docs("repair_invoice", claim_id="shared")
    register(db, documents=shared)
    register(db)
    third = ClaimInput.model_validate(auto_claim(documents=shared))
    db.register_claim(RegisterClaim(claim=third, chain_id="r3", registered_at=datetime.now(UTC)))
    risk = db.assess_risk(AssessRisk(claim=third, reported_at=datetime.now(UTC), risk=RiskRules()))
    assert {r.rule for r in risk.reasons} == {"reused_document", "frequent_claims"}
    assert (risk.score, risk.level) == (60, "high")


def test_payout_is_capped_by_what_the_policy_already_paid(any_engine):
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    earlier = register(db)
    pay(any_engine, earlier.claim_id, amount="199000.00")  # sum insured 200,000
    claim = register(db, claimed_amount="5000.00", line_items=[])
    payout = db.compute_payout(ComputePayout(claim_id=claim.claim_id, policy_number="P-AUTO-001",
                                             claimed_amount=D("5000.00"), line_items=[], clauses=CLAUSES))
    assert payout.total == D("1000.00") and not payout.in_full


def test_events_append_and_move_the_read_model(any_engine):
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    claim = register(db)
    at = datetime.now(UTC) + timedelta(minutes=5)
    db.record_event(ClaimEvent(claim_id=claim.claim_id, event="stage:closed", at=at,
                               changes={"stage": "closed", "outcome": "paid", "closed_at": at.isoformat()}))
    with Session(any_engine) as session:
        row = session.get(Claim, claim.claim_id)
        events = session.exec(select(ClaimEventRow).where(ClaimEventRow.claim_id == claim.claim_id)).all()
    assert (row.stage, row.outcome) == ("closed", "paid")
    assert set(row.stage_entered_at) == {"registered", "closed"}
    assert [e.event for e in events] == ["stage:closed"]


def test_unknown_read_model_field_is_refused(any_engine):
    db = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    claim = register(db)
    with pytest.raises(ApplicationError):
        db.record_event(ClaimEvent(claim_id=claim.claim_id, event="x", at=datetime.now(UTC),
                                   changes={"paid_amount": "1000000"}))
