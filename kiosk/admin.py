"""The administrator's way out: a hidden gesture, then a PIN checked against the machine-wide hash.

Gesture: five taps within four seconds in the top-left corner of the screen, or
Ctrl+Alt+Shift+Q on a keyboard. The PIN is typed on an on-screen keypad (or the keys);
after five wrong PINs the pad locks for a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from agent.gui.workers import BackgroundRunner
from kiosk.settings import verify_pin
from kiosk.widgets import make_button, make_label, set_role, set_text

CORNER_PX = 120
TAPS = 5
TAP_WINDOW_S = 4.0
MAX_ATTEMPTS = 5
LOCKOUT_S = 60.0


class CornerTaps:
    """Counts taps in the corner; ``tap`` returns True when the gesture is complete."""

    def __init__(self, taps: int = TAPS, window_s: float = TAP_WINDOW_S) -> None:
        self.taps = taps
        self.window_s = window_s
        self._times: list[float] = []

    def tap(self, at: QPoint, now: float) -> bool:
        if at.x() > CORNER_PX or at.y() > CORNER_PX or at.x() < 0 or at.y() < 0:
            self._times = []
            return False
        self._times = [t for t in self._times if now - t <= self.window_s] + [now]
        if len(self._times) >= self.taps:
            self._times = []
            return True
        return False


class AdminPinOverlay(QWidget):
    """The PIN pad over the kiosk; ``unlocked`` when the PIN matches."""

    unlocked = Signal()

    def __init__(
        self,
        parent: QWidget,
        pin_hash: str,
        runner: BackgroundRunner,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("admin-overlay")
        self.pin_hash = pin_hash
        self.runner = runner
        self._clock = clock
        self.failures = 0
        self.locked_until = 0.0
        self.checking = False
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        card = QFrame()
        set_role(card, "card")
        layout = QVBoxLayout(card)
        layout.setContentsMargins(48, 32, 48, 32)
        layout.setSpacing(16)
        self.heading = make_label("title")
        layout.addWidget(self.heading)
        self.pin_edit = QLineEdit()
        self.pin_edit.setObjectName("admin-pin")
        self.pin_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin_edit.setMaxLength(32)
        self.pin_edit.returnPressed.connect(self.check)
        layout.addWidget(self.pin_edit)
        self.status = make_label("error")
        layout.addWidget(self.status)
        pad = QGridLayout()
        pad.setSpacing(12)
        self.digit_buttons: list[QPushButton] = []
        for index, digit in enumerate("123456789"):
            pad.addWidget(self._digit(digit), index // 3, index % 3)
        self.clear_button = make_button(object_name="admin-clear")
        self.clear_button.clicked.connect(self.pin_edit.clear)
        pad.addWidget(self.clear_button, 3, 0)
        pad.addWidget(self._digit("0"), 3, 1)
        self.ok_button = make_button("primary", object_name="admin-ok")
        self.ok_button.clicked.connect(self.check)
        pad.addWidget(self.ok_button, 3, 2)
        layout.addLayout(pad)
        self.cancel_button = make_button(object_name="admin-cancel")
        self.cancel_button.clicked.connect(self.close_pad)
        layout.addWidget(self.cancel_button)
        row.addWidget(card)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(1)
        self.retranslate()
        self.hide()

    def _digit(self, digit: str) -> QPushButton:
        button = make_button(object_name=f"admin-digit-{digit}")
        button.setText(digit)
        button.setAccessibleName(digit)
        button.setMinimumWidth(120)
        button.clicked.connect(lambda: self.pin_edit.insert(digit))
        self.digit_buttons.append(button)
        return button

    def retranslate(self) -> None:
        self.heading.setText(self.tr("Administrator PIN"))
        self.pin_edit.setAccessibleName(self.tr("Administrator PIN"))
        set_text(self.clear_button, self.tr("Clear"))
        set_text(self.ok_button, self.tr("OK"))
        set_text(self.cancel_button, self.tr("Cancel"))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def open_pad(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.pin_edit.clear()
        self.status.setText("" if self.pin_hash else self.tr("No administrator PIN is set on this kiosk."))
        self.show()
        self.raise_()
        self.pin_edit.setFocus()

    def close_pad(self) -> None:
        self.pin_edit.clear()
        self.hide()

    def check(self) -> None:
        if self.checking or not self.pin_hash:
            return
        now = self._clock()
        if now < self.locked_until:
            self.status.setText(self.tr("Too many wrong PINs. Try again in a minute."))
            return
        pin, stored = self.pin_edit.text(), self.pin_hash
        self.pin_edit.clear()
        self.checking = True
        # The hash is deliberately slow; it is checked off the GUI thread.
        self.runner.run(lambda: verify_pin(pin, stored), self._checked, lambda _exc: self._checked(False))

    def _checked(self, ok: object) -> None:
        self.checking = False
        if ok is True:
            self.failures = 0
            self.hide()
            self.unlocked.emit()
            return
        self.failures += 1
        if self.failures >= MAX_ATTEMPTS:
            self.failures = 0
            self.locked_until = self._clock() + LOCKOUT_S
            self.status.setText(self.tr("Too many wrong PINs. Try again in a minute."))
        else:
            self.status.setText(self.tr("Wrong PIN."))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0, 190))
        painter.end()
        super().paintEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Escape:
            self.close_pad()
        # Keys typed here never reach the screens underneath (Enter would start the flow).
        event.accept()


class CornerTapFilter(QObject):
    """Feeds presses anywhere in the kiosk window to ``CornerTaps``; ``gesture`` when complete.

    It watches the whole application because a press travels through several objects (the
    native window, the widget under the finger, its parents); each press counts once.
    """

    gesture = Signal()

    def __init__(self, window: QWidget, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(window)
        self._window = window
        self._taps = CornerTaps()
        self._clock = clock
        self._last: tuple[int, float, float] | None = None
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.MouseButtonPress or not isinstance(event, QMouseEvent):
            return False
        ours = (isinstance(watched, QWidget) and watched.window() is self._window) or (
            watched is self._window.windowHandle()
        )
        if not ours:
            return False
        position = event.globalPosition()
        key = (event.timestamp(), position.x(), position.y())
        if key == self._last:
            return False
        self._last = key
        if self._taps.tap(self._window.mapFromGlobal(position.toPoint()), self._clock()):
            self.gesture.emit()
        return False
