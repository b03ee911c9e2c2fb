"""Idle: after a time without input, a visible countdown; then the session is wiped.

``IdleWatcher`` sees every key, pointer and touch event of the application. It runs only
while a person is somewhere in the flow (the window arms and disarms it); while the
person works in an app the kiosk launched, their input does not reach the kiosk, so the
limit is stretched by ``handover_factor`` instead.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QVBoxLayout, QWidget

from kiosk.widgets import make_button, make_label, set_role, set_text

_INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.TabletPress,
    }
)


class IdleWatcher(QObject):
    countdown_started = Signal(int)  # seconds
    countdown_tick = Signal(int)  # seconds left
    countdown_cancelled = Signal()
    expired = Signal()

    def __init__(self, idle_seconds: float, countdown_seconds: float, handover_factor: float = 3.0) -> None:
        super().__init__()
        self.idle_seconds = idle_seconds
        self.countdown_seconds = countdown_seconds
        self.handover_factor = handover_factor
        self.handed_over = False
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.timeout.connect(self._start_countdown)
        self._final = QTimer(self)
        self._final.setSingleShot(True)
        self._final.timeout.connect(self._expire)
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)
        self.remaining = 0
        self.armed = False

    @property
    def counting_down(self) -> bool:
        return self._final.isActive()

    def arm(self) -> None:
        """Start watching (a person is in the flow)."""
        if not self.armed:
            app = QApplication.instance()
            if app is not None:
                app.installEventFilter(self)
            self.armed = True
        self.poke()

    def disarm(self) -> None:
        if self.armed:
            app = QApplication.instance()
            if app is not None:
                app.removeEventFilter(self)
            self.armed = False
        self._stop_countdown(notify=True)
        self._idle.stop()

    def set_handed_over(self, handed_over: bool) -> None:
        self.handed_over = handed_over
        if self.armed:
            self.poke()

    def poke(self) -> None:
        """Input happened: cancel a countdown and start the idle time again."""
        if not self.armed:
            return
        self._stop_countdown(notify=True)
        factor = self.handover_factor if self.handed_over else 1.0
        self._idle.start(max(1, int(self.idle_seconds * factor * 1000)))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in _INPUT_EVENTS and self.armed:
            self.poke()
        return False

    def _start_countdown(self) -> None:
        self.remaining = max(1, math.ceil(self.countdown_seconds))
        self._final.start(max(1, int(self.countdown_seconds * 1000)))
        self._ticker.start()
        self.countdown_started.emit(self.remaining)

    def _tick(self) -> None:
        self.remaining = max(0, self.remaining - 1)
        self.countdown_tick.emit(self.remaining)

    def _stop_countdown(self, *, notify: bool) -> None:
        if self._final.isActive():
            self._final.stop()
            self._ticker.stop()
            if notify:
                self.countdown_cancelled.emit()

    def _expire(self) -> None:
        self._ticker.stop()
        self._idle.stop()
        self.expired.emit()


class IdleOverlay(QWidget):
    """A dimmed cover over the whole window with the countdown and "I'm still here"."""

    still_here = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("idle-overlay")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, False)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        card = QFrame()
        set_role(card, "card")
        card.setMinimumWidth(900)
        layout = QVBoxLayout(card)
        layout.setContentsMargins(64, 48, 64, 48)
        layout.setSpacing(24)
        self.heading = make_label("hero")
        self.heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.heading)
        self.count_label = make_label("title")
        self.count_label.setObjectName("idle-countdown")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.count_label)
        self.button = make_button("primary", object_name="still-here")
        self.button.clicked.connect(self.still_here)
        layout.addWidget(self.button)
        row.addWidget(card)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(1)
        self.remaining = 0
        self.hide()

    def show_countdown(self, seconds: int) -> None:
        self.remaining = seconds
        self.retranslate()
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.show()
        self.raise_()
        self.button.setFocus()

    def set_remaining(self, seconds: int) -> None:
        self.remaining = seconds
        self.retranslate()

    def retranslate(self) -> None:
        self.heading.setText(self.tr("Are you still there?"))
        text = self.tr("Everything you entered will be cleared in %n second(s).", "", self.remaining)
        self.count_label.setText(text)
        self.count_label.setAccessibleName(text)
        set_text(self.button, self.tr("I'm still here"))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0, 190))
        painter.end()
        super().paintEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        self.still_here.emit()
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        # Any key means someone is there; none reaches the screen underneath.
        self.still_here.emit()
        event.accept()
