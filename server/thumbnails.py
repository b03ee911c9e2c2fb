"""Thumbnails of stored images, made outside the server process and kept beside the blobs.

The server decodes no image (an upload is walked, never decoded, here: see server/images.py), so
thumbnails are made by a bounded child process, ``python -m server.thumbnail_worker``: started
lazily, one at a time, with RLIMIT_AS and RLIMIT_CPU set in the child, and each image bounded in
wall-clock time from here as well. A file that blows the child up kills only the child; it is
logged once and that image simply has no thumbnail (the page shows the full image).

A thumbnail is ``<data>/thumbs/ab/<sha256>-480.webp``, keyed by the source's digest (no database
change; the same screenshot sent twice is shrunk once), written atomically by the child.

Work is asked for in two ways, and the page never waits for the child:

* ``NewImages`` follows the store's timeline, woken by its change listener after every commit
  that adds events: a new report (``created``) or a person's answer (``answer``) has its images
  queued at once, so the thumbnails are usually made (about 0.3 s a 4K shot) before the person has
  scanned the QR code or opened the mail;
* a page rendering asks (``want``) for any image it finds without one (tickets from before the
  server started, a failure forgotten): it shows the full image meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import selectors
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from agent.fsutil import make_private_dir
from agent.schema import IMAGE_MEDIA_TYPES
from server.blobs import BlobBackend, BlobStore
from server.store import NotFoundError, Store

log = logging.getLogger("showdesk.server")

THUMBNAIL_SIZE: Final = 480  # px, the longest side
THUMBNAIL_QUALITY: Final = 75  # WebP quality
# The child's address space: enough for the largest image the header checks let through
# (50 Mpx × 4 bytes, and a reduced copy), far from what a bomb would need.
DEFAULT_MEMORY_MB: Final = 1024
# CPU seconds per image (the child's soft RLIMIT_CPU is moved per image) and wall-clock seconds
# per image, waited for here (a child stuck in I/O or asleep uses no CPU).
DEFAULT_CPU_SECONDS: Final = 10
DEFAULT_WALL_SECONDS: Final = 30.0
# A child is replaced after this many images: its hard CPU limit is spent over its life.
JOBS_PER_CHILD: Final = 100
# Images waiting; beyond, new wishes are dropped (asked again on the next page view).
MAX_PENDING: Final = 1000
# The child's own failures are remembered for this long (the page asks again at each view).
FAILURE_MEMORY_SECONDS: Final = 24 * 3600.0
_SHA256_RE: Final = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ThumbnailLimits:
    memory_mb: int = DEFAULT_MEMORY_MB
    cpu_seconds: int = DEFAULT_CPU_SECONDS
    wall_seconds: float = DEFAULT_WALL_SECONDS
    max_pixels: int = 50_000_000


class _Child:
    """One worker process and its pipes."""

    def __init__(self, limits: ThumbnailLimits) -> None:
        hard_cpu = limits.cpu_seconds * JOBS_PER_CHILD + 5
        command = [
            sys.executable,
            "-m",
            "server.thumbnail_worker",
            "--memory-mb",
            str(limits.memory_mb),
            "--cpu-seconds",
            str(hard_cpu),
        ]
        # The project's root, so ``-m server.thumbnail_worker`` finds the package however the server was started.
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
            close_fds=True,
        )
        self.jobs = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def run(self, job: dict[str, object], wall_seconds: float) -> dict[str, object]:
        """Send one job and wait for its answer; a dead or slow child raises ChildFailedError."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        self.jobs += 1
        try:
            stdin.write(json.dumps(job) + "\n")
            stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise ChildFailedError(self._death("could not take the job")) from exc
        line = _read_line(stdout, wall_seconds)
        if line is None:
            self.kill()
            raise ChildFailedError(f"took longer than {wall_seconds:g} s, killed")
        if not line:
            raise ChildFailedError(self._death("ended"))
        answer = json.loads(line)
        if not isinstance(answer, dict):
            raise ChildFailedError("answered nonsense")
        return answer

    def _death(self, what: str) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        code = self.process.returncode
        if code is not None and code < 0:
            return f"{what}: killed by signal {-code}"
        return f"{what}: exit status {code}"

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def close(self) -> None:
        """End of input ends the child; a stuck one is killed."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()


class ChildFailedError(Exception):
    """The worker died, hung or answered nonsense."""


def _read_line(stream: IO[str], timeout: float) -> str | None:
    """One line within ``timeout`` seconds; None on timeout, "" at end of file."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            return None
    # The child writes each answer as one whole line and flushes: readline will not block long.
    return stream.readline()


def thumbnail_path(data_dir: Path, sha256: str) -> Path:
    """Where the thumbnail of the blob ``sha256`` lives (it may not exist yet)."""
    if not _SHA256_RE.match(sha256):
        raise ValueError(f"not a sha256 digest: {sha256!r}")
    return data_dir / "thumbs" / sha256[:2] / f"{sha256}-{THUMBNAIL_SIZE}.webp"


