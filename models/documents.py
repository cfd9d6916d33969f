"""What machine reading found in a claim's documents (OCR): per document, the fields extracted with the engine's
confidence, and the rule table its checks are scored by."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import Field

from models.contract import Message, Role
from models.fields import Credential, FreeText, Identifier

READ_KINDS: dict[str, str] = {
    "repair_invoice": "invoice",
    "medical_invoice": "invoice",
    "expense_list": "expense_list",
    "diagnosis_report": "diagnosis",
    "accident_report": "accident",
    "id_card": "id_card",
}
"""The document kinds that are read, and the layout each is read as. Others (photos, forms) are not."""

FIELDS: dict[str, tuple[str, ...]] = {
    "invoice": ("invoice_number", "date", "issuer", "tax_id", "total", "items"),
    "expense_list": ("date", "total", "items"),
    "diagnosis": ("admission_date", "diagnosis_date"),
    "accident": ("accident_date", "place"),
    "id_card": ("name", "id_number"),
}
"""The fields each layout yields. Dates are ISO (YYYY-MM-DD), amounts plain decimals, the ID number masked;
`items` lists the line items read, `description amount; ...`."""


class ReadField(Message):
    value: str
    confidence: float = Field(ge=0, le=1)
    corrected_by: str | None = None
    """The adjuster who corrected the machine's reading (confidence is then 1)."""


class DocumentReading(Message):
    ref: str
    kind: str
    engine: str
    """The OCR engine and its version."""
    pages: int
    readable: bool
    """False when the engine found no usable text: a person reads the document."""
    fields: dict[str, ReadField] = Field(default_factory=dict)
    read_at: datetime
    seconds: float = 0.0


FIELD_NAMES: dict[str, str] = {
    "invoice_number": "发票号码", "date": "开票日期", "issuer": "开票方", "tax_id": "纳税人识别号", "total": "金额合计",
    "admission_date": "入院日期", "diagnosis_date": "诊断日期", "accident_date": "事故日期", "place": "事故地点",
    "name": "姓名", "id_number": "身份证号", "items": "费用明细",
}
"""How staff screens name the fields (Chinese first)."""


class CorrectDocumentField(Message):
    """Staff correct a field the machine read (the `correct_document_field` update): recorded with who did it,
    and the claim's checks run again on the corrected reading."""

    ref: str = Field(min_length=1, max_length=200)
    field: Identifier
    value: FreeText
    by: Identifier
    role: Role
    credential: Credential | None = None


class ReadDocument(Message):
    """An OCR request: the document's content-addressed reference and kind."""

    claim_id: str
    ref: str
    kind: str


class RecordReading(Message):
    claim_id: str
    reading: DocumentReading


class ReadingRecorded(Message):
    """A reading stored with its document; the other claims whose invoices carry the same invoice number."""

    reused_by: list[str] = Field(default_factory=list)


class DocumentRules(Message):
    """How readings are checked (docs/rules.md#risk-scoring points, like the other risk rules)."""

    min_confidence: float = 0.80
    """A field read with less is not trusted: a person looks at it; it never counts against the claim."""
    total_tolerance: Decimal = Decimal("0.10")
    """Invoices may total this share more or less than the line items claimed."""
    total_mismatch_points: int = 30
    date_before_incident_points: int = 30
    date_outside_policy_points: int = 40
    reused_invoice_points: int = 40
    id_name_mismatch_points: int = 30
