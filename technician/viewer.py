"""The ticket viewer: what the person showed, step by step, their machine's state, and its history.

It shows what the session loaded and asks the session (through signals) for step images;
the first step's full picture is asked for before anything else, so it is on screen first.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QIcon, QPixmap, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QTabWidget,
    QTextBrowser,
    QToolBar,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from agent.schema import Clip, Step
from technician.client import HistoryItem, TicketInfo
from technician.clip_player import ClipPlayer
from technician.image_view import ImageView, Tile
from technician.model import (
    Arrangement,
    Placement,
    ReporterClock,
    arrangements,
    format_age,
    monitor_label,
    parse_time,
    visible_controls,
)
from technician.step_images import DecodedImage
from technician.sysinfo_tree import FLAGS_LABEL, Node, build_tree

THUMBNAIL: Final = QSize(160, 96)
SEVERITY_COLOURS: Final = {"critical": "#c62828", "warning": "#b26a00", "info": "#1565c0"}
TAB_STEPS, TAB_SYSTEM, TAB_HISTORY, TAB_TIMELINE = range(4)
HISTORY_ID_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 1
RAW_KEY_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 2
MAX_TITLE_CHARS: Final = 110
AGE_REFRESH_MS: Final = 30_000  # ages read in minutes: twice a minute keeps them true
PHOTO_SCHEME: Final = "photo"  # the timeline's links to the person's photos: photo:answers/001.jpg
REQUESTER_ACTOR: Final = "requester"  # the server's actor for what the person did on their page


class TicketViewer(QWidget):
    """One ticket at a time; ``image_wanted`` and ``open_requested`` go to the session/window.

    A little over 400 lines: it lays out the filmstrip, the picture, the system-information
    tree, the timeline and the history as tabs of one ticket and keeps them in step; decoding,
    loading and the tree's contents live in ``step_images``, ``ticket_loader`` and ``sysinfo_tree``.
    """

    image_wanted = Signal(str, str, bool)  # ticket id, path, full picture (False: thumbnail)
    open_requested = Signal(str)  # a ticket id from the history
    revoke_link_wanted = Signal(str)  # ticket id: the technician confirmed revoking the person's link

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TicketViewer")
        self.info: TicketInfo | None = None
        self.steps: list[Step] = []
        self.current_step = -1
        # A report's clips follow its steps in the filmstrip: row len(steps) + n is clip n.
        self.clips: list[Clip] = []
        self.current_clip = -1
        self.layouts: dict[int, Arrangement] = {}
        self._images: dict[str, DecodedImage] = {}
        self._thumbnails_asked = False
        self._photos_asked: set[str] = set()  # the person's photos whose thumbnails were asked for
        self._photo_to_open: str | None = None  # a photo clicked whose picture is on its way
        self.photo_dialog: QDialog | None = None

        self.title = QLabel("No ticket open")
        self.title.setObjectName("ViewerTitle")
        self.title.setStyleSheet("font-size: 15pt; font-weight: bold;")
        self.title.setWordWrap(True)
        self.meta = QLabel()
        self.meta.setObjectName("ViewerMeta")
        self.meta.setWordWrap(True)
        self.meta.setTextFormat(Qt.TextFormat.RichText)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.description = QLabel()
        self.description.setObjectName("ViewerDescription")
        self.description.setWordWrap(True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.flags_strip = QLabel()
        self.flags_strip.setObjectName("FlagsStrip")
        self.flags_strip.setWordWrap(True)
        self.flags_strip.setTextFormat(Qt.TextFormat.RichText)
        self.toolbar = QToolBar()
        self.toolbar.setObjectName("ViewerActions")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        # The person's link (the window's Copy link copies it) revoked when it reached the wrong person.
        self.revoke_link_button = QToolButton()
        self.revoke_link_button.setObjectName("RevokeLink")
        self.revoke_link_button.setText(self.tr("Revoke the person's link…"))
        self.revoke_link_button.setToolTip(
            self.tr("The link stops working at once; Copy link then gives a new one to hand over")
        )
        self.revoke_link_button.clicked.connect(self.confirm_revoke_link)
        meta_row = QHBoxLayout()
        meta_row.setContentsMargins(0, 0, 0, 0)
        meta_row.addWidget(self.meta, 1)
        meta_row.addWidget(self.revoke_link_button, 0, Qt.AlignmentFlag.AlignTop)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("ViewerTabs")
        self.tabs.addTab(self._steps_tab(), "Steps")
        self.tabs.addTab(self._system_tab(), "System")
        self.tabs.addTab(self._history_tab(), "History")
        self.tabs.addTab(self._timeline_tab(), "Timeline")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addLayout(meta_row)
        layout.addWidget(self.description)
        layout.addWidget(self.flags_strip)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.tabs, 1)
        # "6 min ago" must keep counting while a ticket stays open, as the queue's Age column does.
        self.clock: Callable[[], float] = time.time  # what "now" is for the ages shown; tests move it
        self.age_timer = QTimer(self)
        self.age_timer.setInterval(AGE_REFRESH_MS)
        self.age_timer.timeout.connect(self.refresh_age)
        self.age_timer.start()
        self._clear()

    # ------------------------------------------------------------ building
    def _steps_tab(self) -> QWidget:
        page = QWidget()
        self.image = ImageView()
        self.caption = QLabel()
        self.caption.setObjectName("StepCaption")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.arranged = QCheckBox("Screens as arranged")
        self.arranged.setObjectName("ArrangedToggle")
        self.arranged.setToolTip("Show the monitors of one capture where they stood on the reporter's desk")
        self.arranged.setChecked(True)
        self.arranged.toggled.connect(lambda _on: self._show_current())
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(48)
        controls = QHBoxLayout()
        controls.addWidget(self.caption, 1)
        controls.addWidget(self.arranged)
        self.zoom_buttons: dict[str, QToolButton] = {}
        for name, text in (("zoom-out", "−"), ("zoom-fit", "Fit"), ("zoom-actual", "1:1"), ("zoom-in", "+")):
            button = QToolButton()
            button.setText(text)
            button.setObjectName(f"button-{name}")
            self.zoom_buttons[name] = button
            controls.addWidget(button)
        self.zoom_buttons["zoom-out"].clicked.connect(lambda: self._zoom(self.image.zoom_out))
        self.zoom_buttons["zoom-fit"].clicked.connect(lambda: self._zoom(self.image.fit))
        self.zoom_buttons["zoom-actual"].clicked.connect(lambda: self._zoom(self.image.actual_size))
        self.zoom_buttons["zoom-in"].clicked.connect(lambda: self._zoom(self.image.zoom_in))
        controls.addWidget(self.zoom_label)
        self.clip_player = ClipPlayer()
        self.stage = QStackedWidget()
        self.stage.addWidget(self.image)
        self.stage.addWidget(self.clip_player)
        self.filmstrip = QListWidget()
        self.filmstrip.setObjectName("Filmstrip")
        self.filmstrip.setViewMode(QListView.ViewMode.IconMode)
        self.filmstrip.setFlow(QListView.Flow.LeftToRight)
        self.filmstrip.setWrapping(False)
        self.filmstrip.setMovement(QListView.Movement.Static)
        self.filmstrip.setIconSize(THUMBNAIL)
        self.filmstrip.setSpacing(4)
        self.filmstrip.setFixedHeight(THUMBNAIL.height() + 48)
        self.filmstrip.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.filmstrip.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.filmstrip.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.filmstrip.currentRowChanged.connect(self._filmstrip_changed)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.stage, 1)
        layout.addLayout(controls)
        layout.addWidget(self.filmstrip)
        return page

    def _system_tab(self) -> QWidget:
        page = QWidget()
        self.system_search = QLineEdit()
        self.system_search.setObjectName("SystemSearch")
        self.system_search.setPlaceholderText("Search the system information")
        self.system_search.setClearButtonEnabled(True)
        self.system_search.textChanged.connect(self._filter_tree)
        self.tree = QTreeWidget()
        self.tree.setObjectName("SystemTree")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Item", "Value"])
        self.tree.setColumnWidth(0, 260)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.system_search)
        layout.addWidget(self.tree, 1)
        return page

    def _history_tab(self) -> QWidget:
        page = QWidget()
        self.history_note = QLabel()
        self.history_note.setObjectName("HistoryNote")
        self.history_note.setWordWrap(True)
        self.history = QListWidget()
        self.history.setObjectName("HistoryList")
        self.history.itemClicked.connect(self._history_clicked)
        self.history.itemActivated.connect(self._history_clicked)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.history_note)
        layout.addWidget(self.history, 1)
        return page

    def _timeline_tab(self) -> QWidget:
        self.timeline = QTextBrowser()
        self.timeline.setObjectName("Timeline")
        self.timeline.setOpenLinks(False)
        self.timeline.anchorClicked.connect(self._timeline_link)
        return self.timeline

    def set_actions(self, actions: Iterable[QAction]) -> None:
        self.toolbar.clear()
        for action in actions:
            self.toolbar.addAction(action)

    # ------------------------------------------------------------ showing a ticket
    def _clear(self) -> None:
        self.meta.clear()
        self.description.clear()
        self.description.hide()
        self.flags_strip.hide()
        self.filmstrip.clear()
        self.tree.clear()
        self.history.clear()
        self.history_note.clear()
        self.timeline.clear()
        self.caption.clear()
        self.arranged.hide()
        self.image.show_message("")
        self.clips = []
        self.current_clip = -1
        self._show_still_controls()
        self.revoke_link_button.hide()
        self._photos_asked.clear()
        self._photo_to_open = None

    def show_loading(self, ticket_id: str, number: str = "") -> None:
        if self.info is not None and self.info.summary.id == ticket_id:
            return
        self.info = None
        self.steps = []
        self.current_step = -1
        self._images.clear()
        self._clear()
        self.title.setText(f"Opening {number or 'the ticket'}…")

    def show_failed(self, ticket_id: str, reason: str) -> None:
        if self.info is not None and self.info.summary.id == ticket_id:
            return  # an older copy is on screen; keep it
        self.title.setText("The ticket could not be opened")
        self.meta.setText(html.escape(reason))

    def show_ticket(self, info: TicketInfo) -> None:
        """Show ``info``; the same ticket again (a change) keeps the step and zoom the person chose."""
        same = self.info is not None and self.info.summary.id == info.summary.id
        self.info = info
        if not same:  # before the timeline below asks for the person's photos of this ticket
            self._images.clear()
            self._thumbnails_asked = False
            self._photos_asked.clear()
            self._photo_to_open = None
        t = info.summary
        description = ((info.report.description if info.report else t.description) or "").strip()
        headline, rest = _headline(description, t.title or t.category or "Problem report")
        self.title.setText(f"{t.number} · {headline}")
        self.meta.setText(self._meta_html(info, self.clock()))
        self.revoke_link_button.setVisible(bool(t.url) and info.link_revocable)
        self.description.setText(rest)
        self.description.setVisible(bool(rest))
        self._show_flags(info)
        self._show_tree(info)
        self._show_timeline(info)
        if same:
            return
        self.steps = list(info.report.steps) if info.report else []
        self.layouts = arrangements(self.steps)
        self.history.clear()
        self.history_note.setText("Loading earlier tickets…")
        self.tabs.setTabText(TAB_HISTORY, "History")
        self.filmstrip.blockSignals(True)
        self.filmstrip.clear()
        for number, step in enumerate(self.steps, start=1):
            item = QListWidgetItem(_blank_icon(), f"{number}")
            item.setToolTip(step.caption or f"Step {number}")
            item.setSizeHint(QSize(THUMBNAIL.width() + 12, THUMBNAIL.height() + 30))
            self.filmstrip.addItem(item)
        self.clips = list(info.report.clips) if info.report else []
        self.current_clip = -1
        for number, clip in enumerate(self.clips, start=1):
            name = self.tr("Clip {0}").format(number)
            item = QListWidgetItem(_blank_icon(), name)
            # Escaped inside <qt>: a tooltip guesses rich text, and the caption is the person's plain words.
            item.setToolTip(f"<qt>{html.escape(clip.caption)}</qt>" if clip.caption else name)
            item.setSizeHint(QSize(THUMBNAIL.width() + 12, THUMBNAIL.height() + 30))
            self.filmstrip.addItem(item)
        self.filmstrip.blockSignals(False)
        self.image.fitting = True
        if self.steps:
            self.select_step(0)
        elif self.clips:
            self.select_clip(0)
        else:
            self.current_step = -1
            self.caption.setText("This report has no steps (no screenshots were sent).")
            self.image.show_message("No screenshots in this report")

    def refresh_age(self) -> None:
        """Say the open ticket's age as of now (the rest of the line changes only with the ticket)."""
        if self.info is not None:
            self.meta.setText(self._meta_html(self.info, self.clock()))

    def _show_flags(self, info: TicketInfo) -> None:
        if not info.flags:
            self.flags_strip.setText(
                "<span style='color:#2e7d32'>No flags: nothing in the system information stands out.</span>"
                if info.sysinfo
                else "<span style='color:gray'>No system information was sent with this report.</span>"
            )
        else:
            chips = [
                f"<span style='color:white; background:{SEVERITY_COLOURS.get(f.severity, '#555')};'>"
                f"&nbsp;{html.escape(f.severity.upper())}&nbsp;</span> {html.escape(f.message)}"
                for f in info.flags
            ]
            self.flags_strip.setText("<br>".join(chips))
        self.flags_strip.show()

    # ------------------------------------------------------------ steps
    def select_step(self, index: int) -> None:
        if not 0 <= index < len(self.steps):
            return
        self.current_step = index
        self._show_still_controls()
        if self.filmstrip.currentRow() != index:
            self.filmstrip.blockSignals(True)
            self.filmstrip.setCurrentRow(index)
            self.filmstrip.blockSignals(False)
        self._request_full(self._visible_steps())
        self._show_current()

    def next_step(self) -> None:
        self._select_row(self._current_row() + 1)

    def previous_step(self) -> None:
        self._select_row(self._current_row() - 1)

    def _current_row(self) -> int:
        return len(self.steps) + self.current_clip if self.current_clip >= 0 else self.current_step

    def _select_row(self, row: int) -> None:
        if 0 <= row < len(self.steps):
            self.select_step(row)
        elif 0 <= row - len(self.steps) < len(self.clips):
            self.select_clip(row - len(self.steps))

    def _filmstrip_changed(self, row: int) -> None:
        if row >= 0 and row != self._current_row():
            self._select_row(row)

    # ------------------------------------------------------------ clips
    def select_clip(self, index: int) -> None:
        """Show clip ``index`` in the player (its frames are asked for like a step's picture)."""
        info = self.info
        if info is None or not 0 <= index < len(self.clips):
            return
        clip = self.clips[index]
        self.current_step = -1
        self.current_clip = index
        row = len(self.steps) + index
        if self.filmstrip.currentRow() != row:
            self.filmstrip.blockSignals(True)
            self.filmstrip.setCurrentRow(row)
            self.filmstrip.blockSignals(False)
        self.arranged.hide()
        for button in self.zoom_buttons.values():
            button.hide()
        self.zoom_label.hide()
        self.stage.setCurrentWidget(self.clip_player)
        self.clip_player.set_caption(clip.caption)
        self.caption.setText(
            self.tr("<b>Clip {0} of {1}</b> · {2} s · {3} frames · {4}×{5}").format(
                index + 1, len(self.clips), f"{clip.duration_ms / 1000:.1f}", clip.frames, clip.width, clip.height
            )
        )
        decoded = self._images.get(clip.file.path)
        if decoded is not None and decoded.clip is not None:
            self.clip_player.show_clip(decoded.clip)
        else:
            self.clip_player.show_message(self.tr("Loading the clip…"))
            self.image_wanted.emit(info.summary.id, clip.file.path, True)

    def _show_still_controls(self) -> None:
        """Back from a clip to the still pictures: the player stops, the zoom controls return."""
        self.current_clip = -1
        self.clip_player.stop()
        self.stage.setCurrentWidget(self.image)
        for button in self.zoom_buttons.values():
            button.show()
        self.zoom_label.show()

    def _clip_row(self, path: str) -> int | None:
        for number, clip in enumerate(self.clips):
            if clip.file.path == path:
                return len(self.steps) + number
        return None

    def _arrangement(self) -> Arrangement | None:
        if not self.arranged.isChecked():
            return None
        return self.layouts.get(self.current_step)

    def _visible_steps(self) -> list[int]:
        arrangement = self._arrangement()
        if arrangement is None:
            return [self.current_step]
        # The chosen step first: it is the one the person looks at.
        return [self.current_step] + [i for i in arrangement.step_indexes if i != self.current_step]

    def _request_full(self, indexes: Sequence[int]) -> None:
        info = self.info
        if info is None:
            return
        for index in indexes:
            path = self.steps[index].image.path
            decoded = self._images.get(path)
            if decoded is None or decoded.image is None:
                self.image_wanted.emit(info.summary.id, path, True)

    def _request_thumbnails(self) -> None:
        info = self.info
        if info is None or self._thumbnails_asked:
            return
        self._thumbnails_asked = True
        for step in self.steps:
            if step.image.path not in self._images:
                self.image_wanted.emit(info.summary.id, step.image.path, False)
        for clip in self.clips:
            if clip.file.path not in self._images:
                self.image_wanted.emit(info.summary.id, clip.file.path, False)

    def _show_current(self) -> None:
        if not 0 <= self.current_step < len(self.steps):
            return
        step = self.steps[self.current_step]
        self.arranged.setVisible(self.current_step in self.layouts)
        arrangement = self._arrangement()
        if arrangement is None:
            placements: Sequence[Placement] = [Placement(self.current_step, 0, 0, step.width, step.height)]
        else:
            placements = arrangement.placements
            self._request_full(self._visible_steps())
        tiles = []
        for placement in placements:
            decoded = self._images.get(self.steps[placement.step_index].image.path)
            image = decoded.image if decoded is not None else None
            full = decoded.full if decoded is not None else None
            tiles.append(Tile(placement, image, current=placement.step_index == self.current_step, full=full))
        self.image.show_tiles(tiles)
        self._update_zoom_label()
        number = self.current_step + 1
        caption = html.escape(step.caption) if step.caption else "<i>no caption</i>"
        extra = []
        if step.capture_notes:
            extra.append(html.escape(step.capture_notes))
        if step.downscale < 1:
            extra.append(f"downscaled to {step.downscale:.0%}")
        where = html.escape(monitor_label(step))
        self.caption.setText(
            f"<b>Step {number} of {len(self.steps)}</b> — {caption}<br>"
            f"<span style='color:gray'>{where} · {step.width}×{step.height}"
            f"{' · ' + ' · '.join(extra) if extra else ''}</span>"
        )

    def image_ready(self, decoded: DecodedImage) -> None:
        info = self.info
        if info is None or decoded.ticket_id != info.summary.id:
            return
        known = self._images.get(decoded.path)
        if known is None or decoded.image is not None or known.image is None:
            self._images[decoded.path] = decoded if decoded.image is not None or known is None else known
        for row, step in enumerate(self.steps):
            if step.image.path == decoded.path:
                item = self.filmstrip.item(row)
                if item is not None:
                    item.setIcon(QIcon(QPixmap.fromImage(decoded.thumbnail)))
        clip_row = self._clip_row(decoded.path)
        if clip_row is not None:
            item = self.filmstrip.item(clip_row)
            if item is not None:
                item.setIcon(QIcon(QPixmap.fromImage(decoded.thumbnail)))
            if decoded.clip is not None and clip_row == self._current_row():
                self.clip_player.show_clip(decoded.clip)
        shown_steps = self._visible_steps() if 0 <= self.current_step < len(self.steps) else []
        if decoded.image is not None and decoded.path in {self.steps[i].image.path for i in shown_steps}:
            self._show_current()
        if decoded.image is not None:
            self._request_thumbnails()  # the first picture is up; now the rest of the filmstrip
        if decoded.path in self._photos_asked:
            self._show_timeline(info)
            if decoded.image is not None and decoded.path == self._photo_to_open:
                self._photo_to_open = None
                self._open_photo(decoded)

    def image_failed(self, ticket_id: str, path: str, reason: str) -> None:
        info = self.info
        if info is None or ticket_id != info.summary.id:
            return
        if 0 <= self.current_step < len(self.steps) and self.steps[self.current_step].image.path == path:
            self.image.show_message(f"The picture could not be loaded: {reason}")
        if self._clip_row(path) == self._current_row() and self.current_clip >= 0:
            self.clip_player.show_message(self.tr("The clip could not be loaded: {0}").format(reason))

    @property
    def shown_image_count(self) -> int:
        """Pictures on screen now (tests and the benchmark wait for this)."""
        return sum(1 for tile in self.image.tiles if tile.image is not None)

    def _zoom(self, action: Any) -> None:
        action()
        self._update_zoom_label()

    def zoom(self, name: str) -> None:
        self.zoom_buttons[name].click()

    def _update_zoom_label(self) -> None:
        self.zoom_label.setText(f"{self.image.zoom:.0%}" if self.image.tiles else "")

    # ------------------------------------------------------------ system information
    def _show_tree(self, info: TicketInfo) -> None:
        expanded = self._expanded_keys()
        self.tree.clear()
        for node in build_tree(info.sysinfo, info.flags):
            item = _tree_item(node)
            self.tree.addTopLevelItem(item)
            # The flags open with their evidence, and the groups they point at (sysinfo_tree marks
            # them) with their rows: the evidence beside the verdict. A group the technician
            # opened stays open when the ticket changes.
            if node.expanded:
                self.tree.expandRecursively(self.tree.indexFromItem(item), 1)
            elif node.key in expanded:
                item.setExpanded(True)
        self._filter_tree(self.system_search.text())

    def _expanded_keys(self) -> set[str]:
        found = set()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None and item.isExpanded():
                found.add(item.text(0))
        return found

    def _filter_tree(self, text: str) -> None:
        needle = text.strip()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None:
                _filter_item(item, needle)

    def tree_rows(self) -> list[tuple[str, str]]:
        """Top-level rows as shown (key, value), in order: for tests and screenshots."""
        rows = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None and not item.isHidden():
                rows.append((item.text(0), item.text(1)))
        return rows

    # ------------------------------------------------------------ history and timeline
    def show_history(self, ticket_id: str, items: Sequence[HistoryItem]) -> None:
        if self.info is None or self.info.summary.id != ticket_id:
            return
        self.history.clear()
        t = self.info.summary
        if not items:
            self.history_note.setText(
                f"No earlier tickets from {t.reporter_email or 'this person'} or {t.source_id or 'this machine'}."
            )
            return
        machine = sum(1 for i in items if i.same_machine)
        person = sum(1 for i in items if i.same_person)
        self.history_note.setText(
            f"{machine} earlier ticket{'s' if machine != 1 else ''} from {t.source_id or 'this machine'}, "
            f"{person} from {t.reporter_email or 'this person'}. Click one to open it."
        )
        for item in items:
            other = item.ticket
            why = " and ".join(
                w for w, on in (("same machine", item.same_machine), ("same person", item.same_person)) if on
            )
            row = QListWidgetItem(
                f"{other.number} · {format_age(other.created_at)} ago · {other.status} · {other.category} · "
                f"{other.title}   ({why})"
            )
            row.setData(HISTORY_ID_ROLE, other.id)
            row.setToolTip(other.subject)
            self.history.addItem(row)
        self.tabs.setTabText(TAB_HISTORY, f"History ({len(items)})")

    def show_history_failed(self, ticket_id: str, reason: str) -> None:
        if self.info is not None and self.info.summary.id == ticket_id:
            self.history_note.setText(f"Earlier tickets could not be loaded: {reason}")

    def history_ids(self) -> list[str]:
        return [str(self.history.item(i).data(HISTORY_ID_ROLE)) for i in range(self.history.count())]

    def _history_clicked(self, item: QListWidgetItem) -> None:
        ticket_id = item.data(HISTORY_ID_ROLE)
        if isinstance(ticket_id, str):
            self.open_requested.emit(ticket_id)

    def _show_timeline(self, info: TicketInfo) -> None:
        """The ticket's events, the person's answers, verdicts and ratings among them.

        Every text anyone typed is escaped and its bidirectional controls shown as marks, so
        mark-up arrives as typed and a right-to-left override reorders nothing. The person's
        photos are thumbnails (asked for like the filmstrip's) that open the picture.
        """
        document = self.timeline.document()
        parts = []
        for event in info.timeline:
            for path in _photo_paths(event):
                decoded = self._images.get(path)
                if decoded is not None:
                    document.addResource(
                        QTextDocument.ResourceType.ImageResource, QUrl(f"{PHOTO_SCHEME}:{path}"), decoded.thumbnail
                    )
                elif path not in self._photos_asked:
                    self._photos_asked.add(path)
                    self.image_wanted.emit(info.summary.id, path, False)
            parts.append(self._event_html(event))
        scroll = self.timeline.verticalScrollBar()
        at_end = scroll.value() >= scroll.maximum() - 4
        position = scroll.value()
        self.timeline.setHtml("".join(parts) or self.tr("<p>Nothing happened yet.</p>"))
        # A new answer arriving while the technician reads further up does not move the page.
        scroll.setValue(scroll.maximum() if at_end and position else position)

    def timeline_text(self) -> str:
        """The timeline as it reads (tests and screenshots)."""
        return self.timeline.toPlainText()

    # ------------------------------------------------------------ the person's photos and link
    def _timeline_link(self, url: QUrl) -> None:
        info = self.info
        if info is None or url.scheme() != PHOTO_SCHEME:
            return
        path = url.path()
        decoded = self._images.get(path)
        if decoded is not None and decoded.image is not None:
            self._open_photo(decoded)
            return
        self._photo_to_open = path
        self._photos_asked.add(path)
        self.image_wanted.emit(info.summary.id, path, True)

    def open_photo(self, path: str) -> None:
        """Open one of the person's photos, as a click on its thumbnail does."""
        self._timeline_link(QUrl(f"{PHOTO_SCHEME}:{path}"))

    def _open_photo(self, decoded: DecodedImage) -> None:
        assert decoded.image is not None
        dialog = QDialog(self)
        dialog.setObjectName("PhotoDialog")
        dialog.setWindowTitle(self.tr("The person's photo"))
        label = QLabel()
        label.setObjectName("PhotoPicture")
        label.setPixmap(QPixmap.fromImage(decoded.image))
        area = QScrollArea()
        area.setWidget(label)
        area.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(dialog)
        layout.addWidget(area)
        screen = self.screen().availableSize() if self.screen() is not None else QSize(1280, 800)
        dialog.resize(
            min(decoded.image.width() + 40, screen.width() * 9 // 10),
            min(decoded.image.height() + 40, screen.height() * 9 // 10),
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.photo_dialog = dialog
        dialog.destroyed.connect(lambda _obj=None: setattr(self, "photo_dialog", None))
        dialog.show()

    def confirm_revoke_link(self) -> None:
        """Ask, then ask the session to revoke the person's link (``revoke_link_wanted``)."""
        info = self.info
        if info is None:
            return
        box = QMessageBox(self)
        box.setObjectName("RevokeLinkQuestion")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Revoke the person's link"))
        box.setText(self.tr("Revoke the link to {}?").format(info.summary.number))
        box.setInformativeText(
            self.tr(
                "Whoever has the link now sees the not-found page instead of the ticket, the person too. "
                "Copy link then gives a new link to hand over."
            )
        )
        revoke = box.addButton(self.tr("Revoke"), QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        ticket_id = info.summary.id

        def answered(_result: int) -> None:
            if box.clickedButton() is revoke:
                self.revoke_link_wanted.emit(ticket_id)

        box.finished.connect(answered)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # ------------------------------------------------------------ the header
    def _meta_html(self, info: TicketInfo, now: float) -> str:
        t = info.summary
        who = html.escape(visible_controls(t.who) or self.tr("someone who gave no name"))
        kind = {"kiosk": "kiosk", "agent": "laptop", "cli": "command line", "import": "imported"}.get(
            t.source_kind, t.source_kind
        )
        where = html.escape(visible_controls(f"{kind} {t.source_id}".strip())) + (
            f" at {html.escape(visible_controls(t.site))}" if t.site else ""
        )
        when = t.created_at.astimezone().strftime("%Y-%m-%d %H:%M") if t.created_at else ""
        age = format_age(t.created_at, now)
        arrived = ""
        if when:
            ago = self.tr("just now") if age == "now" else self.tr("{} ago").format(age)
            arrived = self.tr("arrived {} ({})").format(when, ago)
        parts = [f"<b>{who}</b>", where, arrived]
        reported = self._reported_html(info)
        if reported:
            parts.append(reported)
        if t.receipt_code:
            parts.append(self.tr("receipt {}").format(f"<b>{html.escape(t.receipt_code)}</b>"))
        status = f"<b>{html.escape(t.status)}</b>"
        assignee = html.escape(t.assignee) if t.assignee else "unassigned"
        parts.append(f"{status} · {assignee}")
        if t.category:
            parts.append(html.escape(t.category))
        if info.queue is not None and info.queue.state == "waiting" and info.queue.position:
            parts.append(f"walk-up place <b>#{info.queue.position}</b>")
        elif info.queue is not None and info.queue.state:
            parts.append(f"walk-up: {html.escape(info.queue.state)}")
        return " · ".join(p for p in parts if p)

    def _reported_html(self, info: TicketInfo) -> str:
        """When the person reported it on their own clock, and how far that clock is off."""
        clock = ReporterClock.from_sysinfo(info.sysinfo)
        local = parse_time(clock.local_time) if clock is not None and clock.local_time else None
        # Their own time of day, in their own zone, is what they will say at the desk.
        moment = local or info.summary.reported_at
        text = ""
        if moment is not None:
            shown = (
                moment.strftime("%Y-%m-%d %H:%M")
                if local is not None
                else moment.astimezone().strftime("%Y-%m-%d %H:%M")
            )
            text = self.tr("reported {} on their clock").format(shown)
        if clock is not None and clock.off:
            words = (
                self.tr("reporter's clock {} ahead").format(clock.amount)
                if clock.ahead
                else self.tr("reporter's clock {} behind").format(clock.amount)
            )
            text = (
                f"{text} (<b style='color:#c62828'>{html.escape(words, quote=False)}</b>)"
                if text
                else (f"<b style='color:#c62828'>{html.escape(words, quote=False)}</b>")
            )
        return text

    # ------------------------------------------------------------ timeline events
    def _event_html(self, event: Mapping[str, Any]) -> str:
        kind = str(event.get("kind", ""))
        raw_actor = str(event.get("actor", ""))
        actor = self.tr("the person") if raw_actor == REQUESTER_ACTOR else html.escape(visible_controls(raw_actor))
        at = str(event.get("at", ""))[:19].replace("T", " ")
        data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
        assert isinstance(data, Mapping)
        if kind == "answer":
            photos = _photo_paths(event)
            body = _plain_html(data.get("text"))
            thumbnails = "".join(
                f"<a href='{PHOTO_SCHEME}:{html.escape(path, quote=True)}'>"
                + (
                    f"<img src='{PHOTO_SCHEME}:{html.escape(path, quote=True)}'>"
                    if path in self._images
                    else html.escape(self.tr("photo {} (loading…)").format(number))
                )
                + "</a>&nbsp;"
                for number, path in enumerate(photos, start=1)
            )
            label = self.tr("The person answered")
            if len(photos) == 1:
                label = self.tr("The person answered, with a photo")
            elif photos:
                label = self.tr("The person answered, with {} photos").format(len(photos))
            text = f"<b>{label}</b><div style='background:#e3f2fd; padding:4px'>{body}</div>"
            if thumbnails:
                text += f"<div>{thumbnails}</div>"
        elif kind == "solved":
            text = (
                f"<b style='color:#2e7d32'>{self.tr('The person says: solved')}</b>"
                if data.get("solved") is True
                else f"<b style='color:#c62828'>{self.tr('The person says: still broken')}</b>"
            )
        elif kind == "rating":
            score = data.get("score")
            stars = "★" * score + "☆" * (5 - score) if isinstance(score, int) and 1 <= score <= 5 else ""
            text = f"<b>{self.tr('Rated {} of 5').format(html.escape(str(score)))}</b> {stars}"
            comment = data.get("comment")
            if isinstance(comment, str) and comment.strip():
                text += f"<div style='background:#f3e5f5; padding:4px'>{_plain_html(comment)}</div>"
        elif kind == "link":
            text = self.tr("The person's link was revoked; a new one was made")
        else:
            return _event_html(event, actor)
        return f"<p><span style='color:gray'>{html.escape(at)} · {actor}</span><br>{text}</p>"


# ---------------------------------------------------------------- helpers
def _headline(description: str, fallback: str) -> tuple[str, str]:
    """The title line and what the description adds to it (empty when the title says it all)."""
    if not description:
        return fallback, ""
    first, _newline, more = description.partition("\n")
    if len(first) <= MAX_TITLE_CHARS:
        return first, more.strip()
    cut = first.rfind(" ", 0, MAX_TITLE_CHARS)
    return first[: cut if cut > 40 else MAX_TITLE_CHARS] + "…", description


def _blank_icon() -> QIcon:
    pixmap = QPixmap(THUMBNAIL)
    pixmap.fill(QColor("#3a3f47"))
    return QIcon(pixmap)


def _plain_html(value: object) -> str:
    """A text someone typed, as HTML that shows it exactly as typed (mark-up and controls too)."""
    text = visible_controls(value if isinstance(value, str) else "")
    return html.escape(text).replace("\n", "<br>")


def _photo_paths(event: Mapping[str, Any]) -> list[str]:
    """The paths of the photos an answer carries (answers/001.jpg), as the server stored them."""
    data = event.get("data")
    files = data.get("files") if isinstance(data, Mapping) else None
    if event.get("kind") != "answer" or not isinstance(files, list):
        return []
    return [f["path"] for f in files if isinstance(f, Mapping) and isinstance(f.get("path"), str)][:20]


def _tree_item(node: Node) -> QTreeWidgetItem:
    item = QTreeWidgetItem([node.key, node.value])
    if node.severity is not None:
        brush = QBrush(QColor(SEVERITY_COLOURS.get(node.severity, "#555")))
        item.setForeground(0, brush)
        item.setForeground(1, brush)
    if node.key == FLAGS_LABEL:
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)
    item.setToolTip(1, node.value)
    if node.raw_key:
        item.setData(0, RAW_KEY_ROLE, node.raw_key)  # a search finds the row by the snapshot's own key
    for child in node.children:
        item.addChild(_tree_item(child))
    return item


def _filter_item(item: QTreeWidgetItem, needle: str) -> bool:
    """Show ``item`` if it or a descendant matches; expand the way to matches. Returns whether shown."""
    if not needle:
        item.setHidden(False)
        for i in range(item.childCount()):
            child = item.child(i)
            if child is not None:
                _filter_item(child, needle)
        return True
    low = needle.casefold()
    raw_key = item.data(0, RAW_KEY_ROLE)
    texts = (item.text(0), item.text(1), raw_key if isinstance(raw_key, str) else "")
    own = any(low in text.casefold() for text in texts)
    any_child = False
    for i in range(item.childCount()):
        child = item.child(i)
        if child is not None:
            # Under a matching row everything stays visible: the match is the context.
            shown = _filter_item(child, "" if own else needle)
            any_child = any_child or (shown and not own)
    item.setHidden(not (own or any_child))
    if any_child:
        item.setExpanded(True)
    return own or any_child


def _event_html(event: Mapping[str, Any], actor: str) -> str:
    """The technicians' events (``actor``: who did it, as HTML)."""
    kind = str(event.get("kind", ""))
    at = str(event.get("at", ""))[:19].replace("T", " ")
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    assert isinstance(data, Mapping)
    if kind == "created":
        text = "Report received"
    elif kind == "status":
        text = f"Status {html.escape(str(data.get('from')))} → <b>{html.escape(str(data.get('to')))}</b>"
    elif kind == "assigned":
        text = f"Assigned to <b>{html.escape(str(data.get('to') or 'nobody'))}</b>"
    elif kind == "queue":
        text = f"Walk-up queue: {html.escape(str(data.get('state', '')))}"
    elif kind in ("note", "reply"):
        label = "Internal note" if kind == "note" else "Reply to the reporter"
        body = _plain_html(data.get("text"))
        colour = "#fff8e1" if kind == "note" else "#e8f5e9"
        text = f"<b>{label}</b><div style='background:{colour}; padding:4px'>{body}</div>"
    else:
        text = html.escape(kind)
    return f"<p><span style='color:gray'>{html.escape(at)} · {actor}</span><br>{text}</p>"


__all__ = ["TicketViewer"]
