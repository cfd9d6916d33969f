"""Production metrics: the worker's Prometheus endpoint shows Temporal's own figures and the claims' (stages,
payments and amounts, SLA warnings and breaches), read over HTTP as Prometheus would."""

from __future__ import annotations

import re

import httpx
import pytest
from temporalio.client import Client

from activities.gateway import LedgerGateway
from config.temporal import metrics_runtime
from testkit.api_stack import free_port
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
from testkit.harness import Claims, queue_name
from testkit.world import data_converter
from workers.claims import build_worker

pytestmark = pytest.mark.devserver


def value(metrics: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include these."""
    total = 0.0
    for line in metrics.splitlines():
        found = re.match(rf"^{name}(?:_total)?\{{(.*)\}} ([0-9.e+-]+)$", line)
        if found and all(f'{k}="{v}"' in found.group(1) for k, v in labels.items()):
            total += float(found.group(2))
    return total


async def test_metrics_show_a_claims_stages_payment_and_sla_figures(dev_env, fast_clock, engine):
    address = f"127.0.0.1:{free_port()}"
    client = await Client.connect(dev_env.client.service_client.config.target_host, data_converter=data_converter,
                                  runtime=metrics_runtime(address))
    queue = queue_name()
    gateway = LedgerGateway(engine)
    async with build_worker(client, fast_clock, engine, task_queue=queue, gateway=gateway):
        claims = Claims(client, queue, engine, gateway, fast_clock)
        paid = auto_claim()
        waiting = auto_claim(claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS))
        await claims.start(paid)
        await claims.start(waiting)
        await claims.wait(paid["claim_id"], lambda s: s["outcome"] == "paid", "paid")
        await claims.wait(waiting["claim_id"], lambda s: bool(s["sla_breaches"]), "approval breach")  # 2 demo days
        metrics = httpx.get(f"http://{address}/metrics", timeout=10).text

    on_queue = {"task_queue": queue}
    assert value(metrics, "claims_stage_entered", stage="paying", **on_queue) == 1, metrics[:2000]
    assert value(metrics, "claims_stage_entered", stage="awaiting_approval", **on_queue) == 1
    assert value(metrics, "claims_closed", outcome="paid", path="fast", **on_queue) == 1
    assert value(metrics, "claims_payments", kind="final", **on_queue) == 1
    assert value(metrics, "claims_paid_fen", kind="final", **on_queue) == 270000, "2,700.00 yuan"
    assert value(metrics, "claims_sla_warnings", clock="approval", **on_queue) >= 1
    assert value(metrics, "claims_sla_breaches", clock="approval", **on_queue) >= 1
    assert value(metrics, "temporal_workflow_task_execution_latency_count", **on_queue) > 0 or \
        "temporal_workflow_task_execution_latency" in metrics, "Temporal's own metrics are served too"
