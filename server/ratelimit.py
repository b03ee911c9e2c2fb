"""Rate limits: a token bucket per (kind of call, key), in this process's memory.

The key is a token id for the API's limits, a client address for missed requester links and
a ticket for what a person sends from the requester's page.

A bucket holds up to ``burst`` permits and gains ``per_minute / 60`` permits a second; a call
takes one permit or is refused with the seconds until the next one (the 429's Retry-After).
Refused calls take nothing, so a client that waits as told always gets through.

Memory: API buckets are per authenticated token, bounded by the tokens the database holds;
client addresses are not bounded that way, which is what ``max_buckets`` is for. A bucket
that has refilled is the same as no bucket, so those are dropped
whenever the table passes ``max_buckets``; if it is still too big (more tokens than the bound,
all busy), the least recently used go — that token merely gets a fresh burst.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

# Far more buckets than any site has tokens; each costs about 200 bytes.
DEFAULT_MAX_BUCKETS: Final = 10_000


@dataclass(frozen=True)
class RateLimit:
    """``per_minute`` sustained, ``burst`` at once; ``per_minute`` 0 means no limit."""

    per_minute: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute < 0 or not math.isfinite(self.per_minute):
            raise ValueError(f"a rate must be 0 (no limit) or a positive number per minute, got {self.per_minute}")
        if self.burst < 1:
            raise ValueError(f"a burst must be at least 1, got {self.burst}")

    @property
    def unlimited(self) -> bool:
        return self.per_minute == 0


@dataclass
class _Bucket:
    permits: float
    updated: float


class RateLimiter:
    """Token buckets keyed by (kind, token id); safe to call from the event loop and worker threads."""

    def __init__(
        self,
        limits: dict[str, RateLimit],
        *,
        max_buckets: int = DEFAULT_MAX_BUCKETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = dict(limits)
        self._max_buckets = max_buckets
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def limit(self, kind: str) -> RateLimit:
        return self._limits[kind]

    def acquire(self, kind: str, token_id: str) -> float:
        """Take one permit: 0.0 when granted, else the seconds until one will be there."""
        limit = self._limits[kind]
        if limit.unlimited:
            return 0.0
        rate = limit.per_minute / 60.0
        key = (kind, token_id)
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                self._make_room(now)
                bucket = _Bucket(permits=float(limit.burst), updated=now)
                self._buckets[key] = bucket
            else:
                self._buckets.move_to_end(key)
                bucket.permits = min(float(limit.burst), bucket.permits + (now - bucket.updated) * rate)
                bucket.updated = now
            if bucket.permits >= 1.0:
                bucket.permits -= 1.0
                return 0.0
            return (1.0 - bucket.permits) / rate

    def wait_for(self, kind: str, key: str) -> float:
        """Seconds until ``key`` has a permit for ``kind`` (0.0: it has one), taking nothing.

        For limits spent only on failures (a link that opens nothing): a client over the limit
        is refused before its next try is even looked at.
        """
        limit = self._limits[kind]
        if limit.unlimited:
            return 0.0
        with self._lock:
            bucket = self._buckets.get((kind, key))
            if bucket is None:
                return 0.0
            rate = limit.per_minute / 60.0
            permits = min(float(limit.burst), bucket.permits + (self._clock() - bucket.updated) * rate)
            return 0.0 if permits >= 1.0 else (1.0 - permits) / rate

    def _make_room(self, now: float) -> None:
        """Before adding a bucket: drop refilled ones, then the least recently used, to stay within the bound."""
        if len(self._buckets) < self._max_buckets:
            return
        for key, bucket in list(self._buckets.items()):
            limit = self._limits[key[0]]
            if bucket.permits + (now - bucket.updated) * limit.per_minute / 60.0 >= limit.burst:
                del self._buckets[key]
        while len(self._buckets) >= self._max_buckets:
            self._buckets.popitem(last=False)


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds, rounded up so a client that obeys it finds a permit."""
    return str(max(1, math.ceil(seconds)))
