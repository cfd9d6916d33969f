"""`python -m events`: the relay, sending claim events from the outbox to the configured subscribers until
SIGTERM or SIGINT (then it finishes the event in hand and stops)."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

import structlog

from config.embedded import UnsafeIdentity, refuse_unsafe_identity
from config.logging import configure_logging
from config.settings import Settings, get_settings
from db.engine import make_engine
from db.outbox import Retry
from events.relay import Relay
from events.sinks import sinks_for

log = structlog.get_logger(__name__)


def relay_for(settings: Settings) -> Relay:
    return Relay(make_engine(settings.resolved_database_url), sinks_for(settings),
                 Retry(max_attempts=settings.event_max_attempts,
                       first=timedelta(seconds=settings.event_retry_seconds),
                       ceiling=timedelta(seconds=settings.event_retry_max_seconds)))


async def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    try:
        refuse_unsafe_identity(settings, "the event relay")
    except UnsafeIdentity as err:
        raise SystemExit(f"error: {err}") from None
    relay = relay_for(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("event relay started", subscribers=[s.name for s in relay.sinks] or "none configured")
    await relay.run(stop, settings.event_poll_seconds, timedelta(days=settings.event_retention_days))
    log.info("event relay stopped")


if __name__ == "__main__":
    asyncio.run(main())
