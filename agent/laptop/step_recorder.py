"""The step recorder: a small floating tool bar; each Capture adds a step with its caption.

The person works in their own programs and presses Capture (with an optional caption) at each
step; optionally, every mouse click captures by itself, with the click marked on the shot (as
mark-up data the help desk can switch off). Each click step says in words what was clicked
("Left-click 'OK' button in 'Save As'", asked of the accessibility tree by ``agent.pointer_target``
on a thread of its own) and how many keys were typed before it ("Typed 7 keys", never which
ones); the words lead the step's caption, which the person edits or clears in the report window
before sending. Pause stops both; Stop hands the steps, in order, to a report window. The tool
bar is one of the agent's windows, so the capture service hides it for every shot: it never
appears in one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final, Protocol

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QCheckBox, QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from agent.capture import Rect
from agent.laptop.capture_service import Captured, CaptureService, Mode
from agent.laptop.click_hook import KEY_PRESS
from agent.laptop.screens import floating_window_flags, native_geometry
from agent.markup import new_item, suggested_stroke_width
from agent.pointer_target import BackgroundLookups, PointerTarget, PointerTargetFinder, default_finder
from agent.schema import MAX_CAPTION_CHARS, MAX_STEPS, MarkupItem
from agent.steps import SCROLL_BUTTONS, click_line, step_text, typed_keys_line

if TYPE_CHECKING:
    from agent.clips import Recording

log = logging.getLogger(__name__)

CLICK_MARK_PX: Final = 24  # half the side of the square drawn around a click, in desktop pixels


class ClickListener(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


ClickListenerFactory = Callable[[Callable[[int, int, int], None]], ClickListener]


@dataclass(frozen=True)
class RecordedClick:
    """A click that makes a step; ``target`` answers what was under the pointer (None: not asked)."""

    x: int
    y: int
    button: int = 1
    target: Future[PointerTarget | None] | None = field(default=None, compare=False)


class RecorderBar(QWidget):
    """The tool bar: step count, caption, Capture, capture-on-click, Pause, Stop."""

    capture_requested = Signal(str)
    stop_requested = Signal()
    clip_requested = Signal()

    def __init__(self) -> None:
        super().__init__(None, floating_window_flags())
        self.setObjectName("step-recorder")
        self.setWindowTitle("Recording steps — ShowDesk")
        self.setAccessibleName("Step recorder")
        frame = QFrame(self)
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(frame)
        layout = QHBoxLayout(frame)
        layout.setContentsMargins(10, 6, 10, 6)
        self.dot = QLabel("●")
        self.dot.setStyleSheet("color: #e5484d; font-size: 16px;")
        self.count_label = QLabel()
        self.count_label.setObjectName("step-count")
        self.caption_edit = QLineEdit()
        self.caption_edit.setObjectName("step-caption")
        self.caption_edit.setMaxLength(MAX_CAPTION_CHARS)
        self.caption_edit.setPlaceholderText("What are you doing now? (optional)")
        self.caption_edit.setAccessibleName("Caption for the next step")
        self.caption_edit.setMinimumWidth(300)
        self.caption_edit.returnPressed.connect(self._capture)
        self.capture_button = QPushButton("Capture")
        self.capture_button.setObjectName("step-capture")
        self.capture_button.setDefault(True)
        self.capture_button.clicked.connect(self._capture)
        self.on_click_box = QCheckBox("On every click")
        self.on_click_box.setObjectName("step-on-click")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("step-pause")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("step-stop")
        self.stop_button.clicked.connect(self.stop_requested.emit)
        self.clip_button = QPushButton(self.tr("Record a clip"))
        self.clip_button.setObjectName("step-record-clip")
        self.clip_button.setToolTip(self.tr("Record what happens on this monitor; this bar is kept out of the clip"))
        self.clip_button.clicked.connect(self.clip_requested.emit)
        for widget in (
            self.dot,
            self.count_label,
            self.caption_edit,
            self.capture_button,
            self.clip_button,
            self.on_click_box,
            self.pause_button,
            self.stop_button,
        ):
            layout.addWidget(widget)
        self.set_count(0)

    def set_count(self, count: int, clips: int = 0) -> None:
        text = f"{count} step{'s' if count != 1 else ''}"
        if clips:
            text += self.tr(" · %1 clips").replace("%1", str(clips)) if clips != 1 else self.tr(" · 1 clip")
        self.count_label.setText(text)

    def set_paused(self, paused: bool) -> None:
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.capture_button.setEnabled(not paused)
        self.clip_button.setEnabled(not paused)
        self.dot.setStyleSheet(f"color: {'#9ca3af' if paused else '#e5484d'}; font-size: 16px;")

    def _capture(self) -> None:
        if self.capture_button.isEnabled():
            self.capture_requested.emit(self.caption_edit.text().strip())

    def place(self) -> None:
        """Bottom centre of the primary screen, out of the way."""
        self.adjustSize()
        area = QGuiApplication.primaryScreen().availableGeometry()
        self.move(area.center().x() - self.width() // 2, area.bottom() - self.height() - 48)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Escape:
            self.stop_requested.emit()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        event.ignore()  # closing the bar means Stop: the steps are kept
        self.stop_requested.emit()


class _ClickRelay(QObject):
    # Emitted on the listener's thread, delivered on the GUI thread.
    clicked = Signal(int, int, int, object)  # x, y, button, Future[PointerTarget | None]
    key_pressed = Signal()


class StepRecorder(QObject):
    """Records steps until Stop; ``finished`` carries them, in order, with their captions."""

    finished = Signal(object)  # list[Captured]
    step_added = Signal(int)  # number of steps so far
    problem = Signal(str)
    clip_requested = Signal()  # the bar's "Record a clip": the agent records, trims, and hands it back

    def __init__(
        self,
        capture: CaptureService,
        *,
        mode: Mode = "monitor",
        click_listener: ClickListenerFactory | None = None,
        click_problem: str | None = None,
        pointer_targets: PointerTargetFinder | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.capture = capture
        self.mode: Mode = mode
        self.steps: list[Captured] = []
        # Trimmed recordings (agent.clips.Recording), in memory until Stop hands them to a report.
        self.clips: list[Recording] = []
        self.paused = False
        self.recording = False
        self.bar = RecorderBar()
        self.bar.capture_requested.connect(self.capture_step)
        self.bar.stop_requested.connect(self.stop)
        self.bar.clip_requested.connect(self._clip_requested)
        self.bar.pause_button.toggled.connect(self.set_paused)
        self.bar.on_click_box.toggled.connect(self.set_capture_on_click)
        self._make_listener = click_listener
        self._listener: ClickListener | None = None
        self._relay = _ClickRelay(self)
        self._relay.clicked.connect(self._clicked)
        self._relay.key_pressed.connect(self._key_pressed)
        # Made on first use: the finder (None: the platform's) connects to nothing until a click.
        self._finder = pointer_targets
        self._lookups: BackgroundLookups | None = None
        self._keys = 0  # typed since the last step, outside the recorder's own bar
        if click_listener is None or click_problem:
            self.bar.on_click_box.setEnabled(False)
            self.bar.on_click_box.setToolTip(f"Not available here: {click_problem or 'no click listener'}")
        else:
            self.bar.on_click_box.setToolTip("Capture by itself at every mouse click, with the click marked")
        capture.captured.connect(self._captured)
        capture.failed.connect(self._failed)

    # ------------------------------------------------------------ control
    def start(self) -> None:
        if self.recording:
            self.bar.show()
            return
        self.steps = []
        self.clips = []
        self._keys = 0
        self.recording = True
        self.set_paused(False)
        self.bar.set_count(0)
        self.bar.caption_edit.clear()
        self.bar.place()
        self.bar.show()

    def capture_step(self, caption: str = "", click: RecordedClick | None = None) -> bool:
        if not self.recording or self.paused:
            return False
        if len(self.steps) >= MAX_STEPS:
            self.problem.emit(f"a report holds at most {MAX_STEPS} steps; press Stop to send these")
            return False
        point = (click.x, click.y) if click is not None else None
        keys, self._keys = self._keys, 0
        if self.capture.request(self.mode, point=point, tag=("recorder", caption, click, keys)):
            return True
        self._keys += keys  # no step took them: the next one does
        return False

    def _clip_requested(self) -> None:
        if self.recording and not self.paused:
            self.clip_requested.emit()

    def add_clip(self, recording: Recording) -> None:
        """A trimmed clip recorded during these steps; it joins the report at Stop."""
        if not self.recording:
            return
        self.clips.append(recording)
        self.bar.set_count(len(self.steps), len(self.clips))

    def take_clips(self) -> list[Recording]:
        """The clips recorded with the steps just handed over (once)."""
        clips, self.clips = self.clips, []
        return clips

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self.bar.set_paused(paused)
        if paused:
            self._stop_listening()
        elif self.bar.on_click_box.isChecked():
            self._start_listening()

    def set_capture_on_click(self, enabled: bool) -> None:
        if enabled and not self.paused:
            self._start_listening()
        else:
            self._stop_listening()

    def stop(self) -> None:
        if not self.recording:
            return
        self.recording = False
        self._stop_listening()
        self.bar.hide()
        steps, self.steps = self.steps, []
        self.finished.emit(steps)

    def shutdown(self) -> None:
        self._stop_listening()
        lookups, self._lookups = self._lookups, None
        if lookups is not None:
            lookups.close()
        self.recording = False
        self.bar.hide()
        self.bar.deleteLater()

    # ------------------------------------------------------------ clicks
    def _start_listening(self) -> None:
        if self._listener is not None or self._make_listener is None:
            return
        if self._lookups is None:
            self._lookups = BackgroundLookups(self._finder if self._finder is not None else default_finder())
        listener = self._make_listener(self._heard)
        try:
            listener.start()
        except OSError as exc:
            self.bar.on_click_box.setChecked(False)
            self.bar.on_click_box.setEnabled(False)
            self.bar.on_click_box.setToolTip(f"Not available here: {exc}")
            self.problem.emit(f"capturing on every click is not available here: {exc}")
            return
        self._listener = listener

    def _stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()

    def _heard(self, x: int, y: int, button: int) -> None:
        """On the listener's thread: ask what was clicked at once (before the program reacts), never wait."""
        if button == KEY_PRESS:
            self._relay.key_pressed.emit()
        elif button not in SCROLL_BUTTONS:
            lookups = self._lookups
            self._relay.clicked.emit(x, y, button, lookups.request(x, y) if lookups is not None else None)

    def _key_pressed(self) -> None:
        # Keys typed into the recorder's own caption field are the person's words, not a step.
        if self.recording and not self.paused and not self.bar.caption_edit.hasFocus():
            self._keys += 1

    def _clicked(self, x: int, y: int, button: int, target: object = None) -> None:
        if not self.recording or self.paused or self.capture.busy:
            return
        if self.bar.isVisible() and _contains(native_geometry_of(self.bar), x, y):
            return  # a click on the recorder itself is not a step
        answer = target if isinstance(target, Future) else None
        self.capture_step(self.bar.caption_edit.text().strip(), RecordedClick(x, y, button, answer))

    # ------------------------------------------------------------ results
    def _captured(self, captured: list[Captured], tag: object) -> None:
        if not (isinstance(tag, tuple) and tag and tag[0] == "recorder"):
            return
        _, caption, click, keys = tag
        lines = [typed_keys_line(keys)] if keys else []
        if isinstance(click, RecordedClick):
            lines.append(click_line(click.button, click.x, click.y, self._target_of(click)))
        text = step_text(lines, str(caption))
        for item in captured:
            draft = replace(item.draft, caption=text[:MAX_CAPTION_CHARS])
            if isinstance(click, RecordedClick):
                draft.markup = [*draft.markup, click_mark(click, item)]
            self.steps.append(Captured(draft, item.region))
        self.bar.caption_edit.clear()
        self.bar.set_count(len(self.steps), len(self.clips))
        self.step_added.emit(len(self.steps))

    def _target_of(self, click: RecordedClick) -> PointerTarget | None:
        """The lookup's answer; it was asked at the click, so it is (nearly always) here by now.

        The wait is bounded by the lookup's budget: a slow accessibility tree costs a step its
        name, never the recorder its responsiveness.
        """
        if click.target is None:
            return None
        budget = self._lookups.budget_s if self._lookups is not None else 0.0
        try:
            return click.target.result(timeout=budget)
        except FutureTimeoutError:
            return None
        except Exception as exc:  # noqa: BLE001 - a failed lookup leaves the step without a name, no more
            log.debug("no name for the click: %s", exc)
            return None

    def _failed(self, reason: str, tag: object) -> None:
        if isinstance(tag, tuple) and tag and tag[0] == "recorder":
            self.problem.emit(reason)


