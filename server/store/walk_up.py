"""The walk-up queue: people waiting at a tech bar, per site, called and served in arrival order.

A walk-up ticket joins its site's queue when it is made; resolving or closing it ends the
visit. The estimated wait is the people ahead times the site's recent mean service time.
"""

from __future__ import annotations

import statistics
from typing import Final

from server.store.connection import Connection, Database
from server.store.records import BoardEntry, NotFoundError, QueueBoard, QueuePlace, TicketRow, ticket_number
from server.store.rows import add_event, get_ticket, now, select_tickets, to_ticket

DEFAULT_SERVICE_SECONDS: Final = 300.0
SERVICE_HISTORY: Final = 20


def enqueue(conn: Connection, ticket_seq: int, site: str, actor: str, at: float) -> None:
    """Put a new walk-up ticket at the end of its site's queue (in the transaction that makes it)."""
    conn.execute(
        "INSERT INTO queue_entries (ticket_seq, site, state, enqueued_at) VALUES (?, ?, 'waiting', ?)",
        (ticket_seq, site, at),
    )
    add_event(conn, ticket_seq, "queue", actor, at, {"state": "waiting", "site": site})


def serve_queue_entry(conn: Connection, ticket_seq: int, actor: str, at: float) -> None:
    """End the ticket's visit, if it is in a queue and not served yet."""
    entry = conn.execute("SELECT site, state FROM queue_entries WHERE ticket_seq = ?", (ticket_seq,)).fetchone()
    if entry is None or entry["state"] == "served":
        return
    conn.execute("UPDATE queue_entries SET state = 'served', served_at = ? WHERE ticket_seq = ?", (at, ticket_seq))
    add_event(conn, ticket_seq, "queue", actor, at, {"state": "served", "site": entry["site"]})


def open_on_first_action(conn: Connection, ticket: TicketRow, actor: str, at: float) -> None:
    """A new ticket becomes open when a technician first acts on it (claims, assigns, replies, calls the person).

    Kept in the store, in the action's own transaction, so every client (technician mode, a
    script, another ticket system's bridge) sees the same status without a second call.
    """
    if ticket.status != "new":
        return
    conn.execute("UPDATE tickets SET status = 'open' WHERE seq = ?", (ticket.seq,))
    add_event(conn, ticket.seq, "status", actor, at, {"from": "new", "to": "open"})


class WalkUpQueue:
    """The walk-up queues of every site in one database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def mean_service_seconds(self, site: str, conn: Connection | None = None) -> tuple[float, int]:
        """Mean time from called to served over the site's recent visits, and how many it is based on."""
        conn = conn or self._database.connection()
        rows = conn.execute(
            "SELECT served_at - called_at FROM queue_entries WHERE site = ? AND state = 'served' "
            "AND called_at IS NOT NULL ORDER BY served_at DESC LIMIT ?",
            (site, SERVICE_HISTORY),
        ).fetchall()
        durations = [max(0.0, float(r[0])) for r in rows]
        if not durations:
            return DEFAULT_SERVICE_SECONDS, 0
        return statistics.fmean(durations), len(durations)

    def queue_place(self, key: str) -> QueuePlace:
        with self._database.read() as conn:
            ticket = get_ticket(conn, key)
            entry = conn.execute("SELECT * FROM queue_entries WHERE ticket_seq = ?", (ticket.seq,)).fetchone()
            if entry is None:
                raise NotFoundError(f"{ticket.number} is not in a walk-up queue")
            ahead = 0
            if entry["state"] == "waiting":
                ahead = int(
                    conn.execute(
                        "SELECT count(*) FROM queue_entries WHERE site = ? AND state = 'waiting' AND ticket_seq < ?",
                        (entry["site"], ticket.seq),
                    ).fetchone()[0]
                )
            mean, _history = self.mean_service_seconds(entry["site"], conn)
        waiting = entry["state"] == "waiting"
        return QueuePlace(
            site=entry["site"],
            state=entry["state"],
            position=ahead + 1 if waiting else 0,
            ahead=ahead,
            estimated_wait_seconds=ahead * mean if waiting else 0.0,
            enqueued_at=float(entry["enqueued_at"]),
            called_at=entry["called_at"],
            served_at=entry["served_at"],
        )

    def queue_board(self, site: str) -> QueueBoard:
        with self._database.read() as conn:
            rows = conn.execute(
                "SELECT q.*, t.id AS ticket_id, t.reporter_name FROM queue_entries q "
                "JOIN tickets t ON t.seq = q.ticket_seq WHERE q.site = ? AND q.state IN ('waiting', 'called') "
                "ORDER BY q.ticket_seq",
                (site,),
            ).fetchall()
            mean, history = self.mean_service_seconds(site, conn)
        waiting: list[BoardEntry] = []
        serving: list[BoardEntry] = []
        for row in rows:
            is_waiting = row["state"] == "waiting"
            ahead = len(waiting)
            entry = BoardEntry(
                ticket_id=row["ticket_id"],
                number=ticket_number(int(row["ticket_seq"])),
                reporter_name=row["reporter_name"],
                state=row["state"],
                position=ahead + 1 if is_waiting else 0,
                enqueued_at=float(row["enqueued_at"]),
                called_at=row["called_at"],
                called_by=row["called_by"],
                estimated_wait_seconds=ahead * mean if is_waiting else 0.0,
            )
            (waiting if is_waiting else serving).append(entry)
        return QueueBoard(site, waiting, serving, mean, history, len(waiting) * mean)

    def call_next(self, site: str, actor: str) -> TicketRow | None:
        """Call the longest-waiting person at ``site``; None when nobody waits."""
        with self._database.write() as conn:
            row = conn.execute(
                "SELECT ticket_seq FROM queue_entries WHERE site = ? AND state = 'waiting' ORDER BY ticket_seq LIMIT 1",
                (site,),
            ).fetchone()
            if row is None:
                return None
            seq = int(row[0])
            called_at = now()
            conn.execute(
                "UPDATE queue_entries SET state = 'called', called_at = ?, called_by = ? WHERE ticket_seq = ?",
                (called_at, actor, seq),
            )
            add_event(conn, seq, "queue", actor, called_at, {"state": "called", "site": site})
            ticket = to_ticket(select_tickets(conn, "WHERE seq = ?", (seq,))[0])
            open_on_first_action(conn, ticket, actor, called_at)
            # Whoever calls the person serves them: the ticket is theirs from now on.
            if ticket.assignee != actor:
                conn.execute("UPDATE tickets SET assignee = ? WHERE seq = ?", (actor, seq))
                add_event(conn, seq, "assigned", actor, called_at, {"from": ticket.assignee, "to": actor})
            conn.execute(
                "UPDATE tickets SET updated_at = ?, first_response_at = coalesce(first_response_at, ?) WHERE seq = ?",
                (called_at, called_at, seq),
            )
            return get_ticket(conn, ticket.id)

    def mark_served(self, key: str, actor: str) -> QueuePlace:
        with self._database.write() as conn:
            ticket = get_ticket(conn, key)
            entry = conn.execute("SELECT state FROM queue_entries WHERE ticket_seq = ?", (ticket.seq,)).fetchone()
            if entry is None:
                raise NotFoundError(f"{ticket.number} is not in a walk-up queue")
            serve_queue_entry(conn, ticket.seq, actor, now())
        return self.queue_place(key)
