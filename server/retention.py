"""Retention: delete the pictures and attachments of tickets closed more than N days ago.

What goes: the stored bytes of every step image, unredacted original and attachment of a
ticket whose status is ``closed`` and whose ``closed_at`` lies more than ``days`` days before
``now``. What stays: the ticket, its text, timeline and queue history (the figures need
them), the list of its files with their names, sizes and sha256 (a record of what there
was), and its system information (small text the recurring-problem view uses). A resolved
ticket that was never closed keeps everything.

Files are stored once by content, so a blob is deleted only when no file outside the
expired set names it: the same screenshot in a ticket that is still open keeps it.

It runs while the server serves: the references are read and the blobs deleted inside one
``BEGIN IMMEDIATE`` transaction, so no ticket can commit between the check and the
deletion.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from agent.fsutil import fsync_dir
from server.blob_location import open_blobs
from server.blobs import BlobBackend, BlobStore, BlobStoreUnavailableError, discard
from server.store import DB_FILENAME, DEFAULT_BUSY_TIMEOUT_SECONDS, ticket_number
from server.thumbnails import thumbnail_path

DEFAULT_RETENTION_DAYS: Final = 90
SECONDS_PER_DAY: Final = 86_400
# Roles of the files retention removes: every picture and file the person or a report sent
# (answer photos from the requester's page and clips included); "sysinfo" stays with the ticket.
PURGED_ROLES: Final = ("step", "original", "attachment", "clip", "answer")
_ROLE_PLACEHOLDERS: Final = ", ".join("?" for _ in PURGED_ROLES)


class RetentionError(RuntimeError):
    pass


@dataclass(frozen=True)
class ExpiredFile:
    path: str
    role: str
    sha256: str
    size: int
    shared: bool  # another, unexpired file names the same bytes: they stay


@dataclass(frozen=True)
class ExpiredTicket:
    number: str
    id: str
    closed_at: float
    files: list[ExpiredFile]

    @property
    def deleted(self) -> list[ExpiredFile]:
        return [f for f in self.files if not f.shared]


@dataclass(frozen=True)
class RetentionResult:
    days: int
    cutoff: float
    tickets: list[ExpiredTicket] = field(default_factory=list)
    blobs_deleted: int = 0
    bytes_deleted: int = 0
    dry_run: bool = True


def retention_cutoff(days: int, now: float) -> float:
    if days < 0:
        raise RetentionError(f"retention days must be 0 or more, not {days}")
    return now - days * SECONDS_PER_DAY


def apply_retention(
    data_dir: Path, days: int, *, now: float, dry_run: bool = False, blobs_location: str = ""
) -> RetentionResult:
    """Delete (or, with ``dry_run``, list) the files of tickets closed before ``now - days``.

    Only tickets with stored bytes to delete are listed, so running it again lists nothing new.
    ``blobs_location`` is the server's ``[server] blobs`` (empty: the data directory's ``blobs/``).
    """
    cutoff = retention_cutoff(days, now)
    db_path = data_dir / DB_FILENAME
    if not db_path.is_file():
        raise RetentionError(f"{data_dir} holds no ShowDesk server database ({DB_FILENAME})")
    try:
        blobs = open_blobs(data_dir, blobs_location)
    except ValueError as exc:
        raise RetentionError(f"the files' store: {exc}") from exc
    try:
        with _immediate(db_path) as conn:
            tickets = _expired(conn, blobs, cutoff)
            doomed = {f.sha256: f.size for t in tickets for f in t.deleted}
            if not dry_run:
                for digest in doomed:
                    blobs.remove(digest)
                    # Its thumbnail for the person's page goes with it (made again only from the blob).
                    discard(thumbnail_path(data_dir, digest))
                if isinstance(blobs, BlobStore):
                    # Only a directory needs its entries made durable; an object store's DELETE is.
                    for shard in {blobs.path_for(digest).parent for digest in doomed}:
                        fsync_dir(shard)
    except BlobStoreUnavailableError as exc:
        raise RetentionError(str(exc)) from exc
    finally:
        blobs.close()
    return RetentionResult(
        days=days,
        cutoff=cutoff,
        tickets=tickets,
        blobs_deleted=0 if dry_run else len(doomed),
        bytes_deleted=0 if dry_run else sum(doomed.values()),
        dry_run=dry_run,
    )


@contextmanager
def _immediate(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A write lock on the database for the span of the check and the deletion; nothing is written."""
    conn = sqlite3.connect(db_path, timeout=DEFAULT_BUSY_TIMEOUT_SECONDS, isolation_level=None)
    try:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise RetentionError(f"the database stayed busy: {exc}; try again") from exc
        try:
            yield conn
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()


def _expired(conn: sqlite3.Connection, blobs: BlobBackend, cutoff: float) -> list[ExpiredTicket]:
    # Only "?" placeholders are built into the SQL; the roles go in as parameters.
    rows = conn.execute(
        "SELECT t.seq, t.id, t.closed_at, f.path, f.role, f.sha256, f.size FROM tickets t "  # noqa: S608
        "JOIN files f ON f.ticket_seq = t.seq "
        f"WHERE t.status = 'closed' AND t.closed_at < ? AND f.role IN ({_ROLE_PLACEHOLDERS}) "
        "ORDER BY t.closed_at, t.seq, f.path",
        (cutoff, *PURGED_ROLES),
    ).fetchall()
    # Bytes that any file outside the expired set still names.
    kept = {
        str(row[0])
        for row in conn.execute(
            "SELECT DISTINCT f.sha256 FROM files f JOIN tickets t ON t.seq = f.ticket_seq "  # noqa: S608
            f"WHERE NOT (t.status = 'closed' AND t.closed_at < ? AND f.role IN ({_ROLE_PLACEHOLDERS}))",
            (cutoff, *PURGED_ROLES),
        )
    }
    tickets: dict[int, ExpiredTicket] = {}
    for seq, ticket_id, closed_at, path, role, sha256, size in rows:
        if not blobs.exists(sha256):
            continue  # deleted by an earlier run
        ticket = tickets.setdefault(seq, ExpiredTicket(ticket_number(seq), ticket_id, float(closed_at), []))
        ticket.files.append(ExpiredFile(path, role, sha256, int(size), shared=sha256 in kept))
    # A ticket whose remaining files all stay (shared with a live ticket) has nothing to do now.
    return [ticket for ticket in tickets.values() if ticket.deleted]
