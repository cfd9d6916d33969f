"""Finance figures from the financial ledger (db/ledger.py; docs/finance.md): each claim's reserve, paid, recoveries
and incurred as at a month's end, for export (CSV, Parquet, JSON), and the loss development triangles per product
with the chain-ladder estimate of what is incurred but not reported (IBNR).

Every figure is a sum of ledger rows whose transaction time falls before the month's end in the report time zone,
summed by the database. The chain ladder is the Casualty Actuarial Society's `chainladder` package, imported only
when an estimate is asked for (it takes seconds to import): nothing else in the product imports it.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement

from models.tables import LedgerRow

LEDGER = LedgerRow.__table__  # type: ignore[attr-defined]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

Figure = Literal["paid", "incurred"]
FIGURES: tuple[Figure, ...] = ("paid", "incurred")
Format = Literal["csv", "parquet", "json"]

SIGNS: dict[Figure, dict[str, int]] = {
    "paid": {"payment": 1},
    "incurred": {"payment": 1, "reserve": 1, "recovery": -1, "recovery_reserve": -1},
}
"""How each movement counts in a triangle's figure: paid is the payments; (net) incurred is paid plus the case reserve
less what recoveries brought and are still expected to bring. Write-offs count in neither."""

FIRST_YEAR, LAST_YEAR = 1900, 2999
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


# --------------------------------------------------------------------------- months


def parse_month(text: str) -> date:
    """The first day of the month `text` names, written YYYY-MM (2026-11). ValueError naming what is wrong: the cut
    of every figure depends on it, so nothing near a month is taken for one."""
    found = _MONTH.fullmatch(text)
    if found is None:
        raise ValueError(f"month: {text[:40]!r} is not a month written YYYY-MM, e.g. 2026-11")
    year, month = int(found[1]), int(found[2])
    if not 1 <= month <= 12:
        raise ValueError(f"month: {text!r} names month {found[2]}; months run from 01 to 12")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"month: {text!r} names year {year}; the years run from {FIRST_YEAR} to {LAST_YEAR}")
    return date(year, month, 1)


def next_month(first: date) -> date:
    """The first day of the month after the one `first` starts."""
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def month_cut(first: date, zone: str) -> datetime:
    """The first instant after the month that `first` starts, in the report time zone, as UTC: a movement belongs to
    the month when its transaction time is before it (up to the month's last instant, e.g. 23:59:59.999999 on
    30 November in Beijing, which is 15:59:59.999999 UTC)."""
    return datetime.combine(next_month(first), time.min, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def months_from(first: date, last: date) -> list[date]:
    """The first days of the months from `first`'s to `last`'s, both included."""
    months, at = [], first.replace(day=1)
    while at <= last:
        months.append(at)
        at = next_month(at)
    return months


# --------------------------------------------------------------------------- each claim at a month's end


@dataclass(frozen=True)
class ClaimFigures:
    """One claim's figures as at a month's end (docs/finance.md defines each), with the facts every one of its
    ledger rows carries."""

    claim_id: str
    policy_number: str
    policy_period: str | None
    product: str
    accident_date: date
    reserve: Decimal
    paid: Decimal
    recovered: Decimal
    recovery_reserve: Decimal
    written_off: Decimal
    incurred: Decimal
    """Net incurred: paid + reserve - recovered - recovery_reserve."""
    gross_incurred: Decimal
    """paid + reserve."""


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ClaimFigures))
AMOUNTS: tuple[str, ...] = COLUMNS[COLUMNS.index("reserve"):]
"""The amount columns: every column from `reserve` on."""


def _sum_of(movement: str) -> ColumnElement[Any]:
    """The sum of one movement's amounts among a group's rows (zero when it has none)."""
    return func.sum(case((LEDGER.c.movement == movement, LEDGER.c.amount), else_=0)).label(movement)


def _cents(value: Any) -> Decimal:
    """An amount from the database (Decimal; on SQLite a float may come back) to the cent."""
    return Decimal(str(value if value is not None else 0)).quantize(CENT, ROUND_HALF_UP)


def month_end(engine: Engine, month: str, zone: str) -> list[ClaimFigures]:
    """Each claim's figures as at the end of `month` (YYYY-MM) in the time zone `zone`, summed by the database from
    the ledger rows whose transaction time falls before the month's end; in claim id order (by code point, whatever
    the database's collation). A claim with no row by then is left out. Every row of a claim carries the same facts
    (written from the claim as registered): `max` only picks them out of the group."""
    cut = month_cut(parse_month(month), zone)
    query = (select(LEDGER.c.claim_id, func.max(LEDGER.c.policy_number).label("policy_number"),
                    func.max(LEDGER.c.policy_period).label("policy_period"),
                    func.max(LEDGER.c.product).label("product"),
                    func.max(LEDGER.c.accident_date).label("accident_date"),
                    _sum_of("reserve"), _sum_of("payment"), _sum_of("recovery"), _sum_of("recovery_reserve"),
                    _sum_of("write_off"))
             .where(LEDGER.c.transaction_at < cut).group_by(LEDGER.c.claim_id))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    figures = []
    for row in rows:
        reserve, paid = _cents(row.reserve), _cents(row.payment)
        recovered, expected = _cents(row.recovery), _cents(row.recovery_reserve)
        accident = row.accident_date if isinstance(row.accident_date, date) else date.fromisoformat(row.accident_date)
        figures.append(ClaimFigures(
            claim_id=row.claim_id, policy_number=row.policy_number, policy_period=row.policy_period,
            product=row.product, accident_date=accident, reserve=reserve, paid=paid, recovered=recovered,
            recovery_reserve=expected, written_off=_cents(row.write_off),
            incurred=paid + reserve - recovered - expected, gross_incurred=paid + reserve))
    return sorted(figures, key=lambda f: f.claim_id)


def _texts(claim: ClaimFigures) -> dict[str, str | None]:
    """A claim's figures as text: amounts as decimal strings with two places, the accident day as YYYY-MM-DD, a
    claim outside every policy period with no period (None)."""
    values: dict[str, str | None] = {
        "claim_id": claim.claim_id, "policy_number": claim.policy_number, "policy_period": claim.policy_period,
        "product": claim.product, "accident_date": claim.accident_date.isoformat()}
    for name in AMOUNTS:
        amount: Decimal = getattr(claim, name)
        values[name] = f"{amount.quantize(CENT, ROUND_HALF_UP):.2f}"
    return values


def figures_json(figures: Iterable[ClaimFigures]) -> list[dict[str, str | None]]:
    """The figures as JSON objects: every amount a string with two decimal places (exact, unlike a JSON number read
    as a float), `policy_period` null for a claim outside every period."""
    return [_texts(f) for f in figures]


def figures_csv(figures: Iterable[ClaimFigures]) -> str:
    """The figures as CSV (RFC 4180: a header row, comma-separated, CRLF line ends, quoted only where needed),
    UTF-8 text without a byte-order mark; amounts with two decimal places, an empty policy period for a claim outside
    every period."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in figures_json(figures):
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    return out.getvalue()


