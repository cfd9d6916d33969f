"""Claim events through the real brokers this machine runs, RabbitMQ and NATS JetStream: claims move while the relay
is cut off from the broker; once it is back, the broker holds every event, each claim's in order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import aio_pika
import nats
from nats.js.api import StreamConfig

from db import outbox
from db.cloud_events import read
from db.outbox import Retry
from events.relay import Relay
from events.sinks import NatsSink, RabbitSink, Sink
from testkit.claims import auto_claim
from testkit.harness import Claims
from tests.event_receivers import TcpProxy, first_seen, received, require_service
from tests.test_events import drain, outbox_seqs

RABBIT = ("127.0.0.1", 5672)
NATS = ("127.0.0.1", 4222)
QUICK = Retry(max_attempts=1000, first=timedelta(seconds=0.05), ceiling=timedelta(seconds=0.2))


@asynccontextmanager
async def relaying(claims: Claims, sink: Sink) -> AsyncIterator[Relay]:
    relay = Relay(claims.engine, [sink], QUICK)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop, poll_seconds=0.05))
    try:
        yield relay
    finally:
        stop.set()
        await running


async def claims_while_cut_off(claims: Claims, relay: Relay, proxy: TcpProxy) -> list[str]:
    """A claim paid on the fast path; the broker cut off; a claim denied; the broker back; all sent."""
    paid, denied = auto_claim(), auto_claim(claimed_amount="380.00",
                                            line_items=[{"description": "mirror", "amount": "380.00"}])
    await (await claims.start(paid)).result()
    await proxy.cut()
    await (await claims.start(denied)).result()
    await asyncio.sleep(0.5)
    assert outbox.backlog(claims.engine, "broker") > 0, "events waited while the broker was out of reach"
    await proxy.mend()
    await drain(relay, claims.engine, "broker")
    return [paid["claim_id"], denied["claim_id"]]


async def collect(fetch: Callable[[], Awaitable[bytes | None]]) -> list:
    bodies = []
    while (body := await fetch()) is not None:
        bodies.append(received(read(body)))
    return bodies


async def test_rabbitmq_holds_every_event_in_order_though_the_relay_was_cut_off(claims):
    require_service("RabbitMQ", *RABBIT)
    exchange_name = f"test-claims-events-{uuid.uuid4().hex[:8]}"
    proxy = TcpProxy(*RABBIT)
    await proxy.mend()
    connection = await aio_pika.connect(f"amqp://guest:guest@{RABBIT[0]}:{RABBIT[1]}/")
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key="claims.#")
        sink = RabbitSink(f"amqp://guest:guest@127.0.0.1:{proxy.port}/", exchange_name)
        async with relaying(claims, sink) as relay:
            ids = await claims_while_cut_off(claims, relay, proxy)

        async def fetch() -> bytes | None:
            message = await queue.get(fail=False, timeout=5)
            if message is None:
                return None
            await message.ack()
            assert message.content_type == "application/cloudevents+json" and message.message_id
            return message.body

        events = await collect(fetch)
        assert first_seen(events) == outbox_seqs(claims.engine, ids), "every event, each claim's in order"
        assert {e.type for e in events} >= {"claims.registered", "claims.paid", "claims.decided"}
        await exchange.delete()
    finally:
        await connection.close()
        await proxy.cut()


async def test_nats_jetstream_holds_every_event_once_in_order_though_the_relay_was_cut_off(claims):
    require_service("NATS", *NATS)
    topic = f"test-claims-events-{uuid.uuid4().hex[:8]}"
    proxy = TcpProxy(*NATS)
    await proxy.mend()
    nc = await nats.connect(f"nats://{NATS[0]}:{NATS[1]}")
    js = nc.jetstream()
    sink = NatsSink(f"nats://127.0.0.1:{proxy.port}", topic)
    try:
        async with relaying(claims, sink) as relay:
            ids = await claims_while_cut_off(claims, relay, proxy)
        info = await js.stream_info(sink.stream)
        assert isinstance(info.config, StreamConfig) and info.config.subjects == [f"{topic}.>"]
        subscription = await js.pull_subscribe(f"{topic}.>", stream=sink.stream)

        async def fetch() -> bytes | None:
            try:
                (message,) = await subscription.fetch(1, timeout=2)
            except nats.errors.TimeoutError:
                return None
            await message.ack()
            return message.data

        events = await collect(fetch)
        expected = outbox_seqs(claims.engine, ids)
        assert first_seen(events) == expected, "every event, each claim's in order"
        assert len(events) == sum(map(len, expected.values())), "the stream dropped redeliveries by Nats-Msg-Id"
    finally:
        try:
            await js.delete_stream(sink.stream)
        finally:
            await nc.close()
            await proxy.cut()
