"""Idle: after a time without input, a visible countdown; then the session is wiped.

``IdleWatcher`` sees every key, pointer and touch event of the application. It runs only
while a person is somewhere in the flow (the window arms and disarms it). While the person
works in an app the kiosk launched, their input goes to that app, not to the kiosk: there
the watcher asks the X server how long the whole display has been idle (``XInputIdleProbe``,
the XScreenSaver extension) before it warns, and on every second of the countdown, so input
in the app counts like input in the kiosk. Only where the display cannot say (no X server,
no libXss) is the limit stretched by ``handover_factor`` instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import math
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QAccessible, QColor, QGuiApplication, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QVBoxLayout, QWidget

from kiosk.accessibility import announce, set_accessible_role
from kiosk.widgets import bring_to_front, make_button, make_label, set_role, set_text

log = logging.getLogger(__name__)

ActivityProbe = Callable[[], float | None]
"""Seconds since the last input anywhere on the display, or None when that cannot be known."""

# Input the display saw less than this before the last poke is the poke's own input.
_SAME_INPUT_S = 0.05

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


class _XScreenSaverInfo(ctypes.Structure):
    _fields_ = (
        ("window", ctypes.c_ulong),
        ("state", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("til_or_since", ctypes.c_ulong),
        ("idle", ctypes.c_ulong),
        ("event_mask", ctypes.c_ulong),
    )


class XInputIdleProbe:
    """How long the X display has had no input from any device, whichever client it went to.

    The X server keeps this time itself (the XScreenSaver extension, in every Xorg and Xvfb),
    so keys, taps and pointer moves in an app the kiosk started all count, with no hook into
    that app and nothing to poll between questions. Watching the pointer's position instead
    would miss typing and taps on one spot, which is most of what people do in a form.
    """

    def __init__(self, x11: ctypes.CDLL, xss: ctypes.CDLL, display: int) -> None:
        self._x11 = x11
        self._xss = xss
        self._display: int | None = display
        self._root = x11.XDefaultRootWindow(display)
        self._info = xss.XScreenSaverAllocInfo()

    @classmethod
    def open(cls, display: str | None = None) -> XInputIdleProbe | None:
        """A probe on ``display`` (default: ``$DISPLAY``), or None where there is no X server or extension."""
        x11_path, xss_path = ctypes.util.find_library("X11"), ctypes.util.find_library("Xss")
        if x11_path is None or xss_path is None:
            log.info("no libX11/libXss: input in launched apps cannot be seen; the idle limit is stretched")
            return None
        x11, xss = ctypes.CDLL(x11_path), ctypes.CDLL(xss_path)
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x11.XDefaultRootWindow.restype = ctypes.c_ulong
        x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        xss.XScreenSaverQueryExtension.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_int),
        ]
        xss.XScreenSaverAllocInfo.restype = ctypes.POINTER(_XScreenSaverInfo)
        xss.XScreenSaverQueryInfo.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_XScreenSaverInfo)]
        handle = x11.XOpenDisplay(display.encode() if display else None)
        if not handle:
            return None
        event_base, error_base = ctypes.c_int(), ctypes.c_int()
        if not xss.XScreenSaverQueryExtension(handle, ctypes.byref(event_base), ctypes.byref(error_base)):
            x11.XCloseDisplay(handle)
            log.info("the X server has no XScreenSaver extension: the idle limit is stretched in launched apps")
            return None
        return cls(x11, xss, handle)

    def __call__(self) -> float | None:
        if self._display is None:
            return None
        if not self._xss.XScreenSaverQueryInfo(self._display, self._root, self._info):
            return None
        return float(self._info.contents.idle) / 1000.0

    def close(self) -> None:
        if self._display is not None:
            self._x11.XFree(self._info)
            self._x11.XCloseDisplay(self._display)
            self._display = None


def default_activity_probe() -> ActivityProbe | None:
    """The X server's idle time where the kiosk runs on X; elsewhere nothing."""
    if QGuiApplication.platformName() != "xcb":
        return None
    return XInputIdleProbe.open()


