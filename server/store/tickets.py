"""Tickets one at a time: made from a report (once per report id), worked on, read back with files and timeline.

Every change adds a timeline event in the same transaction, so the changes feed never
misses one.
"""

from __future__ import annotations

import json

from server.store.connection import Connection, Database
from server.store.records import (
    STATUSES,
    TRANSITIONS,
    EventRow,
    FileRow,
    IdempotencyConflictError,
    InvalidTransitionError,
    NewTicket,
    NotFoundError,
    StoreError,
    TicketRow,
    link_hash,
    link_secret,
    ticket_number,
)
from server.store.rows import (
    add_event,
    get_ticket,
    now,
    select_tickets,
    to_event,
    to_file,
    to_ticket,
)
from server.store.walk_up import enqueue, open_on_first_action, serve_queue_entry


class Tickets:
    """The tickets of one database, with their files and timelines."""

    def __init__(self, database: Database, *, has_fts: bool, link_key: bytes) -> None:
        self._database = database
        self._has_fts = has_fts
        self._link_key = link_key

    # ------------------------------------------------------------ write
    def find_by_report(self, report_id: str) -> TicketRow | None:
        rows = select_tickets(self._database.connection(), "WHERE id = ?", (report_id,))
        return to_ticket(rows[0]) if rows else None

    def create_ticket(self, new: NewTicket, actor: str) -> tuple[TicketRow, bool]:
        """Insert the ticket, or return the one this report already made.

        Returns ``(ticket, created)``. The same report id with another fingerprint raises
        ``IdempotencyConflictError``. Runs under ``BEGIN IMMEDIATE``, and ``tickets.id`` is
        UNIQUE, so concurrent replays of one report make exactly one ticket.
        """
        with self._database.write() as conn:
            existing = select_tickets(conn, "WHERE id = ?", (new.report_id,))
            if existing:
                return _check_replay(to_ticket(existing[0]), new.fingerprint), False
            created_at = now()
            seq = _insert_ticket(conn, new, actor, created_at, link_hash(link_secret(self._link_key, new.report_id, 0)))
            conn.executemany(
                "INSERT INTO files (ticket_seq, path, role, step_index, sha256, size, media_type, display_name) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (seq, f.path, f.role, f.step_index, f.sha256, f.size, f.media_type, f.display_name)
                    for f in new.files
                ],
            )
            conn.executemany(
                "INSERT INTO ticket_articles (ticket_seq, article) VALUES (?, ?)",
                [(seq, article) for article in new.self_help_articles],
            )
            self._database.index_ticket_text(conn, seq, new.subject, new.description)
            add_event(conn, seq, "created", actor, created_at, {"number": ticket_number(seq)})
            if new.walk_up and new.site:
                enqueue(conn, seq, new.site, actor, created_at)
            row = select_tickets(conn, "WHERE seq = ?", (seq,))[0]
        return to_ticket(row), True

    def set_status(self, key: str, status: str, actor: str) -> TicketRow:
        if status not in STATUSES:
            raise StoreError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        with self._database.write() as conn:
            ticket = get_ticket(conn, key)
            if ticket.status == status:
                return ticket
            if status not in TRANSITIONS[ticket.status]:
                allowed = ", ".join(sorted(TRANSITIONS[ticket.status]))
                raise InvalidTransitionError(
                    f"{ticket.number} is {ticket.status}; it can go to {allowed}, not {status}"
                )
            changed_at = now()
            resolved_at = ticket.resolved_at
            closed_at = ticket.closed_at
            if status == "resolved":
                resolved_at = changed_at
            elif status == "closed":
                closed_at = changed_at
                resolved_at = resolved_at or changed_at
            elif ticket.status in ("resolved", "closed"):
                resolved_at = closed_at = None  # reopened: the clock runs again
            conn.execute(
                "UPDATE tickets SET status = ?, updated_at = ?, resolved_at = ?, closed_at = ?, "
                "first_response_at = coalesce(first_response_at, ?) WHERE seq = ?",
                (status, changed_at, resolved_at, closed_at, changed_at, ticket.seq),
            )
            add_event(conn, ticket.seq, "status", actor, changed_at, {"from": ticket.status, "to": status})
            if status in ("resolved", "closed"):
                serve_queue_entry(conn, ticket.seq, actor, changed_at)
            return get_ticket(conn, ticket.id)

    def assign(self, key: str, assignee: str | None, actor: str) -> TicketRow:
        with self._database.write() as conn:
            ticket = get_ticket(conn, key)
            if ticket.assignee == assignee:
                return ticket
            changed_at = now()
            conn.execute(
                "UPDATE tickets SET assignee = ?, updated_at = ?, first_response_at = coalesce(first_response_at, ?) "
                "WHERE seq = ?",
                (assignee, changed_at, changed_at, ticket.seq),
            )
            add_event(conn, ticket.seq, "assigned", actor, changed_at, {"from": ticket.assignee, "to": assignee})
            if assignee is not None:
                open_on_first_action(conn, ticket, actor, changed_at)
            return get_ticket(conn, ticket.id)

    def add_note(self, key: str, text: str, *, internal: bool, actor: str) -> EventRow:
        """An internal note (technicians only see it) or a reply (the submitter sees it too)."""
        with self._database.write() as conn:
            ticket = get_ticket(conn, key)
            written_at = now()
            conn.execute(
                "UPDATE tickets SET updated_at = ?, first_response_at = coalesce(first_response_at, ?) WHERE seq = ?",
                (written_at, written_at, ticket.seq),
            )
            kind = "note" if internal else "reply"
            seq = add_event(conn, ticket.seq, kind, actor, written_at, {"text": text}, internal=internal)
            if not internal:
                # An internal note is the technicians' own business; a reply is work the person sees.
                open_on_first_action(conn, ticket, actor, written_at)
        return EventRow(seq, ticket.seq, kind, actor, written_at, internal, {"text": text})

    # ------------------------------------------------------------ read
    def get_ticket(self, key: str) -> TicketRow:
        return get_ticket(self._database.connection(), key)

    def ticket_detail(self, key: str, *, include_internal: bool) -> tuple[TicketRow, list[FileRow], list[EventRow]]:
        with self._database.read() as conn:
            ticket = get_ticket(conn, key)
            files = [
                to_file(r)
                for r in conn.execute("SELECT * FROM files WHERE ticket_seq = ? ORDER BY id", (ticket.seq,)).fetchall()
            ]
            events = _events(conn, ticket.seq, include_internal)
        return ticket, files, events

    def timeline(self, key: str, *, include_internal: bool) -> list[EventRow]:
        with self._database.read() as conn:
            ticket = get_ticket(conn, key)
            return _events(conn, ticket.seq, include_internal)

    def get_file(self, file_id: int) -> tuple[FileRow, TicketRow]:
        with self._database.read() as conn:
            row = conn.execute("SELECT * FROM files WHERE id = ?", (file_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no file with id {file_id}")
            ticket = select_tickets(conn, "WHERE seq = ?", (row["ticket_seq"],))[0]
        return to_file(row), to_ticket(ticket)

    def get_file_by_path(self, key: str, path: str) -> tuple[FileRow, TicketRow]:
        with self._database.read() as conn:
            ticket = get_ticket(conn, key)
            row = conn.execute("SELECT * FROM files WHERE ticket_seq = ? AND path = ?", (ticket.seq, path)).fetchone()
            if row is None:
                raise NotFoundError(f"{ticket.number} has no file {path!r}")
        return to_file(row), ticket

    def count_tickets(self) -> int:
        return int(self._database.connection().execute("SELECT count(*) FROM tickets").fetchone()[0])

    def referenced_digests(self) -> set[str]:
        return {r[0] for r in self._database.connection().execute("SELECT DISTINCT sha256 FROM files").fetchall()}


def _insert_ticket(conn: Connection, new: NewTicket, actor: str, created_at: float, link: str) -> int:
    """The ticket's own row, status new, with its requester link's hash; returns its sequence number."""
    cursor = conn.execute(
        "INSERT INTO tickets (id, fingerprint, manifest, status, subject, description, category, "
        "source_kind, source_id, site, reporter_name, reporter_email, submitted_by, walk_up, step_count, "
        "attachment_count, self_help_count, created_at, reported_at, updated_at, link_hash, language) "
        "VALUES (?, ?, ?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            new.report_id,
            new.fingerprint,
            new.manifest,
            new.subject,
            new.description,
            new.category,
            new.source_kind,
            new.source_id,
            new.site,
            new.reporter_name,
            new.reporter_email.lower() if new.reporter_email else None,
            actor,
            int(new.walk_up),
            new.step_count,
            new.attachment_count,
            len(new.self_help_articles),
            created_at,
            _reported_at(new.manifest),
            created_at,
            link,
            new.language,
        ),
    )
    return int(cursor.lastrowid or 0)


def _events(conn: Connection, seq: int, include_internal: bool) -> list[EventRow]:
    sql = "SELECT * FROM events WHERE ticket_seq = ?"
    if not include_internal:
        sql += " AND internal = 0"
    return [to_event(r) for r in conn.execute(sql + " ORDER BY seq", (seq,)).fetchall()]


def _check_replay(existing: TicketRow, fingerprint: str) -> TicketRow:
    if existing.fingerprint != fingerprint:
        raise IdempotencyConflictError(
            f"report {existing.id} was already submitted with different content (ticket {existing.number}); "
            "a changed report needs a new id"
        )
    return existing


def _reported_at(manifest: str) -> str:
    value = json.loads(manifest).get("created_at", "")
    return value if isinstance(value, str) else ""
