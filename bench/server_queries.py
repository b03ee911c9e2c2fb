"""Built-in server queries at scale: list, text search, filtered search and /stats over 1,000,000 tickets.

Builds (or reuses) a database of synthetic tickets (``server.seed``: 90 days, so the default
30-day /stats window holds a third of them), then times, as the median of several runs:

* on the store directly: a list page of 50, ``q=printer``, ``status=open&category=Printing&q=printer``
  and the figures of the last 30 days;
* the same four over HTTP against the real server process on 127.0.0.1.

Each row is printed with a peer timed in the same run on the same database, so the figures
read as ratios on a shared or slow machine: a plain ``SELECT … ORDER BY seq DESC LIMIT 50``
for the store, a ``GET /healthz`` round trip for HTTP, and the query shapes this store used
before (``seq IN (SELECT rowid …)``, rows read into Python for the figures).

    .venv/bin/python bench/server_queries.py                      # 1,000,000 tickets in a temp dir
    .venv/bin/python bench/server_queries.py --data /tmp/q1m      # keep the database for the next run
    .venv/bin/python bench/server_queries.py --tickets 100000     # quicker

Targets: a list or search page of 50 out of 1,000,000 ≤ 50 ms; /stats ≤ 200 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.seed import seed_tickets
from server.store import Store, TicketFilter
from tests.fixtures.server import ServerProcess

PAGE_TARGET_MS = 50.0
STATS_TARGET_MS = 200.0
WINDOW_SECONDS = 30 * 86400
HTTP_TIMEOUT_SECONDS = 60.0


def median_ms(action: Callable[[], object], runs: int) -> float:
    """Median wall time of ``runs`` calls after one warm-up call, in milliseconds."""
    action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def build(data_dir: Path, tickets: int) -> Store:
    store = Store(data_dir)
    have = store.count_tickets()
    if have < tickets:
        print(f"seeding {tickets - have:,} tickets into {data_dir} …", flush=True)
        start = time.perf_counter()
        seed_tickets(store, tickets - have, seed=have + 1, batch=20_000)
        print(f"  {time.perf_counter() - start:.1f} s", flush=True)
        store.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store


def row(name: str, ms: float, peer_name: str, peer_ms: float, target: float | None) -> None:
    verdict = "" if target is None else ("  ok" if ms <= target else f"  OVER the {target:.0f} ms target")
    ratio = ms / peer_ms if peer_ms > 0 else float("inf")
    print(f"  {name:<44} {ms:9.2f} ms   {ratio:8.1f}× {peer_name} ({peer_ms:.2f} ms){verdict}")


def store_rows(store: Store, runs: int) -> None:
    conn = store.connection()
    now = time.time()
    window = (now - WINDOW_SECONDS, now)

    def plain() -> object:
        return conn.execute("SELECT * FROM tickets ORDER BY seq DESC LIMIT 51").fetchall()

    def old_search(extra: str, params: tuple[Any, ...]) -> object:
        # The shape this store used before: every match materialised, then sorted and cut.
        return conn.execute(
            "SELECT * FROM tickets WHERE seq IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?) "  # noqa: S608
            f"{extra} ORDER BY seq DESC LIMIT 51",
            ('"printer"*', *params),
        ).fetchall()

    def old_stats() -> object:
        # The shape this store used before: the window's rows read into Python.
        return conn.execute(
            "SELECT created_at, first_response_at, resolved_at FROM tickets WHERE created_at >= ? AND created_at < ?",
            window,
        ).fetchall()

    peer = median_ms(plain, runs)
    print(f"store, in-process ({store.count_tickets():,} tickets)")
    row("list 50", median_ms(lambda: store.list_tickets(TicketFilter(), limit=50), runs), "plain", peer, PAGE_TARGET_MS)
    text = median_ms(lambda: store.list_tickets(TicketFilter(text="printer"), limit=50), runs)
    row("q=printer 50", text, "plain", peer, PAGE_TARGET_MS)
    combined_filter = TicketFilter(status="open", category="Printing", text="printer")
    combined = median_ms(lambda: store.list_tickets(combined_filter, limit=50), runs)
    row("status+category+q 50", combined, "plain", peer, PAGE_TARGET_MS)
    figures = median_ms(lambda: store.stats(*window), runs)
    row("stats, last 30 days", figures, "plain", peer, STATS_TARGET_MS)
    print("  the shapes used before, same database:")
    row("q=printer as seq IN (…)", median_ms(lambda: old_search("", ()), runs), "new", text, None)
    row(
        "status+category+q as seq IN (…)",
        median_ms(lambda: old_search("AND status = ? AND category = ?", ("open", "Printing")), runs),
        "new",
        combined,
        None,
    )
    row("stats: window rows read into Python (part)", median_ms(old_stats, max(3, runs // 3)), "new", figures, None)


def http_rows(data_dir: Path, runs: int) -> None:
    server = ServerProcess(data_dir, log_path=data_dir.parent / "server-queries.log").start(timeout=120)
    try:
        token = server.token("technician")
        session = requests.Session()
        session.headers.update(ServerProcess.auth(token))

        def get(path: str, **params: str) -> Callable[[], object]:
            def call() -> object:
                response = session.get(f"{server.api}{path}", params=params, timeout=HTTP_TIMEOUT_SECONDS)
                response.raise_for_status()
                return response.content

            return call

        health = median_ms(lambda: session.get(f"{server.url}/healthz", timeout=HTTP_TIMEOUT_SECONDS), runs)
        print(f"HTTP, the real server on {server.url}")
        row("GET /tickets?limit=50", median_ms(get("/tickets", limit="50"), runs), "/healthz", health, PAGE_TARGET_MS)
        row(
            "GET /tickets?q=printer&limit=50",
            median_ms(get("/tickets", q="printer", limit="50"), runs),
            "/healthz",
            health,
            PAGE_TARGET_MS,
        )
        row(
            "GET /tickets?status&category&q&limit=50",
            median_ms(get("/tickets", status="open", category="Printing", q="printer", limit="50"), runs),
            "/healthz",
            health,
            PAGE_TARGET_MS,
        )
        row("GET /stats (last 30 days)", median_ms(get("/stats"), runs), "/healthz", health, STATS_TARGET_MS)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=9, help="timed runs per row (the median is shown)")
    parser.add_argument("--data", type=Path, help="data directory to build in or reuse (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="showdesk-queries-") as scratch:
        data_dir = args.data or Path(scratch) / "data"
        store = build(data_dir, args.tickets)
        try:
            store_rows(store, args.runs)
        finally:
            store.close()
        http_rows(data_dir, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
