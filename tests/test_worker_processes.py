"""Two worker processes on one task queue and one database: every claim's event-log chain stays whole."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy import text as text_sql
from sqlalchemy.engine import Engine
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from audit.log_heads import heads_in
from config.encryption import EncryptionCodec, keyring_for
from config.settings import PROJECT_ROOT, Settings
from models.contract import WORKFLOW_TYPE, workflow_id_for
from testkit.claims import auto_claim
from testkit.harness import queue_name
from testkit.waiting import STATE_DEADLINE
from testkit.world import POSTGRES_URL, TEST_KEYS

pytestmark = pytest.mark.devserver
CLAIMS = 20


def database_url(engine: Engine) -> str:
    """The URL another process uses to reach the same database (on PostgreSQL, the test's own schema)."""
    if engine.dialect.name == "sqlite":
        return engine.url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        schema = conn.execute(text("select current_schema()")).scalar_one()
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture
def process_env(any_engine: Engine, fast_clock: Settings, tmp_path: Path) -> dict[str, str]:
    """Worker processes as production runs them: no development issuer (they refuse it beside PostgreSQL or a
    Temporal server they did not start) and none needed, since they verify action proofs; SMS through a gateway
    adapter, since the outbox folder is the embedded demo's only."""
    return {**{k: v for k, v in os.environ.items() if k != "CLAIMS_DEV_ISSUER"},
            "DATABASE_URL": database_url(any_engine), "CLAIMS_VAR_DIR": str(tmp_path / "var"),
            "CLAIMS_SLA_PROFILE": "demo", "CLAIMS_RULES_FILE": str(fast_clock.rules_file),
            "CLAIMS_LOG_FORMAT": "json", "CLAIMS_ENCRYPTION_KEYS": TEST_KEYS,
            "CLAIMS_MESSAGE_GATEWAY": "testkit.messages:AcceptingGateway"}


@pytest.fixture
def two_workers(dev_env: WorkflowEnvironment, process_env: dict[str, str],
                tmp_path: Path) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    queue = queue_name()
    env = {**process_env, "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
           "CLAIMS_TASK_QUEUE": queue}
    procs: list[subprocess.Popen[bytes]] = []
    for n in (1, 2):
        with (tmp_path / f"worker-{n}.log").open("wb") as out:
            procs.append(subprocess.Popen([sys.executable, "worker.py"], cwd=PROJECT_ROOT, env=env, stdout=out,
                                          stderr=subprocess.STDOUT))
    yield queue, procs
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def wait_until_running(procs: list[subprocess.Popen[bytes]], logs: list[Path],
                             seconds: float = STATE_DEADLINE) -> None:
    """Until both workers say they started: a process that exits fails at once; a busy machine only takes longer."""
    deadline = time.monotonic() + seconds
    while not all("worker started" in log.read_text() for log in logs):
        for proc, log in zip(procs, logs, strict=True):
            assert proc.poll() is None, f"a worker process exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, "the worker processes did not start"
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # from "started" to polling


async def executed(handle: WorkflowHandle[Any, Any]) -> tuple[list[str], set[str]]:
    """The activities a claim's history records (local ones as markers), and the workers that ran its tasks."""
    activities, workers = [], set()
    async for event in handle.fetch_history_events():
        kind = event.WhichOneof("attributes")
        if kind == "activity_task_scheduled_event_attributes":
            activities.append(event.activity_task_scheduled_event_attributes.activity_type.name)
        elif kind == "marker_recorded_event_attributes" and "data" in event.marker_recorded_event_attributes.details:
            data = event.marker_recorded_event_attributes.details["data"].payloads[0].data
            activities.append(json.loads(data).get("activity_type", ""))
        elif kind in ("workflow_task_started_event_attributes", "activity_task_started_event_attributes"):
            workers.add(getattr(event, kind).identity)
    return activities, workers


async def test_two_worker_processes_keep_every_claims_chain_whole(dev_env, two_workers, process_env, tmp_path):
    client = dev_env.client
    queue, procs = two_workers
    await wait_until_running(procs, [tmp_path / "worker-1.log", tmp_path / "worker-2.log"])

    claims = [auto_claim() for _ in range(CLAIMS)]
    handles = await asyncio.gather(*(client.start_workflow(WORKFLOW_TYPE, c, id=workflow_id_for(c["claim_id"]),
                                                           task_queue=queue) for c in claims))
    results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=30)
    assert [r["outcome"] for r in results] == ["paid"] * CLAIMS

    recorded, identities = 0, set()
    codec = EncryptionCodec(keyring_for(Settings(CLAIMS_ENCRYPTION_KEYS=TEST_KEYS)))
    for handle in handles:
        _, workers = await executed(handle)
        head = heads_in((await handle.fetch_history()).to_json_dict(), codec)
        assert head is not None, f"{handle.id}: its history records no event-log head"
        recorded += head.seq  # a claim's rows are numbered from 1: its last head counts them
        identities |= workers
    assert len(identities) == 2, f"both worker processes should have run claims, saw {identities}"

    verify = subprocess.run([sys.executable, "starter.py", "audit", "verify-log"], cwd=PROJECT_ROOT,
                            env={**process_env, "TEMPORAL_ADDRESS": client.service_client.config.target_host,
                                 "CLAIMS_TASK_QUEUE": queue}, capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, f"verify-log found breaks:\n{verify.stdout}{verify.stderr}"
    assert f"intact: {recorded} rows in {CLAIMS} claims" in verify.stdout, verify.stdout
    assert f"against the heads {CLAIMS} claims' histories recorded" in verify.stdout, verify.stdout
    for log in (tmp_path / "worker-1.log", tmp_path / "worker-2.log"):
        text = log.read_text()
        assert "notification sent" in text, "the log shows no letters: the scan below proves nothing"
        for personal in ("Li Lei", "13800000000", "li@example.com", "6222000011112222"):
            assert personal not in text, f"{log.name} holds {personal!r} in the clear"


async def test_a_temporal_server_this_installation_did_not_start_is_refused(tmp_path):
    """Another checkout's demo on the embedded port would lend this one its workers, running other code."""
    import socket

    from config.temporal import ensure_embedded_server

    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        port = foreign.getsockname()[1]
        settings = Settings(CLAIMS_VAR_DIR=tmp_path / "var", CLAIMS_EMBEDDED_PORT=port)
        with pytest.raises(RuntimeError, match=f"port {port} is taken by a Temporal server this installation"):
            await ensure_embedded_server(settings)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "worker.py"], cwd=PROJECT_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


