"""The payload keys and the sealed form of a payload, with nothing of the Temporal SDK: what the data converter
(config/encryption.py) encrypts with, and what a command that starts light (`starter.py status`) opens a query's
answer with. The format is docs/rules.md#personal-data's: AES-256-GCM, a fresh nonce per payload, the key's id and
the payload's workflow in the metadata and in the associated data."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from config.key_files import write_once

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
WORKFLOW_ID = "encryption-workflow-id"
NONCE_BYTES = 12


class UnknownKey(LookupError):
    """A payload written under a key this keyring does not hold."""


@dataclass(frozen=True)
class Keyring:
    write_id: str
    keys: dict[str, bytes]

    def __post_init__(self) -> None:
        if self.write_id not in self.keys:
            raise ValueError(f"the writing key {self.write_id!r} is not among the keys {sorted(self.keys)}")
        for kid, key in self.keys.items():
            if len(key) != 32:
                raise ValueError(f"encryption key {kid!r} is {len(key)} bytes; AES-256 needs 32")

    @classmethod
    def parse(cls, text: str, write_id: str | None = None) -> Keyring:
        """`id=base64,id=base64`: every key readable, the first (or `write_id`) writing."""
        keys: dict[str, bytes] = {}
        for item in (part.strip() for part in text.split(",") if part.strip()):
            kid, sep, encoded = item.partition("=")
            if not sep or not kid.strip():
                raise ValueError("CLAIMS_ENCRYPTION_KEYS: each key is id=base64")
            keys[kid.strip()] = decode_key(kid.strip(), encoded)
        if not keys:
            raise ValueError("CLAIMS_ENCRYPTION_KEYS: no keys")
        return cls(write_id or next(iter(keys)), keys)

    @classmethod
    def from_file(cls, path: Path) -> Keyring:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["write"], {kid: decode_key(kid, value) for kid, value in data["keys"].items()})


def decode_key(kid: str, encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded.strip() + "=" * (-len(encoded.strip()) % 4), altchars=b"-_", validate=False)
    except (binascii.Error, ValueError):
        raise ValueError(f"encryption key {kid!r} is not base64") from None


def new_key() -> str:
    """A fresh key, base64: for `CLAIMS_ENCRYPTION_KEYS` or a key file."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def development_key_file(var_dir: Path) -> Path:
    """The embedded default's key file, made on first use (readable by its owner only)."""
    path = var_dir / "keys" / "payload-keys.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        kid = "dev-1"
        write_once(path, json.dumps({"write": kid, "keys": {kid: new_key()}}, indent=2).encode(), 0o600)
    return path


def keyring_from(keys: str | None, write_key: str | None, key_file: Path | None, var_dir: Path) -> Keyring:
    """The keyring the settings name: `CLAIMS_ENCRYPTION_KEYS`, else the key file, else the development key file
    under the var folder (made on first use); `CLAIMS_ENCRYPTION_WRITE_KEY` names the writing key."""
    if keys:
        return Keyring.parse(keys, write_key)
    ring = Keyring.from_file(key_file or development_key_file(var_dir))
    return replace(ring, write_id=write_key) if write_key else ring


def associated_data(kid: str, workflow_id: str | None) -> bytes:
    """What a payload's seal is bound to besides its bytes: its key's id and, when it has one, its workflow."""
    return kid.encode() if workflow_id is None else kid.encode() + b"\x1fworkflow:" + workflow_id.encode()


def open_sealed(cipher: AESGCM, kid: str, workflow_id: str | None, sealed: bytes) -> bytes:
    """The serialized payload a sealed one's data holds (nonce, then ciphertext and tag)."""
    try:
        return cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated_data(kid, workflow_id))
    except InvalidTag:
        raise ValueError(f"payload under key {kid!r} does not decrypt: altered, or another key of that id") \
            from None