def figures_parquet(figures: Iterable[ClaimFigures]) -> bytes:
    """The figures as a Parquet file: amounts as decimal(18, 2) columns (exact), the accident day as a date, the
    rest as strings (the policy period null outside every period)."""
    import pyarrow as pa  # here only: exports are rare, and the import is not light
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.decimal128(18, 2) if c in AMOUNTS else pa.date32() if c == "accident_date"
                         else pa.string()) for c in COLUMNS])
    listed = list(figures)
    table = pa.Table.from_pydict({c: [getattr(f, c) for f in listed] for c in COLUMNS}, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def export(figures: Iterable[ClaimFigures], path: Path, format: Literal["csv", "parquet"]) -> None:
    """Write the figures to `path` as CSV (`figures_csv`) or Parquet (`figures_parquet`)."""
    if format == "csv":
        path.write_bytes(figures_csv(figures).encode("utf-8"))
    elif format == "parquet":
        path.write_bytes(figures_parquet(figures))
    else:
        raise ValueError(f"format: {format!r} is not csv or parquet")


# --------------------------------------------------------------------------- triangles


def _money(value: Decimal | float | None) -> str | None:
    """An amount for JSON: a decimal string to the cent, or None."""
    if value is None:
        return None
    return f"{Decimal(str(value)).quantize(CENT, ROUND_HALF_UP):.2f}"


@dataclass(frozen=True)
class Triangle:
    """One product's cumulative paid or incurred, as plain data: a row per origin (accident month, oldest first), a
    column per development age in months (1 is the accident month itself, 2 the month after, ...). The cell of
    origin i and age a is the figure of the origin's claims as at the end of the valuation month i + a - 1; cells
    past the month asked are None."""

    product: str
    figure: Figure
    origins: list[str]
    """The accident months, YYYY-MM."""
    values: list[list[Decimal | None]]

    @property
    def ages(self) -> list[int]:
        return list(range(1, len(self.origins) + 1))

    @property
    def latest(self) -> list[Decimal]:
        """Each origin's figure as at the month asked: the last cell of its row (the triangle's diagonal)."""
        return [row[len(self.origins) - 1 - i] or ZERO for i, row in enumerate(self.values)]

    def as_json(self) -> dict[str, Any]:
        """The triangle for JSON (a chart draws it as it is): amounts as strings to the cent, null past the
        diagonal."""
        return {"product": self.product, "figure": self.figure, "origins": self.origins, "developments": self.ages,
                "values": [[_money(v) for v in row] for row in self.values],
                "latest": [_money(v) for v in self.latest]}


def triangles(engine: Engine, month: str, zone: str) -> dict[str, dict[Figure, Triangle]]:
    """The paid and incurred triangles of each product as at the end of `month`, from the earliest accident month
    among the ledger rows up to then to `month` itself. The database sums the rows by product, accident day,
    movement and the month of their transaction; the months are added up here. Rows of accidents after `month` are
    left out; no rows by then, no triangles."""
    asked = parse_month(month)
    cut, after = month_cut(asked, zone), next_month(asked)
    within = (LEDGER.c.transaction_at < cut, LEDGER.c.accident_date < after)
    with engine.connect() as conn:
        earliest = conn.execute(select(func.min(LEDGER.c.accident_date)).where(*within)).scalar()
        if earliest is None:
            return {}
        if not isinstance(earliest, date):
            earliest = date.fromisoformat(earliest)
        months = months_from(earliest, asked)
        moved = (select(LEDGER.c.product, LEDGER.c.accident_date, LEDGER.c.movement, LEDGER.c.amount,
                        _month_of_transaction(months, zone).label("bucket"))
                 .where(*within).subquery())
        rows = conn.execute(select(moved.c.product, moved.c.accident_date, moved.c.movement, moved.c.bucket,
                                   func.sum(moved.c.amount).label("amount"))
                            .group_by(moved.c.product, moved.c.accident_date, moved.c.movement, moved.c.bucket)).all()
    return _accumulate(rows, months)


def _month_of_transaction(months: list[date], zone: str) -> ColumnElement[Any]:
    """Which of `months` a row's transaction falls in, by its index (the first month takes anything earlier too).
    Compared with each month's cut in UTC, so SQLite and PostgreSQL count alike. Grouped on from a subquery:
    PostgreSQL would not match the same expression with its parameters bound again in GROUP BY."""
    if len(months) == 1:
        return literal(0)
    return case(*[(LEDGER.c.transaction_at < month_cut(m, zone), i) for i, m in enumerate(months[:-1])],
                else_=len(months) - 1)


def _accumulate(rows: Sequence[Any], months: list[date]) -> dict[str, dict[Figure, Triangle]]:
    """The triangles from each (product, accident day, movement, transaction month) sum: movements signed by figure,
    added up month by month from each origin's own month on."""
    index = {m: i for i, m in enumerate(months)}
    n = len(months)
    moved: dict[str, dict[Figure, list[list[Decimal]]]] = defaultdict(
        lambda: {f: [[ZERO] * n for _ in range(n)] for f in FIGURES})
    for row in rows:
        accident = row.accident_date if isinstance(row.accident_date, date) else date.fromisoformat(row.accident_date)
        origin = index[accident.replace(day=1)]
        for figure in FIGURES:
            sign = SIGNS[figure].get(row.movement, 0)
            if sign:
                moved[row.product][figure][origin][int(row.bucket)] += sign * _cents(row.amount)
    labels = [m.strftime("%Y-%m") for m in months]
    result: dict[str, dict[Figure, Triangle]] = {}
    for product in sorted(moved):
        result[product] = {}
        for figure in FIGURES:
            values: list[list[Decimal | None]] = []
            for origin, by_month in enumerate(moved[product][figure]):
                running = ZERO
                cells: list[Decimal | None] = [None] * n
                for valuation, amount in enumerate(by_month):
                    running += amount
                    if valuation >= origin:
                        cells[valuation - origin] = running
                values.append(cells)
            result[product][figure] = Triangle(product, figure, labels, values)
    return result


# --------------------------------------------------------------------------- the chain ladder


@dataclass(frozen=True)
class Estimate:
    """The chain-ladder estimate of one triangle: volume-weighted age-to-age factors, each origin's ultimate and
    IBNR (ultimate less the latest figure), no tail (the last age is taken as final)."""

    triangle: Triangle
    factors: list[float | None]
    """`factors[k]` takes age k + 1 to age k + 2; None where no origin has a figure at both ages (the package
    then takes the factor as 1)."""
    ultimates: list[float]
    ibnr: list[float]

    @property
    def total_ultimate(self) -> float:
        return math.fsum(self.ultimates)

    @property
    def total_ibnr(self) -> float:
        return math.fsum(self.ibnr)

    def as_json(self) -> dict[str, Any]:
        """The triangle and its estimate for JSON: amounts as strings to the cent, factors as numbers to six
        places (null where none could be estimated)."""
        return {**self.triangle.as_json(),
                "ldf": [None if f is None else round(f, 6) for f in self.factors],
                "ultimates": [_money(u) for u in self.ultimates], "ibnr": [_money(i) for i in self.ibnr],
                "total_ultimate": _money(self.total_ultimate), "total_ibnr": _money(self.total_ibnr)}


def _number(value: Any) -> float:
    """A figure from the package: NaN (its mark for an empty cell, a zero included) as 0."""
    number = float(value)
    return 0.0 if math.isnan(number) else number


def ibnr(triangle: Triangle) -> Estimate:
    """The chain ladder on `triangle` with the `chainladder` package: `Development(average="volume")`, then
    `Chainladder`. The package treats a zero cell as empty: an origin with nothing at an age adds nothing to the
    factors from or to that age, and its ultimate is zero. A triangle of one month has no factor to estimate: its
    ultimate is its figure."""
    latest = [float(v) for v in triangle.latest]
    if len(triangle.origins) < 2:
        return Estimate(triangle, [], latest, [0.0] * len(latest))
    import chainladder as cl  # here only: importing it takes seconds, and no workflow or worker may load it
    import pandas as pd

    cells = [(f"{origin}-01", f"{triangle.origins[i + age - 1]}-01", float(value))
             for i, (origin, row) in enumerate(zip(triangle.origins, triangle.values, strict=True))
             for age, value in enumerate(row, 1) if value is not None]
    frame = pd.DataFrame(cells, columns=["origin", "valuation", "amount"])
    fitted = cl.Triangle(frame, origin="origin", development="valuation", columns=["amount"], cumulative=True)
    model = cl.Chainladder().fit(cl.Development(average="volume").fit_transform(fitted))
    factors = [None if math.isnan(f) else float(f) for f in model.ldf_.values.ravel()[:len(triangle.origins) - 1]]
    ultimates = [_number(u) for u in model.ultimate_.values.ravel()]
    return Estimate(triangle, factors, ultimates, [u - v for u, v in zip(ultimates, latest, strict=True)])


def estimated(found: dict[str, dict[Figure, Triangle]]) -> dict[str, dict[Figure, Estimate]]:
    """The chain-ladder estimate of each of these triangles."""
    return {name: {figure: ibnr(triangle) for figure, triangle in by_figure.items()}
            for name, by_figure in found.items()}


def estimates(engine: Engine, month: str, zone: str, product: str | None = None) -> dict[str, dict[Figure, Estimate]]:
    """The chain-ladder estimate of each product's paid and incurred triangles as at the end of `month` (only
    `product`'s when one is named)."""
    return estimated({name: by_figure for name, by_figure in triangles(engine, month, zone).items()
                      if product in (None, name)})


def development_json(engine: Engine, month: str, zone: str, product: str | None = None) -> dict[str, Any]:
    """The triangles and their estimates as JSON, for a chart: per product, the paid and the incurred triangle with
    its origins, development ages, cells, factors (`ldf`), ultimates and IBNR."""
    return {"month": month, "timezone": zone,
            "products": {name: {figure: estimate.as_json() for figure, estimate in by_figure.items()}
                         for name, by_figure in estimates(engine, month, zone, product).items()}}


# --------------------------------------------------------------------------- as text


def _amount(value: Decimal | float | None, width: int = 14) -> str:
    return f"{'-' if value is None else f'{Decimal(str(value)).quantize(CENT, ROUND_HALF_UP):,.2f}':>{width}}"


def estimate_text(estimate: Estimate) -> str:
    """One triangle and its estimate as a table to read on a terminal: the cells, the factors under the ages they
    lead from, and per origin the latest figure, the ultimate and the IBNR, with the totals."""
    t = estimate.triangle
    lines = [f"{'origin':<8}" + "".join(f"{age:>14}" for age in t.ages)]
    lines += [f"{origin:<8}" + "".join(_amount(v) for v in row) for origin, row in zip(t.origins, t.values,
                                                                                       strict=True)]
    factors = "".join(f"{'-' if f is None else f'{f:.6f}':>14}" for f in estimate.factors)
    lines.append(f"{'factor':<8}{factors}{'(tail 1)':>14}")
    lines.append("")
    lines.append(f"{'origin':<8}{'latest':>14}{'ultimate':>14}{'IBNR':>14}")
    lines += [f"{origin:<8}{_amount(latest)}{_amount(ultimate)}{_amount(ibnr_)}" for origin, latest, ultimate, ibnr_
              in zip(t.origins, t.latest, estimate.ultimates, estimate.ibnr, strict=True)]
    lines.append(f"{'total':<8}{_amount(sum(t.latest, ZERO))}{_amount(estimate.total_ultimate)}"
                 f"{_amount(estimate.total_ibnr)}")
    return "\n".join(lines)


def estimates_text(found: dict[str, dict[Figure, Estimate]], month: str, zone: str) -> str:
    """Every product's triangles and estimates as text, paid then incurred."""
    parts = []
    for product, by_figure in found.items():
        for figure, estimate in by_figure.items():
            parts.append(f"== {product}: {figure}, cumulative, as at the end of {month} ({zone}); columns are "
                         f"development months\n{estimate_text(estimate)}")
    return "\n\n".join(parts)
