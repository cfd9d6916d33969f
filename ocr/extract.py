"""The fields a document's layout yields, from what the engine read (`ocr/layouts.py` finds them), in the names
and forms of `models/documents.py`: dates ISO, amounts plain decimals, an ID number masked."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from config.masking import mask_text
from models.documents import ReadField
from ocr import layouts
from ocr.engine import Segment

USABLE = 0.5
"""A segment read with less confidence is noise, not text."""

NAMES: dict[str, dict[str, str]] = {
    "invoice": {"invoice_no": "invoice_number", "date": "date", "issuer": "issuer", "tax_id": "tax_id",
                "total": "total", "items": "items"},
    "expense_list": {"date": "date", "total": "total", "items": "items"},
    "diagnosis": {"admit_date": "admission_date", "diagnosis_date": "diagnosis_date"},
    "accident": {"accident_date": "accident_date", "location": "place"},
}
"""Per layout: the finder's name for a field -> ours."""

ID_NUMBER = re.compile(r"[1-9]\d{16}[\dXx]")


def _plain(value: Any) -> str:
    if isinstance(value, list):  # line items: (description, amount)
        return "; ".join(f"{description} {amount:.2f}" for description, amount in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _id_card(lines: list[layouts.Line]) -> dict[str, layouts.Field]:
    found: dict[str, layouts.Field] = {}
    name = layouts._first(layouts.find_after(lines, ["姓名"]), layouts.first_word)
    if name:
        found["name"] = name
    for line in lines:
        digits = layouts.fix_digits(layouts.norm(line.text)).replace(" ", "")
        match = ID_NUMBER.search(digits)
        if match:
            found["id_number"] = layouts.Field(mask_text(match.group(0)), min(s.conf for s in line.segs))
            break
    return found


def fields(layout: str, segments: Sequence[Segment]) -> dict[str, ReadField]:
    """The layout's fields found in the segments, each with the engine's confidence in what it was read from."""
    raw = [(s.box, s.text, s.confidence) for s in segments if s.confidence >= USABLE]
    if layout == "id_card":
        found = _id_card(layouts.build_lines(raw))
        names = {"name": "name", "id_number": "id_number"}
    else:
        found = layouts.extract(raw, "invoice" if layout == "expense_list" else layout)
        names = NAMES[layout]
    return {ours: ReadField(value=_plain(found[theirs].value), confidence=round(min(1.0, found[theirs].confidence), 3))
            for theirs, ours in names.items() if theirs in found and found[theirs].value not in (None, "")}
