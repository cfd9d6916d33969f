"""The codec server (docs/rules.md#personal-data): the payload codec over HTTP, so the Temporal web UI and the
`temporal` CLI show claims decrypted to staff of the roles that need it (`CLAIMS_CODEC_ROLES`: auditor, supervisor,
manager), each request recorded, credentials redacted.

Protocol (Temporal's remote codec): `POST /codec/encode` and `POST /codec/decode` with
`{"payloads": [{"metadata": {name: base64}, "data": base64}]}`, answered in the same shape. The UI calls it from
the browser, so the origins in `CLAIMS_CODEC_CORS_ORIGINS` (the UI's address) may call it across origins.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from google.protobuf import json_format
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from temporalio.api.common.v1 import Payload

from config.encryption import EncryptionCodec
from config.keyring import UnknownKey
from edge import auth
from edge.auth import Caller
from edge.problems import PROBLEM_RESPONSES, ProblemError, forbidden
from edge.services import services_of
from models.tables import CodecDecode

router = APIRouter(prefix="/codec", tags=["codec"], responses=PROBLEM_RESPONSES)
STAFF = Annotated[Caller, Depends(auth.staff_or_session)]
PAYLOADS = Annotated[dict[str, Any], Body(examples=[{"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="},
                                                                   "data": "eyJhIjogMX0="}]}])]


def _payloads(body: dict[str, Any]) -> list[Payload]:
    items = body.get("payloads", [])  # an empty list is left out of protobuf's JSON
    if not isinstance(items, list):
        raise ProblemError(422, "invalid-request", "Invalid request", "payloads: a list of payloads is required")
    try:
        return [json_format.ParseDict(item, Payload()) for item in items]
    except (json_format.ParseError, TypeError, AttributeError) as err:
        raise ProblemError(422, "invalid-request", "Invalid request", f"payloads: not Temporal payloads ({err})") \
            from None


def _answer(payloads: list[Payload]) -> dict[str, Any]:
    return {"payloads": [json_format.MessageToDict(p) for p in payloads]}


def _codec(request: Request) -> EncryptionCodec:
    codec: EncryptionCodec = services_of(request).codec
    return codec


def _codec_role(request: Request, caller: Caller) -> None:
    services = services_of(request)
    if not caller.roles & services.codec_roles:
        raise forbidden(f"the codec is for {', '.join(sorted(services.codec_roles))}; "
                        f"{caller.sender.subject} holds {sorted(caller.roles)}")


@router.post("/encode", summary="Encrypt payloads (the CLI's input)")
async def encode(body: PAYLOADS, request: Request, caller: STAFF) -> dict[str, Any]:
    """For the same roles as decoding (`CLAIMS_CODEC_ROLES`): what it encrypts names no workflow (the CLI does not
    say which), so it is not handed to everyone."""
    _codec_role(request, caller)
    return _answer(await _codec(request).encode(_payloads(body)))


@router.post("/decode", summary="Decrypt payloads (for the web UI and the CLI)")
async def decode(body: PAYLOADS, request: Request, caller: STAFF) -> dict[str, Any]:
    """For the roles that may read decrypted histories (`CLAIMS_CODEC_ROLES`). Each request is recorded (who, when,
    the namespace, how many payloads) in `codec_decodes`; a credential anywhere in a decoded payload (an update's,
    a complaint's start, a request kept in a carried state) comes back redacted."""
    services = services_of(request)
    _codec_role(request, caller)
    payloads = _payloads(body)
    try:
        opened = await _codec(request).decode(payloads)
    except (UnknownKey, ValueError) as err:
        raise ProblemError(422, "undecryptable", "Cannot decrypt", str(err)) from None
    await run_in_threadpool(_record, services.engine, CodecDecode(
        at=datetime.now(UTC), subject=caller.sender.subject[:200], roles=",".join(sorted(caller.roles))[:200],
        namespace=request.headers.get("x-namespace", "")[:200], payloads=len(payloads),
        through="token" if "authorization" in request.headers else "session"))
    return _answer([_redacted(p) for p in opened])


def _record(engine: Engine, row: CodecDecode) -> None:
    with Session(engine) as session:
        session.add(row)
        session.commit()


REDACTED = "[redacted]"


def _redacted(payload: Payload) -> Payload:
    """The payload with any `credential` it carries (an update's, a complaint's start) replaced: what the codec shows
    is for reading, never for acting."""
    if payload.metadata.get("encoding") != b"json/plain":
        return payload
    try:
        value = json.loads(payload.data)
    except ValueError:
        return payload
    redacted = _without_credentials(value)
    if redacted == value:
        return payload
    shown = Payload()
    shown.CopyFrom(payload)
    shown.data = json.dumps(redacted, ensure_ascii=False, separators=(",", ":")).encode()
    return shown


def _without_credentials(value: Any) -> Any:
    """The value with every non-empty `credential`, at any depth, replaced."""
    if isinstance(value, dict):
        return {k: REDACTED if k == "credential" and v else _without_credentials(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_credentials(v) for v in value]
    return value
