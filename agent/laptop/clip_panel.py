"""A clip of the report, as the person reviews it before sending: it plays, takes black boxes, or goes.

The preview plays the clip *as it will be sent*: the encoded animated WebP with every black box
already burnt into every frame. "Hide parts with black boxes" shows one frame of the recording in
the mark-up editor with only its black-box tool; "Apply to every frame" hands the boxes back
(``redactions_applied``) and the report window encodes the clip again off the GUI thread, through
the core (``agent.clips.encode_clip`` fills each box with the mark-up's own redaction rules). The
panel holds no rules: it shows, and says what the person asked for.
"""

from __future__ import annotations

import io
from typing import Final

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt, Signal
from PySide6.QtGui import QImage, QMovie, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from agent.laptop.report_draft import DraftClip
from agent.schema import MAX_CAPTION_CHARS, MarkupItem
from shared_qt.markup_editor import TOOLS, MarkupEditor

CLIP_TOOLS: Final = ("select", "redaction")


def frame_png(clip: DraftClip, index: int) -> bytes:
    """One frame of the clip's recording as PNG, for the mark-up editor (fast, not small)."""
    buffer = io.BytesIO()
    clip.recording.image(index).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _still_image(data: bytes) -> QImage:
    """The first frame of an encoded clip, decoded by Pillow (one frame: quick)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as opened:
        rgb = opened.convert("RGB")
    return QImage(rgb.tobytes(), rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888).copy()


class ClipPanel(QWidget):
    """Shows one :class:`DraftClip`; says when its boxes change, it should go, or its caption changed."""

    redactions_applied = Signal(list)  # list[MarkupItem] of kind "redaction"
    remove_requested = Signal()
    caption_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("clip-panel")
        self.clip: DraftClip | None = None
        self._movie: QMovie | None = None
        self._buffer: QBuffer | None = None
        self._still = QImage()

        self.preview = QLabel()
        self.preview.setObjectName("clip-preview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.preview.setMinimumSize(320, 180)
        self.preview.setStyleSheet("background: #111; color: #ddd;")
        self.preview.setAccessibleName(self.tr("The clip as it will be sent"))
        self.editor = MarkupEditor(show_labels=True)
        self.editor.setObjectName("clip-redaction-editor")
        for tool in TOOLS:
            self.editor.tool_button(tool).setVisible(tool in CLIP_TOOLS)
        self.frame_slider = QSlider(Qt.Orientation.Horizontal)
        self.frame_slider.setObjectName("clip-redaction-frame")
        self.frame_slider.setAccessibleName(self.tr("Frame to draw the black boxes on"))
        self.frame_slider.valueChanged.connect(self._frame_chosen)
        boxes_page = QWidget()
        boxes_layout = QVBoxLayout(boxes_page)
        boxes_layout.setContentsMargins(0, 0, 0, 0)
        boxes_note = QLabel(
            self.tr(
                "Draw black boxes over what must not be sent. They cover the same place in every frame of the clip."
            )
        )
        boxes_note.setWordWrap(True)
        boxes_layout.addWidget(boxes_note)
        boxes_layout.addWidget(self.editor, 1)
        boxes_layout.addWidget(self.frame_slider)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.preview)
        self.stack.addWidget(boxes_page)

        self.info_label = QLabel()
        self.info_label.setObjectName("clip-info")
        self.progress = QProgressBar()
        self.progress.setObjectName("clip-progress")
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.progress.hide()
        self.boxes_button = QPushButton(self.tr("Hide parts with black boxes…"))
        self.boxes_button.setObjectName("clip-boxes")
        self.boxes_button.clicked.connect(self.begin_boxes)
        self.apply_button = QPushButton(self.tr("Apply to every frame"))
        self.apply_button.setObjectName("clip-boxes-apply")
        self.apply_button.clicked.connect(self.apply_boxes)
        self.cancel_boxes_button = QPushButton(self.tr("Cancel"))
        self.cancel_boxes_button.setObjectName("clip-boxes-cancel")
        self.cancel_boxes_button.clicked.connect(self.end_boxes)
        self.remove_button = QPushButton(self.tr("Remove clip"))
        self.remove_button.setObjectName("clip-remove")
        self.remove_button.clicked.connect(self.remove_requested.emit)
        self.caption_edit = QLineEdit()
        self.caption_edit.setObjectName("clip-caption")
        self.caption_edit.setMaxLength(MAX_CAPTION_CHARS)
        self.caption_edit.setPlaceholderText(self.tr("Caption for this clip (optional)"))
        self.caption_edit.setAccessibleName(self.tr("Caption for this clip"))
        self.caption_edit.textChanged.connect(lambda text: self.caption_changed.emit(text.strip()))
        buttons = QHBoxLayout()
        buttons.addWidget(self.info_label, 1)
        for button in (self.boxes_button, self.apply_button, self.cancel_boxes_button, self.remove_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.progress)
        layout.addLayout(buttons)
        layout.addWidget(self.caption_edit)
        self._set_boxes_mode(False)

    # ------------------------------------------------------------ showing a clip
    def show_clip(self, clip: DraftClip | None) -> None:
        self._set_boxes_mode(False)
        self.clip = clip
        self.caption_edit.blockSignals(True)
        self.caption_edit.setText(clip.caption if clip is not None else "")
        self.caption_edit.blockSignals(False)
        self.refresh()

    def refresh(self) -> None:
        """Show the clip's encoding (playing), or that it is being prepared."""
        self._stop_movie()
        clip = self.clip
        if clip is None:
            self.preview.clear()
            self.info_label.clear()
            return
        encoded = clip.encoded
        self.boxes_button.setEnabled(encoded is not None)
        if encoded is None:
            self.preview.setText(self.tr("Preparing the clip…"))
            self.info_label.setText(self.tr("Preparing the clip…"))
            self.progress.setRange(0, 0)
            self.progress.show()
            return
        self.progress.hide()
        self.info_label.setText(
            self.tr("%1 s · %2 frames · %3 MB")
            .replace("%1", f"{encoded.duration_ms / 1000:.1f}")
            .replace("%2", str(encoded.frames))
            .replace("%3", f"{len(encoded.data) / 1_000_000:.1f}")
            + (self.tr(" · %1 black boxes").replace("%1", str(len(clip.redactions))) if clip.redactions else "")
        )
        if encoded.frames == 1:
            # A screen that never changed is one still, which Qt's WebP reader may refuse (a lossless
            # still of one colour): Pillow decodes that one frame instead.
            self._still = _still_image(encoded.data)
            self._fit_still()
            return
        self._buffer = QBuffer(self)
        self._buffer.setData(QByteArray(encoded.data))
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        movie = QMovie(self._buffer, QByteArray(b"webp"), self)
        # Frames decode as they play: caching them all would hold every decoded frame of the clip.
        movie.setCacheMode(QMovie.CacheMode.CacheNone)
        self._movie = movie
        self.preview.setMovie(movie)
        self._fit_movie()
        movie.start()

    def set_progress(self, done: int, total: int) -> None:
        self.progress.show()
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.info_label.setText(
            self.tr("Preparing the clip… %1 %").replace("%1", str(int(100 * done / total) if total else 0))
        )

    def show_problem(self, text: str) -> None:
        self.progress.hide()
        self.info_label.setText(text)

    @property
    def movie(self) -> QMovie | None:
        return self._movie

    def showing(self) -> str:
        """What the preview shows: "movie" (playing), "still" (one frame), or "" (nothing yet)."""
        if self._movie is not None:
            return "movie"
        return "still" if not self._still.isNull() else ""

    def _fit_still(self) -> None:
        if not self._still.isNull():
            self.preview.setPixmap(
                QPixmap.fromImage(self._still).scaled(
                    self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            )

    def _fit_movie(self) -> None:
        movie, clip = self._movie, self.clip
        if movie is None or clip is None or clip.encoded is None:
            return
        available = self.preview.size()
        size = QSize(clip.encoded.width, clip.encoded.height).scaled(available, Qt.AspectRatioMode.KeepAspectRatio)
        movie.setScaledSize(size)

    def _stop_movie(self) -> None:
        self._still = QImage()
        movie, self._movie = self._movie, None
        if movie is not None:
            movie.stop()
            self.preview.setMovie(None)  # type: ignore[arg-type]
            movie.deleteLater()
        buffer, self._buffer = self._buffer, None
        if buffer is not None:
            buffer.close()
            buffer.deleteLater()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit_movie()
        self._fit_still()

    # ------------------------------------------------------------ black boxes
    def begin_boxes(self) -> None:
        clip = self.clip
        if clip is None:
            return
        count = len(clip.recording.frames)
        self.frame_slider.blockSignals(True)
        self.frame_slider.setRange(0, count - 1)
        self.frame_slider.setValue(0)
        self.frame_slider.blockSignals(False)
        self.frame_slider.setVisible(count > 1)
        self.editor.load(frame_png(clip, 0), clip.redactions)
        self.editor.set_tool("redaction")
        self._set_boxes_mode(True)

    def _frame_chosen(self, index: int) -> None:
        clip = self.clip
        if clip is not None and self.stack.currentIndex() == 1:
            self.editor.load(frame_png(clip, index), self.boxes())

    def boxes(self) -> list[MarkupItem]:
        """The black boxes drawn now (other kinds of mark-up do not apply to a clip)."""
        return [item for item in self.editor.items() if item.kind == "redaction"]

    def apply_boxes(self) -> None:
        boxes = self.boxes()
        self._set_boxes_mode(False)
        self.editor.release()
        self.redactions_applied.emit(boxes)

    def end_boxes(self) -> None:
        self._set_boxes_mode(False)
        self.editor.release()

    def _set_boxes_mode(self, on: bool) -> None:
        self.stack.setCurrentIndex(1 if on else 0)
        self.apply_button.setVisible(on)
        self.cancel_boxes_button.setVisible(on)
        self.boxes_button.setVisible(not on)
        self.remove_button.setVisible(not on)
        if self._movie is not None:
            self._movie.setPaused(on)

    def release(self) -> None:
        self._stop_movie()
        self.editor.release()
        self.clip = None
