"""Closed claims' histories, kept for as long as the law says, after Temporal lets them go.

Temporal deletes a closed workflow's history once the namespace's retention (days or weeks) has passed; the
Insurance Law (art. 87) wants an insurer's business records kept 5 years after the contract ends when its term
is a year or less, 10 years when longer. So the scheduler exports every closed claim workflow's history, each
day, to the audit archive (`documents/archive.py`), as Temporal holds it: its payloads stay encrypted under
the payload keys, so the archive holds no personal data in the clear. `audit fetch-export` gets one back, checked
against the SHA-256 recorded when it was written, and `audit replay --file` / `audit trail --file` read it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.client import Client

from documents.archive import Archive
from models.tables import Claim, HistoryExport, Policy

log = structlog.get_logger(__name__)

CLOSED_CLAIMS = "WorkflowType = 'ClaimWorkflow' AND ExecutionStatus != 'Running'"
HISTORIES = "histories/"


def law_years(effective_from: date, effective_to: date) -> int:
    """Insurance Law art. 87: 5 years for contracts of a year or less, 10 for longer ones."""
    return 5 if (effective_to - effective_from).days <= 366 else 10


def keep_until(policy: Policy | None, closed: date, at_least_years: int | None = None) -> date:
    """The day a claim's records may go: counted from the contract's end (or the claim's close, if later)."""
    if policy is None:  # a claim on no known policy: the longer period, from its close
        start, years = closed, 10
    else:
        start, years = max(policy.effective_to, closed), law_years(policy.effective_from, policy.effective_to)
    years = max(years, at_least_years or 0)
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


@dataclass(frozen=True)
class Exported:
    workflow_id: str
    run_id: str
    name: str
    events: int
    keep_until: date


def _policy_of(session: Session, workflow_id: str) -> Policy | None:
    claim = session.get(Claim, workflow_id.removeprefix("claim-"))
    return session.get(Policy, claim.policy_number) if claim is not None else None


async def export_closed(client: Client, engine: Engine, archive: Archive, *, at_least_years: int | None = None,
                        extra_query: str = "", now: datetime | None = None) -> list[Exported]:
    """Export every closed claim workflow run not exported yet; what was exported. Safe to run anywhere and
    again: a run already recorded is skipped, and the archive refuses to replace what it holds."""
    query = CLOSED_CLAIMS + (f" AND {extra_query}" if extra_query else "")
    closed = [w async for w in client.list_workflows(query)]
    with Session(engine) as session:
        done = set(session.exec(select(HistoryExport.run_id).where(
            col(HistoryExport.run_id).in_([w.run_id for w in closed]))).all()) if closed else set()
    exported = []
    for execution in closed:
        if execution.run_id in done:
            continue
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        content = history.to_json().encode()
        name = f"{HISTORIES}{execution.id}/{execution.run_id}.json"
        digest = archive.put(name, content, "application/json")
        closed_at = (execution.close_time or now or datetime.now(UTC)).astimezone(UTC)
        with Session(engine) as session:
            row = HistoryExport(run_id=execution.run_id, workflow_id=execution.id, name=name, sha256=digest,
                                events=len(history.events), closed_at=closed_at,
                                exported_at=(now or datetime.now(UTC)).astimezone(UTC),
                                keep_until=keep_until(_policy_of(session, execution.id), closed_at.date(),
                                                      at_least_years))
            item = Exported(execution.id, execution.run_id, name, row.events, row.keep_until)
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # another scheduler exported the same run: the same bytes, one row
                session.rollback()
                continue
        exported.append(item)
        log.info("history exported", workflow_id=execution.id, run_id=execution.run_id, events=item.events,
                 keep_until=item.keep_until.isoformat(), archive=archive.describe())
    return exported


class ExportDamaged(Exception):
    """The archived history is not the one exported: its SHA-256 differs from the one recorded."""


def fetch_export(engine: Engine, archive: Archive, workflow_id: str, run_id: str | None = None) -> bytes:
    """An exported history (the last run's unless `run_id`), checked against the SHA-256 recorded at export."""
    with Session(engine) as session:
        query = select(HistoryExport).where(HistoryExport.workflow_id == workflow_id)
        if run_id:
            query = query.where(HistoryExport.run_id == run_id)
        row = session.exec(query.order_by(col(HistoryExport.closed_at).desc())).first()
    if row is None:
        raise KeyError(f"no exported history of {workflow_id}{f' run {run_id}' if run_id else ''}")
    content = archive.get(row.name)
    if hashlib.sha256(content).hexdigest() != row.sha256:
        raise ExportDamaged(f"{row.name} in {archive.describe()} does not match the SHA-256 recorded at export")
    return content
