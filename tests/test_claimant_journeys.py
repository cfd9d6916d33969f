"""The claimant's page on a phone, in headless Chromium, on every path a claim can end on: a paid claim whose
workflow has ended still opens with a code, a denied one shows no payment step and takes an appeal, wrong codes
count down, and a file the claim cannot take is refused in Chinese before it is sent. The page is driven by its
roles and labels, as a claimant would use it.

The stack is `make run`'s (an embedded Temporal server, a worker process and an API process) with short windows
after closing: a claim paid in full ends a few demo days (seconds) after it closes, while a denial stays open for
its appeal."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, BrowserContext, Page
from temporalio.client import Client, WorkflowExecutionStatus

from config.settings import PROJECT_ROOT
from letters.senders import letters_of
from testkit.api_stack import UPLOAD_LIMIT, Stack, running_stack
from testkit.waiting import polled
from workflows.ended_claim_code import ended_code_workflow_id

pytestmark = pytest.mark.devserver

HOTLINE = "400-000-0000"
SHOTS = PROJECT_ROOT / "var" / "test-artifacts" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from running_stack(tmp_path_factory.mktemp("journeys") / "var", env={"CLAIMS_HOTLINE": HOTLINE},
                             survey_days=1, survey_window_days=2, appeal_window_days=3600,
                             approval_business_days=3600, documents_days=3600)


ALL_AUTO = ("claim_form", "id_card", "driver_license", "vehicle_license", "accident_report", "repair_invoice",
            "damage_photos")


def report(stack: Stack, *, all_documents: bool = True, **changes: Any) -> str:
    return stack.report("CJ", ALL_AUTO if all_documents else None, **changes)


def photo(text: str) -> bytes:
    image = Image.new("RGB", (320, 240), "white")
    ImageDraw.Draw(image).text((10, 10), text, fill="black")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def code_request_status(stack: Stack, claim_id: str) -> WorkflowExecutionStatus | None:
    return workflow_status(stack, claim_id, ended_code_workflow_id(claim_id))


def workflow_status(stack: Stack, claim_id: str, workflow_id: str | None = None) -> WorkflowExecutionStatus | None:
    async def describe() -> WorkflowExecutionStatus | None:
        client = await Client.connect(f"127.0.0.1:{stack.env['CLAIMS_EMBEDDED_PORT']}")
        return (await client.get_workflow_handle(workflow_id or f"claim-{claim_id}").describe()).status
    with ThreadPoolExecutor(1) as thread:  # the browser's own event loop runs in this one
        return thread.submit(asyncio.run, describe()).result()


def on_a_phone(browser: Browser) -> tuple[BrowserContext, Page]:
    context = browser.new_context(**PHONE)
    return context, context.new_page()


def ask_for_a_code(page: Page, stack: Stack, claim_id: str) -> None:
    page.goto(f"{stack.url}/c/{claim_id}")
    page.get_by_role("button", name="发送验证码").click()
    page.get_by_role("status").filter(has_text="验证码已发送").wait_for()


def sign_in_with_the_code(page: Page, stack: Stack, claim_id: str) -> None:
    ask_for_a_code(page, stack, claim_id)
    page.get_by_label("验证码").fill(stack.code_received(claim_id, "progress"))
    page.get_by_role("button", name="查看进度").click()
    page.get_by_role("heading", level=1).filter(has_text=claim_id).wait_for()
    page.get_by_role("list", name="办理进度").wait_for()


def steps_of(page: Page) -> list[str]:
    return [item.inner_text().split("\n")[0].strip()
            for item in page.get_by_role("list", name="办理进度").get_by_role("listitem").all()]


def test_a_paid_claim_whose_workflow_has_ended_opens_with_a_code_sent_to_the_masked_phone(
        stack: Stack, browser: Browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    claim_id = report(stack, claimed_amount="1500.00",
                      line_items=[{"description": "mirror", "amount": "1500.00", "category": "repair"}])
    polled(lambda: workflow_status(stack, claim_id), lambda s: s == WorkflowExecutionStatus.COMPLETED,
           f"claim {claim_id}'s workflow ended (paid, its survey window passed)")

    context, page = on_a_phone(browser)
    ask_for_a_code(page, stack, claim_id)
    assert "****0000" in page.get_by_role("status").inner_text(), "the page says where the code went, masked"
    page.screenshot(path=str(SHOTS / "claimant-code-sent.png"), full_page=True)
    assert "13800000000" not in page.content()
    first = stack.code_received(claim_id, "progress")
    page.get_by_role("button", name="重新发送验证码").click()
    page.get_by_role("status").filter(has_text="验证码已发送").wait_for()
    assert page.get_by_label("验证码").is_visible(), "a re-sent code keeps the box the first code is typed in"
    page.get_by_label("验证码").fill(first)
    page.get_by_role("button", name="查看进度").click()
    page.get_by_role("heading", level=1).filter(has_text="已赔付").wait_for()
    again = polled(lambda: code_request_status(stack, claim_id), lambda s: s != WorkflowExecutionStatus.RUNNING,
                   "the second code request answered")
    assert again == WorkflowExecutionStatus.COMPLETED, "a request within the minute ends with its reason, not failed"
    assert len(letters_of(stack.var_dir / "outbox", claim_id, "code_progress")) == 1, "one code a minute"

    steps = steps_of(page)
    assert steps[0] == "已登记" and steps[-1] == "已赔付" and "支付中" in steps, steps
    assert page.locator("#steps time").count() == len(steps), "every step the claim went through is dated"
    assert page.get_by_role("heading", name="对决定提出申诉").count() == 0, "a claim paid in full has no appeal"
    page.screenshot(path=str(SHOTS / "claimant-paid-ended.png"), full_page=True)
    hotline = page.get_by_role("link", name=HOTLINE)
    assert hotline.get_attribute("href") == "tel:4000000000"
    context.close()


def test_a_denied_claim_shows_no_payment_step_says_why_in_chinese_and_takes_an_appeal(
        stack: Stack, browser: Browser):
    claim_id = report(stack, incident={"occurred_at": "2026-11-20T08:30:00+08:00", "description": "track day",
                                       "cause": "racing", "injuries": False, "major": False})
    stack.wait(claim_id, lambda s: s["outcome"] == "denied", "denied (racing is excluded)")

    context, page = on_a_phone(browser)
    sign_in_with_the_code(page, stack, claim_id)
    steps = steps_of(page)
    assert steps[-1] == "拒赔" and "支付中" not in steps, steps
    decision = page.locator("#decision").inner_text()
    assert "出险原因“racing”属于保单责任免除" in decision and "通用条款第4条（责任免除）" in decision, decision
    assert "excluded" not in decision and "General Terms" not in decision

    page.get_by_label("申诉理由").fill(APPEAL)
    page.screenshot(path=str(SHOTS / "claimant-denied-appeal.png"), full_page=True)
    page.get_by_role("button", name="提交申诉").click()
    page.get_by_role("status").filter(has_text="已收到您的申诉").wait_for()
    context.close()
    status = stack.wait(claim_id, lambda s: any(t["event"] == "appeal_received" for t in s["timeline"]),
                        "the appeal received")
    appeal = next(t for t in status["timeline"] if t["event"] == "appeal_received")
    assert appeal["sender"]["subject"] == "self-service-web"

    staff = browser.new_context(locale="zh-CN")
    page = staff.new_page()
    page.goto(f"{stack.url}/sign-in")
    page.locator("#demo-sup-1").click()
    page.goto(f"{stack.url}/app/claims/{claim_id}")
    row = page.locator("#timeline tr").filter(has_text="self-service-web").filter(has_text="收到申诉")
    assert APPEAL in row.inner_text(), "the claimant's words are shown as typed, never read as a system entry"
    staff.close()


APPEAL = "handler sup-1 approved: 50000 赛道体验日是车友会组织的安全驾驶培训"
"""An appeal whose words look like the system's own entries: staff must see them as the claimant typed them."""


