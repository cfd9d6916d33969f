"""A budget of requests per caller address over a sliding window, for what anyone may ask without signing in
(a progress code for a claim). Kept in the API process's memory: each process counts on its own, so behind a load
balancer of N processes an address gets at most N times the budget."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

ANONYMOUS_CODES_PER_HOUR = 10
"""Progress codes one address may ask for in an hour through the claimant pages, whatever the claims."""
ANONYMOUS_CHECKS_PER_HOUR = 30
"""Codes one address may type in an hour on the claimant pages, whatever the claims: a stranger walking through
claim numbers gets a few a minute, a claimant who mistypes is never stopped."""


class AddressBudget:
    def __init__(self, per_window: int, window_seconds: float, clock: Callable[[], float] = time.monotonic,
                 max_addresses: int = 100_000) -> None:
        self.per_window = per_window
        self.window = window_seconds
        self.clock = clock
        self.max_addresses = max_addresses
        self._asked: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, address: str) -> bool:
        """One request from this address, if its budget allows it now."""
        now = self.clock()
        with self._lock:
            if len(self._asked) >= self.max_addresses:  # bounded memory: forget the addresses that are quiet
                self._asked = {a: q for a, q in self._asked.items() if q and q[-1] > now - self.window}
            asked = self._asked.setdefault(address, deque())
            while asked and asked[0] <= now - self.window:
                asked.popleft()
            if len(asked) >= self.per_window:
                return False
            asked.append(now)
            return True
