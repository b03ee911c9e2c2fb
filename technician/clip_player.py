"""The player of a report's clip: play/pause, one frame back or on, the frame number and time.

The frames arrive decoded (``step_images.decode_clip``, on a worker); this widget only shows
them and keeps time, so nothing here is slow on the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from technician.step_images import DecodedClip


class ClipPlayer(QWidget):
    """Plays one clip; ``,`` and ``.`` step a frame back and on, Space plays or pauses."""

    frame_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ClipPlayer")
        # Focus, so the , and . keys reach the player once it was clicked or tabbed to.
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.clip: DecodedClip | None = None
        self.frame = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._advance)

        self.picture = QLabel()
        self.picture.setObjectName("ClipFrame")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setMinimumSize(160, 90)
        self.caption = QLabel()
        self.caption.setObjectName("ClipCaption")
        # A caption is the person's own words: shown as they typed them, never as markup.
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setWordWrap(True)
        self.position = QLabel()
        self.position.setObjectName("ClipPosition")
        self.previous_button = self._button("button-clip-previous", "◀|", self.tr("One frame back (,)"))
        self.play_button = self._button("button-clip-play", "▶", self.tr("Play or pause (Space)"))
        self.next_button = self._button("button-clip-next", "|▶", self.tr("One frame on (.)"))
        self.previous_button.clicked.connect(self.step_back)
        self.play_button.clicked.connect(self.toggle_play)
        self.next_button.clicked.connect(self.step_on)
        controls = QHBoxLayout()
        controls.addWidget(self.previous_button)
        controls.addWidget(self.play_button)
        controls.addWidget(self.next_button)
        controls.addWidget(self.position)
        controls.addSpacing(16)
        controls.addWidget(self.caption, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picture, 1)
        layout.addLayout(controls)
        self.show_message(self.tr("Loading the clip…"))

    def _button(self, name: str, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setObjectName(name)
        button.setText(text)
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys stay with the player
        return button

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def current_image(self) -> QImage | None:
        """The frame on screen as decoded (before it is fitted to the widget)."""
        return self.clip.frames[self.frame] if self.clip is not None else None

    def show_message(self, text: str) -> None:
        self.stop()
        self.clip = None
        self.picture.setPixmap(QPixmap())
        self.picture.setText(text)
        self.position.setText("")
        self._enable(False)

    def set_caption(self, caption: str) -> None:
        self.caption.setText(caption)

    def show_clip(self, clip: DecodedClip) -> None:
        """Show ``clip`` paused on its first frame."""
        self.stop()
        self.clip = clip
        self._enable(True)
        self.show_frame(0)

    def show_frame(self, index: int) -> None:
        clip = self.clip
        if clip is None:
            return
        self.frame = max(0, min(index, len(clip.frames) - 1))
        self._paint()
        seconds = clip.starts_ms[self.frame] / 1000
        self.position.setText(
            self.tr("Frame {0} of {1} · {2} s of {3} s").format(
                self.frame + 1, len(clip.frames), f"{seconds:.1f}", f"{clip.duration_ms / 1000:.1f}"
            )
        )
        self.frame_changed.emit(self.frame)

    def step_on(self) -> None:
        self.stop()
        self.show_frame(self.frame + 1)

    def step_back(self) -> None:
        self.stop()
        self.show_frame(self.frame - 1)

    def toggle_play(self) -> None:
        if self.playing:
            self.stop()
            return
        clip = self.clip
        if clip is None:
            return
        if self.frame >= len(clip.frames) - 1:
            self.show_frame(0)  # play from the start again, as players do at the end
        self.play_button.setText("❚❚")
        self._timer.start(clip.delays_ms[self.frame])

    def stop(self) -> None:
        self._timer.stop()
        self.play_button.setText("▶")

    def _advance(self) -> None:
        clip = self.clip
        if clip is None:
            return
        if self.frame >= len(clip.frames) - 1:
            self.stop()
            return
        self.show_frame(self.frame + 1)
        self._timer.start(clip.delays_ms[self.frame])

    def _enable(self, on: bool) -> None:
        for button in (self.previous_button, self.play_button, self.next_button):
            button.setEnabled(on)

    def _paint(self) -> None:
        image = self.current_image()
        if image is None:
            return
        area = self.picture.size()
        pixmap = QPixmap.fromImage(image)
        if pixmap.width() > area.width() or pixmap.height() > area.height():
            pixmap = pixmap.scaled(area, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.picture.setText("")
        self.picture.setPixmap(pixmap)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        key = event.key()
        if key == Qt.Key.Key_Comma:
            self.step_back()
        elif key == Qt.Key.Key_Period:
            self.step_on()
        elif key == Qt.Key.Key_Space:
            self.toggle_play()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._paint()
