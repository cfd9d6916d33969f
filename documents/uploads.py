"""What a claimant may upload: scans and photos, recognised by their first bytes, never by the name or the type
the client declares. Pure functions; the HTTP API calls `check_upload` before anything is stored."""

from __future__ import annotations

ALLOWED_MEDIA_TYPES = frozenset({
    "application/pdf", "image/jpeg", "image/png", "image/heic", "image/heif", "image/tiff", "image/webp"})
"""Claim documents are scans and photos: PDF, JPEG, PNG, HEIC/HEIF (phone cameras), TIFF (scanners), WebP."""

GENERIC_MEDIA_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/unknown"})
"""Declared types that say nothing about the content; the sniffed type stands."""

_SAME_AS = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/x-pdf": "application/pdf",
            "image/x-png": "image/png", "image/x-tiff": "image/tiff", "image/heif": "image/heic"}
"""Other names clients send for an allowed type (HEIC and HEIF count as one: phones use either name)."""

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis"}
_HEIF_BRANDS = {b"mif1"}


class DocumentRejected(ValueError):
    """An upload the store refuses; `field` names what is wrong ("file", "kind", "media_type"), the message
    says why in words a claimant can act on. `check_upload` uses "file" for the content and "media_type"
    for the declared type; "kind" is for the API's own check of the document kind."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def sniff(content: bytes) -> str | None:
    """The allowed media type the content's magic bytes show, or None for anything else."""
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content[4:8] == b"ftyp":
        brand = content[8:12]
        if brand in _HEIC_BRANDS:
            return "image/heic"
        if brand in _HEIF_BRANDS:
            return "image/heif"
    return None


def _canonical(media_type: str) -> str:
    bare = media_type.split(";", 1)[0].strip().lower()
    return _SAME_AS.get(bare, bare)


def check_upload(content: bytes, declared_media_type: str | None, *, max_bytes: int) -> str:
    """The content's media type, sniffed from its magic bytes. DocumentRejected when the content is empty, over
    `max_bytes`, or not an allowed type (field "file"), or when the client declared a specific type other than
    the one sniffed (field "media_type"); a generic declared type such as application/octet-stream is fine."""
    if not content:
        raise DocumentRejected("file", "the file is empty")
    if len(content) > max_bytes:
        raise DocumentRejected("file", f"the file is {len(content)} bytes; the limit is {max_bytes} bytes")
    found = sniff(content)
    if found is None:
        raise DocumentRejected("file", "the file is not a PDF, JPEG, PNG, HEIC/HEIF, TIFF or WebP document")
    declared = _canonical(declared_media_type or "")
    if declared not in GENERIC_MEDIA_TYPES and declared != _canonical(found):
        raise DocumentRejected("media_type", f"the file was sent as {declared} but its content is {found}")
    return found
