"""What every part of the store reads and writes alike: rows as records, a ticket by its key, the timeline event.

Each function takes the connection of the caller's transaction, so a part's write and the
event it adds commit together.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any, Final

from server.store.connection import Connection
from server.store.records import (
    LINK_KEY_NAME,
    NUMBER_OFFSET,
    EventRow,
    FileRow,
    NotFoundError,
    TicketRow,
    TokenRecord,
    ticket_number,
)

TICKET_COLUMNS: Final = (
    "seq, id, status, subject, description, category, source_kind, source_id, site, reporter_name, "
    "reporter_email, submitted_by, assignee, walk_up, step_count, attachment_count, created_at, "
    "reported_at, updated_at, first_response_at, resolved_at, closed_at, fingerprint, manifest, "
    "link_generation, language"
)
QUALIFIED_TICKET_COLUMNS: Final = ", ".join(f"t.{name.strip()}" for name in TICKET_COLUMNS.split(","))

_NUMBER_RE: Final = re.compile(r"^SD-(\d{1,12})$", re.IGNORECASE)


def load_link_key(conn: Connection) -> bytes:
    row = conn.execute("SELECT value FROM server_secrets WHERE name = ?", (LINK_KEY_NAME,)).fetchone()
    if row is None:
        raise NotFoundError("the database has no requester link key (schema 3 makes it)")
    return bytes(row[0])


def now() -> float:
    """Unix time rounded to the microsecond: exactly what an ISO 8601 time in the API can say, so
    a time read back from the API and sent as a filter (``since``) compares equal to the stored one."""
    return round(time.time(), 6)


def get_ticket(conn: Connection, key: str) -> TicketRow:
    """A ticket by its id (the report UUID) or its number (SD-1001)."""
    number = _NUMBER_RE.match(key)
    if number:
        rows = select_tickets(conn, "WHERE seq = ?", (int(number.group(1)) - NUMBER_OFFSET,))
    else:
        try:
            canonical = str(uuid.UUID(key))
        except ValueError:
            raise NotFoundError(f"no ticket {key!r} (ticket ids are report UUIDs or numbers like SD-1001)") from None
        rows = select_tickets(conn, "WHERE id = ?", (canonical,))
    if not rows:
        raise NotFoundError(f"no ticket {key!r}")
    return to_ticket(rows[0])


def select_tickets(conn: Connection, clause: str, params: Sequence[Any]) -> list[Any]:
    # ``clause`` is always built in the store from fixed text; values go in as parameters.
    sql = f"SELECT {TICKET_COLUMNS} FROM tickets {clause}"  # noqa: S608
    return conn.execute(sql, params).fetchall()


def add_event(
    conn: Connection,
    ticket_seq: int,
    kind: str,
    actor: str,
    at: float,
    data: dict[str, Any],
    *,
    internal: bool = False,
) -> int:
    """Add one timeline event (which the changes feed reports); returns its sequence number."""
    cursor = conn.execute(
        "INSERT INTO events (ticket_seq, kind, actor, at, internal, data) VALUES (?, ?, ?, ?, ?, ?)",
        (ticket_seq, kind, actor, at, int(internal), json.dumps(data, ensure_ascii=False)),
    )
    return int(cursor.lastrowid or 0)


def to_ticket(row: Any) -> TicketRow:
    return TicketRow(
        seq=int(row["seq"]),
        id=row["id"],
        number=ticket_number(int(row["seq"])),
        status=row["status"],
        subject=row["subject"],
        description=row["description"],
        category=row["category"],
        source_kind=row["source_kind"],
        source_id=row["source_id"],
        site=row["site"],
        reporter_name=row["reporter_name"],
        reporter_email=row["reporter_email"],
        submitted_by=row["submitted_by"],
        assignee=row["assignee"],
        walk_up=bool(row["walk_up"]),
        step_count=int(row["step_count"]),
        attachment_count=int(row["attachment_count"]),
        created_at=float(row["created_at"]),
        reported_at=row["reported_at"],
        updated_at=float(row["updated_at"]),
        first_response_at=row["first_response_at"],
        resolved_at=row["resolved_at"],
        closed_at=row["closed_at"],
        fingerprint=row["fingerprint"],
        manifest=row["manifest"],
        link_generation=int(row["link_generation"]),
        language=row["language"],
    )


def to_file(row: Any) -> FileRow:
    return FileRow(
        id=int(row["id"]),
        ticket_seq=int(row["ticket_seq"]),
        path=row["path"],
        role=row["role"],
        step_index=row["step_index"],
        sha256=row["sha256"],
        size=int(row["size"]),
        media_type=row["media_type"],
        display_name=row["display_name"],
    )


def to_event(row: Any) -> EventRow:
    return EventRow(
        seq=int(row["seq"]),
        ticket_seq=int(row["ticket_seq"]),
        kind=row["kind"],
        actor=row["actor"],
        at=float(row["at"]),
        internal=bool(row["internal"]),
        data=json.loads(row["data"]),
    )


def to_token(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        site=row["site"],
        created_at=float(row["created_at"]),
        revoked_at=row["revoked_at"],
    )
