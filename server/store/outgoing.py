"""The outgoing-message queue: what the server tells people (mail now; other channels later).

Rows are derived from the timeline, not written by each part that records an event: a
channel reads the events after its own durable cursor and turns each into zero or more rows
(``derive``), and the rows and the cursor's advance commit in one transaction. So:

* every event is covered, whichever part recorded it (tickets, the walk-up queue, the
  requester's side, parts added later), and a channel added later reads the same events;
* a crash anywhere loses nothing: the event is on the disk before any row is derived from it,
  and a cursor never moves past an event whose rows are not stored;
* deriving twice stores nothing twice: a row is unique per (channel, ticket, event, kind,
  recipient).

Sending is claimed in the database: a row goes ``pending`` → ``sending`` (one attempt
counted) in a transaction before the channel is called, then ``sent``; a failure puts it back
to ``pending`` with a later due time (exponential backoff), or ``failed`` after the last
attempt or at once for a permanent refusal, visible to an admin (``showdesk server mail
list``, ``GET /api/v1/outgoing``) who can ``retry`` it. A row found ``sending`` at start was
cut off by a crash: it is sent again with the same Message-ID (see docs/requester.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from server.store.connection import Connection, Database, sqlite_errors
from server.store.records import EventRow, NotFoundError, StoreError, TicketRow, ticket_number
from server.store.rows import get_ticket, now, select_tickets, to_event, to_ticket

OutgoingState = Literal["pending", "sending", "sent", "failed", "dropped"]
OUTGOING_STATES: Final[tuple[OutgoingState, ...]] = ("pending", "sending", "sent", "failed", "dropped")
# Events read per transaction while deriving: a long backlog commits in steps, never one huge write.
DERIVE_BATCH: Final = 200
MAX_LIST: Final = 500
MAX_ERROR_CHARS: Final = 500
# Walk-ups looked at per check: a tech bar's queue is short; a longer one is told over several checks.
WALKUP_BATCH: Final = 200


@dataclass(frozen=True)
class Derived:
    """One message an event calls for: its kind (e.g. "reply") and to whom."""

    kind: str
    recipient: str


@dataclass(frozen=True)
class WaitingWalkUp:
    """A person in a walk-up queue, and the timeline event of their joining it."""

    ticket_seq: int
    event_seq: int
    site: str
    category: str


@dataclass(frozen=True)
class OutgoingRow:
    id: int
    channel: str
    ticket_seq: int
    ticket_number: str
    ticket_id: str
    event_seq: int
    kind: str
    recipient: str
    state: OutgoingState
    attempts: int
    due_at: float
    created_at: float
    updated_at: float
    sent_at: float | None
    last_error: str | None
    message_id: str


@dataclass(frozen=True)
class Claimed:
    """A row claimed for sending, with what its message is made of."""

    row: OutgoingRow
    ticket: TicketRow
    event: EventRow


# A channel's rule: the messages one event of one ticket calls for (pure, no I/O).
Deriver = Callable[[EventRow, TicketRow], Sequence[Derived]]

_ROW_COLUMNS: Final = (
    "o.id, o.channel, o.ticket_seq, t.id AS ticket_id, o.event_seq, o.kind, o.recipient, o.state, o.attempts, "
    "o.due_at, o.created_at, o.updated_at, o.sent_at, o.last_error, o.message_id"
)


class OutgoingQueue:
    """The outgoing rows, cursors and stops of one database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # ------------------------------------------------------------ deriving
    def derive(self, channel: str, rule: Deriver, *, max_age: float, message_domain: str) -> int:
        """Turn the events after ``channel``'s cursor into rows; returns how many rows were added.

        A channel seen for the first time starts at the newest event: switching mail on does not
        mail the whole history. Events older than ``max_age`` seconds are passed over (after a
        long time switched off, "you are next" would only confuse).
        """
        added = 0
        for _batch in range(10_000):  # bounded: DERIVE_BATCH events each
            with self._database.write(notify=False) as conn:
                cursor_row = conn.execute(
                    "SELECT event_seq FROM outgoing_cursors WHERE channel = ?", (channel,)
                ).fetchone()
                if cursor_row is None:
                    top = int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
                    conn.execute("INSERT INTO outgoing_cursors (channel, event_seq) VALUES (?, ?)", (channel, top))
                    return added
                after = int(cursor_row[0])
                events = [
                    to_event(r)
                    for r in conn.execute(
                        "SELECT seq, ticket_seq, kind, actor, at, internal, data FROM events "
                        "WHERE seq > ? ORDER BY seq LIMIT ?",
                        (after, DERIVE_BATCH),
                    ).fetchall()
                ]
                if not events:
                    return added
                written_at = now()
                stopped = _stopped_tickets(conn, channel, {e.ticket_seq for e in events})
                tickets: dict[int, TicketRow] = {}
                for event in events:
                    if event.ticket_seq in stopped or written_at - event.at > max_age:
                        continue
                    ticket = tickets.get(event.ticket_seq)
                    if ticket is None:
                        ticket = to_ticket(select_tickets(conn, "WHERE seq = ?", (event.ticket_seq,))[0])
                        tickets[event.ticket_seq] = ticket
                    for message in rule(event, ticket):
                        inserted = conn.execute(
                            "INSERT INTO outgoing (channel, ticket_seq, event_seq, kind, recipient, state, "
                            "attempts, due_at, created_at, updated_at, message_id) "
                            "VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?) "
                            "ON CONFLICT (channel, ticket_seq, event_seq, kind, recipient) DO NOTHING",
                            (
                                channel,
                                event.ticket_seq,
                                event.seq,
                                message.kind,
                                message.recipient,
                                written_at,
                                written_at,
                                written_at,
                                # Stable for the row's life: a receiver drops a copy sent again after a crash.
                                f"<{uuid.uuid4().hex}.{ticket.number.lower()}@{message_domain}>",
                            ),
                        )
                        added += inserted.rowcount
                conn.execute("UPDATE outgoing_cursors SET event_seq = ? WHERE channel = ?", (events[-1].seq, channel))
        return added

    # ------------------------------------------------------------ walk-ups waiting (no timeline event)
    def walkups_waiting(
        self, channel: str, kind: str, enqueued_before: float, *, limit: int = WALKUP_BATCH
    ) -> list[WaitingWalkUp]:
        """People still waiting (not called) who joined before ``enqueued_before`` and have no ``kind`` row of
        ``channel`` yet, oldest first (at most ``limit``: the told ones drop out, so a long queue moves on)."""
        with self._database.read() as conn:
            rows = conn.execute(
                "SELECT q.ticket_seq, q.site, t.category, "
                "(SELECT min(e.seq) FROM events e WHERE e.ticket_seq = q.ticket_seq AND e.kind = 'queue') AS event_seq "
                "FROM queue_entries q JOIN tickets t ON t.seq = q.ticket_seq "
                "WHERE q.state = 'waiting' AND q.enqueued_at <= ? AND NOT EXISTS (SELECT 1 FROM outgoing o "
                "WHERE o.channel = ? AND o.ticket_seq = q.ticket_seq AND o.kind = ?) "
                "ORDER BY q.enqueued_at LIMIT ?",
                (enqueued_before, channel, kind, max(1, limit)),
            ).fetchall()
        return [
            WaitingWalkUp(int(r["ticket_seq"]), int(r["event_seq"]), r["site"] or "", r["category"] or "")
            for r in rows
            if r["event_seq"] is not None
        ]

    def add(self, channel: str, waiting: WaitingWalkUp, message: Derived, *, message_domain: str) -> bool:
        """One row not derived from the timeline cursor (a walk-up past a threshold); False when it exists."""
        with self._database.write(notify=False) as conn:
            ticket = to_ticket(select_tickets(conn, "WHERE seq = ?", (waiting.ticket_seq,))[0])
            written_at = now()
            inserted = conn.execute(
                "INSERT INTO outgoing (channel, ticket_seq, event_seq, kind, recipient, state, "
                "attempts, due_at, created_at, updated_at, message_id) "
                "VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?) "
                "ON CONFLICT (channel, ticket_seq, event_seq, kind, recipient) DO NOTHING",
                (
                    channel,
                    waiting.ticket_seq,
                    waiting.event_seq,
                    message.kind,
                    message.recipient,
                    written_at,
                    written_at,
                    written_at,
                    f"<{uuid.uuid4().hex}.{ticket.number.lower()}@{message_domain}>",
                ),
            ).rowcount
            return inserted > 0

    # ------------------------------------------------------------ sending
    def recover(self, channel: str) -> int:
        """Rows left ``sending`` by a crash go back to ``pending`` (due now); returns how many."""
        with self._database.write(notify=False) as conn:
            return conn.execute(
                "UPDATE outgoing SET state = 'pending', due_at = ?, updated_at = ? "
                "WHERE channel = ? AND state = 'sending'",
                (now(), now(), channel),
            ).rowcount

    def next_due(self, channel: str) -> float | None:
        """When the earliest pending row of ``channel`` is due (None: nothing pending)."""
        with sqlite_errors():
            row = (
                self._database.connection()
                .execute("SELECT min(due_at) FROM outgoing WHERE channel = ? AND state = 'pending'", (channel,))
                .fetchone()
            )
        return None if row[0] is None else float(row[0])

    def claim_due(self, channel: str, at: float) -> Claimed | None:
        """The oldest due pending row, moved to ``sending`` with one more attempt; None when none is due.

        A row of a ticket whose person stopped this channel is dropped here instead.
        """
        for _skip in range(1000):  # bounded: each pass drops one stopped row or returns
            with self._database.write(notify=False) as conn:
                found = conn.execute(
                    "SELECT id, ticket_seq FROM outgoing WHERE channel = ? AND state = 'pending' AND due_at <= ? "
                    "ORDER BY due_at, id LIMIT 1",
                    (channel, at),
                ).fetchone()
                if found is None:
                    return None
                row_id, ticket_seq = int(found[0]), int(found[1])
                if _stopped_tickets(conn, channel, {ticket_seq}):
                    conn.execute(
                        "UPDATE outgoing SET state = 'dropped', updated_at = ?, last_error = ? WHERE id = ?",
                        (now(), "the person stopped these messages for this ticket", row_id),
                    )
                    continue
                conn.execute(
                    "UPDATE outgoing SET state = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ?",
                    (now(), row_id),
                )
                row = _select_rows(conn, "WHERE o.id = ?", (row_id,))[0]
                ticket = to_ticket(select_tickets(conn, "WHERE seq = ?", (ticket_seq,))[0])
                event = to_event(
                    conn.execute(
                        "SELECT seq, ticket_seq, kind, actor, at, internal, data FROM events WHERE seq = ?",
                        (row.event_seq,),
                    ).fetchone()
                )
                return Claimed(row, ticket, event)
        return None

    def mark_sent(self, row_id: int) -> None:
        with self._database.write(notify=False) as conn:
            at = now()
            conn.execute(
                "UPDATE outgoing SET state = 'sent', sent_at = ?, updated_at = ?, last_error = NULL "
                "WHERE id = ? AND state = 'sending'",
                (at, at, row_id),
            )

    def mark_failed_attempt(self, row_id: int, error: str, *, retry_in: float | None) -> OutgoingState:
        """After a failed attempt: ``pending`` again in ``retry_in`` seconds, or ``failed`` (None)."""
        state: OutgoingState = "failed" if retry_in is None else "pending"
        with self._database.write(notify=False) as conn:
            at = now()
            conn.execute(
                "UPDATE outgoing SET state = ?, due_at = ?, updated_at = ?, last_error = ? "
                "WHERE id = ? AND state = 'sending'",
                (state, at + (retry_in or 0.0), at, error[:MAX_ERROR_CHARS], row_id),
            )
        return state

    # ------------------------------------------------------------ an admin's view
    def list_rows(self, *, channel: str | None = None, state: str | None = None, limit: int = 50) -> list[OutgoingRow]:
        """The newest rows first."""
        if state is not None and state not in OUTGOING_STATES:
            raise StoreError(f"a message's state is one of {', '.join(OUTGOING_STATES)}, not {state!r}")
        clauses: list[str] = []
        params: list[Any] = []
        if channel is not None:
            clauses.append("o.channel = ?")
            params.append(channel)
        if state is not None:
            clauses.append("o.state = ?")
            params.append(state)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        params.append(max(1, min(limit, MAX_LIST)))
        with self._database.read() as conn:
            return _select_rows(conn, f"{where} ORDER BY o.id DESC LIMIT ?", params)

    def retry(self, row_id: int) -> OutgoingRow:
        """A failed (or dropped) row is sent again from its first attempt, now."""
        with self._database.write() as conn:
            rows = _select_rows(conn, "WHERE o.id = ?", (row_id,))
            if not rows:
                raise NotFoundError(f"no outgoing message {row_id}")
            if rows[0].state not in ("failed", "dropped", "pending"):
                raise StoreError(f"message {row_id} is {rows[0].state}; only a failed or dropped one is sent again")
            at = now()
            conn.execute(
                "UPDATE outgoing SET state = 'pending', attempts = 0, due_at = ?, updated_at = ? WHERE id = ?",
                (at, at, row_id),
            )
            return _select_rows(conn, "WHERE o.id = ?", (row_id,))[0]

    # ------------------------------------------------------------ the person's stop
    def stop(self, ticket_key: str, channel: str) -> bool:
        """No more messages of ``channel`` for this ticket; returns False when it was stopped already."""
        with self._database.write(notify=False) as conn:
            ticket = get_ticket(conn, ticket_key)
            inserted = conn.execute(
                "INSERT INTO outgoing_stops (ticket_seq, channel, stopped_at) VALUES (?, ?, ?) "
                "ON CONFLICT (ticket_seq, channel) DO NOTHING",
                (ticket.seq, channel, now()),
            ).rowcount
            return inserted > 0

    def is_stopped(self, ticket_key: str, channel: str) -> bool:
        with self._database.read() as conn:
            return bool(_stopped_tickets(conn, channel, {get_ticket(conn, ticket_key).seq}))


