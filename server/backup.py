"""Online, consistent backup of a data directory while the server runs.

1. The database is copied with SQLite's backup API: a consistent snapshot even while
   requests commit.
2. The blobs are copied after the snapshot. Blobs are immutable and are stored before
   the ticket row that names them commits, so every blob the snapshot names already
   exists by then. Blobs the destination already holds are skipped (same name, same
   bytes), so backing up into the same directory again is incremental.
3. Every blob the snapshot names is checked to be present in the destination, then the
   database file is renamed into place. The destination is a valid data directory:
   ``showdesk server --data DEST`` serves it.

Restore (``restore``) runs while no server uses the data directory (it holds the same lock
a server holds). It first verifies the backup whole: SQLite's integrity check, a schema
this server reads, and every file the database names present with the sha256 it is
stored under. Only then does it copy the blobs (each one checked against its name while
copying), copy the database, move an existing database aside into
``before-restore-<time>/`` (nothing is lost) and rename the restored one into place.

When the files live in an object store (``[server] blobs = "s3://…"``) a backup holds the
database only: copying a bucket through this server would be slow and is the store's own job
(bucket versioning, replication or the store's snapshot tools). The backup still checks that
every object the snapshot names is in the bucket, and says in its output where the files are.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from agent.fsutil import create_private_file, fsync_dir, fsync_file, make_private_dir
from server.blob_location import open_blobs
from server.blobs import BlobBackend, BlobStore, BlobStoreUnavailableError, discard
from server.store import DB_FILENAME, SCHEMA_VERSION, Store

_COPY_CHUNK = 1024 * 1024


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class BackupSummary:
    destination: Path
    tickets: int
    blobs_copied: int
    blobs_present: int
    # Set when the files live in an object store: the backup holds the database only.
    files_kept_in: str | None = None


def backup(data_dir: Path, destination: Path, blobs_location: str = "") -> BackupSummary:
    source_db = data_dir / DB_FILENAME
    if not source_db.is_file():
        raise BackupError(f"{data_dir} holds no ShowDesk server database ({DB_FILENAME})")
    if destination.resolve() == data_dir.resolve():
        raise BackupError("the backup destination is the data directory itself")
    make_private_dir(destination)
    if blobs_location.strip():
        return _backup_database_only(data_dir, destination, blobs_location)
    store = Store(data_dir)
    partial = destination / f".{DB_FILENAME}.partial"
    try:
        _snapshot(store, partial)
        referenced, tickets = _referenced(partial)
        source_blobs = BlobStore(data_dir)
        target_blobs = BlobStore(destination)
        copied = present = 0
        for blob in source_blobs.iter_blobs():
            target = target_blobs.path_for(blob.name)
            if target.is_file() and target.stat().st_size == blob.stat().st_size:
                present += 1
                continue
            _copy_durably(blob, target)
            copied += 1
        missing = [digest for digest in referenced if not target_blobs.exists(digest)]
        if missing:
            raise BackupError(f"{len(missing)} file(s) named in the database are missing from {data_dir / 'blobs'}")
        fsync_file(partial)
        partial.replace(destination / DB_FILENAME)
        fsync_dir(destination)
    except BaseException:
        discard(partial)
        raise
    finally:
        store.close()
    return BackupSummary(destination, tickets, copied, present)


def _backup_database_only(data_dir: Path, destination: Path, blobs_location: str) -> BackupSummary:
    """The database snapshot, after checking that the object store holds every file it names."""
    try:
        blobs = open_blobs(data_dir, blobs_location)
    except ValueError as exc:
        raise BackupError(f"the files' store: {exc}") from exc
    store = Store(data_dir)
    partial = destination / f".{DB_FILENAME}.partial"
    try:
        _snapshot(store, partial)
        referenced, tickets = _referenced(partial)
        # One listing rather than a request per file; objects are stored before their rows commit.
        stored = set(blobs.digests())
        missing = referenced - stored
        if missing:
            raise BackupError(f"{len(missing)} file(s) named in the database are missing from {blobs.describe()}")
        fsync_file(partial)
        partial.replace(destination / DB_FILENAME)
        fsync_dir(destination)
    except BlobStoreUnavailableError as exc:
        discard(partial)
        raise BackupError(str(exc)) from exc
    except BaseException:
        discard(partial)
        raise
    finally:
        store.close()
        blobs.close()
    return BackupSummary(destination, tickets, 0, len(referenced), files_kept_in=blobs.describe())


def _snapshot(store: Store, target: Path) -> None:
    discard(target)
    # Made 0600 first: SQLite would create it with the umask's mode, and its journal takes the same mode.
    create_private_file(target)
    source = store.connection()
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        # A backup is one self-contained file: fold any WAL content into it.
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()


def _referenced(db_file: Path) -> tuple[set[str], int]:
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        digests = {row[0] for row in conn.execute("SELECT DISTINCT sha256 FROM files")}
        tickets = int(conn.execute("SELECT count(*) FROM tickets").fetchone()[0])
    finally:
        conn.close()
    return digests, tickets


def _copy_durably(source: Path, target: Path) -> None:
    make_private_dir(target.parent)
    fd, temp_name = tempfile.mkstemp(prefix=".copy-", dir=target.parent)
    temp = Path(temp_name)
    try:
        with source.open("rb") as reader, os.fdopen(fd, "wb") as writer:
            shutil.copyfileobj(reader, writer, _COPY_CHUNK)
            writer.flush()
        fsync_file(temp)
        temp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(target.parent)


# ---------------------------------------------------------------- restore
@dataclass(frozen=True)
class RestoreSummary:
    data_dir: Path
    tickets: int
    files: int
    blobs_copied: int
    blobs_present: int
    previous: Path | None  # where the database that was there before went


def verify_backup(backup_dir: Path, object_store: BlobBackend | None = None) -> tuple[int, int]:
    """Check a backup before anything is changed; returns (tickets, files). Raises BackupError naming the fault.

    With ``object_store`` (a database-only backup of a server whose files are in a bucket) the
    files the database names are looked for in that store instead of the backup's ``blobs/``.
    """
    db_file = backup_dir / DB_FILENAME
    if not db_file.is_file():
        raise BackupError(f"{backup_dir} is not a ShowDesk backup: it has no {DB_FILENAME}")
    try:
        conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{db_file}: cannot open: {exc}") from exc
    try:
        integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        if integrity != "ok":
            raise BackupError(f"{db_file} is damaged: {integrity}")
        schema = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if not 1 <= schema <= SCHEMA_VERSION:
            raise BackupError(
                f"{db_file} has schema {schema}; this server reads schema 1 to {SCHEMA_VERSION} (upgrade it first)"
            )
        tickets = int(conn.execute("SELECT count(*) FROM tickets").fetchone()[0])
        files = int(conn.execute("SELECT count(*) FROM files").fetchone()[0])
        digests = {str(row[0]) for row in conn.execute("SELECT DISTINCT sha256 FROM files")}
    except sqlite3.Error as exc:
        raise BackupError(f"{db_file} is not a ShowDesk server database: {exc}") from exc
    finally:
        conn.close()
    if object_store is not None:
        try:
            missing = digests - set(object_store.digests())
        except BlobStoreUnavailableError as exc:
            raise BackupError(str(exc)) from exc
        if missing:
            raise BackupError(
                f"{len(missing)} file(s) the backup's database names are not in {object_store.describe()}: "
                "restore the bucket first"
            )
        return tickets, files
    blobs_root = backup_dir / "blobs"
    for digest in sorted(digests):
        blob = blobs_root / digest[:2] / digest
        if not blob.is_file():
            raise BackupError(f"the backup lacks the stored file {digest[:12]}… that its database names")
        if _sha256_of(blob) != digest:
            raise BackupError(f"the backup's stored file {blob} does not match its sha256: it is damaged")
    return tickets, files


def restore(backup_dir: Path, data_dir: Path, *, replace: bool = False, blobs_location: str = "") -> RestoreSummary:
    """Make ``data_dir`` the state saved in ``backup_dir``; the server must be stopped.

    With ``blobs_location`` (files in an object store) only the database is restored, once every
    file it names is found in the store.
    """
    from server.runner import DataDirInUseError, DataDirLock

    if backup_dir.resolve() == data_dir.resolve():
        raise BackupError("the backup and the data directory are the same directory")
    object_store: BlobBackend | None = None
    if blobs_location.strip():
        make_private_dir(data_dir)
        try:
            object_store = open_blobs(data_dir, blobs_location)
        except ValueError as exc:
            raise BackupError(f"the files' store: {exc}") from exc
    try:
        tickets, files = verify_backup(backup_dir, object_store)
    finally:
        if object_store is not None:
            object_store.close()
    make_private_dir(data_dir)
    try:
        with DataDirLock(data_dir):
            copied, present, previous = _restore_locked(
                backup_dir, data_dir, replace=replace, database_only=object_store is not None
            )
            # Opening the store switches the restored file back to WAL and checks it is readable.
            Store(data_dir).close()
    except DataDirInUseError as exc:
        raise BackupError(f"{exc}; stop it before restoring") from None
    return RestoreSummary(data_dir, tickets, files, copied, present, previous)


def _restore_locked(
    backup_dir: Path, data_dir: Path, *, replace: bool, database_only: bool = False
) -> tuple[int, int, Path | None]:
    existing = data_dir / DB_FILENAME
    if existing.is_file() and not replace:
        raise BackupError(f"{data_dir} already holds a database; pass --replace to move it aside and restore over it")
    # A database-only backup (files in an object store) has no blobs/ to copy.
    copied, present = (0, 0) if database_only else _restore_blobs(backup_dir, data_dir)
    staged = data_dir / f".{DB_FILENAME}.restoring"
    try:
        _copy_database(backup_dir / DB_FILENAME, staged)
        previous = _move_aside(data_dir) if existing.is_file() else None
        staged.replace(existing)
        fsync_dir(data_dir)
    except BaseException:
        discard(staged)
        raise
    return copied, present, previous


def _restore_blobs(backup_dir: Path, data_dir: Path) -> tuple[int, int]:
    """Copy the backup's blobs into the data directory; (copied, already there)."""
    target_blobs = BlobStore(data_dir)
    copied = present = 0
    for blob in sorted((backup_dir / "blobs").glob("*/*")):
        if not blob.is_file() or len(blob.name) != 64:
            continue
        target = target_blobs.path_for(blob.name)
        if target.is_file() and target.stat().st_size == blob.stat().st_size:
            present += 1
            continue
        _copy_verified(blob, target)
        copied += 1
    return copied, present


