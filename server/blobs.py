"""Attachment files, stored by content (sha256) under the data directory.

Uploads stream into ``tmp/`` under a random name; once verified they are fsynced and
renamed to ``blobs/ab/<sha256>``. The 256 ``ab`` directories are made once, up front,
so storing a file costs one fsync of the file and one of its directory, not a chain of
new directories to make durable. A blob is written completely before the database
row that names it commits, so a crash leaves at worst an unreferenced blob, never a
ticket whose file is missing or half written. Blobs are never served by path: the API
looks them up through the database.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from server.fsio import fsync_dir, fsync_file, make_private_dir

_SHA256_RE: Final = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    """Content-addressed files: ``path_for(sha256)`` is where the bytes with that digest live."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "blobs"
        self.tmp = data_dir / "tmp"
        make_private_dir(self.root)
        make_private_dir(self.tmp)
        made = False
        for prefix in range(256):
            shard = self.root / f"{prefix:02x}"
            if not shard.is_dir():
                shard.mkdir(mode=0o700, exist_ok=True)
                made = True
        if made:
            fsync_dir(self.root)

    def path_for(self, sha256: str) -> Path:
        if not _SHA256_RE.match(sha256):
            raise ValueError(f"not a sha256 digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def new_temp(self) -> tuple[int, Path]:
        """An open file descriptor and the path of a fresh temporary file for an upload."""
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=self.tmp)
        return fd, Path(name)

    def commit(self, items: Sequence[tuple[Path, str]]) -> None:
        """Make verified temporary files the blobs for their sha256, durably, before returning.

        ``items`` are (temporary file, sha256) pairs whose bytes were checked against the
        digest while they streamed in. A blob that already exists (the same screenshot
        twice) is kept and its temporary file dropped. Every file is fsynced before it is
        renamed, and each directory that gained an entry is fsynced once.
        """
        touched: set[Path] = set()
        for temp, sha256 in items:
            final = self.path_for(sha256)
            if final.exists():
                discard(temp)
                continue
            fsync_file(temp)
            temp.replace(final)
            touched.add(final.parent)
        for directory in sorted(touched):
            fsync_dir(directory)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def remove_stale_temps(self) -> int:
        """Delete uploads a crash left behind; call only while no server uses this data directory."""
        removed = 0
        for entry in self.tmp.iterdir():
            if entry.is_file():
                discard(entry)
                removed += 1
        return removed

    def iter_blobs(self) -> list[Path]:
        """Every stored blob (for backups)."""
        return [p for p in self.root.glob("*/*") if p.is_file() and _SHA256_RE.match(p.name)]


def discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
