"""A bound on every request body, enforced before any route reads it: the size the request declares, and the
bytes that actually arrive (a body without a length, or one longer than it said, is cut off)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.problems import MEDIA_TYPE, TYPE_BASE

JSON_BODY_LIMIT = 1024 * 1024
"""Every body but an upload: a claim report or an action is a few kilobytes."""
MULTIPART_OVERHEAD = 64 * 1024


class TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, upload_limit: int) -> None:
        self.app = app
        self.upload_limit = upload_limit + MULTIPART_OVERHEAD

    def limit_for(self, path: str) -> int:
        return self.upload_limit if path.endswith("/documents") else JSON_BODY_LIMIT

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(scope, send, limit)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except TooLarge:
            if not started:
                await _refuse(scope, send, limit)


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    path: str = scope["path"]
    parts = path.split("/")
    if len(parts) >= 4 and parts[1] == "c":  # a claimant page's form: back to the page, which says so in words
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", f"/c/{quote(parts[2], safe='')}?problem=file_size".encode()),
                                (b"content-length", b"0"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": b""})
        return
    body: dict[str, Any] = {"type": TYPE_BASE + "content-too-large", "title": "Content too large", "status": 413,
                            "detail": f"the request body is larger than {limit} bytes", "instance": scope["path"]}
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})
