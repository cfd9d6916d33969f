"""The Temporal web UI, in headless Chromium, shows a claim's input decrypted to a signed-in staff member, through
the codec server, and encrypted to anyone else (docs/rules.md#personal-data).

The stack is `make run`'s: the embedded Temporal server started with the codec endpoint configured, a worker
process and an API process. The browser signs in on the API's `/sign-in` page, then turns on the UI's own
"include cross-origin credentials" codec setting (per browser, as the UI's Codec Server dialog stores it)."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Response

from config.settings import PROJECT_ROOT
from demo.document_images import render_invoice
from identity.codes import code_secret
from identity.oidc import DEV_CLIENT_ID, dev_client_secret
from letters.i18n import catalog, filters
from reporting.reports import day_bounds
from testkit.api_stack import Stack, running_stack
from testkit.claims import pdf
from testkit.waiting import polled

pytestmark = pytest.mark.devserver

SCREENSHOTS = PROJECT_ROOT / "var" / "test-artifacts" / "screenshots"
"""Each page as the browser showed it, kept after the run (the staff guide's pictures come from here)."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # ten demo days (seconds) to approve: time to act between the first breach and the next; a claim waits for its
    # materials a demo hour, however long the machine takes to reach its upload
    yield from running_stack(tmp_path_factory.mktemp("ui") / "var", approval_business_days=10, documents_days=3600)


def report_claim(stack: Stack) -> str:
    claim_id = stack.report("UI")
    stack.wait(claim_id, lambda s: s["stage"] is not None, "registered")
    return claim_id


def signed_in_with_token(browser: Browser, stack: Stack, token: str) -> tuple[BrowserContext, Page]:
    """A fresh browser that has sent this token on the sign-in page: the context and the page it landed on."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{stack.url}/sign-in")
    page.get_by_label("访问令牌").fill(token)
    page.get_by_role("button", name="登录", exact=True).click()
    return context, page


def open_with_codec(page: Page, stack: Stack, claim_id: str) -> list[Response]:
    """Turn on the UI's per-browser codec setting with credentials, open the claim's workflow: the codec
    server's answers to the page."""
    answers: list[Response] = []
    page.on("response", lambda r: answers.append(r) if r.url.startswith(f"{stack.url}/codec/") else None)
    page.goto(stack.ui_url)
    page.evaluate("""endpoint => {
        localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
        localStorage.setItem('endpoint', JSON.stringify(endpoint));
        localStorage.setItem('includeCredentials', 'true');
    }""", f"{stack.url}/codec")
    with page.expect_response(lambda r: r.url.startswith(f"{stack.url}/codec/decode")):
        page.goto(f"{stack.ui_url}/namespaces/default/workflows/claim-{claim_id}")
    return answers


def test_the_web_ui_shows_a_claim_decrypted_only_to_a_signed_in_staff_member(stack: Stack, browser: Browser):
    claim_id = report_claim(stack)

    staff, page = signed_in_with_token(browser, stack, stack.token("sup-1", "supervisor"))
    assert "sup-1" in page.inner_text("#who") and page.url.endswith("/app"), "signed in, the workbench opens"
    answers = open_with_codec(page, stack, claim_id)
    page.wait_for_function("() => document.body.innerText.includes('Li Lei')")
    shown = page.inner_text("body")
    assert f'"claim_id": "{claim_id}"' in shown and '"phone": "13800000000"' in shown, "the input, decrypted"
    assert answers and all(r.status == 200 for r in answers), [(r.url, r.status) for r in answers]
    staff.close()

    stranger = browser.new_context()
    page = stranger.new_page()
    answers = open_with_codec(page, stack, claim_id)
    page.wait_for_timeout(2_000)  # time enough for the page to show whatever it could decode
    assert answers and all(r.status == 401 for r in answers), [(r.url, r.status) for r in answers]
    assert "Li Lei" not in page.inner_text("body") and "13800000000" not in page.inner_text("body")
    stranger.close()

    channel, page = signed_in_with_token(browser, stack, stack.token("portal", "channel"))
    assert "仅限工作人员" in page.inner_text("[role=alert]")
    assert not [c for c in channel.cookies() if c["name"] == "claims_session"], "a channel gets no session"
    channel.close()


# --------------------------------------------------------------------------- the staff workbench


WORKBENCH_DOCUMENTS = ("claim_form", "id_card", "driver_license", "vehicle_license", "accident_report",
                       "repair_invoice", "damage_photos")


def report(stack: Stack, **changes: object) -> str:
    return stack.report("WB", WORKBENCH_DOCUMENTS, **changes)


@pytest.fixture(scope="module")
def shots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def test_a_supervisor_finds_an_overdue_claim_approves_within_authority_and_is_refused_beyond(
        stack: Stack, browser: Browser, shots: Path):
    within = report(stack, claimed_amount="8000.00", line_items=[])
    beyond = report(stack, policy_number="P-AUTO-002", claimed_amount="150000.00", line_items=[])
    stack.wait(within, lambda s: bool(s["sla_breaches"]), "an approval breach", seconds=90)  # 10 demo days
    stack.wait(beyond, lambda s: s["stage"] in ("awaiting_approval", "investigating"), "a decision to wait for")

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{stack.url}/app")
    assert "/sign-in" in page.url, "the workbench asks who you are first"
    page.screenshot(path=str(shots / "sign-in.png"), full_page=True)
    sign_in_as(page, "sup-1")
    page.wait_for_url(f"{stack.url}/app")
    assert "sup-1" in page.inner_text("#who")
    row = page.get_by_role("row").filter(has_text=within)
    assert "overdue" in (row.get_attribute("class") or ""), "the breached claim is marked overdue"
    page.screenshot(path=str(shots / "queue.png"), full_page=True)

    row.get_by_role("link", name=within).click()
    page.wait_for_url(f"**/app/claims/{within}")
    assert "待审批" in page.inner_text("#stage")
    page.screenshot(path=str(shots / "claim.png"), full_page=True)
    page.get_by_label("审批意见").fill("核对无误")
    page.get_by_role("button", name="批准", exact=True).click()
    page.wait_for_url(f"**/app/claims/{within}?done=approve")
    status = stack.wait(within, lambda s: s["outcome"] == "paid", "paid")
    assert [a["approver_id"] for a in status["approvals"]] == ["sup-1"]

    if stack.wait(beyond, lambda s: True, "status")["stage"] == "investigating":  # a large claim is looked into
        with stack.client() as http:
            found = http.post(f"/claims/{beyond}/actions/record_investigation",
                              headers=stack.auth("inv-1", "investigator"),
                              json={"investigator_id": "inv-1", "findings": "as reported",
                                    "confirmed_amount": "150000.00", "fraud_suspected": False})
            assert found.status_code == 200, found.text
    stack.wait(beyond, lambda s: s["stage"] == "awaiting_approval", "awaiting approval")
    page.goto(f"{stack.url}/app/claims/{beyond}")
    assert "经理" in page.inner_text("#rule"), "the authority rule is shown before trying"
    assert "赔付金额达" in page.inner_text("#confirm-reasons"), "a large payout asks for a deliberate approval"
    page.get_by_label("审批意见").fill("金额较大，已核")
    page.get_by_label("我已核阅上述提示和材料，确认批准").check()
    page.get_by_role("button", name="批准", exact=True).click()
    problem = page.get_by_role("alert").inner_text()
    assert "经理" in problem or "更高权限" in problem, problem
    page.screenshot(path=str(shots / "refused.png"), full_page=True)
    assert stack.wait(beyond, lambda s: True, "status")["approvals"] == [], "the workflow refused it"
    context.close()


# --------------------------------------------------------------------------- the claimant's progress page


def test_a_claimant_passes_the_code_check_uploads_the_missing_materials_and_sees_the_stage_move(
        stack: Stack, browser: Browser, shots: Path):
    claim = json.loads((PROJECT_ROOT / "samples" / "claim-over-http.json").read_text(encoding="utf-8"))
    cid = claim["claim_id"] = f"CP-{uuid.uuid4().hex[:8]}"
    with stack.client() as http:
        assert http.post("/claims", json=claim, headers=stack.auth("portal", "channel")).status_code == 201
    missing = stack.wait(cid, lambda s: s["stage"] == "awaiting_documents", "awaiting documents")["missing_documents"]
    assert len(missing) >= 2

    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{stack.url}/c/{cid}")
    assert page.locator("#missing").count() == 0, "nothing of the claim shows before the code check"
    page.get_by_role("button", name="发送验证码").click()
    page.wait_for_selector("#code-sent")
    page.get_by_label("验证码").fill("000000" if stack.code_received(cid, "progress") != "000000" else "111111")
    page.get_by_role("button", name="查看进度").click()
    assert "验证码不正确" in page.get_by_role("alert").inner_text(), "a wrong code is refused, in Chinese"
    page.get_by_label("验证码").fill(stack.code_received(cid, "progress"))
    page.screenshot(path=str(shots / "claimant-code.png"), full_page=True)
    page.get_by_role("button", name="查看进度").click()
    page.wait_for_url(f"**/c/{cid}")
    assert page.get_attribute("#stage", "data-stage") == "awaiting_documents"
    items = page.locator("#missing").get_by_role("listitem")
    assert items.count() == len(missing)
    assert page.get_attribute("#steps li.current", "data-stage") == "awaiting_documents"
    page.screenshot(path=str(shots / "claimant-missing.png"), full_page=True)

    document_name = filters("zh-CN", catalog("zh-CN"))["document"]
    for kind in missing:
        item = items.filter(has_text=document_name(kind))
        item.get_by_label(document_name(kind), exact=True).set_input_files(files=[
            {"name": f"{kind}.pdf", "mimeType": "application/pdf", "buffer": pdf(f"{cid} {kind}")}])
        item.get_by_role("button", name="上传").click()
        page.wait_for_selector("#uploaded")
    status = stack.wait(cid, lambda s: s["stage"] not in ("awaiting_documents", "registered"), "materials complete")
    assert status["missing_documents"] == []
    assert {e["sender"]["subject"] for e in status["timeline"] if e["event"] == "documents_submitted"
            and e.get("sender")} == {"self-service-web"}, "uploads reach the claim as the self-service channel"
    page.goto(f"{stack.url}/c/{cid}")
    assert page.get_attribute("#stage", "data-stage") != "awaiting_documents", "the stage moved on"
    assert page.locator("#steps li.done[data-stage='awaiting_documents']").count() == 1
    page.screenshot(path=str(shots / "claimant-progress.png"), full_page=True)

    other = browser.new_context()
    stranger = other.new_page()
    stranger.goto(f"{stack.url}/c/{cid}?lang=en")
    assert stranger.locator("#stage").count() == 0, "another browser must pass the code check itself"
    assert stranger.get_by_role("button", name="Send me a code").count() == 1, \
        "English claimants' links open in English"
    assert stranger.get_attribute("html", "lang") == "en"
    assert other.request.get(f"{stack.url}/app/documents/{'0' * 64}", max_redirects=0).status == 303, \
        "stored files are for signed-in staff"
    other.close()
    context.close()

    staff = browser.new_context(locale="zh-CN")
    page = staff.new_page()
    page.goto(f"{stack.url}/app/claims/{cid}")
    sign_in_as(page, "sup-1")
    page.wait_for_url(f"**/app/claims/{cid}")
    links = page.locator("#documents a")
    assert links.count() == len(missing), "each uploaded file is listed on the claim page"
    with page.expect_response(lambda r: "/app/documents/" in r.url) as shown:
        page.locator("#documents summary").first.click()  # the file, inline beside its reading
    assert shown.value.status == 200 and shown.value.headers["content-type"] == "application/pdf"
    first = staff.request.get(f"{stack.url}{links.first.get_attribute('href')}")
    assert first.status == 200 and first.headers["content-type"] == "application/pdf"
    assert first.body() in {pdf(f"{cid} {kind}") for kind in missing}, "the stored file itself"
    staff.close()


# --------------------------------------------------------------------------- the dashboard


def test_the_dashboard_draws_the_days_figures_from_the_database(stack: Stack, browser: Browser, shots: Path):
    mine = [report(stack, claimed_amount="2000.00",
                   line_items=[{"description": "bumper", "amount": "2000.00", "category": "repair"}]) for _ in range(2)]
    for claim_id in mine:
        stack.wait(claim_id, lambda s: s["outcome"] == "paid", "paid on the fast path")
    # The claims table is written a moment after the claim's own state: wait until it shows both closed.
    polled(lambda: closed_in_database(stack, mine), lambda closed: closed == set(mine), "both claims closed in the "
           "claims table")
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.goto(f"{stack.url}/app/dashboard")
    sign_in_as(page, "sup-1")
    page.wait_for_url(f"{stack.url}/app/dashboard")
    # Other tests' claims may still be moving: compare only a drawing whose figures did not change while it was
    # drawn (the same before and after), drawing again until one is.
    for _ in range(20):
        before = day_figures(stack)
        page.reload()
        page.wait_for_function("() => document.querySelectorAll('#charts canvas').length >= 7")
        drawn = page.evaluate("""() => Object.fromEntries(['by_type', 'fast_path', 'trend'].map(name =>
            [name, echarts.getInstanceByDom(document.getElementById('chart-' + name)).getOption().series
                .map(s => s.data)]))""")
        if day_figures(stack) == before:
            break
    else:
        raise AssertionError("the day's figures never stood still long enough to compare a drawing with them")
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    context.close()

    closed, paid, paths, received = before
    types = ["auto", "health", "property"]
    assert closed.get("auto", 0) >= 2, "this test's claims closed today: the check compares real figures"
    assert drawn["by_type"][0] == [closed.get(t, 0) for t in types], (drawn, closed)
    assert drawn["by_type"][1] == [float(paid.get(t, 0) or 0) for t in types], (drawn, paid)
    assert {d["name"].split(" ")[1]: d["value"] for d in drawn["fast_path"][0]} == paths
    assert drawn["trend"][0][-1] == received


def sign_in_as(page, subject: str) -> None:
    """Press the demo staff member's button on the sign-in page, found by its name as a person reads it."""
    page.get_by_role("button", name=re.compile(rf"· {re.escape(subject)}（")).click()


def closed_in_database(stack: Stack, claim_ids: list[str]) -> set[str]:
    database = sqlite3.connect(stack.var_dir / "claims.db")
    try:
        marks = ",".join("?" * len(claim_ids))
        return {row[0] for row in database.execute(
            f"SELECT claim_id FROM claims WHERE closed_at IS NOT NULL AND claim_id IN ({marks})", claim_ids)}
    finally:
        database.close()


def day_figures(stack: Stack) -> tuple[dict[str, int], dict[str, float], dict[str, int], int]:
    """Today's figures as the database holds them: closed by type, paid by type, closed by path, received."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    start, end = (t.replace(tzinfo=None).isoformat(sep=" ") for t in day_bounds(today, "Asia/Shanghai"))
    database = sqlite3.connect(stack.var_dir / "claims.db")
    try:
        closed = dict(database.execute("SELECT claim_type, count(*) FROM claims WHERE closed_at >= ? AND "
                                       "closed_at < ? GROUP BY claim_type", (start, end)).fetchall())
        paid = dict(database.execute("SELECT c.claim_type, sum(p.amount) FROM payments p JOIN claims c ON "
                                     "c.claim_id = p.claim_id WHERE p.status = 'paid' AND p.paid_at >= ? AND "
                                     "p.paid_at < ? GROUP BY c.claim_type", (start, end)).fetchall())
        paths = dict(database.execute("SELECT path, count(*) FROM claims WHERE closed_at >= ? AND closed_at < ? "
                                      "AND path IS NOT NULL GROUP BY path", (start, end)).fetchall())
        received = database.execute("SELECT count(*) FROM claims WHERE registered_at >= ? AND registered_at < ?",
                                    (start, end)).fetchone()[0]
    finally:
        database.close()
    return closed, paid, paths, received


# --------------------------------------------------------------------------- sign-in by the identity provider


def test_staff_sign_in_by_the_identity_providers_authorization_code_flow(stack: Stack, browser: Browser):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{stack.url}/app")
    page.get_by_role("link", name=re.compile("通过统一身份认证登录")).click()
    page.wait_for_url("**/dev-idp/authorize**")
    assert "code_challenge_method=S256" in page.url, "PKCE, S256"
    sign_in_as(page, "mgr-1")
    page.wait_for_url(f"{stack.url}/app")
    assert "mgr-1" in page.inner_text("#who"), "back at the workbench, signed in as the person chosen"
    session = next(c for c in context.cookies() if c["name"] == "claims_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert not [c for c in context.cookies() if c["name"] == "claims_sign_in"], "the flow's cookie is gone"
    context.close()

    stranger = browser.new_context()
    page = stranger.new_page()
    page.goto(f"{stack.url}/sign-in/callback?code=forged&state=forged")
    assert "重新开始" in page.get_by_role("alert").inner_text(), "a callback this browser did not start is refused"
    stranger.close()


def test_the_development_provider_gives_each_code_once_and_only_for_its_verifier(stack: Stack):
    with stack.client() as http:
        started = http.get("/sign-in/oidc", follow_redirects=False)
        authorize = httpx.URL(started.headers["location"])
        params = dict(authorize.params)
        answer = http.post("/dev-idp/authorize", data={"subject": "sup-1", "redirect_uri": params["redirect_uri"],
                                                      "state": params["state"],
                                                      "code_challenge": params["code_challenge"]},
                           follow_redirects=False)
        code = dict(httpx.URL(answer.headers["location"]).params)["code"]
        secret = dev_client_secret(code_secret(None, stack.var_dir))
        exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": params["redirect_uri"],
                    "code_verifier": "x" * 43}
        wrong_verifier = http.post("/dev-idp/token", data=exchange, auth=(DEV_CLIENT_ID, secret))
        assert wrong_verifier.status_code == 400 and wrong_verifier.json()["error"] == "invalid_grant"
        again = http.post("/dev-idp/token", data=exchange, auth=(DEV_CLIENT_ID, secret))
        assert again.json()["error"] == "invalid_grant", "a code is spent by its first exchange, right or wrong"
        assert http.post("/dev-idp/token", data=exchange, auth=(DEV_CLIENT_ID, "nope")).status_code == 401


# --------------------------------------------------------------------------- the survey after closing


def test_a_claimant_answers_the_survey_and_a_low_score_opens_a_call_back(stack: Stack, browser: Browser,
                                                                         shots: Path):
    cid = report(stack, claimed_amount="1500.00",
                 line_items=[{"description": "mirror", "amount": "1500.00", "category": "repair"}])
    stack.wait(cid, lambda s: s["survey_until"] is not None, "the survey sent (a demo day after closing)")
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{stack.url}/c/{cid}")
    page.get_by_role("button", name="发送验证码").click()
    page.wait_for_selector("#code-sent")
    page.get_by_label("验证码").fill(stack.code_received(cid, "progress"))
    page.get_by_role("button", name="查看进度").click()
    page.wait_for_selector("#survey")
    page.get_by_role("radio", name="2").check()
    page.get_by_label("我们可以改进什么？（选填）").fill("等待时间太长")
    page.screenshot(path=str(shots / "claimant-survey.png"), full_page=True)
    page.get_by_role("button", name="提交").click()
    page.wait_for_selector("#answered")
    assert "回访" in page.inner_text("#answered") and page.locator("#survey").count() == 0
    context.close()
    status = stack.wait(cid, lambda s: "callback" in s["deadlines"], "a call-back clock")
    assert status["survey_score"] == 2
    answered = next(t for t in status["timeline"] if t["event"] == "survey_response")
    assert answered["sender"]["subject"] == "self-service-web"


def test_staff_see_what_the_machine_read_beside_the_invoice_and_correct_it(stack: Stack, browser: Browser,
                                                                           shots: Path):
    claim = json.loads((PROJECT_ROOT / "samples" / "claim-over-http.json").read_text(encoding="utf-8"))
    cid = f"OCR-{uuid.uuid4().hex[:8]}"
    claim.update({"claim_id": cid, "claimed_amount": "3200.00",
                  "line_items": [{"description": "bumper repair", "amount": "3200.00", "category": "repair"}],
                  "documents": [{"kind": k, "ref": f"doc://wb/{cid}/{k}.pdf"} for k in (
                      "claim_form", "id_card", "driver_license", "vehicle_license", "accident_report",
                      "damage_photos")]})
    image = io.BytesIO()
    render_invoice({"invoice_no": "24312000000" + str(uuid.uuid4().int)[:9], "date": datetime.now().date(),
                    "issuer": "上海瑞金汽车维修有限公司", "tax_id": "91310000T73FNYEYQN", "buyer": "李雷",
                    "items": [("*修理修配劳务*车辆维修费", 4160.0)], "total": 4160.0}).save(image, format="PNG")
    with stack.client() as http:
        portal = stack.auth("portal", "channel")
        assert http.post("/claims", json=claim, headers={**portal, "Idempotency-Key": cid}).status_code == 201
        stack.wait(cid, lambda s: s["stage"] == "awaiting_documents", "awaiting the invoice")
        sent = http.post(f"/claims/{cid}/documents", headers=portal, data={"kind": "repair_invoice"},
                         files={"file": ("invoice.png", image.getvalue(), "image/png")})
        assert sent.status_code == 201, sent.text
    status = stack.wait(cid, lambda s: s["stage"] == "awaiting_approval", "read, checked, waiting for a person")
    assert "invoice_total_mismatch" in {r["rule"] for r in status["risk"]["reasons"]}

    staff = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1400})
    page = staff.new_page()
    page.goto(f"{stack.url}/app/claims/{cid}")
    sign_in_as(page, "sup-1")
    page.wait_for_url(f"**/app/claims/{cid}")
    assert "发票金额不符" in page.inner_text("#risk"), "the flag is named in Chinese"
    assert "4160.00" in page.inner_text("#documents dd[data-field='total']"), "the total read, beside the file"
    page.screenshot(path=str(shots / "claim-document-read.png"), full_page=True)
    page.get_by_label("字段").select_option("total")
    page.get_by_label("正确值").fill("3200.00")
    page.get_by_role("button", name="更正").click()
    page.wait_for_selector("#done")
    corrected = page.inner_text("#documents dd[data-field='total']")
    assert "3200.00" in corrected and "sup-1" in corrected, "the correction, with who made it"
    assert "发票金额不符" not in page.inner_text("#risk"), "its points went with the mismatch"
    staff.close()


def test_finance_records_a_repayment_and_a_manager_writes_off_the_rest_on_the_workbench(stack: Stack, browser: Browser,
                                                                                        shots: Path):
    """A green-channel claim advanced 10,000 and then rejected: the money is owed back, shown on the claim's page,
    where finance records what came back and a manager writes off the rest."""
    claim = json.loads((PROJECT_ROOT / "samples" / "claim-over-http.json").read_text(encoding="utf-8"))
    cid = f"REC-{uuid.uuid4().hex[:8]}"
    claim.update({"claim_id": cid, "claimed_amount": "30000.00", "line_items": [],
                  "incident": {**claim["incident"], "major": True},
                  "documents": [{"kind": k, "ref": f"doc://wb/{cid}/{k}.pdf"} for k in (
                      "claim_form", "id_card", "driver_license", "vehicle_license", "accident_report",
                      "damage_photos", "repair_invoice")]})
    with stack.client() as http:
        assert http.post("/claims", json=claim, headers={**stack.auth("portal", "channel"),
                                                         "Idempotency-Key": cid}).status_code == 201
        stack.wait(cid, lambda s: s["stage"] == "investigating", "a green-channel claim investigated")

        def act(update: str, payload: dict[str, str], subject: str, role: str) -> None:
            sent = http.post(f"/claims/{cid}/actions/{update}", json=payload, headers=stack.auth(subject, role))
            assert sent.status_code < 300, sent.text

        act("record_investigation", {"investigator_id": "inv-1", "findings": "as reported"}, "inv-1", "investigator")
        stack.wait(cid, lambda s: s["stage"] == "awaiting_approval", "awaiting approval")
        act("approve_advance", {"approver_id": "sup-1", "role": "supervisor", "amount": "10000.00"}, "sup-1",
            "supervisor")
        stack.wait(cid, lambda s: len(s["payments"]) == 1, "the advance paid")
        act("reject", {"approver_id": "sup-2", "role": "supervisor", "reason": "not covered", "clause": "art. 27"},
            "sup-2", "supervisor")
    stack.wait(cid, lambda s: s["recoveries"], "money owed back")

    finance = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1400})
    page = finance.new_page()
    page.goto(f"{stack.url}/app/claims/{cid}")
    sign_in_as(page, "fin-1")
    page.wait_for_url(f"**/app/claims/{cid}")
    assert "10,000.00" in page.inner_text("#recovery-outstanding")
    assert "拒赔案件已有预付款" in page.inner_text("#recoveries"), "the reason, in Chinese"
    page.get_by_label(re.compile("收回金额")).fill("4000.00")
    page.get_by_label(re.compile("银行流水号")).fill("TRF-20261204-1")
    page.get_by_role("button", name=re.compile("登记收回")).click()
    page.wait_for_selector("#done")
    assert "6,000.00" in page.inner_text("#recovery-outstanding")
    page.get_by_label(re.compile("核销理由")).fill("claimant cannot be reached")
    page.get_by_role("button", name=re.compile("核销")).click()
    assert "经理" in page.get_by_role("alert").inner_text(), "finance does not write off"
    finance.close()

    manager = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1400})
    page = manager.new_page()
    page.goto(f"{stack.url}/app/claims/{cid}")
    sign_in_as(page, "mgr-1")
    page.wait_for_url(f"**/app/claims/{cid}")
    page.get_by_label(re.compile("核销理由")).fill("claimant cannot be reached")
    page.get_by_role("button", name=re.compile("核销")).click()
    page.wait_for_selector("#done")
    assert "已核销" in page.inner_text("#recoveries") and "0.00" in page.inner_text("#recovery-outstanding")
    page.screenshot(path=str(shots / "claim-recovery.png"), full_page=True)
    manager.close()
    status = stack.wait(cid, lambda s: s["recoveries"][0]["status"] == "written_off", "written off")
    assert [r["sender"]["subject"] for r in status["timeline"] if r["event"].startswith("recovery_") and
            r.get("sender")] == ["fin-1", "mgr-1"]


def test_staff_set_a_reserve_and_open_a_salvage_recovery_on_the_workbench(stack: Stack, browser: Browser):
    """The claim page shows the case reserve; an adjuster sets it within their authority (and is refused beyond
    it, in Chinese), a supervisor opens a salvage recovery; both stand in the claim's status afterwards."""
    claim = json.loads((PROJECT_ROOT / "samples" / "claim-over-http.json").read_text(encoding="utf-8"))
    cid = f"RES-{uuid.uuid4().hex[:8]}"
    claim.update({"claim_id": cid, "claimed_amount": "30000.00", "line_items": [], "documents": []})
    with stack.client() as http:
        assert http.post("/claims", json=claim, headers={**stack.auth("portal", "channel"),
                                                         "Idempotency-Key": cid}).status_code == 201
    status = stack.wait(cid, lambda s: s["stage"] == "awaiting_documents", "waiting for materials")
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    page.goto(f"{stack.url}/app/claims/{cid}")
    sign_in_as(page, "adj-1")
    page.wait_for_url(f"**/app/claims/{cid}")
    assert "¥" in page.inner_text("#reserve-amount") and status["reserve"] in page.inner_text(
        "#reserve-amount").replace(",", ""), "the reserve set at registration"
    page.get_by_label("新准备金").fill("60000.00")
    page.locator("#reserve").get_by_label("原因").first.fill("second vehicle damaged")
    page.get_by_role("button", name="调整准备金").click()
    assert "50000" in page.get_by_role("alert").inner_text(), "beyond an adjuster's reserve authority"
    page.get_by_label("新准备金").fill("45000.00")
    page.locator("#reserve").get_by_label("原因").first.fill("second vehicle damaged")
    page.get_by_role("button", name="调整准备金").click()
    page.wait_for_selector("#done")
    assert "45,000.00" in page.inner_text("#reserve-amount")
    context.close()

    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    page.goto(f"{stack.url}/app/claims/{cid}")
    sign_in_as(page, "sup-1")
    page.wait_for_url(f"**/app/claims/{cid}")
    page.get_by_label("追偿类型").select_option("salvage")
    page.get_by_label("预计追回金额").fill("3000.00")
    page.get_by_label("追偿对象或残值物品").fill("damaged bumper")
    page.locator("form[action$='open_recovery']").get_by_label("原因").fill("sold to a breaker")
    page.get_by_role("button", name="立项追偿").click()
    page.wait_for_selector("#done")
    assert "残值" in page.inner_text("#recoveries") and "3,000.00" in page.inner_text("#recovery-outstanding")
    context.close()
    status = stack.wait(cid, lambda s: s["recoveries"], "the salvage recovery")
    assert status["reserve"] == "45000.00" and status["recoveries"][0]["item"] == "damaged bumper"
