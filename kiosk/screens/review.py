"""Review: each step and clip as a thumbnail, mark-up and delete; which system information goes, a switch per group."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPointF, Qt, QTimer, Signal, SignalInstance
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QPolygonF
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from agent import markup as markup_core
from agent.bundle import ClipDraft
from agent.schema import MarkupItem
from agent.steps import EditableStep
from agent.sysinfo.text import format_text
from kiosk.session import KioskSession, SessionError
from kiosk.settings import QT_TRANSLATE_NOOP
from kiosk.steps import THUMBNAIL_SIZE, ThumbnailCache, picture
from kiosk.theme import SCROLL_BAR_PX
from kiosk.widgets import KioskScreen, TouchScrollArea, fill, make_button, make_label, set_role, set_text
from shared_qt.workers import BackgroundRunner

# A step card is at least this wide; as many columns as fit the width are used.
_MIN_CARD_PX = 340
_GRID_SPACING_PX = 20
# The switch list keeps a readable width; the steps get the rest of the screen.
_SYSINFO_CARD_PX = 600
# How long "Step 2 deleted. Undo" (or "Clip 1 removed. Undo") stays; after that the deletion is final.
UNDO_SECONDS = 10
_GROUP_CONTEXT = "SysinfoGroups"
# The kiosk's own wording of the core's groups, so they follow the person's language.
GROUP_LABELS = {
    "os": QT_TRANSLATE_NOOP("SysinfoGroups", "Operating system"),
    "clock": QT_TRANSLATE_NOOP("SysinfoGroups", "Clock"),
    "cpu": QT_TRANSLATE_NOOP("SysinfoGroups", "Processor"),
    "memory": QT_TRANSLATE_NOOP("SysinfoGroups", "Memory"),
    "disks": QT_TRANSLATE_NOOP("SysinfoGroups", "Disks"),
    "network": QT_TRANSLATE_NOOP("SysinfoGroups", "Network"),
    "proxy": QT_TRANSLATE_NOOP("SysinfoGroups", "Proxy settings"),
    "battery": QT_TRANSLATE_NOOP("SysinfoGroups", "Battery"),
    "displays": QT_TRANSLATE_NOOP("SysinfoGroups", "Displays"),
    "processes": QT_TRANSLATE_NOOP("SysinfoGroups", "Busiest programs"),
    "showdesk": QT_TRANSLATE_NOOP("SysinfoGroups", "ShowDesk"),
    "connectivity": QT_TRANSLATE_NOOP("SysinfoGroups", "Connection to the help desk"),
}


class MarkupEditorLike(Protocol):
    """What Review needs of the shared mark-up editor widget."""

    @property
    def changed(self) -> SignalInstance: ...

    def load(self, image_png: bytes, items: Sequence[MarkupItem] = ()) -> None: ...

    def items(self) -> Sequence[MarkupItem]: ...


EditorFactory = Callable[[], QWidget]


def group_label(key: str) -> str:
    source = GROUP_LABELS.get(key)
    return QCoreApplication.translate(_GROUP_CONTEXT, source) if source else key


class _Card(QFrame):
    """A thumbnail card of the Review grid: the picture fills the card's width, text and buttons below."""

    def __init__(self, object_name: str, image: QImage | None) -> None:
        super().__init__()
        set_role(self, "card")
        self.setObjectName(object_name)
        self.card_layout = QVBoxLayout(self)
        self.card_layout.setContentsMargins(16, 16, 16, 16)
        self.card_layout.setSpacing(8)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._image = image
        self.card_layout.addWidget(self.picture)

    def set_card_width(self, width: int) -> None:
        """The picture fills the card's width at the thumbnail's 16:10 (a photo keeps its own shape inside)."""
        self.setFixedWidth(width)
        inner = width - 32
        self.picture.setFixedHeight(round(inner * THUMBNAIL_SIZE[1] / THUMBNAIL_SIZE[0]))
        if self._image is not None:
            pixmap = QPixmap.fromImage(self._image).scaled(
                inner,
                self.picture.height(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self.picture.setPixmap(self.decorate(pixmap))

    def decorate(self, pixmap: QPixmap) -> QPixmap:
        return pixmap


class _StepCard(_Card):
    def __init__(self, screen: ReviewScreen, step: EditableStep, number: int) -> None:
        super().__init__(f"step-{number}", screen.thumbnails.get(step.id, picture(step)))
        layout = self.card_layout
        caption = step.caption or ""
        self.heading = make_label(wrap=True)
        title = QCoreApplication.translate("StepCard", "Step %1").replace("%1", str(number))
        self.heading.setText(f"{title}: {caption}" if caption else title)
        self.picture.setAccessibleName(self.heading.text())
        layout.addWidget(self.heading)
        if step.markup:
            marked = make_label("hint")
            marked.setText(QCoreApplication.translate("StepCard", "Marked up"))
            layout.addWidget(marked)
        buttons = QHBoxLayout()
        self.markup_button = make_button(object_name=f"markup-{number}")
        set_text(
            self.markup_button,
            QCoreApplication.translate("StepCard", "Mark up"),
            fill(QCoreApplication.translate("StepCard", "Mark up step %1"), number),
        )
        self.markup_button.clicked.connect(lambda: screen.open_editor(step.id))
        if screen.editor_factory is None:
            self.markup_button.hide()
        self.delete_button = make_button("danger", object_name=f"delete-{number}")
        set_text(
            self.delete_button,
            QCoreApplication.translate("StepCard", "Delete"),
            fill(QCoreApplication.translate("StepCard", "Delete step %1"), number),
        )
        self.delete_button.clicked.connect(lambda: screen.delete_step(step.id))
        for button in (self.markup_button, self.delete_button):
            button.setProperty("compact", "true")
        # Delete sits in the card's top corner, the picture between it and Mark up at the bottom:
        # a finger meant for one never lands on the other, in any language's button widths.
        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.delete_button)
        layout.insertLayout(0, top)
        buttons.addWidget(self.markup_button)
        buttons.addStretch(1)
        # Mark up sits on the card's bottom edge, level across a row whatever the captions' lengths.
        layout.addStretch(1)
        layout.addLayout(buttons)


def clip_seconds_text(clip: ClipDraft) -> str:
    """A clip's length as the card shows it: tenths of a second, as the clip review's trim line."""
    return f"{clip.duration_ms / 1000:.1f}"


class _ClipCard(_Card):
    """A kept clip: a still of its first kept frame under a play mark, its length, and a big Remove.

    Remove is big (not the step card's compact Delete in the corner): a clip card has no other
    button, so nothing sits near it for a finger to miss; it is undone like a step's Delete.
    """

    def __init__(self, screen: ReviewScreen, clip: ClipDraft, number: int) -> None:
        key = screen.clip_key(clip)
        # The cache decodes only the animated WebP's first frame, off the GUI thread.
        super().__init__(f"clip-{number}", screen.thumbnails.get(key, clip.data))
        layout = self.card_layout
        self.heading = make_label(wrap=True)
        self.heading.setObjectName(f"clip-heading-{number}")
        title = fill(QCoreApplication.translate("ClipCard", "Clip %1 · %2 s"), number, clip_seconds_text(clip))
        self.heading.setText(f"{title}: {clip.caption}" if clip.caption else title)
        self.picture.setAccessibleName(fill(QCoreApplication.translate("ClipCard", "Clip %1, first picture"), number))
        layout.addWidget(self.heading)
        self.remove_button = make_button("danger", object_name=f"remove-clip-{number}")
        set_text(
            self.remove_button,
            QCoreApplication.translate("ClipCard", "Remove clip"),
            fill(QCoreApplication.translate("ClipCard", "Remove clip %1"), number),
        )
        # By key, not the clip itself: a card waiting for its deferred deletion keeps no clip's bytes alive.
        self.remove_button.clicked.connect(lambda: screen.remove_clip(key))
        # On the card's bottom edge, where a step card has Mark up: level across a row.
        layout.addStretch(1)
        layout.addWidget(self.remove_button)

    def decorate(self, pixmap: QPixmap) -> QPixmap:
        """A play mark in the middle: at a glance this card moves, the others are stills."""
        marked = QPixmap(pixmap)
        radius = max(16, min(marked.width(), marked.height()) // 6)
        centre = QPointF(marked.width() / 2, marked.height() / 2)
        painter = QPainter(marked)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawEllipse(centre, radius, radius)
        painter.setBrush(QColor(255, 255, 255))
        side = radius * 0.9
        painter.drawPolygon(
            QPolygonF(
                [
                    QPointF(centre.x() - side * 0.4, centre.y() - side * 0.55),
                    QPointF(centre.x() - side * 0.4, centre.y() + side * 0.55),
                    QPointF(centre.x() + side * 0.6, centre.y()),
                ]
            )
        )
        painter.end()
        return marked


def _focus_stops_within(root: QWidget) -> list[QWidget]:
    """``root`` and the widgets inside it that take Tab focus, in their current tab order."""
    stops: list[QWidget] = [root] if root.focusPolicy() & Qt.FocusPolicy.TabFocus else []
    widget = root.nextInFocusChain()
    # The chain is a ring of every widget in the window: bounded by its length.
    for _ in range(len(root.window().findChildren(QWidget)) + 1):
        if widget is root or widget is None:
            break
        if root.isAncestorOf(widget) and widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
            stops.append(widget)
        widget = widget.nextInFocusChain()
    return stops


class ReviewScreen(KioskScreen):
    confirmed = Signal()

    def __init__(
        self,
        session: KioskSession,
        runner: BackgroundRunner,
        thumbnails: ThumbnailCache,
        editor_factory: EditorFactory | None,
    ) -> None:
        super().__init__()
        self.session = session
        self.runner = runner
        self.thumbnails = thumbnails
        self.editor_factory = editor_factory
        self.editor: QWidget | None = None
        self._editing_step = ""
        self.pages = QStackedWidget()
        self.content_layout.addWidget(self.pages, 1)

        # ---- overview
        overview = QWidget()
        row = QHBoxLayout(overview)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(48)
        left = QVBoxLayout()
        left.setSpacing(12)
        self.steps_heading = make_label("title")
        left.addWidget(self.steps_heading)
        self.no_steps_label = make_label("hint")
        left.addWidget(self.no_steps_label)
        self.steps_area = TouchScrollArea()
        self.steps_area.setObjectName("steps-area")
        self.steps_holder = QWidget()
        self.steps_grid = QGridLayout(self.steps_holder)
        self.steps_grid.setContentsMargins(0, 0, 0, 0)
        self.steps_grid.setSpacing(_GRID_SPACING_PX)
        self.steps_grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.steps_area.set_content(self.steps_holder)
        self.steps_area.viewport().installEventFilter(self)
        self._columns = 0
        left.addWidget(self.steps_area, 1)
        left.addWidget(self.steps_area.more_hint)
        self.undo_bar = QFrame()
        set_role(self.undo_bar, "card")
        self.undo_bar.setObjectName("undo-bar")
        undo_row = QHBoxLayout(self.undo_bar)
        undo_row.setContentsMargins(24, 8, 8, 8)
        self.undo_label = make_label()
        undo_row.addWidget(self.undo_label, 1)
        self.undo_button = make_button(object_name="undo-delete")
        self.undo_button.clicked.connect(self.undo_delete)
        undo_row.addWidget(self.undo_button)
        self.undo_bar.hide()
        left.addWidget(self.undo_bar)
        # The last step or clip taken out, and where it was, while Undo is offered.
        self._deleted: tuple[int, EditableStep | ClipDraft] | None = None
        # The thumbnail cache's key of each clip shown, by identity (a clip has no id of its own).
        self._clip_keys: list[tuple[ClipDraft, str]] = []
        self._undo_timer = QTimer(self)
        self._undo_timer.setSingleShot(True)
        self._undo_timer.setInterval(UNDO_SECONDS * 1000)
        self._undo_timer.timeout.connect(self._forget_deleted)
        row.addLayout(left, 1)

        self.sysinfo_card = QFrame()
        set_role(self.sysinfo_card, "card")
        self.sysinfo_card.setObjectName("sysinfo")
        info = QVBoxLayout(self.sysinfo_card)
        info.setContentsMargins(32, 24, 32, 24)
        info.setSpacing(8)
        self.sysinfo_heading = make_label("title")
        info.addWidget(self.sysinfo_heading)
        self.sysinfo_hint = make_label("hint")
        info.addWidget(self.sysinfo_hint)
        self.group_area = TouchScrollArea(on_surface=True)
        self.group_area.setObjectName("groups-area")
        self.group_holder = QWidget()
        self.group_layout = QVBoxLayout(self.group_holder)
        self.group_layout.setContentsMargins(0, 0, 0, 0)
        self.group_layout.setSpacing(0)
        self.group_layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.group_area.set_content(self.group_holder)
        info.addWidget(self.group_area, 1)
        info.addWidget(self.group_area.more_hint)
        self.group_boxes: dict[str, QCheckBox] = {}
        self.details_button = make_button(object_name="sysinfo-details")
        self.details_button.clicked.connect(self.show_details)
        info.addWidget(self.details_button)
        self.sysinfo_card.setFixedWidth(_SYSINFO_CARD_PX)
        row.addWidget(self.sysinfo_card)
        self.pages.addWidget(overview)

        # ---- the mark-up editor
        self.editor_page = QWidget()
        self.editor_layout = QVBoxLayout(self.editor_page)
        self.editor_layout.setContentsMargins(0, 0, 0, 0)
        self.editor_hint = make_label("hint")
        self.editor_layout.addWidget(self.editor_hint)
        self.pages.addWidget(self.editor_page)

        # ---- exactly what is sent
        details_page = QWidget()
        details_layout = QVBoxLayout(details_page)
        details_layout.setContentsMargins(0, 0, 0, 0)
        details_layout.setSpacing(12)
        details_top = QHBoxLayout()
        self.details_hint = make_label("hint")
        details_top.addWidget(self.details_hint, 1)
        self.raw_button = make_button(object_name="sysinfo-raw")
        self.raw_button.setCheckable(True)
        self.raw_button.toggled.connect(lambda _on: self._fill_details())
        details_top.addWidget(self.raw_button)
        details_layout.addLayout(details_top)
        self.details_view = QPlainTextEdit()
        self.details_view.setObjectName("sysinfo-json")
        self.details_view.setReadOnly(True)
        self.details_view.setTabChangesFocus(True)
        details_layout.addWidget(self.details_view, 1)
        self.pages.addWidget(details_page)

        self.footer_layout.addStretch(1)
        self.save_markup_button = make_button("primary", object_name="save-markup")
        self.save_markup_button.clicked.connect(self.save_markup)
        self.save_markup_button.hide()
        self.footer_layout.addWidget(self.save_markup_button)
        self.send_button = make_button("primary", object_name="send")
        self.send_button.clicked.connect(self.confirmed)
        self.footer_layout.addWidget(self.send_button)

        thumbnails.ready.connect(lambda _step_id: self._refresh_if_visible())
        session.on_change(self._refresh_if_visible)
        self.retranslate()

    # ------------------------------------------------------------ texts
    def retranslate(self) -> None:
        super().retranslate()
        self.title_label.setText(self.tr("Check before sending"))
        self._retranslate_heading()
        self.group_area.setAccessibleName(self.tr("Technical information groups"))
        self.no_steps_label.setText(self.tr("No steps. That is fine: the help desk will ask if it needs to see more."))
        self.sysinfo_heading.setText(self.tr("About this kiosk"))
        self.sysinfo_hint.setText(
            self.tr("This technical information goes with your request. Switch off what you do not want to send.")
        )
        set_text(self.details_button, self.tr("Show exactly what is sent"))
        self.editor_hint.setText(self.tr("Draw on the picture. Black boxes hide what is under them for good."))
        self.details_view.setAccessibleName(self.tr("System information that will be sent"))
        self._retranslate_details()
        self._retranslate_undo()
        set_text(self.save_markup_button, self.tr("Save mark-up"))
        set_text(self.send_button, self.tr("Send ›"), self.tr("Send"))
        self.refresh()

    def _retranslate_heading(self) -> None:
        heading = self.tr("Your steps and clips") if self.session.clips else self.tr("Your steps")
        self.steps_heading.setText(heading)
        self.steps_area.setAccessibleName(heading)

    # ------------------------------------------------------------ content
    def clip_key(self, clip: ClipDraft) -> str:
        """The thumbnail cache's key for ``clip``: made on first sight, kept while the clip is shown."""
        for known, key in self._clip_keys:
            if known is clip:
                return key
        key = f"clip-{uuid.uuid4().hex}"
        self._clip_keys.append((clip, key))
        return key

    def _forget_clip_keys(self, keep: Sequence[ClipDraft]) -> None:
        """Drop the keys (and thumbnails) of clips no longer in the session, so their bytes can go."""
        kept: list[tuple[ClipDraft, str]] = []
        for clip, key in self._clip_keys:
            if any(clip is wanted for wanted in keep):
                kept.append((clip, key))
            else:
                self.thumbnails.invalidate(key)
        self._clip_keys = kept

    def _refresh_if_visible(self) -> None:
        if self.isVisible() and self.pages.currentIndex() == 0:
            self.refresh()

    def refresh(self) -> None:
        while self.steps_grid.count():
            item = self.steps_grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.setParent(None)
                widget.deleteLater()
        columns, width = self._grid_shape()
        self._columns = columns
        deleted = self._deleted[1] if self._deleted is not None else None
        self._forget_clip_keys([*self.session.clips, *([deleted] if isinstance(deleted, ClipDraft) else [])])
        cards: list[_Card] = [_StepCard(self, step, index + 1) for index, step in enumerate(self.session.steps)]
        # The clips follow the steps in the same grid, numbered on their own as the report numbers them.
        cards += [_ClipCard(self, clip, index + 1) for index, clip in enumerate(self.session.clips)]
        for index, card in enumerate(cards):
            card.set_card_width(width)
            self.steps_grid.addWidget(card, index // columns, index % columns)
            card.show()  # a child added to a visible parent stays hidden until shown
        # Rows keep their cards' height; the space under the last row stays empty.
        rows = -(-len(cards) // columns)
        for row in range(self.steps_grid.rowCount()):
            self.steps_grid.setRowStretch(row, 0)
        self.steps_grid.setRowStretch(rows, 1)
        self.no_steps_label.setVisible(not cards)
        self._retranslate_heading()
        self.steps_area.update_hint()
        self._refresh_groups()
        self.order_tabs()

    def order_tabs(self) -> None:
        """Tab follows the screen, top to bottom and left to right: Back; each step card in
        reading order (its Delete at the top, its Mark up below the picture), then each clip
        card's Remove; Undo; the mark-up editor when it is open; the switches; "Show exactly
        what is sent"; the footer's buttons.

        Qt's default order is the order widgets were made in, and the cards are made after the
        switches, so people met the switches before their own pictures.
        """
        chain: list[QWidget] = [self.back_button]
        for index in range(self.steps_grid.count()):
            item = self.steps_grid.itemAt(index)
            card = item.widget() if item is not None else None
            if isinstance(card, _StepCard):
                chain += [card.delete_button, card.markup_button]
            elif isinstance(card, _ClipCard):
                chain.append(card.remove_button)
        chain.append(self.undo_button)
        if self.editor is not None:
            chain += _focus_stops_within(self.editor)
        chain += [*self.group_boxes.values(), self.details_button, self.raw_button, self.details_view]
        chain += [self.save_markup_button, self.send_button]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _grid_shape(self) -> tuple[int, int]:
        """How many step cards fit side by side in the area, and how wide each is to fill it."""
        room = max(_MIN_CARD_PX, self.steps_area.viewport().width() - SCROLL_BAR_PX // 2)
        columns = max(1, (room + _GRID_SPACING_PX) // (_MIN_CARD_PX + _GRID_SPACING_PX))
        return columns, (room - _GRID_SPACING_PX * (columns - 1)) // columns

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        # A new width (first show, another screen) re-flows the cards into as many columns as fit.
        if watched is self.steps_area.viewport() and event.type() == QEvent.Type.Resize:
            columns, width = self._grid_shape()
            cards = [c for c in self.steps_holder.findChildren(_Card) if c.isVisibleTo(self.steps_holder)]
            if columns != self._columns or (cards and cards[0].width() != width):
                self.refresh()
        return super().eventFilter(watched, event)

    def _refresh_groups(self) -> None:
        snapshot = self.session.sysinfo or {}
        for key in list(self.group_boxes):
            if key not in snapshot:
                gone = self.group_boxes.pop(key)
                self.group_layout.removeWidget(gone)
                gone.deleteLater()
        for key in snapshot:
            box = self.group_boxes.get(key)
            if box is None:
                box = QCheckBox()
                box.setObjectName(f"group-{key}")
                box.toggled.connect(lambda on, k=key: self.session.set_group_included(k, on))
                self.group_layout.addWidget(box)
                box.show()
                self.group_boxes[key] = box
            label = group_label(key)
            box.setText(label)
            box.setAccessibleName(self.tr("Send %1").replace("%1", label))
            box.blockSignals(True)
            box.setChecked(key not in self.session.excluded_groups)
            box.blockSignals(False)
        self.details_button.setEnabled(bool(snapshot))
        self.group_area.update_hint()
        if not snapshot:
            self.sysinfo_hint.setText(self.tr("Collecting technical information…"))

    def included_sysinfo(self) -> dict[str, Any]:
        snapshot = self.session.sysinfo or {}
        return {k: v for k, v in snapshot.items() if k not in self.session.excluded_groups}

    # ------------------------------------------------------------ actions
    def delete_step(self, step_id: str) -> None:
        """Delete at once, with Undo for a few seconds (only the last deletion can be undone)."""
        removed = self.session.remove_step(step_id)
        if removed is not None:
            self._offer_undo(removed)

    def remove_clip(self, clip_key: str) -> None:
        """Take the clip shown under ``clip_key`` out of the report at once, with Undo a few seconds (as Delete)."""
        clip = next((known for known, key in self._clip_keys if key == clip_key), None)
        index = next((i for i, kept in enumerate(self.session.clips) if kept is clip), None)
        if clip is None or index is None:
            return
        self._offer_undo((index, clip))  # before the session's change: the card's thumbnail stays known
        self.session.remove_clip(index)

    def _offer_undo(self, removed: tuple[int, EditableStep | ClipDraft]) -> None:
        # Only the last deletion can be undone: the one before is final now.
        self._forget_deleted()
        self._deleted = removed
        self._retranslate_undo()
        self.undo_bar.show()
        self._undo_timer.start()
        self.undo_button.setFocus()

    def undo_delete(self) -> None:
        deleted, self._deleted = self._deleted, None
        self._undo_timer.stop()
        self.undo_bar.hide()
        if deleted is not None:
            index, item = deleted
            if isinstance(item, ClipDraft):
                self._restore_clip(index, item)
            else:
                self.session.restore_step(index, item)
        self.send_button.setFocus()

    def _restore_clip(self, index: int, clip: ClipDraft) -> None:
        # Back in its place: the clips are numbered in the order they were kept, here and in the report.
        try:
            self.session.restore_clip(index, clip)
        except SessionError:
            self.refresh()  # no room (cannot happen on Review, where nothing records): it stays removed

    def _forget_deleted(self) -> None:
        if self._deleted is not None:
            item = self._deleted[1]
            if isinstance(item, ClipDraft):
                self._deleted = None
                self._forget_clip_keys(self.session.clips)
            else:
                self.thumbnails.invalidate(item.id)
        self._deleted = None
        self.undo_bar.hide()

    def _retranslate_undo(self) -> None:
        if self._deleted is not None and isinstance(self._deleted[1], ClipDraft):
            self.undo_label.setText(self.tr("Clip %1 removed.").replace("%1", str(self._deleted[0] + 1)))
            set_text(self.undo_button, self.tr("Undo"), self.tr("Undo: bring the clip back"))
            return
        if self._deleted is not None:
            self.undo_label.setText(self.tr("Step %1 deleted.").replace("%1", str(self._deleted[0] + 1)))
        set_text(self.undo_button, self.tr("Undo"), self.tr("Undo: bring the step back"))

    def show_details(self) -> None:
        self.raw_button.setChecked(False)
        self._fill_details()
        self._show_page(2)
        self.details_view.setFocus()

    def _fill_details(self) -> None:
        included = self.included_sysinfo()
        if self.raw_button.isChecked():
            self.details_view.setPlainText(json.dumps(included, indent=2, ensure_ascii=False))
        else:
            self.details_view.setPlainText(format_text(included))
        self._retranslate_details()

    def _retranslate_details(self) -> None:
        if self.raw_button.isChecked():
            self.details_hint.setText(self.tr("The raw data, exactly as it is sent."))
            set_text(self.raw_button, self.tr("Show as text"))
        else:
            self.details_hint.setText(self.tr("What goes with your request, in words."))
            set_text(self.raw_button, self.tr("Show the raw data"))

    def open_editor(self, step_id: str) -> None:
        if self.editor_factory is None:
            return
        step = self.session.step(step_id)
        if self.editor is None:
            self.editor = self.editor_factory()
            self.editor.setObjectName("markup-editor")
            self.editor_layout.addWidget(self.editor, 1)
            self.order_tabs()
        editor: Any = self.editor
        editor.load(step.image, list(step.markup))
        self._editing_step = step_id
        self._show_page(1)
        self.editor.setFocus()

    def save_markup(self) -> None:
        if self.editor is None or not self._editing_step:
            return
        editor: Any = self.editor
        items = list(editor.items())
        step_id = self._editing_step
        step = self.session.step(step_id)
        source = step.image
        release_editor = editor.release
        self.save_markup_button.setEnabled(False)

        def flatten() -> markup_core.FlattenResult:
            return markup_core.flatten(source, items)

        def done(result: markup_core.FlattenResult) -> None:
            self.save_markup_button.setEnabled(True)
            if step_id not in {s.id for s in self.session.steps}:
                return
            self.thumbnails.invalidate(step_id)
            self.session.apply_markup(step_id, items, result)
            if self.editor is editor:
                # The editor's full picture and its scaled copy (~15 MB at 1080p) are not needed
                # until the next "Mark up", which loads the picture again.
                release_editor()
            self._show_page(0)

        self.runner.run(flatten, done, lambda _exc: self.save_markup_button.setEnabled(True))

    def _show_page(self, index: int) -> None:
        self.pages.setCurrentIndex(index)
        self.send_button.setVisible(index == 0)
        self.save_markup_button.setVisible(index == 1)
        if index == 0:
            self.refresh()
            self.send_button.setFocus()

    def go_back(self) -> None:
        if self.pages.currentIndex() != 0:
            self._editing_step = ""
            self._show_page(0)
        else:
            super().go_back()

    def reset(self) -> None:
        self._editing_step = ""
        self._undo_timer.stop()
        self._deleted = None
        self._forget_clip_keys([])  # the person's clips are let go with the session
        self.undo_bar.hide()
        self.raw_button.setChecked(False)
        self.pages.setCurrentIndex(0)
        self.send_button.show()
        self.save_markup_button.hide()
        self.details_view.clear()
        if self.editor is not None:
            release = getattr(self.editor, "release", None)
            if callable(release):
                release()  # the picture's pixels go now, not when the widget's wrapper is collected
            self.editor_layout.removeWidget(self.editor)
            self.editor.deleteLater()
            self.editor = None
        self.refresh()  # the previous person's thumbnails leave the widgets too

    def entered(self) -> None:
        super().entered()
        self._show_page(0)
