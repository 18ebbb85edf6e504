"""Per-client token buckets: a steady rate with room for a burst, and how long to wait when empty."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

# Idle clients' buckets are dropped once this many are held, so a scan from many addresses cannot grow
# memory without bound; a dropped bucket was full anyway (idle long enough to refill).
_MAX_BUCKETS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """`rate_per_second` requests per second per client, up to `burst` at once.

    Called from the event loop only (one thread), so it needs no lock.
    """

    def __init__(
        self, rate_per_second: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be positive and burst at least 1")
        self.rate_per_second = rate_per_second
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, client: str) -> int:
        """0 when the request may go ahead (a token is spent), else the whole seconds until one is."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= _MAX_BUCKETS:
                self._drop_full_buckets(now)
            bucket = self._buckets[client] = _Bucket(tokens=float(self.burst), updated=now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate_per_second)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0
        return max(1, math.ceil((1 - bucket.tokens) / self.rate_per_second))

    def _drop_full_buckets(self, now: float) -> None:
        refill = self.burst / self.rate_per_second
        self._buckets = {
            client: bucket for client, bucket in self._buckets.items() if now - bucket.updated < refill
        }
