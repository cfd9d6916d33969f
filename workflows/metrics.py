"""Business metrics from the workflow, through the SDK's metric meter: they reach the same Prometheus endpoint
as Temporal's own (`CLAIMS_METRICS_ADDRESS`), carry the namespace, task queue and workflow type, and are not
emitted again when a history is replayed. Nothing here adds a command to the history.

    claims_stage_entered{stage}            claims entering each stage
    claims_closed{outcome,path}            claims closing, by outcome and path
    claims_time_to_close                   report to close (histogram, milliseconds)
    claims_sla_warnings{clock}             SLA warnings
    claims_sla_breaches{clock,escalated_to}  SLA breaches
    claims_payments{kind}                  payments made (final, advance)
    claims_paid_fen{kind}                  amounts paid, in fen (0.01 yuan)
    claims_letters_failed{kind}            letters that could not be sent
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from temporalio import workflow


def count(name: str, description: str, value: int = 1, **labels: str) -> None:
    meter = workflow.metric_meter()
    meter.create_counter(name, description).add(value, labels)


def stage_entered(stage: str) -> None:
    count("claims_stage_entered", "claims entering a stage", stage=stage)


def closed(outcome: str, path: str, took: timedelta) -> None:
    count("claims_closed", "claims closed, by outcome and path", outcome=outcome, path=path)
    workflow.metric_meter().create_histogram_timedelta(
        "claims_time_to_close", "from report to close", unit="ms").record(took, {"outcome": outcome})


def sla_warning(clock: str) -> None:
    count("claims_sla_warnings", "SLA warnings", clock=clock)


def sla_breach(clock: str, escalated_to: str) -> None:
    count("claims_sla_breaches", "SLA breaches", clock=clock, escalated_to=escalated_to)


def paid(kind: str, amount: Decimal) -> None:
    count("claims_payments", "payments made", kind=kind)
    count("claims_paid_fen", "amounts paid, in fen", int(amount * 100), kind=kind)


def letter_failed(kind: str) -> None:
    count("claims_letters_failed", "letters that could not be sent", kind=kind)
