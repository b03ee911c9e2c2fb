"""Figures for /stats: response and resolution times, categories, walk-up wait, self-help, recurring machines.

Whole UTC days inside a window come from the roll-ups that the schema's triggers keep in the
same transaction as each ticket change; the partial days at either edge from the tickets
themselves. Medians walk the roll-up's duration buckets to the one holding the middle rank.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from server.store.connection import Connection, Database
from server.store.records import Stats, Summary
from server.store.rows import now
from server.store.schema import DURATION_COLUMNS, DURATION_INDEXES, SECONDS_PER_DAY, bucket_bounds


class Figures:
    """The figures of one database, and the self-help events they count."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def record_self_help(self, site: str | None, category: str, article: str, actor: str) -> int:
        with self._database.write(notify=False) as conn:
            cursor = conn.execute(
                "INSERT INTO self_help_events (at, site, category, article, actor) VALUES (?, ?, ?, ?, ?)",
                (now(), site, category, article, actor),
            )
            return int(cursor.lastrowid or 0)

    def stats(self, since: float, until: float) -> Stats:
        """The figures for tickets created in [since, until), and the tickets open now.

        Whole UTC days inside the window come from the roll-ups the triggers keep; the
        partial days at either edge from the tickets themselves (through ``tickets_window``,
        an index that holds every column needed). The cost follows the number of days and
        distinct values, not the number of tickets.
        """
        window = (since, until)
        days, edges = _split_window(since, until)
        with self._database.read() as conn:
            figures = _WindowFigures(self._database)
            if days is not None:
                figures.add_days(conn, days)
            for edge in edges:
                figures.add_edge(conn, edge)
            first = _duration_summary(self._database, conn, "first", figures, window)
            resolution = _duration_summary(self._database, conn, "resolved", figures, window)
            waits = [
                float(r[0])
                for r in conn.execute(
                    # A visit served without "call next" (the ticket resolved at the desk) waited
                    # until it was served.
                    "SELECT coalesce(called_at, served_at) - enqueued_at FROM queue_entries "
                    "WHERE enqueued_at >= ? AND enqueued_at < ? AND coalesce(called_at, served_at) IS NOT NULL",
                    window,
                ).fetchall()
            ]
            solved = int(
                conn.execute("SELECT count(*) FROM self_help_events WHERE at >= ? AND at < ?", window).fetchone()[0]
            )
            top_articles = [
                (r[0], int(r[1]))
                for r in conn.execute(
                    "SELECT article, count(*) FROM self_help_events WHERE at >= ? AND at < ? "
                    "GROUP BY article ORDER BY count(*) DESC, article LIMIT 10",
                    window,
                ).fetchall()
            ]
            open_now = int(
                conn.execute(
                    "SELECT coalesce(sum(tickets), 0) FROM stats_status WHERE status IN ('new', 'open', 'waiting')"
                ).fetchone()[0]
            )
        by_category = sorted(
            ((category or "", count) for category, count in figures.categories.items() if count > 0),
            key=lambda item: (-item[1], item[0]),
        )
        recurring = sorted(
            ((source, count) for source, count in figures.sources.items() if count >= 2),
            key=lambda item: (-item[1], item[0]),
        )[:20]
        return Stats(
            since=since,
            until=until,
            tickets_created=figures.created,
            first_response=first,
            resolution=resolution,
            walk_up_wait=Summary.of(waits),
            by_category=by_category,
            solved_by_article=solved,
            reports_after_articles=figures.after_articles,
            top_articles=top_articles,
            recurring_machines=recurring,
            open_tickets=open_now,
        )


def _split_window(since: float, until: float) -> tuple[tuple[int, int] | None, list[tuple[float, float]]]:
    """The whole UTC days ``[first, end)`` inside ``[since, until)`` (None if there are none), and the edges left."""
    first_day = math.ceil(since / SECONDS_PER_DAY)
    end_day = math.floor(until / SECONDS_PER_DAY)
    if first_day < end_day:
        days: tuple[int, int] | None = (first_day, end_day)
        edges = [(since, first_day * SECONDS_PER_DAY), (end_day * SECONDS_PER_DAY, until)]
    else:
        days, edges = None, [(since, until)]
    return days, [(low, high) for low, high in edges if low < high]


