"""Recording a clip from the agent: the indicator with its Stop button, and the recording behind it.

:class:`ClipRecordingSession` runs the core's ``ClipRecorder`` (``agent.clips``; it grabs on a
thread of its own) and shows a :class:`RecordingIndicator`: a red dot, the time recorded and the
longest allowed, and Stop. The indicator's rectangle, and those of any other window of ours that
stays on screen (the step recorder's bar), are the recorder's *excluded* rectangles: made black in
every frame right after the grab, so they are never in the clip. The indicator sits outside a
recorded region where the screen leaves room, so a region's clip usually loses nothing to it.

The session ends at Stop, at the length or memory cap (the recorder stops by itself), or on an
error; ``finished`` then carries the ``Recording`` (frames compressed in memory) and nothing has
touched the disk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Final

from PySide6.QtCore import QObject, QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeyEvent, QMoveEvent, QScreen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from agent.capture import Rect
from agent.clips import CaptureTarget, ClipError, ClipRecorder, Recording, StopReason
from agent.laptop.screens import floating_window_flags, local_rect, native_geometry
from agent.laptop.step_recorder import native_geometry_of

log = logging.getLogger(__name__)

TICK_MS: Final = 200  # the elapsed time is redrawn this often
_GAP: Final = 12  # between the indicator and the recorded region or the screen's edge


def format_seconds(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


class RecordingIndicator(QWidget):
    """A small always-on-top bar: ● Recording 0:07 / 0:30 [Stop]. Never in the clip's frames."""

    stop_requested = Signal()
    moved = Signal()

    def __init__(self, max_seconds: float) -> None:
        super().__init__(None, floating_window_flags())
        self.setObjectName("clip-indicator")
        self.setWindowTitle(self.tr("Recording a clip — ShowDesk"))
        self.setAccessibleName(self.tr("Recording a clip"))
        self.max_seconds = max_seconds
        frame = QFrame(self)
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        frame.setStyleSheet("QFrame { background: #1f2328; border-radius: 6px; } QLabel { color: white; }")
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(frame)
        layout = QHBoxLayout(frame)
        layout.setContentsMargins(10, 6, 8, 6)
        self.dot = QLabel("●")
        self.dot.setStyleSheet("color: #e5484d; font-size: 16px;")
        self.elapsed_label = QLabel()
        self.elapsed_label.setObjectName("clip-elapsed")
        self.stop_button = QPushButton(self.tr("Stop"))
        self.stop_button.setObjectName("clip-stop")
        self.stop_button.setToolTip(self.tr("Stop recording (Esc)"))
        self.stop_button.clicked.connect(self.stop_requested.emit)
        layout.addWidget(self.dot)
        layout.addWidget(self.elapsed_label)
        layout.addWidget(self.stop_button)
        self.set_elapsed(0.0)

    def set_elapsed(self, seconds: float) -> None:
        self.elapsed_label.setText(
            self.tr("Recording %1 / %2")
            .replace("%1", format_seconds(seconds))
            .replace("%2", format_seconds(self.max_seconds))
        )

    def place_near(self, target: Rect) -> None:
        """Beside the recorded rectangle where a screen has room, else in its top-right corner."""
        self.adjustSize()
        screen = _screen_of(target) or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        inside = local_rect(screen, target).translated(screen.geometry().topLeft())
        size = self.size()
        candidates = (
            QPoint(inside.right() - size.width(), inside.top() - size.height() - _GAP),  # above
            QPoint(inside.right() - size.width(), inside.bottom() + _GAP),  # below
        )
        for point in candidates:
            if area.contains(QRect(point, size)):
                self.move(point)
                return
        self.move(area.right() - size.width() - _GAP, area.top() + _GAP)

    def native_rect(self) -> Rect:
        """Where the indicator is, in the capture layer's units (what the recorder blacks out)."""
        return native_geometry_of(self)

    def moveEvent(self, event: QMoveEvent) -> None:  # noqa: N802 - Qt's name
        super().moveEvent(event)
        self.moved.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Escape:
            self.stop_requested.emit()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        event.ignore()  # closing the indicator means Stop: what was recorded is kept
        self.stop_requested.emit()


