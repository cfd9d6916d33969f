"""The HTTP API against the running product (docs/integrators.md): an API process and a worker process on an
embedded Temporal server, spoken to over HTTP with bearer tokens from the development issuer."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from client.status_http import status_over_http
from documents.store import S3Store
from models.names import workflow_id_for
from testkit.api_stack import UPLOAD_LIMIT, Stack, running_stack
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs, pdf
from testkit.hostile_files import PDF_BOMB
from testkit.waiting import polled
from tests.object_store import ObjectStoreServer

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from running_stack(tmp_path_factory.mktemp("api") / "var", traces=True)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["type"], body
    return body


def new_claim(*kinds: str, claim_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A claim with documents of these kinds (all required ones by default), referenced under its own id."""
    cid = claim_id or f"API-{uuid.uuid4().hex[:8]}"
    return auto_claim(cid, documents=docs(*(kinds or ALL_AUTO_DOCS), claim_id=cid), **overrides)


def test_a_claim_is_reported_documented_approved_and_paid_over_http(stack: Stack) -> None:
    claim = new_claim("claim_form", claimed_amount="8000.00", line_items=[])
    cid = claim["claim_id"]
    portal = stack.auth("portal", "channel")
    with stack.client() as http:
        reported = http.post("/claims", json=claim, headers=portal)
        assert reported.status_code == 201, reported.text
        assert reported.json()["created"] is True and reported.headers["location"] == f"/claims/{cid}"
        stack.wait(cid, lambda s: s["stage"] == "awaiting_documents", "awaiting_documents")
        for kind in ALL_AUTO_DOCS[1:]:
            uploaded = http.post(f"/claims/{cid}/documents", headers=portal, data={"kind": kind},
                                 files={"file": (f"{kind}.pdf", pdf(f"{cid} {kind}"), "application/pdf")})
            assert uploaded.status_code == 201, uploaded.text
            body = uploaded.json()
            assert body["ref"] == f"doc://sha256/{body['sha256']}" and body["media_type"] == "application/pdf"
            assert kind not in body["missing_documents"]
        assert body["missing_documents"] == []
        stack.wait(cid, lambda s: s["stage"] == "awaiting_approval", "awaiting_approval")
        approved = http.post(f"/claims/{cid}/actions/approve", headers=stack.auth("sup-1", "supervisor"),
                             json={"approver_id": "sup-1", "role": "supervisor", "comment": "documents complete"})
        assert approved.status_code == 200, approved.text
        assert approved.json()["claim_id"] == cid
    status = stack.wait(cid, lambda s: s["outcome"] == "paid", "paid")
    assert status["payments"][0]["amount"] == "7500.00"
    entry = next(e for e in status["timeline"] if e["event"] == "approved")
    assert entry["sender"]["subject"] == "sup-1", "the approval does not record who sent it"
    asked = status_over_http(cid, workflow_id_for(cid), {k.upper(): v for k, v in stack.env.items()})
    assert asked is not None and json.loads(asked)["payments"] == status["payments"], \
        "`starter.py status` asks the embedded server's HTTP API, at the port it started with"


def test_a_repeated_report_with_the_same_idempotency_key_is_the_same_claim(stack: Stack) -> None:
    claim = new_claim()
    key = {"Idempotency-Key": f"fnol-{claim['claim_id']}"}
    portal = stack.auth("portal", "channel")
    with stack.client() as http:
        first = http.post("/claims", json=claim, headers={**portal, **key})
        again = http.post("/claims", json=claim, headers={**portal, **key})
        assert (first.status_code, again.status_code) == (201, 200), (first.text, again.text)
        assert first.json()["claim_id"] == again.json()["claim_id"] and again.json()["created"] is False
        other = problem(http.post("/claims", json={**claim, "claimed_amount": "9999.00"}, headers={**portal, **key}),
                        409)
        assert "Idempotency-Key" in other["detail"]
        duplicate = problem(http.post("/claims", json=claim, headers=portal), 409)
        assert claim["claim_id"] in duplicate["detail"]
        another_channel = problem(http.post("/claims", json={**claim, "claimed_amount": "4100.00"},
                                            headers={**stack.auth("app", "channel"), "Idempotency-Key": "app-1"}), 409)
        assert another_channel["type"].endswith("duplicate-claim"), "a new key reported someone else's claim as its own"
    stack.wait(claim["claim_id"], lambda s: s["registered_at"] is not None, "registered once")


