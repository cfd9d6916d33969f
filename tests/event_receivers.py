"""What other systems run to take claim events, for the tests: a webhook receiver (a real HTTP server that checks
each signature and can be taken down and brought back), a TCP proxy that cuts the relay off from a real broker
and lets it through again, and readers of a RabbitMQ queue and a NATS stream."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from db.cloud_events import read
from events.sinks import BadSignature, verify
from testkit.api_stack import free_port

SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtdGVzdHMtMTIzNDU2Nzg5MA=="


@dataclass
class Received:
    event_id: str
    subject: str
    seq: int
    type: str
    data: dict


@dataclass
class WebhookReceiver:
    """POST /events: 401 to a bad signature, else what `answer` says of the event (204: taken)."""

    secret: str = SECRET
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    bad_signatures: int = 0
    answer: Callable[[Received], int] = lambda event: 204
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/events")
        async def take(request: Request) -> Response:
            body = await request.body()
            try:
                verify(self.secret, request.headers, body)
            except BadSignature:
                self.bad_signatures += 1
                return Response(status_code=401)
            event = received(read(body))
            status = self.answer(event)
            if status < 300:
                self.received.append(event)
            return Response(status_code=status)

        return app

    async def start(self) -> None:
        self._server = uvicorn.Server(uvicorn.Config(self.app(), host="127.0.0.1", port=self.port,
                                                     log_level="warning", lifespan="off"))
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Down: the port refuses connections until `start`."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None


def received(event) -> Received:  # type: ignore[no-untyped-def]
    data = event.get_data()
    return Received(event.get_id(), event.get_subject(), data["sequence"], event.get_type(), data)


def first_seen(events: list[Received]) -> dict[str, list[int]]:
    """Each claim's events in the order they first arrived, redeliveries dropped (what a subscriber keeps)."""
    seen: set[str] = set()
    by_claim: dict[str, list[int]] = {}
    for e in events:
        if e.event_id not in seen:
            seen.add(e.event_id)
            by_claim.setdefault(e.subject, []).append(e.seq)
    return by_claim


class TcpProxy:
    """127.0.0.1:<port> -> target. `cut` closes the listener and every open connection (the broker is gone for
    whoever goes through it); `mend` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def mend(self) -> None:
        self._server = await asyncio.start_server(self._pipe_both, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _pipe_both(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._writers.discard(writer)


def require_service(name: str, host: str, port: int) -> None:
    """A broker this machine runs: skipped where it does not, a failure under CI."""
    with socket.socket() as sock:
        sock.settimeout(2)
        if sock.connect_ex((host, port)) == 0:
            return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required under CI and not reachable at {host}:{port}")
    pytest.skip(f"{name} not reachable at {host}:{port}")
