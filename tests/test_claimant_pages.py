"""What anyone may ask of the claimant pages without signing in: a progress code. It tells no stranger which
claims exist, and no stranger can spend the codes the claimant and the call centre rely on."""

from __future__ import annotations

import re
import time
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest

from api.app import create_app
from edge.auth import SESSION_COOKIE
from edge.budget import AddressBudget
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
from testkit.waiting import eventually
from tests.conftest import claims_rig, with_clocks


async def test_asking_for_a_progress_code_tells_no_stranger_which_claims_exist(claims, tmp_path):
    claim = auto_claim(documents=docs("claim_form", claim_id="x"))
    await claims.start(claim)
    await claims.at_stage(claim["claim_id"], "awaiting_documents")
    cid = claim["claim_id"]
    # The API checks the page's token by the wall clock, the workflow by the test server's, which may run ahead:
    # issued now, it lasts until an hour past the server's time.
    lasts = max(0.0, await claims.server_time() - time.time()) + 3600
    services = claims.services(
        tmp_path, portal_token=lambda: claims.token("self-service-web", "channel", ttl_seconds=lasts),
        code_budget=AddressBudget(3, 3600))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ready=services)),
                                 base_url="http://pages") as http:
        known = await http.post(f"/c/{cid}/code")
        unknown = await http.post("/c/NO-SUCH-CLAIM/code")
        assert (known.status_code, known.headers["location"]) == (303, f"/c/{cid}?sent=1")
        assert (unknown.status_code, unknown.headers["location"]) == (303, "/c/NO-SUCH-CLAIM?sent=1"), \
            "a claim that does not exist gets the same answer"
        assert len(claims.notices(cid, "code_progress")) == 1, "the claim that exists sent its code"
        again = await http.post(f"/c/{cid}/code")  # within a minute: the claim sends nothing, and says nothing
        assert (again.status_code, again.headers["location"]) == (303, f"/c/{cid}?sent=1")
        assert len(claims.notices(cid, "code_progress")) == 1
        too_many = await http.post("/c/ANOTHER-CLAIM/code")
        assert too_many.status_code == 429 and "请一小时后再试" in too_many.text, "the address's budget is spent"


def test_an_address_budget_refills_as_its_window_slides():
    now = [0.0]
    budget = AddressBudget(2, 60, clock=lambda: now[0])
    assert budget.take("a") and budget.take("a") and not budget.take("a")
    assert budget.take("b"), "each address has its own"
    now[0] = 60.5
    assert budget.take("a") and budget.take("a") and not budget.take("a")


async def test_no_address_puts_words_of_its_own_into_a_pages_alert(claims, tmp_path):
    """`?problem=` on the claimant page and `?done=` on the staff page are codes the page looks up in its own list;
    anything else shows nothing, so a link cannot dress a phishing text as the insurer's message."""
    claim = auto_claim(documents=docs("claim_form", claim_id="x"))
    await claims.start(claim)
    await claims.at_stage(claim["claim_id"], "awaiting_documents")
    cid = claim["claim_id"]
    phishing = "您的银行卡信息有误，请致电 400-000-0000 核实"
    services = claims.services(tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ready=services)),
                                 base_url="http://pages") as http:
        for query in (f"?problem={quote(phishing)}", f"?uploaded={quote(phishing)}"):
            page = await http.get(f"/c/{cid}{query}")
            assert page.status_code == 200 and "400-000-0000" not in page.text, f"{query} shows its own text"
            assert 'role="alert"' not in page.text
        told = await http.get(f"/c/{cid}?problem=file_type")
        assert "无法读取该文件" in told.text and 'role="alert"' in told.text, "a known code is said in Chinese"
        http.cookies.set(SESSION_COOKIE, claims.token("sup-1", "supervisor"))
        staff = await http.get(f"/app/claims/{cid}?done={quote(phishing)}")
        assert staff.status_code == 200 and "400-000-0000" not in staff.text, "the staff page shows the address's text"
        assert "已批准" in (await http.get(f"/app/claims/{cid}?done=approve")).text


