"""The clip review: the person watches what they recorded, trims it, and keeps it, records again or removes it.

Shown by the kiosk window over the app after Stop. The recording's frames stay compressed in
memory (``agent.clips.Recording``); the preview decodes the frame on screen only, with one
``FrameDecoder`` that decompresses just the bands that changed since the frame shown before, so
playing costs little. Trimming is touch-first: a frame scrubber with a big handle, and big
"Start here" / "End here" buttons that set the kept part to the frame on screen. Keep encodes the
kept part as an animated WebP off the GUI thread (``agent.clips.encode_clip_async``) and hands
it on as a ``ClipDraft``; the recording is dropped then, and on Remove, Record again or a reset.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future

from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider

from agent.bundle import ClipDraft
from agent.clips import ClipError, EncodeCancelledError, EncodedClip, EncodeJob, Recording, encode_clip_async
from agent.clips.frames import FrameDecoder
from kiosk.accessibility import announce
from kiosk.widgets import KioskScreen, make_button, make_label, set_role, set_text

log = logging.getLogger(__name__)

# The scrubber's handle: a finger's width, like every other target of the kiosk.
_SCRUBBER_STYLE = """
QSlider::groove:horizontal { height: 16px; border-radius: 8px; background: palette(mid); }
QSlider::handle:horizontal { width: 64px; margin: -24px 0; border-radius: 32px; background: palette(highlight); }
"""
_SCRUBBER_HEIGHT_PX = 72
# The shortest time a frame stays on screen while playing (a burst of frames still reads).
_MIN_FRAME_MS = 40


def _seconds(value: float) -> str:
    return f"{value:.1f}"


class _EncodeRelay(QObject):
    """Brings the encoder's progress and result from its worker thread to the GUI thread."""

    progress = Signal(int, int)
    finished = Signal(object, object)  # the job it belongs to, EncodedClip or the exception


