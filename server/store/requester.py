"""The requester's side of a ticket: the capability link, the person's answers, feedback and rating.

A link's secret is derived from the server's key (``records.link_secret``) and found by its
hash, so the database never holds a working link. Everything the person sends arrives with
a one-time form nonce, spent in the same transaction that records it: a replayed post (a
double tap, a browser's resend) finds the nonce spent and records nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from server.store.connection import Connection, Database, sqlite_errors
from server.store.records import (
    EventRow,
    InvalidTransitionError,
    Satisfaction,
    StoreError,
    TicketRow,
    link_hash,
    link_secret,
)
from server.store.rows import add_event, get_ticket, now, select_tickets, to_ticket

REQUESTER_ACTOR: Final = "requester"
# A form nonce is good for a day after the page was rendered; spent ones are kept that long.
FORM_NONCE_SECONDS: Final = 86_400.0
MAX_RATING_COMMENT_CHARS: Final = 2000
SECONDS_PER_WEEK: Final = 7 * 86_400
_EXTENSIONS: Final = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
# A link's secret is 43 URL-safe characters; anything much longer is not one of ours.
MAX_LINK_SECRET_CHARS: Final = 64


@dataclass(frozen=True)
class AnswerPhoto:
    """A checked photo from the page, already in the blob store: its digest, size, type and pixels."""

    sha256: str
    size: int
    media_type: str
    width: int
    height: int


class RequesterSide:
    """Links, answers, feedback and ratings of one database."""

    def __init__(self, database: Database, link_key: bytes) -> None:
        self._database = database
        self._key = link_key

    # ------------------------------------------------------------ the link
    def link_secret(self, ticket: TicketRow) -> str:
        return link_secret(self._key, ticket.id, ticket.link_generation)

    def ticket_by_link(self, secret: str) -> TicketRow | None:
        """The ticket this link's secret opens, or None (unknown, revoked or malformed alike)."""
        if not secret or len(secret) > MAX_LINK_SECRET_CHARS:
            return None
        with sqlite_errors():
            rows = select_tickets(self._database.connection(), "WHERE link_hash = ?", (link_hash(secret),))
        if not rows:
            return None
        ticket = to_ticket(rows[0])
        # The index found the row by a hash; the secret itself is checked in constant time
        # against the one the current generation derives, so a stale hash can never open it.
        if not hmac.compare_digest(self.link_secret(ticket).encode(), secret.encode()):
            return None
        return ticket

    def revoke_link(self, key: str, actor: str) -> TicketRow:
        """The old link stops working at once; the ticket gets a new one (the next generation)."""
        with self._database.write() as conn:
            ticket = get_ticket(conn, key)
            generation = ticket.link_generation + 1
            secret = link_secret(self._key, ticket.id, generation)
            conn.execute(
                "UPDATE tickets SET link_generation = ?, link_hash = ? WHERE seq = ?",
                (generation, link_hash(secret), ticket.seq),
            )
            # Internal: the person is not told through the page (the old link no longer opens it).
            add_event(conn, ticket.seq, "link", actor, now(), {"generation": generation}, internal=True)
            return get_ticket(conn, ticket.id)

    def set_language(self, key: str, language: str) -> None:
        """The language the person chose when reporting (the page and later mails use it)."""
        with self._database.write(notify=False) as conn:
            conn.execute("UPDATE tickets SET language = ? WHERE seq = ?", (language, get_ticket(conn, key).seq))

    # ------------------------------------------------------------ what the person sends
    def answer(self, ticket_id: str, text: str, photos: Sequence[AnswerPhoto], nonce: str) -> EventRow | None:
        """Record the person's answer (text and photos); None when the nonce was spent already.

        A ticket waiting for the person goes back to open in the same transaction.
        """
        with self._database.write() as conn:
            ticket = get_ticket(conn, ticket_id)
            written_at = now()
            if not _spend_nonce(conn, nonce, ticket.seq, written_at):
                return None
            taken = int(
                conn.execute(
                    "SELECT count(*) FROM files WHERE ticket_seq = ? AND role = 'answer'", (ticket.seq,)
                ).fetchone()[0]
            )
            files: list[dict[str, Any]] = []
            for number, photo in enumerate(photos, start=taken + 1):
                path = f"answers/{number:03d}.{_EXTENSIONS.get(photo.media_type, 'bin')}"
                cursor = conn.execute(
                    "INSERT INTO files (ticket_seq, path, role, step_index, sha256, size, media_type, display_name) "
                    "VALUES (?, ?, 'answer', NULL, ?, ?, ?, NULL)",
                    (ticket.seq, path, photo.sha256, photo.size, photo.media_type),
                )
                files.append(
                    {
                        "id": int(cursor.lastrowid or 0),
                        "path": path,
                        "media_type": photo.media_type,
                        "width": photo.width,
                        "height": photo.height,
                    }
                )
            data: dict[str, Any] = {"text": text, "files": files}
            conn.execute("UPDATE tickets SET updated_at = ? WHERE seq = ?", (written_at, ticket.seq))
            seq = add_event(conn, ticket.seq, "answer", REQUESTER_ACTOR, written_at, data)
            if ticket.status == "waiting":
                _change_status(conn, ticket, "open", written_at)
        return EventRow(seq, ticket.seq, "answer", REQUESTER_ACTOR, written_at, False, data)

    def feedback(self, ticket_id: str, solved: bool, nonce: str) -> EventRow | None:
        """After a resolve: "this is solved" keeps it resolved; "still broken" reopens it."""
        with self._database.write() as conn:
            ticket = get_ticket(conn, ticket_id)
            if ticket.status not in ("resolved", "closed"):
                raise InvalidTransitionError(f"{ticket.number} is {ticket.status}, not resolved")
            written_at = now()
            if not _spend_nonce(conn, nonce, ticket.seq, written_at):
                return None
            data = {"solved": solved}
            seq = add_event(conn, ticket.seq, "solved", REQUESTER_ACTOR, written_at, data)
            if not solved:
                _change_status(conn, ticket, "open", written_at)
            else:
                conn.execute("UPDATE tickets SET updated_at = ? WHERE seq = ?", (written_at, ticket.seq))
        return EventRow(seq, ticket.seq, "solved", REQUESTER_ACTOR, written_at, False, data)

    def rate(self, ticket_id: str, score: int, comment: str, nonce: str) -> EventRow | None:
        """A 1–5 rating with an optional comment, once the ticket is resolved; the latest one counts."""
        if not 1 <= score <= 5:
            raise StoreError(f"a rating is 1 to 5, not {score}")
        if len(comment) > MAX_RATING_COMMENT_CHARS:
            raise StoreError(f"a rating's comment has at most {MAX_RATING_COMMENT_CHARS} characters")
        with self._database.write() as conn:
            ticket = get_ticket(conn, ticket_id)
            if ticket.status not in ("resolved", "closed"):
                raise InvalidTransitionError(f"{ticket.number} is {ticket.status}; it can be rated once resolved")
            written_at = now()
            if not _spend_nonce(conn, nonce, ticket.seq, written_at):
                return None
            data: dict[str, Any] = {"score": score, "comment": comment}
            seq = add_event(conn, ticket.seq, "rating", REQUESTER_ACTOR, written_at, data)
        return EventRow(seq, ticket.seq, "rating", REQUESTER_ACTOR, written_at, False, data)

    # ------------------------------------------------------------ figures
    def satisfaction(self, since: float, until: float) -> Satisfaction:
        """Ratings given in [since, until) (each ticket's latest), against the tickets resolved then."""
        with self._database.read() as conn:
            resolved = int(
                conn.execute(
                    "SELECT count(*) FROM tickets WHERE resolved_at >= ? AND resolved_at < ?", (since, until)
                ).fetchone()[0]
            )
            rows = conn.execute(
                f"SELECT e.at, {self._database.json_integer('e.data', 'score')} AS score FROM events e "  # noqa: S608
                "WHERE e.kind = 'rating' AND e.at >= ? AND e.at < ? AND e.seq = "
                "(SELECT max(seq) FROM events l WHERE l.ticket_seq = e.ticket_seq AND l.kind = 'rating')",
                (since, until),
            ).fetchall()
            feedback = conn.execute(
                f"SELECT {self._database.json_integer('data', 'solved')} AS solved, count(*) AS n FROM events "  # noqa: S608
                "WHERE kind = 'solved' AND at >= ? AND at < ? GROUP BY solved",
                (since, until),
            ).fetchall()
        scores = [(float(r["at"]), int(r["score"])) for r in rows]
        distribution = dict.fromkeys(range(1, 6), 0)
        weeks: dict[int, list[int]] = {}
        for at, score in scores:
            distribution[score] = distribution.get(score, 0) + 1
            weeks.setdefault(int(at // SECONDS_PER_WEEK), []).append(score)
        solved = {bool(r["solved"]): int(r["n"]) for r in feedback}
        return Satisfaction(
            since=since,
            until=until,
            resolved=resolved,
            rated=len(scores),
            average=sum(s for _at, s in scores) / len(scores) if scores else None,
            distribution=distribution,
            solved=solved.get(True, 0),
            still_broken=solved.get(False, 0),
            weekly=[
                (float(week * SECONDS_PER_WEEK), sum(values) / len(values), len(values))
                for week, values in sorted(weeks.items())
            ],
        )


def _spend_nonce(conn: Connection, nonce: str, ticket_seq: int, at: float) -> bool:
    """True the first time this nonce is used; spent ones older than their lifetime are forgotten."""
    conn.execute("DELETE FROM form_nonces WHERE used_at < ?", (at - FORM_NONCE_SECONDS,))
    cursor = conn.execute(
        "INSERT INTO form_nonces (nonce, ticket_seq, used_at) VALUES (?, ?, ?) ON CONFLICT (nonce) DO NOTHING",
        (nonce, ticket_seq, at),
    )
    return cursor.rowcount == 1


def _change_status(conn: Connection, ticket: TicketRow, status: str, at: float) -> None:
    """The person's answer or "still broken" moves the ticket; a reopen clears the resolve times."""
    reopening = ticket.status in ("resolved", "closed")
    conn.execute(
        "UPDATE tickets SET status = ?, updated_at = ?, resolved_at = CASE WHEN ? THEN NULL ELSE resolved_at END, "
        "closed_at = CASE WHEN ? THEN NULL ELSE closed_at END WHERE seq = ?",
        (status, at, reopening, reopening, ticket.seq),
    )
    add_event(conn, ticket.seq, "status", REQUESTER_ACTOR, at, {"from": ticket.status, "to": status})


def event_files(event: EventRow) -> list[dict[str, Any]]:
    """The photos an answer event carries (none for other kinds)."""
    files = event.data.get("files", [])
    return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []


__all__ = [
    "FORM_NONCE_SECONDS",
    "MAX_RATING_COMMENT_CHARS",
    "REQUESTER_ACTOR",
    "AnswerPhoto",
    "RequesterSide",
    "event_files",
]
