"""The changes feed: timeline events after a sequence number, in order, which wake technician mode."""

from __future__ import annotations

from typing import Any, Final

from server.store.connection import Database
from server.store.records import Change

MAX_CHANGES_PAGE: Final = 1000


class ChangesFeed:
    """What changed in one database since a sequence number."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def last_change_seq(self) -> int:
        row = self._database.connection().execute("SELECT max(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def newest_change_seq(self) -> int:
        """The sequence number of the newest timeline event (0 when there is none)."""
        with self._database.read() as conn:
            return int(conn.execute("SELECT max(seq) FROM events").fetchone()[0] or 0)

    def changes_after(
        self, after: int, *, limit: int = 500, submitted_by: str | None = None
    ) -> tuple[list[Change], int]:
        """Timeline events after ``after`` in order; for a submitter only its own tickets' public ones.

        Returns the changes and the sequence number to continue from.
        """
        limit = max(1, min(limit, MAX_CHANGES_PAGE))
        with self._database.read() as conn:
            top = int(conn.execute("SELECT max(seq) FROM events").fetchone()[0] or 0)
            sql = (
                "SELECT e.seq, t.id AS ticket_id, e.kind, e.at FROM events e JOIN tickets t ON t.seq = e.ticket_seq "
                "WHERE e.seq > ? AND e.seq <= ?"
            )
            params: list[Any] = [after, top]
            if submitted_by is not None:
                sql += " AND e.internal = 0 AND t.submitted_by = ?"
                params.append(submitted_by)
            sql += " ORDER BY e.seq LIMIT ?"
            params.append(limit)
            rows = conn.execute(sql, params).fetchall()
        changes = [Change(int(r["seq"]), r["ticket_id"], r["kind"], float(r["at"])) for r in rows]
        if len(changes) == limit:
            return changes, changes[-1].seq
        return changes, max(top, after)
