"""Every payload Temporal stores for a claim is encrypted (docs/rules.md#personal-data): AES-256-GCM, a fresh nonce per
payload, the key's id in the payload's metadata.

A keyring holds every key that may still be needed to read a history and names the one new payloads are
written with, so keys rotate without losing old histories: add the new key, make it the writing key, keep the
old ones readable for as long as histories written under them are kept. Keys come from
`CLAIMS_ENCRYPTION_KEYS` (`id=base64,id=base64,...`; the first writes unless `CLAIMS_ENCRYPTION_WRITE_KEY` names
another) or a key file (`CLAIMS_ENCRYPTION_KEY_FILE`, JSON `{"write": id, "keys": {id: base64}}`); with neither,
a development key is made under `var/keys/` on first use.

Failures are encrypted too: the failure converter moves messages and stack traces into an encoded attribute,
so an activity error that quotes a payload cannot leak it through the history.

Each payload is bound to its workflow: the SDK hands the codec the workflow a payload belongs to (its
serialization context), the workflow id travels in the clear in the payload's metadata
(`encryption-workflow-id`) and is part of the AES-GCM associated data, so it cannot be changed without the
payload failing to decrypt; and a worker or client decoding in another workflow's context refuses it. A payload
copied from one claim's history into another's is refused. Payloads without a workflow (written before binding,
or encoded through the codec server, which has no context) still read.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)

from config.converter import data_converter as plain_converter
from config.key_files import write_once
from config.keyring import (
    ENCODING,
    KEY_ID,
    NONCE_BYTES,
    WORKFLOW_ID,
    Keyring,
    UnknownKey,
    associated_data,
    decode_key,
    keyring_from,
    new_key,
    open_sealed,
)
from config.settings import Settings
from models.messages import REFUSED_PAYLOAD


def keyring_for(settings: Settings) -> Keyring:
    return keyring_from(settings.encryption_keys, settings.encryption_write_key, settings.encryption_key_file,
                        settings.var_dir)


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    def __init__(self, keyring: Keyring, workflow_id: str | None = None) -> None:
        self.keyring = keyring
        self.workflow_id = workflow_id
        """The workflow the payloads being encoded or decoded belong to, when the SDK says (`with_context`)."""
        self._ciphers = {kid: AESGCM(key) for kid, key in keyring.keys.items()}

    def with_context(self, context: SerializationContext) -> Self:
        workflow_id = getattr(context, "workflow_id", None)
        if not isinstance(workflow_id, str) or workflow_id == self.workflow_id:
            return self
        bound = copy.copy(self)
        bound.workflow_id = workflow_id
        return bound

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        kid = self.keyring.write_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[kid].encrypt(nonce, payload.SerializeToString(), associated_data(kid, self.workflow_id))
        metadata = {"encoding": ENCODING, KEY_ID: kid.encode()}
        if self.workflow_id is not None:
            metadata[WORKFLOW_ID] = self.workflow_id.encode()
        return Payload(metadata=metadata, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        """An encrypted payload's plain form; one that is not encrypted (written before encryption) as it is."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        kid = payload.metadata.get(KEY_ID, b"").decode()
        bound = payload.metadata[WORKFLOW_ID].decode() if WORKFLOW_ID in payload.metadata else None
        if bound is not None and self.workflow_id is not None and bound != self.workflow_id:
            # Not raised: a payload that fails to decode fails the workflow's task again and again. Handed on as
            # a refusal the workflow's parsing turns into a typed error (workflows/claim_state.py `parse`).
            reason = (f"a payload of workflow {bound!r} was given to workflow {self.workflow_id!r}: copied from "
                      "another history, refused")
            return Payload(metadata={"encoding": b"json/plain"},
                           data=json.dumps({REFUSED_PAYLOAD: reason}).encode())
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise UnknownKey(f"payload encrypted with key {kid!r}, which this keyring does not hold "
                            f"(it holds {sorted(self._ciphers)})")
        return Payload.FromString(open_sealed(cipher, kid, bound, payload.data))


BOUND_KEPT = 4096
"""Workflows whose bound converter a process keeps (the cache in `WorkflowBoundConverter`); more are made again."""


@dataclass(frozen=True)
class WorkflowBoundConverter(DataConverter):
    """The data converter, with its copies bound to a workflow made once per workflow and kept.

    The codec ties every payload to its workflow (`EncryptionCodec.with_context`), so the SDK asks the converter for
    a copy bound to the workflow of each payload it encodes or decodes: for a workflow's activation, for each
    activity it schedules, for each payload an activity returns. The SDK makes each copy anew (a dataclass copy
    whose construction builds a new payload converter), which cost a claim's worker about a tenth of its CPU. The
    copy depends only on the workflow id when, as here, nothing but the codec takes a context; a converter whose
    other parts do is made anew each time, as the SDK does."""

    def with_context(self, context: SerializationContext) -> Self:
        workflow_id = getattr(context, "workflow_id", None)
        if not isinstance(workflow_id, str):
            return super().with_context(context)
        kept: OrderedDict[str, Self] | None = self.__dict__.get("_bound")
        if kept is None:
            kept = OrderedDict()
            object.__setattr__(self, "_bound", kept)
            object.__setattr__(self, "_bound_lock", threading.Lock())
        with self.__dict__["_bound_lock"]:
            bound = kept.get(workflow_id)
            if bound is not None:
                kept.move_to_end(workflow_id)
                return bound
        bound = super().with_context(context)
        if bound.payload_converter is not self.payload_converter or \
                bound.failure_converter is not self.failure_converter:
            return bound  # a part besides the codec takes the context: not the workflow's alone
        with self.__dict__["_bound_lock"]:
            kept[workflow_id] = bound
            while len(kept) > BOUND_KEPT:
                kept.popitem(last=False)
        return bound


