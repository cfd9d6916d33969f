"""Daily KPI report and scheduler jobs: true figures from real claims, and jobs run once per period."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from cli.main import build_parser, run
from config.encryption import audit_seal_keys
from config.settings import Settings
from db import ledger
from demo.desk import Desk
from models.contract import workflow_id_for
from models.tables import Claim, Payment, ReportRun
from reporting import finance
from reporting.reports import build_daily_report, render_daily_report, stage_durations
from reporting.scheduler import Jobs, build_scheduler
from testkit.claims import ALL_AUTO_DOCS, auto_claim, docs
from testkit.harness import Claims
from testkit.waiting import eventually
from tests.conftest import claims_rig, with_clocks
from tests.test_replay import replayer

TZ = "Asia/Shanghai"


async def run_sample_day(claims) -> None:
    """Four claims closed today: fast path paid, excluded cause denied, health withdrawn, standard approved."""
    fast, excluded = auto_claim(), auto_claim(incident={"cause": "racing"})
    hid, aid = f"H-{uuid.uuid4().hex[:8]}", f"A-{uuid.uuid4().hex[:8]}"
    health = auto_claim(hid, policy_number="P-HEALTH-001", claim_type="health", claimed_amount="2600.00",
                        incident={"cause": "illness"}, line_items=[], documents=docs("claim_form", claim_id=hid))
    standard = auto_claim(aid, claimed_amount="8000.00", line_items=[], documents=docs(*ALL_AUTO_DOCS, claim_id=aid))
    for claim in (fast, excluded, health, standard):
        await claims.start(claim)
    await claims.at_stage(health["claim_id"], "awaiting_documents")
    await claims.update(health["claim_id"], "withdraw", {"by": "portal", "reason": "settled"})
    await claims.at_stage(standard["claim_id"], "awaiting_approval")
    await claims.update(standard["claim_id"], "approve", {"approver_id": "adj-1", "role": "adjuster"})
    ids = [c["claim_id"] for c in (fast, excluded, health, standard)]

    def closed_rows() -> list[Claim]:  # the read model is written by an activity just after the workflow closes
        with Session(claims.engine) as session:
            return list(session.exec(select(Claim).where(col(Claim.claim_id).in_(ids))).all())

    await eventually(closed_rows, lambda rows: len(rows) == 4 and all(r.closed_at is not None for r in rows),
                     "the sample claims all closed in the read model")


@pytest.fixture
async def live_long_approvals(dev_env: WorkflowEnvironment, fast_clock: Settings, engine: Engine
                              ) -> AsyncIterator[Claims]:
    """The live rig where the approval and determination clocks run 3,600 demo days (an hour): the sample day's
    approved claim is decided within them however slowly a busy machine runs the test, so the day has no breach."""
    longer = with_clocks(fast_clock, approval_business_days=3600, determination_days=3600)
    async with claims_rig(dev_env, longer, engine) as rig:
        yield rig


async def test_daily_report_shows_the_days_true_figures(live_long_approvals):
    live = live_long_approvals
    await run_sample_day(live)
    today = datetime.now(ZoneInfo(TZ)).date()
    report = build_daily_report(live.engine, today, TZ)
    assert report.received == {"auto": 3, "health": 1}
    assert report.closed == {"auto": 3, "health": 1}
    assert report.outcomes == {"paid": 2, "denied": 1, "withdrawn": 1}
    assert report.paid == {"auto": Decimal("10200.00")}, "2,700 fast path + 7,500 approved"
    with Session(live.engine) as session:
        ledger_total = session.exec(select(func.sum(Payment.amount)).where(Payment.status == "paid")).one()
    assert report.total_paid == Decimal(ledger_total), "the report agrees with the payments ledger"
    assert report.fast_path_share == 1 / 3, "one fast claim among the three that were triaged"
    assert report.sla["approval"] == {"claims": 1, "breached": 0, "compliance": 1.0}
    assert {"registered", "adjusting"} <= set(report.stage_hours)
    assert (report.reopened, report.appealed) == (0, 0)


async def test_daily_report_is_a_page_and_the_command_writes_it(live, tmp_path):
    await run_sample_day(live)
    today = datetime.now(ZoneInfo(TZ)).date()
    html = render_daily_report(build_daily_report(live.engine, today, TZ))

    class Tables(HTMLParser):
        cells: list[str] = []

        def handle_data(self, data: str) -> None:
            if data.strip():
                self.cells.append(data.strip())

    parser = Tables()
    parser.feed(html)
    assert "10,200.00" in parser.cells and "33 %" in html and "审核 approval" in parser.cells
    out = tmp_path / "daily.html"
    await run(build_parser().parse_args(["report", "daily", "--date", today.isoformat(), "-o", str(out)]),
              live.settings)
    assert "10,200.00" in out.read_text()


def test_durations_read_at_their_scale():
    from reporting.reports import humane

    assert [humane(h) for h in (0.001, 0.5, 5.25, 72)] == ["3.6 s", "30 min", "5.2 h", "3.0 days"]


def test_stage_durations_follow_the_order_stages_were_entered():
    hours = stage_durations({"registered": "2026-11-20T08:00:00+00:00",
                             "awaiting_approval": "2026-11-20T10:00:00+00:00",
                             "adjusting": "2026-11-20T09:00:00+00:00", "closed": "2026-11-20T13:30:00+00:00"})
    assert hours == {"registered": 1.0, "adjusting": 1.0, "awaiting_approval": 3.5}


def test_jobs_fire_on_the_hour_and_after_midnight_in_the_report_timezone(settings, engine):
    scheduler = build_scheduler(Jobs(settings, engine), TZ)
    now = datetime(2026, 11, 21, 10, 20, tzinfo=ZoneInfo(TZ))
    fires = {job.id: job.trigger.get_next_fire_time(None, now) for job in scheduler.get_jobs()}
    assert fires["sla_digest"] == datetime(2026, 11, 21, 11, 0, tzinfo=ZoneInfo(TZ))
    assert fires["daily_report"] == datetime(2026, 11, 22, 0, 15, tzinfo=ZoneInfo(TZ))


async def test_two_schedulers_make_each_daily_report_once(settings, engine):
    first, second = Jobs(settings, engine), Jobs(settings, engine)
    just_after_midnight = datetime(2026, 11, 22, 0, 15, tzinfo=ZoneInfo(TZ))
    made = await first.daily_report(now=just_after_midnight)
    assert made is not None and made.name == "daily-2026-11-21.html"
    assert await second.daily_report(now=just_after_midnight) is None
    with Session(engine) as session:
        runs = session.exec(select(ReportRun)).all()
    assert [(r.job, r.period) for r in runs] == [("daily_report", "2026-11-21")]
    assert made.exists() and "2026-11-21" in made.read_text()
    assert date(2026, 11, 21) == date.fromisoformat(made.stem.removeprefix("daily-"))
    assert datetime.now(UTC)  # the jobs took the clock they were given, not the machine's


async def unsettled(live, claim_ids: list[str]) -> list[str]:
    """The claims still moving: a workflow still running whose claim is not closed (an appeal's second round
    included), or whose row or paid total in the database does not yet say what the workflow says."""
    left = []
    for claim_id in claim_ids:
        handle = live.handle(claim_id)
        if (await handle.describe()).status == WorkflowExecutionStatus.FAILED:
            continue  # refused at registration (the unknown policy): no claim to settle
        status = await handle.query("status")
        with Session(live.engine) as session:
            row = session.get(Claim, claim_id)
            paid = sum((p.amount for p in session.exec(select(Payment).where(
                Payment.claim_id == claim_id, Payment.status == "paid")).all()), Decimal("0.00"))
        shown = sum((Decimal(p["amount"]) for p in status["payments"]), Decimal("0.00"))
        if (status["stage"] != "closed" or row is None or row.closed_at is None or row.outcome != status["outcome"]
                or paid != shown):
            left.append(f"{claim_id} ({status['stage']})")
    return left


async def test_report_of_the_demo_claims_matches_the_database(live, tmp_path):
    """The demo's own scenarios (all but the minute-long statutory advance, and the renewed policy, which the tests'
    policies do not have), then the report checked against plain SQL over the claims and payments tables."""
    from sqlalchemy import text

    from demo import scenarios as demo

    prefix = f"R{uuid.uuid4().hex[:6]}"
    scenarios = [s for s in demo.scenarios(prefix)
                 if "statutory" not in s.name and s.claim["policy_number"] != "P-PROP-002"]
    on_queue = live.settings.model_copy(update={"task_queue": live.queue})
    await Desk(live.client, on_queue).declare_catastrophe(demo.typhoon(prefix))  # the demo's typhoon claim joins it
    rows = await asyncio.gather(*(demo.play(live.client, s, on_queue) for s in scenarios))
    assert all(r.ok for r in rows), [(r.scenario, r.outcome) for r in rows if not r.ok]
    started = [r.claim_id for r in rows if r.outcome != "error:InvalidClaim"]
    await eventually(lambda: unsettled(live, started), lambda left: not left,
                     "every demo claim settled, its read model agreeing with its workflow")
    today = datetime.now(ZoneInfo(TZ)).date()
    report = build_daily_report(live.engine, today, TZ)
    with live.engine.connect() as conn:
        received = dict(conn.execute(text("SELECT claim_type, count(*) FROM claims GROUP BY claim_type")).all())
        closed = dict(conn.execute(text(
            "SELECT claim_type, count(*) FROM claims WHERE closed_at IS NOT NULL GROUP BY claim_type")).all())
        paid = dict(conn.execute(text(
            "SELECT c.claim_type, sum(p.amount) FROM payments p JOIN claims c ON c.claim_id = p.claim_id "
            "WHERE p.status = 'paid' GROUP BY c.claim_type")).all())
        outcomes = dict(conn.execute(text(
            "SELECT outcome, count(*) FROM claims WHERE closed_at IS NOT NULL GROUP BY outcome")).all())
        breached = conn.execute(text(
            "SELECT count(DISTINCT e.claim_id) FROM claim_events e JOIN claims c ON c.claim_id = e.claim_id "
            "WHERE e.event = 'sla_breached' AND e.detail LIKE 'approval %' AND c.closed_at IS NOT NULL")).scalar()
    assert report.received == received and report.closed == closed and report.outcomes == outcomes
    assert report.paid == {k: Decimal(str(v)).quantize(Decimal("0.01")) for k, v in paid.items()}
    # The claim nobody decides breaches its approval clock; under load another may too (a day lasts a second).
    assert report.appealed == 1 and report.sla["approval"]["breached"] == breached >= 1

    # The charts of the rendered page carry the same figures.
    with live.engine.connect() as conn:
        paths = dict(conn.execute(text(
            "SELECT path, count(*) FROM claims WHERE closed_at IS NOT NULL AND path IS NOT NULL GROUP BY path")).all())
    page = render_daily_report(report)
    found = re.search(r'<script type="application/json" id="chart-options">(.*?)</script>', page, re.S)
    assert found and "echarts" in page, "the report carries its charts and draws them itself"
    charts = json.loads(found.group(1))
    closed_series, paid_series = charts["by_type"]["series"]
    types = ["auto", "health", "property"]
    assert closed_series["data"] == [closed.get(t, 0) for t in types]
    assert paid_series["data"] == [float(paid.get(t, 0) or 0) for t in types]
    pie = {d["name"].split(" ")[1]: d["value"] for d in charts["fast_path"]["series"][0]["data"]}
    assert pie == paths, "the fast-path chart counts the paths of the claims closed"
    received_line, closed_line, _paid = charts["trend"]["series"]
    assert received_line["data"][-1] == sum(received.values()) and closed_line["data"][-1] == sum(closed.values())
    assert len(received_line["data"]) == 30 and sum(received_line["data"][:-1]) == 0, "a fresh database: today only"

    # Every history these claims wrote, side by side on a busy worker, replays against the code that wrote it. One that
    # does not is kept for reading, named in the failure.
    refused: list[str] = []
    for claim_id in started:
        history = await live.client.get_workflow_handle(workflow_id_for(claim_id)).fetch_history()
        replayed = await replayer().replay_workflow(history, raise_on_replay_failure=False)
        if replayed.replay_failure is not None:
            kept = tmp_path / f"{claim_id}.json"
            kept.write_text(history.to_json(), encoding="utf-8")
            refused.append(f"{claim_id} ({kept}): {replayed.replay_failure}")
    assert not refused, "histories the code that wrote them refuses:\n" + "\n".join(refused)
    # The read model stands where each claim stands: its timeline's batches were all written, in order.
    def row_stage(claim_id: str) -> str | None:
        with Session(live.engine) as session:
            row = session.get(Claim, claim_id)
            return row.stage if row is not None else None

    for claim_id in [c for c in started if row_stage(c) is not None]:  # not those refused at intake
        stage = (await live.client.get_workflow_handle(workflow_id_for(claim_id)).query("status"))["stage"]
        await eventually(lambda claim_id=claim_id: row_stage(claim_id),  # type: ignore[misc]
                         lambda now, stage=stage: now == stage,  # type: ignore[misc]
                         f"claim {claim_id}'s read model at {stage}")
    # The month's figures per claim from the financial ledger (`finance export`), against plain SQL over the ledger
    # and the payments table; the ledger unbroken and reconciled; the day's reserves in the report.
    month = datetime.now(ZoneInfo(TZ)).strftime("%Y-%m")
    cut = finance.month_cut(finance.parse_month(month), TZ)
    figures = {f.claim_id: f for f in finance.month_end(live.engine, month, TZ)}
    with live.engine.connect() as conn:
        sums: dict[str, dict[str, Decimal]] = {}
        for claim_id, movement, amount in conn.execute(text(
                "SELECT claim_id, movement, sum(amount) FROM ledger WHERE transaction_at < :cut "
                "GROUP BY claim_id, movement"), {"cut": cut}).all():
            sums.setdefault(claim_id, {})[movement] = Decimal(str(amount)).quantize(Decimal("0.01"))
        paid_by_claim = {c: Decimal(str(a)).quantize(Decimal("0.01")) for c, a in conn.execute(text(
            "SELECT claim_id, sum(amount) FROM payments WHERE status = 'paid' GROUP BY claim_id")).all()}
    assert set(figures) == set(sums) and len(figures) >= len(started) - 3, "every claim with money moved is booked"
    zero = Decimal("0.00")
    for claim_id, f in figures.items():
        moved = sums[claim_id]
        assert (f.reserve, f.paid, f.recovered, f.recovery_reserve, f.written_off) == (
            moved.get("reserve", zero), moved.get("payment", zero), moved.get("recovery", zero),
            moved.get("recovery_reserve", zero), moved.get("write_off", zero)), claim_id
        assert f.paid == paid_by_claim.get(claim_id, zero), f"{claim_id}: the ledger's payments are the payments"
        assert f.incurred == f.paid + f.reserve - f.recovered - f.recovery_reserve
        assert f.reserve == zero or claim_id not in [r.claim_id for r in rows if r.outcome in ("paid", "denied")]
    collision = next(r.claim_id for r in rows if "third party" in r.scenario)
    assert figures[collision].recovered > 0 and figures[collision].written_off > 0
    assert ledger.verify(live.engine, audit_seal_keys(live.settings)).problems == []
    assert ledger.reconcile(live.engine) == []
    assert report.books.reserves_held == sum((f.reserve for f in figures.values()), zero)
    typhoon = next(r.claim_id for r in rows if "typhoon" in r.scenario)
    assert report.catastrophes == {f"CAT-{prefix}": {"received": 1, "open": 0}}, typhoon

    # Satisfaction and complaints (the demo's low score, its call-back, and its complaint resolved in time).
    with live.engine.connect() as conn:
        scores = dict(conn.execute(text(
            "SELECT survey_score, count(*) FROM claims WHERE survey_score IS NOT NULL GROUP BY survey_score")).all())
        categories = dict(conn.execute(text("SELECT category, count(*) FROM complaints GROUP BY category")).all())
        causes = dict(conn.execute(text("SELECT root_cause, count(*) FROM complaints WHERE resolved_at IS NOT NULL "
                                        "GROUP BY root_cause")).all())
    assert report.scores == scores == {2: 1} and report.satisfaction == 2
    assert report.callbacks == {"opened": 1, "done": 1, "on_time": 1}
    assert report.complaints_received == categories == {"letter": 1}
    assert report.complaints_resolved == causes == {"communication": 1}
    assert report.complaint_on_time["complaint_resolution"] == {"complaints": 1, "kept": 1}
    assert 'id="satisfaction"' in page and 'id="complaints-on-time"' in page
    assert charts["satisfaction"]["series"][0]["data"] == [scores.get(s, 0) for s in range(1, 6)]
    assert {d["name"].split(" ")[1]: d["value"] for d in charts["complaints"]["series"][0]["data"]} == categories
    sla = dict(zip(charts["sla"]["xAxis"]["data"], charts["sla"]["series"][0]["data"], strict=True))
    assert sla["审批 approval"] == round(report.sla["approval"]["compliance"] * 100, 1) < 100
