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
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from server.blobs import BlobStore, discard
from server.fsio import fsync_dir, fsync_file, make_private_dir
from server.store import DB_FILENAME, Store


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class BackupSummary:
    destination: Path
    tickets: int
    blobs_copied: int
    blobs_present: int


def backup(data_dir: Path, destination: Path) -> BackupSummary:
    source_db = data_dir / DB_FILENAME
    if not source_db.is_file():
        raise BackupError(f"{data_dir} holds no ShowDesk server database ({DB_FILENAME})")
    if destination.resolve() == data_dir.resolve():
        raise BackupError("the backup destination is the data directory itself")
    make_private_dir(destination)
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


def _snapshot(store: Store, target: Path) -> None:
    discard(target)
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
            shutil.copyfileobj(reader, writer, 1024 * 1024)
            writer.flush()
        fsync_file(temp)
        temp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(target.parent)