def _screen_of(rect: Rect) -> QScreen | None:
    centre = (rect.left + rect.width // 2, rect.top + rect.height // 2)
    for screen in QGuiApplication.screens():
        native = native_geometry(screen)
        if native.left <= centre[0] < native.right and native.top <= centre[1] < native.bottom:
            return screen
    return None


def screen_under_cursor_rect() -> Rect:
    """The native rectangle of the monitor under the mouse (the primary one when none is)."""
    from PySide6.QtGui import QCursor

    screen = QGuiApplication.screenAt(QCursor.pos()) or QGuiApplication.primaryScreen()
    return native_geometry(screen)


class _Relay(QObject):
    # Emitted on the recorder's thread, delivered on the GUI thread.
    ended = Signal(str, str)  # StopReason, message


class ClipRecordingSession(QObject):
    """One clip being recorded: ``start()``, then ``finished(Recording)`` or ``failed(str)``, once.

    ``also_excluded`` gives the rectangles of other windows of ours that stay on screen.
    """

    finished = Signal(object)  # Recording
    failed = Signal(str)
    elapsed = Signal(float)

    def __init__(
        self,
        region: Rect,
        *,
        display: str | None = None,
        fps: float,
        max_seconds: float,
        max_bytes: int,
        also_excluded: Callable[[], Sequence[Rect]] = tuple,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.region = region
        self.indicator = RecordingIndicator(max_seconds)
        self.indicator.stop_requested.connect(self.stop)
        self.indicator.moved.connect(self._update_excluded)
        self._also_excluded = also_excluded
        self._relay = _Relay(self)
        self._relay.ended.connect(self._ended)
        self._recorder = ClipRecorder(
            CaptureTarget(region=region, display=display),
            fps=fps,
            max_seconds=max_seconds,
            max_bytes=max_bytes,
            on_stopped=lambda reason, message: self._relay.ended.emit(reason, message),
        )
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._done = False
        self.stop_reason: StopReason | None = None

    def excluded(self) -> list[Rect]:
        """The rectangles kept out of every frame now."""
        return [self.indicator.native_rect(), *self._also_excluded()]

    def start(self) -> None:
        """Show the indicator and start grabbing; ``failed`` says so if the screen cannot be captured."""
        self.indicator.place_near(self.region)
        self.indicator.show()
        # The rectangles are set before the first grab, whether or not the window is painted yet.
        self._recorder.set_excluded(self.excluded())
        try:
            self._recorder.start()
        except ClipError as exc:
            self._finish_with_error(str(exc))
            return
        self._timer.start()

    @property
    def is_recording(self) -> bool:
        return not self._done

    @property
    def frames(self) -> int:
        """Frames grabbed so far (the recording's progress; tests wait on it)."""
        return self._recorder.progress.frames

    def stop(self) -> None:
        """End the recording (Stop): ``finished`` carries what was recorded."""
        if self._done:
            return
        self._done = True
        self._timer.stop()
        self.indicator.hide()
        try:
            recording = self._recorder.stop()  # waits for at most the grab under way
        except ClipError as exc:
            self.failed.emit(str(exc))
        else:
            self.stop_reason = recording.stop_reason
            self.finished.emit(recording)
        self._close_indicator()

    def cancel(self) -> None:
        """End the recording and forget every frame (the agent quits)."""
        if self._done:
            return
        self._done = True
        self._timer.stop()
        self._recorder.cancel()
        self._close_indicator()

    def _update_excluded(self) -> None:
        if not self._done:
            self._recorder.set_excluded(self.excluded())

    def _tick(self) -> None:
        seconds = self._recorder.progress.seconds
        self.indicator.set_elapsed(seconds)
        self.elapsed.emit(seconds)

    def _ended(self, reason: str, message: str) -> None:
        """The recorder stopped by itself: at its length or memory cap (kept), or on an error."""
        if reason in ("length", "memory"):
            self.stop()
        elif not self._done:
            log.info("the clip's recording stopped: %s", message)
            self.stop()  # what was grabbed before the error is still the person's to keep or drop

    def _finish_with_error(self, message: str) -> None:
        self._done = True
        self._close_indicator()
        self.failed.emit(message)

    def _close_indicator(self) -> None:
        self.indicator.hide()
        self.indicator.deleteLater()


__all__ = ["ClipRecordingSession", "Recording", "RecordingIndicator", "format_seconds", "screen_under_cursor_rect"]