class Thumbnailer:
    """Makes thumbnails on one background thread through one bounded child at a time."""

    def __init__(self, data_dir: Path, limits: ThumbnailLimits | None = None) -> None:
        self.data_dir = data_dir
        self.root = data_dir / "thumbs"
        self.limits = limits or ThumbnailLimits()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: deque[tuple[str, Path]] = deque()
        self._queued: set[str] = set()
        self._failed: dict[str, float] = {}
        self._closing = False
        self._thread: threading.Thread | None = None
        self._child: _Child | None = None
        self.made = 0

    def path_for(self, sha256: str) -> Path:
        return thumbnail_path(self.data_dir, sha256)

    def existing(self, sha256: str) -> Path | None:
        path = self.path_for(sha256)
        return path if path.is_file() else None

    def want(self, sha256: str, source: Path) -> None:
        """Ask for the thumbnail of ``source`` (stored under ``sha256``) in the background; returns at once."""
        with self._wake:
            if self._closing or sha256 in self._queued or len(self._pending) >= MAX_PENDING:
                return
            failed_at = self._failed.get(sha256)
            if failed_at is not None and time.monotonic() - failed_at < FAILURE_MEMORY_SECONDS:
                return
            self._queued.add(sha256)
            self._pending.append((sha256, source))
            if self._thread is None:
                # Started lazily: a server whose pages nobody opens runs no child and no thread.
                self._thread = threading.Thread(target=self._run, name="thumbnails", daemon=True)
                self._thread.start()
            self._wake.notify()

    def failed(self, sha256: str) -> bool:
        """Whether the child failed on this image lately (it is then not tried again for a while)."""
        with self._wake:
            return sha256 in self._failed

    @property
    def child_pid(self) -> int | None:
        child = self._child
        return child.pid if child is not None and child.process.poll() is None else None

    def close(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            # A job in hand is bounded by the wall-clock limit; waiting that long at shutdown is not worth it.
            thread.join(timeout=2.0)
        child = self._child
        if child is not None:
            child.kill()

    # ------------------------------------------------------------ the thread
    def _run(self) -> None:
        try:
            while True:
                with self._wake:
                    while not self._pending and not self._closing:
                        self._wake.wait()
                    if self._closing:
                        return
                    sha256, source = self._pending.popleft()
                try:
                    self._make(sha256, source)
                finally:
                    with self._wake:
                        self._queued.discard(sha256)
        finally:
            child, self._child = self._child, None
            if child is not None:
                child.close()

    def _make(self, sha256: str, source: Path) -> None:
        target = self.path_for(sha256)
        if target.is_file() or not source.is_file():
            return
        make_private_dir(self.root)
        make_private_dir(target.parent)
        child = self._child
        if child is None or child.process.poll() is not None or child.jobs >= JOBS_PER_CHILD:
            if child is not None:
                child.close()
            child = self._child = _Child(self.limits)
        job: dict[str, object] = {
            "source": str(source),
            "target": str(target),
            "size": THUMBNAIL_SIZE,
            "quality": THUMBNAIL_QUALITY,
            "max_pixels": self.limits.max_pixels,
            "cpu_seconds": self.limits.cpu_seconds,
        }
        try:
            answer = child.run(job, self.limits.wall_seconds)
        except ChildFailedError as exc:
            self._child = None
            child.close()
            self._failed_once(sha256, f"the thumbnail worker {exc}")
            return
        if answer.get("ok") is True:
            self.made += 1
            return
        self._failed_once(sha256, str(answer.get("error", "failed")))

    def _failed_once(self, sha256: str, reason: str) -> None:
        """Logged once per image: the page keeps asking at every view, and is ignored for a day."""
        with self._wake:
            if len(self._failed) >= MAX_PENDING * 10:
                self._failed.clear()  # bounded: forgetting only means trying those once more
            self._failed[sha256] = time.monotonic()
        log.warning("no thumbnail for blob %s: %s", sha256[:12], reason)


class NewImages:
    """Queues the images of new reports and answers for thumbnails, following the store's timeline."""

    # The timeline kinds that bring images the requester's page shows.
    KINDS: Final = frozenset({"created", "answer"})
    ROLES: Final = frozenset({"step", "answer"})

    def __init__(self, store: Store, blobs: BlobBackend, thumbnailer: Thumbnailer) -> None:
        self.store = store
        self.blobs = blobs
        self.thumbnailer = thumbnailer
        self._wake = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._cursor = 0

    def wake(self) -> None:
        """The store's change listener: called on the committing thread, so it only sets a flag."""
        self._wake.set()

    def start(self) -> None:
        # From now on: the history gets its thumbnails when its pages are viewed.
        self._cursor = self.store.newest_change_seq()
        self._thread = threading.Thread(target=self._run, name="thumbnail-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._closing = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while True:
            # A commit by another process (the command line) wakes nobody here: look now and then.
            self._wake.wait(timeout=30.0)
            self._wake.clear()
            if self._closing:
                return
            try:
                self._catch_up()
            except Exception:
                # Thumbnails are a nicety: a failure here must not end the thread, nor the server.
                log.exception("thumbnails: reading new images failed")

    def _catch_up(self) -> None:
        for _round in range(100):  # bounded; the next wake continues
            changes, cursor = self.store.changes_after(self._cursor, limit=500)
            if not changes:
                return
            self._cursor = cursor
            if not isinstance(self.blobs, BlobStore):
                continue  # files in an object store get no thumbnails (see RequesterPages._preview)
            for ticket_id in dict.fromkeys(c.ticket_id for c in changes if c.kind in self.KINDS):
                try:
                    _ticket, files, _events = self.store.ticket_detail(ticket_id, include_internal=False)
                except NotFoundError:
                    continue  # deleted by retention meanwhile
                for file in files:
                    if file.role in self.ROLES and file.media_type in IMAGE_MEDIA_TYPES:
                        self.thumbnailer.want(file.sha256, self.blobs.path_for(file.sha256))


__all__ = ["THUMBNAIL_SIZE", "NewImages", "ThumbnailLimits", "Thumbnailer", "thumbnail_path"]
