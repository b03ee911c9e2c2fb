""" "Show me on this kiosk": an allowed app under a small floating capture bar.

The kiosk starts the app itself (never a shell), steps aside, and shows the capture bar
on top. Capture hides the bar, lets the window system repaint what was under it, grabs
the kiosk's screen on a dedicated capture thread (which owns the one ``Capturer``),
encodes it there and hands a ``StepDraft`` back; only then does the bar come back, so
it never appears in a shot. Done closes the apps the kiosk started and comes back.

Record films the kiosk's screen (``agent.clips.ClipRecorder``, 5 frames a second, up to
``[kiosk] clip_seconds``) while the bar stays on screen with a countdown and a big Stop: the
bar cannot hide five times a second, so its rectangle is given to the recorder, which blacks
it out of every frame right after the grab. When the bar moves (dragged, or taller with its
keyboard), the recorder is told its new place *before* the window moves, so no frame can catch
it between the two. Stop hands the recording (frames in memory) to the clip review screen.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, QPoint, QProcess, QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QMoveEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLayout, QLineEdit, QVBoxLayout, QWidget

from agent.bundle import StepDraft
from agent.capture import Rect
from agent.clips import DEFAULT_FPS, CaptureTarget, ClipError, ClipRecorder
from agent.schema import MAX_CAPTION_CHARS
from kiosk.idle import IdleOverlay, IdleWatcher
from kiosk.keyboard import OnScreenKeyboard
from kiosk.settings import AllowedApp
from kiosk.theme import MIN_TARGET_PX
from kiosk.widgets import bring_to_front, make_button, make_label, set_role, set_text
from shared_qt.grab_thread import GrabThread

log = logging.getLogger(__name__)

# Time for the window system to unmap the bar and repaint what was under it.
SETTLE_MS = 150
KEEP_ON_TOP_MS = 500
_STOP_GRACE_MS = 2000
# "It worked": the bar lights up this long after a capture, with the new step's thumbnail.
FLASH_MS = 350
THUMB_SIZE = (112, 70)
# How often the countdown of a recording's remaining seconds is brought up to date.
COUNTDOWN_TICK_MS = 250
# Blacked out around the bar's window too: a stray pixel of its edge (or its shadow) stays out.
EXCLUSION_MARGIN_PX = 2
# A press that moves less than this is a tap, not the start of a drag.
DRAG_START_PX = 8


class _Flash(QWidget):
    """A white veil over the bar for a moment after a capture (the bar is never in a shot, so neither is this)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("capture-flash")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def flash(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.show()
        self.raise_()
        self._timer.start(FLASH_MS)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(255, 255, 255, 200))
        painter.end()


