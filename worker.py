"""The claims worker: runs ClaimWorkflow and its activities on the `claims` task queue.

    python worker.py        # TEMPORAL_ADDRESS unset: starts the embedded dev server under var/ first
"""

from __future__ import annotations

import asyncio
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
from activities.engine import make_engine
from activities.gateway import PaymentGateway, build_gateway
from activities.notifications import NotificationActivities, Renderer, build_sender
from activities.payments import PaymentActivities
from config.encryption import audit_seal_key, keyring_for
from config.logging import configure_logging
from config.settings import Settings, get_settings
from config.temporal import connect, workflow_runner
from identity import keys
from identity.codes import code_secret
from workflows.claim import ClaimWorkflow

log = structlog.get_logger(__name__)


def build_activities(settings: Settings, engine: Engine, gateway: PaymentGateway | None = None) -> Sequence[Any]:
    """Every activity the claim workflow calls, bound to its resources."""
    database = ClaimsDatabase(engine, audit_seal_key(settings))
    payments = PaymentActivities(engine, gateway or build_gateway(settings.payment_gateway, engine))
    notifications = NotificationActivities(engine, Renderer(), build_sender(settings), keyring_for(settings))
    configuration = ConfigurationActivities(settings)
    codes = CodeActivities(engine, code_secret(settings.code_secret, settings.var_dir), notifications)
    return [
        configuration.load_rules,
        database.register_claim, database.check_coverage, database.assess_risk, database.record_documents,
        database.assign_handler,
        database.compute_payout, database.record_event,
        payments.pay,
        notifications.notify,
        codes.issue_code, codes.check_code,
    ]


def build_worker(client: Client, settings: Settings, engine: Engine, *, task_queue: str | None = None,
                 gateway: PaymentGateway | None = None, workflows: Sequence[type] = (ClaimWorkflow,)) -> Worker:
    queue = task_queue or settings.task_queue
    # Update validators on this queue verify credentials with these keys (see identity/keys.py).
    keys.install(queue, keys.verifier_for(settings))
    return Worker(
        client,
        task_queue=queue,
        workflows=list(workflows),
        workflow_runner=workflow_runner(),
        activities=build_activities(settings, engine, gateway),
        activity_executor=ThreadPoolExecutor(max_workers=32),
        max_concurrent_activities=32,
    )


async def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    engine = make_engine(settings.resolved_database_url)
    client = await connect(settings)
    worker = build_worker(client, settings, engine)
    log.info("worker started", task_queue=settings.task_queue, namespace=settings.temporal_namespace,
             temporal=settings.temporal_address or "embedded", database=engine.url.render_as_string())
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
