"""The administrator's way out: a hidden gesture, then a PIN checked against the machine-wide hash.

Gesture: five taps within four seconds in the top-left corner of the screen, or
Ctrl+Alt+Shift+Q on a keyboard. The PIN is typed on an on-screen keypad (or the keys);
every five wrong PINs lock the pad for twice as long as the time before, up to a day,
across restarts (``kiosk.pin_lockout``); the pad says until when.

Under the pad, the administrator sees what waits in the kiosk's outbox and why (a network
that wants a sign-in first, a refusal), read off the GUI thread and refreshed while the pad
is open. The pad is reachable without the PIN, so it names each report only by the receipt
code its person was given: no subject, no name.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QDateTime, QEvent, QLocale, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QHideEvent, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from agent.outbox.entries import EntryState, OutboxEntry
from kiosk.accessibility import set_field_error
from kiosk.pin_lockout import PinLockout, default_state_path
from kiosk.settings import verify_pin
from kiosk.widgets import fill, make_button, make_label, set_role, set_text
from shared_qt.workers import BackgroundRunner

if TYPE_CHECKING:
    from agent.outbox import Outbox

log = logging.getLogger(__name__)

CORNER_PX = 120
TAPS = 5
TAP_WINDOW_S = 4.0
# The unlock timer re-reads the clock at least this often, so a clock that jumps (or a
# lockout longer than a timer can wait) still ends on time.
_UNLOCK_RECHECK_MS = 60_000
# The outbox under the pad is read again this often while the pad is open: a report the
# network lets through shows as gone within a few seconds, at the cost of one directory scan.
OUTBOX_REFRESH_MS = 3000
OUTBOX_ROWS = 6  # the oldest ones; the rest are counted


def receipt_code(entry_id: str) -> str:
    """The code the person was given for a report that waits (``kiosk.session.Outcome.receipt_code``)."""
    try:
        return uuid.UUID(entry_id).hex[:8].upper()
    except ValueError:
        return entry_id[:8]


def outbox_state_text(entry: OutboxEntry) -> str:
    """A queued report's state and the reason it waits, for the administrator."""
    reason = entry.last_error or ""
    if entry.sending:
        return QCoreApplication.translate("AdminOutbox", "sending now")
    if entry.waits_for_network:
        return fill(QCoreApplication.translate("AdminOutbox", "waits for the network: %1"), reason)
    if entry.state is EntryState.DEAD:
        return fill(QCoreApplication.translate("AdminOutbox", "refused by the help desk, kept: %1"), reason)
    if entry.state is EntryState.ATTENTION:
        return fill(QCoreApplication.translate("AdminOutbox", "needs attention, no longer sent on its own: %1"), reason)
    if entry.state is EntryState.PAUSED:
        return fill(QCoreApplication.translate("AdminOutbox", "paused until the settings are fixed: %1"), reason)
    if reason:
        return fill(QCoreApplication.translate("AdminOutbox", "waiting to be sent again: %1"), reason)
    return QCoreApplication.translate("AdminOutbox", "waiting to be sent")


