"""Reading a claim's uploaded documents by machine and acting on what they say (docs/rules.md#risk-scoring risk rules).

Each uploaded document of a kind that is read (`models/documents.py` READ_KINDS; only the API's content-addressed
uploads, `doc://sha256/...`) goes to the OCR workers' task queue, so a slow page never holds a claims worker and
the OCR workers scale apart. A claim waits for its readings (for `Rules.document_reading_hours`; the OCR workers
may be stopped meanwhile, and the claim goes on when they return); a document not read in that time is left to a
person. The checks (`core/rules/documents.py`) add risk reasons that route the claim like any other; what
could not be read with confidence asks a person and never denies anything.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.readings import ReadingActivities
    from core.rules.documents import check_documents, with_findings
    from models.contract import DocumentRef
    from models.documents import (
        READ_KINDS,
        DocumentReading,
        ReadDocument,
        RecordReading,
    )
    from ocr.activities import OcrActivities
    from workflows.claim_state import ClaimState
    from workflows.shell import STEADY_RETRY, Shell

UPLOADED = "doc://sha256/"


class Reader:
    """Reads a claim's uploaded documents on the OCR workers' queue and rescores the claim on what they say."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell

    @property
    def s(self) -> ClaimState:
        return self.shell.s

    async def read_new(self) -> None:
        """Read the uploaded documents not read yet, then check every reading against the claim. What the lifecycle
        noted is written first: a reading may take hours (with nothing to read, claims started since
        `letters-with-the-lifecycle` go on without a write)."""
        s = self.s
        fresh = [d for d in s.submitted if d.kind in READ_KINDS and d.ref.startswith(UPLOADED)
                 and d.ref not in s.readings]
        if fresh or not s.letters_with_lifecycle:
            await self.shell.flush()
        unique = list({d.ref: d for d in fresh}.values())
        if not s.local_one_at_a_time:
            await asyncio.gather(*(self._read(d) for d in unique))
        else:  # read side by side, recorded one by one: a recording may be a local activity, one at a time
            readings = await asyncio.gather(*(self._reading(d) for d in unique))
            for document, reading in zip(unique, readings, strict=True):
                await self._record(document, reading)
        await self.check()

    async def _read(self, document: DocumentRef) -> None:
        await self._record(document, await self._reading(document))

    async def _reading(self, document: DocumentRef) -> DocumentReading:
        """The document read by the OCR workers, or marked unreadable when it could not be read in time."""
        claim, rules = self.s.require_ready()
        assert rules.ocr_task_queue is not None
        try:
            reading = await workflow.execute_activity_method(
                OcrActivities.read_document,
                ReadDocument(claim_id=claim.claim_id, ref=document.ref, kind=document.kind),
                task_queue=rules.ocr_task_queue,
                schedule_to_close_timeout=timedelta(hours=rules.document_reading_hours),
                start_to_close_timeout=timedelta(minutes=5), retry_policy=STEADY_RETRY)
        except ActivityError as err:  # not read in time, or it could not be: a person reads it
            reading = DocumentReading(ref=document.ref, kind=document.kind, engine="none", pages=0, readable=False,
                                      read_at=workflow.now())
            workflow.logger.warning("document not read: %s", err.cause or err)
        return reading

    async def _record(self, document: DocumentRef, reading: DocumentReading) -> None:
        s = self.s
        claim, _ = s.require_ready()
        recorded = await self.shell.activity(ReadingActivities.record_reading,
                                             RecordReading(claim_id=claim.claim_id, reading=reading))
        s.readings[document.ref] = reading
        s.reused_invoices[document.ref] = recorded.reused_by
        read = f"{len(reading.fields)} fields" if reading.readable else "no readable text: a person reads it"
        await self.shell.note("document_read", detail=f"{document.kind}: {read}")

    async def check(self) -> None:
        s = self.s
        claim, rules = s.require_ready()
        if s.risk is None or s.policy is None:
            return
        findings = check_documents(claim, s.policy, list(s.readings.values()), s.reused_invoices, rules.documents,
                                   number_expected=s.invoice_number_expected)
        s.document_review = findings.review
        rescored = with_findings(s.risk, findings, rules.risk)
        if rescored != s.risk:
            s.risk = rescored
            rules_hit = ", ".join(r.rule for r in findings.reasons) or "document reasons cleared"
            await self.shell.note("risk_rescored", detail=f"risk {s.risk.score} ({s.risk.level}): {rules_hit}",
                                  changes={"risk_score": s.risk.score, "risk_level": s.risk.level})
            self.shell.upsert_search_attributes()


def normalised(name: str, value: str) -> str:
    """A corrected value in the form readings hold: dates ISO, amounts with two decimals."""
    text = value.strip()
    if name.endswith("date"):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    if name == "total":
        try:
            amount = Decimal(text.replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"{text!r} is not an amount") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"{text!r} is not an amount")
        return f"{amount.quantize(Decimal('0.01'))}"
    if not text:
        raise ValueError("empty")
    return text
