"""A system-information snapshot collected in a forked child process (Linux).

`showdesk capture` capturing itself is timed as a whole process. Collected on a side thread, the
snapshot's imports (psutil, the scrubber's patterns, the collectors) and its Python work compete
with the grab and the encoder for the interpreter lock; in a child forked before any thread or
X connection exists they run on the other core instead.

The parent sends the capture layer's monitor facts once it knows them (the ``displays`` group is
built from them, as the threaded path builds it), and reads the child's scrubbed snapshot as
JSON when it builds the bundle. Every way out is bounded: the child waits for the monitors and
collects within ``bound`` seconds and exits on its own when the parent's end of a pipe closes;
the parent waits at most until ``bound`` after the fork, then kills and reaps the child.
:meth:`ForkedSnapshot.result` gives None whenever the child did not deliver (the caller then
collects as it would have without the child), and :meth:`ForkedSnapshot.close` kills and reaps
it on any other way out.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

# What the child runs: it starts the collectors and returns the function that, given the
# monitors' facts, waits for them and gives the scrubbed snapshot.
SnapshotStarter = Callable[[], Callable[[Sequence[Mapping[str, object]]], Mapping[str, object]]]

# Beyond the collectors' own bound: the child's imports (psutil, the collectors, the scrubber)
# and its scrub, which the threaded path does not count in its bound either.
CHILD_GRACE_SECONDS: Final = 1.0
_READ_CHUNK: Final = 1 << 16


def start(starter: SnapshotStarter, bound: float, *, check_threads: bool = True) -> ForkedSnapshot | None:
    """Fork a child that runs ``starter`` and answers within ``bound`` seconds; None when a
    child cannot be forked here (another platform, a thread running, fork failing)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return None
    if check_threads and threading.active_count() != 1:
        return None
    deadline = time.monotonic() + bound
    try:
        to_child_read, to_child_write = os.pipe()
    except OSError:
        return None
    try:
        from_child_read, from_child_write = os.pipe()
    except OSError:
        os.close(to_child_read)
        os.close(to_child_write)
        return None
    try:
        pid = os.fork()
    except OSError:
        for fd in (to_child_read, to_child_write, from_child_read, from_child_write):
            os.close(fd)
        return None
    if pid == 0:  # pragma: no cover - the child's coverage is not collected; its tests look at its answer
        code = 1
        try:
            os.close(to_child_write)
            os.close(from_child_read)
            code = _child(starter, to_child_read, from_child_write, deadline)
        except BaseException:  # noqa: BLE001, S110 - the child's only answer is its exit status
            pass
        finally:
            os._exit(code)
    os.close(to_child_read)
    os.close(from_child_write)
    return ForkedSnapshot(pid, to_child_write, from_child_read, deadline)


def _child(starter: SnapshotStarter, monitors_fd: int, answer_fd: int, deadline: float) -> int:
    snapshot_for = starter()
    monitors = json.loads(_read_all(monitors_fd, deadline))
    if not isinstance(monitors, list):
        return 1
    data = json.dumps(dict(snapshot_for(monitors)), separators=(",", ":")).encode()
    view = memoryview(data)
    while view:
        written = os.write(answer_fd, view)
        view = view[written:]
    return 0


def _read_all(fd: int, deadline: float) -> bytes:
    """Everything from ``fd`` up to end of file; TimeoutError at ``deadline``."""
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the other end did not finish in time")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, _READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


class ForkedSnapshot:
    """The child collecting (see :func:`start`)."""

    def __init__(self, pid: int, monitors_fd: int, answer_fd: int, deadline: float) -> None:
        self.pid = pid
        self._monitors_fd: int | None = monitors_fd
        self._answer_fd: int | None = answer_fd
        self._deadline = deadline
        self._reaped = False

    def send_monitors(self, monitors: Sequence[Mapping[str, object]]) -> None:
        """Hand the capture layer's monitor facts to the child (once; a few hundred bytes, well
        within a pipe's buffer, so this does not block). A child gone already is noticed by
        :meth:`result`."""
        fd, self._monitors_fd = self._monitors_fd, None
        if fd is None:
            return
        try:
            os.write(fd, json.dumps([dict(m) for m in monitors], default=str).encode())
        except OSError:
            pass
        finally:
            os.close(fd)

    def result(self) -> dict[str, object] | None:
        """The child's snapshot, waited for at most until the bound; None when it failed, timed
        out or answered something that is not a snapshot. The child is reaped either way."""
        fd, self._answer_fd = self._answer_fd, None
        if fd is None or self._reaped:
            self.close()
            return None
        try:
            data = _read_all(fd, self._deadline)
        except (OSError, TimeoutError):
            data = None
        finally:
            os.close(fd)
        if data is None:
            self.close()
            return None
        status = self._reap(wait_until=self._deadline)
        if status != 0:
            self.close()
            return None
        try:
            snapshot = json.loads(data)
        except ValueError:
            return None
        return snapshot if isinstance(snapshot, dict) else None

    def close(self) -> None:
        """Kill the child if it still runs and reap it; idempotent."""
        for name in ("_monitors_fd", "_answer_fd"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                os.close(fd)
        if self._reaped:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self._reap(wait_until=None)

    def _reap(self, wait_until: float | None) -> int | None:
        """The child's exit status once it has exited (waiting until ``wait_until``, or for as
        long as it takes when None: only after SIGKILL); None if it still runs at the deadline."""
        if self._reaped:
            return None
        while True:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG if wait_until is not None else 0)
            except ChildProcessError:
                self._reaped = True
                return None
            if pid != 0:
                self._reaped = True
                return os.waitstatus_to_exitcode(status)
            assert wait_until is not None
            if time.monotonic() >= wait_until:
                return None
            # The child closed its end of the pipe, so it is exiting: a short poll, bounded.
            time.sleep(0.001)

    def __enter__(self) -> ForkedSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
