"""Waiting for a state, never for a time.

Tests wait until what they need is true. The deadline is there only so that a state that never comes ends as a
failure naming what was awaited; it is long enough that a busy machine never reaches it on a working build.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

STATE_DEADLINE = 180.0
"""Seconds before a state that never comes is a failure (not a measure of speed: see `bench/`)."""


async def eventually(probe: Callable[[], T | Awaitable[T]], ready: Callable[[T], object], what: str,
                     seconds: float = STATE_DEADLINE, every: float = 0.1) -> T:
    """Read `probe` until `ready` holds for what it read; that value. Fails naming `what` and the last reading."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if ready(value):  # type: ignore[arg-type]
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(f"never {what} within {seconds:.0f} s; last read: {value!r}"[:2000])
        await asyncio.sleep(every)


def polled(probe: Callable[[], T], ready: Callable[[T], object], what: str, seconds: float = STATE_DEADLINE,
           every: float = 0.2) -> T:
    """`eventually` for code that is not asynchronous (tests that talk to the stack over HTTP)."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if ready(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"never {what} within {seconds:.0f} s; last read: {value!r}"[:2000])
        time.sleep(every)
