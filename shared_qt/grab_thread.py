"""One long-lived capture thread that owns one capturer, for apps that grab the screen.

Capture handles are bound to the thread that opened them (an X connection, a DXGI duplication),
and opening one costs far more than a grab: so the capturer is opened once, on a thread of its
own, on the first job, and every later job runs on that same thread with that same capturer.
Encoding runs there too, so the GUI thread only ever sees the result.

The laptop app's capture service and the kiosk's "show me" both capture through it; what a job
does with the capturer (one monitor, all of them, the whole desktop) is theirs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, Signal, Slot

from shared_qt.workers import PendingCallbacks

log = logging.getLogger(__name__)

Tool = TypeVar("Tool")
Result = TypeVar("Result")


class _Owner(QObject):
    """Lives on the capture thread with the one tool (a ``Capturer``, or a grab function around one)."""

    finished = Signal(int, bool, object)  # job number, succeeded, result or exception

    def __init__(self, open_tool: Callable[[], Any], close_tool: Callable[[Any], None] | None) -> None:
        super().__init__()
        self._open_tool = open_tool
        self._close_tool = close_tool
        self._tool: Any = None
        self._opened = False

    @Slot(int, object)
    def perform(self, number: int, job: Callable[[Any], object]) -> None:
        try:
            if not self._opened:
                self._tool = self._open_tool()
                self._opened = True
            result = job(self._tool)
        except Exception as exc:  # the caller decides what a failed capture means to the person
            log.debug("capture job failed", exc_info=True)
            self.finished.emit(number, False, exc)
            return
        self.finished.emit(number, True, result)

    @Slot()
    def close(self) -> None:
        if self._opened and self._close_tool is not None:
            try:
                self._close_tool(self._tool)
            except Exception:  # closing at exit: a handle the system already dropped is no news
                log.debug("closing the capturer failed", exc_info=True)
        self._tool, self._opened = None, False


class GrabThread(QObject, Generic[Tool]):
    """Runs capture jobs one after another on one thread that owns the tool ``open_tool`` makes.

    ``open_tool`` runs on the capture thread at the first job; ``close_tool`` (if given) there at
    ``shutdown``. ``run(job, on_result, on_error)``: ``job(tool)`` runs on the capture thread and
    its result or exception comes back to the callback on the GUI thread. The thread starts at the
    first job, so an app that never captures (the portal, no allowed apps) never starts it.
    """

    _perform = Signal(int, object)  # to the owner, on the capture thread

    def __init__(
        self,
        open_tool: Callable[[], Tool],
        *,
        close_tool: Callable[[Tool], None] | None = None,
        thread_name: str = "showdesk-capture",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._thread = QThread(self)
        self._thread.setObjectName(thread_name)
        self._owner = _Owner(open_tool, close_tool)
        self._owner.moveToThread(self._thread)
        self._perform.connect(self._owner.perform)
        self._callbacks = PendingCallbacks()
        self._owner.finished.connect(self._finished)

    def run(
        self,
        job: Callable[[Tool], Result],
        on_result: Callable[[Result], None],
        on_error: Callable[[Exception], None],
    ) -> None:
        """Queue ``job`` behind the ones already waiting; ignored after ``shutdown``."""
        if self._callbacks.closed:
            return
        if not self._thread.isRunning():
            self._thread.start()
        self._perform.emit(self._callbacks.add(on_result, on_error), job)

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def _finished(self, number: int, succeeded: bool, outcome: object) -> None:
        # A slot of this object (in the GUI thread), so Qt queues the owner's emit into it.
        self._callbacks.deliver(number, succeeded, outcome)

    def let_go(self) -> None:
        """Close the tool on its thread after the jobs already queued, without waiting; the next
        job opens it again. For an app that captures in bursts and should keep nothing between
        them (the kiosk after a visit's "show me")."""
        if self._thread.isRunning():
            QMetaObject.invokeMethod(self._owner, "close", Qt.ConnectionType.QueuedConnection)

    def shutdown(self) -> None:
        """Close the tool on its thread (after the job under way), then end the thread."""
        self._callbacks.close()
        if self._thread.isRunning():
            QMetaObject.invokeMethod(self._owner, "close", Qt.ConnectionType.BlockingQueuedConnection)
            self._thread.quit()
            self._thread.wait()
