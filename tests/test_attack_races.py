"""Attacks on the money invariants by updates that reach the claim in one workflow task (two back-office
systems, or a person with the `temporal` CLI, acting at the same moment). The worker is stopped while the
updates are sent, so the server hands them to the claim together when it comes back.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from temporalio.worker import Worker

from activities.gateway import LedgerGateway
from config.temporal import workflow_runner
from identity import keys
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
from testkit.harness import Claims, queue_name
from workers.claims import build_activities
from workflows.claim import ClaimWorkflow


def build_worker(client, settings, engine, *, task_queue, gateway) -> Worker:
    """The product's worker, without a workflow cache: a restarted worker picks the claim up at once."""
    keys.install(task_queue, keys.action_verifier_for(settings))
    return Worker(client, task_queue=task_queue, workflows=[ClaimWorkflow], workflow_runner=workflow_runner(),
                  activities=build_activities(settings, engine, gateway),
                  activity_executor=ThreadPoolExecutor(max_workers=8), max_cached_workflows=0)

D = Decimal


async def _together(claims: Claims, cid: str, *updates: tuple[str, dict]) -> list:
    """Send the updates while no worker runs, then start one: they arrive in one workflow task."""
    sent = [asyncio.create_task(claims.update(cid, name, payload)) for name, payload in updates]
    await asyncio.sleep(1.0)
    return sent


async def test_an_advance_sent_with_a_rejection_is_not_paid_on_the_denied_claim(time_env, settings, engine):
    """Shrunk: green claim at awaiting_approval -> in one workflow task: `reject` (sup-2), then
    `approve_advance` 10,000 (sup-1) -> the claim is denied and the advance is paid on it."""
    queue = queue_name()
    gateway = LedgerGateway(engine)
    claims = Claims(time_env.client, queue, engine, gateway, settings)
    claim = auto_claim(claimed_amount="30000.00", line_items=[], incident={"major": True})
    claim["documents"] = docs(*ALL_AUTO_DOCS, claim_id=claim["claim_id"])
    cid = claim["claim_id"]
    async with build_worker(time_env.client, settings, engine, task_queue=queue, gateway=gateway):
        await claims.start(claim)
        await claims.at_stage(cid, "investigating")
        await claims.update(cid, "record_investigation", {"investigator_id": "inv-1", "findings": "as reported"})
        await claims.at_stage(cid, "awaiting_approval")
    sent = await _together(
        claims, cid,
        ("reject", {"approver_id": "sup-2", "role": "supervisor", "reason": "not covered", "clause": "art. 1"}),
        ("approve_advance", {"approver_id": "sup-1", "role": "supervisor", "amount": "10000.00"}))
    async with build_worker(time_env.client, settings, engine, task_queue=queue, gateway=gateway):
        answers = await asyncio.gather(*sent, return_exceptions=True)
        status = await claims.wait(cid, lambda s: s["outcome"] is not None, "an outcome")
        await asyncio.sleep(2)
        status = await claims.status(cid)
    assert status["outcome"] == "denied", answers
    assert status["payments"] == [], (f"an advance of {status['payments'][0]['amount']} was paid on a claim "
                                      f"denied in the same moment (answers: {answers})")