def test_errors_are_problem_details_naming_the_field_or_the_rule(stack: Stack) -> None:
    claim = new_claim(claimed_amount="15000.00", line_items=[])
    cid = claim["claim_id"]
    with stack.client() as http:
        unauthenticated = problem(http.post("/claims", json=claim), 401)
        assert "bearer" in unauthenticated["detail"].lower()
        assert http.post("/claims", json=claim).headers["www-authenticate"].startswith("Bearer")
        forged = problem(http.post("/claims", json=claim, headers={"Authorization": "Bearer eyJhbGciOi.x.y"}), 401)
        assert "credential" in forged["detail"]
        bad = problem(http.post("/claims", json={**claim, "claimed_amount": "-5"},
                                headers=stack.auth("portal", "channel")), 422)
        assert [e["field"] for e in bad["errors"]] == ["claimed_amount"], bad
        assert http.post("/claims", json=claim, headers=stack.auth("portal", "channel")).status_code == 201
        stack.wait(cid, lambda s: s["stage"] == "awaiting_approval", "awaiting_approval")

        as_channel = problem(http.post(f"/claims/{cid}/actions/approve", headers=stack.auth("portal", "channel"),
                                       json={"approver_id": "sup-1", "role": "supervisor"}), 403)
        assert as_channel["type"].endswith("not-authorized") and "staff" in as_channel["detail"]
        beyond = problem(http.post(f"/claims/{cid}/actions/approve", headers=stack.auth("adj-9", "adjuster"),
                                   json={"approver_id": "adj-9", "role": "adjuster"}), 403)
        assert "authority" in beyond["detail"] or "supervisor" in beyond["detail"], beyond
        someone_else = problem(http.post(f"/claims/{cid}/actions/approve", headers=stack.auth("sup-2", "supervisor"),
                                         json={"approver_id": "sup-1", "role": "supervisor"}), 403)
        assert "sup-1" in someone_else["detail"]
        misplaced = problem(http.post(f"/claims/{cid}/actions/reopen", headers=stack.auth("sup-1", "supervisor"),
                                      json={"by": "sup-1", "role": "supervisor", "reason": "x"}), 409)
        assert "reopen" in misplaced["detail"]
        problem(http.get("/claims/NO-SUCH-CLAIM", headers=stack.auth("sup-1", "supervisor")), 404)
        problem(http.get(f"/claims/{cid}", headers=stack.auth("portal", "channel")), 403)
        problem(http.post(f"/claims/{cid}/actions/no_such_update", headers=stack.auth("sup-1", "supervisor"),
                          json={}), 404)
        no_code = problem(http.post(f"/claims/{cid}/actions/update_bank_account",
                                    headers=stack.auth("portal", "channel"),
                                    json={"holder": "Mallory", "number": "6222000099990000"}), 403)
        assert no_code["title"] == "ClaimantCodeRefused" and "code" in no_code["detail"]
        huge = problem(http.post("/claims", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                                 headers={**stack.auth("portal", "channel"), "Content-Type": "application/json"}), 413)
        assert "larger" in huge["detail"]


