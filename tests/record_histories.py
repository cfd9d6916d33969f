"""Record the saved histories under tests/histories/: every demo scenario on a dev server of its own.

    .venv/bin/python -m tests.record_histories
    .venv/bin/python -m tests.record_histories continued    # the claim whose run continues as new
    .venv/bin/python -m tests.record_histories complaint NAME   # a complaint acknowledged and resolved late
    (complaint-late-moments: since `complaint-every-moment-a-timer`)
    .venv/bin/python -m tests.record_histories reading      # the claims whose invoices are read by machine
    .venv/bin/python -m tests.record_histories after-closing  # appeal after a denial, reopening, money owed back
    .venv/bin/python -m tests.record_histories proofs       # updates with action proofs, across a continue-as-new
    .venv/bin/python -m tests.record_histories ended-code   # a progress code asked for on a claim that has ended
    .venv/bin/python -m tests.record_histories changes-at-start  # claims that ask every change at their start
    .venv/bin/python -m tests.record_histories financials   # claims with a reserve, a subrogation, money owed back
    .venv/bin/python -m tests.record_histories lean         # claims taken in at once, their timeline in batches
    .venv/bin/python -m tests.record_histories letters      # the same since their letters go with the lifecycle
    .venv/bin/python -m tests.record_histories three-steps  # the same, their timeline with the payment and the letters
    .venv/bin/python -m tests.record_histories moments      # the same and more, each moment waited for by a timer

Run it when a new path is added. Never re-record to make a failing replay pass: a replay that fails means
running claims would fail the same way (see docs/operators.md, "Changing workflow code safely").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.policies import load_policies
from config.settings import Settings
from config.temporal import installed_binary
from db.engine import make_engine
from db.schema import upgrade
from demo import scenarios as demo
from documents.store import FolderStore
from models import search_attributes
from models.contract import PolicyTerms, workflow_id_for
from ocr.worker import build_ocr_worker
from testkit.world import TEST_KEYS, data_converter
from workers.claims import build_worker

HISTORIES = Path(__file__).parent / "histories"


async def record(only_reading: bool = False, only: tuple[str, ...] = (), suffix: str = "") -> None:
    """Every demo scenario (`only_reading`: just those whose invoices are read by machine, so the histories of
    the others, recorded by earlier code, stay as they were; `only`: just the scenarios of these names, saved under
    their name and `suffix` beside the histories earlier code recorded)."""
    var = Path(tempfile.mkdtemp())
    settings = Settings(CLAIMS_VAR_DIR=var, CLAIMS_SLA_PROFILE="demo", CLAIMS_TASK_QUEUE="claims-record",
                        CLAIMS_DEV_ISSUER=True)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    policies = json.loads((demo.SAMPLES / "policies.json").read_text(encoding="utf-8"))
    load_policies(engine, [PolicyTerms.model_validate(p) for p in policies])
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter, search_attributes=search_attributes.ALL,
        dev_server_existing_path=str(installed_binary("temporal")))
    HISTORIES.mkdir(exist_ok=True)
    try:
        store = FolderStore(settings.documents_dir)
        async with build_worker(env.client, settings, engine), build_ocr_worker(env.client, settings, store=store):
            scenarios = demo.scenarios("H", store)
            if only_reading:
                scenarios = [s for s in scenarios if "invoice" in s.name]
            if only:
                scenarios = [s for s in scenarios if s.name in only]
            rows = await asyncio.gather(*(demo.play(env.client, s, settings) for s in scenarios))
            await asyncio.sleep(5)  # surveys and timers after closing
            for scenario, row in zip(scenarios, rows, strict=True):
                if any(note.startswith("refused before starting") for note in scenario.notes):
                    continue
                handle = env.client.get_workflow_handle(workflow_id_for(row.claim_id))
                history = await handle.fetch_history()
                name = re.sub(r"[^a-z0-9]+", "-", scenario.name.lower()).strip("-")
                (HISTORIES / f"{name}{suffix}.json").write_text(history.to_json(), encoding="utf-8")
                print(f"{name}: {len(history.events)} events, outcome {row.outcome}")  # noqa: T201
    finally:
        await env.shutdown()


CHANGES_AT_START = ("fast path", "excluded cause", "invoice read by machine", "low survey score, call-back, complaint")
"""Claims whose run asks every change at its start (`changes-asked-at-start`), one a local activity at a time."""
FINANCIALS = ("fast path", "collision, third party at fault", "advance, then denied: owed back")
"""Claims that keep a case reserve and book their money in the ledger (`claim-financials`): paid, recovered from a
third party, and owed back."""

LEAN = ("fast path", "excluded cause", "missing materials, then supplied", "green channel",
        "collision, third party at fault", "invoice read by machine", "partial approval, appeal upheld")
"""Claims taken in in one local activity, whose timeline is written in batches (`lean-fast-path`): paid at once,
denied at intake, waiting for materials, on the green channel, recovered from a third party, read by machine, and
appealed."""
LETTERS = LEAN
"""The same claims since the letters their lifecycle writes on its fast path go out with it
(`letters-with-the-lifecycle`); the `-lean` histories stay, for the claims started before."""
THREE_STEPS = (*LEAN, "invalid bank account, new details")
"""The same claims since the fast path's timeline goes with its payment and its letters (`three-local-steps`), and one
whose payment the bank refuses on the fast path after its timeline was written; the `-letters` histories stay."""
MOMENTS = (*THREE_STEPS, "below deductible", "escalates on its own", "low survey score, call-back, complaint",
           "advance, then denied: owed back")
"""The same claims since each moment they wait for is waited for by a timer (`every-moment-a-timer`), and those whose
clocks breach, whose survey window stays open and whose money owed back keeps them open after closing; the
`-three-steps` histories stay."""


async def time_skipping_world(**rules: Any) -> tuple[Settings, Engine, WorkflowEnvironment]:
    """Settings (with these rules, if any), a database with the sample policies, and a time-skipping server that knows
    the claims' search attributes: where a recording runs."""
    from testkit.world import sample_policies

    var = Path(tempfile.mkdtemp())
    settings = Settings(CLAIMS_VAR_DIR=var, CLAIMS_ENCRYPTION_KEYS=TEST_KEYS)
    if rules:
        (var / "rules.json").write_text(json.dumps(rules))
        settings = Settings(CLAIMS_VAR_DIR=var, CLAIMS_RULES_FILE=var / "rules.json", CLAIMS_ENCRYPTION_KEYS=TEST_KEYS)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    load_policies(engine, sample_policies())
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter, test_server_existing_path=str(installed_binary("temporal-test-server")))
    await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace="default", search_attributes={k.name: k.indexed_value_type for k in search_attributes.ALL}))
    return settings, engine, env


