"""One server span per HTTP request, the parent of what the request does in Temporal (config/tracing.py).

The span is named by method and path (claim ids are not personal data; query strings are left out). Without
a tracer provider configured it is OpenTelemetry's no-op span."""

from __future__ import annotations

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_tracer = trace.get_tracer("claims.api")


class Traced:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        with _tracer.start_as_current_span(f"{method} {path}", kind=trace.SpanKind.SERVER, attributes={
                "http.request.method": method, "url.path": path}) as span:

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                    if message["status"] >= 500:
                        span.set_status(trace.StatusCode.ERROR)
                await send(message)

            await self.app(scope, receive, send_traced)
