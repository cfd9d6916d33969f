"""Machine readings of claim documents, kept with the claim: the fields sealed, the invoice number readable so
that one invoice claimed twice is found (the `reused_invoice` rule)."""

from __future__ import annotations

import json

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from temporalio import activity

from config.encryption import open_text, seal_text
from config.keyring import Keyring
from db.engine import now_utc, refuses_bad_data, utc
from models.documents import DocumentReading, ReadField, ReadingRecorded, RecordReading
from models.tables import DocumentReadingRow

log = structlog.get_logger(__name__)

READINGS = DocumentReadingRow.__table__  # type: ignore[attr-defined]


class ReadingActivities:
    def __init__(self, engine: Engine, keyring: Keyring) -> None:
        self.engine = engine
        self.keyring = keyring

    @activity.defn(no_thread_cancel_exception=True)
    @refuses_bad_data
    def record_reading(self, req: RecordReading) -> ReadingRecorded:
        """Keep the reading (a later one of the same document, or a correction, replaces it); the other claims
        whose documents carry its invoice number."""
        reading = req.reading
        number = reading.fields.get("invoice_number")
        values = {"kind": reading.kind, "engine": reading.engine, "readable": reading.readable,
                  "invoice_number": number.value if number else None, "read_at": utc(reading.read_at),
                  "fields": seal_text(self.keyring, json.dumps({k: f.model_dump() for k, f in reading.fields.items()},
                                                               ensure_ascii=False)),
                  "corrected_at": now_utc() if any(f.corrected_by for f in reading.fields.values()) else None}
        with self.engine.begin() as conn:
            where = (READINGS.c.claim_id == req.claim_id) & (READINGS.c.ref == reading.ref)
            if conn.execute(update(READINGS).where(where).values(**values)).rowcount == 0:
                conn.execute(insert(READINGS).values(claim_id=req.claim_id, ref=reading.ref, **values))
            others = [] if number is None else conn.execute(
                select(READINGS.c.claim_id).where(READINGS.c.invoice_number == number.value,
                                                  READINGS.c.claim_id != req.claim_id).distinct()).scalars().all()
        log.info("document reading recorded", claim_id=req.claim_id, kind=reading.kind, readable=reading.readable,
                 fields=sorted(reading.fields), reused_by=len(others))
        return ReadingRecorded(reused_by=sorted(others))

    def readings(self, claim_id: str) -> list[DocumentReading]:
        """A claim's readings, opened (for staff screens and tests)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(READINGS).where(READINGS.c.claim_id == claim_id).order_by(READINGS.c.id)).all()
        return [DocumentReading(ref=r.ref, kind=r.kind, engine=r.engine, pages=0, readable=r.readable,
                                read_at=r.read_at, fields={k: ReadField.model_validate(v) for k, v in
                                                           json.loads(open_text(self.keyring, r.fields)).items()})
                for r in rows]
