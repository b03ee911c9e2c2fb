"""The report window: the captures with their mark-up, clips, what went wrong, the system information, Send.

It is shown only after the screen was captured (the agent's windows never appear in a shot);
"Add a capture" hides it again for the next one. The window edits a ``ReportDraft`` and hands
it to a ``Submission``; it holds no business logic of its own: freezing the report, the outbox
and the sending happen in the core, off this thread.

Clips (``Record a clip``, or the instant replay's "Add what just happened") are trimmed in
``shared_qt.clip_trim``, shown and given black boxes in ``clip_panel``, and encoded off this thread
by ``clip_encoding``; the draft keeps each one's recording in memory until the report is sent or
dropped.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from agent.clips import EncodedClip, Recording
from agent.laptop.capture_service import Captured
from agent.laptop.clip_encoding import ClipEncoding
from agent.laptop.clip_panel import ClipPanel
from agent.laptop.report_draft import MAX_EMAIL_CHARS, DraftClip, DraftError, ReportDraft, ReportForm, freeze
from agent.laptop.submission import Submission
from agent.laptop.sysinfo_preview import SysinfoPreview
from agent.markup import MarkupError
from agent.outbox import Receipt
from agent.schema import (
    MAX_CAPTION_CHARS,
    MAX_CLIPS,
    MAX_DESCRIPTION_CHARS,
    MAX_SHORT_TEXT_CHARS,
    MAX_STEPS,
    MarkupItem,
)
from agent.steps import EditableStep
from shared_qt.clip_trim import ClipTrimDialog
from shared_qt.markup_editor import MarkupEditor
from shared_qt.workers import BackgroundRunner

log = logging.getLogger(__name__)

THUMBNAIL: Final = QSize(160, 100)
DELAYS: Final = (0, 3, 5, 10)
CAPTURE_LABELS: Final = {
    "all": "All monitors",
    "monitor": "The monitor under the mouse",
    "region": "A region…",
}
SysinfoCollector = Callable[[list[dict[str, Any]]], dict[str, object]]


def _thumbnail(data: bytes) -> QImage:
    """A small picture of a step, decoded by the core (runs on a worker thread)."""
    from agent.markup import open_image

    image = open_image(data).convert("RGB")
    image.thumbnail((THUMBNAIL.width(), THUMBNAIL.height()))
    return QImage(image.tobytes(), image.width, image.height, image.width * 3, QImage.Format.Format_RGB888).copy()


class ReportWindow(QWidget):
    """One report being written. ``capture_requested(mode, delay)`` asks the agent for another capture.

    A little over 400 lines: it lays out and wires the form, the step strip, the system
    information preview and the send progress; the rules they follow live in ``report_draft``
    and ``shared_qt.submission``, not here.
    """

    capture_requested = Signal(str, int)
    record_requested = Signal(str)  # "monitor" or "region": record a clip
    replay_requested = Signal()  # "Add what just happened": the instant replay's last seconds
    clip_added = Signal(int)  # index in draft.clips, once the person kept a trimmed clip
    clip_ready = Signal(int)  # index in draft.clips, once its encoding (with its black boxes) is done
    closed = Signal()
    sent = Signal(str)  # report id, once it is safely queued
    exported = Signal(str)  # the path of a web page written by "Export as web page"

    def __init__(
        self,
        submission: Submission,
        *,
        categories: Sequence[str] = (),
        contact: tuple[str, str] = ("", ""),
        collect_sysinfo: SysinfoCollector | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("report-window")
        self.setWindowTitle("Report a problem — ShowDesk")
        self.draft = ReportDraft()
        self.submission = submission
        self._collect_sysinfo = collect_sysinfo
        self._sysinfo_started = False
        self._current: int | None = None
        self._runner = BackgroundRunner(self, max_threads=1)

        # -- the captures
        self.steps_list = QListWidget()
        self.steps_list.setObjectName("steps")
        self.steps_list.setAccessibleName("Captures in this report")
        self.steps_list.setIconSize(THUMBNAIL)
        self.steps_list.setMinimumWidth(THUMBNAIL.width() + 40)
        self.steps_list.currentRowChanged.connect(self._select)
        self.add_button = QToolButton()
        self.add_button.setObjectName("add-capture")
        self.add_button.setText("Add a capture")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        capture_menu = QMenu(self.add_button)
        self.capture_actions: dict[str, QAction] = {}
        for mode, label in CAPTURE_LABELS.items():
            action = capture_menu.addAction(label)
            action.setObjectName(f"capture-{mode}")
            action.triggered.connect(lambda _checked=False, m=mode: self.request_capture(m))
            self.capture_actions[mode] = action
        self.add_button.setMenu(capture_menu)
        self.delay_combo = QComboBox()
        self.delay_combo.setObjectName("capture-delay")
        self.delay_combo.setAccessibleName("Wait before capturing")
        for delay in DELAYS:
            self.delay_combo.addItem("No delay" if delay == 0 else f"After {delay} s", delay)
        self.delay_combo.setToolTip("Wait before capturing, to open a menu that closes when you click elsewhere")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("remove-step")
        self.remove_button.clicked.connect(self.remove_current_step)
        # -- clips: recorded here, or the instant replay's last seconds
        self.clips_list = QListWidget()
        self.clips_list.setObjectName("clips")
        self.clips_list.setAccessibleName(self.tr("Clips in this report"))
        self.clips_list.setMaximumHeight(120)
        self.clips_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.clips_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.clips_list.currentRowChanged.connect(self._select_clip)
        self.record_button = QToolButton()
        self.record_button.setObjectName("record-clip")
        self.record_button.setText(self.tr("Record a clip"))
        self.record_button.setToolTip(self.tr("Record what happens on the screen, to show what moves"))
        self.record_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.record_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        record_menu = QMenu(self.record_button)
        self.record_actions: dict[str, QAction] = {}
        for mode, label in (
            ("monitor", self.tr("The monitor under the mouse")),
            ("region", self.tr("A region…")),
        ):
            action = record_menu.addAction(label)
            action.setObjectName(f"record-{mode}")
            action.triggered.connect(lambda _checked=False, m=mode: self.request_recording(m))
            self.record_actions[mode] = action
        self.record_button.setMenu(record_menu)
        self.replay_button = QPushButton(self.tr("Add what just happened"))
        self.replay_button.setObjectName("add-replay")
        self.replay_button.setToolTip(
            self.tr("Add the instant replay's last seconds as a clip; you trim it and see it before anything is sent")
        )
        self.replay_button.clicked.connect(self.replay_requested.emit)
        self.replay_button.hide()
        steps_column = QVBoxLayout()
        steps_column.addWidget(QLabel("Captures"))
        steps_column.addWidget(self.steps_list, 1)
        steps_column.addWidget(self.add_button)
        steps_column.addWidget(self.delay_combo)
        steps_column.addWidget(self.remove_button)
        steps_column.addWidget(QLabel(self.tr("Clips")))
        steps_column.addWidget(self.clips_list)
        steps_column.addWidget(self.record_button)
        steps_column.addWidget(self.replay_button)
        steps_panel = QWidget()
        steps_panel.setLayout(steps_column)

        # -- the mark-up of the selected capture
        self.editor = MarkupEditor(show_labels=False)
        self.editor.setObjectName("markup-editor")
        self.caption_edit = QLineEdit()
        self.caption_edit.setObjectName("caption")
        self.caption_edit.setMaxLength(MAX_CAPTION_CHARS)
        self.caption_edit.setPlaceholderText("Caption for this capture (optional)")
        self.caption_edit.setAccessibleName("Caption for this capture")
        self.caption_edit.textChanged.connect(self._caption_changed)
        editor_column = QVBoxLayout()
        editor_column.addWidget(self.editor, 1)
        editor_column.addWidget(self.caption_edit)
        editor_panel = QWidget()
        editor_panel.setLayout(editor_column)

        # -- what went wrong, who, system information, send
        self.description_edit = QPlainTextEdit()
        self.description_edit.setObjectName("description")
        self.description_edit.setPlaceholderText("What went wrong? What did you expect to happen?")
        self.description_edit.setAccessibleName("Description of the problem")
        self.description_edit.setTabChangesFocus(True)
        self.category_combo = QComboBox()
        self.category_combo.setObjectName("category")
        self.category_combo.setEditable(True)
        self.category_combo.setAccessibleName("Category")
        self.category_combo.addItems(["", *categories])
        line_edit = self.category_combo.lineEdit()
        if line_edit is not None:
            line_edit.setMaxLength(MAX_SHORT_TEXT_CHARS)
            line_edit.setPlaceholderText("Choose or type")
        self.name_edit = QLineEdit(contact[0])
        self.name_edit.setObjectName("name")
        self.name_edit.setMaxLength(MAX_SHORT_TEXT_CHARS)
        self.name_edit.setPlaceholderText("optional, so the help desk knows who you are")
        self.email_edit = QLineEdit(contact[1])
        self.email_edit.setObjectName("email")
        self.email_edit.setMaxLength(MAX_EMAIL_CHARS)
        self.email_edit.setPlaceholderText("optional, for a reply")
        form = QFormLayout()
        form.addRow("What went wrong?", self.description_edit)
        form.addRow("Category", self.category_combo)
        form.addRow("Your name", self.name_edit)
        form.addRow("E-mail", self.email_edit)
        self.sysinfo_preview = SysinfoPreview()
        self.sysinfo_preview.excluded_changed.connect(self._excluded_changed)
        sysinfo_box = QGroupBox("System information")
        sysinfo_layout = QVBoxLayout(sysinfo_box)
        sysinfo_layout.addWidget(self.sysinfo_preview)
        self.status_label = QLabel("")
        self.status_label.setObjectName("status")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.status_label.setOpenExternalLinks(True)
        self.progress = QProgressBar()
        self.progress.setObjectName("progress")
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("send")
        self.send_button.setDefault(True)
        self.send_button.setToolTip("Send the report (Ctrl+Enter)")
        self.send_button.clicked.connect(self.send)
        self.close_button = QPushButton("Cancel")
        self.close_button.setObjectName("close")
        self.close_button.clicked.connect(self.close)
        self.export_button = QPushButton(self.tr("Export as web page…"))
        self.export_button.setObjectName("export-html")
        self.export_button.setToolTip(
            self.tr("Save the report as one web page (pictures, captions, steps) to send it yourself")
        )
        self.export_button.clicked.connect(self._choose_export_path)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.send_button)
        side_column = QVBoxLayout()
        side_column.addLayout(form)
        side_column.addWidget(sysinfo_box, 1)
        side_column.addWidget(self.status_label)
        side_column.addWidget(self.progress)
        side_column.addLayout(buttons)
        side_panel = QWidget()
        side_panel.setLayout(side_column)
        side_panel.setMinimumWidth(380)

        self.clip_panel = ClipPanel()
        self.clip_panel.redactions_applied.connect(self._redactions_applied)
        self.clip_panel.remove_requested.connect(self.remove_current_clip)
        self.clip_panel.caption_changed.connect(self._clip_caption_changed)
        self.centre = QStackedWidget()
        self.centre.addWidget(editor_panel)
        self.centre.addWidget(self.clip_panel)
        self._encodings: dict[DraftClip, ClipEncoding] = {}
        self._current_clip: int | None = None
        self.trim_dialog: ClipTrimDialog | None = None

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(steps_panel)
        splitter.addWidget(self.centre)
        splitter.addWidget(side_panel)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        send_shortcut = QShortcut(QKeySequence("Ctrl+Return"), self)
        send_shortcut.activated.connect(self.send)
        self.resize(1280, 800)

        submission.setParent(self)
        submission.queued.connect(self._queued)
        submission.progress.connect(self._progress)
        submission.delivered.connect(self._delivered)
        submission.waiting.connect(self._waiting)
        submission.refused.connect(self._refused)
        submission.failed.connect(self._failed)
        self._update_buttons()

    # ------------------------------------------------------------ steps
    def add_captures(self, captured: Sequence[Captured]) -> None:
        """Add captured steps (the agent calls this after each capture) and show the first new one."""
        try:
            indexes = self.draft.add_steps([EditableStep.from_step_draft(c.draft) for c in captured])
        except DraftError as exc:
            self.show_problem(str(exc))
            return
        for index in indexes:
            step = self.draft.steps[index]
            item = QListWidgetItem(self._step_label(index))
            item.setSizeHint(QSize(THUMBNAIL.width() + 20, THUMBNAIL.height() + 30))
            self.steps_list.addItem(item)
            self._make_thumbnail(item, step.image)
        if indexes:
            first = indexes[0]
            if self.isVisible():
                self.steps_list.setCurrentRow(first)
            else:
                # Show the window first and decode the picture for mark-up right after: the person
                # sees the window at once, the picture a moment later.
                QTimer.singleShot(0, lambda: self.steps_list.setCurrentRow(first))
        if len(captured) > len(indexes):
            self.show_problem(f"a report holds at most {MAX_STEPS} captures; the others were left out")
        self.start_sysinfo(captured)
        self._update_buttons()

    def _step_label(self, index: int) -> str:
        step = self.draft.steps[index]
        where = step.monitor.name if step.monitor is not None and step.monitor.name else ""
        return f"{index + 1}. {step.caption or where or f'{step.width}×{step.height}'}"[:60]

    def _make_thumbnail(self, item: QListWidgetItem, data: bytes) -> None:
        def done(image: QImage) -> None:
            if self.steps_list.row(item) >= 0 and not image.isNull():  # not removed meanwhile
                item.setIcon(QIcon(QPixmap.fromImage(image)))

        self._runner.run(lambda: _thumbnail(data), done, lambda exc: log.info("no thumbnail: %s", exc))

    def _select(self, row: int) -> None:
        self._store_current()
        if not 0 <= row < len(self.draft.steps):
            self._current = None
            self._update_buttons()
            return
        self._leave_clip()
        step = self.draft.steps[row]
        try:
            self._load_editor(step)
        except MarkupError as exc:
            self.show_problem(f"this capture cannot be shown for mark-up: {exc}")
        self._current = row
        self.caption_edit.setText(step.caption)
        self._update_buttons()

    def _load_editor(self, step: EditableStep) -> None:
        try:
            self.editor.load(step.image, step.markup)
        except MarkupError:
            # Qt's WebP reader refuses some files libwebp writes (a one-colour screen at the fastest
            # setting); the same pixels as PNG load everywhere, and the step keeps them as PNG.
            from agent.markup import encode_png, open_image

            step.image = encode_png(open_image(step.image))
            self.editor.load(step.image, step.markup)

    def _store_current(self) -> None:
        """Keep what was done to the shown capture (mark-up, caption) in the draft."""
        index = self._current
        if index is None or index >= len(self.draft.steps):
            return
        step = self.draft.steps[index]
        if self.editor.image_bytes() is step.image:
            step.markup = self.editor.items()
        step.caption = self.caption_edit.text().strip()
        item = self.steps_list.item(index)
        if item is not None:
            item.setText(self._step_label(index))

    def _caption_changed(self, text: str) -> None:
        index = self._current
        if index is not None and index < len(self.draft.steps):
            self.draft.steps[index].caption = text.strip()
            item = self.steps_list.item(index)
            if item is not None:
                item.setText(self._step_label(index))

    def current_step(self) -> int | None:
        return self._current

    def remove_current_step(self) -> None:
        """Drop the shown capture from the report; the next one (or the previous) is shown."""
        index = self._current
        if index is None:
            return
        self._current = None  # its mark-up goes with it: nothing to keep
        del self.draft.steps[index]
        self.steps_list.blockSignals(True)
        self.steps_list.takeItem(index)
        for row in range(self.steps_list.count()):
            item = self.steps_list.item(row)
            if item is not None:
                item.setText(self._step_label(row))
        self.steps_list.setCurrentRow(-1)
        self.steps_list.blockSignals(False)
        if self.draft.steps:
            self.steps_list.setCurrentRow(min(index, len(self.draft.steps) - 1))
        else:
            self.caption_edit.clear()
            self.editor.load(_blank_png())
        self._update_buttons()

    # ------------------------------------------------------------ clips
    def request_recording(self, mode: str) -> None:
        self._store_current()
        self.record_requested.emit(mode)

    def set_replay_available(self, available: bool) -> None:
        """Offer "Add what just happened" while the instant replay runs."""
        self.replay_button.setVisible(available)

    def review_recording(self, recording: Recording) -> None:
        """Let the person trim ``recording``; the part kept becomes a clip of the report."""
        if len(self.draft.clips) >= MAX_CLIPS:
            self.show_problem(
                self.tr("A report holds at most %1 clips; remove one to add another.").replace("%1", str(MAX_CLIPS))
            )
            return
        if self.trim_dialog is not None:
            self.trim_dialog.reject()
        title = self.tr("What just happened — trim the clip") if recording.origin == "replay" else ""
        dialog = ClipTrimDialog(recording, self, title=title)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.finished.connect(lambda result, d=dialog: self._trimmed(d, result))
        self.trim_dialog = dialog
        dialog.open()

    def _trimmed(self, dialog: ClipTrimDialog, result: int) -> None:
        if self.trim_dialog is dialog:
            self.trim_dialog = None
        dialog.deleteLater()
        if result == QDialog.DialogCode.Accepted:
            self.add_clip(dialog.trimmed())

    def add_clip(self, recording: Recording) -> int | None:
        """Add a trimmed recording as a clip and start encoding it (off the GUI thread)."""
        clip = DraftClip(recording)
        try:
            index = self.draft.add_clip(clip)
        except DraftError as exc:
            self.show_problem(str(exc))
            return None
        self.clips_list.addItem(QListWidgetItem(self._clip_label(index)))
        self._encode(clip)
        self.clips_list.setCurrentRow(index)
        self._update_buttons()
        self.clip_added.emit(index)
        return index

    def _clip_label(self, index: int) -> str:
        clip = self.draft.clips[index]
        seconds = f"{clip.recording.duration:.1f} s"
        prefix = self.tr("Replay") if clip.recording.origin == "replay" else self.tr("Clip")
        return f"{prefix} {index + 1} · {clip.caption or seconds}"[:60]

    def _encode(self, clip: DraftClip) -> None:
        encoding = self._encodings.get(clip)
        if encoding is None:
            encoding = ClipEncoding(self)
            encoding.progress.connect(lambda done, total, c=clip: self._clip_progress(c, done, total))
            encoding.finished.connect(lambda encoded, c=clip: self._clip_encoded(c, encoded))
            encoding.failed.connect(lambda reason, c=clip: self._clip_failed(c, reason))
            self._encodings[clip] = encoding
        clip.encoded = None
        encoding.start(clip.recording, clip.redactions)
        if self.clip_panel.clip is clip:
            self.clip_panel.refresh()

    def _clip_progress(self, clip: DraftClip, done: int, total: int) -> None:
        if self.clip_panel.clip is clip:
            self.clip_panel.set_progress(done, total)

    def _clip_encoded(self, clip: DraftClip, encoded: EncodedClip) -> None:
        if clip not in self.draft.clips:
            return
        clip.encoded = encoded
        if self.clip_panel.clip is clip:
            self.clip_panel.refresh()
        self.clip_ready.emit(self.draft.clips.index(clip))

    def _clip_failed(self, clip: DraftClip, reason: str) -> None:
        text = self.tr("The clip could not be prepared: %1").replace("%1", reason)
        if self.clip_panel.clip is clip:
            self.clip_panel.show_problem(text)
        self.show_problem(text)

    def _select_clip(self, row: int) -> None:
        if not 0 <= row < len(self.draft.clips):
            self._current_clip = None
            return
        if self._current is not None:
            self.steps_list.setCurrentRow(-1)  # stores the shown capture's mark-up first
        self._current_clip = row
        self.clip_panel.show_clip(self.draft.clips[row])
        self.centre.setCurrentWidget(self.clip_panel)
        self._update_buttons()

    def _leave_clip(self) -> None:
        if self._current_clip is not None or self.centre.currentWidget() is self.clip_panel:
            self._current_clip = None
            self.clip_panel.show_clip(None)
            self.clips_list.blockSignals(True)
            self.clips_list.setCurrentRow(-1)
            self.clips_list.blockSignals(False)
            self.centre.setCurrentIndex(0)

    def current_clip(self) -> int | None:
        return self._current_clip

    def _redactions_applied(self, boxes: list[MarkupItem]) -> None:
        index = self._current_clip
        if index is None:
            return
        clip = self.draft.clips[index]
        clip.redactions = list(boxes)
        self._encode(clip)

    def _clip_caption_changed(self, text: str) -> None:
        index = self._current_clip
        if index is None:
            return
        self.draft.clips[index].caption = text
        item = self.clips_list.item(index)
        if item is not None:
            item.setText(self._clip_label(index))

    def remove_current_clip(self) -> None:
        """Drop the shown clip (its frames and its encoding) from the report."""
        index = self._current_clip
        if index is None:
            return
        clip = self.draft.clips.pop(index)
        encoding = self._encodings.pop(clip, None)
        if encoding is not None:
            encoding.cancel()
            encoding.deleteLater()
        self._leave_clip()
        self.clips_list.blockSignals(True)
        self.clips_list.takeItem(index)
        for row in range(self.clips_list.count()):
            item = self.clips_list.item(row)
            if item is not None:
                item.setText(self._clip_label(row))
        self.clips_list.blockSignals(False)
        if self.draft.clips:
            self.clips_list.setCurrentRow(min(index, len(self.draft.clips) - 1))
        elif self.draft.steps:
            self.steps_list.setCurrentRow(0)
        self._update_buttons()

    def clips_encoding(self) -> bool:
        return any(encoding.busy for encoding in self._encodings.values())

    def request_capture(self, mode: str) -> None:
        self._store_current()
        self.capture_requested.emit(mode, int(self.delay_combo.currentData() or 0))

    # ------------------------------------------------------------ system information
    def start_sysinfo(self, captured: Sequence[Captured] = ()) -> None:
        """Collect the system information in the background (once per report)."""
        if self._sysinfo_started or self._collect_sysinfo is None:
            if self._collect_sysinfo is None and not self._sysinfo_started:
                self._sysinfo_started = True
                self.set_sysinfo(None)
            return
        self._sysinfo_started = True
        monitors = [c.draft.monitor.model_dump(mode="json") for c in captured if c.draft.monitor is not None]
        collect = self._collect_sysinfo
        self._runner.run(lambda: collect(monitors), self.set_sysinfo, self._sysinfo_failed)

    def set_sysinfo(self, snapshot: dict[str, object] | None) -> None:
        self.draft.sysinfo = snapshot
        self.sysinfo_preview.set_snapshot(snapshot, self.draft.excluded_groups)
        self._update_buttons()

    def _sysinfo_failed(self, exc: Exception) -> None:
        log.warning("system information could not be collected: %s", exc)
        self.set_sysinfo(None)
        self.sysinfo_preview.note.setText(f"System information could not be collected ({exc}); it is left out.")

    def _excluded_changed(self, excluded: set[str]) -> None:
        self.draft.excluded_groups = set(excluded)

    @property
    def sysinfo_ready(self) -> bool:
        return self._sysinfo_started and not (self._collect_sysinfo is not None and self._runner.busy)

    # ------------------------------------------------------------ sending
    def form(self) -> ReportForm:
        return ReportForm(
            description=self.description_edit.toPlainText()[: MAX_DESCRIPTION_CHARS + 1],
            category=self.category_combo.currentText(),
            name=self.name_edit.text(),
            email=self.email_edit.text(),
        )

    def send(self) -> None:
        if not self.send_button.isEnabled():
            return
        self._store_current()
        self.draft.form = self.form()
        problems = self.draft.form.problems()
        if not self.draft.steps and not self.draft.clips and not self.draft.form.description.strip():
            problems.append("add a capture or describe the problem")
        if any(clip.encoded is None for clip in self.draft.clips):
            problems.append(self.tr("wait until every clip is prepared"))
        if problems:
            self.show_problem("Please fix this first: " + "; ".join(problems) + ".")
            return
        self._set_sending(True)
        self.status_label.setText("Preparing the report…")
        self.progress.setRange(0, 0)
        self.progress.show()
        self.submission.submit(self.draft)

    # ------------------------------------------------------------ export
    def _choose_export_path(self) -> None:
        suggested = Path.home() / f"showdesk-report-{str(self.draft.id)[:8]}.html"
        path, _filter = QFileDialog.getSaveFileName(
            self, self.tr("Export as web page"), str(suggested), self.tr("Web page (*.html)")
        )
        if path:
            self.export_web_page(Path(path))

    def export_web_page(self, path: Path) -> None:
        """Write the report as it stands as one web page at ``path``, off this thread; ``exported`` says when."""
        self._store_current()
        # A copy: the person may go on editing while the page is made on the worker.
        snapshot = dataclasses.replace(
            self.draft,
            steps=[dataclasses.replace(step, markup=list(step.markup)) for step in self.draft.steps],
            form=self.form(),
            excluded_groups=set(self.draft.excluded_groups),
        )
        self.export_button.setEnabled(False)

        def write() -> str:
            from agent.export_html import export_report_html
            from agent.fsutil import atomic_write_bytes

            atomic_write_bytes(path, export_report_html(freeze(snapshot)).encode("utf-8"))
            return str(path)

        self._runner.run(write, self._exported, self._export_failed)

    def _exported(self, path: str) -> None:
        self.export_button.setEnabled(True)
        self.status_label.setText(self.tr("Saved as a web page: %1").replace("%1", _escape(path)))
        self.exported.emit(path)

    def _export_failed(self, exc: Exception) -> None:
        self.export_button.setEnabled(True)
        if isinstance(exc, DraftError):
            self.show_problem(self.tr("Please fix this first: %1.").replace("%1", str(exc)))
        else:
            self.show_problem(self.tr("The web page could not be saved: %1").replace("%1", str(exc)))

    def _set_sending(self, sending: bool) -> None:
        for widget in (
            self.send_button,
            self.add_button,
            self.remove_button,
            self.editor,
            self.description_edit,
            self.category_combo,
            self.name_edit,
            self.email_edit,
            self.caption_edit,
            self.sysinfo_preview,
            self.delay_combo,
            self.record_button,
            self.replay_button,
            self.clip_panel,
        ):
            widget.setEnabled(not sending)

    def _queued(self, report_id: str) -> None:
        if self.submission.state in ("queued", "sending"):
            self.status_label.setText("Sending…")
        self.close_button.setText("Close")
        self.sent.emit(report_id)

    def _progress(self, sent: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * sent / total))
            self.status_label.setText(f"Sending… {sent // 1024} of {total // 1024} KiB")
        else:
            self.progress.setRange(0, 0)
            self.status_label.setText("Connecting to the help desk…")

    def _delivered(self, receipt: Receipt) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        link = f' <a href="{receipt.url}">Open it</a>' if receipt.url.startswith(("http://", "https://")) else ""
        self.status_label.setText(f"Sent. Your request is ticket <b>{receipt.number}</b>.{link}")
        self.close_button.setText("Close")

    def _waiting(self, reason: str) -> None:
        self.progress.hide()
        self.status_label.setText(
            "Queued, will send automatically when the help desk can be reached. You can close this window; "
            f"you will be notified with the ticket number. (Not sent yet: {reason})"
        )
        self.close_button.setText("Close")

    def _refused(self, reason: str) -> None:
        self.progress.hide()
        self.show_problem(f"The help desk refused this report: {reason}. It is kept in the Outbox.")
        self.close_button.setText("Close")

    def _failed(self, reason: str) -> None:
        self.progress.hide()
        self._set_sending(False)
        self._update_buttons()
        self.show_problem(f"The report could not be saved for sending: {reason}")

    def show_problem(self, text: str) -> None:
        self.status_label.setText(f'<span style="color:#c62828">{_escape(text)}</span>')

    def show_capture_problem(self, reason: str) -> None:
        self.show_problem(f"The screen could not be captured: {reason}")

    def _update_buttons(self) -> None:
        sending = self.submission.state not in ("new", "failed")
        self.remove_button.setEnabled(not sending and self._current is not None)
        self.add_button.setEnabled(not sending and len(self.draft.steps) < MAX_STEPS)
        self.record_button.setEnabled(not sending and len(self.draft.clips) < MAX_CLIPS)
        self.replay_button.setEnabled(not sending and len(self.draft.clips) < MAX_CLIPS)
        self.send_button.setEnabled(not sending)

    # ------------------------------------------------------------ closing
    def has_unsent_work(self) -> bool:
        if self.submission.state not in ("new", "failed"):
            return False
        return bool(
            self.description_edit.toPlainText().strip()
            or any(s.markup for s in self.draft.steps)
            or bool(self.draft.clips)
            or (self._current is not None and self.editor.items())
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.has_unsent_work() and self.isVisible():
            answer = QMessageBox.question(
                self,
                "Discard this report?",
                "The report has not been sent. Discard it?",
                QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Discard:
                event.ignore()
                return
        self._runner.wait_idle()
        for encoding in self._encodings.values():
            encoding.cancel()
        if self.trim_dialog is not None:
            self.trim_dialog.reject()
        self.clip_panel.release()
        event.accept()
        self.closed.emit()

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _blank_png() -> bytes:
    from PIL import Image

    from agent.markup import encode_png

    return encode_png(Image.new("RGB", (320, 200), (240, 240, 240)))
