"""Every letter and SMS in Chinese and English (docs/rules.md#language-and-channels): no message id without a Chinese
translation, no English left in a Chinese letter, no template variable rendered empty, amounts with their currency,
Beijing time, and every SMS within two 70-character segments."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from activities.notifications import NotificationActivities
from letters.catalogs import message_ids
from letters.i18n import LOCALES, EmptyValue, catalog
from letters.render import TEMPLATES, Renderer
from letters.senders import FileSender, read_letter
from letters.sms import LIMIT
from models.messages import NotificationRequest, Recipient
from testkit.world import TEST_KEYRING, TEST_KEYS

PUBLIC = "https://claims.insurer.example"
"""A public address as long as an insurer's would be: the SMS link counts against its length."""
AT = datetime(2026, 11, 22, 2, 30, tzinfo=UTC)  # 10:30 in Beijing
BASIS = [{"step": "定损金额", "amount": Decimal("8000.00"), "clause": "通用条款 5.1"},
         {"step": "扣除免赔额", "amount": Decimal("7500.00"), "clause": "保单明细表：免赔额"}]

SAMPLES: dict[str, dict[str, Any]] = {
    "acknowledgement": {"claim_type": "auto", "registered_at": AT, "checklist": ["claim_form", "id_card"],
                        "received": ["claim_form"], "determination_days": 30, "payment_days": 10},
    "missing_materials": {"missing": ["id_card", "repair_invoice", "damage_photos"], "due_at": AT},
    "reminder": {"missing": ["id_card"], "due_at": AT, "requested_at": AT, "days_left": 3},
    "closed_incomplete": {"missing": ["id_card"], "requested_at": AT},
    "investigation_opened": {"reason": "金额超过调查门槛", "due_at": AT},
    "decision_approved": {"amount": Decimal("7500.00"), "claimed": Decimal("8000.00"), "basis": BASIS,
                          "appeal_days": 60},
    "decision_partial": {"amount": Decimal("7500.00"), "claimed": Decimal("8000.00"), "basis": BASIS,
                         "appeal_days": 60},
    "decision_denied": {"reasons": ["出险时保单已失效"], "clauses": ["通用条款 2.2"], "basis": BASIS,
                        "appeal_days": 60},
    "payment_sent": {"amount": Decimal("7500.00"), "account": "****2222", "reference": "TRF-5f1c2a9b0e77",
                     "paid_at": AT, "kind": "advance"},
    "payment_failed": {"amount": Decimal("7500.00"), "reason": "账户已销户", "due_at": AT},
    "bank_details_reminder": {"amount": Decimal("7500.00"), "due_at": AT},
    "payout_reduced": {"requested": Decimal("7500.00"), "amount": Decimal("2500.00"), "clause": "通用条款 5.3",
                       "nothing_left": False},
    "withdrawn": {"reason": "已与对方私了"},
    "appeal_received": {"reason": "维修费用计算有误"},
    "survey": {},
    "code_progress": {"code": "482913", "minutes": 10, "expires_at": AT},
    "code_bank_account": {"code": "482913", "minutes": 10, "expires_at": AT},
    "bank_account_changed": {"old_account": "****2222", "new_account": "****8888", "changed_at": AT},
    "bank_account_locked": {"tries": 3, "sender": "门户渠道", "account": "****2222", "role": "supervisor"},
    "sla_warning": {"clock": "approval", "due_at": AT, "handler": "理算员王五", "role": "adjuster"},
    "sla_breach": {"clock": "approval", "due_at": AT, "handler": "理算员王五", "role": "supervisor"},
    "handler_assigned": {"handler": "gc-auto-1", "description": "高速公路车辆起火", "role": "adjuster"},
    "advance_held": {"amount": Decimal("14750.00"), "role": "supervisor"},
    "advance_overpaid": {"amount": Decimal("500.00"), "role": "supervisor"},
    "complaint_acknowledged": {"complaint_id": "K-20261122-0001", "category": "delay"},
    "complaint_resolved": {"complaint_id": "K-20261122-0001", "resolution": "已向您致歉，并已加快处理。"},
    "callback_needed": {"score": 2, "due_at": AT, "handler": "理算员王五", "role": "supervisor"},
    "recovery_requested": {"amount": Decimal("2500.00"), "paid": Decimal("10000.00"), "allowed": Decimal("7500.00"),
                           "over_decision": True, "due_at": AT},
    "recovery_opened": {"amount": Decimal("2500.00"), "claimed": Decimal("12000.00"), "role": "supervisor"},
    "subrogation_demand": {"amount": Decimal("8600.00"), "insurer": "平安财险", "policy_number": "PA-2026-889",
                           "plate": "沪A12345", "incident_at": AT},
}
STAFF = {"callback_needed", "bank_account_locked", "sla_warning", "sla_breach", "handler_assigned", "advance_held",
         "advance_overpaid", "recovery_opened", "subrogation_demand"}
