"""Rate limits: a token bucket per (kind of call, key), in this process's memory or in the database.

``RateLimiter`` keeps the buckets in memory: the embedded default (one process on SQLite).
``DatabaseRateLimiter`` keeps the same buckets, by the same rules, in the database's
``rate_buckets`` table, so that every server process on one PostgreSQL database shares them:
a token's limit holds whichever process its requests reach. One UPSERT per call decides
atomically, by the database's clock (one clock for every machine).

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
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from server.store import Database

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


# The database's clock at the start of the statement: one clock for every process and machine.
_DATABASE_NOW: Final = "extract(epoch from statement_timestamp())::double precision"
# A process forgets refilled buckets after this many calls (a bucket that has refilled is no bucket).
PRUNE_EVERY_CALLS: Final = 1000


class DatabaseRateLimiter:
    """``RateLimiter``'s buckets and rules in the database (table ``rate_buckets``), shared by every process.

    Only for PostgreSQL (the table is part of its schema). ``clock`` replaces the database's
    clock in tests of the arithmetic.
    """

    def __init__(
        self, limits: dict[str, RateLimit], database: Database, *, clock: Callable[[], float] | None = None
    ) -> None:
        self._limits = dict(limits)
        self._database = database
        self._clock = clock
        self._calls = 0
        self._calls_lock = threading.Lock()
        limited = [limit.burst / (limit.per_minute / 60.0) for limit in self._limits.values() if not limit.unlimited]
        self._full_after = max(limited, default=0.0)

    def __len__(self) -> int:
        return int(self._database.connection().execute("SELECT count(*) FROM rate_buckets").fetchone()[0])

    def limit(self, kind: str) -> RateLimit:
        return self._limits[kind]

    def _now(self) -> tuple[str, list[float]]:
        return ("?", [self._clock()]) if self._clock is not None else (_DATABASE_NOW, [])

    def acquire(self, kind: str, key: str) -> float:
        """Take one permit: 0.0 when granted, else the seconds until one will be there."""
        limit = self._limits[kind]
        if limit.unlimited:
            return 0.0
        rate = limit.per_minute / 60.0
        now, now_params = self._now()
        # The new row carries the burst (permits + 1) and the time (updated) to the update as ``excluded``.
        refilled = "least(excluded.permits + 1, b.permits + greatest(excluded.updated - b.updated, 0) * ?)"
        sql = (
            "INSERT INTO rate_buckets AS b (kind, key, permits, updated, granted) "  # noqa: S608 - fixed text
            f"VALUES (?, ?, ?, {now}, true) ON CONFLICT (kind, key) DO UPDATE SET "
            f"permits = CASE WHEN {refilled} >= 1 THEN {refilled} - 1 ELSE {refilled} END, "
            "updated = greatest(excluded.updated, b.updated), "
            f"granted = {refilled} >= 1 "
            "RETURNING permits, granted"
        )
        params = [kind, key, float(limit.burst - 1), *now_params, rate, rate, rate, rate]
        row = self._database.connection().execute(sql, params).fetchone()
        self._maybe_prune()
        if row[1]:
            return 0.0
        return (1.0 - float(row[0])) / rate

    def wait_for(self, kind: str, key: str) -> float:
        """Seconds until ``key`` has a permit for ``kind`` (0.0: it has one), taking nothing."""
        limit = self._limits[kind]
        if limit.unlimited:
            return 0.0
        rate = limit.per_minute / 60.0
        now, now_params = self._now()
        row = (
            self._database.connection()
            .execute(
                f"SELECT least(?, permits + greatest({now} - updated, 0) * ?) "  # noqa: S608 - fixed text
                "FROM rate_buckets WHERE kind = ? AND key = ?",
                [float(limit.burst), *now_params, rate, kind, key],
            )
            .fetchone()
        )
        if row is None:
            return 0.0
        permits = float(row[0])
        return 0.0 if permits >= 1.0 else (1.0 - permits) / rate

    def _maybe_prune(self) -> None:
        """Now and then: drop the buckets that have refilled, which keeps the table as small as the active keys."""
        with self._calls_lock:
            self._calls += 1
            due = self._calls % PRUNE_EVERY_CALLS == 0
        if not due or self._full_after <= 0:
            return
        now, now_params = self._now()
        self._database.connection().execute(
            f"DELETE FROM rate_buckets WHERE updated < {now} - ?",  # noqa: S608 - fixed text
            [*now_params, self._full_after],
        )


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds, rounded up so a client that obeys it finds a permit."""
    return str(max(1, math.ceil(seconds)))
