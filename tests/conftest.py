"""Shared fixtures: a real Temporal (time-skipping test server), real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.gateway import LedgerGateway
from activities.policies import load_policies
from config.settings import Settings
from config.temporal import installed_binary
from db.engine import make_engine
from db.schema import upgrade
from documents.store import FolderStore
from models import search_attributes
from ocr.worker import build_ocr_worker
from testkit.harness import Claims, queue_name
from testkit.world import (  # noqa: F401  (shared with the tests and the benchmarks)
    POSTGRES_URL,
    TEST_KEYRING,
    TEST_KEYS,
    TEST_SEAL_KEY,
    data_converter,
    postgres_available,
    sample_policies,
)
from tests.object_store import object_store_server  # noqa: F401  (the session's S3-compatible server)
from workers.claims import build_worker

os.environ["CLAIMS_DEV_ISSUER"] = "true"
"""The suite runs the embedded stack's development issuer, enabled explicitly as `make demo` and `make run` do;
processes that must run without it (beside PostgreSQL, a Temporal dev server) drop it from their environment."""


def _sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'claims.db'}")
    upgrade(engine)
    return engine


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(CLAIMS_VAR_DIR=tmp_path / "var", DATABASE_URL=f"sqlite:///{tmp_path / 'claims.db'}",
                    CLAIMS_ENCRYPTION_KEYS=TEST_KEYS,
                    CLAIMS_AUDIT_SEAL_KEY=base64.b64encode(TEST_SEAL_KEY).decode())


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    load_policies(engine, sample_policies())
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The same test on SQLite and on PostgreSQL (in a schema of its own, dropped afterwards)."""
    if request.param == "sqlite":
        engine = _sqlite_engine(tmp_path)
        load_policies(engine, sample_policies())
        yield engine
        engine.dispose()
        return
    with postgres_schema() as (engine, _):
        yield engine


@contextmanager
def postgres_schema(prefix: str = "t", **engine_options: Any) -> Iterator[tuple[Engine, str]]:
    """An engine on PostgreSQL in a schema of its own, migrated and holding the sample policies, and the schema's
    name; the schema is dropped afterwards. Skipped without PostgreSQL, and a failure under CI."""
    if not postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI and not reachable at {POSTGRES_URL}")
        pytest.skip("PostgreSQL not reachable")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'create schema "{schema}"'))
    connect_args = {"options": f"-csearch_path={schema}", **engine_options.pop("connect_args", {})}
    engine = make_engine(POSTGRES_URL, connect_args=connect_args, **engine_options)
    try:
        upgrade(engine)
        load_policies(engine, sample_policies())
        yield engine, schema
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'drop schema "{schema}" cascade'))
        admin.dispose()


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of its own per test: its clock is global, so one claim left waiting would
    otherwise hold time still for the tests after it."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter,
        test_server_existing_path=str(installed_binary("temporal-test-server")))
    await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace="default", search_attributes={k.name: k.indexed_value_type for k in search_attributes.ALL}))
    yield env
    await env.shutdown()


@asynccontextmanager
async def claims_rig(env: WorkflowEnvironment, settings: Settings, engine: Engine, *,
                     ocr: bool = True) -> AsyncIterator[Claims]:
    """A worker with the real activities on a queue of its own, and an OCR worker on the OCR queue of its own
    (`ocr=False`: none yet; `ocr_worker` starts one); the gateway knows one closed account."""
    queue = queue_name()
    settings = settings.model_copy(update={"ocr_task_queue": f"{queue}-ocr"})
    gateway = LedgerGateway(engine, closed_accounts=frozenset({"6222000000000000"}))
    async with build_worker(env.client, settings, engine, task_queue=queue, gateway=gateway):
        rig = Claims(env.client, queue, engine, gateway, settings)
        if not ocr:
            yield rig
            return
        async with ocr_worker(rig):
            yield rig


def ocr_worker(claims: Claims) -> Worker:
    """The OCR worker of a rig, reading from the rig's document folder."""
    return build_ocr_worker(claims.client, claims.settings, store=FolderStore(claims.settings.documents_dir))


@pytest.fixture
async def claims(time_env: WorkflowEnvironment, settings: Settings, engine: Engine) -> AsyncIterator[Claims]:
    """The claims rig against the time-skipping server, on SQLite."""
    async with claims_rig(time_env, settings, engine) as rig:
        yield rig


@pytest.fixture(scope="module")
def dev_http_port() -> int:
    """The port of the dev server's HTTP API (`starter.py status` asks over it)."""
    from testkit.api_stack import free_port

    return free_port()


@pytest.fixture(scope="module")
async def dev_env(dev_http_port: int) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter, search_attributes=search_attributes.ALL,
        dev_server_existing_path=str(installed_binary("temporal")),
        dev_server_extra_args=["--http-port", str(dev_http_port)])
    yield env
    await env.shutdown()


@pytest.fixture
def fast_clock(tmp_path: Path, settings: Settings) -> Settings:
    """The demo profile (a day is a second) with short windows, so whole lifecycles finish in seconds."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"sla": {"documents_days": 3, "reminder_days_before": [1],
                                         "appeal_window_days": 4, "reopen_window_days": 30, "survey_days": 1,
                                         "survey_window_days": 2}}))
    return settings.model_copy(update={"sla_profile": "demo", "rules_file": rules})


def with_clocks(settings: Settings, **days: float) -> Settings:
    """These settings with some clocks of the SLA table set to other lengths (in the profile's days), written to the
    rules file the settings name: `investigation_days=3600` keeps a claim within its deadline for a demo hour."""
    rules = json.loads(settings.rules_file.read_text(encoding="utf-8")) if settings.rules_file else {}
    rules["sla"] = {**rules.get("sla", {}), **days}
    assert settings.rules_file is not None, "a rules file of the test's own"
    settings.rules_file.write_text(json.dumps(rules), encoding="utf-8")
    return settings


@pytest.fixture
async def live(dev_env: WorkflowEnvironment, fast_clock: Settings, engine: Engine) -> AsyncIterator[Claims]:
    """The claims rig on the dev server in real time, with the demo profile's short days."""
    async with claims_rig(dev_env, fast_clock, engine) as rig:
        yield rig


@pytest.fixture
async def claims_on_any(time_env: WorkflowEnvironment, settings: Settings, any_engine: Engine) -> AsyncIterator[Claims]:
    """The claims rig on SQLite and on PostgreSQL: for the cases where the database decides."""
    async with claims_rig(time_env, settings, any_engine) as rig:
        yield rig


CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium, which `make test` installs: the browser the page tests drive."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for one test module's pages."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Chromium is missing: `make test` installs the Debian package"
    from testkit.waiting import STATE_DEADLINE

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        opened = launched.new_context

        def new_context(**options: Any) -> Any:
            """A context whose pages wait for a state as long as any state may take (testkit/waiting.py), not
            Playwright's 30 seconds: on a busy machine a page may take longer to answer, and nothing is wrong."""
            context = opened(**options)
            context.set_default_timeout(STATE_DEADLINE * 1000)
            return context

        def new_page(**options: Any) -> Any:
            return new_context(**options).new_page()

        launched.new_context = new_context  # type: ignore[method-assign]
        launched.new_page = new_page  # type: ignore[method-assign]
        yield launched
        launched.close()