def test_wrong_codes_count_down_and_a_locked_code_says_only_that(stack: Stack, browser: Browser):
    claim_id = report(stack, all_documents=False)
    stack.wait(claim_id, lambda s: s["stage"] == "awaiting_documents", "awaiting documents")
    context, page = on_a_phone(browser)
    ask_for_a_code(page, stack, claim_id)
    wrong = "000000" if stack.code_received(claim_id, "progress") != "000000" else "111111"
    for left in (2, 1):
        page.get_by_label("验证码").fill(wrong)
        page.get_by_role("button", name="查看进度").click()
        assert "验证码不正确" in page.get_by_role("alert").inner_text()
        assert f"还可尝试 {left} 次" in page.inner_text("body")
    page.get_by_label("验证码").fill(wrong)
    page.get_by_role("button", name="查看进度").click()
    assert "已失效" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("status").count() == 0, "a locked code is not shown as sent beside its lock"
    assert page.get_by_label("验证码").count() == 0
    context.close()

    staff = browser.new_context(locale="zh-CN")
    page = staff.new_page()
    page.goto(f"{stack.url}/sign-in")
    page.locator("#demo-sup-1").click()
    page.goto(f"{stack.url}/app/claims/{claim_id}")
    codes = page.get_by_role("region", name="客户验证码")
    assert "多次错误已锁定" in codes.inner_text(), "staff see the claimant locked out of their code"
    staff.close()