async def test_staff_pages_show_beijing_time_and_name_events_and_senders(claims, tmp_path):
    claim = auto_claim(documents=docs("claim_form", claim_id="x"))
    await claims.start(claim)
    status = await claims.at_stage(claim["claim_id"], "awaiting_documents")
    await claims.update(claim["claim_id"], "submit_documents", {"documents": docs("id_card", claim_id="x")})
    await claims.wait(claim["claim_id"], lambda s: any(t["event"] == "documents_submitted" for t in s["timeline"]),
                      "the upload on the timeline")
    registered = datetime.fromisoformat(status["timeline"][0]["at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ready=claims.services(tmp_path))),
                                 base_url="http://pages") as http:
        http.cookies.set(SESSION_COOKIE, claims.token("sup-1", "supervisor"))
        page = (await http.get(f"/app/claims/{claim['claim_id']}")).text
        signed_in = (await http.get("/sign-in")).text
    assert registered.strftime("%Y-%m-%d %H:%M") in page, "the timeline is not in Beijing time"
    assert "UTC" not in page, "a staff page shows UTC"
    timeline = re.search(r'<table id="timeline">.*?</table>', page, re.S).group(0)
    assert "报案登记" in timeline and "进入：" in timeline, "the timeline's events are not named in Chinese"
    assert "stage:" not in timeline and "notified:" not in timeline and "registered" not in timeline, timeline
    assert "车险" in page and "auto" not in re.search(r"<h1>.*?</h1>", page, re.S).group(0)
    upload = re.search(r"<tr><td>[^<]*</td><td>收到材料</td>\s*<td>([^<]*)</td>", timeline)
    assert upload and upload.group(1) == "portal", "a claimant's upload names the channel that sent it, not 'system'"
    assert "+00:00" not in signed_in and re.search(r"20\d\d-\d\d-\d\d \d\d:\d\d", signed_in), \
        "the sign-in page shows the session's end as an ISO time in UTC"


async def test_staff_see_chinese_pages_for_an_unknown_claim_and_after_signing_in(claims, tmp_path):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ready=claims.services(tmp_path))),
                                 base_url="http://pages") as http:
        http.cookies.set(SESSION_COOKIE, claims.token("sup-1", "supervisor"))
        missing = await http.get("/app/claims/NO-SUCH-CLAIM")
        signed_in = await http.get("/sign-in")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html"), missing.text
    assert "未找到案件" in missing.text and 'href="/app"' in missing.text
    assert re.search(r'<a href="/app" id="continue"[^>]*>进入工作台</a>', signed_in.text), \
        "signed in, the page leads to the workbench"
    assert "主管" in signed_in.text and "supervisor" not in signed_in.text, "roles are named in Chinese"


async def test_a_spent_code_is_not_offered_for_typing_again(claims, tmp_path):
    """After the wrong codes that spend it, the page says the code no longer works and offers a new one, without
    the code box or the 'code sent' notice beside it; a wrong code before that keeps the box."""
    claim = auto_claim(documents=docs("claim_form", claim_id="x"))
    await claims.start(claim)
    await claims.at_stage(claim["claim_id"], "awaiting_documents")
    cid = claim["claim_id"]
    lasts = max(0.0, await claims.server_time() - time.time()) + 3600
    services = claims.services(tmp_path, portal_token=lambda: claims.token("self-service-web", "channel",
                                                                           ttl_seconds=lasts))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ready=services)),
                                 base_url="http://pages") as http:
        await http.post(f"/c/{cid}/code")
        right = claims.code_sent(cid, "progress")
        wrong = f"{(int(right) + 1) % 1000000:06d}"
        pages = [(await http.post(f"/c/{cid}/verify", data={"code": wrong})).text for _ in range(4)]
    assert 'id="code"' in pages[0] and 'id="code-sent"' in pages[0], "a wrong code may be typed again"
    locked = pages[-1]
    assert "已失效" in locked, locked
    assert 'id="code"' not in locked and 'id="code-sent"' not in locked, "a spent code is offered for typing again"


@pytest.fixture
async def live_appeals(dev_env, fast_clock, engine):
    """The rig on the dev server with an appeal window of a demo hour: a denied claim stays closed and running."""
    async with claims_rig(dev_env, with_clocks(fast_clock, appeal_window_days=3600), engine) as rig:
        yield rig


