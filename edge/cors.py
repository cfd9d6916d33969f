"""Cross-origin calls for the codec server only: the Temporal web UI, on its own origin, calls `/codec` with the
staff session's cookie. The rest of the app (the workbench and its forms, the claimant's pages, the JSON API)
answers no cross-origin request, so a page on that origin cannot read them with the cookie."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class CodecCORS:
    def __init__(self, app: ASGIApp, *, prefix: str, origins: Sequence[str]) -> None:
        self.app = app
        self.prefix = prefix
        self.cors = CORSMiddleware(app, allow_origins=list(origins), allow_methods=["POST", "GET", "OPTIONS"],
                                   allow_headers=["Authorization", "Content-Type", "X-Namespace"],
                                   allow_credentials=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
