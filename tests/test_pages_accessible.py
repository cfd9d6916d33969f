"""Every staff and claimant page, in Chinese and in English, checked in headless Chromium as their users meet them:
axe-core finds nothing serious or critical (WCAG 2.2 AA rules), a Chinese page shows no English word beyond the
identifiers it must show (claim, policy and staff numbers, file formats), and the two paths a keyboard user takes
most (approving a claim, uploading a document) work without a mouse.

The stack is `make run`'s (an embedded Temporal server, a worker process and an API process), with a day lasting a
second and the approval, investigation and materials clocks a demo hour, so the claims stay where the pages are
checked however long a busy machine takes to reach them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from config.settings import PROJECT_ROOT
from testkit.api_stack import Stack, running_stack
from testkit.claims import pdf
from testkit.waiting import polled

pytestmark = pytest.mark.devserver

SHOTS = PROJECT_ROOT / "var" / "test-artifacts" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
SERIOUS = {"serious", "critical"}
ALLOWED = {"English", "PDF", "JPEG", "PNG", "HEIC", "TIFF", "WebP", "CSV", "MB", "SMS", "Temporal", "portal"}
"""Words a Chinese page may show: the language switch's own name, file formats, the SMS channel, the engine's
name, and the channel this test reports claims through (an identity, as staff ids are)."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from running_stack(tmp_path_factory.mktemp("a11y") / "var", env={"CLAIMS_HOTLINE": "400-000-0000"},
                             approval_business_days=3600, investigation_days=3600, documents_days=3600,
                             determination_days=3600, advance_payment_days=3600)


CLAIMANT = {"name": "李雷", "phone": "13800000000", "email": "li@example.com", "channel": "sms"}
"""A Chinese claimant: the name on the pages is theirs, not the page's."""


def report(stack: Stack, *, documents: tuple[str, ...], **changes: Any) -> str:
    return stack.report("AX", documents, claimant=CLAIMANT,
                        bank_account={"holder": "李雷", "number": "6222000011112222"}, **changes)


ALL_AUTO = ("claim_form", "id_card", "driver_license", "vehicle_license", "accident_report", "repair_invoice",
            "damage_photos")


def awaiting_approval(stack: Stack, claim_id: str, confirmed: str) -> dict[str, Any]:
    """The claim at its approval, its investigation (a large claim is looked into) recorded first if it has one."""
    if stack.wait(claim_id, lambda s: s["stage"] in ("awaiting_approval", "investigating"), "decided on")["stage"] \
            == "investigating":
        with stack.client() as http:
            found = {"investigator_id": "inv-1", "findings": "现场与报案一致", "confirmed_amount": confirmed,
                     "fraud_suspected": False}
            assert http.post(f"/claims/{claim_id}/actions/record_investigation",
                             headers=stack.auth("inv-1", "investigator"), json=found).status_code == 200
    return stack.wait(claim_id, lambda s: s["stage"] == "awaiting_approval", "awaiting approval")


@pytest.fixture(scope="module")
def claims(stack: Stack) -> dict[str, str]:
    """A claim awaiting a supervisor's approval with a payout large enough to need a confirmation, and one waiting
    for the claimant's materials."""
    large = report(stack, documents=ALL_AUTO, policy_number="P-AUTO-002", claimed_amount="59000.00",
                   line_items=[{"description": "body and engine", "amount": "59000.00", "category": "repair"}])
    waiting = report(stack, documents=("claim_form",))
    stack.wait(waiting, lambda s: s["stage"] == "awaiting_documents", "awaiting documents")
    awaiting_approval(stack, large, "59000.00")
    beyond = report(stack, documents=ALL_AUTO, policy_number="P-AUTO-002", claimed_amount="150000.00",
                    line_items=[{"description": "write-off", "amount": "150000.00", "category": "repair"}])
    assert awaiting_approval(stack, beyond, "150000.00")["required_role"] == "manager"
    return {"large": large, "waiting": waiting, "beyond": beyond}


def staff_page(browser: Browser, stack: Stack, language: str, subject: str = "sup-1") -> Page:
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    page.goto(f"{stack.url}/sign-in?lang={language}")
    page.locator(f"#demo-{subject}").click()
    page.wait_for_url("**/app")
    return page