def _duration_summary(
    database: Database,
    conn: Connection, kind: str, figures: _WindowFigures, window: tuple[float, float]
) -> Summary:
    count, total = figures.duration_count[kind], figures.duration_sum[kind]
    if count <= 0:
        return Summary()
    histogram = sorted((bucket, n) for bucket, n in figures.histograms[kind].items() if n > 0)
    # statistics.median: the middle value, or the mean of the two middle values.
    ranks = sorted({(count - 1) // 2, count // 2})
    middle = [_nth_duration(database, conn, kind, histogram, rank, window) for rank in ranks]
    if any(value is None for value in middle):
        # The roll-up disagrees with the tickets (edited by hand?): count the slow way.
        column = DURATION_COLUMNS[kind]
        values = [
            float(r[0])
            for r in conn.execute(
                f"SELECT {column} - created_at FROM tickets WHERE created_at >= ? AND created_at < ? "  # noqa: S608
                f"AND {column} IS NOT NULL",
                window,
            ).fetchall()
        ]
        return Summary.of(values)
    found = [value for value in middle if value is not None]
    return Summary(count, total / count, statistics.fmean(found))


class _WindowFigures:
    """Counts and sums of one /stats window, added up from roll-up days and raw edge ranges."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self.created = 0
        self.after_articles = 0
        self.duration_count: dict[str, int] = dict.fromkeys(DURATION_COLUMNS, 0)
        self.duration_sum: dict[str, float] = dict.fromkeys(DURATION_COLUMNS, 0.0)
        self.categories: dict[str, int] = {}
        self.sources: dict[str, int] = {}
        self.histograms: dict[str, dict[int, int]] = {kind: {} for kind in DURATION_COLUMNS}

    def add_days(self, conn: Connection, days: tuple[int, int]) -> None:
        """Whole days ``days[0] <= day < days[1]`` from the roll-ups."""
        row = conn.execute(
            "SELECT coalesce(sum(created), 0), coalesce(sum(after_articles), 0), coalesce(sum(first_count), 0), "
            "coalesce(sum(first_sum), 0), coalesce(sum(resolved_count), 0), coalesce(sum(resolved_sum), 0) "
            "FROM stats_daily WHERE day >= ? AND day < ?",
            days,
        ).fetchone()
        self._add_totals(row)
        self._merge(
            self.categories,
            conn.execute(
                "SELECT category, sum(tickets) FROM stats_daily_category WHERE day >= ? AND day < ? GROUP BY category",
                days,
            ),
        )
        self._merge(
            self.sources,
            conn.execute(
                "SELECT source_id, sum(tickets) FROM stats_daily_source WHERE day >= ? AND day < ? GROUP BY source_id",
                days,
            ),
        )
        for kind in DURATION_COLUMNS:
            self._merge(
                self.histograms[kind],
                conn.execute(
                    "SELECT bucket, sum(tickets) FROM stats_daily_duration WHERE kind = ? AND day >= ? AND day < ? "
                    "GROUP BY bucket",
                    (kind, *days),
                ),
            )

    def add_edge(self, conn: Connection, edge: tuple[float, float]) -> None:
        """Tickets created in ``edge[0] <= created_at < edge[1]`` (less than a day), counted directly."""
        within = f"FROM tickets {self._database.index_hint('tickets_window')} WHERE created_at >= ? AND created_at < ?"
        row = conn.execute(
            "SELECT count(*), coalesce(sum(CASE WHEN self_help_count > 0 THEN 1 ELSE 0 END), 0), "
            "count(first_response_at), "
            "coalesce(sum(first_response_at - created_at), 0), count(resolved_at), "
            f"coalesce(sum(resolved_at - created_at), 0) {within}",
            edge,
        ).fetchone()
        self._add_totals(row)
        self._merge(self.categories, conn.execute(f"SELECT category, count(*) {within} GROUP BY category", edge))
        self._merge(
            self.sources,
            conn.execute(f"SELECT source_id, count(*) {within} AND source_kind != 'kiosk' GROUP BY source_id", edge),
        )
        for kind, column in DURATION_COLUMNS.items():
            bucket = self._database.bucket_sql(f"{column} - created_at")
            self._merge(
                self.histograms[kind],
                conn.execute(f"SELECT {bucket} AS b, count(*) {within} AND {column} IS NOT NULL GROUP BY b", edge),
            )

    def _add_totals(self, row: Sequence[Any]) -> None:
        self.created += int(row[0])
        self.after_articles += int(row[1])
        self.duration_count["first"] += int(row[2])
        self.duration_sum["first"] += float(row[3])
        self.duration_count["resolved"] += int(row[4])
        self.duration_sum["resolved"] += float(row[5])

    @staticmethod
    def _merge(into: dict[Any, int], rows: Iterable[Sequence[Any]]) -> None:
        for key, count in rows:
            into[key] = into.get(key, 0) + int(count)


def _nth_duration(
    database: Database,
    conn: Connection, kind: str, histogram: Sequence[tuple[int, int]], rank: int, window: tuple[float, float]
) -> float | None:
    """The duration at 0-based ``rank`` in ascending order among the window's tickets; None if the roll-up is off.

    The histogram says which bucket holds that rank and how many durations lie below it;
    the index on the duration then yields the bucket's durations in order, and only the
    window's are counted.
    """
    below = 0
    for bucket, count in histogram:
        if rank < below + count:
            low, high = bucket_bounds(bucket)
            duration = f"{DURATION_COLUMNS[kind]} - created_at"
            lower = "" if math.isinf(low) else f"{duration} >= ? AND "
            params: list[Any] = [] if math.isinf(low) else [low]
            row = conn.execute(
                f"SELECT {duration} AS d FROM tickets {database.index_hint(DURATION_INDEXES[kind])} "  # noqa: S608
                f"WHERE {DURATION_COLUMNS[kind]} IS NOT NULL AND {lower}{duration} < ? "
                "AND created_at >= ? AND created_at < ? ORDER BY d LIMIT 1 OFFSET ?",
                [*params, high, *window, rank - below],
            ).fetchone()
            return None if row is None else float(row[0])
        below += count
    return None
