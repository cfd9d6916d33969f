"""Hostile files: documents whose pages would take a worker down are measured from their headers and refused
before anything is rendered or decoded, at upload and by the OCR (documents/pages.py)."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from PIL import Image

from config.settings import PROJECT_ROOT
from documents.pages import MAX_PAGE_PIXELS, MAX_PAGES, TooLarge, measure
from documents.uploads import DocumentRejected
from testkit.hostile_files import PDF_BOMB, pdf_of, png_header_of

BOMB_PEAK_MB = 400
"""What reading a bomb may cost an OCR process at most: the interpreter and its libraries, no page."""


def test_the_pdf_bomb_is_small_and_refused_from_its_page_boxes():
    assert len(PDF_BOMB) < 2000
    with pytest.raises(TooLarge, match=r"page 1 is 28800 x 28800 pixels \(829 megapixels\); the limit is 40"):
        measure(PDF_BOMB)


def test_an_image_that_declares_a_huge_size_is_refused_from_its_header():
    with pytest.raises(TooLarge, match="megapixels"):
        measure(png_header_of(100_000, 100_000))
    side = int(MAX_PAGE_PIXELS ** 0.5) + 10
    with pytest.raises(TooLarge, match="the limit is 40 megapixels"):
        measure(png_header_of(side, side))


def test_too_many_pages_are_refused_and_ordinary_documents_pass():
    with pytest.raises(TooLarge, match=f"the PDF has {MAX_PAGES + 1} pages; the limit is {MAX_PAGES} pages"):
        measure(pdf_of(MAX_PAGES + 1, 595, 842))
    assert [s.pixels for s in measure(pdf_of(2, 595, 842))] == [1190 * 1684] * 2  # A4 at 2x
    photo = io.BytesIO()
    Image.new("RGB", (4000, 3000), "white").save(photo, format="JPEG")
    assert measure(photo.getvalue())[0].pixels == 12_000_000
    with pytest.raises(DocumentRejected, match="cannot be opened"):
        measure(b"%PDF-1.7 not really")


READ_A_BOMB = """
import resource, sys
from ocr.engine import Engine, Unreadable
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # rendering one bomb page needs 3.3 GB
content = sys.stdin.buffer.read()
try:
    Engine().read_document(content)
    print("read")
except Unreadable as err:
    print(f"unreadable: {err}")
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(int(peak.split()[1]) // 1024)  # this process's own peak: ru_maxrss would count the forking parent's too
"""


@pytest.mark.parametrize("bomb", [PDF_BOMB, png_header_of(100_000, 100_000)], ids=["pdf", "png"])
def test_the_ocr_refuses_a_bomb_before_rendering_and_stays_small(bomb):
    """In a process of its own, with its address space capped below what one bomb page needs rendered: the read
    ends as unreadable, naming the limit, and the process's peak stays under the bound for a bomb."""
    done = subprocess.run([sys.executable, "-c", READ_A_BOMB], input=bomb, capture_output=True, cwd=PROJECT_ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    outcome, peak_mb = done.stdout.decode().strip().splitlines()
    assert outcome.startswith("unreadable: ") and "megapixels" in outcome, outcome
    assert int(peak_mb) < BOMB_PEAK_MB, f"{peak_mb} MB"
