"""Retention: delete the pictures and attachments of tickets closed more than N days ago, and orphaned files.

What goes: the stored bytes of every step image, unredacted original and attachment of a
ticket whose status is ``closed`` and whose ``closed_at`` lies more than ``days`` days before
``now``. What stays: the ticket, its text, timeline and queue history (the figures need
them), the list of its files with their names, sizes and sha256 (a record of what there
was), and its system information (small text the recurring-problem view uses). A resolved
ticket that was never closed keeps everything.

Files are stored once by content, so a blob is deleted only when no file outside the
expired set names it: the same screenshot in a ticket that is still open keeps it.

Orphans go too: stored objects that no file row names at all, stored more than the grace
period ago. They are what a crash or a refused submission leaves (a blob is written before
the row that names it commits; an answer whose photos were stored may still be refused). The
grace period (an hour by default) keeps every upload whose row is about to commit.

It works on either database engine, through the store's own transactions, while servers
serve. No row is written or deleted. What to delete is planned from one snapshot; then each
batch of objects is removed inside a write transaction of the store (the only writer of the
database while it runs, across every server process on PostgreSQL), which first reads again
which of the batch's digests a file row still needs — a ticket that committed since the plan,
a ticket reopened since — so no row naming a file can commit between that check and the
removal. A batch holds the lock for at most about a second (one S3 DELETE per object), so
submissions meanwhile wait briefly instead of failing. A crash between batches leaves the
rest for the next run: the rows are unchanged, so it plans them again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from agent.fsutil import fsync_dir
from server.blob_location import open_blobs
from server.blobs import BlobBackend, BlobStore, BlobStoreUnavailableError, discard
from server.blobs_s3 import S3BlobStore, S3Credentials, make_client
from server.store import DB_FILENAME, Store, StoreBusyError, ticket_number
from server.store.connection import Connection
from server.thumbnails import thumbnail_path

DEFAULT_RETENTION_DAYS: Final = 90
SECONDS_PER_DAY: Final = 86_400
# Orphans younger than this stay: an upload's objects are stored before its row commits.
DEFAULT_ORPHAN_GRACE_SECONDS: Final = 3600.0
# Roles of the files retention removes: every picture and file the person or a report sent
# (answer photos from the requester's page and clips included); "sysinfo" stays with the ticket.
PURGED_ROLES: Final = ("step", "original", "attachment", "clip", "answer")
_ROLE_PLACEHOLDERS: Final = ", ".join("?" for _ in PURGED_ROLES)
# Digests checked again per write transaction, and how long one may hold the write lock
# removing objects: well under the store's busy timeout (5 s), which other writers wait at most.
REMOVE_BATCH: Final = 200
LOCK_HOLD_SECONDS: Final = 1.0
# A file row that keeps the bytes it names: outside the expired set (not closed, closed recently,
# or a role retention keeps).
_EXPIRED_SQL: Final = f"(t.status = 'closed' AND t.closed_at < ? AND f.role IN ({_ROLE_PLACEHOLDERS}))"


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
class OrphanFile:
    """A stored object no file row names, stored before ``now - grace``."""

    sha256: str
    size: int
    stored_at: float


@dataclass(frozen=True)
class RetentionResult:
    days: int
    cutoff: float
    tickets: list[ExpiredTicket] = field(default_factory=list)
    blobs_deleted: int = 0
    bytes_deleted: int = 0
    dry_run: bool = True
    orphan_grace: float = DEFAULT_ORPHAN_GRACE_SECONDS
    orphans: list[OrphanFile] = field(default_factory=list)
    orphans_deleted: int = 0
    orphan_bytes_deleted: int = 0


def retention_cutoff(days: int, now: float) -> float:
    if days < 0:
        raise RetentionError(f"retention days must be 0 or more, not {days}")
    return now - days * SECONDS_PER_DAY


def apply_retention(
    data_dir: Path,
    days: int,
    *,
    now: float,
    dry_run: bool = False,
    blobs_location: str = "",
    database: str = "",
    orphan_grace: float = DEFAULT_ORPHAN_GRACE_SECONDS,
) -> RetentionResult:
    """Delete (or, with ``dry_run``, list) the files of tickets closed before ``now - days`` and old orphans.

    Only tickets with stored bytes to delete are listed, so running it again lists nothing new.
    ``blobs_location`` is the server's ``[server] blobs`` (empty: the data directory's ``blobs/``),
    ``database`` its ``[server] database`` (empty: SQLite in the data directory). Orphans stored
    more than ``orphan_grace`` seconds before ``now`` are deleted too.
    """
    cutoff = retention_cutoff(days, now)
    if orphan_grace < 0:
        raise RetentionError(f"the orphans' grace period must be 0 or more seconds, not {orphan_grace}")
    if not database and not (data_dir / DB_FILENAME).is_file():
        raise RetentionError(f"{data_dir} holds no ShowDesk server database ({DB_FILENAME})")
    try:
        store = Store(data_dir, database=database)
    except ValueError as exc:
        raise RetentionError(f"the database: {exc}") from exc
    try:
        try:
            blobs = open_blobs(data_dir, blobs_location)
        except ValueError as exc:
            raise RetentionError(f"the files' store: {exc}") from exc
        try:
            sweep = _Sweep(store, blobs, data_dir, cutoff)
            tickets = sweep.expired()
            orphans = sweep.orphans(now - orphan_grace)
            if dry_run:
                return RetentionResult(days, cutoff, tickets, dry_run=True, orphan_grace=orphan_grace, orphans=orphans)
            doomed = {f.sha256: f.size for t in tickets for f in t.deleted}
            lone = {o.sha256: o.size for o in orphans}
            kept = sweep.remove(doomed, lone, stored_before=now - orphan_grace)
            sweep.discard_leftover_thumbnails()
        finally:
            blobs.close()
    except BlobStoreUnavailableError as exc:
        raise RetentionError(str(exc)) from exc
    except StoreBusyError as exc:
        raise RetentionError(f"the database stayed busy: {exc}; try again") from exc
    finally:
        store.close()
    # Bytes a file row came to need again since the plan are listed as kept, not deleted.
    tickets = [replace(t, files=[replace(f, shared=True) if f.sha256 in kept else f for f in t.files]) for t in tickets]
    orphans = [o for o in orphans if o.sha256 not in kept]
    deleted = {sha: size for sha, size in doomed.items() if sha not in kept}
    return RetentionResult(
        days=days,
        cutoff=cutoff,
        tickets=[t for t in tickets if t.deleted],
        blobs_deleted=len(deleted),
        bytes_deleted=sum(deleted.values()),
        dry_run=False,
        orphan_grace=orphan_grace,
        orphans=orphans,
        orphans_deleted=len(orphans),
        orphan_bytes_deleted=sum(o.size for o in orphans),
    )


class _Sweep:
    """One run's plan and removal over one store and one blob backend."""

    def __init__(self, store: Store, blobs: BlobBackend, data_dir: Path, cutoff: float) -> None:
        self.store = store
        self.blobs = blobs
        self.data_dir = data_dir
        self.cutoff = cutoff
        # Expired bytes already gone from the store (an earlier run, perhaps from another machine).
        self.gone: set[str] = set()

    # ------------------------------------------------------------ the plan
    def expired(self) -> list[ExpiredTicket]:
        """The expired tickets with stored bytes left, each file marked shared when a live file names its bytes."""
        with self.store.database.read() as conn:
            # Only "?" placeholders are built into the SQL; the roles go in as parameters.
            rows = conn.execute(
                "SELECT t.seq, t.id, t.closed_at, f.path, f.role, f.sha256, f.size FROM tickets t "  # noqa: S608
                "JOIN files f ON f.ticket_seq = t.seq "
                f"WHERE t.status = 'closed' AND t.closed_at < ? AND f.role IN ({_ROLE_PLACEHOLDERS}) "
                "ORDER BY t.closed_at, t.seq, f.path",
                (self.cutoff, *PURGED_ROLES),
            ).fetchall()
            # Bytes that any file outside the expired set still names.
            kept = {
                str(row[0])
                for row in conn.execute(
                    "SELECT DISTINCT f.sha256 FROM files f JOIN tickets t ON t.seq = f.ticket_seq "  # noqa: S608
                    f"WHERE NOT {_EXPIRED_SQL}",
                    (self.cutoff, *PURGED_ROLES),
                ).fetchall()
            }
        stored: dict[str, bool] = {}
        tickets: dict[int, ExpiredTicket] = {}
        for seq, ticket_id, closed_at, path, role, sha256, size in rows:
            if sha256 not in stored:
                stored[sha256] = self.blobs.exists(sha256)
            if not stored[sha256]:
                if sha256 not in kept:  # a live ticket's thumbnail stays, whatever happened to its bytes
                    self.gone.add(sha256)
                continue  # deleted by an earlier run
            ticket = tickets.setdefault(seq, ExpiredTicket(ticket_number(seq), ticket_id, float(closed_at), []))
            ticket.files.append(ExpiredFile(path, role, sha256, int(size), shared=sha256 in kept))
        # A ticket whose remaining files all stay (shared with a live ticket) has nothing to do now.
        return [ticket for ticket in tickets.values() if ticket.deleted]

    def orphans(self, stored_before: float) -> list[OrphanFile]:
        """Stored objects no file row names, stored before ``stored_before``, in digest order."""
        # The store is listed before the rows are read: an upload that lands after the listing
        # is not a candidate, and one listed whose row commits later is kept by the re-check.
        listed = list(self.blobs.digests())
        with self.store.database.read() as conn:
            named = {str(row[0]) for row in conn.execute("SELECT DISTINCT sha256 FROM files").fetchall()}
        found: list[OrphanFile] = []
        with _StoredTimes(self.blobs) as times:
            for digest in sorted(set(listed) - named):
                stat = times.lookup(digest)
                if stat is not None and stat[1] < stored_before:
                    found.append(OrphanFile(digest, stat[0], stat[1]))
        return found

    # ------------------------------------------------------------ the removal
    def remove(self, expired: dict[str, int], orphans: dict[str, int], *, stored_before: float) -> set[str]:
        """Remove the objects no row needs any more, batch by batch; returns the digests kept after all."""
        pending = [*expired, *orphans]
        kept: set[str] = set()
        while pending:
            batch, pending = pending[:REMOVE_BATCH], pending[REMOVE_BATCH:]
            with self.store.database.write(notify=False) as conn:
                needed = self._needed(conn, batch, set(orphans))
                # An orphan whose bytes arrived again since the plan was made has been made young by
                # that upload's commit (the blob stores refresh what they already hold), and its row
                # may be about to commit: it stays. Looked up under the write lock, so no row names
                # it unseen; only a refresh in the milliseconds before its removal could slip by.
                needed |= self._refreshed(set(batch) & set(orphans) - needed, stored_before)
                kept |= needed
                started = time.monotonic()
                removed: list[str] = []
                for position, digest in enumerate(batch):
                    if digest in needed:
                        continue
                    if removed and time.monotonic() - started > LOCK_HOLD_SECONDS:
                        # The rest go in the next transaction, checked again there.
                        pending = [d for d in batch[position:] if d not in needed] + pending
                        break
                    self.blobs.remove(digest)
                    # Its thumbnail for the person's page goes with it (made again only from the blob).
                    discard(thumbnail_path(self.data_dir, digest))
                    removed.append(digest)
            if isinstance(self.blobs, BlobStore):
                # Only a directory needs its entries made durable; an object store's DELETE is.
                for shard in {self.blobs.path_for(digest).parent for digest in removed}:
                    fsync_dir(shard)
        return kept

    def discard_leftover_thumbnails(self) -> None:
        """Drop this data directory's thumbnails of expired bytes an earlier run removed.

        Each server process keeps thumbnails in its own data directory; a run with another
        ``--data`` (another machine's process on the same database and object store) removed the
        bytes but could not reach these. A thumbnail is a picture of the screenshot: it goes too.
        """
        for digest in self.gone:
            discard(thumbnail_path(self.data_dir, digest))

    def _refreshed(self, orphans: set[str], stored_before: float) -> set[str]:
        """The orphans gone, or stored (or refreshed) since ``stored_before``: not old enough to remove."""
        if not orphans:
            return set()
        with _StoredTimes(self.blobs) as times:
            return {d for d in orphans if (stat := times.lookup(d)) is None or stat[1] >= stored_before}

    def _needed(self, conn: Connection, batch: Sequence[str], orphans: set[str]) -> set[str]:
        """The digests of ``batch`` a file row needs now: any row for an orphan, a live one for expired bytes."""
        marks = ", ".join("?" for _ in batch)
        rows = conn.execute(
            # 1 when a row outside the expired set names the bytes; only "?" placeholders are built in.
            f"SELECT f.sha256, MAX(CASE WHEN {_EXPIRED_SQL} THEN 0 ELSE 1 END) "  # noqa: S608
            f"FROM files f JOIN tickets t ON t.seq = f.ticket_seq WHERE f.sha256 IN ({marks}) GROUP BY f.sha256",
            (self.cutoff, *PURGED_ROLES, *batch),
        ).fetchall()
        return {str(sha) for sha, live in rows if int(live) or sha in orphans}