async def record_continued() -> None:
    """A claim that continues as new while investigated with its statutory advance outstanding, through
    payment: each run of the chain saved as `continued-run-N.json`."""
    from audit.replay import runs_of
    from tests.conftest import claims_rig
    from tests.test_deadlines import investigated_claim

    settings, engine, env = await time_skipping_world(continue_after_events=70)
    try:
        async with claims_rig(env, settings, engine) as claims:
            claim = investigated_claim()
            handle = await claims.start(claim)
            await claims.at_stage(claim["claim_id"], "investigating")
            await env.sleep(timedelta(days=61))
            await claims.update(claim["claim_id"], "record_investigation", {
                "investigator_id": "inv-1", "findings": "as reported", "confirmed_amount": "30000.00"})
            await claims.at_stage(claim["claim_id"], "awaiting_approval")
            await claims.update(claim["claim_id"], "approve", {"approver_id": "mgr-1", "role": "manager"})
            await handle.result()
            for number, history in enumerate(await runs_of(env.client, workflow_id_for(claim["claim_id"])), 1):
                (HISTORIES / f"continued-run-{number}.json").write_text(history.to_json(), encoding="utf-8")
                print(f"continued-run-{number}: {len(history.events)} events")  # noqa: T201
    finally:
        await env.shutdown()