def _copy_database(source: Path, target: Path) -> None:
    discard(target)
    create_private_file(target)
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    writer = sqlite3.connect(target)
    try:
        reader.backup(writer)
        writer.execute("PRAGMA journal_mode=DELETE")
    finally:
        writer.close()
        reader.close()
    fsync_file(target)


def _move_aside(data_dir: Path) -> Path:
    """Move the current database (and its WAL) into before-restore-<UTC time>/; returns that folder."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = data_dir / f"before-restore-{stamp}"
    suffix = 1
    while aside.exists():
        suffix += 1
        aside = data_dir / f"before-restore-{stamp}-{suffix}"
    make_private_dir(aside)
    for name in (DB_FILENAME, f"{DB_FILENAME}-wal", f"{DB_FILENAME}-shm"):
        path = data_dir / name
        if path.exists():
            path.replace(aside / name)
    fsync_dir(aside)
    fsync_dir(data_dir)
    return aside


def _copy_verified(source: Path, target: Path) -> None:
    """Copy a blob durably, checking on the way that its bytes hash to its name."""
    make_private_dir(target.parent)
    fd, temp_name = tempfile.mkstemp(prefix=".restore-", dir=target.parent)
    temp = Path(temp_name)
    digest = hashlib.sha256()
    try:
        with source.open("rb") as reader, os.fdopen(fd, "wb") as writer:
            while chunk := reader.read(_COPY_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
        if digest.hexdigest() != source.name:
            raise BackupError(f"the backup's stored file {source} does not match its sha256: it is damaged")
        fsync_file(temp)
        temp.replace(target)
    except BaseException:
        discard(temp)
        raise
    fsync_dir(target.parent)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