def converter_for(settings: Settings | None = None, keyring: Keyring | None = None) -> DataConverter:
    """The data converter of every process: the plain one, with payloads and failures encrypted."""
    ring = keyring or keyring_for(settings or Settings())
    return WorkflowBoundConverter(payload_converter_class=plain_converter.payload_converter_class,
                                  payload_codec=EncryptionCodec(ring),
                                  failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


def decrypted_history(history: dict[str, Any], codec: EncryptionCodec) -> dict[str, Any]:
    """A history in its JSON form (as `temporal workflow show -o json` writes it) with every encrypted payload
    replaced by its plain form: what the audit trail reads."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            metadata = node.get("metadata")
            if isinstance(metadata, dict) and metadata.get("encoding") == _ENCODING_B64 and "data" in node:
                plain = codec.decrypt(json_format.ParseDict(node, Payload()))
                return json_format.MessageToDict(plain)
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(history)  # type: ignore[no-any-return]


_ENCODING_B64 = base64.b64encode(ENCODING).decode()


TEXT_PREFIX = "sealed:v1:"


def seal_text(keyring: Keyring, text: str) -> str:
    """Text for a database column, encrypted under the writing key: `sealed:v1:<key id>:<base64>`."""
    kid = keyring.write_id
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(keyring.keys[kid]).encrypt(nonce, text.encode(), f"text:{kid}".encode())
    return f"{TEXT_PREFIX}{kid}:{base64.b64encode(nonce + sealed).decode()}"


def open_text(keyring: Keyring, stored: str) -> str:
    """The text `seal_text` sealed; text stored in the clear (before sealing) as it is."""
    if not stored.startswith(TEXT_PREFIX):
        return stored
    kid, _, encoded = stored[len(TEXT_PREFIX):].partition(":")
    key = keyring.keys.get(kid)
    if key is None:
        raise UnknownKey(f"text sealed with key {kid!r}, which this keyring does not hold")
    raw = base64.b64decode(encoded)
    try:
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], f"text:{kid}".encode()).decode()
    except InvalidTag:
        raise ValueError(f"text sealed under key {kid!r} does not decrypt: altered") from None


@dataclass(frozen=True)
class SealKeys:
    """The audit seal key that seals now, and those rotated out that still verify, by key id (a fingerprint of the
    key, so the id needs no configuration and names the key it belongs to)."""

    current: bytes
    older: tuple[bytes, ...] = ()

    @staticmethod
    def of(keys: bytes | SealKeys) -> SealKeys:
        return keys if isinstance(keys, SealKeys) else SealKeys(keys)

    @staticmethod
    def kid_of(key: bytes) -> str:
        return "seal-" + hashlib.sha256(b"claims audit seal key id\x00" + key).hexdigest()[:12]

    @property
    def kid(self) -> str:
        return self.kid_of(self.current)

    def key(self, kid: str) -> bytes | None:
        return next((k for k in (self.current, *self.older) if self.kid_of(k) == kid), None)

    def all(self) -> tuple[bytes, ...]:
        return (self.current, *self.older)


def audit_seal_keys(settings: Settings) -> SealKeys:
    """The seal key and the rotated-out ones (CLAIMS_AUDIT_SEAL_OLD_KEYS)."""
    older = tuple(decode_key("CLAIMS_AUDIT_SEAL_OLD_KEYS", k) for k in (settings.audit_seal_old_keys or "").split(",")
                  if k.strip())
    if any(len(k) != 32 for k in older):
        raise ValueError("every key in CLAIMS_AUDIT_SEAL_OLD_KEYS must be 32 bytes")
    return SealKeys(audit_seal_key(settings), older)


def audit_seal_key(settings: Settings) -> bytes:
    """The key that seals the claim event log's rows and checkpoints: configured, or made under var/keys/."""
    if settings.audit_seal_key:
        key = decode_key("CLAIMS_AUDIT_SEAL_KEY", settings.audit_seal_key)
    else:
        path = settings.var_dir / "keys" / "audit-seal-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_once(path, new_key().encode(), 0o600)
        key = decode_key("audit-seal-key", path.read_text())
    if len(key) != 32:
        raise ValueError(f"the audit seal key is {len(key)} bytes; it must be 32")
    return key
