"""Payload encryption (docs/rules.md#personal-data): what Temporal stores for a claim is encrypted; keys rotate without
losing old histories; the codec server decrypts for staff only."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.converter import WorkflowSerializationContext
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer

from api.app import create_app
from audit.replay import history_from_file
from config.encryption import EncryptionCodec, converter_for, keyring_for
from config.keyring import WORKFLOW_ID, Keyring, UnknownKey
from config.settings import Settings
from config.temporal import workflow_runner
from models.tables import CodecDecode
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
from testkit.world import TEST_KEYRING, TEST_KEYS
from tests.test_personal_data import NEEDED_IN_CLEAR, PERSONAL, personal_data_in_tables
from workflows.claim import ClaimWorkflow
from workflows.complaint import ComplaintWorkflow
from workflows.ended_claim_code import EndedClaimCodeWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
KEY_B = bytes(range(100, 132))


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_a_payload_is_sealed_under_the_writing_key_and_opens_only_as_written():
    codec = EncryptionCodec(TEST_KEYRING)
    [sealed] = await codec.encode([plain("Li Lei, 13800000000")])
    assert sealed.metadata["encoding"] == b"binary/encrypted" and sealed.metadata["encryption-key-id"] == b"test-1"
    assert b"Li Lei" not in sealed.data and b"13800000000" not in sealed.data
    [opened] = await codec.decode([sealed])
    assert json.loads(opened.data) == "Li Lei, 13800000000"
    [again] = await codec.encode([plain("Li Lei, 13800000000")])
    assert again.data != sealed.data, "two encryptions of one payload look alike (a nonce was reused)"

    altered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(ValueError, match="does not decrypt"):
        await codec.decode([altered])
    with pytest.raises(UnknownKey, match="test-1"):
        await EncryptionCodec(Keyring("other", {"other": KEY_B})).decode([sealed])
    [unencrypted] = await codec.decode([plain("written before encryption")])
    assert json.loads(unencrypted.data) == "written before encryption"


def test_bad_key_settings_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="32"):
        Keyring.parse("k=" + base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="writing key"):
        Keyring.parse(TEST_KEYS, write_id="missing")
    with pytest.raises(ValueError, match="id=base64"):
        Keyring.parse("no-separator")


def test_the_embedded_default_makes_a_development_key_once(tmp_path):
    settings = Settings(CLAIMS_VAR_DIR=tmp_path)
    first, second = keyring_for(settings), keyring_for(settings)
    assert first == second and first.write_id == "dev-1"
    assert (tmp_path / "keys" / "payload-keys.json").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_histories_written_under_key_a_replay_after_key_b_becomes_the_writing_key(path: Path):
    rotated = Keyring("test-2", {"test-2": KEY_B, **TEST_KEYRING.keys})
    replayer = Replayer(workflows=[ClaimWorkflow, ComplaintWorkflow, EndedClaimCodeWorkflow],
                        data_converter=converter_for(keyring=rotated), workflow_runner=workflow_runner())
    await replayer.replay_workflow(history_from_file(path, settings=Settings(CLAIMS_ENCRYPTION_KEYS=TEST_KEYS)))
    [sealed] = await EncryptionCodec(rotated).encode([plain("new")])
    assert sealed.metadata["encryption-key-id"] == b"test-2"


def test_the_saved_histories_hold_no_personal_data_in_the_clear():
    encrypted = [p for p in HISTORIES if "before-codes" not in p.stem]  # one is kept from before encryption
    for path in encrypted:
        text = path.read_text()
        for value in PERSONAL:
            assert value not in text, f"{path.name} holds {value!r} in the clear"


async def test_a_claims_history_holds_no_personal_data_in_the_clear(claims):
    claim = auto_claim(documents=docs("claim_form", claim_id="x"))
    cid = claim["claim_id"]
    await claims.start(claim)
    await claims.at_stage(cid, "awaiting_documents")
    await claims.change_bank_account(cid, {"holder": "Li Lei", "number": "6222000011113333"})
    await claims.update(cid, "submit_documents", {"documents": docs(*ALL_AUTO_DOCS[1:], claim_id=cid)})
    await claims.wait(cid, lambda s: s["outcome"] == "paid", "paid")
    history = json.dumps((await claims.handle(cid).fetch_history()).to_json_dict())
    for value in PERSONAL:
        assert value not in history, f"the history holds {value!r} in the clear"
        assert base64.b64encode(value.encode()).decode()[:12] not in history
    found = personal_data_in_tables(claims.engine)
    assert found <= NEEDED_IN_CLEAR, f"personal data in the clear outside the documented columns: {found}"
    assert ("gateway_transfers", "account_number") in found, "the scan saw no payment: it proves nothing"


async def test_the_codec_server_decrypts_for_staff_and_answers_the_web_ui(claims, tmp_path):
    services = claims.services(tmp_path)
    app = create_app(ready=services, cors_origins=["http://127.0.0.1:8233"])
    [sealed] = await EncryptionCodec(TEST_KEYRING).encode([plain("Li Lei")])
    body = {"payloads": [{"metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                          "data": base64.b64encode(sealed.data).decode()}]}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as http:
        assert (await http.post("/codec/decode", json=body)).status_code == 401
        channel = await http.post("/codec/decode", json=body,
                                  headers={"Authorization": f"Bearer {claims.token('portal', 'channel')}"})
        assert channel.status_code == 403, "a channel may not read decrypted histories"
        staff = await http.post("/codec/decode", json=body,
                                headers={"Authorization": f"Bearer {claims.token('sup-1', 'supervisor')}"})
        assert staff.status_code == 200, staff.text
        assert json.loads(base64.b64decode(staff.json()["payloads"][0]["data"])) == "Li Lei"
        for subject, role in (("desk-1", "service"), ("fin-1", "finance"), ("adj-1", "adjuster")):
            other = await http.post("/codec/decode", json=body,
                                    headers={"Authorization": f"Bearer {claims.token(subject, role)}"})
            assert other.status_code == 403, f"{role} reads decrypted histories"
        [update] = await EncryptionCodec(TEST_KEYRING).encode([plain({"reason": "x", "credential": "eyJ.secret"})])
        auditor = await http.post("/codec/decode", headers={
            "Authorization": f"Bearer {claims.token('aud-1', 'auditor')}", "X-Namespace": "claims-prod"},
            json={"payloads": [{"metadata": {k: base64.b64encode(v).decode() for k, v in update.metadata.items()},
                                "data": base64.b64encode(update.data).decode()}]})
        assert auditor.status_code == 200, auditor.text
        shown = json.loads(base64.b64decode(auditor.json()["payloads"][0]["data"]))
        assert shown == {"reason": "x", "credential": "[redacted]"}, "a credential read through the codec is redacted"
    with Session(claims.engine) as session:
        decodes = session.exec(select(CodecDecode).order_by(CodecDecode.id)).all()
    assert [(d.subject, d.roles, d.namespace, d.payloads, d.through) for d in decodes] == [
        ("sup-1", "supervisor", "", 1, "token"), ("aud-1", "auditor", "claims-prod", 1, "token")], \
        "each decode is recorded with who, where and how many; refusals decode nothing"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as http:
        preflight = await http.options("/codec/decode", headers={
            "Origin": "http://127.0.0.1:8233", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
        elsewhere = await http.options("/codec/decode", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in elsewhere.headers
        for path in ("/app", "/sign-in", "/claims/C-1", "/worklist"):  # the UI's origin reaches the codec only
            workbench = await http.get(path, headers={"Origin": "http://127.0.0.1:8233"})
            assert "access-control-allow-origin" not in workbench.headers, path
            asked = await http.options(path, headers={"Origin": "http://127.0.0.1:8233",
                                                      "Access-Control-Request-Method": "POST"})
            assert "access-control-allow-origin" not in asked.headers, path


def form_token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def test_a_staff_session_cookie_opens_the_codec_and_nothing_else(claims, tmp_path):
    services = claims.services(tmp_path)
    app = create_app(ready=services)
    [sealed] = await EncryptionCodec(TEST_KEYRING).encode([plain("Li Lei")])
    body = {"payloads": [{"metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                          "data": base64.b64encode(sealed.data).decode()}]}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as http:
        forged = await http.post("/sign-in", data={"token": claims.token("sup-1", "supervisor"), "csrf": "x"})
        assert forged.status_code == 403 and "claims_session" not in str(forged.headers.get_list("set-cookie")), \
            "a sign-in form posted from another site (no form cookie) signs nobody in"
        csrf = form_token(await http.get("/sign-in"))
        refused = await http.post("/sign-in", data={"token": claims.token("portal", "channel"), "csrf": csrf})
        assert refused.status_code == 403 and "claims_session" not in str(refused.headers.get_list("set-cookie"))
        signed = await http.post("/sign-in", data={"token": claims.token("sup-1", "supervisor"), "csrf": csrf})
        assert (signed.status_code, signed.headers["location"]) == (303, "/app"), "signed in, on to the workbench"
        cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("claims_session=")).lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "expires=" in cookie
        assert "secure" not in cookie, "plain http on loopback: the development stack"
        decoded = await http.post("/codec/decode", json=body)
        assert decoded.status_code == 200 and json.loads(base64.b64decode(decoded.json()["payloads"][0]["data"])) \
            == "Li Lei"
        assert (await http.get("/claims/C-1")).status_code == 401, "the cookie opens the codec only"
        assert (await http.get("/worklist")).status_code == 401
        assert (await http.post("/sign-out")).status_code == 403, "signing out takes the page's form too"
        await http.post("/sign-out", data={"csrf": form_token(await http.get("/sign-in"))})
        assert (await http.post("/codec/decode", json=body)).status_code == 401


async def test_cookies_are_secure_when_the_public_address_is_https(claims, tmp_path):
    """Behind a TLS proxy the app may see plain http; the public address says the browser uses https."""
    services = claims.services(tmp_path, secure_cookies=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ready=services)),
                                 base_url="http://behind-the-proxy") as http:
        csrf = form_token(await http.get("/sign-in"))
        signed = await http.post("/sign-in", data={"token": claims.token("sup-1", "supervisor"), "csrf": csrf})
        cookies = signed.headers.get_list("set-cookie")
        assert cookies and all("secure" in c.lower() for c in cookies), cookies


async def test_a_payload_copied_from_one_claims_history_is_refused_by_another(claims):
    """Payloads are bound to their workflow (AES-GCM associated data): the `withdraw` payload an operator copies,
    still encrypted, from one claim's history and sends as it is to another claim is refused (typed, at once, the
    claim untouched), and changing the workflow id in its metadata breaks its decryption."""
    first, second = (auto_claim(claimed_amount="8000.00", line_items=[], documents=docs("claim_form", claim_id=n))
                     for n in ("one", "two"))
    for claim in (first, second):
        await claims.start(claim)
        await claims.at_stage(claim["claim_id"], "awaiting_documents")
    await claims.update(first["claim_id"], "withdraw", {"by": "portal", "reason": "settled"})
    history = await claims.handle(first["claim_id"]).fetch_history()
    sent = next(e.workflow_execution_update_accepted_event_attributes.accepted_request.input.args.payloads[0]
                for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes"))
    assert sent.metadata[WORKFLOW_ID] == f"claim-{first['claim_id']}".encode()
    operator = Client(claims.client.service_client, namespace=claims.client.namespace)  # no codec: bytes as stored
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await operator.get_workflow_handle(f"claim-{second['claim_id']}").execute_update("withdraw", RawValue(sent))
    assert isinstance(refused.value.cause, ApplicationError) and refused.value.cause.type == "InvalidUpdate", \
        refused.value.cause
    as_the_worker_reads_it = EncryptionCodec(TEST_KEYRING).with_context(
        WorkflowSerializationContext(namespace="default", workflow_id=f"claim-{second['claim_id']}")).decrypt(sent)
    assert "copied from another history" in json.loads(as_the_worker_reads_it.data)["payload_refused"]
    relabelled = Payload(metadata={**sent.metadata, WORKFLOW_ID: f"claim-{second['claim_id']}".encode()},
                         data=sent.data)
    with pytest.raises(ValueError, match="does not decrypt"):
        EncryptionCodec(TEST_KEYRING).decrypt(relabelled)
    assert (await claims.status(second["claim_id"]))["stage"] == "awaiting_documents", "the copy moved the claim"
