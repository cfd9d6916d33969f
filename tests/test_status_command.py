"""`starter.py status`: asked over the cluster's HTTP API without the SDK, with the same answer as the SDK's path,
and the SDK's path (with its errors) for anything the light one cannot answer."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.api.common.v1 import Payload

from client.status import claim_status
from client.status_http import environment, payload_fields, status_document, status_over_http
from config.encryption import EncryptionCodec
from config.settings import PROJECT_ROOT, Settings
from models.contract import workflow_id_for
from testkit.claims import auto_claim
from testkit.world import TEST_KEYRING, TEST_KEYS

pytestmark = pytest.mark.devserver


def command_env(live, dev_env, dev_http_port: int) -> dict[str, str]:
    return {**os.environ, "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
            "TEMPORAL_HTTP_ADDRESS": f"http://127.0.0.1:{dev_http_port}", "CLAIMS_TASK_QUEUE": live.queue,
            "CLAIMS_VAR_DIR": str(live.settings.var_dir), "DATABASE_URL": live.settings.resolved_database_url,
            "CLAIMS_ENCRYPTION_KEYS": TEST_KEYS, "CLAIMS_LOG_LEVEL": "WARNING"}


def run_status(env: dict[str, str], claim_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "starter.py", "status", claim_id], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


async def test_the_status_over_http_is_the_sdks_answer_word_for_word(live, dev_env, dev_http_port):
    claim = auto_claim()
    assert (await (await live.start(claim)).result())["outcome"] == "paid"
    env = command_env(live, dev_env, dev_http_port)
    light = await asyncio.to_thread(status_over_http, claim["claim_id"], workflow_id_for(claim["claim_id"]),
                                    {k.upper(): v for k, v in env.items()})
    assert light is not None, "the HTTP API answered and its payload opened"
    through_sdk = (await claim_status(dev_env.client, claim["claim_id"])).model_dump(mode="json")
    assert light == json.dumps(through_sdk, indent=2, ensure_ascii=False, default=str)
    done = await asyncio.to_thread(run_status, env, claim["claim_id"])
    assert done.returncode == 0 and done.stdout.strip() == light, done.stderr


async def test_a_claim_the_light_path_cannot_answer_gets_the_sdks_refusal(live, dev_env, dev_http_port):
    env = command_env(live, dev_env, dev_http_port)
    nobody = f"C-NONE-{uuid.uuid4().hex[:6]}"
    assert await asyncio.to_thread(status_over_http, nobody, workflow_id_for(nobody), env) is None
    done = await asyncio.to_thread(run_status, env, nobody)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and workflow_id_for(nobody) in done.stderr
    no_http = {k: v for k, v in env.items() if k != "TEMPORAL_HTTP_ADDRESS"}
    assert await asyncio.to_thread(status_over_http, nobody, workflow_id_for(nobody), no_http) is None, \
        "a cluster whose HTTP API is not configured is asked through the SDK"


def sealed_answer(workflow_id: str, document: object) -> dict[str, object]:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(document).encode())
    sealed = EncryptionCodec(TEST_KEYRING, workflow_id).encrypt(plain)
    return {"queryResult": {"payloads": [{
        "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
        "data": base64.b64encode(sealed.data).decode()}]}}


def test_an_answer_sealed_for_another_claim_or_altered_is_not_shown():
    answer = sealed_answer("claim-C-1", {"claim_id": "C-1", "stage": "closed"})
    assert status_document(answer, TEST_KEYRING, "claim-C-1") == {"claim_id": "C-1", "stage": "closed"}
    assert status_document(answer, TEST_KEYRING, "claim-C-2") is None, "copied from another claim's answer"
    payload = answer["queryResult"]["payloads"][0]  # type: ignore[index]
    data = bytearray(base64.b64decode(payload["data"]))
    data[-1] ^= 1
    payload["data"] = base64.b64encode(bytes(data)).decode()
    assert status_document(answer, TEST_KEYRING, "claim-C-1") is None, "altered on the way"
    assert status_document(sealed_answer("claim-C-1", ["not", "a", "status"]), TEST_KEYRING, "claim-C-1") is None
    assert status_document({"queryRejected": {"status": "WORKFLOW_EXECUTION_STATUS_FAILED"}}, TEST_KEYRING,
                           "claim-C-1") is None


@given(metadata=st.dictionaries(st.text(max_size=40), st.binary(max_size=300), max_size=6),
       data=st.binary(max_size=5000))
def test_the_payload_reader_reads_what_protobuf_writes(metadata, data):
    assert payload_fields(Payload(metadata=metadata, data=data).SerializeToString()) == (metadata, data)


@given(st.binary(max_size=200))
def test_the_payload_reader_refuses_or_reads_any_bytes_without_crashing(junk):
    try:
        payload_fields(junk)
    except ValueError:
        pass  # refused: the caller takes the SDK's path


NAMES = ["TEMPORAL_ADDRESS", "TEMPORAL_HTTP_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "CLAIMS_VAR_DIR",
         "CLAIMS_ENCRYPTION_KEYS", "CLAIMS_ENCRYPTION_WRITE_KEY", "CLAIMS_ENCRYPTION_KEY_FILE",
         "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"]


@pytest.mark.parametrize("where", ["environment", "dotenv", "both", "lower case"])
def test_the_light_reader_reads_the_settings_as_settings_does(where, tmp_path: Path, monkeypatch):
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    values = {name: f"/{name.lower()}/from-{where}" for name in NAMES}
    if where in ("dotenv", "both"):
        (tmp_path / ".env").write_text("".join(f"{k}=/{k.lower()}/from-dotenv\n" for k in NAMES))
    if where in ("environment", "both"):
        for k, v in values.items():
            monkeypatch.setenv(k, v)
    if where == "lower case":
        for k, v in values.items():
            monkeypatch.setenv(k.lower(), v)
    light, settings = environment(), Settings()
    for name in NAMES:
        field = next(f for f, info in Settings.model_fields.items() if info.alias == name)
        assert str(getattr(settings, field)) == light[name], name


def test_the_light_readers_defaults_are_the_settings():
    from client import status_http

    assert Settings.model_fields["var_dir"].default == status_http.PROJECT_ROOT / "var"
    assert Settings.model_fields["temporal_namespace"].default == status_http.DEFAULT_NAMESPACE
    from client.status import ANSWER_WITHIN
    from config.temporal import HTTP_PORT_FILE

    assert ANSWER_WITHIN.total_seconds() == status_http.ANSWER_WITHIN_SECONDS
    assert HTTP_PORT_FILE == status_http.HTTP_PORT_FILE


def test_the_status_command_starts_without_the_sdk_or_pydantic():
    """What keeps the command within its 0.3 s (`make bench`): its light path imports neither."""
    loaded = subprocess.run([sys.executable, "-c", "import sys, cli.status; print(' '.join(sorted(sys.modules)))"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout.split()
    heavy = [m for m in loaded if m.split(".")[0] in ("temporalio", "pydantic", "pydantic_settings", "sqlalchemy",
                                                       "google", "workflows", "activities")]
    assert heavy == []


class Recorder(http.server.BaseHTTPRequestHandler):
    """A server that records the requests it is sent and answers as its class says."""

    seen: list[dict[str, str]] = []
    answer: bytes = b""

    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        type(self).seen.append(dict(self.headers))
        self.wfile.write(type(self).answer)

    do_GET = do_POST  # a redirected POST comes back as a GET

    def log_message(self, *args: object) -> None:
        pass


def serving(answer: bytes) -> tuple[http.server.HTTPServer, type[Recorder]]:
    handler = type("Handler", (Recorder,), {"seen": [], "answer": answer})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


def test_the_api_key_never_follows_a_redirect_nor_goes_over_plain_http(monkeypatch):
    elsewhere, their_side = serving(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{}")
    redirecting, our_side = serving(
        f"HTTP/1.0 302 Found\r\nLocation: http://127.0.0.1:{elsewhere.server_port}/x\r\n\r\n".encode())
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{elsewhere.server_port}")  # a proxy is not used either
    try:
        base = {"TEMPORAL_ADDRESS": "cluster:7233", "CLAIMS_ENCRYPTION_KEYS": TEST_KEYS}
        to_redirect = {**base, "TEMPORAL_HTTP_ADDRESS": f"http://127.0.0.1:{redirecting.server_port}"}
        assert status_over_http("C-1", "claim-C-1", to_redirect) is None
        assert len(our_side.seen) == 1 and their_side.seen == [], "the redirect was not followed"
        assert status_over_http("C-1", "claim-C-1", {**to_redirect, "TEMPORAL_API_KEY": "sekret"}) is None
        assert status_over_http("C-1", "claim-C-1", {**to_redirect, "TEMPORAL_TLS": "true"}) is None
        assert len(our_side.seen) == 1 and their_side.seen == [], "an API key or TLS asks for https: nothing sent"
    finally:
        elsewhere.shutdown()
        redirecting.shutdown()


def test_a_server_that_does_not_speak_http_sends_the_command_to_the_sdks_path():
    grpc_port, _ = serving(b"\x00\x00\x18\x04\x00\x00\x00\x00\x00")  # what the gRPC port answers to HTTP/1
    try:
        env = {"TEMPORAL_ADDRESS": "cluster:7233", "CLAIMS_ENCRYPTION_KEYS": TEST_KEYS,
               "TEMPORAL_HTTP_ADDRESS": f"http://127.0.0.1:{grpc_port.server_port}"}
        assert status_over_http("C-1", "claim-C-1", env) is None
        assert status_over_http("C-1", "claim-C-1", {**env, "CLAIMS_ENCRYPTION_KEYS": "k=not base64!"}) is None
    finally:
        grpc_port.shutdown()
