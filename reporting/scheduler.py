"""The scheduler process: an hourly SLA digest for supervisors, a daily KPI report, an hourly checkpoint of the
claim event log and a daily export of closed claims' histories to the audit archive.

    python -m reporting.scheduler   # started by `make run` beside the worker

Safe when two run: each job first claims its period in the `report_runs` table (unique on job and period);
the scheduler that loses the race skips that period. Files go to var/reports/; with SMTP configured they are
also e-mailed to the supervisors' mailbox.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from temporalio.client import Client

from client.claims import claims_matching
from config.embedded import UnsafeIdentity, refuse_unsafe_identity
from config.logging import configure_logging
from config.rules import STAFF_MAILBOXES
from config.settings import Settings, get_settings
from config.temporal import connect
from db.engine import make_engine, now_utc
from letters.senders import SmtpSender, build_sender
from models.messages import Recipient
from models.tables import ReportRun
from reporting.reports import build_daily_report, digest_query, render_daily_report, render_sla_digest

log = structlog.get_logger(__name__)


class Jobs:
    def __init__(self, settings: Settings, engine: Engine, client: Client | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self._client = client

    async def client(self) -> Client:
        if self._client is None:
            self._client = await connect(self.settings, service="claims-scheduler")
        return self._client

    def claim_period(self, job: str, period: str) -> bool:
        """True for the one scheduler that gets to run this job for this period."""
        with Session(self.engine) as session:
            session.add(ReportRun(job=job, period=period, started_at=now_utc()))
            try:
                session.commit()
            except IntegrityError:
                return False
        return True

    async def daily_report(self, now: datetime | None = None) -> Path | None:
        """Yesterday's report (in the reporting timezone), once."""
        now = now or datetime.now(UTC)
        day = now.astimezone(ZoneInfo(self.settings.report_timezone)).date() - timedelta(days=1)
        if not self.claim_period("daily_report", day.isoformat()):
            log.info("daily report already made by another scheduler", day=day.isoformat())
            return None
        html = render_daily_report(build_daily_report(self.engine, day, self.settings.report_timezone))
        return self._publish(f"daily-{day.isoformat()}.html", f"Claims daily report {day}", html)

    async def sla_digest(self, now: datetime | None = None) -> Path | None:
        """Claims near or past a deadline, once an hour."""
        now = now or datetime.now(UTC)
        period = now.astimezone(UTC).strftime("%Y-%m-%dT%H")
        if not self.claim_period("sla_digest", period):
            return None
        horizon = self.settings.digest_horizon_hours
        rows = await claims_matching(await self.client(), digest_query(now, horizon))
        html = render_sla_digest(rows, now, horizon)
        return self._publish(f"sla-digest-{period}.html", f"SLA digest: {len(rows)} claims need attention", html)

    def audit_checkpoint(self) -> str:
        """Every hour: the heads of the claim event log's chains, signed, outside the database."""
        from config.encryption import audit_seal_keys
        from db.event_log import write_checkpoint
        from documents.archive import archive_for

        archive = archive_for(self.settings)
        name = write_checkpoint(self.engine, audit_seal_keys(self.settings), archive)
        log.info("audit checkpoint written", name=name, archive=archive.describe())
        return name

    async def export_histories(self) -> int:
        """Every day: closed claims' histories to the audit archive, long before the namespace's retention."""
        from audit.retention import export_closed
        from documents.archive import archive_for

        exported = await export_closed(await self.client(), self.engine, archive_for(self.settings),
                                       at_least_years=self.settings.retention_years)
        log.info("closed claims' histories exported", count=len(exported))
        return len(exported)

    def _publish(self, name: str, subject: str, html: str) -> Path:
        self.settings.reports_dir.mkdir(parents=True, exist_ok=True)
        path = self.settings.reports_dir / name
        path.write_text(html, encoding="utf-8")
        sender = build_sender(self.settings)
        if isinstance(sender, SmtpSender):
            recipient = Recipient(name="Claims supervisors", channel="email", email=STAFF_MAILBOXES["supervisor"])
            sender.send(recipient, subject, html, claim_id="reports", kind=name, sequence=0)
        log.info("report published", report=name, path=str(path))
        return path


def build_scheduler(jobs: Jobs, timezone: str) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=ZoneInfo(timezone))
    common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    scheduler.add_job(jobs.sla_digest, CronTrigger(minute=0, timezone=ZoneInfo(timezone)), id="sla_digest",
                      **common)
    scheduler.add_job(jobs.daily_report, CronTrigger(hour=0, minute=15, timezone=ZoneInfo(timezone)),
                      id="daily_report", **common)
    scheduler.add_job(jobs.audit_checkpoint, CronTrigger(minute=30, timezone=ZoneInfo(timezone)),
                      id="audit_checkpoint", **common)
    scheduler.add_job(jobs.export_histories, CronTrigger(hour=1, minute=45, timezone=ZoneInfo(timezone)),
                      id="export_histories", **common)
    return scheduler


async def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    try:
        refuse_unsafe_identity(settings, "the scheduler")
    except UnsafeIdentity as err:
        raise SystemExit(f"error: {err}") from None
    engine = make_engine(settings.resolved_database_url)
    scheduler = build_scheduler(Jobs(settings, engine), settings.report_timezone)
    scheduler.start()
    log.info("scheduler started", jobs=[j.id for j in scheduler.get_jobs()], timezone=settings.report_timezone)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