def test_uploads_are_checked_and_stored_by_content(stack: Stack) -> None:
    first, second = new_claim("claim_form"), new_claim("claim_form")
    portal = stack.auth("portal", "channel")
    photo = pdf("the same repair invoice, sent for two claims")
    with stack.client() as http:
        for claim in (first, second):
            assert http.post("/claims", json=claim, headers=portal).status_code == 201
            stack.wait(claim["claim_id"], lambda s: s["stage"] == "awaiting_documents", "awaiting_documents")
        refs = []
        for claim in (first, second):
            stored = http.post(f"/claims/{claim['claim_id']}/documents", headers=portal,
                               data={"kind": "repair_invoice"},
                               files={"file": ("invoice.pdf", photo, "application/pdf")})
            assert stored.status_code == 201, stored.text
            refs.append(stored.json()["ref"])
        assert refs[0] == refs[1], "the same content was stored under two references"
        not_a_document = problem(http.post(f"/claims/{first['claim_id']}/documents", headers=portal,
                                           data={"kind": "id_card"},
                                           files={"file": ("page.html", b"<html>hi</html>", "text/html")}), 422)
        assert not_a_document["detail"].startswith(("file", "media_type")), not_a_document
        disguised = problem(http.post(f"/claims/{first['claim_id']}/documents", headers=portal,
                                      data={"kind": "id_card"},
                                      files={"file": ("id.png", pdf("a pdf called png"), "image/png")}), 422)
        assert "media_type" in disguised["detail"]
        unknown_kind = problem(http.post(f"/claims/{first['claim_id']}/documents", headers=portal,
                                         data={"kind": "horoscope"},
                                         files={"file": ("x.pdf", pdf("horoscope"), "application/pdf")}), 422)
        assert "horoscope" in unknown_kind["detail"]
        too_large = problem(http.post(
            f"/claims/{first['claim_id']}/documents", headers=portal, data={"kind": "id_card"},
            files={"file": ("big.pdf", pdf("big") + b" " * UPLOAD_LIMIT, "application/pdf")}), 413)
        assert str(UPLOAD_LIMIT) in too_large["detail"]
        bomb = problem(http.post(f"/claims/{first['claim_id']}/documents", headers=portal, data={"kind": "id_card"},
                                 files={"file": ("bomb.pdf", PDF_BOMB, "application/pdf")}), 422)
        assert bomb["detail"].startswith("file: page 1 is 28800 x 28800 pixels") and "the limit is 40" in \
            bomb["detail"], "a page too large to render is refused at the door, naming the limit"
        never_uploaded = problem(http.post(
            f"/claims/{first['claim_id']}/actions/submit_documents", headers=portal,
            json={"documents": [{"kind": "id_card", "ref": "doc://sha256/" + "0" * 64}]}), 422)
        assert "documents.0.ref" in never_uploaded["detail"]
        problem(http.post("/claims/NO-SUCH-CLAIM/documents", headers=portal, data={"kind": "id_card"},
                          files={"file": ("id.pdf", pdf("nowhere"), "application/pdf")}), 404)
        staff_upload = problem(http.post(f"/claims/{first['claim_id']}/documents",
                                         headers=stack.auth("sup-1", "supervisor"), data={"kind": "id_card"},
                                         files={"file": ("id.pdf", pdf("id"), "application/pdf")}), 403)
        assert "channel" in staff_upload["detail"]
    rescored = stack.wait(second["claim_id"], lambda s: any(e["event"] == "risk_rescored" for e in s["timeline"]),
                          "rescored for the reused document")
    assert any(r["rule"] == "reused_document" and refs[0] in r["detail"]
               for r in rescored["risk"]["reasons"]), rescored["risk"]
    stored_file = next((stack.var_dir / "documents").rglob(refs[0].rsplit("/", 1)[1]))
    assert stored_file.read_bytes() == photo


def test_the_claimant_sees_progress_behind_a_code_sent_to_the_phone_on_file(stack: Stack) -> None:
    claim = new_claim("claim_form")
    cid = claim["claim_id"]
    portal = stack.auth("portal", "channel")
    with stack.client() as http:
        assert http.post("/claims", json=claim, headers=portal).status_code == 201
        stack.wait(cid, lambda s: s["stage"] == "awaiting_documents", "awaiting_documents")
        problem(http.get(f"/claims/{cid}/progress", headers={**portal, "X-Claimant-Code": "000000"}), 403)
        sent = http.post(f"/claims/{cid}/progress/code", headers=portal)
        assert sent.status_code == 200, sent.text
        code = stack.code_received(cid, "progress")
        wrong = str((int(code) + 1) % 1_000_000).zfill(6)
        assert "wrong" in problem(http.get(f"/claims/{cid}/progress",
                                           headers={**portal, "X-Claimant-Code": wrong}), 403)["detail"]
        progress = http.get(f"/claims/{cid}/progress", headers={**portal, "X-Claimant-Code": code})
        assert progress.status_code == 200, progress.text
        view = progress.json()
        assert view["stage"] == "awaiting_documents" and "id_card" in view["missing_documents"]
        assert view["next_deadline"]["clock"] and view["decision"] is None and view["payments"] == []
        text = progress.text
        for private in ("timeline", "risk", "handler", "approvals", "investigation", "adj-", "sup-"):
            assert private not in text, f"the claimant's view shows {private!r}: {text}"
        again = http.get(f"/claims/{cid}/progress", headers={**portal, "X-Claimant-Code": code})
        assert again.status_code == 200, "a progress code stops working before it expires"


