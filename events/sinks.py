"""Where claim events go: signed webhooks, a RabbitMQ topic exchange, a NATS JetStream stream.

A sink sends one event and returns only once the other side has it (a 2xx answer, a publisher confirm, a
JetStream acknowledgement); anything else raises `DeliveryFailed`, and the relay retries. Every sink sends the
outbox's bytes unchanged, in CloudEvents structured mode, so a redelivery is the same event with the same id.

Webhook signatures follow the Standard Webhooks scheme: `webhook-id` (the event id), `webhook-timestamp` (Unix
seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed by the
subscriber's secret (`whsec_<base64>` as Standard Webhooks issues them, or any other string as UTF-8 bytes).
`verify` is the receiver's side, for subscribers written in Python and for the tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import urlsplit

import aio_pika
import httpx
import nats
from aio_pika.abc import AbstractConnection, AbstractExchange
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from config.settings import Settings, Webhook
from db.cloud_events import CONTENT_TYPE
from db.outbox import Outgoing

SIGNATURE_TOLERANCE_SECONDS = 300
"""A receiver refuses a signature older (or newer) than this: a captured request cannot be replayed later."""


class DeliveryFailed(Exception):
    """The subscriber did not take the event; the relay tries again later."""


class Sink(Protocol):
    name: str

    async def send(self, event: Outgoing) -> None: ...

    async def close(self) -> None: ...


# --------------------------------------------------------------------------- signatures


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(_key(secret), f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class BadSignature(Exception):
    pass


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None,
           tolerance: float = SIGNATURE_TOLERANCE_SECONDS) -> str:
    """Check a received webhook's signature; its event id. Raises `BadSignature` naming what is wrong."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        event_id, stamp = lowered["webhook-id"], lowered["webhook-timestamp"]
        offered = [candidate.encode("ascii") for candidate in lowered["webhook-signature"].split()]
    except (KeyError, UnicodeEncodeError) as err:
        raise BadSignature(f"missing or malformed webhook header: {err}") from None
    if not stamp.isascii() or not stamp.isdigit():
        raise BadSignature("webhook-timestamp: Unix seconds, digits only")
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        raise BadSignature(f"webhook-timestamp {stamp} is outside the {tolerance:.0f} s tolerance")
    expected = sign(secret, event_id, int(stamp), body).encode("ascii")
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise BadSignature("webhook-signature does not match the body under this secret")
    return event_id


# --------------------------------------------------------------------------- webhooks


class WebhookSink:
    def __init__(self, webhook: Webhook, timeout: float = 10.0) -> None:
        self.name = webhook.name
        self.url = str(webhook.url)
        self._secret = webhook.secret.get_secret_value()
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def send(self, event: Outgoing) -> None:
        body = event.body.encode()
        timestamp = int(time.time())
        headers = {"content-type": CONTENT_TYPE, "webhook-id": event.event_id,
                   "webhook-timestamp": str(timestamp),
                   "webhook-signature": sign(self._secret, event.event_id, timestamp, body)}
        try:
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as err:
            raise DeliveryFailed(f"{type(err).__name__}: {err}") from err
        if not response.is_success:
            raise DeliveryFailed(f"HTTP {response.status_code} from {self.url}")

    async def close(self) -> None:
        await self._client.aclose()


# --------------------------------------------------------------------------- RabbitMQ


class RabbitSink:
    """A durable topic exchange; the routing key is the event type (`claims.paid`, ...), so a queue bound with
    `claims.#` takes everything. Messages are persistent and each publish waits for the broker's confirm. A type no
    queue is bound for is dropped by the broker (bind the queues before events flow)."""

    name = "broker"

    def __init__(self, url: str, exchange: str) -> None:
        self.url, self.exchange_name = url, exchange
        self._connection: AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None

    async def _exchange_ready(self) -> AbstractExchange:
        if self._exchange is None:
            self._connection = await aio_pika.connect(self.url, timeout=10)
            channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await channel.declare_exchange(self.exchange_name, aio_pika.ExchangeType.TOPIC,
                                                            durable=True)
        return self._exchange

    async def send(self, event: Outgoing) -> None:
        try:
            exchange = await self._exchange_ready()
            message = aio_pika.Message(event.body.encode(), content_type=CONTENT_TYPE, message_id=event.event_id,
                                       type=event.type, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                       headers={"cloudEvents:subject": event.subject})
            # Not mandatory: a type no queue is bound for is dropped by the broker, as topic subscribers expect.
            await exchange.publish(message, routing_key=event.type, mandatory=False, timeout=10)
        except Exception as err:
            await self.close()
            raise DeliveryFailed(f"RabbitMQ: {type(err).__name__}: {err}") from err

    async def close(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:  # noqa: BLE001  (a broken connection may fail to close; it is dropped either way)
                pass


# --------------------------------------------------------------------------- NATS JetStream


class NatsSink:
    """A JetStream stream over `<topic>.>`; the subject is `<topic>.<event type>`. `Nats-Msg-Id` is the event id,
    so the stream drops a redelivery within its duplicate window, and each publish waits for the stream's ack."""

    name = "broker"

    def __init__(self, url: str, topic: str) -> None:
        self.url, self.topic = url, topic
        self.stream = topic.upper().replace(".", "_").replace("-", "_")
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None

    async def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            self._nc = await nats.connect(self.url, connect_timeout=5, allow_reconnect=False)
            js = self._nc.jetstream()
            try:
                await js.stream_info(self.stream)
            except NotFoundError:
                await js.add_stream(name=self.stream, subjects=[f"{self.topic}.>"])
            self._js = js
        return self._js

    async def send(self, event: Outgoing) -> None:
        try:
            js = await self._jetstream()
            await js.publish(f"{self.topic}.{event.type}", event.body.encode(), timeout=10,
                             headers={"Nats-Msg-Id": event.event_id, "content-type": CONTENT_TYPE})
        except Exception as err:
            await self.close()
            raise DeliveryFailed(f"NATS: {type(err).__name__}: {err}") from err

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            try:
                await nc.close()
            except Exception:  # noqa: BLE001  (as above)
                pass


def broker_sink(url: str, topic: str) -> Sink:
    scheme = urlsplit(url).scheme
    if scheme in ("amqp", "amqps"):
        return RabbitSink(url, topic)
    if scheme in ("nats", "tls"):
        return NatsSink(url, topic)
    raise ValueError(f"CLAIMS_EVENT_BROKER_URL: unknown scheme {scheme!r} (amqp://, amqps:// or nats://)")


def sinks_for(settings: Settings) -> list[Sink]:
    sinks: list[Sink] = [WebhookSink(w) for w in settings.event_webhooks]
    if settings.event_broker_url:
        sinks.append(broker_sink(settings.event_broker_url, settings.event_broker_topic))
    names = [s.name for s in sinks]
    if len(set(names)) != len(names):
        raise ValueError(f"CLAIMS_EVENT_WEBHOOKS: subscriber names must be unique and not 'broker': {names}")
    return sinks
