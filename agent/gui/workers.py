"""Slow work off the GUI thread: run a function on a worker thread, get its result back as a signal.

The relay object lives in the GUI thread, so its signals arrive there (queued) whatever thread
emits them; no window waits for encoding, system information, a connection check or an upload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Relay(QObject):
    succeeded = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, function: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._function = function
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._function()
        except Exception as exc:  # the caller decides what a failure means
            log.debug("background job failed", exc_info=True)
            self._relay.failed.emit(exc)
        else:
            self._relay.succeeded.emit(result)


class BackgroundRunner(QObject):
    """Starts jobs on a thread pool and keeps their relays alive until each has reported back."""

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relays: set[_Relay] = set()

    def run(
        self,
        function: Callable[[], Any],
        on_result: Callable[[Any], None],
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        relay = _Relay(self)
        self._relays.add(relay)

        def finish_ok(result: object) -> None:
            self._relays.discard(relay)
            relay.deleteLater()
            on_result(result)

        def finish_error(error: object) -> None:
            self._relays.discard(relay)
            relay.deleteLater()
            if on_error is not None and isinstance(error, Exception):
                on_error(error)
            else:
                log.error("background job failed: %s", error)

        relay.succeeded.connect(finish_ok)
        relay.failed.connect(finish_error)
        self._pool.start(_Job(function, relay))

    @property
    def busy(self) -> bool:
        return bool(self._relays)

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Block until every started job has finished (shutdown, tests)."""
        return self._pool.waitForDone(timeout_ms)
