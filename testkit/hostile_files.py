"""Documents built to take a reader down: a PDF whose page boxes are huge, an image whose header declares more
pixels than memory holds. Small on the wire; what matters is what they would cost rendered."""

from __future__ import annotations

import io
import struct
import zlib

import pypdfium2 as pdfium


def pdf_of(pages: int, width: float, height: float) -> bytes:
    pdf = pdfium.PdfDocument.new()
    for _ in range(pages):
        pdf.new_page(width, height)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def png_header_of(width: int, height: int) -> bytes:
    """A PNG that declares a size and carries one row of data: what a decompression bomb's first bytes say."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1)))
            + chunk(b"IEND", b""))


PDF_BOMB = pdf_of(10, 14400, 14400)
"""Ten pages of 14,400 points square: 829 megapixels a page at 2x, in under 2 KB."""