def listed(response: httpx.Response) -> dict[str, Any]:
    """A worklist page; any answer but 200 fails at once (it is not a state to wait for)."""
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_worklist_shows_the_callers_queue(stack: Stack) -> None:
    claim = new_claim(claimed_amount="15000.00", line_items=[])
    cid = claim["claim_id"]
    with stack.client() as http:
        assert http.post("/claims", json=claim, headers=stack.auth("call-centre", "channel")).status_code == 201
        status = stack.wait(cid, lambda s: s["stage"] == "awaiting_approval", "awaiting_approval")
        # The worklist reads the engine's index of running claims, which follows the claim a moment later.
        supervisor = polled(lambda: listed(http.get("/worklist", headers=stack.auth("sup-3", "supervisor"))),
                            lambda page: cid in [i["claim_id"] for i in page["items"]], f"{cid} on the worklist")
        assert all(i["registered_at"].endswith(("Z", "+00:00")) for i in supervisor["items"]), "times without offset"
        handler = status["handler"]
        if handler:
            mine = polled(lambda: listed(http.get("/worklist", headers=stack.auth(handler.upper(), "adjuster"))),
                          lambda page: cid in [i["claim_id"] for i in page["items"]], f"{cid} in {handler}'s queue")
            assert [i["why"] for i in mine["items"] if i["claim_id"] == cid] == ["assigned"]
        problem(http.get("/worklist", headers=stack.auth("portal", "channel")), 403)


def test_the_openapi_document_names_every_action(stack: Stack) -> None:
    with stack.client() as http:
        spec = http.get("/openapi.json").json()
    paths = set(spec["paths"])
    for update in ("submit_documents", "record_investigation", "approve", "reject", "escalate", "assign", "withdraw",
                   "appeal", "update_bank_account", "reopen", "request_code"):
        assert f"/claims/{{claim_id}}/actions/{update}" in paths
    assert {"/claims", "/claims/{claim_id}", "/claims/{claim_id}/progress", "/claims/{claim_id}/documents",
            "/worklist"} <= paths
    assert "Problem" in spec["components"]["schemas"]


def test_an_s3_compatible_store_keeps_the_uploads(stack: Stack, object_store: ObjectStoreServer, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    url = stack.start_api(CLAIMS_DOCUMENT_STORE="s3", CLAIMS_S3_BUCKET=object_store.bucket,
                          CLAIMS_S3_ENDPOINT_URL=object_store.endpoint_url,
                          AWS_ACCESS_KEY_ID=object_store.access_key, AWS_SECRET_ACCESS_KEY=object_store.secret_key)
    claim = new_claim("claim_form")
    cid = claim["claim_id"]
    portal = stack.auth("portal", "channel")
    content = pdf(f"{cid} id card")
    with stack.client(url) as http:
        assert http.post("/claims", json=claim, headers=portal).status_code == 201
        stack.wait(cid, lambda s: s["stage"] == "awaiting_documents", "awaiting_documents")
        stored = http.post(f"/claims/{cid}/documents", headers=portal, data={"kind": "id_card"},
                           files={"file": ("id.pdf", content, "application/pdf")})
        assert stored.status_code == 201, stored.text
    sha = stored.json()["sha256"]
    object_store.use_in_environment(monkeypatch, tmp_path)
    bucket = S3Store(object_store.bucket, endpoint_url=object_store.endpoint_url)
    assert bucket.get(sha) == content, "the object store does not hold the upload"
    assert not list((stack.var_dir / "documents").rglob(sha)), "the S3-configured API wrote to the folder store"


# --------------------------------------------------------------------------- the schema, attacked

FUZZ_EXAMPLES = int(os.environ.get("CLAIMS_API_FUZZ_EXAMPLES", "10"))
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance,
               response_schema_conformance, response_headers_conformance]
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def test_no_request_the_schema_allows_breaks_the_api_or_its_schema(stack: Stack) -> None:
    """Requests generated from the running API's own OpenAPI document, on every operation (as a supervisor, and
    as a channel on the claimant's side; on a real claim): no server error, and every answer, success or
    problem, matches the documented status codes, media types and schemas."""
    claim = new_claim("claim_form")
    with stack.client() as http:
        assert http.post("/claims", json=claim, headers=stack.auth("portal", "channel")).status_code == 201
    stack.wait(claim["claim_id"], lambda s: s["stage"] == "awaiting_documents", "awaiting_documents")
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18, [op.label for op in operations]
    calls = [fuzz(operation, stack.auth(*(("portal", "channel") if "/documents" in operation.path
                                          or "/progress" in operation.path else ("sup-1", "supervisor"))),
                  claim["claim_id"]) for operation in operations]
    assert sum(calls) >= 2 * len(operations), calls


def fuzz(operation: Any, headers: dict[str, str], claim_id: str) -> int:
    """Send generated requests to one operation; how many were sent."""
    sent = 0

    @given(case=operation.as_strategy())
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def call(case: Any) -> None:
        generated = (case.path_parameters or {}).get("claim_id")
        if isinstance(generated, str) and ID.fullmatch(generated):
            case.path_parameters["claim_id"] = claim_id
        nonlocal sent
        sent += 1
        case.call_and_validate(headers=headers, checks=CONFORMANCE)

    call()
    return sent