class _StoredTimes(contextlib.AbstractContextManager["_StoredTimes"]):
    """Each stored object's size and when it was stored (a file's mtime, an object's Last-Modified)."""

    def __init__(self, blobs: BlobBackend) -> None:
        self.blobs = blobs
        self._client: Any = None

    def lookup(self, digest: str) -> tuple[int, float] | None:
        """(size, stored at), or None when it is gone or its age cannot be known (then it stays)."""
        if isinstance(self.blobs, BlobStore):
            try:
                found = self.blobs.path_for(digest).stat()
            except FileNotFoundError:
                return None
            return found.st_size, found.st_mtime
        if isinstance(self.blobs, S3BlobStore):
            return self._head(self.blobs, digest)
        return None

    def _head(self, blobs: S3BlobStore, digest: str) -> tuple[int, float] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            # The backend's interface gives no object's age; a client of our own asks for it.
            self._client = make_client(blobs.location, S3Credentials.lookup())
        try:
            head = self._client.head_object(Bucket=blobs.location.bucket, Key=blobs.location.key_for(digest))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise BlobStoreUnavailableError(
                f"the object store ({blobs.location.describe()}) refused looking up {digest[:12]}…: {exc}"
            ) from exc
        except BotoCoreError as exc:
            raise BlobStoreUnavailableError(
                f"the object store ({blobs.location.describe()}) could not be reached looking up {digest[:12]}…: {exc}"
            ) from exc
        return int(head["ContentLength"]), head["LastModified"].timestamp()

    def __exit__(self, *_exc: object) -> None:
        if self._client is not None:
            self._client.close()
