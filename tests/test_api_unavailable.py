"""The API while Temporal or the database cannot be reached: a 503 problem with Retry-After, naming what is down and
saying nothing was changed, logged once as a warning without a traceback (it was a 500, logged twice in full)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import Request
from sqlalchemy import create_engine
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config.encryption import EncryptionCodec, converter_for, keyring_for
from config.settings import PROJECT_ROOT, Settings
from config.temporal import installed_binary
from documents.store import FolderStore
from edge.problems import temporal_handler
from edge.services import Services
from identity import development, keys


@pytest.fixture
def nobody_listening() -> Iterator[int]:
    """A local port bound and never listening: every connection to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def services(settings: Settings, client: Client | None, engine_url: str, tmp_path: Path) -> Services:
    return Services(client=client, engine=create_engine(engine_url), store=FolderStore(tmp_path / "documents"),
                    verifier=keys.verifier_for(settings), code_secret=b"c" * 32, task_queue="claims",
                    max_upload_bytes=1024, codec=EncryptionCodec(keyring_for(settings)),
                    signer=keys.signer_for(settings))


def auth(settings: Settings, subject: str, role: str) -> dict[str, str]:
    token = development.mint(settings.var_dir, subject=subject, roles=[role], audience=settings.oidc_audience)
    return {"Authorization": f"Bearer {token}"}


async def test_a_report_while_temporal_is_down_is_a_503_to_retry(settings, engine, nobody_listening, tmp_path, caplog):
    client = await Client.connect(f"127.0.0.1:{nobody_listening}", lazy=True, data_converter=converter_for(settings))
    app = create_app(ready=services(settings, client, engine.url.render_as_string(False), tmp_path))
    claim = json.loads((PROJECT_ROOT / "samples" / "claim-over-http.json").read_text(encoding="utf-8"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        answer = await http.post("/claims", json=claim, headers={**auth(settings, "portal", "channel"),
                                                                 "Idempotency-Key": "down-1"})
        status = await http.get(f"/claims/{claim['claim_id']}", headers=auth(settings, "sup-1", "supervisor"))
    for response in (answer, status):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        assert response.headers["content-type"] == "application/problem+json"
        assert "nothing was changed" in response.json()["detail"]
    assert "Traceback" not in caplog.text


async def test_a_status_while_the_temporal_server_is_stopped_is_a_503_to_retry(settings, engine, tmp_path):
    """A server the API was connected to, stopped (an outage, a restart): the SDK's own answer is `unavailable`."""
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(installed_binary("temporal")))
    app = create_app(ready=services(settings, env.client, engine.url.render_as_string(False), tmp_path))
    await env.shutdown()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        status = await http.get("/claims/C-1", headers=auth(settings, "sup-1", "supervisor"))
    assert status.status_code == 503, status.text
    assert status.headers["retry-after"] == "5" and "workflow service" in status.json()["detail"]


async def test_a_request_while_the_database_is_down_is_a_503_to_retry(settings, nobody_listening, tmp_path):
    down = f"postgresql+psycopg://postgres@127.0.0.1:{nobody_listening}/test?connect_timeout=2"
    app = create_app(ready=services(settings, None, down, tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        answer = await http.get("/finance/claims", params={"month": "2026-11"},
                                headers=auth(settings, "fin-1", "finance"))
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5" and answer.json()["title"] == "Service unavailable"
    assert "database" in answer.json()["detail"]


async def test_an_action_the_claim_does_not_answer_in_time_is_a_503_that_says_it_may_still_be_taken(settings, engine,
                                                                                                     tmp_path):
    request = Request({"type": "http", "method": "POST", "path": "/claims/C-1/actions/approve", "headers": [],
                       "query_string": b""})
    answer = await temporal_handler(request, WorkflowUpdateRPCTimeoutOrCancelledError())
    body = json.loads(bytes(answer.body))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5", body
    assert body["type"].endswith("/not-answered") and "may still be taken" in body["detail"], body


async def test_an_unexpected_failure_is_answered_as_a_problem_and_not_raised_again(settings, engine, tmp_path):
    """Starlette's last-resort handler answers, then raises the failure again, so the server logged it a second time
    with its traceback; here (an ASGI transport that raises what the app raises) it would fail the request."""
    app = create_app(ready=services(settings, None, engine.url.render_as_string(False), tmp_path))

    async def broken() -> None:
        raise KeyError("a bug")

    app.add_api_route("/broken", broken)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        answer = await http.get("/broken")
    assert answer.status_code == 500 and answer.json()["type"].endswith("/internal-error"), answer.text
