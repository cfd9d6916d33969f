"""Finance figures from the financial ledger (reporting/finance.py; docs/finance.md): each claim as at a month's end in
Beijing time, the loss triangles and the chain-ladder IBNR, and the command line and HTTP exports of them (SQLite and
PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import DateTime, bindparam, text

from api.app import create_app
from cli import main as cli_main
from config.encryption import EncryptionCodec, keyring_for
from config.settings import get_settings
from documents.store import FolderStore
from edge.services import Services
from identity import development, keys
from reporting import finance
from reporting.finance import ClaimFigures, Triangle
from testkit.ledger_rows import ZONE, beijing, book, claim

D = Decimal


def two_months(engine) -> dict[str, str]:
    """Claims with movements over November and December 2026 (Beijing time), and one in January 2027."""
    a = claim(engine, "auto", beijing(2026, 11, 3, 9, 0))
    book(engine, a, beijing(2026, 11, 3, 10, 0), "reserve", "5000.00")
    book(engine, a, beijing(2026, 11, 20, 14, 0), "payment", "1200.00")
    book(engine, a, beijing(2026, 11, 20, 14, 0), "reserve", "-1200.00")
    book(engine, a, beijing(2026, 11, 30, 23, 59, 30), "reserve", "300.00")  # 15:59:30 UTC: still November
    book(engine, a, beijing(2026, 12, 1, 0, 0, 30), "payment", "800.00")  # 16:00:30 UTC on the 30th: December
    book(engine, a, beijing(2027, 1, 1, 0, 0, 5), "payment", "999.00")  # after both months
    b = claim(engine, "health", beijing(2026, 10, 28, 8, 0), policy_period=None)
    book(engine, b, beijing(2026, 11, 2, 9, 0), "reserve", "2000.00")
    book(engine, b, beijing(2026, 11, 10, 9, 0), "payment", "2000.00")
    book(engine, b, beijing(2026, 11, 10, 9, 0), "reserve", "-2000.00")
    book(engine, b, beijing(2026, 11, 15, 9, 0), "recovery_reserve", "500.00", "overpayment")
    book(engine, b, beijing(2026, 11, 25, 9, 0), "recovery", "200.00", "overpayment")
    book(engine, b, beijing(2026, 11, 25, 9, 0), "recovery_reserve", "-200.00", "overpayment")
    book(engine, b, beijing(2026, 12, 5, 9, 0), "write_off", "100.00", "overpayment")
    book(engine, b, beijing(2026, 12, 5, 9, 0), "recovery_reserve", "-100.00", "overpayment")
    c = claim(engine, "auto", beijing(2026, 11, 30, 22, 0))  # the accident on the 30th, in Beijing; 14:00 UTC
    book(engine, c, beijing(2026, 12, 1, 0, 0, 10), "reserve", "700.00")  # its first movement: December
    e = claim(engine, "auto", beijing(2026, 12, 2, 8, 0))
    book(engine, e, beijing(2026, 12, 3, 9, 0), "payment", "50.00")
    return {"a": a, "b": b, "c": c, "e": e}


PLAIN_SQL = """
    select claim_id, policy_number, policy_period, product, accident_date,
           sum(case when movement = 'reserve' then amount else 0 end) as reserve,
           sum(case when movement = 'payment' then amount else 0 end) as paid,
           sum(case when movement = 'recovery' then amount else 0 end) as recovered,
           sum(case when movement = 'recovery_reserve' then amount else 0 end) as recovery_reserve,
           sum(case when movement = 'write_off' then amount else 0 end) as written_off,
           sum(case when movement in ('reserve', 'payment') then amount
                    when movement in ('recovery', 'recovery_reserve') then -amount else 0 end) as incurred,
           sum(case when movement in ('reserve', 'payment') then amount else 0 end) as gross_incurred
    from ledger where transaction_at < :cut
    group by claim_id, policy_number, policy_period, product, accident_date