async def until_logged(proc: subprocess.Popen[bytes], log: Path, line: str) -> None:
    """Until the worker's log says `line`; a process that exits first fails at once, a busy machine only waits."""
    deadline = time.monotonic() + STATE_DEADLINE
    while line not in log.read_text():
        assert proc.poll() is None, f"the worker exited before it said {line!r}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"the worker never said {line!r}:\n{log.read_text()}"
        await asyncio.sleep(0.1)


async def test_a_worker_told_to_stop_under_load_drains_and_exits_within_its_shutdown_time(
        dev_env, process_env, tmp_path, any_engine):
    """SIGTERM while claims are being paid: the worker takes no new task, lets what runs finish, and exits 0 within
    its shutdown time; a second worker picks up the rest. Every claim is paid once, and no activity was failed by
    the signal (the old handler's SystemExit could land inside one)."""
    client = dev_env.client
    queue = queue_name()
    env = {**process_env, "TEMPORAL_ADDRESS": client.service_client.config.target_host, "CLAIMS_TASK_QUEUE": queue,
           "CLAIMS_WORKER_SHUTDOWN_SECONDS": "10"}
    first = start_worker(env, tmp_path / "first.log")
    await until_logged(first, tmp_path / "first.log", "worker started")
    claims = [auto_claim() for _ in range(CLAIMS)]
    handles = await asyncio.gather(*(client.start_workflow(WORKFLOW_TYPE, c, id=workflow_id_for(c["claim_id"]),
                                                           task_queue=queue) for c in claims))
    await until_logged(first, tmp_path / "first.log", "payment made")  # under way, not idle
    first.send_signal(signal.SIGTERM)
    told = time.monotonic()
    await asyncio.to_thread(first.wait, 10 + 10)
    took = time.monotonic() - told
    text = (tmp_path / "first.log").read_text()
    assert first.returncode == 0, f"exit code {first.returncode}:\n{text[-3000:]}"
    assert "worker stopped" in text, text[-3000:]
    assert took <= 10 + 10, f"the worker took {took:.0f} s to stop"

    second = start_worker(env, tmp_path / "second.log")
    try:
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=STATE_DEADLINE)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.wait, 30)
    assert [r["outcome"] for r in results] == ["paid"] * CLAIMS
    with any_engine.connect() as conn:
        paid = dict(conn.execute(text_sql("SELECT claim_id, count(*) FROM payments WHERE status = 'paid' "
                                          "GROUP BY claim_id")).all())
    assert {c["claim_id"]: paid.get(c["claim_id"]) for c in claims} == {c["claim_id"]: 1 for c in claims}
    for handle in handles:
        async for event in handle.fetch_history_events():
            if event.WhichOneof("attributes") == "activity_task_failed_event_attributes":
                message = event.activity_task_failed_event_attributes.failure.message
                assert "SystemExit" not in message, f"{handle.id}: an activity failed by the signal: {message}"
    assert second.returncode == 0


async def test_a_worker_started_before_temporal_waits_for_it_and_stops_when_told(process_env, tmp_path):
    """No server at the address: the worker says it waits for Temporal, keeps trying, and a SIGTERM ends it at once
    with exit code 0 (it used to exit with a connection error)."""
    import socket

    with socket.socket() as nobody:
        nobody.bind(("127.0.0.1", 0))
        port = nobody.getsockname()[1]  # bound, never listening: connections are refused
        env = {**process_env, "TEMPORAL_ADDRESS": f"127.0.0.1:{port}", "CLAIMS_TASK_QUEUE": queue_name()}
        proc = start_worker(env, tmp_path / "waiting.log")
        try:
            await until_logged(proc, tmp_path / "waiting.log", "waiting for Temporal")
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, (tmp_path / "waiting.log").read_text()
    assert "Traceback" not in (tmp_path / "waiting.log").read_text()
