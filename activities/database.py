"""Claims database activities: the read model, documents, coverage, risk facts, payout facts, event log (the policies
they read: activities/policies.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from pydantic_core import PydanticUndefined
from sqlalchemy import bindparam, func, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.catastrophes import open_catastrophe_for
from activities.policies import (
    held_on_policy,
    period_key,
    period_named,
    period_on,
    policy_row,
    policy_terms,
    status_on,
)
from config.encryption import SealKeys
from config.masking import mask_free_text
from config.rules import load_rules
from config.settings import get_settings
from core.rules import intake
from core.rules.payout import ZERO, compute_payout
from core.rules.risk import RiskFacts, score_risk
from db import cloud_events as cloud
from db import event_log, ledger, outbox
from db.engine import now_utc, refuses_bad_data, utc
from identity import codes
from models.contract import ClaimInput, ErrorType, Payout, RiskAssessment
from models.messages import (
    AssessRisk,
    AssignHandler,
    ClaimEvent,
    ComplaintRecord,
    ComputePayout,
    CoverageResult,
    EventBatch,
    LedgerMove,
    LogHead,
    RecordDocuments,
    RegisterClaim,
)
from models.tables import Claim, ClaimDocument, ClaimEventRow, ComplaintRow, Payment, Policy, PolicyPeriod

log = structlog.get_logger(__name__)

CLAIMS = Claim.__table__  # type: ignore[attr-defined]
PAYMENTS = Payment.__table__  # type: ignore[attr-defined]
DOCUMENTS = ClaimDocument.__table__  # type: ignore[attr-defined]
CLAIM_DEFAULTS = {name: field.default for name, field in Claim.model_fields.items()
                  if field.default is not None and field.default is not PydanticUndefined}
"""The claims row's defaults (the sums paid and outstanding), for a row inserted in plain SQL."""
COMPLAINTS = ComplaintRow.__table__  # type: ignore[attr-defined]

CLAIM_MOVED = update(CLAIMS).where(CLAIMS.c.claim_id == bindparam("moved_claim_id"))
"""The read model moved by a claim's events: the columns set are the parameters' (built once; it runs for every
batch of events)."""

READ_MODEL_FIELDS = {"stage", "outcome", "path", "risk_score", "risk_level", "handler", "payout_amount",
                     "closed_at", "survey_score", "recovery_outstanding", "deciding_role", "catastrophe"}


