"""Daily KPI report and SLA digest: figures read from the claims database, rendered with jinja2."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db.engine import utc
from letters.render import template_env
from models.tables import Claim, ClaimEventRow, ComplaintRow, LedgerRow, Payment
from reporting.charts import CHARTS, DRAW_CHARTS, ECHARTS, chart_options, charts_json
from reporting.figures import (
    CLOCK_STAGES,
    STAGE_LABELS,
    TREND_DAYS,
    BookFigures,
    DailyReport,
    RecoveryFigures,
    TrendDay,
)


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants at which `day` starts and ends in the reporting timezone."""
    start = datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone))
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def _within(value: datetime | None, start: datetime, end: datetime) -> bool:
    return value is not None and start <= utc(value) < end


def stage_durations(entered: dict[str, str]) -> dict[str, float]:
    """Hours spent in each stage, from the times each stage was entered."""
    ordered = sorted((datetime.fromisoformat(at), stage) for stage, at in entered.items())
    return {stage: (ordered[i + 1][0] - at).total_seconds() / 3600
            for i, (at, stage) in enumerate(ordered[:-1])}


def build_daily_report(engine: Engine, day: date, timezone: str) -> DailyReport:
    start, end = day_bounds(day, timezone)
    report = DailyReport(day=day, timezone=timezone)
    received: dict[str, int] = defaultdict(int)
    closed: dict[str, int] = defaultdict(int)
    outcomes: dict[str, int] = defaultdict(int)
    paid: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    hours: dict[str, list[float]] = defaultdict(list)
    with Session(engine) as session:
        claims = {c.claim_id: c for c in session.exec(select(Claim)).all()}
        payments = session.exec(select(Payment).where(Payment.status == "paid")).all()
        events = session.exec(select(ClaimEventRow).where(
            col(ClaimEventRow.event).in_(["sla_breached", "reopened", "appeal_received"]))).all()
    closed_today = [c for c in claims.values() if _within(c.closed_at, start, end)]
    for c in claims.values():
        if _within(c.registered_at, start, end):
            received[c.claim_type] += 1
    for c in closed_today:
        closed[c.claim_type] += 1
        outcomes[c.outcome or "open"] += 1
        for stage, spent in stage_durations(c.stage_entered_at).items():
            hours[stage].append(spent)
    for p in payments:
        if _within(p.paid_at, start, end) and p.claim_id in claims:
            paid[claims[p.claim_id].claim_type] += Decimal(p.amount)
    decided = [c for c in closed_today if c.path is not None]
    if decided:
        report.fast_path_share = sum(c.path == "fast" for c in decided) / len(decided)
    report.paths = dict(Counter(c.path for c in decided if c.path))
    report.trend = trend(claims.values(), payments, day, timezone)
    feedback(report, engine, start, end)
    complaints(report, engine, start, end)
    report.recoveries = recovery_figures(claims.values(), engine, start, end)
    report.books = book_figures(engine, start, end)
    for c in claims.values():
        if c.catastrophe is not None:
            counts = report.catastrophes.setdefault(c.catastrophe, {"received": 0, "open": 0})
            counts["received"] += _within(c.registered_at, start, end)
            counts["open"] += c.closed_at is None
    breached: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e.event == "sla_breached" and e.claim_id in {c.claim_id for c in closed_today}:
            breached[e.detail.split(" ", 1)[0]].add(e.claim_id)
        elif _within(e.at, start, end):
            report.reopened += e.event == "reopened"
            report.appealed += e.event == "appeal_received"
    for clock, stage in CLOCK_STAGES.items():
        applied = [c for c in closed_today if stage in c.stage_entered_at]
        if applied:
            missed = len(breached[clock] & {c.claim_id for c in applied})
            report.sla[clock] = {"claims": len(applied), "breached": missed,
                                 "compliance": 1 - missed / len(applied)}
    report.received, report.closed, report.outcomes = dict(received), dict(closed), dict(outcomes)
    report.paid = dict(paid)
    report.stage_hours = {s: sum(v) / len(v) for s, v in hours.items() if s in STAGE_LABELS}
    return report


