"""Token-bucket rate limits per key (a client address or a pubkey).

Each key refills at ``rate`` tokens per second up to ``burst``. A flooding key runs dry while other
keys keep their own full buckets, so one client cannot starve the rest. The table is bounded: when
it is full, buckets that have refilled completely (idle keys) are dropped first.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """Token buckets keyed by string; :meth:`allow` spends one token if there is one."""

    def __init__(
        self, rate: float, burst: int, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.max_keys, self.clock = rate, float(burst), max_keys, clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens from ``key``'s bucket; False (and nothing spent) when it is short."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < cost:
            self._buckets[key] = (tokens, now)
            return False
        if key not in self._buckets and len(self._buckets) >= self.max_keys:
            self._evict(now)
        self._buckets[key] = (tokens - cost, now)
        return True

    def _evict(self, now: float) -> None:
        full = [k for k, (t, last) in self._buckets.items() if t + (now - last) * self.rate >= self.burst]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]