def _stopped_tickets(conn: Connection, channel: str, seqs: set[int]) -> set[int]:
    if not seqs:
        return set()
    marks = ", ".join("?" for _ in seqs)
    rows = conn.execute(
        f"SELECT ticket_seq FROM outgoing_stops WHERE channel = ? AND ticket_seq IN ({marks})",  # noqa: S608
        (channel, *seqs),
    ).fetchall()
    return {int(r[0]) for r in rows}


def _select_rows(conn: Connection, clause: str, params: Sequence[Any]) -> list[OutgoingRow]:
    # ``clause`` is fixed text of this module; values go in as parameters.
    sql = f"SELECT {_ROW_COLUMNS} FROM outgoing o JOIN tickets t ON t.seq = o.ticket_seq {clause}"  # noqa: S608
    return [
        OutgoingRow(
            id=int(r["id"]),
            channel=r["channel"],
            ticket_seq=int(r["ticket_seq"]),
            ticket_number=ticket_number(int(r["ticket_seq"])),
            ticket_id=r["ticket_id"],
            event_seq=int(r["event_seq"]),
            kind=r["kind"],
            recipient=r["recipient"],
            state=r["state"],
            attempts=int(r["attempts"]),
            due_at=float(r["due_at"]),
            created_at=float(r["created_at"]),
            updated_at=float(r["updated_at"]),
            sent_at=r["sent_at"],
            last_error=r["last_error"],
            message_id=r["message_id"],
        )
        for r in conn.execute(sql, params).fetchall()
    ]
