"""How big a document's pages are, read from its headers before anything is rendered or decoded.

A 1 KB PDF can declare ten pages of 14,400 points square (2.5 GB each rendered at 2x), and a PNG a hundred
thousand pixels square; decoding either takes a worker down. So every page is measured first, from the PDF's page
boxes or the image's header, and a document over a limit is refused: at upload, with the limit named, and by the
OCR worker, which records it as unreadable and never tries again.

The limits bound what one page costs to read: `MAX_PAGE_PIXELS` at 4 bytes a pixel is 160 MB for the rendered
page, and the OCR engine works on a copy scaled down from it (docs/operators.md, "Claim documents").
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from documents.uploads import DocumentRejected, sniff

RENDER_SCALE = 2.0
"""PDF pages are rendered at 2x their size in points (about 144 dpi)."""
MAX_PAGES = 100
"""Pages a PDF may have; the OCR reads the first `READ_PAGES` of them."""
READ_PAGES = 10
MAX_PAGE_PIXELS = 40_000_000
"""Pixels one page may have once rendered or decoded: a 40-megapixel photo, or an A0 drawing rendered at 2x."""
MAX_FRAMES = 1
"""Images are one page (a multi-page TIFF is sent as a PDF)."""


class TooLarge(DocumentRejected):
    """A document over one of the limits, named in the message."""

    def __init__(self, message: str) -> None:
        super().__init__("file", message)


@dataclass(frozen=True)
class PageSize:
    width: int
    height: int
    """In pixels, as the page is rendered (a PDF) or decoded (an image)."""

    @property
    def pixels(self) -> int:
        return self.width * self.height


def refuse_oversized(content: bytes) -> None:
    """At upload: a document over a limit is refused (`TooLarge`); one that cannot be opened here is kept as the
    claimant sent it, since nothing will render it (the OCR records it as unreadable, staff see the file)."""
    try:
        measure(content)
    except TooLarge:
        raise
    except DocumentRejected:
        return


def measure(content: bytes) -> list[PageSize]:
    """Every page's size in pixels, from the headers alone; `TooLarge` naming the limit a document is over,
    `DocumentRejected` for content that cannot be opened."""
    media_type = sniff(content)
    sizes = _pdf_pages(content) if media_type == "application/pdf" else _image_pages(content, media_type)
    for number, size in enumerate(sizes, 1):
        if size.pixels > MAX_PAGE_PIXELS:
            raise TooLarge(f"page {number} is {size.width} x {size.height} pixels "
                           f"({size.pixels / 1e6:.0f} megapixels); the limit is {MAX_PAGE_PIXELS / 1e6:.0f} "
                           "megapixels a page: send a smaller scan or photo")
    return sizes


def _pdf_pages(content: bytes) -> list[PageSize]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(content)
    except pdfium.PdfiumError as err:
        raise DocumentRejected("file", f"the PDF cannot be opened ({err})") from None
    try:
        count = len(pdf)
        if count > MAX_PAGES:
            raise TooLarge(f"the PDF has {count} pages; the limit is {MAX_PAGES} pages")
        sizes = []
        for i in range(count):
            width, height = pdf.get_page_size(i)  # points, from the page box: nothing is rendered
            sizes.append(PageSize(round(abs(width) * RENDER_SCALE), round(abs(height) * RENDER_SCALE)))
        return sizes
    finally:
        pdf.close()


def _image_pages(content: bytes, media_type: str | None) -> list[PageSize]:
    if media_type in ("image/heic", "image/heif"):
        return []  # kept as sent: nothing here decodes HEIC, so the OCR records it as unreadable
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # Pillow warns of a large image; the size is checked below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))  # reads the header; decodes nothing
        with image:
            frames = int(getattr(image, "n_frames", 1))
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DocumentRejected("file", f"the {media_type or 'file'} cannot be opened ({err})") from None
    except Image.DecompressionBombError:
        raise TooLarge(f"the image is larger than {MAX_PAGE_PIXELS / 1e6:.0f} megapixels") from None
    if frames > MAX_FRAMES:
        raise TooLarge(f"the image has {frames} frames; send a document of several pages as a PDF")
    return [PageSize(width, height)]