def test_a_file_the_claim_cannot_take_is_refused_in_chinese_and_several_photos_go_at_once(
        stack: Stack, browser: Browser):
    claim_id = report(stack, all_documents=False)
    stack.wait(claim_id, lambda s: s["stage"] == "awaiting_documents", "awaiting documents")
    context, page = on_a_phone(browser)
    sign_in_with_the_code(page, stack, claim_id)
    photos = page.locator("#missing li").filter(has_text="损失照片")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)

    photos.get_by_label("损失照片", exact=True).set_input_files(files=[
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo"}])
    photos.get_by_role("button", name="上传").click()
    assert "无法读取该文件" in photos.get_by_role("alert").inner_text()
    photos.get_by_label("损失照片", exact=True).set_input_files(files=[
        {"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff" + bytes(UPLOAD_LIMIT + 10)}])
    photos.get_by_role("button", name="上传").click()
    assert "过大" in photos.get_by_role("alert").inner_text()
    page.screenshot(path=str(SHOTS / "claimant-upload-refused.png"), full_page=True)
    assert sent == [], "both were refused before anything was sent"

    pictures = [photo(f"{claim_id} photo {n}") for n in (1, 2)]
    photos.get_by_label("损失照片", exact=True).set_input_files(files=[
        {"name": f"photo-{n}.png", "mimeType": "image/png", "buffer": picture}
        for n, picture in enumerate(pictures, 1)])
    photos.get_by_role("button", name="上传").click()
    page.get_by_role("status").filter(has_text="已收到").wait_for()
    status = stack.wait(claim_id, lambda s: len([t for t in s["timeline"] if t["event"] == "documents_submitted"]) >= 2,
                        "both photos submitted")
    assert "damage_photos" not in status["missing_documents"]

    # Without the page's own check (a script-less browser, or a file that only claims to be a photo), the server
    # refuses in the same words, on the page, never as a JSON document.
    fake = page.request.post(f"{stack.url}/c/{claim_id}/documents", max_redirects=0, multipart={
        "kind": "id_card", "csrf": page.locator("input[name=csrf]").first.get_attribute("value") or "",
        "file": {"name": "id.jpg", "mimeType": "image/jpeg", "buffer": b"GIF89a not a jpeg"}})
    assert fake.status == 303 and fake.headers["location"].endswith("?problem=file_type")
    too_large = page.request.post(f"{stack.url}/c/{claim_id}/documents", max_redirects=0, multipart={
        "kind": "id_card", "csrf": "x", "file": {"name": "id.jpg", "mimeType": "image/jpeg",
                                                 "buffer": b"\xff\xd8\xff" + bytes(UPLOAD_LIMIT * 2)}})
    assert too_large.status == 303 and too_large.headers["location"] == f"/c/{claim_id}?problem=file_size"
    page.goto(f"{stack.url}{too_large.headers['location']}")
    assert "过大" in page.get_by_role("alert").inner_text()
    context.close()
