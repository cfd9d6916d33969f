"""The audit archive: records kept outside the database and outside Temporal, by name. The event log's signed
checkpoints (`checkpoints/…`) and closed claims' exported histories (`histories/…`) go here.

A folder (`CLAIMS_AUDIT_DIR`, default var/audit/) in the embedded default; with `CLAIMS_DOCUMENT_STORE=s3` the
document bucket under `CLAIMS_S3_ARCHIVE_PREFIX` (default `audit/`), where the operator turns on S3 Object Lock
(or the store's equivalent) so that whoever holds the database cannot rewrite the archive either. An object is
written once: putting a name again with other bytes is refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from config.settings import Settings
from documents.files import write_whole


class ArchiveConflict(Exception):
    """A name already holds other bytes: archived records are never replaced."""


class Archive(Protocol):
    def put(self, name: str, content: bytes, media_type: str) -> str:
        """Keep the content under the name (once); its SHA-256 hex."""
        ...

    def get(self, name: str) -> bytes:
        """The content under the name; KeyError when absent."""
        ...

    def names(self, prefix: str) -> list[str]:
        """Every name under the prefix, sorted."""
        ...

    def describe(self) -> str: ...


def _safe(name: str) -> str:
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"archive name {name!r}: relative, without empty, '.' or '..' parts")
    return name


class FolderArchive:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, name: str, content: bytes, media_type: str) -> str:
        path = self.root / _safe(name)
        digest = hashlib.sha256(content).hexdigest()
        if path.exists():
            if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                raise ArchiveConflict(f"{self.describe()}: {name} already holds other content")
            return digest
        write_whole(path, content)
        return digest

    def get(self, name: str) -> bytes:
        try:
            return (self.root / _safe(name)).read_bytes()
        except FileNotFoundError:
            raise KeyError(name) from None

    def names(self, prefix: str) -> list[str]:
        folder = self.root / prefix.rstrip("/")
        if not folder.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in folder.rglob("*")
                      if p.is_file() and not p.name.startswith("."))

    def describe(self) -> str:
        return f"folder {self.root}"


class S3Archive:
    """Objects at <prefix><name> in a bucket of any S3-compatible store (credentials from the AWS chain)."""

    def __init__(self, bucket: str, *, prefix: str = "audit/", endpoint_url: str | None = None,
                 region: str = "us-east-1") -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.client: Any = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=Config(connect_timeout=5, read_timeout=30))

    def put(self, name: str, content: bytes, media_type: str) -> str:
        digest = hashlib.sha256(content).hexdigest()
        try:
            held = self.get(name)
        except KeyError:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + _safe(name), Body=content,
                                   ContentType=media_type, Metadata={"sha256": digest})
            return digest
        if hashlib.sha256(held).hexdigest() != digest:
            raise ArchiveConflict(f"{self.describe()}: {name} already holds other content")
        return digest

    def get(self, name: str) -> bytes:
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=self.prefix + _safe(name))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                raise KeyError(name) from None
            raise
        content: bytes = reply["Body"].read()
        return content

    def names(self, prefix: str) -> list[str]:
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                          Prefix=self.prefix + prefix):
            found += [item["Key"][len(self.prefix):] for item in page.get("Contents", [])]
        return sorted(found)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix} at {self.endpoint_url or 'AWS S3'}"


def archive_for(settings: Settings) -> Archive:
    """The configured archive: the document bucket when documents go to S3, else the audit folder."""
    if settings.document_store == "s3" and settings.s3_bucket:
        return S3Archive(settings.s3_bucket, prefix=settings.s3_archive_prefix,
                         endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)
    return FolderArchive(settings.audit_root)