def spans_of_trace(stack: Stack, workflow_id: str) -> list[dict[str, Any]]:
    """The spans of the trace that started this workflow, from every process's lines in the traces file."""
    path = stack.var_dir / "traces.jsonl"
    spans = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    started = [s for s in spans if s["name"] == "StartWorkflow:ClaimWorkflow"
               and s["attributes"].get("temporalWorkflowID") == workflow_id]
    if not started:
        return []
    trace_id = started[0]["context"]["trace_id"]
    return [s for s in spans if s["context"]["trace_id"] == trace_id]


def test_one_trace_follows_a_claim_from_the_api_call_to_its_payment(stack: Stack) -> None:
    claim = auto_claim()
    with stack.client() as http:
        assert http.post("/claims", json=claim, headers=stack.auth("portal", "channel")).status_code == 201
    stack.wait(claim["claim_id"], lambda s: s["outcome"] == "paid", "paid")
    expected = {("claims-api", "POST /claims"), ("claims-api", "StartWorkflow:ClaimWorkflow"),
                ("claims-worker", "RunWorkflow:ClaimWorkflow"), ("claims-worker", "RunActivity:take_in"),
                ("claims-worker", "RunActivity:record_and_pay")}  # the timeline, then the payment
    spans = polled(lambda: spans_of_trace(stack, f"claim-{claim['claim_id']}"),  # exported in batches
                   lambda spans: expected <= {(s["resource"]["attributes"]["service.name"], s["name"]) for s in spans},
                   "the whole trace exported")
    seen = {(s["resource"]["attributes"]["service.name"], s["name"]) for s in spans}
    assert expected <= seen, f"missing from the trace: {expected - seen}; seen {sorted(seen)}"
    root = next(s for s in spans if s["name"] == "POST /claims")
    assert root["parent_id"] is None and root["attributes"]["http.response.status_code"] == 201
    assert not any(claim["claimant"]["phone"] in json.dumps(s) for s in spans), "no personal data in a span"


def test_a_complaint_is_filed_handled_and_resolved_over_http(stack: Stack) -> None:
    complaint_id = f"K-{uuid.uuid4().hex[:8]}"
    complaint = {"complaint_id": complaint_id, "category": "staff", "description": "客服态度不好",
                 "complainant": {"name": "韩梅梅", "phone": "13900000000", "channel": "sms"}}
    handler, other = stack.auth("sup-5", "supervisor"), stack.auth("sup-6", "supervisor")
    with stack.client() as http:
        filed = http.post("/complaints", json=complaint, headers=stack.auth("call-centre", "channel"))
        assert filed.status_code == 201, filed.text
        assert filed.headers["location"] == f"/complaints/{complaint_id}"
        polled(lambda: http.get(f"/complaints/{complaint_id}", headers=handler).status_code, lambda code: code == 200,
               "the complaint readable")
        assert problem(http.post("/complaints", json=complaint, headers=stack.auth("call-centre", "channel")),
                       409)["title"] == "Duplicate complaint"
        base = f"/complaints/{complaint_id}/actions"
        assigned = http.post(f"{base}/assign_complaint", json={"handler_id": "sup-5", "by": "sup-1"},
                             headers=stack.auth("sup-1", "supervisor"))
        assert assigned.status_code == 200 and assigned.json()["handler"] == "sup-5", assigned.text
        assert problem(http.post(f"{base}/acknowledge_complaint", json={"by": "sup-6"}, headers=other),
                       403)["detail"].endswith("only the complaint's handler (sup-5) does this")
        acknowledged = http.post(f"{base}/acknowledge_complaint", json={"by": "sup-5"}, headers=handler)
        assert acknowledged.json()["state"] == "acknowledged"
        resolved = http.post(f"{base}/resolve_complaint", headers=handler, json={
            "by": "sup-5", "resolution": "已向客户致歉并对客服进行培训", "root_cause": "staff_conduct",
            "claimant_acknowledged": True})
        assert resolved.status_code == 200 and resolved.json()["state"] == "resolved", resolved.text
        status = http.get(f"/complaints/{complaint_id}", headers=handler).json()
        assert status["root_cause"] == "staff_conduct" and status["deadlines"] == {}
        assert [t["event"] for t in status["timeline"]][:3] == ["received", "assigned", "acknowledged"]
