"""The claims worker's registrations: the workflows, and the activities bound to their resources."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.catastrophes import CatastropheActivities
from activities.codes import CodeActivities
from activities.configuration import ConfigurationActivities
from activities.database import ClaimsDatabase
from activities.ended_claims import EndedClaims
from activities.gateway import PaymentGateway, build_gateway
from activities.handover import AppealHandover
from activities.intake import IntakeActivities
from activities.lifecycle import LifecycleActivities
from activities.notifications import NotificationActivities
from activities.payments import PaymentActivities
from activities.readings import ReadingActivities
from config.encryption import audit_seal_keys, keyring_for
from config.settings import Settings
from config.temporal import workflow_runner
from identity import keys
from identity.codes import code_secret, search_key
from letters.render import Renderer
from letters.senders import build_sender
from workflows.catastrophe import CatastropheWorkflow
from workflows.claim import ClaimWorkflow
from workflows.complaint import ComplaintWorkflow
from workflows.ended_claim_code import EndedClaimCodeWorkflow


def build_activities(settings: Settings, engine: Engine, gateway: PaymentGateway | None = None,
                     client: Client | None = None,
                     notifications: NotificationActivities | None = None) -> Sequence[Any]:
    """Every activity the claim and complaint workflows call, bound to their resources (the complaint's
    handover to a claim's appeal needs the client; `gateway` and `notifications`: a bank and letters of the caller's
    own, where a test has them fail or go slowly)."""
    secret = code_secret(settings.code_secret, settings.var_dir)
    database = ClaimsDatabase(engine, audit_seal_keys(settings), settings.event_source, search_key(secret),
                              settings.report_timezone)
    payments = PaymentActivities(engine, gateway or build_gateway(settings.payment_gateway, engine),
                                 keyring_for(settings), audit_seal_keys(settings), settings.report_timezone)
    renderer = Renderer(public_url=settings.progress_base_url)
    notifications = notifications or NotificationActivities(engine, renderer, build_sender(settings),
                                                            keyring_for(settings))
    configuration = ConfigurationActivities(settings)
    codes = CodeActivities(engine, secret, notifications)
    readings = ReadingActivities(engine, keyring_for(settings))
    catastrophes = CatastropheActivities(engine, client)
    lifecycle = LifecycleActivities(database, payments, notifications)
    return [
        configuration.load_rules, IntakeActivities(configuration, database).take_in,
        database.register_claim, database.check_coverage, database.assess_risk, database.record_documents,
        database.assign_handler, database.compute_payout, database.record_event, database.record_events,
        database.claim_participants, database.record_complaint,
        payments.pay,
        notifications.notify, notifications.notify_all,
        lifecycle.record_and_pay, lifecycle.record_and_notify,
        codes.issue_code, codes.check_code, codes.plan_progress_code,
        readings.record_reading,
        catastrophes.record_catastrophe, catastrophes.find_catastrophe, catastrophes.claims_to_tell,
        *([AppealHandover(client, settings).hand_over_appeal, EndedClaims(client).ended_claim_contact,
           catastrophes.tell_claims] if client is not None else []),
    ]


def build_worker(client: Client, settings: Settings, engine: Engine, *, task_queue: str | None = None,
                 gateway: PaymentGateway | None = None,
                 workflows: Sequence[type] = (ClaimWorkflow, ComplaintWorkflow, EndedClaimCodeWorkflow,
                                              CatastropheWorkflow)) -> Worker:
    queue = task_queue or settings.task_queue
    # Update validators on this queue verify credentials with these keys (see identity/keys.py).
    keys.install(queue, keys.action_verifier_for(settings))
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
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_seconds),
    )