class OutboxPanel(QFrame):
    """What waits in the kiosk's outbox: one line per report (receipt code, state, reason)."""

    def __init__(self, outbox: Outbox, runner: BackgroundRunner) -> None:
        super().__init__()
        set_role(self, "card")
        self.setObjectName("admin-outbox")
        self.outbox = outbox
        self.runner = runner
        self.entries: list[OutboxEntry] | None = None  # None until first read
        self.reads = 0  # completed reads, for whoever waits on a fresh one
        self._reading = False
        self._timer = QTimer(self)
        self._timer.setInterval(OUTBOX_REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(48, 24, 48, 24)
        layout.setSpacing(8)
        self.heading = make_label("title")
        self.heading.setObjectName("admin-outbox-heading")
        layout.addWidget(self.heading)
        self.rows: list[QLabel] = []
        for index in range(OUTBOX_ROWS):
            row = make_label("hint")
            row.setObjectName(f"admin-outbox-{index}")
            row.hide()
            layout.addWidget(row)
            self.rows.append(row)
        self.more = make_label("hint")
        self.more.setObjectName("admin-outbox-more")
        layout.addWidget(self.more)
        self.retranslate()

    def start(self) -> None:
        self.refresh()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def following(self) -> bool:
        """Whether the outbox is read again every few seconds (while the screen is open)."""
        return self._timer.isActive()

    def refresh(self) -> None:
        if self._reading:
            return
        self._reading = True
        # A directory scan with a lock probe per report: never on the GUI thread.
        self.runner.run(self.outbox.list, self._read, self._read_failed)

    def _read(self, entries: Sequence[OutboxEntry]) -> None:
        self._reading = False
        self.entries = list(entries)
        self.reads += 1
        self.retranslate()

    def _read_failed(self, exc: Exception) -> None:
        self._reading = False
        self.reads += 1
        log.warning("the outbox could not be read for the admin screen: %s", exc)
        self.entries = None
        self.retranslate()

    def lines(self) -> list[str]:
        """The lines shown, one per report (the oldest first)."""
        return [row.text() for row in self.rows if not row.isHidden()]

    def retranslate(self) -> None:
        entries = self.entries
        if entries is None:
            self.heading.setText(self.tr("Reports waiting to be sent"))
        elif not entries:
            self.heading.setText(self.tr("Nothing is waiting to be sent."))
        else:
            self.heading.setText(self.tr("Reports waiting to be sent: %n", "", len(entries)))
        shown = entries or []
        for index, row in enumerate(self.rows):
            if index < len(shown):
                entry = shown[index]
                row.setText(fill(self.tr("Receipt %1: %2"), receipt_code(entry.id), outbox_state_text(entry)))
                row.show()
            else:
                row.clear()
                row.hide()
        more = len(shown) - OUTBOX_ROWS
        self.more.setText(self.tr("… and %n more.", "", more) if more > 0 else "")
        self.more.setVisible(more > 0)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


def in_admin_corner(at: QPoint) -> bool:
    """Whether a press at ``at`` (window coordinates) is in the corner of the exit gesture."""
    return 0 <= at.x() <= CORNER_PX and 0 <= at.y() <= CORNER_PX


class CornerTaps:
    """Counts taps in the corner; ``tap`` returns True when the gesture is complete."""

    def __init__(self, taps: int = TAPS, window_s: float = TAP_WINDOW_S) -> None:
        self.taps = taps
        self.window_s = window_s
        self._times: list[float] = []

    def tap(self, at: QPoint, now: float) -> bool:
        if not in_admin_corner(at):
            self._times = []
            return False
        self._times = [t for t in self._times if now - t <= self.window_s] + [now]
        if len(self._times) >= self.taps:
            self._times = []
            return True
        return False


class AdminPinOverlay(QWidget):
    """The PIN pad over the kiosk; ``unlocked`` when the PIN matches.

    ``lockout`` keeps count of wrong PINs; without one the pad uses the machine's state file
    with ``clock`` (wall-clock epoch seconds).
    """

    unlocked = Signal()

    def __init__(
        self,
        parent: QWidget,
        pin_hash: str,
        runner: BackgroundRunner,
        clock: Callable[[], float] = time.time,
        lockout: PinLockout | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("admin-overlay")
        self.pin_hash = pin_hash
        self.runner = runner
        self._clock = clock
        self.lockout = lockout if lockout is not None else PinLockout(default_state_path(), clock=clock)
        self.checking = False
        self.locked = False
        self._unlock_timer = QTimer(self)
        self._unlock_timer.setSingleShot(True)
        self._unlock_timer.timeout.connect(self.refresh_lock)
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
        self.outbox_panel: OutboxPanel | None = None
        if outbox is not None:
            self.outbox_panel = OutboxPanel(outbox, runner)
            outbox_row = QHBoxLayout()
            outbox_row.addStretch(1)
            outbox_row.addWidget(self.outbox_panel)
            outbox_row.addStretch(1)
            outer.addSpacing(24)
            outer.addLayout(outbox_row)
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
        if self.locked:
            self.refresh_lock()

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
        if self.pin_hash:
            self.refresh_lock()
        self.pin_edit.setFocus()

    def close_pad(self) -> None:
        self.pin_edit.clear()
        self.hide()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        # Read only while someone looks: the outbox is not scanned for an empty room.
        if self.outbox_panel is not None:
            self.outbox_panel.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        if self.outbox_panel is not None:
            self.outbox_panel.stop()
        super().hideEvent(event)

    def refresh_lock(self) -> None:
        """Show the lockout (keys greyed, until when) or, once it is over, give the keys back."""
        until = self.lockout.locked_until() if self.pin_hash else None
        was_locked, self.locked = self.locked, until is not None
        for widget in (self.pin_edit, self.clear_button, self.ok_button, *self.digit_buttons):
            widget.setEnabled(not self.locked)
        if until is None:
            self._unlock_timer.stop()
            if was_locked:
                self._show_problem("")
                self.pin_edit.setFocus()
            return
        self.pin_edit.clear()
        self._show_problem(self._lockout_text(until), say_it=not was_locked)
        wait_ms = math.ceil((until - self._clock()) * 1000)
        self._unlock_timer.start(max(1, min(wait_ms, _UNLOCK_RECHECK_MS)))

    def _lockout_text(self, until: float) -> str:
        # Rounded up to the minute: a person who comes back at the time shown finds it open.
        shown = QDateTime.fromSecsSinceEpoch(math.ceil(until / 60) * 60)
        today = QDateTime.fromSecsSinceEpoch(math.floor(self._clock())).date()
        locale = QLocale()
        at = locale.toString(shown.time(), QLocale.FormatType.ShortFormat)
        if shown.date() == today:
            return fill(self.tr("Too many wrong PINs. Try again at %1."), at)
        on = locale.toString(shown.date(), QLocale.FormatType.ShortFormat)
        return fill(self.tr("Too many wrong PINs. Try again on %1 at %2."), on, at)

    def check(self) -> None:
        if self.checking or not self.pin_hash:
            return
        if self.lockout.locked_until() is not None:
            self.refresh_lock()
            return
        pin, stored = self.pin_edit.text(), self.pin_hash
        self.pin_edit.clear()
        self.checking = True
        # The hash is deliberately slow; it is checked off the GUI thread.
        self.runner.run(lambda: verify_pin(pin, stored), self._checked, lambda _exc: self._checked(False))

    def _checked(self, ok: object) -> None:
        self.checking = False
        if ok is True:
            self.lockout.record_success()
            self.hide()
            self.unlocked.emit()
            return
        if self.lockout.record_failure() is not None:
            self.refresh_lock()
        else:
            self._show_problem(self.tr("Wrong PIN."))

    def _show_problem(self, text: str, *, say_it: bool = True) -> None:
        """Under the field, as the PIN field's accessible description, and said at once."""
        self.status.setText(text)
        set_field_error(self.pin_edit, text, say_it=say_it)

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