class CaptureBar(QWidget):
    """The floating bar: a caption field, Capture (the one primary action) and Done."""

    capture_requested = Signal(str)
    done_requested = Signal()
    record_requested = Signal()
    stop_requested = Signal()
    # The bar is about to take ``new`` (desktop coordinates) while it is at ``old``: a recording
    # must black out both before the window moves.
    geometry_changing = Signal(QRect, QRect)
    geometry_changed = Signal()

    def __init__(self, language: Callable[[], str] = lambda: "en") -> None:
        flags = Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint
        if QGuiApplication.platformName() != "offscreen":  # that test platform has no stacking order
            flags = Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
        super().__init__(None, flags)
        self.setObjectName("CaptureBar")
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, False)
        frame = QFrame(self)
        set_role(frame, "card")
        outer = self._outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        outer.addWidget(frame)
        # The bar is its own window over the app, out of reach of the kiosk window's keyboard:
        # it carries one of its own, so a caption can be typed on a touch-only kiosk too.
        self.keyboard = OnScreenKeyboard(language)
        self.keyboard.set_key_height(MIN_TARGET_PX)
        self.keyboard.hide()
        self.keyboard.hide_requested.connect(self.hide_keyboard)
        outer.addWidget(self.keyboard)
        self._screen_rect: QRect | None = None
        layout = QHBoxLayout(frame)
        layout.setContentsMargins(20, 12, 20, 12)
        layout.setSpacing(16)
        self.thumbnail = QLabel()
        self.thumbnail.setObjectName("last-capture")
        self.thumbnail.setFixedSize(*THUMB_SIZE)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        set_role(self.thumbnail, "thumb")
        self.thumbnail.hide()
        layout.addWidget(self.thumbnail)
        self.count_label = make_label("hint", wrap=False)
        layout.addWidget(self.count_label)
        self.caption_edit = QLineEdit()
        self.caption_edit.setObjectName("caption")
        self.caption_edit.setMaxLength(MAX_CAPTION_CHARS)
        self.caption_edit.setMinimumWidth(520)
        self.caption_edit.returnPressed.connect(self._capture)
        self.caption_edit.installEventFilter(self)
        layout.addWidget(self.caption_edit, 1)
        self.capture_button = make_button("primary", object_name="capture")
        self.capture_button.clicked.connect(self._capture)
        layout.addWidget(self.capture_button)
        self.record_button = make_button("primary", object_name="record")
        self.record_button.clicked.connect(self._record)
        layout.addWidget(self.record_button)
        # While recording: a red dot with the seconds left, large enough to read from a step
        # back, and a Stop as big as the bar allows.
        self.remaining_label = make_label("hero", wrap=False)
        self.remaining_label.setObjectName("clip-remaining")
        self.remaining_label.hide()
        layout.addWidget(self.remaining_label, 1)
        self.stop_button = make_button("hero", object_name="stop-recording")
        self.stop_button.setMinimumWidth(320)
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_button.hide()
        layout.addWidget(self.stop_button)
        self.done_button = make_button(object_name="done")
        self.done_button.clicked.connect(self.done_requested)
        layout.addWidget(self.done_button)
        self.flash = _Flash(self)
        self._recording = False
        self._remaining = 0
        self._clips = 0
        self._record_allowed = False
        self._drag_from: QPoint | None = None
        self._drag_origin = QPoint()
        self._dragging = False
        self.set_count(0)

    def set_count(self, count: int, clips: int | None = None) -> None:
        self._count = count
        if clips is not None:
            self._clips = clips
        self._problem = False
        self.retranslate()

    def allow_recording(self, allowed: bool) -> None:
        """Offer Record (a screen to record and room for one more clip) or not."""
        self._record_allowed = allowed
        self.record_button.setVisible(allowed and not self._recording)

    def set_recording(self, recording: bool) -> None:
        """Switch between the bar's two faces: capturing steps, and a recording under way."""
        self._recording = recording
        for widget in (self.count_label, self.caption_edit, self.capture_button, self.done_button):
            widget.setVisible(not recording)
        if recording:
            self.thumbnail.hide()
            self.hide_keyboard()
        elif not self.thumbnail.pixmap().isNull():
            self.thumbnail.show()
        self.record_button.setVisible(self._record_allowed and not recording)
        self.remaining_label.setVisible(recording)
        self.stop_button.setVisible(recording)
        self.stop_button.setEnabled(True)
        self.retranslate()
        if recording:
            self.stop_button.setFocus()

    def set_remaining(self, seconds: int) -> None:
        self._remaining = max(0, seconds)
        self.retranslate()

    @property
    def recording(self) -> bool:
        return self._recording

    def show_captured(self, draft: StepDraft) -> None:
        """A step was just captured: a flash and its thumbnail, so the person sees it worked."""
        image = QImage.fromData(draft.image)
        if not image.isNull():
            self.thumbnail.setPixmap(
                QPixmap.fromImage(
                    image.scaled(
                        self.thumbnail.width() - 6,
                        self.thumbnail.height() - 6,
                        Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                )
            )
            self.thumbnail.setAccessibleName(self.tr("Step %1 captured").replace("%1", str(self._count)))
            self.thumbnail.show()
        self.flash.flash()

    def forget_capture(self) -> None:
        self.thumbnail.clear()
        self.thumbnail.hide()
        self.flash.hide()

    def show_problem(self) -> None:
        """The last capture did not work; the person may try again or finish."""
        self._problem = True
        self.retranslate()

    def retranslate(self) -> None:
        if getattr(self, "_problem", False):
            self.count_label.setText(self.tr("That did not work. Try again?"))
        elif getattr(self, "_clips", 0):
            self.count_label.setText(
                self.tr("%1, %2")
                .replace("%1", self.tr("%n step(s)", "", self._count))
                .replace("%2", self.tr("%n clip(s)", "", self._clips))
            )
        else:
            self.count_label.setText(self.tr("%n step(s)", "", self._count))
        if hasattr(self, "stop_button"):
            set_text(self.record_button, self.tr("● Record"), self.tr("Record the screen"))
            minutes, seconds = divmod(self._remaining, 60)
            clock = f"{minutes}:{seconds:02d}"
            self.remaining_label.setText(self.tr("● Recording, %1 left").replace("%1", clock))
            self.remaining_label.setAccessibleName(self.tr("Recording, %n second(s) left", "", self._remaining))
            set_text(self.stop_button, self.tr("■ Stop"), self.tr("Stop recording"))
        self.caption_edit.setPlaceholderText(self.tr("What happens here? (optional)"))
        self.caption_edit.setAccessibleName(self.tr("Caption for the next capture (optional)"))
        set_text(self.capture_button, self.tr("Capture"))
        set_text(self.done_button, self.tr("Done"), self.tr("Done, back to the kiosk"))

    def set_busy(self, busy: bool) -> None:
        self.capture_button.setEnabled(not busy)
        self.done_button.setEnabled(not busy)
        self.record_button.setEnabled(not busy)

    def show_keyboard(self) -> None:
        self.keyboard.set_target(self.caption_edit)
        if self.keyboard.isHidden():
            self.keyboard.show()
            self._replace()

    def hide_keyboard(self) -> None:
        self.keyboard.set_target(None)
        if not self.keyboard.isHidden():
            self.keyboard.hide()
            self._replace()

    def _replace(self) -> None:
        # Taller or shorter, the bar stays whole on the screen, above its bottom edge.
        if self._screen_rect is not None:
            self.place_on(self._screen_rect)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.caption_edit and event.type() in (
            QEvent.Type.FocusIn,
            QEvent.Type.MouseButtonRelease,
            QEvent.Type.TouchEnd,
        ):
            self.show_keyboard()
        return False

    def place_on(self, screen_rect: QRect) -> None:
        self._screen_rect = QRect(screen_rect)
        self._outer.activate()
        # Wide enough that a caption of a few words shows whole while it is typed.
        width = min(max(self.sizeHint().width(), 1400), screen_rect.width() - 64)
        height = self.sizeHint().height()
        self.set_frame(QRect(screen_rect.center().x() - width // 2, screen_rect.bottom() - height - 32, width, height))

    def set_frame(self, rect: QRect) -> None:
        """Move and size the bar to ``rect``, saying so first (a recording blacks out both places)."""
        old = self.frameGeometry() if self.isVisible() else QRect()
        self.geometry_changing.emit(old, QRect(rect))
        self.setGeometry(rect)

    # ------------------------------------------------------------ dragging the bar out of the way
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        # Presses on the bar's own surface (not on a button or the field) start a drag.
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = event.globalPosition().toPoint()
            self._drag_origin = self.pos()
            self._dragging = False
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._drag_from is None:
            super().mouseMoveEvent(event)
            return
        offset = event.globalPosition().toPoint() - self._drag_from
        if not self._dragging and offset.manhattanLength() < DRAG_START_PX:
            return
        self._dragging = True
        target = QRect(self._drag_origin + offset, self.size())
        if self._screen_rect is not None:  # the whole bar stays on the kiosk's screen
            bounds = self._screen_rect
            target.moveLeft(max(bounds.left(), min(target.left(), bounds.right() + 1 - target.width())))
            target.moveTop(max(bounds.top(), min(target.top(), bounds.bottom() + 1 - target.height())))
        self.set_frame(target)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._drag_from is not None and event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = None
            self._dragging = False
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def moveEvent(self, event: QMoveEvent) -> None:  # noqa: N802 - Qt's name
        super().moveEvent(event)
        self.geometry_changed.emit()

    def _capture(self) -> None:
        if self.capture_button.isEnabled() and not self._recording:
            self.capture_requested.emit(self.caption_edit.text().strip())

    def _record(self) -> None:
        if self.record_button.isEnabled() and not self._recording:
            self.record_requested.emit()

    def clear_caption(self) -> None:
        self.caption_edit.clear()
        self.hide_keyboard()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        # The flash covers the whole bar, whatever width it is placed at.
        self.flash.setGeometry(self.rect())
        super().resizeEvent(event)
        self.geometry_changed.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Escape:
            (self.stop_requested if self._recording else self.done_requested).emit()
            return
        super().keyPressEvent(event)


GrabFunction = Callable[[str], StepDraft]
"""``grab(caption)``: capture the kiosk's screen and return the step; runs on the capture thread."""


class _MssGrab:
    """The grab function around one ``Capturer``; closing it lets go of the capturer's screen buffer."""

    def __init__(self, display: str | None, monitor: int) -> None:
        from agent.capture import Capturer

        self._capturer = Capturer(display)
        self._monitor = monitor

    def __call__(self, caption: str) -> StepDraft:
        from agent.encoding import KIOSK_CAPTURE_FORMAT, EncodedImage, encode, step_draft

        count = len(self._capturer.monitors())
        shot = self._capturer.capture_monitor(self._monitor if 1 <= self._monitor <= count else 1)
        # No more than two full-size copies of the screen at once: the raw pixels go as soon as
        # Pillow has its own, and Pillow's as soon as the encoder is done (bench/kiosk_soak.py).
        facts = step_draft(shot, EncodedImage(b"", "image/png", shot.width, shot.height), caption=caption)
        image = shot.image()
        del shot
        encoded = encode(image, KIOSK_CAPTURE_FORMAT)
        image.close()
        return dataclasses.replace(facts, image=encoded.data, width=encoded.width, height=encoded.height)

    def close(self) -> None:
        # The X capture keeps a shared-memory segment the size of the screen (8 MB at 1080p)
        # for as long as it is open.
        self._capturer.close()


class _MssGrabFactory:
    """Makes the grab function on the capture thread; says what a clip records (the same screen)."""

    def __init__(self, display: str | None, monitor: int) -> None:
        self.display = display
        self.monitor = monitor

    def __call__(self) -> GrabFunction:
        return _MssGrab(self.display, self.monitor)

    @property
    def clip_target(self) -> CaptureTarget:
        return CaptureTarget(monitor=self.monitor, display=self.display)


def mss_grabber(display: str | None, monitor: int) -> Callable[[], GrabFunction]:
    """A factory, called on the capture thread, of a grab function around one ``Capturer``."""
    return _MssGrabFactory(display, monitor)


def clip_target_of(grab_factory: object) -> CaptureTarget | None:
    """What Record films for a kiosk that captures with ``grab_factory``: its screen, or None
    (a stand-in grab function of a test or a photo-only kiosk records nothing)."""
    target = getattr(grab_factory, "clip_target", None)
    return target if isinstance(target, CaptureTarget) else None


def _close_grab(grab: GrabFunction) -> None:
    close = getattr(grab, "close", None)
    if callable(close):
        close()


class ScreenGrabber(GrabThread[GrabFunction]):
    """The kiosk's capture thread; ``request(caption)`` → ``grabbed(StepDraft)`` or ``failed(str)``.

    ``let_go()`` after a "show me": the capturer is closed (after a capture under way) and
    opened again by the next capture, so nothing of it stays resident between visits.
    """

    grabbed = Signal(object)
    failed = Signal(str)

    def __init__(self, make_grab: Callable[[], GrabFunction], parent: QObject | None = None) -> None:
        super().__init__(make_grab, close_tool=_close_grab, thread_name="kiosk-capture", parent=parent)

    def request(self, caption: str) -> None:
        self.run(lambda grab: grab(caption), self.grabbed.emit, self._failed)

    def _failed(self, exc: Exception) -> None:
        # Any failure goes back to the person as "did not work"; the cause goes to the log.
        log.warning("capture failed: %s", exc)
        self.failed.emit(str(exc))


class ShowMeController(QObject):
    """Runs one "show me": start the app, the bar, captures, and the way back."""

    handing_over = Signal()  # the kiosk window should step aside
    taking_back = Signal()  # … and come back
    step_captured = Signal(object)  # StepDraft
    capture_failed = Signal(str)
    launch_failed = Signal(str)
    clip_recorded = Signal(object)  # agent.clips.Recording: to the clip review screen
    recording_failed = Signal(str)
    _recording_ended = Signal(str)  # from the capture thread: a cap or an error ended it

    def __init__(
        self,
        grabber: ScreenGrabber,
        screen_rect: Callable[[], QRect],
        parent: QObject | None = None,
        *,
        language: Callable[[], str] = lambda: "en",
        clip_target: CaptureTarget | None = None,
        clip_seconds: float = 30.0,
        clip_room: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__(parent)
        self.grabber = grabber
        self._screen_rect = screen_rect
        self.bar = CaptureBar(language)
        self.bar.capture_requested.connect(self.capture)
        self.bar.done_requested.connect(self.finish)
        self.bar.record_requested.connect(self.start_recording)
        self.bar.stop_requested.connect(self.stop_recording)
        self.bar.geometry_changing.connect(self._bar_moving)
        self.bar.geometry_changed.connect(self._bar_moved)
        self.clip_target = clip_target
        self.clip_seconds = clip_seconds
        self._clip_room = clip_room
        self.recorder: ClipRecorder | None = None
        self._recording_ended.connect(self._ended_by_itself, Qt.ConnectionType.QueuedConnection)
        self._countdown_tick = QTimer(self)
        self._countdown_tick.setInterval(COUNTDOWN_TICK_MS)
        self._countdown_tick.timeout.connect(self._tick)
        self.clips = 0
        self._idle: IdleWatcher | None = None
        # The idle warning while the kiosk window is away: over the app, like the bar.
        self.countdown = IdleOverlay(None)
        self.countdown.setObjectName("idle-overlay-over-app")
        grabber.grabbed.connect(self._grabbed)
        grabber.failed.connect(self._failed)
        self._processes: list[QProcess] = []
        self._pending_caption: str | None = None
        # "Stay on top" is a window manager's promise; where none keeps it (a bare X server),
        # the bar raises itself over windows the app opens later.
        self._keep_on_top = QTimer(self)
        self._keep_on_top.setInterval(KEEP_ON_TOP_MS)
        self._keep_on_top.timeout.connect(self._raise_bar)
        self.active = False
        self.count = 0

    def watch_idle(self, idle: IdleWatcher) -> None:
        """Show ``idle``'s countdown over the app while one is open; "I'm still here" goes back to it."""
        self._idle = idle
        idle.countdown_started.connect(self.show_countdown)
        idle.countdown_tick.connect(self.countdown.set_remaining)
        idle.countdown_cancelled.connect(self.countdown.hide)
        self.countdown.still_here.connect(idle.poke)

    def show_countdown(self, seconds: int) -> None:
        if not self.active:
            return
        self.countdown.place_on(self._screen_rect())
        if self.recorder is not None:  # the warning is ShowDesk's own window: out of the clip too
            self.recorder.set_excluded(self._excluded(self.bar.frameGeometry(), self.countdown.frameGeometry()))
        self.countdown.show_countdown(seconds)

    def start(self, app: AllowedApp, steps_so_far: int, clips_so_far: int = 0) -> None:
        process = QProcess(self)
        process.setProgram(app.command[0])
        process.setArguments(list(app.command[1:]))
        process.errorOccurred.connect(lambda _error, p=process: self._launch_error(p))
        self._processes.append(process)
        process.start()
        self.active = True
        self.count = steps_so_far
        self.clips = clips_so_far
        self.bar.set_count(steps_so_far, clips_so_far)
        self.bar.set_recording(False)
        self._offer_recording()
        self.bar.forget_capture()
        self.bar.clear_caption()
        self.bar.set_busy(False)
        self.handing_over.emit()
        self.bar.place_on(self._screen_rect())
        self.bar.show()
        bring_to_front(self.bar)
        self.bar.capture_button.setFocus()
        self._keep_on_top.start()

    def capture(self, caption: str) -> None:
        if not self.active or self._pending_caption is not None or self.recorder is not None:
            return
        self._pending_caption = caption
        self.bar.set_busy(True)
        self.bar.flash.hide()
        self.bar.hide()
        QGuiApplication.sync()
        QTimer.singleShot(SETTLE_MS, lambda: self.grabber.request(caption))

    def _grabbed(self, draft: object) -> None:
        if self._pending_caption is None:
            return
        self._pending_caption = None
        self.count += 1
        self._bar_back()
        if isinstance(draft, StepDraft) and self.active:
            self.bar.show_captured(draft)
        self.step_captured.emit(draft)

    def _failed(self, reason: str) -> None:
        if self._pending_caption is None:
            return
        self._pending_caption = None
        self._bar_back()
        self.bar.show_problem()
        self.capture_failed.emit(reason)

    def _bar_back(self) -> None:
        if not self.active:
            return
        self.bar.set_count(self.count, self.clips)
        self._offer_recording()
        self.bar.clear_caption()
        self.bar.set_busy(False)
        self.bar.show()
        bring_to_front(self.bar)
        self.bar.caption_edit.setFocus()

    def _raise_bar(self) -> None:
        if self.active and self.bar.isVisible():
            bring_to_front(self.bar, activate=False)  # never take the keyboard from the app
        if self.active and self.countdown.isVisible():
            bring_to_front(self.countdown, activate=False)

    def _launch_error(self, process: QProcess) -> None:
        if process.error() == QProcess.ProcessError.FailedToStart:
            self.launch_failed.emit(process.errorString())
            self.finish()

    # ------------------------------------------------------------ recording a clip
    def _offer_recording(self) -> None:
        self.bar.allow_recording(self.clip_target is not None and self._clip_room())

    def _excluded(self, *rects: QRect) -> list[Rect]:
        """The bar's rectangles (and the idle warning's, when it shows) in screen pixels, a little larger."""
        shown = [*rects]
        if self.countdown.isVisible():
            shown.append(self.countdown.frameGeometry())
        ratio = self.bar.devicePixelRatioF()
        margin = EXCLUSION_MARGIN_PX
        excluded = []
        for rect in shown:
            if rect.isEmpty():
                continue
            left, top = math.floor(rect.x() * ratio) - margin, math.floor(rect.y() * ratio) - margin
            right = math.ceil((rect.x() + rect.width()) * ratio) + margin
            bottom = math.ceil((rect.y() + rect.height()) * ratio) + margin
            excluded.append(Rect(left, top, right - left, bottom - top))
        return excluded

    def _bar_moving(self, old: QRect, new: QRect) -> None:
        if self.recorder is not None:
            self.recorder.set_excluded(self._excluded(old, new))

    def _bar_moved(self) -> None:
        if self.recorder is not None:
            self.recorder.set_excluded(self._excluded(self.bar.frameGeometry()))

    def start_recording(self) -> None:
        """Record: film the kiosk's screen, the bar blacked out, until Stop or ``clip_seconds``."""
        target = self.clip_target
        if not self.active or target is None or self.recorder is not None or self._pending_caption is not None:
            return
        if not self._clip_room():
            return
        recorder = ClipRecorder(
            target,
            fps=DEFAULT_FPS,
            max_seconds=self.clip_seconds,
            excluded=self._excluded(self.bar.frameGeometry()),
            on_stopped=lambda reason, _message: self._recording_ended.emit(reason),
        )
        try:
            recorder.start()
        except ClipError as exc:
            log.warning("recording could not start: %s", exc)
            self.bar.show_problem()
            self.recording_failed.emit(str(exc))
            return
        self.recorder = recorder
        self.bar.set_recording(True)
        self._tick()
        self._countdown_tick.start()

    def _tick(self) -> None:
        if self.recorder is not None:
            # Someone is recording, watching the screen without touching it: not an idle kiosk.
            # The recording ends by itself within clip_seconds.
            if self._idle is not None:
                self._idle.poke()
            self.bar.set_remaining(math.ceil(max(0.0, self.clip_seconds - self.recorder.progress.seconds)))

    def _ended_by_itself(self, reason: str) -> None:
        log.info("a recording ended by itself (%s)", reason)
        self.stop_recording()

    def stop_recording(self) -> None:
        """Stop: the recording goes to ``clip_recorded`` (the review), the bar back to capturing."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return
        self._countdown_tick.stop()
        self.bar.set_recording(False)
        try:
            recording = recorder.stop()
        except ClipError as exc:
            log.warning("the recording holds nothing: %s", exc)
            self.bar.show_problem()
            self.recording_failed.emit(str(exc))
            return
        self.clip_recorded.emit(recording)

    def cancel_recording(self) -> None:
        """End a recording under way and forget its frames (Done, an idle wipe)."""
        recorder, self.recorder = self.recorder, None
        self._countdown_tick.stop()
        if recorder is not None:
            recorder.cancel()
            self.bar.set_recording(False)

    def step_aside(self) -> None:
        """The kiosk window comes over the app for a moment (the clip review); the app keeps running."""
        self._keep_on_top.stop()
        self.bar.hide()
        self.countdown.hide()

    def come_back(self, clips: int) -> None:
        """Back over the app after the review, with the clips kept so far counted on the bar."""
        if not self.active:
            return
        self.clips = clips
        self._bar_back()
        self._keep_on_top.start()

    def finish(self) -> None:
        """Done: close what the kiosk started and come back (also on an idle wipe)."""
        if not self.active:
            return
        self.active = False
        self._pending_caption = None
        self.cancel_recording()
        self._keep_on_top.stop()
        self.bar.hide()
        self.countdown.hide()
        self.stop_apps()
        self.grabber.let_go()
        self.taking_back.emit()

    def stop_apps(self) -> None:
        for process in self._processes:
            if process.state() != QProcess.ProcessState.NotRunning:
                process.terminate()
                if not process.waitForFinished(_STOP_GRACE_MS):
                    process.kill()
                    process.waitForFinished(_STOP_GRACE_MS)
            process.deleteLater()
        self._processes = []

    def running_apps(self) -> Sequence[QProcess]:
        return tuple(p for p in self._processes if p.state() != QProcess.ProcessState.NotRunning)
