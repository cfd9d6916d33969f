"""A declared catastrophe's claims as its supervisors follow them (docs/catastrophes.md): how many stand at each
stage, how long the paid ones took to pay, the backlog and the claims waiting longest. Read from the claims read
model, which carries each claim's catastrophe."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from statistics import median

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db.engine import utc
from models.tables import CatastropheRow, Claim

OLDEST = 10
"""How many of the claims waiting longest the view lists."""


@dataclass
class CatastropheView:
    catastrophe: CatastropheRow
    by_stage: dict[str, int] = field(default_factory=dict)
    """Open claims by stage, and closed ones by outcome (`closed:<outcome>`)."""
    open_claims: int = 0
    paid_claims: int = 0
    hours_to_pay: float | None = None
    """The median time from registration to closing paid, in hours."""
    oldest: list[Claim] = field(default_factory=list)
    """The open claims registered longest ago, oldest first."""


def catastrophes(engine: Engine) -> list[CatastropheRow]:
    """Every declared catastrophe, latest declared first."""
    with Session(engine) as session:
        return list(session.exec(select(CatastropheRow).order_by(col(CatastropheRow.declared_at).desc())).all())


def catastrophe_view(engine: Engine, code: str) -> CatastropheView | None:
    with Session(engine) as session:
        row = session.get(CatastropheRow, code)
        if row is None:
            return None
        claims = list(session.exec(select(Claim).where(Claim.catastrophe == code)
                                   .order_by(col(Claim.registered_at))).all())
    view = CatastropheView(row)
    for claim in claims:
        key = claim.stage if claim.closed_at is None else f"closed:{claim.outcome}"
        view.by_stage[key] = view.by_stage.get(key, 0) + 1
    waiting = [c for c in claims if c.closed_at is None]
    view.open_claims, view.oldest = len(waiting), waiting[:OLDEST]
    paid = [c for c in claims if c.outcome == "paid" and c.closed_at is not None]
    view.paid_claims = len(paid)
    if paid:
        view.hours_to_pay = median(_hours(c.registered_at, c.closed_at) for c in paid if c.closed_at is not None)
    return view


def _hours(start: datetime, end: datetime) -> float:
    return (utc(end) - utc(start)).total_seconds() / 3600