REPORTS = {"daily_report", "sla_digest", "audit_trail"}
KINDS = sorted(p.name.removesuffix(".html.j2") for p in TEMPLATES.glob("*.html.j2")
               if not p.name.startswith("_") and p.name.removesuffix(".html.j2") not in REPORTS)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(public_url=PUBLIC)


def context(kind: str, language: str) -> dict[str, Any]:
    recipient = (Recipient(name="理赔主管组", channel="email", email="sup@insurer.example", language=language)
                 if kind in STAFF else Recipient(name="李雷", channel="sms", phone="13800000000", language=language))
    return {"claim_id": "C-20261122-0001", "recipient": recipient, **SAMPLES[kind]}


def visible_text(html: str) -> str:
    """What a reader sees, without markup, links and code: where untranslated English would show."""
    html = re.sub(r"<(code|a)\b[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_every_letter_kind_has_a_sample():
    assert sorted(SAMPLES) == KINDS, "a new letter kind needs its sample here"


def test_every_message_id_has_a_chinese_translation():
    ids = message_ids()
    assert len(ids) > 100, "the extraction found next to nothing: it proves nothing"
    translations = catalog("zh-CN")
    missing = [m for m in ids if translations.gettext(m) == m]
    assert missing == [], f"no Chinese for: {missing}"
    po = (LOCALES / "zh_CN" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    for message in ids:
        for name in re.findall(r"%\((\w+)\)s", message):
            translated = translations.gettext(message)
            assert f"%({name})s" in translated, f"the translation of {message!r} lost %({name})s"
    assert "#, fuzzy" not in po, "a fuzzy entry would not be used"


@pytest.mark.parametrize("kind", KINDS)
def test_each_letter_renders_in_chinese_and_english_with_nothing_left_out(renderer: Renderer, kind: str):
    zh_subject, zh_body = renderer.render(kind, context(kind, "zh-CN"), "zh-CN")
    en_subject, en_body = renderer.render(kind, context(kind, "en"), "en")
    assert '<html lang="zh-CN">' in zh_body and '<html lang="en">' in en_body
    leftover = re.findall(r"[A-Za-z]{3,}(?:[ ,'][A-Za-z]{2,}){2,}", visible_text(zh_subject + " " + zh_body))
    assert leftover == [], f"{kind}: English in the Chinese letter: {leftover}"
    assert re.search(r"[\u4e00-\u9fff]", zh_subject), f"{kind}: the subject is not in Chinese"
    assert not re.search(r"[\u4e00-\u9fff]{4,}", en_subject), f"{kind}: the English subject is Chinese"
    for body in (zh_body, en_body):
        assert "None" not in visible_text(body) and "{{" not in body and "%(" not in body, f"{kind}: a hole"
    if "amount" in SAMPLES[kind]:
        assert "¥" in zh_subject + zh_body and "CNY " in en_subject + en_body, f"{kind}: amounts carry CNY"
    if any(isinstance(v, datetime) for v in SAMPLES[kind].values()):
        assert "2026-11-22 10:30" in zh_body, f"{kind}: moments are Beijing time"
        assert "(Beijing time)" in en_body
    if kind not in STAFF and not kind.startswith("complaint_"):
        assert f'href="{PUBLIC}/c/C-20261122-0001"' in zh_body, f"{kind}: the letter links the progress page"
        assert f'href="{PUBLIC}/c/C-20261122-0001?lang=en"' in en_body, f"{kind}: in English for English claimants"


@pytest.mark.parametrize("kind", KINDS)
def test_each_sms_is_plain_text_within_two_segments_with_the_claim_and_its_link(renderer: Renderer, kind: str):
    if kind in STAFF:
        return
    for language in ("zh-CN", "en"):
        text = renderer.sms(kind, context(kind, language), language)
        assert len(text) <= LIMIT, f"{kind} ({language}): {len(text)} characters: {text}"
        number = "K-20261122-0001" if kind.startswith("complaint_") else "C-20261122-0001"
        assert number in text and "<" not in text and "None" not in text, text
        if not kind.startswith(("code_", "complaint_")) and kind not in ("withdrawn", "bank_account_changed"):
            link = f"{PUBLIC}/c/C-20261122-0001" + ("?lang=en" if language == "en" else "")
            assert text.endswith(link), f"the progress page, in the claimant's language: {text}"
    assert renderer.sms(kind, context(kind, "zh-CN"), "zh-CN").startswith("【理赔】")


def test_a_decision_that_cannot_be_appealed_offers_no_appeal(renderer: Renderer):
    for kind in ("decision_partial", "decision_denied"):
        _, offered = renderer.render(kind, context(kind, "zh-CN"), "zh-CN")
        _, final = renderer.render(kind, {**context(kind, "zh-CN"), "appeal_days": 0}, "zh-CN")
        assert "60 日内提出申诉" in offered and "日内提出申诉" not in final and "投诉" in final, kind
    _, paid_in_full = renderer.render("decision_approved", {**context("decision_approved", "en"), "appeal_days": 0},
                                      "en")
    assert "appeal" not in paid_in_full and "complaint" not in paid_in_full


def test_a_value_left_empty_is_refused_not_sent_blank(renderer: Renderer):
    for kind, blank in (("payment_sent", {"amount": None}), ("withdrawn", {"reason": " "}),
                        ("missing_materials", {"due_at": None})):
        with pytest.raises(EmptyValue):
            renderer.render(kind, {**context(kind, "zh-CN"), **blank}, "zh-CN")


def test_the_outbox_keeps_the_letter_in_its_language_and_the_sms_as_sent(any_engine, tmp_path: Path):
    activities = NotificationActivities(any_engine, Renderer(public_url=PUBLIC), FileSender(tmp_path, TEST_KEYRING),
                                        TEST_KEYRING)
    for language, claim in (("zh-CN", "C-L1"), ("en", "C-L2")):
        request = NotificationRequest(claim_id=claim, kind="payment_sent", sequence=1, context={
            **SAMPLES["payment_sent"], "paid_at": AT.isoformat(), "amount": "7500.00"},
            recipient=Recipient(name="李雷", channel="sms", phone="13800000000", language=language))
        activities.notify(request)
        sent = read_letter(TEST_KEYRING, tmp_path / claim / "payment_sent-1.sms.sealed")
        assert len(sent) <= LIMIT and ("¥7,500.00" if language == "zh-CN" else "CNY 7,500.00") in sent
    from sqlmodel import Session, select

    from config.encryption import open_text
    from models.tables import Notification

    with Session(any_engine) as session:
        rows = {r.claim_id: r for r in session.exec(select(Notification)).all()}
    assert rows["C-L1"].language == "zh-CN" and "已支付" in open_text(TEST_KEYRING, rows["C-L1"].body)
    assert rows["C-L2"].language == "en" and "We have paid" in open_text(TEST_KEYRING, rows["C-L2"].body)
    assert open_text(TEST_KEYRING, rows["C-L1"].text or "").startswith("【理赔】")


def test_outside_the_embedded_demo_no_letter_is_written_to_a_folder(tmp_path: Path, monkeypatch):
    """With the development issuer off and no sender configured for SMS or app messages, such a letter is refused
    as not sent (typed, not retried) and nothing is written; e-mail with no SMTP server likewise."""
    from config.settings import Settings
    from letters.senders import NoGateway, build_sender
    from models.messages import Recipient

    monkeypatch.delenv("CLAIMS_DEV_ISSUER", raising=False)
    sender = build_sender(Settings(CLAIMS_VAR_DIR=tmp_path))
    for channel in ("sms", "app", "email"):
        with pytest.raises(NoGateway, match="no sender is configured"):
            sender.send(Recipient(name="李雷", channel=channel, phone="13800000000", email="li@example.com"),
                        "验证码", "您的验证码是 123456", claim_id="C-1", kind="code_progress", sequence=1)
    assert not (tmp_path / "outbox").exists(), "a letter reached the outbox folder outside the embedded demo"


def test_the_embedded_demos_outbox_files_are_sealed(tmp_path: Path):
    from config.settings import Settings
    from letters.senders import build_sender, letters_of
    from models.messages import Recipient

    settings = Settings(CLAIMS_VAR_DIR=tmp_path, CLAIMS_DEV_ISSUER=True, CLAIMS_ENCRYPTION_KEYS=TEST_KEYS)
    build_sender(settings).send(Recipient(name="李雷", channel="sms", phone="13800000000"), "验证码",
                                "李雷：您的验证码是 123456", claim_id="C-1", kind="code_progress", sequence=1)
    [path] = letters_of(settings.outbox_dir, "C-1", "code_progress")
    assert "123456" not in path.read_text() and "李雷" not in path.read_text(), "the file holds the code in clear"
    assert read_letter(TEST_KEYRING, path) == "李雷：您的验证码是 123456"


def test_a_materials_sms_with_nothing_left_to_list_never_says_none_are_needed(renderer: Renderer):
    """A materials request whose list is empty by the time it is written says the deadline and the link, not
    "0 materials needed"."""
    listed = renderer.sms("missing_materials", context("missing_materials", "zh-CN"), "zh-CN")
    empty = renderer.sms("missing_materials", {**context("missing_materials", "zh-CN"), "missing": []}, "zh-CN")
    assert "还需" in listed and "0项" not in empty and "还需0" not in empty, empty
    assert "C-20261122-0001" in empty and empty.endswith(f"{PUBLIC}/c/C-20261122-0001")
