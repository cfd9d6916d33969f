"""The workbench's finance page (`/app/finance`; docs/finance.md, "The finance page") in headless Chromium, over
ledger rows this test writes: the charts drawn in the page carry the figures of `reporting.finance` (each claim as at
the month's end, summed; the paid and incurred triangles), the tables show the same cells with the development
factors and the IBNR, the download is the export's CSV, only finance staff and managers may open it, and axe finds
nothing serious on it.

The stack is `make run`'s (testkit/api_stack.py), as for the other page tests; the rows are written straight into
its database, as the ledger's writers write them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page
from sqlalchemy.engine import Engine

from db.engine import make_engine
from reporting import finance
from testkit.api_stack import Stack, running_stack
from testkit.ledger_rows import BEIJING, ZONE, beijing, book, claim
from tests.test_pages_accessible import english_words, serious_findings
from web.names import money

pytestmark = pytest.mark.devserver

MONTH, BEFORE = "2026-11", "2026-10"
PRODUCTS = {"auto": "车险", "health": "健康险"}
FIGURES = {"paid": "已付赔款", "incurred": "已发生赔款（净额）"}
TOTALS = {"paid_in_month": "本月已付赔款", "paid": "截至月末累计已付赔款", "reserve": "月末未决赔款准备金",
          "recovered_in_month": "本月追偿收回", "recovered": "截至月末累计追偿收回",
          "recovery_reserve": "月末预计追偿款", "written_off": "截至月末累计核销",
          "incurred": "月末已发生赔款（净额）", "gross_incurred": "月末已发生赔款（总额）"}
"""What the page calls each total, in Chinese, in the order it shows them."""
D = Decimal


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from running_stack(tmp_path_factory.mktemp("finance-page") / "var")


@pytest.fixture(scope="module")
def database(stack: Stack) -> Iterator[Engine]:
    """The stack's database, with the ledger rows of `book_months`."""
    engine = make_engine(f"sqlite:///{stack.var_dir / 'claims.db'}")
    book_months(engine)
    yield engine
    engine.dispose()


def book_months(engine: Engine) -> None:
    """Motor claims of accidents in September, October and November 2026, a health claim of October, with reserves,
    payments, a subrogation and a write-off over those months; and movements of December, which November's figures
    leave out."""
    a = claim(engine, "auto", beijing(2026, 9, 5))
    book(engine, a, beijing(2026, 9, 6), "reserve", "5000.00")
    book(engine, a, beijing(2026, 9, 20), "payment", "2000.00")
    book(engine, a, beijing(2026, 9, 20), "reserve", "-2000.00")
    book(engine, a, beijing(2026, 10, 15), "payment", "1000.00")
    book(engine, a, beijing(2026, 10, 15), "reserve", "-1000.00")
    book(engine, a, beijing(2026, 11, 2), "reserve", "500.00")
    book(engine, a, beijing(2026, 11, 30, 23, 59, 30), "payment", "800.00")  # November's last minute, Beijing time
    book(engine, a, beijing(2026, 12, 1, 0, 0, 30), "payment", "300.00")  # December's: not November's
    b = claim(engine, "auto", beijing(2026, 10, 10))
    book(engine, b, beijing(2026, 10, 11), "reserve", "3000.00")
    book(engine, b, beijing(2026, 11, 5), "payment", "1200.00")
    book(engine, b, beijing(2026, 11, 5), "reserve", "-1200.00")
    book(engine, b, beijing(2026, 11, 8), "recovery_reserve", "400.00", "subrogation")
    book(engine, b, beijing(2026, 11, 25), "recovery", "150.00", "subrogation")
    book(engine, b, beijing(2026, 11, 25), "recovery_reserve", "-150.00", "subrogation")
    c = claim(engine, "auto", beijing(2026, 11, 20))
    book(engine, c, beijing(2026, 11, 21), "reserve", "2500.00")
    book(engine, c, beijing(2026, 11, 28), "payment", "600.00")
    book(engine, c, beijing(2026, 11, 28), "reserve", "-600.00")
    h = claim(engine, "health", beijing(2026, 10, 3))
    book(engine, h, beijing(2026, 10, 4), "reserve", "1800.00")
    book(engine, h, beijing(2026, 10, 20), "payment", "1800.00")
    book(engine, h, beijing(2026, 10, 20), "reserve", "-1800.00")
    book(engine, h, beijing(2026, 11, 1), "recovery_reserve", "300.00", "overpayment")
    book(engine, h, beijing(2026, 11, 29), "write_off", "100.00", "overpayment")
    book(engine, h, beijing(2026, 11, 29), "recovery_reserve", "-100.00", "overpayment")
    later = claim(engine, "health", beijing(2026, 12, 1, 1))  # an accident after November
    book(engine, later, beijing(2026, 12, 1, 2), "reserve", "900.00")


