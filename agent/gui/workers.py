"""Slow work off the GUI thread: run a function on a worker thread, get its result back as a signal.

The relay object lives in the GUI thread, so its signals arrive there (queued) whatever thread
emits them; no window waits for encoding, system information, a connection check or an upload.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Relay(QObject):
    finished = Signal(int, bool, object)  # job number, succeeded, result or exception


class _Job(QRunnable):
    def __init__(self, function: Callable[[], Any], relay: _Relay, number: int) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._function = function
        self._relay = relay
        self._number = number

    def run(self) -> None:
        try:
            result = self._function()
        except Exception as exc:  # the caller decides what a failure means
            log.debug("background job failed", exc_info=True)
            self._relay.finished.emit(self._number, False, exc)
        else:
            self._relay.finished.emit(self._number, True, result)


class BackgroundRunner(QObject):
    """Starts jobs on a thread pool and hands each result to its callback on the GUI thread.

    One relay serves every job and lives as long as the runner: a relay deleted as soon as its
    result arrived could be destroyed while the worker thread was still returning from the
    emit (a crash in ``~QObject``, now and then). The pool is created first, so it is destroyed
    first, and it waits for its jobs: the relay outlives every emit.
    """

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._finished)
        self._numbers = itertools.count()
        self._waiting: dict[int, tuple[Callable[[Any], None], Callable[[Exception], None] | None]] = {}

    def run(
        self,
        function: Callable[[], Any],
        on_result: Callable[[Any], None],
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        number = next(self._numbers)
        self._waiting[number] = (on_result, on_error)
        self._pool.start(_Job(function, self._relay, number))

    def _finished(self, number: int, succeeded: bool, outcome: object) -> None:
        on_result, on_error = self._waiting.pop(number)
        if succeeded:
            on_result(outcome)
        elif on_error is not None and isinstance(outcome, Exception):
            on_error(outcome)
        else:
            log.error("background job failed: %s", outcome)

    @property
    def busy(self) -> bool:
        return bool(self._waiting)

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Block until every started job has finished (shutdown, tests)."""
        return self._pool.waitForDone(timeout_ms)
