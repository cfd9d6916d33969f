"""The relay: takes events from the outbox to every subscriber, at least once and in order per subject (a claim,
or a complaint).

Each round, for each subscriber, it reads what that subscriber has still to take and sends it, several subjects
at once but each subject's events one after another; it moves the subscriber's cursor after each event the other
side confirmed. A failure stops that subject's events for the round and schedules the retry; others go on.
After `Retry.max_attempts` the event goes to the dead letters and the subject waits for an operator.

Run one relay per database, or more for availability: on PostgreSQL a relay serves a subscriber only while it
holds that subscriber's advisory lock, so two relays never send the same subject's events side by side (order
would not hold). On SQLite run one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby

import structlog
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from db import outbox
from db.outbox import Outgoing, Retry
from events.sinks import DeliveryFailed, Sink

log = structlog.get_logger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Round:
    """What one round did."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0
    skipped: list[str] = field(default_factory=list)
    """Subscribers another relay serves."""


class Relay:
    def __init__(self, engine: Engine, sinks: Sequence[Sink], retry: Retry | None = None, *, batch: int = 500,
                 subjects_at_once: int = 8, clock: Callable[[], datetime] = _now) -> None:
        self.engine = engine
        self.sinks = list(sinks)
        self.retry = retry or Retry()
        self.batch = batch
        self.subjects_at_once = subjects_at_once
        self.clock = clock
        self._leases: dict[str, Connection] = {}

    async def run_once(self) -> Round:
        result = Round()
        for sink in self.sinks:
            if not await asyncio.to_thread(self._hold_lease, sink.name):
                result.skipped.append(sink.name)
                continue
            due = await asyncio.to_thread(outbox.pending, self.engine, sink.name, self.clock(), self.batch)
            gate = asyncio.Semaphore(self.subjects_at_once)

            async def one_subject(events: list[Outgoing], sink: Sink = sink, gate: asyncio.Semaphore = gate) -> None:
                async with gate:
                    await self._send_in_order(sink, events, result)

            # A task group: when one subject's bookkeeping fails, the others are stopped before the round ends
            # (and before the leases are let go), so no send outlives the round.
            async with asyncio.TaskGroup() as group:
                for _, events in groupby(due, key=lambda e: e.subject):
                    group.create_task(one_subject(list(events)))
        return result

    async def _send_in_order(self, sink: Sink, events: list[Outgoing], result: Round) -> None:
        for event in events:
            try:
                await sink.send(event)
            except DeliveryFailed as err:
                dead = await asyncio.to_thread(outbox.failed, self.engine, sink.name, event, str(err), self.clock(),
                                               self.retry)
                result.failed += 1
                if dead:
                    result.dead += 1
                    log.error("claim event dead-lettered", subscriber=sink.name, subject=event.subject,
                              seq=event.seq, type=event.type, attempts=event.attempts + 1, error=str(err))
                else:
                    log.warning("claim event not taken; will retry", subscriber=sink.name, subject=event.subject,
                                seq=event.seq, attempts=event.attempts + 1, error=str(err))
                return
            await asyncio.to_thread(outbox.delivered, self.engine, sink.name, event)
            result.delivered += 1

    async def run(self, stop: asyncio.Event, poll_seconds: float = 1.0, retention: timedelta | None = None) -> None:
        """Rounds until `stop` is set: at once again while a round finds a full batch, else after `poll_seconds`.
        With a retention, taken events older than it are pruned hourly."""
        pruned_at: datetime | None = None
        try:
            while not stop.is_set():
                try:
                    done = await self.run_once()
                except Exception:  # a task group's failures come as an ExceptionGroup
                    log.exception("event relay round failed; trying again")
                    done = Round()
                    await self._drop_leases()
                if retention is not None and (pruned_at is None or self.clock() - pruned_at > timedelta(hours=1)):
                    pruned_at = self.clock()
                    gone = await asyncio.to_thread(outbox.prune, self.engine, [s.name for s in self.sinks],
                                                   pruned_at - retention)
                    log.info("outbox pruned", deleted=gone)
                if done.delivered + done.failed >= self.batch:
                    continue
                try:
                    await asyncio.wait_for(stop.wait(), poll_seconds)
                except TimeoutError:
                    pass
        finally:
            await self.close()

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.close()
        await self._drop_leases()

    # ----------------------------------------------------------------------- one relay per subscriber

    def _hold_lease(self, subscriber: str) -> bool:
        """PostgreSQL: hold the subscriber's session advisory lock (kept on a connection of its own while this
        relay runs). SQLite: always."""
        if self.engine.dialect.name != "postgresql":
            return True
        held = self._leases.get(subscriber)
        if held is not None:
            try:
                held.execute(text("select 1"))
                return True
            except Exception:  # noqa: BLE001  (the lease's connection broke: the lock went with it)
                self._leases.pop(subscriber)
                held.invalidate()
        key = int.from_bytes(hashlib.sha256(f"claim-events:{subscriber}".encode()).digest()[:8], "big", signed=True)
        # Autocommit: the lease's connection never sits idle in a transaction (which a server may end, lock and all).
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if conn.execute(text("select pg_try_advisory_lock(:key)"), {"key": key}).scalar_one():
            self._leases[subscriber] = conn
            return True
        conn.close()
        return False

    async def _drop_leases(self) -> None:
        leases, self._leases = self._leases, {}
        for conn in leases.values():
            # Invalidated, not returned to the pool: the session's advisory lock ends with its connection.
            await asyncio.to_thread(conn.invalidate)
