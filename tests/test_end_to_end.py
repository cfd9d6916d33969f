"""End to end on the Temporal dev server: the Python client, search attributes, and the `temporal` CLI alone."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from activities.gateway import LedgerGateway
from api.app import create_app
from config.settings import PROJECT_ROOT
from config.temporal import installed_binary
from identity import development
from models import search_attributes
from models.tables import ReportRun
from testkit.api_stack import free_port
from testkit.claims import ALL_AUTO_DOCS, auto_claim, days_ago, docs
from testkit.harness import Claims, queue_name
from testkit.waiting import eventually
from testkit.world import TEST_KEYS
from tests.conftest import claims_rig, with_clocks
from workers.claims import build_worker

pytestmark = pytest.mark.devserver


async def test_fast_path_end_to_end_is_paid_without_a_person_and_listed_by_stage(live):
    claim = auto_claim()  # how fast it is paid is measured in bench/, against the engine's floor
    result = await (await live.start(claim)).result()
    assert result["outcome"] == "paid" and result["fast_path"]
    status_closed_in = (await live.status(claim["claim_id"]))
    assert status_closed_in["closed_at"] is not None
    query = f"WorkflowId = 'claim-{claim['claim_id']}' AND ClaimStage = 'closed' AND Path = 'fast'"

    async def listed() -> list[Any]:
        return [wf async for wf in live.client.list_workflows(query)]

    found = await eventually(listed, bool, "the closed claim found by its search attributes")
    attrs = found[0].typed_search_attributes
    assert attrs.get(search_attributes.CLAIM_TYPE) == "auto"
    assert attrs.get(search_attributes.CLAIM_AMOUNT) == 3200.0
    assert attrs.get(search_attributes.RISK_LEVEL) == "low"
    assert attrs.get(search_attributes.SLA_BREACHED) is False


@pytest.fixture
async def codec_server(live: Claims, tmp_path: Path) -> AsyncIterator[str]:
    """The API (with its codec server) on a free port, beside the live worker: its URL."""
    services = live.services(tmp_path / "documents", max_upload_bytes=1024 * 1024)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ready=services), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


class Cli:
    """The `temporal` CLI, nothing of this project's code, against the dev server. Each update carries an action
    proof the API's `/token` gave for a development issuer's token (docs/contract.md); payloads go through the codec
    server (`--codec-endpoint`, with an auditor's token: a role that may read decrypted payloads), as an
    operator's CLI would."""

    def __init__(self, env: WorkflowEnvironment, claims: Claims, codec_url: str | None = None) -> None:
        self.address = env.client.service_client.config.target_host
        self.queue = claims.queue
        self.claims = claims
        self.codec_url = codec_url
        self.codec = ["--codec-endpoint", f"{codec_url}/codec", "--codec-auth",
                      f"Bearer {claims.token('ops-1', 'auditor')}"] if codec_url else []

    async def run(self, *args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            str(installed_binary("temporal")), *args, "--address", self.address, *self.codec,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    async def start(self, claim: dict[str, Any]) -> None:
        code, out = await self.run("workflow", "start", "--type", "ClaimWorkflow", "--task-queue", self.queue,
                                   "--workflow-id", f"claim-{claim['claim_id']}", "--input", json.dumps(claim))
        assert code == 0, out

    async def update(self, claim_id: str, name: str, payload: dict[str, Any], ok: bool = True) -> str:
        payload = {**payload, "credential": await self.proof(f"claim-{claim_id}", name, payload)}
        code, out = await self.run("workflow", "update", "execute", "--workflow-id", f"claim-{claim_id}",
                                   "--name", name, "--input", json.dumps(payload))
        assert (code == 0) == ok, out
        return out

    async def proof(self, workflow_id: str, name: str, payload: dict[str, Any]) -> str:
        """The contract's recipe: the person's token (as `python starter.py token` prints it) exchanged at the API's
        `/token` for a proof of this one update (RFC 8693, the action in `authorization_details`)."""
        assert self.codec_url, "the recipe needs the API"
        subject, roles = development.sender_for(name, payload)
        details = [{"type": "claim_update", "workflow_id": workflow_id, "update": name, "payload": payload}]
        async with httpx.AsyncClient(base_url=self.codec_url) as http:
            answer = await http.post("/token", data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": self.claims.token(subject, *roles),
                "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "authorization_details": json.dumps(details)})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    async def status(self, claim_id: str) -> dict[str, Any]:
        code, out = await self.run("workflow", "query", "--workflow-id", f"claim-{claim_id}", "--name", "status",
                                   "--output", "json")
        assert code == 0, out
        return json.loads(out)["queryResult"][0]  # type: ignore[no-any-return]

    async def wait(self, claim_id: str, check: Any, what: str) -> dict[str, Any]:
        status: dict[str, Any] = await eventually(lambda: self.status(claim_id), check, f"{claim_id} reached {what}",
                                                  every=0.2)
        return status

    async def result(self, claim_id: str) -> dict[str, Any]:
        code, out = await self.run("workflow", "result", "--workflow-id", f"claim-{claim_id}", "--output", "json")
        assert code == 0, out
        return json.loads(out)["result"]  # type: ignore[no-any-return]


async def test_the_temporal_cli_alone_runs_claims_through_every_update(live, dev_env, codec_server):
    cli = Cli(dev_env, live, codec_server)
    spec = json.loads((PROJECT_ROOT / "samples" / "claim.json").read_text())

    # A: the contract's example JSON; documents, assignment, escalation and approval through the CLI
    a = {**spec, "claim_id": "CLI-A", "incident": {**spec["incident"], "occurred_at": days_ago(1)}}
    await cli.start(a)
    await cli.wait("CLI-A", lambda s: s["stage"] == "awaiting_documents", "awaiting_documents")
    await cli.update("CLI-A", "assign", {"handler_id": "adj-7", "by": "lead-1"})
    await cli.update("CLI-A", "escalate", {"by": "adj-7", "reason": "claimant complained"})
    out = await cli.update("CLI-A", "submit_documents", {"documents": docs(*ALL_AUTO_DOCS[1:], claim_id="CLI-A")})
    assert "[]" in out.replace(" ", "")
    await cli.wait("CLI-A", lambda s: s["stage"] == "awaiting_approval", "awaiting_approval")
    refused = await cli.update("CLI-A", "approve", {"approver_id": "adj-7", "role": "supervisor"}, ok=False)
    assert "handler" in refused
    await cli.update("CLI-A", "approve", {"approver_id": "sup-1", "role": "supervisor", "comment": "ok"})
    result = await cli.result("CLI-A")
    assert (result["outcome"], result["paid_amount"]) == ("paid", "2700.00")

    # B: investigation recorded, rejection, appeal, approval on review
    b = auto_claim("CLI-B", claimed_amount="30000.00", incident={"injuries": True}, line_items=[],
                   documents=docs(*ALL_AUTO_DOCS, claim_id="CLI-B"))
    await cli.start(b)
    await cli.wait("CLI-B", lambda s: s["stage"] == "investigating", "investigating")
    await cli.update("CLI-B", "record_investigation", {"investigator_id": "inv-1", "findings": "as reported",
                                                       "confirmed_amount": "30000.00", "fraud_suspected": False})
    await cli.wait("CLI-B", lambda s: s["stage"] == "awaiting_approval", "awaiting_approval")
    await cli.update("CLI-B", "reject", {"approver_id": "sup-1", "role": "supervisor", "reason": "late report",
                                         "clause": "GT 3.4"})
    await cli.wait("CLI-B", lambda s: s["outcome"] == "denied", "denied")
    await cli.update("CLI-B", "appeal", {"reason": "reported on time, see call log"})
    await cli.wait("CLI-B", lambda s: s["stage"] == "awaiting_approval", "appeal review")
    await cli.update("CLI-B", "approve", {"approver_id": "sup-2", "role": "supervisor"})
    assert (await cli.result("CLI-B"))["paid_amount"] == "29500.00"

    # C: withdrawal; D: new bank details; E: closed incomplete, reopened
    c = auto_claim("CLI-C", claimed_amount="8000.00", documents=docs("claim_form", claim_id="CLI-C"))
    d = auto_claim("CLI-D", bank_account={"holder": "Li Lei", "number": "1234"})
    e = auto_claim("CLI-E", documents=docs("claim_form", claim_id="CLI-E"))
    for claim in (c, d, e):
        await cli.start(claim)
    await cli.wait("CLI-C", lambda s: s["stage"] == "awaiting_documents", "awaiting_documents")
    await cli.update("CLI-C", "withdraw", {"by": "portal", "reason": "duplicate report"})
    assert (await cli.result("CLI-C"))["outcome"] == "withdrawn"
    await cli.wait("CLI-D", lambda s: any(t["event"] == "payment_failed" for t in s["timeline"]), "payment_failed")
    await cli.update("CLI-D", "request_code", {"purpose": "bank_account"})
    await cli.update("CLI-D", "update_bank_account", {"holder": "Li Lei", "number": "6222000011113333",
                                                     "code": cli.claims.code_sent("CLI-D")})
    assert (await cli.result("CLI-D"))["paid_amount"] == "2700.00"
    await cli.wait("CLI-E", lambda s: s["outcome"] == "closed_incomplete", "closed_incomplete")
    await cli.update("CLI-E", "reopen", {"by": "sup-1", "reason": "documents arrived by post", "role": "supervisor"})
    await cli.wait("CLI-E", lambda s: s["stage"] == "awaiting_documents", "reopened")
    await cli.update("CLI-E", "submit_documents", {"documents": docs(*ALL_AUTO_DOCS[1:], claim_id="CLI-E")})
    assert (await cli.result("CLI-E"))["outcome"] == "paid"
    assert len(live.notices("CLI-E", "missing_materials")) == 1


async def test_a_worker_killed_while_a_claim_waits_loses_no_deadline(dev_env, fast_clock, engine, tmp_path):
    """The approval clock (eight 'days' of a second each) runs out while no worker is up; the restarted
    worker finds the timers fired and acts on them: warning, breach, escalation, each once. The clock is long
    enough that the next tier's breach (eight more seconds) cannot come before the test approves, however busy
    the machine."""
    rules = tmp_path / "approval-rules.json"
    sla = json.loads(fast_clock.rules_file.read_text())["sla"]
    rules.write_text(json.dumps({"sla": {**sla, "approval_business_days": 8}}))
    fast_clock = fast_clock.model_copy(update={"rules_file": rules})
    queue = queue_name()
    claim = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
    cid = claim["claim_id"]
    first = build_worker(dev_env.client, fast_clock, engine, task_queue=queue)
    async with first:
        claims = Claims(dev_env.client, queue, engine, LedgerGateway(engine), fast_clock)
        handle = await claims.start(claim)
        status = await claims.at_stage(cid, "awaiting_approval")
        assert status["sla_breaches"] == []
    await asyncio.sleep(9)  # no worker: the warning and the breach fall due now
    async with build_worker(dev_env.client, fast_clock, engine, task_queue=queue):
        status = await claims.wait(cid, lambda s: bool(s["sla_breaches"]), "a recorded breach")
        assert status["sla_breaches"][0]["clock"] == "approval"
        assert status["required_role"] == "supervisor"
        await claims.update(cid, "approve", {"approver_id": "sup-1", "role": "supervisor"})
        result = await handle.result()
    assert result["paid_amount"] == "7500.00"
    assert len(claims.notices(cid, "sla_warning")) == 1 and len(claims.notices(cid, "sla_breach")) == 1


async def test_audit_replay_accepts_a_cli_export_and_catches_a_tampered_command(live, dev_env, tmp_path):
    import sys

    claim = auto_claim(claimed_amount="8000.00", documents=docs("claim_form"))
    cid = claim["claim_id"]
    handle = await live.start(claim)
    await live.at_stage(cid, "awaiting_documents")
    await live.update(cid, "withdraw", {"by": "portal", "reason": "duplicate"})
    await handle.result()
    cli = Cli(dev_env, live)  # no codec server: the history as stored, encrypted
    code, exported = await cli.run("workflow", "show", "--workflow-id", f"claim-{cid}", "--output", "json")
    assert code == 0, exported
    assert "Li Lei" not in exported and "binary/encrypted" in base64.b64decode(
        json.loads(exported)["events"][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
        ["metadata"]["encoding"]).decode()
    original = tmp_path / "history.json"
    original.write_text(exported)

    async def audit(path: Path) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(PROJECT_ROOT / "starter.py"), "audit", "replay", "--file", str(path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "CLAIMS_ENCRYPTION_KEYS": TEST_KEYS})
        out, err = await proc.communicate()
        return proc.returncode or 0, out.decode() + err.decode()

    code, out = await audit(original)
    assert code == 0 and f"OK   claim-{cid}" in out, out
    history = json.loads(exported)
    scheduled = next(e for e in history["events"] if "activityTaskScheduledEventAttributes" in e)
    scheduled["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "pay"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(history))
    code, out = await audit(tampered)
    assert code == 2 and f"FAIL claim-{cid}" in out and "Nondeterminism" in out, out


@pytest.fixture
async def live_long_investigations(dev_env: WorkflowEnvironment, fast_clock, engine) -> AsyncIterator[Claims]:
    """The live rig where an investigation's clock and the determination clock run 3,600 demo days (an hour): a claim
    under investigation stays within its deadlines however slowly a busy machine runs the test."""
    longer = with_clocks(fast_clock, investigation_days=3600, determination_days=3600)
    async with claims_rig(dev_env, longer, engine) as rig:
        yield rig


async def test_worklist_filters_by_stage_type_and_overdue_nearest_deadline_first(live_long_investigations):
    import argparse

    from cli.claims import worklist

    live = live_long_investigations
    waiting = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
    # its next deadline (investigation, an hour) is well clear of the other claim's 2-second approval clock
    missing = auto_claim("WL-INV", claimed_amount="8000.00", line_items=[], incident={"injuries": True},
                         documents=docs(*ALL_AUTO_DOCS, claim_id="WL-INV"))
    for claim in (waiting, missing):
        await live.start(claim)
    await live.at_stage(waiting["claim_id"], "awaiting_approval")
    await live.at_stage(missing["claim_id"], "investigating")

    async def listed(**filters: Any) -> list[str]:
        args = argparse.Namespace(**{"stage": None, "assignee": None, "overdue": False, "type": None, **filters})
        return [row["workflow_id"] for row in await worklist(live.client, args)]

    async def listing(check, **filters: Any) -> list[str]:
        return await eventually(lambda: listed(**filters), check, f"the worklist {filters} listing the claim")

    w, m = f"claim-{waiting['claim_id']}", f"claim-{missing['claim_id']}"
    approvals = await listing(lambda ids: w in ids, stage="awaiting_approval", type="auto")
    assert m not in approvals
    await live.wait(waiting["claim_id"], lambda s: bool(s["sla_breaches"]), "approval breach")  # 2 demo days
    overdue = await listing(lambda ids: w in ids, overdue=True)
    assert m not in overdue, "a claim still within its deadlines is not overdue"
    everything = await listing(lambda ids: w in ids and m in ids)
    assert everything.index(w) < everything.index(m), "the nearest deadline first"


async def test_hourly_digest_lists_claims_near_or_past_a_deadline_once_per_hour(live, engine, fast_clock):
    from datetime import UTC, datetime

    from reporting.scheduler import Jobs

    claim = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
    await live.start(claim)
    await live.wait(claim["claim_id"], lambda s: bool(s["sla_breaches"]), "an approval breach")
    jobs = Jobs(fast_clock, engine, live.client)
    now = datetime.now(UTC)

    async def digest() -> Path | None:  # visibility catches up within moments
        with Session(engine) as session:  # each attempt may claim this hour again
            for run in session.exec(select(ReportRun)).all():
                session.delete(run)
            session.commit()
        return await jobs.sla_digest(now=now)

    path = await eventually(digest, lambda p: p is not None and f"claim-{claim['claim_id']}" in p.read_text(),
                            "the breached claim listed in the digest", every=0.2)
    assert path is not None
    assert "yes" in path.read_text(), "it is marked as breached"
    assert await Jobs(fast_clock, engine, live.client).sla_digest(now=now) is None, "once per hour"


def done_once(claims: Claims, claim_id: str) -> dict[str, Any]:
    """What a claim did that must be done once: its payments and transfers, its letters (with when each was sent) and
    its timeline entries in the event log."""
    from models.tables import ClaimEventRow, Notification

    with Session(claims.engine) as session:
        letters = session.exec(select(Notification).where(Notification.claim_id == claim_id)).all()
        entries = session.exec(select(ClaimEventRow).where(ClaimEventRow.claim_id == claim_id)).all()
    return {"payments": sorted((p.idempotency_key, p.amount) for p in claims.payments(claim_id)),
            "transfers": sorted(t.idempotency_key for t in claims.transfers(claim_id)),
            "letters": sorted((n.kind, n.sequence, n.status, n.sent_at) for n in letters),
            "entries": sorted((e.key, e.event) for e in entries)}


async def test_a_claim_reset_to_its_first_workflow_task_runs_again_and_does_nothing_twice(live, dev_env):
    """docs/operators.md's advice for a claim refused on replay, run as written: `temporal workflow reset --type
    FirstWorkflowTask`. The claim runs again from its start on the current code, to the same end; each of its steps is
    keyed, so its registration, its payment, each letter and each timeline entry are there once, as they were."""
    claim = auto_claim(claimed_amount="800.00", documents=docs(*ALL_AUTO_DOCS),
                       line_items=[{"description": "bumper", "amount": "800.00", "category": "repair"}])
    cid = claim["claim_id"]
    first = await (await live.start(claim)).result()
    assert first["outcome"] == "paid", first
    before = done_once(live, cid)
    assert len(before["payments"]) == 1 and len(before["transfers"]) == 1 and before["letters"], before

    code, out = await Cli(dev_env, live).run("workflow", "reset", "--workflow-id", f"claim-{cid}",
                                             "--type", "FirstWorkflowTask", "--reason", "refused on replay")
    assert code == 0, out
    again = await live.client.get_workflow_handle(f"claim-{cid}").result()  # the run the reset started
    assert (again["outcome"], again["paid_amount"]) == (first["outcome"], first["paid_amount"])
    assert done_once(live, cid) == before, "a reset claim did a keyed step a second time"
