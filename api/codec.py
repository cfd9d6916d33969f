"""The codec server (docs/rules.md#personal-data): the payload codec over HTTP, so the Temporal web UI and the
`temporal` CLI show claims decrypted to whoever presents a staff token, and nobody else.

Protocol (Temporal's remote codec): `POST /codec/encode` and `POST /codec/decode` with
`{"payloads": [{"metadata": {name: base64}, "data": base64}]}`, answered in the same shape. The UI calls it from
the browser, so the origins in `CLAIMS_CODEC_CORS_ORIGINS` (the UI's address) may call it across origins.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload

from config.encryption import EncryptionCodec, UnknownKey
from edge import auth
from edge.auth import Caller
from edge.problems import PROBLEM_RESPONSES, ProblemError
from edge.services import services_of

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


@router.post("/encode", summary="Encrypt payloads (the CLI's input)")
async def encode(body: PAYLOADS, request: Request, caller: STAFF) -> dict[str, Any]:
    return _answer(await _codec(request).encode(_payloads(body)))


@router.post("/decode", summary="Decrypt payloads (for the web UI and the CLI)")
async def decode(body: PAYLOADS, request: Request, caller: STAFF) -> dict[str, Any]:
    try:
        return _answer(await _codec(request).decode(_payloads(body)))
    except (UnknownKey, ValueError) as err:
        raise ProblemError(422, "undecryptable", "Cannot decrypt", str(err)) from None