async def record_complaint(name: str) -> None:
    """A complaint about nothing in particular, acknowledged after its 24 hours, marked complex and resolved
    after its 72 hours: warnings, breaches and escalations on the way. Saved as `<name>.json`."""
    from tests.conftest import claims_rig
    from tests.test_complaints import file, send

    settings, engine, env = await time_skipping_world()
    try:
        async with claims_rig(env, settings, engine) as claims:
            _, handle = await file(claims)
            await send(claims, handle, "assign_complaint", {"handler_id": "sup-3", "by": "sup-1"})
            await env.sleep(timedelta(days=1, hours=1))
            await send(claims, handle, "acknowledge_complaint", {"by": "sup-3"})
            await env.sleep(timedelta(days=2))
            await send(claims, handle, "mark_complex", {"by": "sup-3", "reason": "third-party assessment"})
            await env.sleep(timedelta(days=1))
            await send(claims, handle, "resolve_complaint", {"by": "sup-3", "resolution": "apologised",
                                                             "root_cause": "delay", "claimant_acknowledged": True})
            await handle.result()
            history = await handle.fetch_history()
            (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
            print(f"{name}: {len(history.events)} events")  # noqa: T201
    finally:
        await env.shutdown()


async def record_after_closing() -> None:
    """The paths that go on after a claim closes: a denial appealed and upheld, a denial at the coverage check appealed
    with nothing to pay and rejected, a claim closed incomplete then reopened and paid, an advance on a claim then
    denied owed back and written off, and an appeal whose review waits in a run continued as new (each run of that
    chain saved as `appeal-continued-run-N.json`)."""
    from audit.replay import runs_of
    from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
    from testkit.harness import Claims
    from tests.conftest import claims_rig
    from tests.test_money_holes import standard_claim
    from tests.test_recoveries import denied_after_an_advance

    settings, engine, env = await time_skipping_world()
    rules = settings.var_dir / "continuing.json"
    rules.write_text(json.dumps({"continue_after_events": 40}))

    async def appealed_after_a_denial(claims: Claims) -> tuple[str, WorkflowHandle[Any, Any]]:
        claim = standard_claim()
        cid = claim["claim_id"]
        handle = await claims.start(claim)
        await claims.at_stage(cid, "awaiting_approval")
        await claims.update(cid, "reject", {"approver_id": "adj-1", "role": "adjuster", "reason": "not covered",
                                            "clause": "art. 7"})
        await claims.wait(cid, lambda s: s["outcome"] == "denied", "denied")
        await claims.update(cid, "appeal", {"reason": "the repair was necessary"})
        await claims.at_stage(cid, "awaiting_approval")
        return cid, handle

    def save(name: str, history: Any) -> None:
        (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
        print(f"{name}: {len(history.events)} events")  # noqa: T201

    try:
        async with claims_rig(env, settings, engine) as claims:
            cid, handle = await appealed_after_a_denial(claims)
            await claims.update(cid, "approve", {"approver_id": "sup-1", "role": "supervisor"})
            await handle.result()
            save("denied-then-appeal-upheld", await handle.fetch_history())

            claim = auto_claim(claimed_amount="4000.00", line_items=[], documents=docs("claim_form"))
            cid = claim["claim_id"]
            handle = await claims.start(claim)
            await claims.at_stage(cid, "awaiting_documents")
            await env.sleep(timedelta(days=31))
            await claims.wait(cid, lambda s: s["outcome"] == "closed_incomplete", "closed_incomplete")
            await claims.update(cid, "reopen", {"by": "sup-1", "reason": "sent by post", "role": "supervisor"})
            await claims.at_stage(cid, "awaiting_documents")
            await claims.update(cid, "submit_documents", {"documents": docs(*ALL_AUTO_DOCS[1:], claim_id=cid)})
            await handle.result()
            save("closed-incomplete-then-reopened", await handle.fetch_history())

            claim = auto_claim(claimed_amount="400.00", incident={"cause": "racing"}, documents=docs(*ALL_AUTO_DOCS),
                               line_items=[{"description": "mirror", "amount": "400.00", "category": "repair"}])
            cid = claim["claim_id"]
            handle = await claims.start(claim)
            await claims.wait(cid, lambda s: s["outcome"] == "denied", "denied at the coverage check")
            await claims.update(cid, "appeal", {"reason": "it was a car park, not a race"})
            await claims.at_stage(cid, "awaiting_approval")
            await claims.update(cid, "reject", {"approver_id": "sup-2", "role": "supervisor",
                                                "reason": "below the deductible", "clause": "art. 4"})
            await handle.result()
            save("excluded-then-appeal-with-nothing-to-pay", await handle.fetch_history())

            cid, handle = await denied_after_an_advance(claims)
            await claims.update(cid, "record_recovery", {"amount": "4000.00", "reference": "TRF-1", "by": "fin-1"})
            await claims.update(cid, "write_off_recovery", {"reason": "the claimant cannot be found", "by": "mgr-1"})
            await handle.result()
            save("advance-then-denied-owed-back-written-off", await handle.fetch_history())

        async with claims_rig(env, settings.model_copy(update={"rules_file": rules}), engine) as claims:
            cid, handle = await appealed_after_a_denial(claims)
            runs = before = len(await runs_of(env.client, workflow_id_for(cid)))
            while runs == before:  # staff work on the claim until its run continues as new with the appeal in review
                await claims.update(cid, "assign", {"handler_id": "adj-7", "by": "sup-9"})
                runs = len(await runs_of(env.client, workflow_id_for(cid)))
            await claims.at_stage(cid, "awaiting_approval")
            await claims.update(cid, "approve", {"approver_id": "sup-1", "role": "supervisor"})
            await claims.wait(cid, lambda s: s["outcome"] == "paid", "paid on the reviewer's approval")
            await env.sleep(timedelta(days=90))  # the survey and the windows after closing pass
            with contextlib.suppress(RPCError):  # a run that is still open ends here; its history replays as far
                await claims.handle(cid).terminate("recorded")
            for number, history in enumerate(await runs_of(env.client, workflow_id_for(cid)), 1):
                save(f"appeal-continued-run-{number}", history)
    finally:
        await env.shutdown()


async def record_action_proofs() -> None:
    """A claim whose updates carry action proofs and whose payloads are bound to its workflow: assigned, escalated
    and approved by people, paid, with the proofs' ids kept across a continue-as-new (`proofs-run-N.json`)."""
    from audit.replay import runs_of
    from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
    from tests.conftest import claims_rig

    settings, engine, env = await time_skipping_world()
    rules = settings.var_dir / "continuing.json"
    rules.write_text(json.dumps({"continue_after_events": 40}))
    try:
        async with claims_rig(env, settings.model_copy(update={"rules_file": rules}), engine) as claims:
            claim = auto_claim(claimed_amount="15000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS, claim_id="p"))
            cid = claim["claim_id"]
            await claims.start(claim)
            await claims.at_stage(cid, "awaiting_approval")
            runs = before = len(await runs_of(env.client, workflow_id_for(cid)))
            while runs == before:
                await claims.update(cid, "assign", {"handler_id": "adj-7", "by": "sup-9"})
                runs = len(await runs_of(env.client, workflow_id_for(cid)))
            await claims.at_stage(cid, "awaiting_approval")
            await claims.update(cid, "escalate", {"by": "sup-9", "reason": "a second look"})
            await claims.update(cid, "approve", {"approver_id": "mgr-1", "role": "manager"})
            await claims.wait(cid, lambda s: s["outcome"] == "paid", "paid")
            await env.sleep(timedelta(days=90))
            with contextlib.suppress(RPCError):
                await claims.handle(cid).terminate("recorded")
            for number, history in enumerate(await runs_of(env.client, workflow_id_for(cid)), 1):
                (HISTORIES / f"proofs-run-{number}.json").write_text(history.to_json(), encoding="utf-8")
                print(f"proofs-run-{number}: {len(history.events)} events")  # noqa: T201
    finally:
        await env.shutdown()


async def record_ended_claim_code() -> None:
    """A claim paid in full whose workflow has ended, then a progress code asked for on it: the code's own
    workflow saved as `ended-claim-code.json`."""
    from client.claims import ended_claim_code
    from models.messages import EndedClaimCode
    from testkit.claims import auto_claim
    from tests.conftest import claims_rig
    from workflows.ended_claim_code import ended_code_workflow_id

    settings, engine, env = await time_skipping_world()
    try:
        async with claims_rig(env, settings, engine) as claims:
            claim = auto_claim(claimed_amount="1500.00", line_items=[])
            handle = await claims.start(claim)
            await handle.result()
            await ended_claim_code(env.client, claims.queue,
                                   EndedClaimCode(claim_id=claim["claim_id"], requested_by="self-service-web"))
            code = env.client.get_workflow_handle(ended_code_workflow_id(claim["claim_id"]))
            await code.result()
            history = await code.fetch_history()
            (HISTORIES / "ended-claim-code.json").write_text(history.to_json(), encoding="utf-8")
            print(f"ended-claim-code: {len(history.events)} events")  # noqa: T201
    finally:
        await env.shutdown()


if __name__ == "__main__":
    if sys.argv[1:] == ["changes-at-start"]:
        asyncio.run(record(only=CHANGES_AT_START, suffix="-changes-at-start"))
    elif sys.argv[1:] == ["financials"]:
        asyncio.run(record(only=FINANCIALS, suffix="-financials"))
    elif sys.argv[1:] == ["lean"]:
        asyncio.run(record(only=LEAN, suffix="-lean"))
    elif sys.argv[1:] == ["letters"]:
        asyncio.run(record(only=LETTERS, suffix="-letters"))
    elif sys.argv[1:] == ["three-steps"]:
        asyncio.run(record(only=THREE_STEPS, suffix="-three-steps"))
    elif sys.argv[1:] == ["moments"]:
        asyncio.run(record(only=MOMENTS, suffix="-moments"))
    elif sys.argv[1:] == ["ended-code"]:
        asyncio.run(record_ended_claim_code())
    elif sys.argv[1:2] == ["complaint"]:
        asyncio.run(record_complaint(sys.argv[2]))
    elif sys.argv[1:] == ["proofs"]:
        asyncio.run(record_action_proofs())
    elif sys.argv[1:] == ["after-closing"]:
        asyncio.run(record_after_closing())
    elif sys.argv[1:] == ["reading"]:
        asyncio.run(record(only_reading=True))
    else:
        asyncio.run(record_continued() if sys.argv[1:] == ["continued"] else record())
