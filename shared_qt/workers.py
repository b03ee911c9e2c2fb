"""Slow work off the GUI thread: run a function on a worker thread, get its result back as a signal.

The relay object lives in the GUI thread, so its signals arrive there (queued) whatever thread
emits them; no window waits for encoding, system information, a connection check or an upload.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

Result = TypeVar("Result")

_lowered = threading.local()


def lower_thread_priority(niceness: int) -> None:
    """Let the GUI thread win the processor over the calling worker thread (once per thread).

    Parsing pages and decoding pictures can keep both cores of a small machine busy; the
    window must still paint on time. Linux and macOS; elsewhere (Windows) nothing changes.
    """
    if niceness <= 0 or getattr(_lowered, "done", False):
        return
    _lowered.done = True
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        with contextlib.suppress(OSError):
            current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(current + niceness, 19))


class _Relay(QObject):
    finished = Signal(int, bool, object)  # job number, succeeded, result or exception


class _Job(QRunnable):
    def __init__(self, function: Callable[[], Any], relay: _Relay, number: int, niceness: int) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._function = function
        self._relay = relay
        self._number = number
        self._niceness = niceness

    def run(self) -> None:
        lower_thread_priority(self._niceness)
        try:
            result = self._function()
        except Exception as exc:  # the caller decides what a failure means
            log.debug("background job failed", exc_info=True)
            self._relay.finished.emit(self._number, False, exc)
        else:
            self._relay.finished.emit(self._number, True, result)


class PendingCallbacks:
    """The callbacks of the jobs under way, by job number, for runners whose results come back
    as one signal (job number, succeeded, result or exception) on the GUI thread.

    After ``close`` every outcome is dropped: the window is closing and nobody is listening.
    """

    def __init__(self) -> None:
        self._numbers = itertools.count()
        self._waiting: dict[int, tuple[Callable[[Any], None], Callable[[Exception], None] | None]] = {}
        self.closed = False

    def add(self, on_result: Callable[[Result], None], on_error: Callable[[Exception], None] | None) -> int:
        """The number the job's outcome will carry."""
        number = next(self._numbers)
        self._waiting[number] = (on_result, on_error)
        return number

    def deliver(self, number: int, succeeded: bool, outcome: object) -> None:
        on_result, on_error = self._waiting.pop(number)
        if self.closed:
            return
        if succeeded:
            on_result(outcome)
        elif on_error is not None and isinstance(outcome, Exception):
            on_error(outcome)
        else:
            log.error("background job failed: %s", outcome)

    def close(self) -> None:
        self.closed = True

    def __bool__(self) -> bool:
        return bool(self._waiting)


class BackgroundRunner(QObject):
    """Starts jobs on a thread pool and hands each result to its callback on the GUI thread.

    One relay serves every job and lives as long as the runner: a relay deleted as soon as its
    result arrived could be destroyed while the worker thread was still returning from the
    emit (a crash in ``~QObject``, now and then). The pool is created first, so it is destroyed
    first, and it waits for its jobs: the relay outlives every emit.

    ``niceness`` > 0 lowers the workers' scheduling priority by that much, for windows whose
    background work (decoding, parsing) could otherwise starve painting on a small machine.
    """

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 2, niceness: int = 0) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relay = _Relay(self)
        self._callbacks = PendingCallbacks()
        self._relay.finished.connect(self._finished)
        self._niceness = niceness

    def run(
        self,
        function: Callable[[], Result],
        on_result: Callable[[Result], None],
        on_error: Callable[[Exception], None] | None = None,
        *,
        priority: int = 0,
    ) -> None:
        """Run ``function`` on a worker; jobs of higher ``priority`` start first. Ignored after shutdown.

        Generic over the job's result, so mypy checks that ``on_result`` takes what ``function``
        returns (the shape of a typed query operation: one type from the job to its callback).
        """
        if self._callbacks.closed:
            return
        number = self._callbacks.add(on_result, on_error)
        self._pool.start(_Job(function, self._relay, number, self._niceness), priority)

    def _finished(self, number: int, succeeded: bool, outcome: object) -> None:
        # A slot of this object, not the registry's method: a QObject's slot is what makes Qt
        # queue the call into the GUI thread (a plain callable could run on the worker).
        self._callbacks.deliver(number, succeeded, outcome)

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Block until every started job has finished (shutdown, tests)."""
        return self._pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Drop jobs not started, wait (bounded) for running ones; their results are dropped."""
        self._callbacks.close()
        self._pool.clear()
        return self._pool.waitForDone(timeout_ms)
