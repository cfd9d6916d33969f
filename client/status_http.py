"""A claim's `status` query over the Temporal cluster's HTTP API, for `starter.py status`: the standard library and
the payload cipher only, none of the SDK or pydantic (importing those takes longer than the 0.3 s the whole
command has, `make bench`).

It answers only what it can answer the same way as the SDK's path (client/status.py): a claim that answers with
its status. Anything else returns None and the caller takes the SDK's path, which words every refusal and error
(no such claim, an ended one, Temporal down, a setting this reader does not know): the command stays one command
with one set of answers, and a light start is only ever a faster way to the same answer."""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from config.keyring import ENCODING, KEY_ID, WORKFLOW_ID, Keyring, keyring_from, open_sealed

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NAMESPACE = "default"
HTTP_PORT_FILE = "temporal-http-port"
ANSWER_WITHIN_SECONDS = 60.0


def environment(cwd: Path | None = None) -> dict[str, str]:
    """The settings as `config.settings.Settings` reads them, by name: the environment over `.env` in the working
    folder, names in any case."""
    values: dict[str, str] = {}
    dotenv = (cwd or Path.cwd()) / ".env"
    if dotenv.is_file():
        from dotenv import dotenv_values

        values.update({k.upper(): v for k, v in dotenv_values(dotenv).items() if v is not None})
    values.update({k.upper(): v for k, v in os.environ.items()})
    return values


def query_url(env: dict[str, str], workflow_id: str) -> str | None:
    """Where the status query goes: the configured cluster's HTTP API, or the embedded server's (its port kept
    under the var folder when it started); None when neither is known."""
    namespace = env.get("TEMPORAL_NAMESPACE") or DEFAULT_NAMESPACE
    if env.get("TEMPORAL_ADDRESS"):
        base = env.get("TEMPORAL_HTTP_ADDRESS")
        if not base:
            return None
    else:
        try:
            base = f"http://127.0.0.1:{int((var_dir(env) / HTTP_PORT_FILE).read_text())}"
        except (OSError, ValueError):
            return None
    quote = urllib.parse.quote
    return (f"{base.rstrip('/')}/api/v1/namespaces/{quote(namespace, safe='')}/workflows/"
            f"{quote(workflow_id, safe='')}/query/status")


def var_dir(env: dict[str, str]) -> Path:
    return Path(env.get("CLAIMS_VAR_DIR") or PROJECT_ROOT / "var")


def keyring(env: dict[str, str]) -> Keyring | None:
    """The payload keys, or None where the SDK's path would make a development key first."""
    key_file = env.get("CLAIMS_ENCRYPTION_KEY_FILE")
    if not env.get("CLAIMS_ENCRYPTION_KEYS") and not key_file \
            and not (var_dir(env) / "keys" / "payload-keys.json").exists():
        return None
    return keyring_from(env.get("CLAIMS_ENCRYPTION_KEYS"), env.get("CLAIMS_ENCRYPTION_WRITE_KEY"),
                        Path(key_file) if key_file else None, var_dir(env))


def _tls(env: dict[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=env.get("TEMPORAL_TLS_SERVER_CA_CERT_PATH") or None)
    cert, key = env.get("TEMPORAL_TLS_CLIENT_CERT_PATH"), env.get("TEMPORAL_TLS_CLIENT_KEY_PATH")
    if cert and key:
        context.load_cert_chain(cert, key)
    return context


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is not followed: it would carry the API key to wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def ask(env: dict[str, str], workflow_id: str) -> dict[str, Any] | None:
    """The cluster's answer to the status query, as its JSON; None when it did not answer with one. An API key or TLS
    configured goes over https only; no redirect is followed and no proxy of the environment is used (the SDK's
    connection uses neither)."""
    url = query_url(env, workflow_id)
    if url is None:
        return None
    secure = url.startswith("https:")
    tls = env.get("TEMPORAL_TLS", "").strip().lower() not in ("", "0", "false", "f", "no", "n", "off")
    if not secure and (env.get("TEMPORAL_API_KEY") or tls):
        return None  # never a credential over plain HTTP: the SDK's path says what is wrong
    request = urllib.request.Request(url, data=b"{}", method="POST", headers={"Content-Type": "application/json"})
    if env.get("TEMPORAL_API_KEY"):
        request.add_header("Authorization", f"Bearer {env['TEMPORAL_API_KEY']}")
    try:
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({}), _NoRedirects()]
        if secure:
            handlers.append(urllib.request.HTTPSHandler(context=_tls(env)))
        with urllib.request.build_opener(*handlers).open(request, timeout=ANSWER_WITHIN_SECONDS) as answer:
            body = json.loads(answer.read())
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError, ssl.SSLError):
        return None
    return body if isinstance(body, dict) else None


