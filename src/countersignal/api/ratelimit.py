"""In-process token buckets: per API token for requests, per client address for failed logins.

Why in-process: a bucket check is a dict lookup, while a shared store costs a round trip per
request (and on SQLite a write lock that would serialise every request). The price is that
with ``--workers N`` each process enforces the limit on its own, so one token may reach up to
N times the configured rate; set ``COUNTERSIGNAL_API_RATE_LIMIT_PER_S`` to the deployment-wide
budget divided by N when the bound must hold exactly. See docs/api.md.
"""

from __future__ import annotations

import math
import threading
import time

from countersignal.errors import RateLimited

MAX_KEYS = 100_000


class TokenBuckets:
    """``rate`` tokens a second up to ``burst`` per key; ``take`` raises :class:`RateLimited`."""

    def __init__(self, rate: float, burst: float, *, what: str = "requests") -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.what = what
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str, cost: float = 1.0) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < cost:
                self._buckets[key] = (tokens, now)
                retry_after = math.ceil((cost - tokens) / self.rate)
                raise RateLimited(
                    f"too many {self.what}; retry in {retry_after} s",
                    retry_after=retry_after,
                )
            self._buckets[key] = (tokens - cost, now)
            if len(self._buckets) > MAX_KEYS:
                self._forget_full(now)

    def peek(self, key: str) -> None:
        """Raise :class:`RateLimited` when ``key`` has no token left, without taking one."""
        if not self.enabled:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
        if tokens + (now - last) * self.rate < 1.0:
            retry_after = math.ceil((1.0 - tokens) / self.rate)
            raise RateLimited(f"too many {self.what}; retry in {retry_after} s",
                              retry_after=retry_after)

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: they behave exactly like absent ones."""
        self._buckets = {
            k: (t, last)
            for k, (t, last) in self._buckets.items()
            if t + (now - last) * self.rate < self.burst
        }