def signed_in(browser: Browser, stack: Stack, subject: str, path: str) -> Page:
    """A browser of its own that opens `path`, is sent to the sign-in page, and signs in there as the demo staff
    member: the page it comes back to."""
    page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1000}).new_page()
    page.goto(f"{stack.url}{path}")
    page.get_by_role("button", name=re.compile(rf"· {re.escape(subject)}（")).click()
    page.wait_for_url(f"**{path}")
    return page


def drawn(page: Page, chart: Locator) -> dict[str, Any]:
    """The option of the ECharts instance the page drew into this element, once drawn."""
    page.wait_for_function("element => window.echarts && echarts.getInstanceByDom(element) !== undefined",
                           arg=chart.element_handle())
    option: dict[str, Any] = chart.evaluate("element => echarts.getInstanceByDom(element).getOption()")
    return option


def table_rows(table: Locator) -> list[list[str]]:
    """Each row of a table as a person reads it: its header cell (if any) and its cells."""
    rows = []
    for row in table.get_by_role("row").all():
        rows.append([*row.get_by_role("columnheader").all_inner_texts(),
                     *row.get_by_role("rowheader").all_inner_texts(), *row.get_by_role("cell").all_inner_texts()])
    return rows


def amount(value: str | None) -> float | None:
    return None if value is None else float(value)


def shown(value: str | None) -> str:
    """An amount as the page shows it: with its currency; an empty cell of a triangle as a dash."""
    return "—" if value is None else money(D(value))


