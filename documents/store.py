"""Where claim documents are kept, by the SHA-256 of their content: the same upload twice is one object, and
the reference the workflow carries (`doc://sha256/<hex>`) names exactly those bytes.

A folder under var/ by default; in production any S3-compatible store (AWS S3, MinIO, SeaweedFS, Alibaba OSS,
Tencent COS), reached with credentials from the standard AWS chain. `store_for(settings)` picks one.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import boto3
import structlog
from botocore.config import Config
from botocore.exceptions import ClientError

from config.settings import Settings
from documents.files import write_whole
from documents.uploads import ALLOWED_MEDIA_TYPES, DocumentRejected, check_upload

__all__ = ["ALLOWED_MEDIA_TYPES", "DocumentCorrupted", "DocumentRejected", "DocumentStore", "FolderStore",
           "S3Store", "StoredDocument", "check_upload", "store_for"]

log = structlog.get_logger(__name__)

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredDocument:
    sha256: str
    """Hex digest of the content."""
    size: int
    media_type: str
    """As sniffed from the content (`check_upload`)."""

    @property
    def ref(self) -> str:
        """The content-addressed reference sent to the workflow."""
        return f"doc://sha256/{self.sha256}"


class DocumentCorrupted(Exception):
    """The bytes a store holds under a hash are not the bytes of that hash: damaged or tampered with."""


class DocumentStore(Protocol):
    """What the HTTP API and the activities need of a store; `FolderStore` and `S3Store` are the two."""

    def put(self, content: bytes, media_type: str) -> StoredDocument:
        """Keep the content (media type from `check_upload`). Idempotent: the same content is stored once."""
        ...

    def get(self, sha256: str) -> bytes:
        """The content with this hex digest, checked against it; KeyError when absent."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def describe(self) -> str:
        """Where documents go, for logs."""
        ...


def _stored(content: bytes, media_type: str) -> StoredDocument:
    return StoredDocument(hashlib.sha256(content).hexdigest(), len(content), media_type)


def _is_sha256(name: str) -> bool:
    return _SHA256_HEX.fullmatch(name) is not None


def _require_sha256(name: str) -> None:
    """A name that is not a hex digest names nothing stored (and never a path outside the store)."""
    if not _is_sha256(name):
        raise KeyError(f"not a SHA-256 hex digest: {name[:80]!r}")


def _checked(sha256: str, content: bytes, where: str) -> bytes:
    if hashlib.sha256(content).hexdigest() != sha256:
        raise DocumentCorrupted(f"document {sha256} in {where} does not match its hash")
    return content


class FolderStore:
    """Files at root/ab/cd/<sha256>. Each is written under a temporary name, checked, then renamed, so a file
    under its final name is always whole and always matches its name."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, content: bytes, media_type: str) -> StoredDocument:
        stored = _stored(content, media_type)
        path = self._path(stored.sha256)
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == stored.sha256:
            return stored
        write_whole(path, content, lambda written: _checked(stored.sha256, written, self.describe()))
        log.info("document stored", sha256=stored.sha256, size=stored.size, store=self.describe())
        return stored

    def get(self, sha256: str) -> bytes:
        _require_sha256(sha256)
        try:
            content = self._path(sha256).read_bytes()
        except FileNotFoundError:
            raise KeyError(sha256) from None
        return _checked(sha256, content, self.describe())

    def exists(self, sha256: str) -> bool:
        return _is_sha256(sha256) and self._path(sha256).is_file()

    def describe(self) -> str:
        return f"folder {self.root}"


def _missing(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


class S3Store:
    """Objects at <prefix><sha256> in a bucket of any S3-compatible store; credentials come from the standard
    AWS chain (environment, shared config, instance or task role). An upload names the content's SHA-256, so
    the store refuses bytes damaged on the way; where the operator has turned such checksums down
    (AWS_REQUEST_CHECKSUM_CALCULATION=when_required, for stores that reject them) a Content-MD5 does instead."""

    def __init__(self, bucket: str, *, prefix: str = "documents/", endpoint_url: str | None = None,
                 region: str = "us-east-1") -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.region = region
        self.client: Any = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=Config(connect_timeout=5, read_timeout=30))
        calculation = str(self.client.meta.config.request_checksum_calculation).lower()
        self._checksums = calculation != "when_required"

    def _key(self, sha256: str) -> str:
        return f"{self.prefix}{sha256}"

    def _holds(self, key: str, size: int, digest: str) -> bool:
        """Whether the object is there already, whole: of that size and, where the store says, that checksum."""
        mode = {"ChecksumMode": "ENABLED"} if self._checksums else {}
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key, **mode)
        except ClientError as err:
            if _missing(err):
                return False
            raise
        return bool(head.get("ContentLength") == size and head.get("ChecksumSHA256") in (None, digest))

    def put(self, content: bytes, media_type: str) -> StoredDocument:
        stored = _stored(content, media_type)
        key = self._key(stored.sha256)
        digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
        if self._holds(key, stored.size, digest):
            return stored
        if self._checksums:
            integrity = {"ChecksumSHA256": digest}
        else:
            integrity = {"ContentMD5": base64.b64encode(hashlib.md5(content, usedforsecurity=False).digest()).decode()}
        reply = self.client.put_object(Bucket=self.bucket, Key=key, Body=content, ContentType=media_type, **integrity)
        if reply.get("ChecksumSHA256") not in (None, digest):
            raise DocumentCorrupted(f"{self.describe()} stored other bytes than document {stored.sha256}")
        log.info("document stored", sha256=stored.sha256, size=stored.size, store=self.describe())
        return stored

    def get(self, sha256: str) -> bytes:
        _require_sha256(sha256)
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=self._key(sha256))
        except ClientError as err:
            if _missing(err):
                raise KeyError(sha256) from None
            raise
        content: bytes = reply["Body"].read()
        return _checked(sha256, content, self.describe())

    def exists(self, sha256: str) -> bool:
        if not _is_sha256(sha256):
            return False
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(sha256))
        except ClientError as err:
            if _missing(err):
                return False
            raise
        return True

    def describe(self) -> str:
        where = self.endpoint_url or f"AWS S3 {self.region}"
        return f"s3://{self.bucket}/{self.prefix} at {where}"


def store_for(settings: Settings) -> DocumentStore:
    """The configured store: a folder under var/ unless CLAIMS_DOCUMENT_STORE is "s3"."""
    if settings.document_store == "s3":
        if not settings.s3_bucket:
            raise ValueError("CLAIMS_S3_BUCKET is required when CLAIMS_DOCUMENT_STORE is s3")
        return S3Store(settings.s3_bucket, prefix=settings.s3_prefix, endpoint_url=settings.s3_endpoint_url,
                       region=settings.s3_region)
    return FolderStore(settings.documents_dir)