class ClipReviewScreen(KioskScreen):
    """Play, trim, and decide: Keep (``kept(ClipDraft)``), Record again, or Remove."""

    kept = Signal(object)  # agent.bundle.ClipDraft, encoded
    record_again = Signal()
    removed = Signal()

    def __init__(self) -> None:
        super().__init__(with_back=False)
        self.recording: Recording | None = None
        self._decoder = FrameDecoder()
        self.index = 0
        self.start_index = 0
        self.end_index = 0
        self._job: EncodeJob | None = None
        self._frame_image: QImage | None = None
        self._relay = _EncodeRelay(self)
        self._relay.progress.connect(self._encode_progress, Qt.ConnectionType.QueuedConnection)
        self._relay.finished.connect(self._encoded, Qt.ConnectionType.QueuedConnection)
        self._play_timer = QTimer(self)
        self._play_timer.setSingleShot(True)
        self._play_timer.timeout.connect(self._next_frame)

        self.hint = make_label("hint")
        self.content_layout.addWidget(self.hint)
        self.preview = QLabel()
        self.preview.setObjectName("clip-preview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        set_role(self.preview, "thumb")
        self.content_layout.addWidget(self.preview, 1)

        controls = QHBoxLayout()
        controls.setSpacing(24)
        self.play_button = make_button("primary", object_name="clip-play")
        self.play_button.setMinimumWidth(200)
        self.play_button.clicked.connect(self.toggle_play)
        controls.addWidget(self.play_button)
        self.scrubber = QSlider(Qt.Orientation.Horizontal)
        self.scrubber.setObjectName("clip-scrubber")
        self.scrubber.setMinimumHeight(_SCRUBBER_HEIGHT_PX)
        self.scrubber.setStyleSheet(_SCRUBBER_STYLE)
        self.scrubber.setPageStep(5)
        self.scrubber.valueChanged.connect(self._scrubbed)
        controls.addWidget(self.scrubber, 1)
        self.position_label = make_label("strong", wrap=False)
        self.position_label.setObjectName("clip-position")
        controls.addWidget(self.position_label)
        self.content_layout.addLayout(controls)

        trim = QHBoxLayout()
        trim.setSpacing(24)
        self.start_button = make_button(object_name="clip-start-here")
        self.start_button.clicked.connect(self.set_start_here)
        trim.addWidget(self.start_button, 1)
        self.trim_label = make_label("strong", wrap=True)
        self.trim_label.setObjectName("clip-trim")
        self.trim_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        trim.addWidget(self.trim_label, 2)
        self.end_button = make_button(object_name="clip-end-here")
        self.end_button.clicked.connect(self.set_end_here)
        trim.addWidget(self.end_button, 1)
        self.content_layout.addLayout(trim)
        self.status = make_label("hint")
        self.status.setObjectName("clip-status")
        self.content_layout.addWidget(self.status)
        self.status.hide()

        self.remove_button = make_button("danger", object_name="clip-remove")
        self.remove_button.clicked.connect(self.remove)
        self.footer_layout.addWidget(self.remove_button)
        self.footer_layout.addStretch(1)
        self.again_button = make_button(object_name="clip-record-again")
        self.again_button.clicked.connect(self.again)
        self.footer_layout.addWidget(self.again_button)
        self.keep_button = make_button("primary", object_name="clip-keep")
        self.keep_button.clicked.connect(self.keep)
        self.footer_layout.addWidget(self.keep_button)
        self.retranslate()

    # ------------------------------------------------------------ texts
    def retranslate(self) -> None:
        super().retranslate()
        self.title_label.setText(self.tr("Your recording"))
        self.hint.setText(
            self.tr(
                "Watch it, then keep just the part that shows the problem: go to a frame, tap Start here or End here."
            )
        )
        playing = self._play_timer.isActive()
        set_text(
            self.play_button,
            self.tr("❚❚ Pause") if playing else self.tr("▶ Play"),
            self.tr("Pause") if playing else self.tr("Play"),
        )
        set_text(self.start_button, self.tr("⇤ Start here"), self.tr("Start the clip at this frame"))
        set_text(self.end_button, self.tr("End here ⇥"), self.tr("End the clip after this frame"))
        set_text(self.remove_button, self.tr("Remove"), self.tr("Remove this recording"))
        set_text(self.again_button, self.tr("Record again"))
        set_text(self.keep_button, self.tr("Keep"), self.tr("Keep this clip for the report"))
        self.scrubber.setAccessibleName(self.tr("Frame"))
        self._show_position()
        self._show_trim()

    def _show_position(self) -> None:
        recording = self.recording
        if recording is None:
            self.position_label.clear()
            return
        text = self.tr("Frame %1 of %2 · %3 s")
        at = recording.frames[self.index].at
        self.position_label.setText(
            text.replace("%1", str(self.index + 1))
            .replace("%2", str(len(recording.frames)))
            .replace("%3", _seconds(at))
        )

    def _show_trim(self) -> None:
        recording = self.recording
        if recording is None:
            self.trim_label.clear()
            return
        start, end = self.trim_times()
        text = self.tr("Keeping %1 s to %2 s (%3 s)")
        self.trim_label.setText(
            text.replace("%1", _seconds(start)).replace("%2", _seconds(end)).replace("%3", _seconds(end - start))
        )

    # ------------------------------------------------------------ the recording
    def load(self, recording: Recording) -> None:
        """Show ``recording`` from its first frame, all of it kept until the person trims."""
        self.clear()
        self.recording = recording
        self.start_index, self.end_index = 0, len(recording.frames) - 1
        self.scrubber.blockSignals(True)
        self.scrubber.setRange(0, len(recording.frames) - 1)
        self.scrubber.setValue(0)
        self.scrubber.blockSignals(False)
        self._set_busy(False)
        self._say("")
        self.show_frame(0)
        self._show_trim()
        self.keep_button.setFocus()

    def clear(self) -> None:
        """Let go of the recording, the frame on screen and an encode under way."""
        self._play_timer.stop()
        if self._job is not None:
            self._job.cancel()
            self._job = None
        self.recording = None
        self._decoder = FrameDecoder()
        self._frame_image = None
        self.preview.clear()
        self._say("")
        self._set_busy(False)
        self.retranslate()

    def trim_times(self) -> tuple[float, float]:
        """The kept part in seconds: from the start frame to the end of the end frame."""
        recording = self.recording
        if recording is None:
            return 0.0, 0.0
        frames = recording.frames
        start = frames[self.start_index].at
        end = frames[self.end_index + 1].at if self.end_index + 1 < len(frames) else recording.duration
        return start, end

    def show_frame(self, index: int) -> None:
        recording = self.recording
        if recording is None:
            return
        self.index = max(0, min(index, len(recording.frames) - 1))
        frame = recording.frames[self.index]
        pixels = self._decoder.pixels(frame)
        # BGRX bytes are Qt's RGB32 on a little-endian machine; scaled() copies them out.
        image = QImage(pixels, frame.width, frame.height, frame.width * 4, QImage.Format.Format_RGB32)
        self._frame_image = image.scaled(
            self._preview_size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        del image, pixels
        self.preview.setPixmap(QPixmap.fromImage(self._frame_image))
        if self.scrubber.value() != self.index:
            self.scrubber.blockSignals(True)
            self.scrubber.setValue(self.index)
            self.scrubber.blockSignals(False)
        self._show_position()

    def _preview_size(self) -> QSize:
        size = self.preview.size().shrunkBy(self.preview.contentsMargins())
        return size if size.width() > 16 and size.height() > 16 else QSize(960, 540)

    def _scrubbed(self, value: int) -> None:
        self.pause()
        self.show_frame(value)

    # ------------------------------------------------------------ playing
    def toggle_play(self) -> None:
        if self._play_timer.isActive():
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if self.recording is None:
            return
        if not self.start_index <= self.index < self.end_index:
            self.show_frame(self.start_index)
        self._schedule_next()
        self.retranslate()

    def pause(self) -> None:
        if self._play_timer.isActive():
            self._play_timer.stop()
            self.retranslate()

    def _schedule_next(self) -> None:
        recording = self.recording
        if recording is None:
            return
        frames = recording.frames
        until = frames[self.index + 1].at if self.index + 1 < len(frames) else recording.duration
        self._play_timer.start(max(_MIN_FRAME_MS, round((until - frames[self.index].at) * 1000)))

    def _next_frame(self) -> None:
        if self.recording is None:
            return
        if self.index >= self.end_index:
            self.show_frame(self.start_index)  # the kept part plays over and over
        else:
            self.show_frame(self.index + 1)
        self._schedule_next()

    # ------------------------------------------------------------ trimming
    def set_start_here(self) -> None:
        self.pause()
        self.start_index = self.index
        self.end_index = max(self.end_index, self.index)
        self._show_trim()

    def set_end_here(self) -> None:
        self.pause()
        self.end_index = self.index
        self.start_index = min(self.start_index, self.index)
        self._show_trim()

    # ------------------------------------------------------------ deciding
    def keep(self) -> None:
        recording = self.recording
        if recording is None or self._job is not None:
            return
        self.pause()
        start, end = self.trim_times()
        try:
            part = recording.trimmed(start, end)
        except ClipError as exc:
            self._say(self.tr("That part cannot be kept. Choose another start or end."))
            log.info("trim refused: %s", exc)
            return
        self._set_busy(True)
        self._say(self.tr("Preparing the clip…"))
        relay = self._relay
        job = encode_clip_async(part, progress=lambda done, total: relay.progress.emit(done, total))
        self._job = job

        def finished(future: Future[EncodedClip]) -> None:
            try:
                outcome: object = future.result()
            except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread, which decides
                outcome = exc
            relay.finished.emit(job, outcome)

        job.future.add_done_callback(finished)

    def _encode_progress(self, done: int, total: int) -> None:
        if self._job is not None and total:
            self._say(self.tr("Preparing the clip… %1 %").replace("%1", str(done * 100 // total)))

    def _encoded(self, job: object, outcome: object) -> None:
        if job is not self._job:
            return  # cancelled meanwhile (Remove, a reset): nothing of it is kept
        self._job = None
        self._set_busy(False)
        if isinstance(outcome, EncodedClip):
            draft: ClipDraft = outcome.draft()
            self.clear()
            self.kept.emit(draft)
            return
        if not isinstance(outcome, EncodeCancelledError):
            log.warning("a clip could not be encoded: %s", outcome)
        text = self.tr("The clip could not be prepared. Keep a shorter part, or record again.")
        self._say(text)
        announce(self.status, text)

    def again(self) -> None:
        self.clear()
        self.record_again.emit()

    def remove(self) -> None:
        self.clear()
        self.removed.emit()

    def _say(self, text: str) -> None:
        """A line under the trim controls (progress, a problem); hidden while empty, so the preview gets the room."""
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _set_busy(self, busy: bool) -> None:
        for widget in (
            self.play_button,
            self.scrubber,
            self.start_button,
            self.end_button,
            self.keep_button,
            self.again_button,
        ):
            widget.setEnabled(not busy)

    # ------------------------------------------------------------ the screen
    def reset(self) -> None:
        self.clear()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.recording is not None and self._frame_image is not None:
            self.show_frame(self.index)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        # Escape leaves nothing here: the person decides with Keep, Record again or Remove.
        if event.key() == Qt.Key.Key_Escape:
            event.accept()
            return
        super().keyPressEvent(event)
