"""A worker's database connections are not tested before use (db/engine.py `pre_ping`): one the server has closed
fails its activity's first statement, the pool drops every connection it holds, and the retry pays the claim once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from activities.policies import load_policies
from config.settings import Settings
from db.engine import make_engine
from letters.senders import FileSender
from testkit.claims import auto_claim
from testkit.harness import Claims
from testkit.world import POSTGRES_URL, sample_policies
from tests.conftest import claims_rig, postgres_schema

D = Decimal


@pytest.fixture
def unpinged() -> Iterator[tuple[Engine, str]]:
    """A worker's engine on PostgreSQL, in a schema of its own, and the name its connections give the server."""
    name = f"w_{uuid.uuid4().hex[:12]}"
    with postgres_schema("w", pre_ping=False, connect_args={"application_name": name}) as (engine, _):
        yield engine, name


def close_connections(name: str) -> int:
    """What a database restart does to a pool: the server ends every connection of `name`."""
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            return len(conn.execute(text("select pg_terminate_backend(pid) from pg_stat_activity "
                                         "where application_name = :name"), {"name": name}).all())
    finally:
        admin.dispose()


def fast_claim(engine: Engine) -> dict[str, Any]:
    """A fast-path claim, on a policy of its own: a policy's third claim in a week is not clear-cut."""
    policy = f"P-W-{uuid.uuid4().hex[:10]}"
    load_policies(engine, [sample_policies()[0].model_copy(update={"policy_number": policy})])
    return auto_claim(policy_number=policy)


async def paid_once(claims: Claims, claim: dict[str, Any]) -> None:
    result = await (await claims.start(claim)).result()
    cid = claim["claim_id"]
    assert (result["outcome"], result["paid_amount"]) == ("paid", "2700.00")
    assert [p.amount for p in claims.payments(cid)] == [D("2700.00")]
    assert len(claims.transfers(cid)) == 1
    with claims.engine.connect() as conn:
        assert conn.execute(text("select paid_amount from claims where claim_id = :c"), {"c": cid}).scalar() \
            == D("2700.00")


async def test_a_letter_sent_as_the_database_closed_the_connections_is_sent_once(
        time_env, settings: Settings, unpinged: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway has taken the letter; the connection that would mark its row sent is dead. The row is marked all
    the same, so no retry sends it again."""
    engine, name = unpinged
    sent: list[tuple[str, str, int]] = []
    send = FileSender.send

    def send_then_restart(self: FileSender, recipient: Any, subject: str, body: str, *, claim_id: str, kind: str,
                          sequence: int) -> str:
        where = send(self, recipient, subject, body, claim_id=claim_id, kind=kind, sequence=sequence)
        sent.append((claim_id, kind, sequence))
        if kind == "decision_approved":
            assert close_connections(name) >= 1, "the worker held no connection: nothing was tested"
        return where

    monkeypatch.setattr(FileSender, "send", send_then_restart)
    async with claims_rig(time_env, settings, engine, ocr=False) as claims:
        claim = fast_claim(engine)
        await paid_once(claims, claim)
        mine = [s for s in sent if s[0] == claim["claim_id"]]
        assert ("decision_approved" in [k for _, k, _ in mine]), "the letter the test restarts after was not sent"
        assert len(mine) == len(set(mine)), f"a letter was sent twice: {mine}"


async def test_a_worker_whose_connections_the_database_closed_pays_the_next_claim_once(
        time_env, settings: Settings, unpinged: tuple[Engine, str]) -> None:
    engine, name = unpinged
    assert not engine.pool._pre_ping  # type: ignore[attr-defined]  (what the worker runs with)
    async with claims_rig(time_env, settings, engine, ocr=False) as claims:
        await paid_once(claims, fast_claim(engine))  # the pool holds connections now
        for _ in range(2):
            claim = fast_claim(engine)
            assert close_connections(name) >= 1, "the pool kept no connection open: nothing was tested"
            await paid_once(claims, claim)  # the worker's activities meet the closed connections first