async def test_the_queue_lists_open_claims_with_the_amount_to_decide_and_the_handler(live_appeals, tmp_path):
    """On the dev server, where the queue reads Temporal's visibility: a claim waiting for approval shows the payout
    to decide (not the amount claimed) and its handler; a closed claim whose run still waits out its appeal window
    is not listed as open. Only these claims' rows are read: other tests' claims share the server."""
    live = live_appeals
    waiting = auto_claim(policy_number="P-AUTO-002", claimed_amount="15000.00", line_items=[],
                         documents=docs(*ALL_AUTO_DOCS, claim_id="queue-waiting"))
    closed = auto_claim(incident={"cause": "racing"}, documents=docs("claim_form", claim_id="queue-closed"))
    for claim in (waiting, closed):
        await live.start(claim)
    await live.at_stage(waiting["claim_id"], "awaiting_approval")
    await live.update(waiting["claim_id"], "assign", {"handler_id": "adj-7", "by": "sup-1"})
    await live.wait(closed["claim_id"], lambda s: s["outcome"] == "denied", "denied (racing is excluded)")
    payout = (await live.wait(waiting["claim_id"], lambda s: s["handler"] == "adj-7", "assigned"))["payout"]["total"]

    async def closed_but_running() -> list[Any]:
        query = f"WorkflowId = 'claim-{closed['claim_id']}' AND ClaimStage = 'closed' AND ExecutionStatus = 'Running'"
        return [w async for w in live.client.list_workflows(query)]

    await eventually(closed_but_running, bool, "the withdrawn claim closed, its run still open")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ready=live.services(tmp_path))),
                                 base_url="http://pages") as http:
        http.cookies.set(SESSION_COOKIE, live.token("sup-1", "supervisor"))

        async def row_of_waiting() -> str:
            page = (await http.get("/app?queue=all")).text
            found = re.search(rf'<tr[^>]*data-claim="{waiting["claim_id"]}".*?</tr>', page, re.S)
            assert f'data-claim="{closed["claim_id"]}"' not in page, "a closed claim is listed as open"
            return found.group(0) if found else ""

        row = await eventually(row_of_waiting, lambda r: "adj-7" in r, "the waiting claim's row with its handler")
    assert f"待决 ¥{Decimal(payout):,.2f}" in row, row


async def test_a_large_or_flagged_claim_is_approved_only_with_a_confirmation_and_a_comment(claims, tmp_path):
    claim = auto_claim(policy_number="P-AUTO-002", claimed_amount="59500.00", line_items=[],
                       documents=docs(*ALL_AUTO_DOCS, claim_id="large"))
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.at_stage(cid, "awaiting_approval")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ready=claims.services(tmp_path))),
                                 base_url="http://pages") as http:
        http.cookies.set(SESSION_COOKIE, claims.token("sup-1", "supervisor"))
        page = (await http.get(f"/app/claims/{cid}")).text
        assert 'id="confirm-reasons"' in page and "赔付金额达" in page and 'name="confirmed"' in page, page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        for form in ({"csrf": csrf, "comment": ""}, {"csrf": csrf, "comment": "ok"},
                     {"csrf": csrf, "comment": "", "confirmed": "yes"}):
            answer = await http.post(f"/app/claims/{cid}/approve", data=form)
            assert (answer.status_code, answer.headers["location"]) == (303, f"/app/claims/{cid}"), \
                "a refused form is answered with a redirect: reloading the page sends nothing again"
            shown = await http.get(f"/app/claims/{cid}")
            assert "须勾选确认并填写审批意见" in shown.text, form
            again = await http.get(f"/app/claims/{cid}")
            assert "须勾选确认并填写审批意见" not in again.text, "the refusal is told once"
        http.cookies.set("claims_refused", "5LuK5aSp6K-36Ie055S1IDQwMA.0123456789abcdef0123456789abcdef")
        forged = await http.get(f"/app/claims/{cid}")
        assert "claims_refused=" in forged.request.headers["cookie"], "the forged refusal was not even sent"
        assert "请致电" not in forged.text, "a refusal the server did not sign is shown"
        assert (await claims.status(cid))["approvals"] == [], "an unconfirmed approval reached the claim"
        done = await http.post(f"/app/claims/{cid}/approve",
                               data={"csrf": csrf, "comment": "已核对", "confirmed": "yes"})
        assert done.status_code == 303, done.text
    status = await claims.wait(cid, lambda s: s["approvals"], "approved")
    assert status["approvals"][0]["comment"] == "已核对"


def test_risk_rules_and_payout_steps_are_named_in_chinese():
    from core.rules.payout import compute_payout
    from models.contract import LineItem
    from web.names import RISK_RULE_NAMES, staff_words

    payout = compute_payout(claimed_amount=Decimal("9000"), line_items=[LineItem(description="repair", amount="9000")],
                            confirmed_amount=None, deductible=Decimal("500"), payout_ratio=Decimal("0.8"),
                            sum_insured=Decimal("5000"), paid_on_policy=Decimal("0"), advances_paid=Decimal("100"),
                            clauses={})
    words = staff_words("zh-CN")
    payout_step, risk_rule = words["payout_step"], words["risk_rule"]
    steps = [payout_step(s.step) for s in payout.basis]
    assert all(not re.search(r"[A-Za-z]{3,}", s) for s in steps), steps
    assert "扣除免赔额 500.00" in steps, steps
    assert risk_rule("reused_document") == "材料被其他案件使用过" != RISK_RULE_NAMES["reused_document"]


