"""Badge and barcode readers type like a keyboard and end with Enter: recognise a fast burst as a scan.

A person types a few characters a second; a reader types a whole number in a few
milliseconds per key. ``BurstDetector`` is the rule, with time passed in, so it is tested
without a clock; ``BadgeScanFilter`` feeds it the application's key presses.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QPlainTextEdit, QWidget


class BurstDetector:
    """Characters each within ``max_interval_ms`` of the previous, at least ``min_length``, then Enter."""

    def __init__(self, max_interval_ms: int = 50, min_length: int = 4) -> None:
        self.max_interval_ms = max_interval_ms
        self.min_length = min_length
        self._chars: list[str] = []
        self._last_ms: float | None = None

    def key(self, char: str, at_ms: float) -> None:
        if self._last_ms is not None and at_ms - self._last_ms > self.max_interval_ms:
            self._chars = []
        self._chars.append(char)
        self._last_ms = at_ms

    def enter(self, at_ms: float) -> str | None:
        """The scanned text if the keys before this Enter were a reader's burst, else None."""
        fast = self._last_ms is not None and at_ms - self._last_ms <= self.max_interval_ms
        scanned = "".join(self._chars) if fast and len(self._chars) >= self.min_length else None
        self.clear()
        return scanned

    def clear(self) -> None:
        self._chars = []
        self._last_ms = None


class BadgeScanFilter(QObject):
    """Watches key presses while installed; on a burst, takes the typed text back out and emits it."""

    scanned = Signal(str)

    def __init__(
        self,
        max_interval_ms: int,
        min_length: int,
        clock_ms: Callable[[], float] | None = None,
        scope: QWidget | None = None,
    ) -> None:
        super().__init__()
        self.scope = scope  # only keys typed into this widget (the Who screen) count
        self.detector = BurstDetector(max_interval_ms, min_length)
        self.clock_ms = clock_ms or (lambda: time.monotonic() * 1000.0)
        self._installed = False

    def install(self) -> None:
        app = QApplication.instance()
        if app is not None and not self._installed:
            self.detector.clear()
            app.installEventFilter(self)
            self._installed = True

    def uninstall(self) -> None:
        app = QApplication.instance()
        if app is not None and self._installed:
            app.removeEventFilter(self)
            self._installed = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        # Each key press reaches the filter once per object it travels through; count it at
        # the widget that has focus only.
        if event.type() != QEvent.Type.KeyPress:
            return False
        focus = QApplication.focusWidget()
        at_target = watched is focus if focus is not None else isinstance(watched, QWidget) and watched.isWindow()
        if not at_target:
            return False
        if self.scope is not None and focus is not None and not self.scope.isAncestorOf(focus):
            return False  # typed somewhere else (the administrator's PIN pad)
        assert isinstance(event, QKeyEvent)
        now = self.clock_ms()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            badge = self.detector.enter(now)
            if badge is None:
                return False
            self._take_back(watched, badge)
            self.scanned.emit(badge)
            return True
        text = event.text()
        if text and text.isprintable():
            self.detector.key(text, now)
        return False

    @staticmethod
    def _take_back(widget: QObject, burst: str) -> None:
        """The reader typed into whatever field had focus; remove what it typed there."""
        if isinstance(widget, QLineEdit) and widget.text().endswith(burst):
            widget.setText(widget.text()[: -len(burst)])
        elif isinstance(widget, QPlainTextEdit) and widget.toPlainText().endswith(burst):
            widget.setPlainText(widget.toPlainText()[: -len(burst)])