class ClaimsDatabase:
    """Activities on the claims database; the worker hands it the engine."""

    def __init__(self, engine: Engine, seal_key: bytes | SealKeys, event_source: str = cloud.DEFAULT_SOURCE,
                 search_key: bytes | None = None, report_timezone: str = "Asia/Shanghai") -> None:
        self.engine = engine
        self.report_timezone = report_timezone
        """The accident month of the ledger's rows is the incident's month here (the report time zone)."""
        self.seal_key = seal_key
        self.event_source = event_source
        self.search_key = search_key
        """Keys the claimant's name and phone for the workbench's search (identity/codes.py `claimant_key`); the
        read model keeps those keys and a masked form, never the name or the number."""

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def register_claim(self, req: RegisterClaim) -> None:
        """Record a new claim and its documents. A claim id is registered once, by one workflow chain."""
        with Session(self.engine) as session:
            self.register_in(session, req)

    def register_in(self, session: Session, req: RegisterClaim, period: PolicyPeriod | None = None) -> str | None:
        """`register_claim` in the caller's session (it commits), with the incident's policy `period` when the caller
        has looked it up already; the policy period the claim is registered under (`Claim.policy_period`)."""
        claim = req.claim
        refused = intake.refusal(claim, req.registered_at)
        if refused:
            raise ApplicationError(refused, type=ErrorType.INVALID_CLAIM, non_retryable=True)
        policy = policy_row(session, claim.policy_number)
        existing = session.execute(sa_select(CLAIMS.c.chain_id, CLAIMS.c.stage, CLAIMS.c.outcome,
                                             CLAIMS.c.policy_period)
                                   .where(CLAIMS.c.claim_id == claim.claim_id)).first()
        if existing is not None:
            if existing.chain_id == req.chain_id:
                return str(existing.policy_period) if existing.policy_period is not None else None  # a retry
            raise ApplicationError(
                f"claim {claim.claim_id} is already registered (stage {existing.stage}, outcome "
                f"{existing.outcome}); a second start does not create a second claim",
                type=ErrorType.DUPLICATE_CLAIM, non_retryable=True)
        at = utc(req.registered_at)
        if period is None:
            period = period_on(session, policy.policy_number, claim.incident.occurred_at.date())
        row = {"claim_id": claim.claim_id, "chain_id": req.chain_id, "policy_number": claim.policy_number,
               "policy_period": period_key(period), "claim_type": claim.claim_type.value, "stage": "registered",
               "claimed_amount": claim.claimed_amount, "incident_at": utc(claim.incident.occurred_at),
               "registered_at": at, "region": claim.incident.region,
               "stage_entered_at": {"registered": at.isoformat()}, "updated_at": now_utc(),
               **self._claimant_search(claim)}
        session.execute(insert(CLAIMS).values({**CLAIM_DEFAULTS, **row}))  # what is given overrides a default
        self._add_documents(session, claim.claim_id, claim.documents, at)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise ApplicationError(f"claim {claim.claim_id} was registered concurrently",
                                   type=ErrorType.DUPLICATE_CLAIM, non_retryable=True) from None
        log.info("claim registered", claim_id=claim.claim_id, policy_number=claim.policy_number,
                 claim_type=claim.claim_type.value)
        return period_key(period)

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def check_coverage(self, claim: ClaimInput) -> CoverageResult:
        """Policy exists, is in force on the incident date, covers this type and cause, waiting period passed.
        The terms returned are those of the period the incident falls in: the claim keeps them to the end."""
        with Session(self.engine) as session:
            return self.coverage_in(session, claim)[0]

    def coverage_in(self, session: Session, claim: ClaimInput) -> tuple[CoverageResult, PolicyPeriod | None]:
        """`check_coverage` in the caller's session, and the policy period the incident falls in."""
        incident_day = claim.incident.occurred_at.date()
        latest = policy_row(session, claim.policy_number)
        period = period_on(session, claim.policy_number, incident_day)
        policy: Policy | PolicyPeriod = period if period is not None else latest
        terms = policy_terms(policy)
        cause = claim.incident.cause.lower()
        refusal: tuple[str, str] | None = None
        status = status_on(policy, incident_day)
        if period is None:
            refusal = (f"incident on {incident_day} is outside the period of cover "
                       f"{policy.effective_from} to {policy.effective_to}", "period_of_cover")
        elif status != "active":
            refusal = (f"policy {policy.policy_number} was {status} on {incident_day}", "policy_status")
        elif policy.product != claim.claim_type.value:
            refusal = (f"a {policy.product} policy does not cover a {claim.claim_type.value} claim",
                       "product_scope")
        elif cause in {e.lower() for e in policy.exclusions}:
            refusal = (f"cause '{claim.incident.cause}' is excluded by the policy", "exclusion")
        elif incident_day < policy.effective_from + timedelta(days=policy.waiting_period_days):
            refusal = (f"incident within the {policy.waiting_period_days}-day waiting period", "waiting_period")
        log.info("coverage checked", claim_id=claim.claim_id, covered=refusal is None)
        if refusal is None:
            found = open_catastrophe_for(session, claim.claim_type.value, claim.incident.region,
                                         claim.incident.occurred_at)
            return CoverageResult(covered=True, policy=terms, catastrophe=found), period
        return CoverageResult(covered=False, reason=refusal[0], clause=refusal[1], policy=terms), period

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def assess_risk(self, req: AssessRisk) -> RiskAssessment:
        with Session(self.engine) as session:
            return self.risk_in(session, req)

    def risk_in(self, session: Session, req: AssessRisk, period: PolicyPeriod | None = None) -> RiskAssessment:
        """`assess_risk` in the caller's session, with the incident's policy `period` when the caller has it."""
        claim = req.claim
        window = timedelta(days=req.risk.frequent_claims_window_days)
        incident_at = claim.incident.occurred_at
        refs = [d.ref for d in claim.documents]
        policy: Policy | PolicyPeriod = period or period_on(session, claim.policy_number, incident_at.date()) or \
            policy_row(session, claim.policy_number)
        on_policy = session.exec(
            select(func.count()).select_from(Claim)
            .where(Claim.policy_number == claim.policy_number)
            .where(col(Claim.incident_at) >= utc(incident_at - window))
            .where(col(Claim.incident_at) <= utc(incident_at + window))
        ).one()
        reused = session.exec(
            select(ClaimDocument.ref).where(col(ClaimDocument.ref).in_(refs))
            .where(ClaimDocument.claim_id != claim.claim_id).distinct()
        ).all() if refs else []
        facts = RiskFacts(
            days_incident_to_report=(req.reported_at - incident_at).days,
            days_policy_start_to_incident=(incident_at.date() - policy.effective_from).days,
            claimed_amount=claim.claimed_amount,
            sum_insured=policy.sum_insured,
            claims_on_policy_in_window=int(on_policy),
            reused_document_refs=list(reused),
        )
        assessment = score_risk(facts, req.risk)
        log.info("risk assessed", claim_id=claim.claim_id, score=assessment.score, level=assessment.level)
        return assessment

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def assign_handler(self, req: AssignHandler) -> str:
        """A dedicated green-channel handler: of the type's handlers, the one with the fewest open claims."""
        rules = load_rules(get_settings())
        handlers = rules.green_channel_handlers.get(req.claim_type.value) or ["unassigned"]
        with Session(self.engine) as session:
            open_claims = dict(session.exec(
                select(Claim.handler, func.count()).where(col(Claim.handler).in_(handlers))
                .where(col(Claim.outcome).is_(None)).group_by(Claim.handler)).all())
        handler = min(handlers, key=lambda h: (open_claims.get(h, 0), h))
        log.info("handler assigned", claim_id=req.claim_id, handler=handler)
        return handler

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def record_documents(self, req: RecordDocuments) -> list[str]:
        """Record documents sent after the first report; the references among them that another claim
        has already used (the reused-document fraud rule looks at every document, not only the first)."""
        refs = [d.ref for d in req.documents]
        with Session(self.engine) as session:
            self._add_documents(session, req.claim_id, req.documents, utc(req.at))
            session.commit()
            reused = session.exec(
                select(ClaimDocument.ref).where(col(ClaimDocument.ref).in_(refs))
                .where(ClaimDocument.claim_id != req.claim_id).distinct()).all() if refs else []
        log.info("documents recorded", claim_id=req.claim_id, kinds=[d.kind for d in req.documents],
                 reused=len(reused))
        return sorted(reused)

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def compute_payout(self, req: ComputePayout) -> Payout:
        """The payout and its basis, against what other claims have paid or hold on the policy in the
        policy period of this claim's incident. (The pay activity holds the sum insured again when it pays.)

        The terms are those the claim captured at its coverage check (`req.terms`): an endorsement made while the
        claim is open does not change them. A claim outside every period of cover has no sum insured to pay from."""
        with Session(self.engine) as session:
            return self.payout_in(session, req)

    def payout_in(self, session: Session, req: ComputePayout, registered: tuple[str | None] | None = None) -> Payout:
        """`compute_payout` in the caller's session; `registered` holds the claim's policy period when the caller
        has just registered it (None: read from the claim's row)."""
        policy: Policy | PolicyPeriod = policy_row(session, req.policy_number)
        if registered is None:
            claim = session.execute(sa_select(CLAIMS.c.policy_period)
                                    .where(CLAIMS.c.claim_id == req.claim_id)).first()
            known, key = claim is not None, (claim.policy_period if claim is not None else None)
        else:
            known, key = True, registered[0]
        period = period_named(session, req.policy_number, key)
        paid_on_policy = held_on_policy(session, req.policy_number, key, except_claim=req.claim_id)
        terms = req.terms or policy_terms(period or policy)
        sum_insured = terms.sum_insured if period is not None or not known else ZERO
        payout = compute_payout(
            claimed_amount=req.claimed_amount, line_items=req.line_items,
            confirmed_amount=req.confirmed_amount, deductible=terms.deductible,
            payout_ratio=terms.payout_ratio, sum_insured=sum_insured,
            paid_on_policy=paid_on_policy, advances_paid=req.advances_paid, clauses=req.clauses)
        log.info("payout computed", claim_id=req.claim_id, amount=str(payout.amount), total=str(payout.total))
        return payout

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def record_complaint(self, record: ComplaintRecord) -> None:
        """Move the complaint's row forward and publish each milestone it gains, in one transaction. A write older
        than the row's (a retry that lost its answer after a later write) is ignored; a time once set stays and
        clocks only add up, so a repeated write changes nothing and adds no event."""
        subject = cloud.complaint_subject(record.complaint_id)
        with event_log.locked_for_claim(self.engine, subject) as conn:
            found = conn.execute(select(COMPLAINTS).where(COMPLAINTS.c.complaint_id == record.complaint_id)).first()
            before = dict(found._mapping) if found is not None else None
            if before is not None and record.version and record.version <= before["version"]:
                log.info("complaint write older than the row's: ignored", complaint_id=record.complaint_id,
                         version=record.version, row_version=before["version"])
                return
            after = _moved_forward(before, record.model_dump())
            seq = before["event_seq"] if before else 0
            now = now_utc()
            for event, detail in cloud.complaint_milestones(before, after):
                seq += 1
                id_, type_, body = cloud.complaint_event(source=self.event_source, subject=subject, seq=seq,
                                                         event=event, detail=detail, at=now, row=after)
                outbox.add(conn, subject=subject, seq=seq, event_id=id_, type_=type_, body=body, at=now)
            after["event_seq"] = seq
            if before is None:
                conn.execute(insert(COMPLAINTS).values(**after))
            else:
                conn.execute(update(COMPLAINTS).where(COMPLAINTS.c.complaint_id == record.complaint_id)
                             .values(**after))

    @activity.defn(no_thread_cancel_exception=True)
    def claim_participants(self, claim_id: str) -> list[str]:
        """Everyone who acted on a claim (its event log's actors, its handler): none of them handles a complaint
        about it."""
        with Session(self.engine) as session:
            actors = set(session.exec(select(ClaimEventRow.actor).where(ClaimEventRow.claim_id == claim_id)).all())
            claim = session.get(Claim, claim_id)
        if claim is not None and claim.handler:
            actors.add(claim.handler)
        return sorted(a for a in actors if a and a != "system")

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def record_event(self, ev: ClaimEvent) -> LogHead | None:
        """Append to the claim's event log, move the read model and, for a published event, put it in the
        outbox for other systems: one transaction. An event whose key the claim already has was recorded by an
        earlier attempt: nothing more is done. The answer, which the workflow's history keeps, is the row's seq
        and hash: `audit verify-log` holds the log against it, so rows removed later are seen. (Never None; the
        histories of claims recorded before heads were returned hold None, and replay it.)"""
        return self._record(ev.claim_id, [ev])[-1]

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def record_events(self, batch: EventBatch) -> list[LogHead]:
        """`record_event` for several events of one claim, in their order and in one transaction: the events a
        claim's lifecycle noted in one workflow task (claims started since `lean-fast-path`). The answer is each
        row's seq and hash."""
        if any(ev.claim_id != batch.claim_id for ev in batch.events):
            raise ApplicationError("record_events: every event must be of the batch's claim",
                                   type=ErrorType.INVALID_UPDATE, non_retryable=True)
        return self._record(batch.claim_id, batch.events) if batch.events else []

    def _record(self, claim_id: str, events: list[ClaimEvent]) -> list[LogHead]:
        keyed = [(ev.key or uuid.uuid4().hex,  # typed text is never stored in clear
                  ev.model_copy(update={"detail": mask_free_text(ev.detail, ev.names)})) for ev in events]
        for attempt in (1, 2):
            try:
                with event_log.locked_for_claim(self.engine, claim_id) as conn:
                    heads = self._append(conn, claim_id, keyed)
                break
            except IntegrityError:
                # Under the claim's lock only a writer that skipped the lock could get here; re-check.
                with self.engine.connect() as conn:
                    found = [event_log.head_of(conn, claim_id, key) for key, _ in keyed]
                if all(f is not None for f in found):
                    return [LogHead(seq=f.seq, hash=f.hash) for f in found if f is not None]
                if attempt == 2:
                    raise
        new = [ev.event for (_, ev), head in zip(keyed, heads, strict=True) if head.new]
        if new:
            log.info("claim event" if len(new) == 1 else "claim events", claim_id=claim_id, claim_event=",".join(new),
                     by=",".join(sorted({ev.by for _, ev in keyed})), key=",".join(k for k, _ in keyed))
        if len(new) < len(keyed):
            log.info("claim event already recorded", claim_id=claim_id, count=len(keyed) - len(new))
        return [LogHead(seq=h.seq, hash=h.hash) for h in heads]

    def _append(self, conn: Connection, claim_id: str, keyed: list[tuple[str, ClaimEvent]]) -> list[event_log.Head]:
        """The events under the claim's lock, in order: each one's log row, outbox row and ledger rows, and the read
        model moved once for them all (each published event carries the stage and outcome as they stood after
        it). An event whose key is recorded already adds nothing."""
        row = conn.execute(sa_select(CLAIMS.c.stage, CLAIMS.c.outcome, CLAIMS.c.stage_entered_at, CLAIMS.c.catastrophe,
                                  *ledger.FACT_COLUMNS).where(CLAIMS.c.claim_id == claim_id)).first()
        stage, outcome = (row.stage, row.outcome) if row is not None else (None, None)
        catastrophe = row.catastrophe if row is not None else None
        entered = dict(row.stage_entered_at or {}) if row is not None else {}
        moved: dict[str, Any] = {}
        heads = event_log.append_all(conn, claim_id, [event_log.Entry(key, ev.at, ev.event, ev.by, ev.detail)
                                                      for key, ev in keyed], now_utc(), self.seal_key)
        published: list[dict[str, object]] = []
        moves: list[tuple[str, datetime, LedgerMove]] = []
        for (key, ev), head in zip(keyed, heads, strict=True):
            if not head.new:
                continue
            values = self._read_model_values(ev.changes)
            if "stage" in values:
                entered[values["stage"]] = utc(ev.at).isoformat()
                moved["stage_entered_at"] = dict(entered)
            moved.update(values)
            stage, outcome = values.get("stage", stage), values.get("outcome", outcome)
            catastrophe = values.get("catastrophe", catastrophe)
            if cloud.published(ev.event):
                published.append(self._to_outbox(ev, head.seq, stage, outcome, catastrophe))
            moves += self._ledger_moves(ev, key)
        outbox.add_all(conn, published)
        self._to_ledger(conn, claim_id, moves, ledger.facts_from(row, self.report_timezone) if row else None)
        if any(h.new for h in heads):
            conn.execute(CLAIM_MOVED, {**moved, "updated_at": now_utc(), "moved_claim_id": claim_id})
        return heads

    @staticmethod
    def _ledger_moves(ev: ClaimEvent, key: str) -> list[tuple[str, datetime, LedgerMove]]:
        """The money the event moved, keyed for the ledger; a reason typed by staff masked as the event's detail is."""
        return [(f"event/{key}/{i}", move.at or ev.at,
                 move.model_copy(update={"cause": mask_free_text(move.cause, ev.names)[:200]}))
                for i, move in enumerate(ev.ledger, 1)]

    def _to_ledger(self, conn: Connection, claim_id: str, moves: list[tuple[str, datetime, LedgerMove]],
                   facts: ledger.ClaimFacts | None) -> None:
        """The money a batch of events moved, in the financial ledger (under the claim's lock the event log holds),
        with the claim's facts as its read model holds them (None: not registered)."""
        if not moves:
            return
        if facts is None:
            raise ApplicationError(f"claim {claim_id} is not registered: its money cannot be booked",
                                   type=ErrorType.INVALID_UPDATE, non_retryable=True)
        ledger.append_all(conn, claim_id, facts, moves, now_utc(), self.seal_key)

    def _to_outbox(self, ev: ClaimEvent, seq: int, stage: str | None, outcome: str | None,
                   catastrophe: str | None) -> dict[str, object]:
        """The event's outbox row, as published (`outbox.add_all` writes a batch's rows together)."""
        id_, type_, body = cloud.claim_event(
            source=self.event_source, claim_id=ev.claim_id, seq=seq, event=ev.event, at=ev.at, actor=ev.by,
            detail=ev.detail, changes=ev.changes, stage=stage, outcome=outcome, catastrophe=catastrophe)
        return outbox.row(subject=ev.claim_id, seq=seq, event_id=id_, type_=type_, body=body, at=now_utc())

    def _claimant_search(self, claim: ClaimInput) -> dict[str, Any]:
        person = claim.claimant
        masked = f"{codes.masked_name(person.name)} {codes.masked(person.phone, person.email)}"
        if self.search_key is None:
            return {"claimant_masked": masked}
        return {"claimant_masked": masked, "name_key": codes.claimant_key(self.search_key, person.name),
                "phone_key": codes.claimant_key(self.search_key, person.phone) if person.phone else None}

    @staticmethod
    def _read_model_values(changes: dict[str, Any]) -> dict[str, Any]:
        """The claims row's new values from an event's changes, typed for their columns."""
        unknown = set(changes) - READ_MODEL_FIELDS
        if unknown:
            raise ApplicationError(f"unknown read-model fields {sorted(unknown)}", non_retryable=True)
        values = dict(changes)
        for amount in ("payout_amount", "recovery_outstanding"):
            if values.get(amount) is not None:
                values[amount] = Decimal(str(values[amount]))
        if values.get("closed_at") is not None:
            closed = values["closed_at"]
            values["closed_at"] = utc(datetime.fromisoformat(closed) if isinstance(closed, str) else closed)
        return values

    @staticmethod
    def _add_documents(session: Session, claim_id: str, documents: Iterable[Any], at: datetime) -> None:
        """The documents the claim does not hold yet, in one statement of the session's transaction."""
        seen = {(r.kind, r.ref) for r in session.execute(
            sa_select(DOCUMENTS.c.kind, DOCUMENTS.c.ref).where(DOCUMENTS.c.claim_id == claim_id))}
        rows = []
        for doc in documents:
            if (doc.kind, doc.ref) not in seen:
                seen.add((doc.kind, doc.ref))
                rows.append({"claim_id": claim_id, "kind": doc.kind, "ref": doc.ref, "submitted_at": at})
        if rows:
            session.execute(insert(DOCUMENTS), rows)


def _moved_forward(before: dict[str, Any] | None, record: dict[str, Any]) -> dict[str, Any]:
    """A complaint's row after a write: what the workflow knows now, never losing what an earlier write set."""
    if before is None:
        return {**record, "event_seq": 0}
    breached = list(record["breached"])
    for clock in before["breached"]:
        if before["breached"].count(clock) > breached.count(clock):
            breached.append(clock)
    return {**record,
            "handler": record["handler"] or before["handler"],
            "complex": record["complex"] or before["complex"],
            "acknowledged_at": before["acknowledged_at"] or record["acknowledged_at"],
            "resolved_at": before["resolved_at"] or record["resolved_at"],
            "root_cause": record["root_cause"] or before["root_cause"],
            "breached": sorted(breached),
            "warned": sorted(set(before["warned"]) | set(record["warned"])),
            "event_seq": before["event_seq"], "version": max(record["version"], before["version"])}