async def test_the_claim_page_opens_with_a_summary_and_shows_the_investigators_findings(claims, tmp_path):
    claim = auto_claim(policy_number="P-AUTO-002", claimed_amount="150000.00", incident={"injuries": True},
                       line_items=[{"description": "repair", "amount": "150000.00"}],
                       documents=docs(*ALL_AUTO_DOCS, claim_id="summary"))
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.at_stage(cid, "investigating")
    await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "现场照片与报案一致",
                                                      "confirmed_amount": "120000.00", "fraud_suspected": False})
    await claims.at_stage(cid, "awaiting_approval")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ready=claims.services(tmp_path))),
                                 base_url="http://pages") as http:
        http.cookies.set(SESSION_COOKIE, claims.token("sup-1", "supervisor"))
        page = (await http.get(f"/app/claims/{cid}")).text
    summary = re.search(r'<div id="summary".*?</div>', page, re.S).group(0)
    assert "P-AUTO-002" in summary and "索赔金额 ¥150,000.00" in summary and "待决赔付" in summary, summary
    assert "出险时间 20" in summary and "未分派" in summary, summary
    findings = re.search(r'<section id="investigation".*?</section>', page, re.S).group(0)
    assert "inv-1" in findings and "现场照片与报案一致" in findings and "¥120,000.00" in findings, findings


def test_where_a_code_went_is_masked_and_a_name_or_phone_is_searched_however_it_is_typed():
    from identity.codes import claimant_key, masked, search_key
    from workflows.ended_claim_code import ended_code_workflow_id

    assert masked("13800005678", None) == "****5678" and masked("+86 138 0000 5678", None) == "****5678"
    assert masked(None, "zhang.wei@example.com") == "****@****", "an e-mail's letters and domain tell too much"
    key = search_key(b"secret")
    assert claimant_key(key, "+86 138 0000 5678") == claimant_key(key, "13800005678") \
        == claimant_key(key, "１３８００００５６７８"), "a phone with its country code, spaces or full-width digits"
    assert claimant_key(key, "李 雷") == claimant_key(key, "李雷") != claimant_key(key, "李蕾")
    assert not ended_code_workflow_id("X-1").startswith("claim-"), "no claim's workflow id has the code's shape"


async def test_a_number_that_is_no_claim_reads_like_a_claim_on_the_code_page(claims, tmp_path):
    """The page tells no stranger which claims exist: a number that is no claim is 'sent' a code to a masked
    number made from it (the same each time), a six-digit guess is 'not right' with tries left, and what cannot be
    a code is refused before anything is read."""
    lasts = max(0.0, await claims.server_time() - time.time()) + 3600
    services = claims.services(tmp_path, portal_token=lambda: claims.token("self-service-web", "channel",
                                                                          ttl_seconds=lasts))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ready=services)),
                                 base_url="http://pages") as http:
        pages = []
        for _ in range(2):
            asked = await http.post("/c/NO-SUCH-CLAIM-1/code")
            assert asked.status_code == 303
            pages.append((await http.get(asked.headers["location"])).text)
        shown = [re.search(r"已发送至 (\S+?)，", page) for page in pages]
        assert shown[0] and shown[1] and shown[0].group(1) == shown[1].group(1), "the same masked number each time"
        guessed = await http.post("/c/NO-SUCH-CLAIM-1/verify", data={"code": "123456"})
        assert guessed.status_code == 403 and "验证码不正确" in guessed.text and "还可尝试 2 次" in guessed.text
        short = await http.post("/c/NO-SUCH-CLAIM-1/verify", data={"code": "12a"})
        assert "6位数字" in short.text and "还可尝试" not in short.text
        strange = await http.get("/c/%3Cb%3E%E8%AF%B7%E8%87%B4%E7%94%B5400-123")
        assert strange.status_code == 404 and "请致电" in strange.text and "<b>" not in strange.text
        assert "400-123" not in strange.text, "nothing of an address that is no claim number goes into the page"


def test_what_a_person_must_read_is_named_in_chinese():
    from web.names import staff_words

    detail = staff_words("zh-CN")["detail"]
    for text in ("invoice total read with confidence 0.57", "medical_invoice date not found"):
        said = detail(text, "document_review")
        assert not re.search(r"[A-Za-z]{2,}", said), said
    assert detail("invoice total read with confidence 0.57", "appeal_received") == \
        "invoice total read with confidence 0.57", "a claimant's words are never read as the system's"