def claimant_page(browser: Browser, stack: Stack, claim_id: str, language: str, *, choosers: bool = False) -> Page:
    """The claimant's page for the claim, signed in with the code sent to the phone on file. With `choosers`, the
    file choosers it opens are caught from the start: Playwright asks the browser to catch them when the first
    listener is added, without waiting for the answer, so a chooser opened right after `expect_file_chooser`
    could still go to the (headless, invisible) native dialog, and the test would wait for it in vain."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    if choosers:
        page.on("filechooser", lambda chooser: None)
    page.goto(f"{stack.url}/c/{claim_id}?lang={language}")
    page.locator("#send-code").click()
    page.locator("#code").fill(stack.code_received(claim_id, "progress"))
    page.locator("#verify").click()
    page.locator("#steps").wait_for()
    return page


def serious_findings(page: Page) -> list[str]:
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": [
        "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}, "resultTypes": ["violations"]})
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in SERIOUS]


def english_words(page: Page) -> list[str]:
    """The words of Latin letters a reader sees on the page, outside what is marked as English (the language
    switch) and beyond identifiers (anything with a digit or a hyphen in it, such as claim, policy and staff
    numbers) and the allowed words."""
    text = page.evaluate("""() => {
        const shown = [];
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const element = node.parentElement;
            if (!element || element.closest('[lang="en"], script, style, .skip')) continue;
            if (!element.checkVisibility()) continue;
            shown.push(node.textContent);
        }
        document.querySelectorAll('input[placeholder], [aria-label]').forEach(e => shown.push(
            e.getAttribute('placeholder') || '', e.getAttribute('aria-label') || ''));
        return shown.join(' ');
    }""")
    words = re.findall(r"[A-Za-z][A-Za-z0-9_.\-*@]*", text)
    return sorted({w for w in words if len(w) > 1 and w not in ALLOWED and not re.search(r"[\d\-_@*]", w)})


def check(page: Page, language: str, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}-{language}.png"), full_page=True)
    assert page.get_attribute("html", "lang") == language, name
    assert serious_findings(page) == [], name
    if language == "zh-CN":
        found = english_words(page)
        assert found == [], f"{name}: English on a Chinese page: {found}"


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_staff_pages_are_accessible_and_in_the_staff_members_language(
        stack: Stack, browser: Browser, claims: dict[str, str], language: str):
    SHOTS.mkdir(parents=True, exist_ok=True)
    signing_in = browser.new_context(**DESKTOP).new_page()
    signing_in.goto(f"{stack.url}/sign-in?lang={language}")
    check(signing_in, language, "sign-in")

    page = staff_page(browser, stack, language)
    check(page, language, "queue")
    page.goto(f"{stack.url}/app?queue=all")
    check(page, language, "queue-all")
    page.goto(f"{stack.url}/app/claims/{claims['large']}")
    check(page, language, "claim")
    page.goto(f"{stack.url}/app/claims/{claims['waiting']}")
    check(page, language, "claim-waiting")
    page.goto(f"{stack.url}/app/dashboard")
    page.locator("#chart-by_type canvas").wait_for()
    check(page, language, "dashboard")
    page.goto(f"{stack.url}/app/claims/NO-SUCH-CLAIM")
    check(page, language, "missing")
    page.goto(f"{stack.url}/app/finance")
    check(page, language, "finance-refused")

    page.goto(f"{stack.url}/app/catastrophes")
    check(page, language, "catastrophes")
    code = f"CAT-A11Y-{language}"
    with stack.client() as http:
        declared = http.post("/catastrophes", headers=stack.auth("mgr-1", "manager"), json={
            "code": code, "name": "台风", "regions": ["440000"], "starts_at": "2026-09-01T00:00:00+08:00",
            "ends_at": "2026-09-08T00:00:00+08:00", "claim_types": ["auto"], "declared_by": "mgr-1",
            "reason": "typhoon landfall"})
        assert declared.status_code == 201, declared.text
    page.goto(f"{stack.url}/app/catastrophes/{code}")
    while page.locator("#backlog").count() == 0:  # recorded by its workflow a moment after it starts
        page.wait_for_timeout(200)
        page.goto(f"{stack.url}/app/catastrophes/{code}")
    check(page, language, "catastrophe")

    finance = staff_page(browser, stack, language, "fin-1")
    finance.goto(f"{stack.url}/app/finance")
    finance.locator("#chart-totals canvas").wait_for()
    check(finance, language, "finance")


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_claimant_pages_are_accessible_on_a_phone_in_the_claimants_language(
        stack: Stack, browser: Browser, claims: dict[str, str], language: str):
    SHOTS.mkdir(parents=True, exist_ok=True)
    asking = browser.new_context(**PHONE).new_page()
    asking.goto(f"{stack.url}/c/{claims['waiting']}?lang={language}")
    check(asking, language, "claimant-code")
    page = claimant_page(browser, stack, claims["waiting"], language)
    check(page, language, "claimant-progress")


def test_a_supervisor_approves_with_the_keyboard_alone(stack: Stack, browser: Browser, claims: dict[str, str]):
    page = staff_page(browser, stack, "zh-CN")
    page.goto(f"{stack.url}/app/claims/{claims['large']}")
    page.locator("body").focus()
    for _ in range(60):  # tab through the page, as a keyboard user does, to the approval's comment
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "approve-comment":
            break
    assert page.evaluate("document.activeElement.id") == "approve-comment", "the comment is reached by Tab"
    page.keyboard.type("金额较大，已核对材料")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "confirmed"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "approve"
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text="已批准").wait_for()
    approved = stack.wait(claims["large"], lambda s: s["approvals"], "approved")
    assert approved["approvals"][0]["comment"] == "金额较大，已核对材料"


def test_a_claimant_uploads_with_the_keyboard_alone(stack: Stack, browser: Browser, claims: dict[str, str]):
    page = claimant_page(browser, stack, claims["waiting"], "zh-CN", choosers=True)
    kind = page.locator("#missing input[type=file]").first.get_attribute("id")
    assert kind is not None
    page.locator("body").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == kind:
            break
    assert page.evaluate("document.activeElement.id") == kind, "the file input is reached by Tab"
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(files=[{"name": "form.pdf", "mimeType": "application/pdf", "buffer": pdf("keyboard")}])
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text="已收到").wait_for()


def queue_rows(page: Page) -> list[str]:
    return [row.get_attribute("data-claim") or "" for row in page.locator("#queue tbody tr[data-claim]").all()]


def test_each_deciding_role_sees_what_it_may_decide_and_a_supervisor_assigns_from_the_list(
        stack: Stack, browser: Browser, claims: dict[str, str]):
    mid = report(stack, documents=ALL_AUTO, policy_number="P-AUTO-002", claimed_amount="15600.00",
                 line_items=[{"description": "door", "amount": "15600.00", "category": "repair"}])
    stack.wait(mid, lambda s: s["stage"] == "awaiting_approval" and s["required_role"] == "supervisor",
               "awaiting a supervisor's approval")
    page = staff_page(browser, stack, "zh-CN")

    def supervisors_queue() -> list[str]:
        page.goto(f"{stack.url}/app?queue=supervisor")
        return queue_rows(page)
    rows = polled(supervisors_queue, lambda rows: mid in rows, "the claim in the supervisor's queue")
    assert claims["beyond"] not in rows, "a supervisor's queue holds only what a supervisor may decide"
    manager = staff_page(browser, stack, "zh-CN", "mgr-1")
    manager.goto(f"{stack.url}/app?queue=manager")
    assert {mid, claims["beyond"]} <= set(queue_rows(manager)), "a manager may decide both"

    page.goto(f"{stack.url}/app?queue=all")
    page.get_by_label(f"案件 {claims['waiting']} 的经办人").fill("desk-7")
    page.get_by_label(f"案件 {claims['waiting']} 的经办人").press("Enter")
    page.get_by_role("status").filter(has_text="已分派经办人").wait_for()
    stack.wait(claims["waiting"], lambda s: s["handler"] == "desk-7", "assigned")

    def handler_shown() -> str:
        page.goto(f"{stack.url}/app?queue=all")
        return page.locator(f"#queue tr[data-claim='{claims['waiting']}'] td.handler").inner_text()
    polled(handler_shown, lambda shown: "desk-7" in shown, "the new handler in the queue")


def test_a_claim_is_found_by_number_policy_name_or_phone_and_shown_masked(
        stack: Stack, browser: Browser, claims: dict[str, str]):
    page = staff_page(browser, stack, "zh-CN")
    every = set(claims.values())
    for text, expected in ((claims["waiting"], {claims["waiting"]}), ("李雷", every), ("138 0000 0000", every),
                           ("P-AUTO-002", {claims["large"], claims["beyond"]})):
        page.get_by_label("查找案件").fill(text)
        page.get_by_role("button", name="查找").click()
        page.wait_for_url("**q=*")
        assert expected <= set(queue_rows(page)), (text, queue_rows(page))
    page.get_by_label("查找案件").fill("13800000000")
    page.get_by_role("button", name="查找").click()
    page.wait_for_url("**q=*")
    shown = page.inner_text("#queue")
    assert "李*" in shown and "****0000" in shown and "13800000000" not in shown and "李雷" not in shown
    assert "NO-SUCH" not in page.inner_text("#queue")
