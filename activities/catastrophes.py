"""Declared catastrophes in the database, and the open claims told when one is declared (docs/catastrophes.md).

The catastrophe's workflow writes its row when declared and when closed; a claim's intake reads the open ones
(`open_catastrophe_for`, inside the coverage check) and joins the one its incident falls in. When a catastrophe is
declared, the open claims that might fall in it are told (a signal carrying nothing): each looks for itself and
joins by the same rule, so nothing a signal carries can put a claim in a catastrophe.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.rules import catastrophes
from db.engine import now_utc, refuses_bad_data, utc
from models.catastrophes import CATASTROPHE_DECLARED, CatastropheRef, CatastropheRules, CatastropheStatus
from models.contract import workflow_id_for
from models.messages import FindCatastrophe
from models.tables import CatastropheRow, Claim

log = structlog.get_logger(__name__)

def open_catastrophe_for(session: Session, claim_type: str, region: str | None,
                         occurred_at: datetime) -> CatastropheRef | None:
    """The open catastrophe a claim of this type, region and incident time falls in (the earliest declared)."""
    if region is None:
        return None
    rows = session.exec(select(CatastropheRow).where(col(CatastropheRow.closed_at).is_(None))
                        .order_by(col(CatastropheRow.declared_at))).all()
    for row in rows:
        if catastrophes.joins(row.regions, utc(row.starts_at), utc(row.ends_at), row.claim_types, claim_type,
                              region, occurred_at):
            return CatastropheRef(code=row.code, rules=CatastropheRules.model_validate(row.rules))
    return None


class CatastropheActivities:
    def __init__(self, engine: Engine, client: Client | None = None) -> None:
        self.engine = engine
        self.client = client

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def record_catastrophe(self, status: CatastropheStatus) -> None:
        """Write the catastrophe's row as its workflow has it (declared, or closed)."""
        values: dict[str, Any] = {"name": status.name, "regions": list(status.regions),
                  "claim_types": [t.value for t in status.claim_types], "starts_at": utc(status.starts_at),
                  "ends_at": utc(status.ends_at), "rules": status.rules.model_dump(mode="json"),
                  "declared_by": status.declared_by, "declared_at": utc(status.declared_at or now_utc()),
                  "closed_at": utc(status.closed_at) if status.closed_at else None, "closed_by": status.closed_by}
        with Session(self.engine) as session:
            row = session.get(CatastropheRow, status.code)
            if row is None:
                row = CatastropheRow(code=status.code, **values)
            else:
                for name, value in values.items():
                    setattr(row, name, value)
            session.add(row)
            session.commit()
        log.info("catastrophe recorded", code=status.code, state=status.state)

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def find_catastrophe(self, req: FindCatastrophe) -> CatastropheRef | None:
        """The open catastrophe a claim falls in, if any (a claim told of a declaration looks for itself)."""
        with Session(self.engine) as session:
            return open_catastrophe_for(session, req.claim_type, req.region, req.occurred_at)

    @activity.defn(no_thread_cancel_exception=True)
    def claims_to_tell(self, code: str) -> list[str]:
        """The open claims of the catastrophe's types and regions, with an incident in its window, that have joined
        none: those told of its declaration."""
        with Session(self.engine) as session:
            row = session.get(CatastropheRow, code)
            if row is None:
                return []
            claims = session.exec(select(Claim).where(col(Claim.closed_at).is_(None), col(Claim.catastrophe).is_(None),
                                                      col(Claim.claim_type).in_(row.claim_types))).all()
            return sorted(c.claim_id for c in claims if catastrophes.joins(
                row.regions, utc(row.starts_at), utc(row.ends_at), row.claim_types, c.claim_type, c.region,
                utc(c.incident_at)))

    @activity.defn
    async def tell_claims(self, claim_ids: list[str]) -> int:
        """Signal each claim to look whether it falls in the new catastrophe; the number told (a claim that has
        ended meanwhile is passed over)."""
        assert self.client is not None, "the worker binds this activity with a client"
        told = 0
        for claim_id in claim_ids:
            try:
                await self.client.get_workflow_handle(workflow_id_for(claim_id)).signal(CATASTROPHE_DECLARED)
                told += 1
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
            activity.heartbeat(told)
        return told