def status_document(answer: dict[str, Any], ring: Keyring, workflow_id: str) -> dict[str, Any] | None:
    """The status the claim answered with, from the query's answer: its one payload, sealed for this workflow,
    opened and read as JSON. None for anything else."""
    try:
        payload = answer["queryResult"]["payloads"][0]
        metadata = {k: base64.b64decode(v) for k, v in payload["metadata"].items()}
        data = base64.b64decode(payload.get("data", ""))
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
        return None
    kid = metadata.get(KEY_ID, b"").decode(errors="replace")
    if metadata.get("encoding") != ENCODING or metadata.get(WORKFLOW_ID) != workflow_id.encode() \
            or kid not in ring.keys:
        return None
    try:
        plain_metadata, plain_data = payload_fields(open_sealed(AESGCM(ring.keys[kid]), kid, workflow_id, data))
        document = json.loads(plain_data) if plain_metadata.get("encoding") == b"json/plain" else None
    except ValueError:
        return None
    return document if isinstance(document, dict) and "claim_id" in document else None


def payload_fields(serialized: bytes) -> tuple[dict[str, bytes], bytes]:
    """A serialized `temporal.api.common.v1.Payload` (`map<string, bytes> metadata = 1; bytes data = 2`) read
    from its protobuf wire form; fields it does not know are skipped. ValueError when the bytes are not one."""
    metadata: dict[str, bytes] = {}
    data = b""
    for number, value in _fields(serialized):
        if number == 1 and isinstance(value, bytes):
            entry = dict(_fields(value))
            key, item = entry.get(1, b""), entry.get(2, b"")
            if not isinstance(key, bytes) or not isinstance(item, bytes):
                raise ValueError("a metadata entry that is not a string and bytes")
            metadata[key.decode()] = item
        elif number == 2 and isinstance(value, bytes):
            data = value
    return metadata, data


def _fields(buffer: bytes) -> list[tuple[int, bytes | int]]:
    fields: list[tuple[int, bytes | int]] = []
    at = 0
    while at < len(buffer):
        tag, at = _varint(buffer, at)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, at = _varint(buffer, at)
            fields.append((number, value))
        elif wire == 2:
            size, at = _varint(buffer, at)
            if at + size > len(buffer):
                raise ValueError("a field runs past the end")
            fields.append((number, buffer[at:at + size]))
            at += size
        elif wire in (1, 5):
            at += 8 if wire == 1 else 4
        else:
            raise ValueError(f"wire type {wire} is not one a payload uses")
    if at != len(buffer):
        raise ValueError("a field runs past the end")
    return fields


def _varint(buffer: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(buffer) or shift > 63:
            raise ValueError("a varint runs past the end")
        byte = buffer[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def status_over_http(claim_id: str, workflow_id: str, env: dict[str, str] | None = None) -> str | None:
    """The command's answer for `claim_id` (its status as indented JSON), or None to take the SDK's path (which says
    what is wrong with a setting this path could not use, a key file say)."""
    env = environment() if env is None else env
    try:
        ring = keyring(env)
    except (OSError, ValueError, KeyError):
        return None
    answer = ask(env, workflow_id) if ring is not None else None
    document = status_document(answer, ring, workflow_id) if answer is not None and ring is not None else None
    if document is None or document.get("claim_id") != claim_id:
        return None
    return json.dumps(document, indent=2, ensure_ascii=False)
