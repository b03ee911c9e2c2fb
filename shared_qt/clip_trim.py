"""Trimming a clip before it joins a report: a frame scrubber with start and end handles, and a preview.

The person steps through the recording frame by frame (arrow keys, the mouse or a touchpad on the
scrubber), marks where the clip starts and ends (drag a handle, or "Start here" / "End here" at the
frame shown), and accepts with Enter. The dialog holds no rules of its own: the kept part is
``Recording.trimmed`` of the core (``agent.clips``), from the start frame's time to the end of the
end frame.

Frames are decoded one at a time for the preview with the core's ``FrameDecoder``, which
decompresses only the bands that changed since the frame shown before: stepping costs about a
millisecond on a quiet screen, a few on a busy 1080p one. A burst of steps (a held arrow key, a
drag) decodes only the frame it ends on.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from agent.clips import Recording
from agent.clips.frames import FrameDecoder

HANDLE_WIDTH: Final = 14  # wide enough to grab with a touchpad
SCRUBBER_HEIGHT: Final = 56
_GRAB_DISTANCE: Final = 18
_KEPT: Final = QColor("#1f6feb")
_DROPPED: Final = QColor("#9ca3af")
_PLAYHEAD: Final = QColor("#e5484d")


class FrameScrubber(QWidget):
    """Frames 0 … count-1 along a track: the kept range between two handles, and the frame shown.

    Left/Right step the frame shown by one, Home/End go to the first/last frame, "[" and "]" move
    the start or end handle to the frame shown. A press near a handle drags it; anywhere else it
    moves the frame shown there (and drags it).
    """

    changed = Signal()  # the kept range or the frame shown changed

    def __init__(self, count: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if count < 1:
            raise ValueError("a scrubber needs at least one frame")
        self.setObjectName("clip-scrubber")
        self.setAccessibleName(self.tr("Frames of the clip"))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumHeight(SCRUBBER_HEIGHT)
        self.setMinimumWidth(240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.count = count
        self.start = 0
        self.end = count - 1
        self.position = 0
        self._dragging: str | None = None

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(640, SCRUBBER_HEIGHT)

    # ------------------------------------------------------------ the model
    def set_position(self, frame: int) -> None:
        frame = max(0, min(self.count - 1, frame))
        if frame != self.position:
            self.position = frame
            self._changed()

    def set_start(self, frame: int) -> None:
        frame = max(0, min(self.end, frame))
        if frame != self.start:
            self.start = frame
            self._changed()

    def set_end(self, frame: int) -> None:
        frame = max(self.start, min(self.count - 1, frame))
        if frame != self.end:
            self.end = frame
            self._changed()

    def _changed(self) -> None:
        self.update()
        self.changed.emit()

    # ------------------------------------------------------------ geometry
    def _track(self) -> QRectF:
        margin = HANDLE_WIDTH
        return QRectF(margin, self.height() * 0.3, max(1.0, self.width() - 2 * margin), self.height() * 0.4)

    def x_of(self, frame: int) -> float:
        """The centre of ``frame`` on the track, in widget pixels."""
        track = self._track()
        return track.left() + track.width() * (frame + 0.5) / self.count

    def frame_at(self, x: float) -> int:
        track = self._track()
        return max(0, min(self.count - 1, int((x - track.left()) / track.width() * self.count)))

    # ------------------------------------------------------------ painting
    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = self._track()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_DROPPED)
        painter.drawRoundedRect(track, 4, 4)
        step = track.width() / self.count
        kept = QRectF(track.left() + self.start * step, track.top(), (self.end - self.start + 1) * step, track.height())
        painter.setBrush(_KEPT)
        painter.drawRect(kept)
        if step >= 4:  # a tick per frame where they do not blur into one
            painter.setPen(QPen(QColor(255, 255, 255, 90), 1))
            for frame in range(1, self.count):
                x = track.left() + frame * step
                painter.drawLine(QPointF(x, track.top()), QPointF(x, track.bottom()))
        for frame, left in ((self.start, True), (self.end, False)):
            x = track.left() + (frame if left else frame + 1) * step
            handle = QRectF(x - HANDLE_WIDTH / 2, 2, HANDLE_WIDTH, self.height() - 4)
            painter.setPen(QPen(QColor("#0b3d91"), 1))
            painter.setBrush(QColor("white"))
            painter.drawRoundedRect(handle, 3, 3)
        x = self.x_of(self.position)
        painter.setPen(QPen(_PLAYHEAD, 3))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        if self.hasFocus():
            painter.setPen(QPen(self.palette().highlight().color(), 1, Qt.PenStyle.DotLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))
        painter.end()

    # ------------------------------------------------------------ input
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        x = event.position().x()
        track = self._track()
        step = track.width() / self.count
        start_x = track.left() + self.start * step
        end_x = track.left() + (self.end + 1) * step
        if abs(x - start_x) <= _GRAB_DISTANCE and abs(x - start_x) <= abs(x - end_x):
            self._dragging = "start"
        elif abs(x - end_x) <= _GRAB_DISTANCE:
            self._dragging = "end"
        else:
            self._dragging = "position"
        self._drag_to(x)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._dragging is not None:
            self._drag_to(event.position().x())

    def mouseReleaseEvent(self, _event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        self._dragging = None

    def _drag_to(self, x: float) -> None:
        frame = self.frame_at(x)
        if self._dragging == "start":
            self.set_start(frame)
            self.set_position(self.start)
        elif self._dragging == "end":
            self.set_end(frame)
            self.set_position(self.end)
        else:
            self.set_position(frame)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        key = event.key()
        if key == Qt.Key.Key_Left:
            self.set_position(self.position - 1)
        elif key == Qt.Key.Key_Right:
            self.set_position(self.position + 1)
        elif key == Qt.Key.Key_Home:
            self.set_position(0)
        elif key == Qt.Key.Key_End:
            self.set_position(self.count - 1)
        elif key == Qt.Key.Key_BracketLeft:
            self.set_start(self.position)
        elif key == Qt.Key.Key_BracketRight:
            self.set_end(self.position)
        else:
            super().keyPressEvent(event)


class ClipTrimDialog(QDialog):
    """Choose the part of ``recording`` to keep; :meth:`trimmed` gives it after ``accept``."""

    def __init__(self, recording: Recording, parent: QWidget | None = None, *, title: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("clip-trim")
        self.setWindowTitle(title or self.tr("Trim the clip — ShowDesk"))
        self.recording = recording
        self.times = recording.frame_times
        self._decoder = FrameDecoder()
        self._shown = -1
        self._image = QImage()

        self.preview = QLabel()
        self.preview.setObjectName("clip-trim-preview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(480, 270)
        self.preview.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.preview.setStyleSheet("background: #111;")
        self.scrubber = FrameScrubber(len(self.times))
        self.scrubber.changed.connect(self._changed)
        self.position_label = QLabel()
        self.position_label.setObjectName("clip-trim-position")
        self.kept_label = QLabel()
        self.kept_label.setObjectName("clip-trim-kept")
        self.start_button = QPushButton(self.tr("Start here"))
        self.start_button.setObjectName("clip-trim-start")
        self.start_button.setToolTip(self.tr("The clip starts at the frame shown ([)"))
        self.start_button.clicked.connect(lambda: self.scrubber.set_start(self.scrubber.position))
        self.end_button = QPushButton(self.tr("End here"))
        self.end_button.setObjectName("clip-trim-end")
        self.end_button.setToolTip(self.tr("The clip ends with the frame shown (])"))
        self.end_button.clicked.connect(lambda: self.scrubber.set_end(self.scrubber.position))
        for button in (self.start_button, self.end_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the arrows keep stepping frames
            button.setMinimumHeight(36)
        hint = QLabel(
            self.tr("← → one frame · Home/End first/last · [ ] start/end at this frame · Enter keeps the part in blue")
        )
        hint.setObjectName("clip-trim-hint")
        hint.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.accept_button = self.buttons.addButton(self.tr("Keep this part"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.accept_button.setObjectName("clip-trim-accept")
        self.accept_button.setDefault(True)
        self.accept_button.setMinimumHeight(36)
        cancel = self.buttons.addButton(self.tr("Discard the clip"), QDialogButtonBox.ButtonRole.RejectRole)
        cancel.setObjectName("clip-trim-discard")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.position_label, 1, Qt.AlignmentFlag.AlignCenter)
        row.addWidget(self.end_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.scrubber)
        layout.addLayout(row)
        layout.addWidget(self.kept_label)
        layout.addWidget(hint)
        layout.addWidget(self.buttons)
        self._decode_timer = QTimer(self)
        self._decode_timer.setSingleShot(True)
        self._decode_timer.setInterval(0)
        self._decode_timer.timeout.connect(self._show_frame)
        self.resize(900, 640)
        self.scrubber.setFocus()
        self._changed()
        self._show_frame()

    # ------------------------------------------------------------ the result
    @property
    def start_time(self) -> float:
        return self.times[self.scrubber.start]

    @property
    def end_time(self) -> float:
        """The end of the end frame: the next frame's time, or the recording's end."""
        following = self.scrubber.end + 1
        return self.times[following] if following < len(self.times) else self.recording.duration

    def trimmed(self) -> Recording:
        """The kept part as a recording of its own (the core's trim)."""
        return self.recording.trimmed(self.start_time, self.end_time)

    # ------------------------------------------------------------ showing
    def _changed(self) -> None:
        position = self.scrubber.position
        self.position_label.setText(
            self.tr("Frame %1 of %2 · %3 s")
            .replace("%1", str(position + 1))
            .replace("%2", str(len(self.times)))
            .replace("%3", f"{self.times[position]:.1f}")
        )
        frames = self.scrubber.end - self.scrubber.start + 1
        self.kept_label.setText(
            self.tr("Keeping %1 s (%2 frames) of %3 s")
            .replace("%1", f"{self.end_time - self.start_time:.1f}")
            .replace("%2", str(frames))
            .replace("%3", f"{self.recording.duration:.1f}")
        )
        self._decode_timer.start()

    def _show_frame(self) -> None:
        index = self.scrubber.position
        if index != self._shown:
            self._image = _qimage(self._decoder.pixels(self.recording.frames[index]), self.recording, index)
            self._shown = index
        self._fit_preview()

    def shown_frame(self) -> int:
        """The frame the preview shows now (tests, screenshots)."""
        return self._shown

    def _fit_preview(self) -> None:
        if self._image.isNull():
            return
        size = self.preview.size()
        pixmap = QPixmap.fromImage(self._image).scaled(
            size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.preview.setPixmap(pixmap)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit_preview()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        # The scrubber has the focus; these reach it from anywhere in the dialog.
        if event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Home, Qt.Key.Key_End):
            self.scrubber.keyPressEvent(event)
            return
        super().keyPressEvent(event)


def _qimage(pixels: bytes, recording: Recording, index: int) -> QImage:
    frame = recording.frames[index]
    image = QImage(pixels, frame.width, frame.height, frame.width * 4, QImage.Format.Format_RGB32)
    return image.copy()  # its own pixels: the decoder's buffer is reused for the next frame
