"""The claims worker: runs ClaimWorkflow and its activities on the `claims` task queue.

    python worker.py        # TEMPORAL_ADDRESS unset: starts the embedded dev server under var/ first
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.codes import CodeActivities
from activities.configuration import ConfigurationActivities
from activities.database import ClaimsDatabase
from activities.gateway import PaymentGateway, build_gateway
from activities.handover import AppealHandover
from activities.notifications import NotificationActivities
from activities.payments import PaymentActivities
from activities.readings import ReadingActivities
from config.encryption import audit_seal_key, keyring_for
from config.logging import configure_logging
from config.settings import Settings, get_settings
from config.temporal import connect, workflow_runner
from config.tracing import shutdown_tracing
from db.engine import make_engine
from identity import keys
from identity.codes import code_secret
from letters.render import Renderer
from letters.senders import build_sender
from ocr.worker import build_ocr_worker
from workflows.claim import ClaimWorkflow
from workflows.complaint import ComplaintWorkflow

log = structlog.get_logger(__name__)


def build_activities(settings: Settings, engine: Engine, gateway: PaymentGateway | None = None,
                     client: Client | None = None) -> Sequence[Any]:
    """Every activity the claim and complaint workflows call, bound to their resources (the complaint's
    handover to a claim's appeal needs the client)."""
    database = ClaimsDatabase(engine, audit_seal_key(settings), settings.event_source)
    payments = PaymentActivities(engine, gateway or build_gateway(settings.payment_gateway, engine))
    renderer = Renderer(public_url=settings.progress_base_url)
    notifications = NotificationActivities(engine, renderer, build_sender(settings), keyring_for(settings))
    configuration = ConfigurationActivities(settings)
    codes = CodeActivities(engine, code_secret(settings.code_secret, settings.var_dir), notifications)
    readings = ReadingActivities(engine, keyring_for(settings))
    return [
        configuration.load_rules,
        database.register_claim, database.check_coverage, database.assess_risk, database.record_documents,
        database.assign_handler,
        database.compute_payout, database.record_event, database.claim_participants, database.record_complaint,
        payments.pay,
        notifications.notify,
        codes.issue_code, codes.check_code,
        readings.record_reading,
        *([AppealHandover(client, settings).hand_over_appeal] if client is not None else []),
    ]


def build_worker(client: Client, settings: Settings, engine: Engine, *, task_queue: str | None = None,
                 gateway: PaymentGateway | None = None,
                 workflows: Sequence[type] = (ClaimWorkflow, ComplaintWorkflow)) -> Worker:
    queue = task_queue or settings.task_queue
    # Update validators on this queue verify credentials with these keys (see identity/keys.py).
    keys.install(queue, keys.verifier_for(settings))
    return Worker(
        client,
        task_queue=queue,
        workflows=list(workflows),
        workflow_runner=workflow_runner(),
        activities=build_activities(settings, engine, gateway, client),
        activity_executor=ThreadPoolExecutor(max_workers=settings.worker_max_activities),
        max_concurrent_activities=settings.worker_max_activities,
        max_concurrent_local_activities=settings.worker_max_activities,
        max_cached_workflows=settings.worker_cache_size,
    )


def more_processes(settings: Settings, count: int) -> list[subprocess.Popen[bytes]]:
    """Further worker processes beside this one (`CLAIMS_WORKER_PROCESSES`): one Python process runs workflow
    code on one core, so a machine's cores are used by processes, each with its own cache and pollers. Each
    serves its metrics on the next port."""
    children = []
    for i in range(1, count + 1):
        env = {**os.environ, "CLAIMS_WORKER_PROCESSES": "1", "CLAIMS_OCR_IN_WORKER": "false"}
        if settings.metrics_address:
            host, _, port = settings.metrics_address.rpartition(":")
            env["CLAIMS_METRICS_ADDRESS"] = f"{host}:{int(port) + i}"
        children.append(subprocess.Popen([sys.executable, __file__], env=env))  # noqa: S603
    return children


async def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    engine = make_engine(settings.resolved_database_url)
    # Starts the embedded server first, if it is the one.
    client = await connect(settings, metrics=True, service="claims-worker")
    children = more_processes(settings, settings.worker_processes - 1)
    worker = build_worker(client, settings, engine)
    log.info("worker started", task_queue=settings.task_queue, namespace=settings.temporal_namespace,
             temporal=settings.temporal_address or "embedded", database=engine.url.render_as_string(),
             processes=settings.worker_processes, cache=settings.worker_cache_size)
    # The OCR task queue too (see ocr/worker.py), unless OCR workers run apart; the first process only.
    ocr = build_ocr_worker(client, settings) if settings.read_documents and settings.ocr_in_worker else None
    try:
        await asyncio.gather(worker.run(), *([ocr.run()] if ocr is not None else []))
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)
        shutdown_tracing()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so the other processes are ended with this one
    asyncio.run(main())
