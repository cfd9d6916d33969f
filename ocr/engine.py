"""The OCR engine: RapidOCR (PP-OCR models on ONNX Runtime), whose wheel carries its models, so it runs offline.

Pages: an image is one page; a PDF's pages are rendered at 2x (about 144 dpi) with PDFium, up to `READ_PAGES`,
each measured first against the limits of documents/pages.py.
One engine per process, loaded on first use (about a second, 130 MB) and used by one page at a time: ONNX Runtime
already spreads one page over the cores, so a process is sized by its cores and more processes read more pages.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from documents.pages import MAX_PAGE_PIXELS, READ_PAGES, RENDER_SCALE, measure
from documents.uploads import DocumentRejected, sniff

Image.MAX_IMAGE_PIXELS = MAX_PAGE_PIXELS  # Pillow's own guard, behind the measure below, at the same figure

ENGINE = f"rapidocr-onnxruntime {version('rapidocr-onnxruntime')}"


class Unreadable(Exception):
    """The content is no image or PDF the engine can open."""


@dataclass(frozen=True)
class Segment:
    box: Sequence[Sequence[float]]
    """Four corner points, in page pixels."""
    text: str
    confidence: float


def pages(content: bytes) -> list[np.ndarray]:
    """The document's first `READ_PAGES` pages as RGB arrays, each measured before it is rendered or decoded:
    a document over a limit is `Unreadable`, naming the limit."""
    try:
        measure(content)
    except DocumentRejected as err:
        raise Unreadable(str(err)) from None
    media_type = sniff(content)
    if media_type == "application/pdf":
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(content)
        except pdfium.PdfiumError as err:
            raise Unreadable(f"PDF: {err}") from None
        try:
            return [np.asarray(pdf[i].render(scale=RENDER_SCALE).to_pil().convert("RGB"))
                    for i in range(min(len(pdf), READ_PAGES))]
        finally:
            pdf.close()
    try:
        opened = Image.open(io.BytesIO(content))
        upright = ImageOps.exif_transpose(opened)  # a phone photo taken sideways
        return [np.asarray(upright.convert("RGB"))]
    except Exception as err:  # noqa: BLE001  (Pillow raises many kinds for content it cannot decode)
        raise Unreadable(f"{media_type or 'unknown type'}: {err}") from None


class Engine:
    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR

            self._engine = RapidOCR()
        return self._engine

    def read(self, page: np.ndarray) -> list[Segment]:
        with self._lock:
            result, _ = self._loaded()(page, use_cls=True)
        return [Segment(box, str(text), float(score)) for box, text, score in (result or [])]

    def read_document(self, content: bytes) -> tuple[list[list[Segment]], float]:
        """Every page's segments, and the seconds it took."""
        started = time.perf_counter()
        found = [self.read(page) for page in pages(content)]
        return found, time.perf_counter() - started