def feedback(report: DailyReport, engine: Engine, start: datetime, end: datetime) -> None:
    """The day's survey answers by score, and the call-backs their low scores opened."""
    with Session(engine) as session:
        events = session.exec(select(ClaimEventRow).where(col(ClaimEventRow.event).in_(
            ["survey_response", "callback_opened", "callback_done", "sla_breached"]))).all()
    answered = [e for e in events if e.event == "survey_response" and _within(e.at, start, end)]
    report.scores = dict(sorted(Counter(int(e.detail.removeprefix("score ")) for e in answered).items()))
    opened = {e.claim_id for e in events if e.event == "callback_opened" and _within(e.at, start, end)}
    done = {e.claim_id for e in events if e.event == "callback_done"} & opened
    late = {e.claim_id for e in events if e.event == "sla_breached" and e.detail.startswith("callback ")}
    report.callbacks = {"opened": len(opened), "done": len(done), "on_time": len(done - late)}


RECOVERY_AMOUNT = re.compile(r"^recovery \d+: ([0-9]+(?:\.[0-9]+)?) ")
"""The amount a recovery event moved: its detail starts `recovery <number>: <amount> ...` (workflows/claim_updates.py,
workflows/decisions.py)."""


def recovery_figures(claims: Iterable[Claim], engine: Engine, start: datetime, end: datetime) -> RecoveryFigures:
    """The day's recoveries opened, repayments received and write-offs (from the event log), and what every claim
    still owes back now (from the read model)."""
    with Session(engine) as session:
        events = session.exec(select(ClaimEventRow).where(col(ClaimEventRow.event).in_(
            ["recovery_opened", "recovery_received", "recovery_written_off"]))).all()
    figures = RecoveryFigures()
    for e in events:
        found = RECOVERY_AMOUNT.match(e.detail)
        if not _within(e.at, start, end) or found is None:
            continue
        amount = Decimal(found.group(1))
        if e.event == "recovery_opened":
            figures.opened, figures.opened_amount = figures.opened + 1, figures.opened_amount + amount
        elif e.event == "recovery_received":
            figures.received, figures.received_amount = figures.received + 1, figures.received_amount + amount
        else:
            figures.written_off += 1
            figures.written_off_amount += amount
    owing = [c for c in claims if Decimal(c.recovery_outstanding or 0) > 0]
    figures.owing_claims = len(owing)
    figures.outstanding = sum((Decimal(c.recovery_outstanding) for c in owing), Decimal("0.00"))
    return figures


def book_figures(engine: Engine, start: datetime, end: datetime) -> BookFigures:
    """The day's reserve movements and recoveries received, and the reserves and recovery reserves held at its end,
    from the financial ledger."""
    figures = BookFigures()
    held: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    expected: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    recovered: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    # Summed by the database (the ledger grows with every claim), from a subquery: PostgreSQL would not match an
    # expression with a bound parameter in GROUP BY with the same one in the select list.
    moved = sa_select(col(LedgerRow.claim_id), col(LedgerRow.movement), col(LedgerRow.cost_type),
                      col(LedgerRow.amount),
                      case((col(LedgerRow.transaction_at) >= start, 1), else_=0).label("today"),
                      case((col(LedgerRow.amount) > 0, 1), else_=0).label("rising")).where(
        col(LedgerRow.transaction_at) < end).subquery()
    with Session(engine) as session:
        rows = session.execute(sa_select(moved.c.claim_id, moved.c.movement, moved.c.cost_type, moved.c.today,
                                         moved.c.rising, func.sum(moved.c.amount))
                               .group_by(moved.c.claim_id, moved.c.movement, moved.c.cost_type, moved.c.today,
                                         moved.c.rising)).all()
    for claim_id, movement, cost_type, today, _, total in rows:
        amount = Decimal(str(total))
        if movement == "reserve":
            held[claim_id] += amount
            if today and amount > 0:
                figures.reserve_set += amount
            elif today:
                figures.reserve_released -= amount
        elif movement == "recovery_reserve":
            expected[cost_type] += amount
        elif movement == "recovery" and today:
            recovered[cost_type] += amount
    figures.reserves_held = sum(held.values(), Decimal("0.00"))
    figures.reserved_claims = sum(1 for amount in held.values() if amount > 0)
    figures.recovery_reserves = {kind: amount for kind, amount in sorted(expected.items()) if amount}
    figures.recovered = dict(sorted(recovered.items()))
    return figures


