"""File-system helpers for every part, the server included: crash-safe writes, private modes, a full disk.

Standard library only (platformdirs, imported when asked for the runtime directory): the
server shares this module (with the report schema) and nothing else of the agent.

Everything ShowDesk keeps on disk (reports, descriptions, e-mail addresses, token hashes,
screenshots) is for its user only: directories 0700, files 0600, set explicitly after
creation rather than trusted to the umask, and tightened on files an older version or
another tool left readable.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Final

PRIVATE_DIR_MODE: Final = 0o700
PRIVATE_FILE_MODE: Final = 0o600
# errno values that mean "no room": the file system is full or the user's quota is spent
# (Windows has no EDQUOT).
STORAGE_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})

log = logging.getLogger(__name__)


RUNTIME_DIR_ENV: Final = "SHOWDESK_RUNTIME_DIR"


def runtime_dir() -> Path:
    """The per-user runtime directory (the local hand-over file): $SHOWDESK_RUNTIME_DIR, else the OS's.

    The server writes there and the clients read there, so both ask this one function.
    """
    override = os.environ.get(RUNTIME_DIR_ENV)
    if override:
        return Path(override)
    import warnings

    import platformdirs

    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR (root in a container, a service) platformdirs falls back to
        # /tmp/runtime-<uid>, which is private to the user, and warns on stderr: not the
        # person's business.
        warnings.simplefilter("ignore", UserWarning)
        return platformdirs.user_runtime_path("showdesk", appauthor=False)


def is_storage_full(exc: BaseException) -> bool:
    """Whether ``exc`` is an OSError saying the disk or quota is full."""
    return isinstance(exc, OSError) and exc.errno in STORAGE_FULL_ERRNOS


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new entry in ``directory`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = PRIVATE_FILE_MODE) -> None:
    """Write to a temporary name in the same directory, flush, fsync, rename.

    A crash leaves either the old file or the new one, never half of one. On failure
    (a full disk, say) the temporary file is removed and the error propagates.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        tmp_path = Path(tmp_name)
        tmp_path.chmod(mode)
        tmp_path.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp_name).unlink()
        raise
    fsync_dir(path.parent)


def fsync_file(path: Path) -> None:
    """Flush a file's data to the disk; the file was written and closed earlier."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def restrict_mode(path: Path, mode: int) -> bool:
    """Give an existing ``path`` exactly ``mode`` (permission bits) if it has any other; False if it is absent.

    A file owned by someone else cannot be changed: that is logged, not raised, so a
    data directory shared by an administrator keeps working (its parent is 0700 anyway).
    """
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if current != mode:
        try:
            path.chmod(mode)
        except PermissionError:
            log.warning("%s has mode %o and cannot be made %o (not its owner)", path, current, mode)
    return True


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) readable by this user only; new directories are made durable.

    ``path`` itself is made 0700 even when it already existed (an older version, or a
    ``--data`` directory made by hand with the usual 0755); parents that existed are left alone.
    """
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=PRIVATE_DIR_MODE)
        fsync_dir(directory.parent)
    restrict_mode(path, PRIVATE_DIR_MODE)


def create_private_file(path: Path) -> None:
    """Make sure ``path`` exists with mode 0600, whatever the umask; an existing file keeps its bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        if hasattr(os, "fchmod"):  # not on Windows, where the mode bits mean little
            os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
