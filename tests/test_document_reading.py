"""Documents that read themselves: uploaded invoices are read by the real OCR engine on the OCR workers' queue,
and what they say routes the claim. The images are drawn by the tests (tests/document_images.py)."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import date, timedelta
from typing import Any

from PIL import Image

from activities.readings import ReadingActivities
from config.encryption import keyring_for
from demo.document_images import render_invoice
from documents.store import FolderStore
from testkit.claims import auto_claim, docs
from testkit.harness import Claims
from tests.conftest import claims_rig, ocr_worker

ISSUER = "上海瑞金汽车维修有限公司"
TAX_ID = "91310000T73FNYEYQN"


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def invoice(total: str, *, day: date | None = None, number: str | None = None, **degrade: Any) -> bytes:
    amount = float(total)
    return png(render_invoice({"invoice_no": number or str(uuid.uuid4().int)[:20], "date": day or date.today(),
                               "issuer": ISSUER, "tax_id": TAX_ID, "buyer": "李雷",
                               "items": [("*维修服务*保险杠修理", amount)], "total": amount}, **degrade))


def uploaded(claims: Claims, content: bytes) -> str:
    """Stored as the API stores an upload: the content-addressed reference the claim carries."""
    return FolderStore(claims.settings.documents_dir).put(content, "image/png").ref


def claim_with_invoice(claims: Claims, content: bytes, **changes: Any) -> dict[str, Any]:
    cid = f"C-{uuid.uuid4().hex[:8]}"
    documents = [*docs("claim_form", "damage_photos", claim_id=cid),
                 {"kind": "repair_invoice", "ref": uploaded(claims, content)}]
    return auto_claim(cid, documents=documents, **changes)


def reasons(status: dict[str, Any]) -> dict[str, str]:
    return {r["rule"]: r["detail"] for r in status["risk"]["reasons"]}


async def test_a_matching_invoice_keeps_a_small_claim_on_the_fast_path(claims):
    claim = claim_with_invoice(claims, invoice("3200.00"))
    result = await (await claims.start(claim)).result()
    assert (result["outcome"], result["fast_path"]) == ("paid", True), "a clear match needs no person"
    status = await claims.status(claim["claim_id"])
    (reading,) = status["document_readings"]
    assert reading["readable"] and reading["fields"]["total"]["value"] == "3200.00"
    assert reading["fields"]["date"]["value"] == date.today().isoformat()
    assert status["document_review"] == [] and reasons(status) == {}


async def test_an_invoice_30_percent_above_the_claim_adds_its_reason_and_leaves_the_fast_path(claims):
    claim = claim_with_invoice(claims, invoice("4160.00"))
    await claims.start(claim)
    status = await claims.at_stage(claim["claim_id"], "awaiting_documents")
    assert "invoice_total_mismatch" in reasons(status) and "4160.00" in reasons(status)["invoice_total_mismatch"]
    assert status["risk"]["level"] == "medium" and status["path"] == "standard"


async def test_an_invoice_dated_before_the_policy_started_adds_its_reason(claims):
    claim = claim_with_invoice(claims, invoice("3200.00", day=date.today() - timedelta(days=400)))
    await claims.start(claim)
    status = await claims.at_stage(claim["claim_id"], "awaiting_documents")
    assert "document_date_outside_policy" in reasons(status)
    assert status["path"] == "standard"


async def test_an_invoice_number_another_claim_used_is_the_fraud_rule(claims):
    number = "24312000000123456789"
    first = claim_with_invoice(claims, invoice("3200.00", number=number))
    assert (await (await claims.start(first)).result())["outcome"] == "paid"
    again = claim_with_invoice(claims, invoice("3200.00", number=number, rotate=3, noise=0.5, seed=7),
                               policy_number="P-AUTO-002")
    await claims.start(again)
    status = await claims.at_stage(again["claim_id"], "awaiting_documents")
    assert first["claim_id"] in reasons(status)["reused_invoice"]
    assert status["risk"]["score"] >= 40 and status["path"] == "standard"


async def test_an_unreadable_page_asks_a_person_and_denies_nothing(claims):
    blank = png(Image.new("RGB", (1200, 800), "white"))
    claim = claim_with_invoice(claims, blank, claimed_amount="3200.00")
    cid = claim["claim_id"]
    await claims.start(claim)
    status = await claims.at_stage(cid, "awaiting_documents")
    assert status["document_review"] == ["repair_invoice: no readable text"]
    assert status["outcome"] is None and reasons(status) == {}, "nothing counts against the claim"
    assert any("a person must read" in t["detail"] for t in status["timeline"] if t["event"] == "triaged")


async def test_claims_wait_while_the_ocr_worker_is_stopped_and_go_on_when_it_returns(dev_env, fast_clock, engine):
    async with claims_rig(dev_env, fast_clock, engine, ocr=False) as claims:
        claim = claim_with_invoice(claims, invoice("3200.00"))
        handle = await claims.start(claim)
        await asyncio.sleep(3)
        status = await claims.status(claim["claim_id"])
        assert status["outcome"] is None and status["document_readings"] == [], "waiting for its reading"
        async with ocr_worker(claims):
            result = await handle.result()
        assert (result["outcome"], result["fast_path"]) == ("paid", True), "nothing lost: read, then paid"


async def test_an_adjuster_corrects_a_misread_total_and_the_checks_run_again(claims):
    claim = claim_with_invoice(claims, invoice("4160.00"))
    cid = claim["claim_id"]
    await claims.start(claim)
    status = await claims.at_stage(cid, "awaiting_documents")
    ref = status["document_readings"][0]["ref"]
    assert "invoice_total_mismatch" in reasons(status)

    wrong_field = await claims.refused(cid, "correct_document_field", {"ref": ref, "field": "name", "value": "x",
                                                                       "by": "adj-1", "role": "adjuster"})
    assert wrong_field.type == "InvalidUpdate" and "field" in wrong_field.message
    not_a_date = await claims.refused(cid, "correct_document_field", {"ref": ref, "field": "date", "value": "3月5日",
                                                                      "by": "adj-1", "role": "adjuster"})
    assert not_a_date.type == "InvalidUpdate" and "YYYY-MM-DD" in not_a_date.message

    await claims.update(cid, "correct_document_field", {"ref": ref, "field": "total", "value": "3,200",
                                                        "by": "adj-1", "role": "adjuster"})
    status = await claims.status(cid)
    corrected = status["document_readings"][0]["fields"]["total"]
    assert (corrected["value"], corrected["corrected_by"], corrected["confidence"]) == ("3200.00", "adj-1", 1.0)
    assert "invoice_total_mismatch" not in reasons(status) and status["risk"]["level"] == "low"
    entry = next(t for t in status["timeline"] if t["event"] == "document_corrected")
    assert entry["by"] == "adj-1" and entry["sender"]["subject"] == "adj-1", "recorded with who made it"
    stored = ReadingActivities(claims.engine, keyring_for(claims.settings)).readings(cid)
    assert stored[0].fields["total"].corrected_by == "adj-1", "and kept with the document"