def complaints(report: DailyReport, engine: Engine, start: datetime, end: datetime) -> None:
    """The day's complaints by category, those resolved by root cause, and how many kept each clock."""
    with Session(engine) as session:
        rows = session.exec(select(ComplaintRow)).all()
    report.complaints_received = dict(Counter(r.category for r in rows if _within(r.received_at, start, end)))
    resolved = [r for r in rows if _within(r.resolved_at, start, end)]
    report.complaints_resolved = dict(Counter(r.root_cause or "-" for r in resolved))
    if resolved:
        report.complaint_on_time = {
            clock: {"complaints": len(resolved), "kept": sum(clock not in r.breached for r in resolved)}
            for clock in ("complaint_ack", "complaint_resolution", "complaint_ceiling")}


def trend(claims: Iterable[Claim], payments: Iterable[Payment], day: date, timezone: str,
          days: int = TREND_DAYS) -> list[TrendDay]:
    """Claims received and closed, and amounts paid, on each of the `days` days up to `day` (local days)."""
    zone = ZoneInfo(timezone)
    first = day - timedelta(days=days - 1)
    received: Counter[date] = Counter()
    closed: Counter[date] = Counter()
    paid: dict[date, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for c in claims:
        if c.registered_at is not None:
            received[utc(c.registered_at).astimezone(zone).date()] += 1
        if c.closed_at is not None:
            closed[utc(c.closed_at).astimezone(zone).date()] += 1
    for p in payments:
        if p.paid_at is not None:
            paid[utc(p.paid_at).astimezone(zone).date()] += Decimal(p.amount)
    return [TrendDay(d, received[d], closed[d], paid[d])
            for d in (first + timedelta(days=i) for i in range(days))]


def humane(hours: float) -> str:
    """A duration at the scale a reader takes in: days, hours and minutes, or seconds."""
    seconds = hours * 3600
    if seconds < 120:
        return f"{seconds:.1f} s"
    if hours < 2:
        return f"{seconds / 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def render_daily_report(report: DailyReport) -> str:
    """The report as one self-contained HTML page: its tables, and the same figures as charts (ECharts, inlined
    so the page needs nothing else)."""
    env = template_env()
    env.filters["humane"] = humane
    return env.get_template("daily_report.html.j2").render(
        r=report, labels=STAGE_LABELS, types=["auto", "health", "property"],
        charts=charts_json(chart_options(report)), chart_names=CHARTS,
        echarts=Markup(ECHARTS.read_text(encoding="utf-8")),
        draw=Markup(DRAW_CHARTS))


def render_sla_digest(rows: list[dict[str, Any]], now: datetime, horizon_hours: int) -> str:
    env = template_env()
    return env.get_template("sla_digest.html.j2").render(rows=rows, now=now, horizon=horizon_hours)


def digest_query(now: datetime, horizon_hours: int) -> str:
    soon = (now + timedelta(hours=horizon_hours)).astimezone(UTC).isoformat()
    return (f"WorkflowType = 'ClaimWorkflow' AND ExecutionStatus = 'Running' "
            f"AND (SlaDueAt < '{soon}' OR SlaBreached = true)")
