"""The document store: what an upload may be (`check_upload`), and the same behaviour from the folder store and
from a real S3-compatible server (SeaweedFS): content in, the same bytes out under their SHA-256, each content
stored once, damaged bytes refused on the way out."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st

from config.settings import Settings
from documents.store import (
    ALLOWED_MEDIA_TYPES,
    DocumentCorrupted,
    DocumentRejected,
    DocumentStore,
    FolderStore,
    S3Store,
    check_upload,
    store_for,
)
from tests.object_store import ObjectStoreServer

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 16
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
LIMIT = 1024


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DocumentStore]:
    """The folder store in a fresh folder, or the S3 store under a fresh prefix of the test server's bucket,
    its credentials found through the standard AWS environment variables."""
    if request.param == "folder":
        yield FolderStore(tmp_path / "documents")
        return
    server: ObjectStoreServer = request.getfixturevalue("object_store")
    server.use_in_environment(monkeypatch, tmp_path)
    yield S3Store(server.bucket, prefix=f"t-{uuid.uuid4().hex[:12]}/", endpoint_url=server.endpoint_url,
                  region=server.region)


def stored_objects(store: DocumentStore) -> list[str]:
    """What the store really holds, looked at directly: file paths under the folder, or keys under the prefix."""
    if isinstance(store, FolderStore):
        return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())
    assert isinstance(store, S3Store)
    listing = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def damage(store: DocumentStore, sha256: str, content: bytes) -> None:
    """Put other bytes where the store keeps `sha256`, as a failing disk or a tampering hand would."""
    if isinstance(store, FolderStore):
        (store.root / sha256[:2] / sha256[2:4] / sha256).write_bytes(content)
        return
    assert isinstance(store, S3Store)
    store.client.put_object(Bucket=store.bucket, Key=f"{store.prefix}{sha256}", Body=content)


def test_a_stored_document_comes_back_byte_for_byte_under_its_sha256(store: DocumentStore) -> None:
    stored = store.put(PDF, "application/pdf")
    assert stored.sha256 == digest(PDF), "the document is not named by the SHA-256 of its content"
    assert stored.ref == f"doc://sha256/{digest(PDF)}"
    assert (stored.size, stored.media_type) == (len(PDF), "application/pdf")
    assert store.exists(stored.sha256)
    assert store.get(stored.sha256) == PDF, "the bytes read back differ from the bytes stored"


def test_the_same_content_put_twice_is_one_object_and_one_write(store: DocumentStore) -> None:
    first = store.put(JPEG, "image/jpeg")
    uploads: list[str] = []
    if isinstance(store, S3Store):
        store.client.meta.events.register("before-call.s3.PutObject", lambda **kw: uploads.append("put"))
        again = store.put(JPEG, "image/jpeg")
    else:
        path = store.root / first.sha256[:2] / first.sha256[2:4] / first.sha256
        written_at = path.stat().st_mtime_ns
        again = store.put(JPEG, "image/jpeg")
        if path.stat().st_mtime_ns != written_at:
            uploads.append("rewrite")
    assert again == first and again.ref == first.ref
    assert len(stored_objects(store)) == 1, f"the same content was stored as {stored_objects(store)}"
    assert uploads == [], "the second put of the same content wrote it again"
    store.put(PNG, "image/png")
    assert len(stored_objects(store)) == 2


def test_an_unknown_or_malformed_hash_is_a_key_error_and_does_not_exist(store: DocumentStore) -> None:
    store.put(PDF, "application/pdf")
    for absent in (digest(b"never stored"), "../../../etc/passwd", digest(PDF).upper(), ""):
        assert not store.exists(absent), f"exists({absent!r}) is true"
        with pytest.raises(KeyError):
            store.get(absent)


def test_bytes_that_no_longer_match_their_hash_are_refused_on_read(store: DocumentStore) -> None:
    stored = store.put(PNG, "image/png")
    damage(store, stored.sha256, PNG[:-1] + b"\x00")
    with pytest.raises(DocumentCorrupted):
        store.get(stored.sha256)


def test_putting_the_content_again_repairs_a_damaged_file(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "documents")
    stored = store.put(PNG, "image/png")
    damage(store, stored.sha256, PNG[:-1] + b"\x00")
    store.put(PNG, "image/png")
    assert store.get(stored.sha256) == PNG


def test_an_s3_object_has_the_media_type_and_the_checksum_of_its_content(object_store: ObjectStoreServer,
                                                                        tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    object_store.use_in_environment(monkeypatch, tmp_path)
    store = S3Store(object_store.bucket, prefix=f"t-{uuid.uuid4().hex[:12]}", endpoint_url=object_store.endpoint_url)
    stored = store.put(PDF, "application/pdf")
    head: dict[str, Any] = store.client.head_object(Bucket=store.bucket, Key=f"{store.prefix}{stored.sha256}",
                                                    ChecksumMode="ENABLED")
    assert head["ContentType"] == "application/pdf"
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(PDF).digest()).decode()
    assert store.describe() == f"s3://{object_store.bucket}/{store.prefix} at {object_store.endpoint_url}"


def test_with_checksums_turned_down_an_s3_upload_carries_a_content_md5_instead(
        object_store: ObjectStoreServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    object_store.use_in_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
    store = S3Store(object_store.bucket, prefix=f"t-{uuid.uuid4().hex[:12]}", endpoint_url=object_store.endpoint_url)
    sent: list[set[str]] = []
    store.client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **kw: sent.append({k.lower() for k in request.headers}))
    stored = store.put(JPEG, "image/jpeg")
    assert store.get(stored.sha256) == JPEG
    assert len(sent) == 1 and "content-md5" in sent[0], f"the upload sent {sorted(sent[0]) if sent else 'nothing'}"
    assert not any(h.startswith("x-amz-checksum-") for h in sent[0]), "a checksum header was sent anyway"


def test_store_for_gives_the_folder_under_var_by_default(settings: Settings) -> None:
    store = store_for(settings)
    assert isinstance(store, FolderStore) and store.root == settings.var_dir / "documents"
    assert store.describe() == f"folder {settings.var_dir / 'documents'}"


def test_store_for_s3_without_a_bucket_says_which_setting_is_missing(settings: Settings) -> None:
    with pytest.raises(ValueError, match="CLAIMS_S3_BUCKET"):
        store_for(settings.model_copy(update={"document_store": "s3"}))


def test_store_for_s3_reaches_the_bucket_with_credentials_from_the_environment(
        settings: Settings, object_store: ObjectStoreServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    object_store.use_in_environment(monkeypatch, tmp_path)
    s3 = settings.model_copy(update={"document_store": "s3", "s3_bucket": object_store.bucket,
                                     "s3_endpoint_url": object_store.endpoint_url, "s3_prefix": "from-settings/"})
    store = store_for(s3)
    stored = store.put(HEIC, "image/heic")
    assert store.get(stored.sha256) == HEIC
    assert store.describe() == f"s3://{object_store.bucket}/from-settings/ at {object_store.endpoint_url}"


@pytest.mark.parametrize(("content", "declared", "expected"), [
    (PDF, "application/pdf", "application/pdf"),
    (PDF, None, "application/pdf"),
    (JPEG, "image/jpeg", "image/jpeg"),
    (JPEG, "image/jpg", "image/jpeg"),
    (PNG, "image/png", "image/png"),
    (PNG, "application/octet-stream", "image/png"),
    (HEIC, "image/heif", "image/heic"),
    (PDF, "Application/PDF; name=claim.pdf", "application/pdf"),
], ids=["pdf", "pdf-undeclared", "jpeg", "jpeg-as-jpg", "png", "png-as-octet-stream", "heic-as-heif",
        "pdf-with-parameters"])
def test_scans_and_photos_are_accepted_as_the_type_their_content_shows(content: bytes, declared: str | None,
                                                                       expected: str) -> None:
    assert check_upload(content, declared, max_bytes=LIMIT) == expected
    assert expected in ALLOWED_MEDIA_TYPES


@pytest.mark.parametrize(("content", "declared", "field", "says"), [
    (b"", "application/pdf", "file", "empty"),
    (PDF + b"\x00" * LIMIT, "application/pdf", "file", f"limit is {LIMIT} bytes"),
    (HTML, "text/html", "file", "not a PDF, JPEG, PNG"),
    (HTML, "application/pdf", "file", "not a PDF, JPEG, PNG"),
    (ELF, "application/octet-stream", "file", "not a PDF, JPEG, PNG"),
    (PNG, "application/pdf", "media_type", "sent as application/pdf but its content is image/png"),
    (PDF, "text/plain", "media_type", "sent as text/plain but its content is application/pdf"),
], ids=["empty", "too-large", "html", "html-as-pdf", "elf", "png-as-pdf", "pdf-as-text"])
def test_uploads_that_are_empty_too_large_not_documents_or_mislabelled_are_rejected(
        content: bytes, declared: str, field: str, says: str) -> None:
    with pytest.raises(DocumentRejected) as rejected:
        check_upload(content, declared, max_bytes=LIMIT)
    assert rejected.value.field == field, f"rejected for {rejected.value.field!r}: {rejected.value}"
    assert says in str(rejected.value)


def test_an_upload_of_exactly_the_limit_is_accepted() -> None:
    content = PDF + b"\x00" * (LIMIT - len(PDF))
    assert check_upload(content, None, max_bytes=LIMIT) == "application/pdf"


@hypothesis.settings(max_examples=50, deadline=None, database=None)
@hypothesis.given(content=st.binary(min_size=0, max_size=4096))
def test_any_content_put_comes_back_under_the_sha256_of_its_bytes(
        tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    store = FolderStore(tmp_path_factory.mktemp("documents"))
    stored = store.put(content, "application/octet-stream")
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert stored.size == len(content)
    assert store.get(stored.sha256) == content