class IdleWatcher(QObject):
    countdown_started = Signal(int)  # seconds
    countdown_tick = Signal(int)  # seconds left
    countdown_cancelled = Signal()
    expired = Signal()

    def __init__(
        self,
        idle_seconds: float,
        countdown_seconds: float,
        handover_factor: float = 3.0,
        activity_probe: ActivityProbe | None = None,
    ) -> None:
        """``activity_probe`` sees input that goes to other apps; None: the X server's, opened on first hand-over."""
        super().__init__()
        self.idle_seconds = idle_seconds
        self.countdown_seconds = countdown_seconds
        self.handover_factor = handover_factor
        self.handed_over = False
        self.activity_probe = activity_probe
        self._probe_opened = activity_probe is not None
        self._last_poke = time.monotonic()
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
        if handed_over and not self._probe_opened:
            self._probe_opened = True
            self.activity_probe = default_activity_probe()
        if self.armed:
            self.poke()

    @property
    def sees_other_apps(self) -> bool:
        return self.activity_probe is not None

    def poke(self) -> None:
        """Input happened: cancel a countdown and start the idle time again."""
        if not self.armed:
            return
        self._stop_countdown(notify=True)
        self._last_poke = time.monotonic()
        # Blind to the app's input, the kiosk can only give the person longer.
        factor = self.handover_factor if self.handed_over and not self.sees_other_apps else 1.0
        self._idle.start(max(1, int(self.idle_seconds * factor * 1000)))

    def _input_elsewhere_since_poke(self) -> float | None:
        """Seconds since input the kiosk did not see (in a launched app) came after the last poke, else None."""
        if not self.handed_over or self.activity_probe is None:
            return None
        idle = self.activity_probe()
        if idle is None:
            return None
        if time.monotonic() - idle > self._last_poke + _SAME_INPUT_S:
            return idle
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in _INPUT_EVENTS and self.armed:
            self.poke()
        return False

    def _start_countdown(self) -> None:
        idle = self._input_elsewhere_since_poke()
        if idle is not None:
            # The person was busy in the app: the idle time runs from their last input there.
            self._last_poke = time.monotonic() - idle
            self._idle.start(max(1, int((self.idle_seconds - idle) * 1000)))
            return
        self.remaining = max(1, math.ceil(self.countdown_seconds))
        self._final.start(max(1, int(self.countdown_seconds * 1000)))
        self._ticker.start()
        self.countdown_started.emit(self.remaining)

    def _tick(self) -> None:
        if self._input_elsewhere_since_poke() is not None:
            self.poke()  # a touch in the app during the warning counts as "I'm still here"
            return
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
    """A dimmed cover with the countdown and "I'm still here".

    With a parent it covers the kiosk window; without one it is a window of its own that
    stays on top, for when the kiosk has stepped aside for an app (``place_on`` a screen).
    """

    still_here = Signal()

    def __init__(self, parent: QWidget | None) -> None:
        if parent is None:
            flags = Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint
            if QGuiApplication.platformName() != "offscreen":  # that test platform has no stacking order
                flags = Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
            super().__init__(None, flags)
        else:
            super().__init__(parent)
        self.setObjectName("idle-overlay")
        # An alert dialog: a screen reader says its name and text when it appears, not just its button.
        set_accessible_role(self, QAccessible.Role.AlertMessage)
        self._screen_rect: QRect | None = None
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
        elif self._screen_rect is not None:
            self.setGeometry(self._screen_rect)
        self.show()
        if parent is None:
            bring_to_front(self)  # a window of its own; the offscreen test platform cannot raise one
        else:
            self.raise_()
        self.button.setFocus()
        announce(self, f"{self.accessibleName()} {self.accessibleDescription()}")

    def place_on(self, screen_rect: QRect) -> None:
        """As a window of its own: the screen it covers."""
        self._screen_rect = QRect(screen_rect)

    def set_remaining(self, seconds: int) -> None:
        self.remaining = seconds
        self.retranslate()

    def retranslate(self) -> None:
        self.heading.setText(self.tr("Are you still there?"))
        text = self.tr("Everything you entered will be cleared in %n second(s).", "", self.remaining)
        self.count_label.setText(text)
        self.count_label.setAccessibleName(text)
        set_text(self.button, self.tr("I'm still here"))
        # What the alert says: its heading as the name, the countdown as its text.
        self.setAccessibleName(self.heading.text())
        self.setAccessibleDescription(text)

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