"""


def recomputed(engine, cut: datetime) -> list[ClaimFigures]:
    """The figures by a query written out by hand, cut at the given instant (in UTC, as the times are stored: SQLite
    compares the text, whatever the time zone a bound time carries)."""
    query = text(PLAIN_SQL).bindparams(bindparam("cut", type_=DateTime(timezone=True)))
    with engine.connect() as conn:
        rows = conn.execute(query, {"cut": cut.astimezone(UTC)}).all()
    return sorted((ClaimFigures(r.claim_id, r.policy_number, r.policy_period, r.product,
                                r.accident_date if isinstance(r.accident_date, date)
                                else date.fromisoformat(r.accident_date),
                                *(D(str(v)).quantize(D("0.01")) for v in r[5:])) for r in rows),
                  key=lambda f: f.claim_id)


# --------------------------------------------------------------------------- each claim at a month's end


def test_month_end_figures_are_the_ledgers_sums_up_to_the_last_instant_of_the_month_in_beijing(any_engine):
    ids = two_months(any_engine)
    november = finance.month_end(any_engine, "2026-11", ZONE)
    december = finance.month_end(any_engine, "2026-12", ZONE)
    assert november == recomputed(any_engine, beijing(2026, 12, 1, 0, 0))
    assert december == recomputed(any_engine, beijing(2027, 1, 1, 0, 0))
    assert [f.claim_id for f in november] == sorted([ids["a"], ids["b"]]), \
        "a claim with no movement by the month's end is left out"
    assert [f.claim_id for f in december] == sorted(ids.values())

    a = next(f for f in november if f.claim_id == ids["a"])
    assert (a.reserve, a.paid, a.incurred, a.gross_incurred) == (D("4100.00"), D("1200.00"), D("5300.00"),
                                                                 D("5300.00")), \
        "the reserve raised at 23:59:30 on the 30th (Beijing) is November's; the payment at 00:00:30 is not"
    a = next(f for f in december if f.claim_id == ids["a"])
    assert (a.reserve, a.paid, a.incurred) == (D("4100.00"), D("2000.00"), D("6100.00")), \
        "the payment of 1 January 2027 is not December's"
    b = next(f for f in november if f.claim_id == ids["b"])
    assert (b.policy_period, b.product, b.accident_date) == (None, "health", date(2026, 10, 28))
    assert (b.reserve, b.paid, b.recovered, b.recovery_reserve, b.written_off, b.incurred, b.gross_incurred) == (
        D("0.00"), D("2000.00"), D("200.00"), D("300.00"), D("0.00"), D("1500.00"), D("2000.00"))
    b = next(f for f in december if f.claim_id == ids["b"])
    assert (b.recovery_reserve, b.written_off, b.incurred) == (D("200.00"), D("100.00"), D("1600.00"))
    c = next(f for f in december if f.claim_id == ids["c"])
    assert c.accident_date == date(2026, 11, 30), "the accident day is Beijing's"


def test_the_month_is_checked_strictly():
    assert finance.parse_month("2026-11") == date(2026, 11, 1)
    for bad, says in [("2026-13", "months run from 01 to 12"), ("2026-00", "months run from 01 to 12"),
                      ("2026-1", "YYYY-MM"), ("2026-11-01", "YYYY-MM"), ("26-11", "YYYY-MM"), ("", "YYYY-MM"),
                      (" 2026-11", "YYYY-MM"), ("2026-11\n", "YYYY-MM"), ("２０２６-１１", "YYYY-MM"),
                      ("0000-01", "years run"), ("nov 2026", "YYYY-MM")]:
        with pytest.raises(ValueError, match=says) as err:
            finance.parse_month(bad)
        assert str(err.value).startswith("month: "), err.value


def test_month_cut_is_beijing_midnight_in_utc():
    assert finance.month_cut(date(2026, 11, 1), ZONE) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert finance.month_cut(date(2026, 12, 1), ZONE) == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def test_the_exports_carry_the_same_figures_in_csv_parquet_and_json(engine, tmp_path):
    import pandas as pd

    two_months(engine)
    figures = finance.month_end(engine, "2026-12", ZONE)
    body = finance.figures_csv(figures)
    assert not body.startswith("\ufeff") and body.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows == [{k: v or "" for k, v in row.items()} for row in finance.figures_json(figures)]
    assert all(row["paid"].count(".") == 1 and len(row["paid"].split(".")[1]) == 2 for row in rows)
    finance.export(figures, tmp_path / "claims.parquet", "parquet")
    frame = pd.read_parquet(tmp_path / "claims.parquet")
    assert list(frame.columns) == list(finance.COLUMNS)
    assert frame["incurred"].tolist() == [f.incurred for f in figures], "amounts come back exact, as Decimal"
    assert frame["accident_date"].tolist() == [f.accident_date for f in figures]
    finance.export(figures, tmp_path / "claims.csv", "csv")
    assert (tmp_path / "claims.csv").read_bytes() == body.encode("utf-8")


# --------------------------------------------------------------------------- triangles and the chain ladder


def test_the_chain_ladder_of_a_hand_computed_triangle():
    paid = Triangle("auto", "paid", ["2026-01", "2026-02", "2026-03"],
                    [[D(100), D(150), D(165)], [D(110), D(176), None], [D(120), None, None]])
    estimate = finance.ibnr(paid)
    assert estimate.factors == pytest.approx([1.552381, 1.1], abs=1e-6)
    assert estimate.ultimates == pytest.approx([165, 193.6, 204.914286], abs=1e-6)
    assert estimate.ibnr == pytest.approx([0, 17.6, 84.914286], abs=1e-6)
    assert estimate.total_ibnr == pytest.approx(102.514286, abs=1e-6)
    shown = estimate.as_json()
    assert (shown["ldf"], shown["ibnr"], shown["total_ibnr"]) == ([1.552381, 1.1], ["0.00", "17.60", "84.91"],
                                                                  "102.51")
    assert shown["values"][2] == ["120.00", None, None] and shown["developments"] == [1, 2, 3]


def test_a_triangle_of_one_month_or_of_zeros_estimates_nothing_more_than_it_holds():
    one = finance.ibnr(Triangle("auto", "paid", ["2026-01"], [[D(5)]]))
    assert (one.factors, one.ultimates, one.ibnr) == ([], [5.0], [0.0])
    zeros = finance.ibnr(Triangle("auto", "paid", ["2026-01", "2026-02"], [[D(0), D(0)], [D(0), None]]))
    assert (zeros.factors, zeros.ultimates, zeros.ibnr) == ([None], [0.0, 0.0], [0.0, 0.0])


def test_the_triangles_built_from_the_ledger_hold_each_origins_cumulative_figures(any_engine):
    two_months(any_engine)
    found = finance.triangles(any_engine, "2026-12", ZONE)
    assert sorted(found) == ["auto", "health"]
    auto, health = found["auto"], found["health"]
    assert auto["paid"].origins == ["2026-10", "2026-11", "2026-12"], "from the ledger's earliest accident month"
    assert auto["paid"].values == [[0, 0, 0], [D("1200.00"), D("2000.00"), None], [D("50.00"), None, None]]
    assert auto["incurred"].values == [[0, 0, 0], [D("5300.00"), D("6800.00"), None], [D("50.00"), None, None]], \
        "November's origin: claim A's 5300 by November, then its payment and claim C's first reserve in December"
    assert health["paid"].values == [[0, D("2000.00"), D("2000.00")], [0, 0, None], [0, None, None]]
    assert health["incurred"].values == [[0, D("1500.00"), D("1600.00")], [0, 0, None], [0, None, None]], \
        "net of the recovery received and expected; the write-off lowers what is expected"
    november = finance.triangles(any_engine, "2026-11", ZONE)
    assert november["auto"]["incurred"].values == [[0, 0], [D("5300.00"), None]]
    assert finance.triangles(any_engine, "2026-09", ZONE) == {}, "no movement by then"

    shown = finance.development_json(any_engine, "2026-12", ZONE, product="auto")
    assert list(shown["products"]) == ["auto"]
    paid = json.loads(json.dumps(shown))["products"]["auto"]["paid"]
    assert paid["values"][1] == ["1200.00", "2000.00", None] and len(paid["ldf"]) == 2
    assert paid["ultimates"][1] == "2000.00", "the November origin at age 2, with no factor beyond, is final"


def test_a_ledger_of_one_month_makes_a_triangle_of_one_cell(any_engine):
    a = claim(any_engine, "auto", beijing(2026, 11, 3, 9, 0))
    book(any_engine, a, beijing(2026, 11, 3, 10, 0), "reserve", "5000.00")
    found = finance.estimates(any_engine, "2026-11", ZONE)
    assert found["auto"]["incurred"].triangle.values == [[D("5000.00")]]
    assert (found["auto"]["incurred"].ultimates, found["auto"]["paid"].ultimates) == ([5000.0], [0.0])


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def cli_env(monkeypatch, settings, engine):
    monkeypatch.setenv("DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("CLAIMS_VAR_DIR", str(settings.var_dir))
    get_settings.cache_clear()
    yield engine
    get_settings.cache_clear()


def test_the_command_line_prints_the_month_end_figures_as_csv(cli_env, capsys, tmp_path):
    two_months(cli_env)
    assert cli_main.main(["finance", "export", "--month", "2026-11"]) == 0
    printed = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    figures = finance.month_end(cli_env, "2026-11", ZONE)
    assert printed[0] == list(finance.COLUMNS) and len(printed) == 1 + len(figures) == 3
    assert printed[1:] == [[v or "" for v in row.values()] for row in finance.figures_json(figures)]

    assert cli_main.main(["finance", "export", "--month", "2026-12", "--format", "parquet", "--out",
                          str(tmp_path / "dec.parquet")]) == 0
    assert "wrote the figures of 4 claims" in capsys.readouterr().out
    assert cli_main.main(["finance", "export", "--month", "2026-12", "--format", "parquet"]) == 2
    assert "--out" in capsys.readouterr().err
    assert cli_main.main(["finance", "export", "--month", "2026-13"]) == 2
    assert capsys.readouterr().err.startswith("error: --month: '2026-13'")


def test_the_command_line_prints_the_triangles_factors_and_ibnr(cli_env, capsys):
    two_months(cli_env)
    assert cli_main.main(["finance", "triangle", "--month", "2026-12", "--product", "auto"]) == 0
    out = capsys.readouterr().out
    assert "== auto: paid" in out and "== auto: incurred" in out and "health" not in out
    assert "factor" in out and "IBNR" in out and "6,800.00" in out
    assert cli_main.main(["finance", "triangle", "--month", "2026-12", "--product", "marine"]) == 2
    assert "auto, health" in capsys.readouterr().err


# --------------------------------------------------------------------------- the HTTP API


async def test_the_api_gives_the_figures_to_finance_and_managers_only(settings, engine, tmp_path):
    two_months(engine)
    services = Services(client=None, engine=engine, store=FolderStore(tmp_path / "documents"),
                        verifier=keys.verifier_for(settings), code_secret=b"c" * 32, task_queue="finance",
                        max_upload_bytes=1024, codec=EncryptionCodec(keyring_for(settings)),
                        signer=keys.signer_for(settings))

    def auth(subject: str, role: str) -> dict[str, str]:
        token = development.mint(settings.var_dir, subject=subject, roles=[role], audience=settings.oidc_audience)
        return {"Authorization": f"Bearer {token}"}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ready=services)),
                                 base_url="http://api") as http:
        assert (await http.get("/finance/claims", params={"month": "2026-11"})).status_code == 401
        for subject, role in (("sup-1", "supervisor"), ("adj-1", "adjuster"), ("aud-1", "auditor")):
            refused = await http.get("/finance/claims", params={"month": "2026-11"}, headers=auth(subject, role))
            assert refused.status_code == 403, f"{role} took the figures"
        bad = await http.get("/finance/claims", params={"month": "2026-13"}, headers=auth("fin-1", "finance"))
        assert (bad.status_code, bad.headers["content-type"]) == (400, "application/problem+json")
        problem = bad.json()
        assert problem["errors"][0]["field"] == "month" and problem["detail"].startswith("month: ")

        figures = finance.month_end(engine, "2026-11", ZONE)
        as_csv = await http.get("/finance/claims", params={"month": "2026-11", "format": "csv"},
                                headers=auth("fin-1", "finance"))
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        assert as_csv.text == finance.figures_csv(figures)
        assert 'filename="claims-2026-11.csv"' in as_csv.headers["content-disposition"]
        as_json = await http.get("/finance/claims", params={"month": "2026-11"}, headers=auth("mgr-1", "manager"))
        assert as_json.status_code == 200 and as_json.json() == finance.figures_json(figures)
        as_parquet = await http.get("/finance/claims", params={"month": "2026-11", "format": "parquet"},
                                    headers=auth("fin-1", "finance"))
        assert as_parquet.status_code == 200 and as_parquet.content[:4] == b"PAR1"