def test_the_finance_page_draws_and_tabulates_the_ledgers_figures(stack: Stack, browser: Browser,
                                                                  database: Engine) -> None:
    figures = finance.month_end(database, MONTH, ZONE)
    before = finance.month_end(database, BEFORE, ZONE)
    estimates = finance.estimated(finance.triangles(database, MONTH, ZONE))

    def total(rows: list[finance.ClaimFigures], name: str) -> Decimal:
        return sum((getattr(f, name) for f in rows), D("0.00"))

    totals = {name: total(figures, name) for name in finance.AMOUNTS}
    totals["paid_in_month"] = totals["paid"] - total(before, "paid")
    totals["recovered_in_month"] = totals["recovered"] - total(before, "recovered")
    assert (totals["paid_in_month"], totals["reserve"], totals["recovered_in_month"], totals["recovery_reserve"]) \
        == (D("2600.00"), D("6200.00"), D("150.00"), D("450.00")), "the rows were written as this test means them"
    assert sorted(estimates) == ["auto", "health"]

    opened = datetime.now(BEIJING).strftime("%Y-%m")
    page = signed_in(browser, stack, "fin-1", "/app/finance")
    assert page.get_by_label("月份", exact=True).input_value() in (opened, datetime.now(BEIJING).strftime("%Y-%m")), \
        "the page opens on the current month, Beijing time"
    assert page.get_by_role("navigation", name="工作台").get_by_role("link", name="财务").count() == 1

    page.get_by_label("月份", exact=True).fill(MONTH)
    page.get_by_role("button", name="查看").click()
    page.wait_for_url(f"**/app/finance?month={MONTH}")
    assert page.get_by_role("heading", level=1).inner_text() == f"财务 · {MONTH}"
    assert "北京时间 2026-12-01 00:00 之前" in page.get_by_text(re.compile(rf"^{MONTH} 月末数据")).inner_text()

    chart = drawn(page, page.get_by_role("img", name=re.compile(rf"^图表：{MONTH} 合计")))
    assert chart["xAxis"][0]["data"] == list(TOTALS.values())
    assert chart["series"][0]["data"] == [float(totals[key]) for key in TOTALS], (chart["series"], totals)
    assert table_rows(page.get_by_role("table", name=f"{MONTH} 合计"))[1:] == [
        [label, money(totals[key])] for key, label in TOTALS.items()]

    for product, by_figure in estimates.items():
        for figure, estimate in by_figure.items():
            expected = estimate.as_json()
            name = f"{PRODUCTS[product]}：{FIGURES[figure]}（按事故月份）"
            lines = drawn(page, page.get_by_role("img", name=f"图表：{name}。下表列出相同数据。"))
            assert lines["xAxis"][0]["data"] == [str(age) for age in expected["developments"]]
            assert [s["name"] for s in lines["series"]] == expected["origins"]
            assert [s["data"] for s in lines["series"]] == [[amount(v) for v in row] for row in expected["values"]], \
                (product, figure)

            table = page.get_by_role("table", name=re.compile(
                rf"^{PRODUCTS[product]}{re.escape(FIGURES[figure])}，截至 {MONTH} 月末"))
            rows = table_rows(table)
            ages = expected["developments"]
            assert rows[0] == ["事故月份", *[f"第 {age} 个月" for age in ages], "最新值", "最终赔款",
                               "已发生未报案赔款"]
            assert rows[1:-2] == [[origin, *[shown(v) for v in row], shown(latest), shown(ultimate), shown(ibnr)]
                                  for origin, row, latest, ultimate, ibnr in zip(
                                      expected["origins"], expected["values"], expected["latest"],
                                      expected["ultimates"], expected["ibnr"], strict=True)], (product, figure)
            factors = [f"{f:.6f}" if f is not None else "—" for f in expected["ldf"]]
            assert rows[-2] == ["进展因子", *factors, *["—"] * (len(ages) - len(factors)), "", "", ""]
            latest_total = sum((D(v) for v in expected["latest"]), D("0.00"))
            assert rows[-1] == ["合计", *[""] * len(ages), money(latest_total), shown(expected["total_ultimate"]),
                                shown(expected["total_ibnr"])]
    auto_paid = estimates["auto"]["paid"]
    assert auto_paid.triangle.origins == ["2026-09", "2026-10", "2026-11"] and auto_paid.factors[0] is not None, \
        "the motor triangle has factors to estimate: the IBNR shown is the chain ladder's, not zeros"

    with page.expect_download() as download:
        page.get_by_role("link", name="下载各案件月末数据（CSV）").click()
    assert download.value.suggested_filename == f"claims-{MONTH}.csv"
    assert Path(download.value.path()).read_bytes() == finance.figures_csv(figures).encode("utf-8"), \
        "the download is the export's CSV"

    assert serious_findings(page) == []
    assert english_words(page) == []
    page.context.close()


def test_only_finance_staff_and_managers_open_the_finance_page(stack: Stack, browser: Browser,
                                                               database: Engine) -> None:
    adjuster = signed_in(browser, stack, "adj-1", "/app")
    assert adjuster.get_by_role("navigation", name="工作台").get_by_role("link", name="财务").count() == 0, \
        "the workbench offers the page only to those who may open it"
    answer = adjuster.goto(f"{stack.url}/app/finance?month={MONTH}")
    assert answer is not None and answer.status == 403
    assert adjuster.get_by_role("alert").inner_text() == "财务页面仅限财务人员和经理查看。"
    assert adjuster.get_by_role("table").count() == 0 and adjuster.get_by_role("img").count() == 0
    assert serious_findings(adjuster) == []
    download = adjuster.context.request.get(f"{stack.url}/app/finance/claims.csv?month={MONTH}")
    assert download.status == 403 and "claim_id" not in download.text(), "nor the download"
    adjuster.context.close()

    manager = signed_in(browser, stack, "mgr-1", "/app")
    manager.get_by_role("navigation", name="工作台").get_by_role("link", name="财务").click()
    manager.wait_for_url("**/app/finance")
    assert manager.get_by_role("heading", level=1).inner_text().startswith("财务 · ")
    wrong = manager.goto(f"{stack.url}/app/finance?month=2026-13")
    assert wrong is not None and wrong.status == 400
    assert "例如 2026-11" in manager.get_by_role("alert").inner_text()
    manager.context.close()
