"""Bad input gets a typed, non-retryable error naming what is wrong; no claim is left stuck or paid twice."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from activities.database import ClaimsDatabase
from activities.gateway import LedgerGateway
from audit.replay import history_from_file, replay
from cli import main as cli_main
from client.claims import DuplicateClaim, InvalidClaim, parse_claim, start_claim
from models.contract import ClaimInput
from models.messages import ClaimEvent
from models.tables import Claim
from testkit.claims import ALL_AUTO_DOCS, auto_claim, days_ago, docs
from testkit.harness import Claims, queue_name
from testkit.world import TEST_SEAL_KEY
from workers.claims import build_worker


async def failure_of(handle) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.non_retryable
    return cause


@pytest.mark.parametrize(("change", "field"), [
    ({"claimed_amount": "-50.00"}, "claimed_amount"),
    ({"claim_type": "marine"}, "claim_type"),
    ({"claimant": {"phone": "1"}}, "claimant.name"),
    ({"incident": {"occurred_at": "yesterday"}}, "incident.occurred_at"),
    ({"line_items": [{"description": "x", "amount": "-1"}]}, "line_items.0.amount"),
    ({"documents": [{"kind": "selfie_with_car", "ref": "doc://x"}]}, "documents.kind"),
])
async def test_malformed_claim_fails_fast_naming_the_field(claims, change, field):
    claim = auto_claim(**{k: v for k, v in change.items() if k != "claimant"})
    if "claimant" in change:
        claim["claimant"] = change["claimant"]
    handle = await claims.start(claim)
    error = await failure_of(handle)
    assert error.type == "InvalidClaim"
    assert field in error.message, error.message
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED


async def test_input_that_is_not_an_object_is_refused(claims):
    handle = await claims.client.start_workflow("ClaimWorkflow", "hello", id="claim-NOT-JSON", task_queue=claims.queue)
    assert (await failure_of(handle)).type == "InvalidClaim"


@pytest.mark.parametrize("start", ["hello", {"claimed_amount": "-1"}, {"claim_id": "C-BAD", "claim_type": "marine"}],
                         ids=["not-an-object", "no-claim-id", "bad-field"])
async def test_an_auditor_replays_the_exported_history_of_a_refused_start(claims, settings, tmp_path, start):
    """`audit replay --file` takes every history the `temporal` CLI exports, a start refused for bad input too,
    whether or not its input names the claim."""
    handle = await claims.client.start_workflow("ClaimWorkflow", start, id=f"claim-refused-{id(start)}",
                                                task_queue=claims.queue)
    assert (await failure_of(handle)).type == "InvalidClaim"
    exported = tmp_path / "refused.json"
    exported.write_text((await handle.fetch_history()).to_json(), encoding="utf-8")
    [outcome] = await replay([history_from_file(exported, settings=settings)], settings=settings)
    assert outcome.ok, outcome.problem


async def test_unknown_policy_is_a_typed_error(claims):
    handle = await claims.start(auto_claim(policy_number="P-NOPE-404"))
    error = await failure_of(handle)
    assert error.type == "UnknownPolicy" and "P-NOPE-404" in error.message


async def test_second_start_of_a_finished_claim_creates_no_second_claim_or_payment(claims):
    claim = auto_claim()
    cid = claim["claim_id"]
    assert (await (await claims.start(claim)).result())["outcome"] == "paid"
    # A back-office system that starts it again with the server's default reuse policy:
    second = await claims.start(claim)
    assert (await failure_of(second)).type == "DuplicateClaim"
    # The project's own starter refuses before anything starts:
    with pytest.raises(DuplicateClaim, match="already exists"):
        await start_claim(claims.client, ClaimInput.model_validate(claim), claims.queue)
    assert len(claims.payments(cid)) == 1 and len(claims.transfers(cid)) == 1
    with Session(claims.engine) as session:
        assert len(session.exec(select(Claim).where(Claim.claim_id == cid)).all()) == 1


async def test_starter_refuses_a_malformed_claim_before_starting_it(claims):
    """The claim is checked once, at the edge: a malformed one never reaches the client."""
    with pytest.raises(InvalidClaim, match="claimed_amount"):
        parse_claim(auto_claim(claimed_amount="-1"))


@pytest.mark.parametrize(("update", "payload", "error_type", "names"), [
    ("approve", {"approver_id": "sup-1"}, "InvalidUpdate", "role"),
    ("approve", {"approver_id": "sup-1", "role": "ceo"}, "InvalidUpdate", "role"),
    ("approve", "yes please", "InvalidUpdate", "approve"),
    ("record_investigation", {"investigator_id": "i", "findings": "f", "confirmed_amount": "-5"},
     "InvalidUpdate", "confirmed_amount"),
    ("submit_documents", {"documents": []}, "InvalidUpdate", "documents"),
    ("submit_documents", {"documents": [{"kind": "horoscope", "ref": "x"}]}, "InvalidUpdate", "horoscope"),
    ("update_bank_account", {"holder": "Li Lei", "number": "not-a-number"}, "InvalidUpdate", "number"),
    ("assign", {"handler_id": "a b c", "by": "x"}, "InvalidUpdate", "handler_id"),
    ("appeal", {"reason": "unfair"}, "NotAllowedInStage", "appeal"),
    ("reopen", {"by": "sup-1", "reason": "x", "role": "supervisor"}, "NotAllowedInStage", "reopen"),
    ("record_investigation", {"investigator_id": "i", "findings": "f"}, "NotAllowedInStage", "investigation"),
])
async def test_malformed_or_misplaced_update_is_refused_and_the_claim_goes_on(claims, update, payload, error_type,
                                                                              names):
    claim = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_approval")
    error = await claims.refused(cid, update, payload)
    assert error.type == error_type and names in error.message, error.message
    await claims.update(cid, "approve", {"approver_id": "adj-1", "role": "adjuster"})
    assert (await handle.result())["paid_amount"] == "7500.00", "the refusal left the claim working"


async def test_withdrawal_after_payment_is_refused(claims):
    claim = auto_claim()
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.wait(cid, lambda s: s["outcome"] == "paid", "paid")
    error = await claims.refused(cid, "withdraw", {"by": "x", "reason": "changed my mind"})
    assert error.type == "NotAllowedInStage"
    assert (await handle.result())["outcome"] == "paid"


# --------------------------------------------------------------------------- input the storage cannot hold

@pytest.fixture
async def claims_on(time_env, settings, any_engine):
    """The `claims` fixture on SQLite and on PostgreSQL."""
    queue = queue_name()
    gateway = LedgerGateway(any_engine)
    async with build_worker(time_env.client, settings, any_engine, task_queue=queue, gateway=gateway):
        yield Claims(time_env.client, queue, any_engine, gateway, settings)


async def task_failures(handle: WorkflowHandle) -> list[str]:
    history = await handle.fetch_history()
    return [e.workflow_task_failed_event_attributes.failure.message for e in history.events
            if e.HasField("workflow_task_failed_event_attributes")]


async def refused_within_seconds(handle: WorkflowHandle, seconds: float = 10) -> ApplicationError:
    """The start ends in a typed, non-retryable failure within seconds, without a failed workflow task."""
    began = time.monotonic()
    with pytest.raises(WorkflowFailureError) as caught:
        await asyncio.wait_for(handle.result(), seconds)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError) and cause.non_retryable, cause
    assert time.monotonic() - began < seconds
    assert await task_failures(handle) == [], "a workflow task failed before the refusal"
    return cause


def raw_json(text: str) -> RawValue:
    """A payload exactly as another system (or the `temporal` CLI) would send it."""
    return RawValue(Payload(metadata={"encoding": b"json/plain"}, data=text.encode()))


def nested(depth: int) -> str:
    return "[" * depth + '"x"' + "]" * depth


@pytest.mark.parametrize(("change", "field"), [
    ({"claimant": {"name": "Li Lei", "phone": "1" * 300, "channel": "sms"}}, "claimant.phone"),
    ({"claimant": {"name": "Li\x00Lei", "phone": "13800000000"}}, "claimant.name"),
    ({"bank_account": {"holder": "H" * 300, "number": "6222000011112222"}}, "bank_account.holder"),
    ({"documents": [{"kind": "claim_form", "ref": "doc://" + "r" * 600}]}, "documents.0.ref"),
], ids=["phone-300-chars", "nul-in-name", "holder-300-chars", "document-ref-600-chars"])
async def test_a_value_the_database_cannot_store_refuses_the_start_instead_of_retrying(claims_on, change, field):
    claim = auto_claim(**change)
    handle = await claims_on.start(claim)
    error = await refused_within_seconds(handle)
    assert error.type == "InvalidClaim" and field in error.message, error.message
    assert claims_on.payments(claim["claim_id"]) == [], "a refused claim was paid"


async def test_a_withdrawal_by_someone_longer_than_the_event_log_allows_is_refused(claims_on):
    claim = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims_on.start(claim)
    await claims_on.at_stage(cid, "awaiting_approval")
    error = await asyncio.wait_for(claims_on.refused(cid, "withdraw", {"by": "b" * 100, "reason": "x"}), 10)
    assert error.type == "InvalidUpdate" and "by" in error.message and error.non_retryable, error.message
    assert (await claims_on.status(cid))["stage"] == "awaiting_approval", "the refusal left a trace"
    await claims_on.update(cid, "approve", {"approver_id": "adj-1", "role": "adjuster"})
    assert (await handle.result())["paid_amount"] == "7500.00", "the refusal left the claim working"
    assert await task_failures(handle) == []


async def test_the_database_guard_names_the_column_and_never_the_value(any_engine):
    """The activities' last line of defence: a value the database refuses is a typed, non-retryable failure.
    SQLite stores what PostgreSQL refuses, so there the event is simply recorded."""
    database = ClaimsDatabase(any_engine, TEST_SEAL_KEY)
    secret = "Zhang San " * 10
    for ev in (ClaimEvent(claim_id="C-1", event=secret, at=datetime.now(UTC)),
               ClaimEvent(claim_id="C-1", event="note", at=datetime.now(UTC), detail="Zhang\x00San")):
        if any_engine.dialect.name == "sqlite":
            database.record_event(ev)
            continue
        with pytest.raises(ApplicationError) as caught:
            database.record_event(ev)
        error = caught.value
        assert error.type == "InvalidData" and error.non_retryable
        assert ("claim_events.event" if ev.event == secret else "claim_events.detail") in error.message, error.message
        assert "Zhang" not in error.message, "personal data in a failure message"


# --------------------------------------------------------------------------- input that is not a claim

@pytest.mark.parametrize("where", ["unknown-field", "known-field"])
async def test_json_nested_300_deep_is_a_typed_refusal(claims, where):
    claim = json.dumps(auto_claim())
    claim = claim[:-1] + f', "extra": {nested(300)}}}' if where == "unknown-field" else claim.replace(
        '"Li Lei"', nested(300), 1)
    handle = await claims.client.start_workflow("ClaimWorkflow", raw_json(claim), id="claim-DEEP",
                                                task_queue=claims.queue)
    error = await refused_within_seconds(handle)
    assert error.type == "InvalidData" and "recursion limit" in error.message, error.message


async def test_an_update_nested_300_deep_is_a_typed_refusal(claims):
    claim = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    handle = await claims.start(claim)
    await claims.at_stage(cid, "awaiting_approval")
    error = await asyncio.wait_for(claims.refused(cid, "appeal", raw_json(f'{{"reason": {nested(300)}}}')), 10)
    assert error.type == "InvalidData" and error.non_retryable, error
    assert await task_failures(handle) == []


async def test_a_start_with_no_input_is_refused(claims):
    handle = await claims.client.start_workflow("ClaimWorkflow", id="claim-NO-INPUT", task_queue=claims.queue)
    error = await refused_within_seconds(handle)
    assert error.type == "InvalidClaim"


@pytest.mark.parametrize(("change", "field"), [
    ({"incident": {"occurred_at": days_ago(-400)}}, "incident.occurred_at"),
    ({"incident": {"occurred_at": days_ago(-30)}}, "incident.occurred_at"),
    ({"incident": {"occurred_at": 1_700_000_000}}, "incident.occurred_at"),
    ({"incident": {"occurred_at": "2026-11-20T08:30:00"}}, "incident.occurred_at"),
    ({"incident": {"occurred_at": "1899-12-31T23:00:00+00:00"}}, "incident.occurred_at"),
    ({"claimed_amount": "\u0663\u0662\u0660\u0660", "line_items": []}, "claimed_amount"),
    ({"claimed_amount": "\uff13\uff12\uff10\uff10", "line_items": []}, "claimed_amount"),
    ({"claimant": {"name": "Li Lei", "channel": "sms"}}, "phone"),
    ({"claimant": {"name": "Li Lei", "phone": "13800000000", "channel": "email"}}, "email"),
], ids=["400-days-ahead", "30-days-ahead", "unix-time", "no-offset", "before-1900", "arabic-indic-digits",
        "full-width-digits", "sms-without-phone", "email-without-address"])
async def test_a_claim_that_cannot_be_right_is_refused_and_not_paid(claims, change, field):
    claim = auto_claim(**change)
    handle = await claims.start(claim)
    error = await refused_within_seconds(handle)
    assert error.type == "InvalidClaim" and field in error.message, error.message
    assert claims.payments(claim["claim_id"]) == [], "a refused claim was paid"


# --------------------------------------------------------------------------- the command line

@pytest.mark.parametrize(("content", "says"), [
    ("", "empty"), ("   \n", "empty"), ('{"claim_id": ', "not valid JSON"), ("[1, 2]", "JSON object"),
    ('"hello"', "JSON object"), ("null", "JSON object"),
])
def test_the_starter_refuses_a_file_that_is_not_a_claim_and_starts_nothing(tmp_path, capsys, monkeypatch, content,
                                                                           says):
    async def no_connection(settings):
        raise AssertionError("connected to Temporal for a file that is not a claim")

    monkeypatch.setattr(cli_main, "connect", no_connection)
    path = tmp_path / "claim.json"
    path.write_text(content)
    assert cli_main.main(["start", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and says in err[0], err


def test_the_starter_refuses_a_malformed_claim_before_connecting(tmp_path, capsys, monkeypatch):
    async def no_connection(settings):
        raise AssertionError("connected to Temporal for a malformed claim")

    monkeypatch.setattr(cli_main, "connect", no_connection)
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(auto_claim(claimed_amount="\u0663")))
    assert cli_main.main(["start", str(path)]) == 2
    assert "claimed_amount" in capsys.readouterr().err