def click_mark(click: RecordedClick, captured: Captured) -> MarkupItem:
    """A red square around the click, in the step image's pixels."""
    region = captured.region
    draft = captured.draft
    scale_x = draft.width / region.width if region.width else 1.0
    scale_y = draft.height / region.height if region.height else 1.0
    x = (click.x - region.left) * scale_x
    y = (click.y - region.top) * scale_y
    half = CLICK_MARK_PX * scale_x
    width = suggested_stroke_width(draft.width, draft.height)
    left, top = max(0.0, x - half), max(0.0, y - half)
    right, bottom = min(float(draft.width), x + half), min(float(draft.height), y + half)
    return new_item("rectangle", [(left, top), (right, bottom)], stroke_width=width)


def native_geometry_of(widget: QWidget) -> Rect:
    screen = widget.screen()
    frame = widget.frameGeometry()
    screen_rect = native_geometry(screen)
    ratio = screen_rect.width / max(1, screen.geometry().width())
    origin = screen.geometry().topLeft()
    return Rect(
        round(origin.x() + (frame.x() - origin.x()) * ratio),
        round(origin.y() + (frame.y() - origin.y()) * ratio),
        round(frame.width() * ratio),
        round(frame.height() * ratio),
    )


def _contains(rect: Rect, x: int, y: int) -> bool:
    return rect.left <= x < rect.right and rect.top <= y < rect.bottom
