"""Invoices from the second generator (testkit/held_out_documents.py), drawn and read through the product's path:
PNG -> `ocr.engine` -> `ocr.extract`, then the document checks. The most common invoices in China, a paper VAT
invoice and a 数电 invoice, each clean and as a phone photo, are read right and ask no person. These draw from the
tuning seed; `bench/held_out.py --held-back` reports on the seed kept out of tuning."""

from __future__ import annotations

import random

import pytest

from core.rules.documents import CHECKED, EXPECTED_WITH_NUMBER
from models.documents import DocumentRules
from ocr.engine import Engine
from ocr.extract import fields
from testkit.held_out_documents import LAYOUTS, photo, png, sample

TUNING_SEED = 2024


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def drawn(layout: str) -> list[tuple[str, dict, object]]:
    """The tuning seed's first document of this layout, clean and as the phone photo the bench takes of it."""
    r = random.Random(TUNING_SEED)
    for i in range(len(LAYOUTS) * 2):
        name, values, image = sample(i, r)
        picture = photo(image, r)
        if name == layout:
            return [("clean", values, image), ("photo", values, picture)]
    raise AssertionError(f"no {layout} drawn")


@pytest.mark.parametrize("layout", ["paper VAT invoice", "数电 invoice"])
def test_a_correct_vat_or_digital_invoice_is_read_without_asking_a_person(engine: Engine, layout: str):
    rules = DocumentRules()
    for condition, values, image in drawn(layout):
        pages, _ = engine.read_document(png(image))
        found = fields("invoice", [s for page in pages for s in page])
        read = {k: found[k].value for k in ("total", "date", "invoice_number") if k in found}
        assert read == {"total": f"{values['total']:.2f}", "date": values["date"].isoformat(),
                        "invoice_number": values["number"]}, (condition, read)
        doubts = [k for k, f in found.items() if k in CHECKED and f.confidence < rules.min_confidence]
        assert not doubts and set(EXPECTED_WITH_NUMBER["invoice"]) <= set(found), (condition, doubts, found)
