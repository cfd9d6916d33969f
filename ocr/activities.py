"""`read_document`: an uploaded document read by machine, its fields extracted for its kind. Runs on the OCR
workers' task queue; needs the document store and nothing else (no database)."""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from documents.store import DocumentStore
from models.documents import READ_KINDS, DocumentReading, ReadDocument
from ocr import extract
from ocr.engine import ENGINE, Engine, Unreadable

log = structlog.get_logger(__name__)

PREFIX = "doc://sha256/"


class OcrActivities:
    def __init__(self, store: DocumentStore, engine: Engine | None = None) -> None:
        self.store = store
        self.engine = engine or Engine()

    @activity.defn(no_thread_cancel_exception=True)
    def read_document(self, req: ReadDocument) -> DocumentReading:
        if not req.ref.startswith(PREFIX) or req.kind not in READ_KINDS:
            raise ApplicationError(f"{req.ref} ({req.kind}) is not an uploaded document that is read",
                                   type="NotReadable", non_retryable=True)
        try:
            content = self.store.get(req.ref.removeprefix(PREFIX))
        except KeyError:
            raise ApplicationError(f"{req.ref} is not in the document store", type="NotReadable",
                                   non_retryable=True) from None
        now = activity.info().current_attempt_scheduled_time
        try:
            segments, seconds = self.engine.read_document(content)
        except Unreadable as err:
            log.warning("document could not be opened", claim_id=req.claim_id, kind=req.kind, error=str(err))
            return DocumentReading(ref=req.ref, kind=req.kind, engine=ENGINE, pages=0, readable=False, read_at=now)
        fields = extract.fields(READ_KINDS[req.kind], [s for page in segments for s in page])
        readable = any(s.text.strip() and s.confidence >= extract.USABLE for page in segments for s in page)
        log.info("document read", claim_id=req.claim_id, kind=req.kind, pages=len(segments),
                 seconds=round(seconds, 2), fields=sorted(fields), readable=readable)
        return DocumentReading(ref=req.ref, kind=req.kind, engine=ENGINE, pages=len(segments), readable=readable,
                               fields=fields, read_at=now, seconds=round(seconds, 3))
