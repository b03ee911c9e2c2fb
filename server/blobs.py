"""Attachment files, stored by content (sha256) under the data directory.

Uploads stream into ``tmp/`` under a random name; once verified they are fsynced and
renamed to ``blobs/ab/<sha256>``. The 256 ``ab`` directories are made once, up front,
so storing a file costs one fsync of the file and one of its directory, not a chain of
new directories to make durable. A blob is written completely before the database
row that names it commits, so a crash leaves at worst an unreferenced blob, never a
ticket whose file is missing or half written. Blobs are never served by path: the API
looks them up through the database.

Blobs and temporary files are 0600, their directories 0700 (see ``agent.fsutil``). A write
that runs out of space (ENOSPC, EDQUOT) raises ``StorageFullError``; the caller removes
its temporary files, and a blob is only ever renamed into place complete.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final, Protocol

from agent.fsutil import (
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    fsync_dir,
    fsync_file,
    is_storage_full,
    make_private_dir,
    restrict_mode,
)
from server.store import StorageFullError

_SHA256_RE: Final = re.compile(r"^[0-9a-f]{64}$")
READ_CHUNK_BYTES: Final = 256 * 1024


class BlobStoreUnavailableError(RuntimeError):
    """The store that holds the files cannot be reached or refused; the message says what to check."""


class BlobBackend(Protocol):
    """What the server needs of a place for attachment files: this directory, or an object store.

    ``commit`` returns only when every file is durable; rows naming them are committed after it.
    """

    def describe(self) -> str: ...
    def check(self) -> None: ...
    def new_temp(self) -> tuple[int, Path]: ...
    def commit(self, items: Sequence[tuple[Path, str]]) -> None: ...
    def exists(self, sha256: str) -> bool: ...
    def size(self, sha256: str) -> int | None: ...
    def read_bytes(self, sha256: str) -> bytes: ...
    def read_chunks(self, sha256: str, chunk_size: int = READ_CHUNK_BYTES) -> Iterator[bytes]: ...
    def remove(self, sha256: str) -> None: ...
    def digests(self) -> Iterator[str]: ...
    def remove_stale_temps(self) -> int: ...
    def close(self) -> None: ...


class BlobStore:
    """Content-addressed files: ``path_for(sha256)`` is where the bytes with that digest live."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "blobs"
        self.tmp = data_dir / "tmp"
        make_private_dir(self.root)
        make_private_dir(self.tmp)
        made = False
        with storage_full_as_error(f"making the blob directories under {self.root}"):
            for prefix in range(256):
                shard = self.root / f"{prefix:02x}"
                if not shard.is_dir():
                    shard.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
                    made = True
                restrict_mode(shard, PRIVATE_DIR_MODE)
        if made:
            fsync_dir(self.root)
        self._restrict_blob_modes()

    def _restrict_blob_modes(self) -> None:
        """Make every stored blob 0600: files copied in by hand or by another tool may be readable by all."""
        for shard in self.root.iterdir():
            if not shard.is_dir():
                continue
            with os.scandir(shard) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False) and stat.S_IMODE(entry.stat().st_mode) != PRIVATE_FILE_MODE:
                        restrict_mode(Path(entry.path), PRIVATE_FILE_MODE)

    def path_for(self, sha256: str) -> Path:
        if not _SHA256_RE.match(sha256):
            raise ValueError(f"not a sha256 digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def describe(self) -> str:
        return f"the blob directory {self.root}"

    def check(self) -> None:
        """Nothing to reach: the directory was made (or refused) when the store opened."""

    def new_temp(self) -> tuple[int, Path]:
        """An open file descriptor and the path of a fresh temporary file for an upload."""
        return new_upload_temp(self.tmp)

    def commit(self, items: Sequence[tuple[Path, str]]) -> None:
        """Make verified temporary files the blobs for their sha256, durably, before returning.

        ``items`` are (temporary file, sha256) pairs whose bytes were checked against the
        digest while they streamed in. A blob that already exists (the same screenshot
        twice) is kept, its modification time set to now, and its temporary file dropped.
        Every file is fsynced before it is renamed, and each directory that gained an entry is
        fsynced once.

        The refreshed time matters to retention: it sweeps stored files that no row names and
        that are older than a grace period, judged by this time. Bytes resubmitted long after
        a crash left them unnamed would otherwise look old in the moment between this commit
        and the commit of the row that names them.
        """
        touched: set[Path] = set()
        # A failure half way leaves the blobs renamed so far: each is complete (fsynced
        # before its rename) and merely unreferenced, like after a crash. They are not
        # removed, because a concurrent upload of the same bytes may already rely on them.
        with storage_full_as_error(f"storing files under {self.root}"):
            for temp, sha256 in items:
                final = self.path_for(sha256)
                if _refresh_mtime(final):
                    discard(temp)
                    continue
                fsync_file(temp)
                temp.replace(final)
                touched.add(final.parent)
            for directory in sorted(touched):
                fsync_dir(directory)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def size(self, sha256: str) -> int | None:
        try:
            return self.path_for(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def read_bytes(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def read_chunks(self, sha256: str, chunk_size: int = READ_CHUNK_BYTES) -> Iterator[bytes]:
        with self.path_for(sha256).open("rb") as file:
            while chunk := file.read(chunk_size):
                yield chunk

    def remove(self, sha256: str) -> None:
        discard(self.path_for(sha256))

    def digests(self) -> Iterator[str]:
        return (path.name for path in self.iter_blobs())

    def remove_stale_temps(self) -> int:
        """Delete uploads a crash left behind; call only while no server uses this data directory."""
        return remove_files_in(self.tmp)

    def iter_blobs(self) -> list[Path]:
        """Every stored blob (for backups)."""
        return [p for p in self.root.glob("*/*") if p.is_file() and _SHA256_RE.match(p.name)]

    def close(self) -> None:
        """Nothing held open between calls."""


def new_upload_temp(directory: Path) -> tuple[int, Path]:
    """An open file descriptor and the path of a fresh private temporary file in ``directory``."""
    with storage_full_as_error(f"creating a temporary file in {directory}"):
        # mkstemp makes the file 0600 whatever the umask.
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=directory)
    return fd, Path(name)


def remove_files_in(directory: Path) -> int:
    """Delete the files directly in ``directory`` (uploads a crash left behind); their number."""
    removed = 0
    for entry in directory.iterdir():
        if entry.is_file():
            discard(entry)
            removed += 1
    return removed


@contextlib.contextmanager
def storage_full_as_error(doing: str) -> Iterator[None]:
    """Turn an OSError that means "disk or quota full" into ``StorageFullError`` naming what was being done.

    Wrap every write into the data directory with it (an upload's temporary file included:
    buffered writes fail on ``write`` or only on ``close``, so wrap both).
    """
    try:
        yield
    except OSError as exc:
        if is_storage_full(exc):
            raise StorageFullError(
                f"the disk under the server's data directory is full ({os.strerror(exc.errno or 0)} while "
                f"{doing}); nothing was stored: free some space and try again"
            ) from exc
        raise


def _refresh_mtime(path: Path) -> bool:
    """Set a stored blob's times to now; False when it is not stored (then the caller stores it).

    One call both checks and refreshes: a blob removed between a separate check and the
    refresh would otherwise be taken as stored.
    """
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
