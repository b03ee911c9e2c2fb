"""The queue: a filter bar, search as you type, and the ticket table over the session's model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from technician.client import Feature
from technician.model import STATUSES, Column, QueueFilter, Scope, TicketSummary
from technician.queue_model import TICKET_ID_ROLE, QueueModel

SEARCH_DELAY_MS: Final = 250
ALL: Final = "All"
COLUMN_WIDTHS: Final = {
    Column.NUMBER: 92,
    Column.AGE: 56,
    Column.WHO: 120,
    Column.CATEGORY: 90,
    Column.SUBJECT: 240,
    Column.SOURCE: 100,
    Column.POSITION: 64,
    Column.STATUS: 70,
    Column.ASSIGNEE: 84,
    Column.STEPS: 46,
    Column.FLAGS: 110,
}
# The subject takes what is left, but never less than this.
MIN_SUBJECT_WIDTH: Final = 140
# When the queue pane is too narrow for every column, these give way first, in this order, so
# the number, status, subject and flags (what a technician triages by) stay on screen without
# a horizontal scroll bar; they come back when there is room.
DROP_ORDER: Final[tuple[Column, ...]] = (
    Column.STEPS,
    Column.SOURCE,
    Column.CATEGORY,
    Column.POSITION,
    Column.AGE,
    Column.ASSIGNEE,
    Column.WHO,
)


def columns_to_hide(available: int, widths: Mapping[Column, int]) -> frozenset[Column]:
    """The columns to hide so the rest, with the subject at its least, fit in ``available`` pixels."""
    needed = MIN_SUBJECT_WIDTH + sum(width for column, width in widths.items() if column != Column.SUBJECT)
    hidden: set[Column] = set()
    for column in DROP_ORDER:
        if needed <= available:
            break
        hidden.add(column)
        needed -= widths.get(column, 0)
    return frozenset(hidden)


SCOPES: Final[tuple[tuple[str, Scope], ...]] = (("Everyone's", "all"), ("Mine", "mine"), ("Unassigned", "unassigned"))


class SuggestionCombo(QComboBox):
    """An editable choice whose list is filled from ``suggest()`` when it opens ("All" first)."""

    def __init__(self, suggest: Callable[[], list[str]], placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._suggest = suggest
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.addItem(ALL)
        line = self.lineEdit()
        assert line is not None
        line.setPlaceholderText(placeholder)
        line.setClearButtonEnabled(True)

    def showPopup(self) -> None:  # noqa: N802 - Qt's name
        current = self.currentText()
        self.blockSignals(True)
        self.clear()
        self.addItem(ALL)
        self.addItems(self._suggest())
        self.setCurrentText(current)
        self.blockSignals(False)
        super().showPopup()

    def value(self) -> str | None:
        text = self.currentText().strip()
        return None if not text or text == ALL else text


class QueueView(QWidget):
    """Shows the model and turns the filter widgets into a ``QueueFilter`` for the session."""

    filter_changed = Signal(object)  # QueueFilter
    ticket_selected = Signal(str)

    def __init__(self, model: QueueModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.search = QLineEdit()
        self.search.setObjectName("QueueSearch")
        self.search.setPlaceholderText("Search subject, description or receipt code  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.status = QComboBox()
        self.status.setObjectName("QueueStatus")
        self.status.addItem(ALL)
        self.status.addItems(STATUSES)
        self.category = SuggestionCombo(lambda: self._known(lambda r: r.category), "Category")
        self.category.setObjectName("QueueCategory")
        self.source = SuggestionCombo(lambda: self._known(lambda r: r.source_id), "Source")
        self.source.setObjectName("QueueSource")
        self.scope = QComboBox()
        self.scope.setObjectName("QueueScope")
        for label, value in SCOPES:
            self.scope.addItem(label, value)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.search, 3)
        # Every filter has a label whose buddy it is: on Linux a screen reader names a combo box
        # by its label (Qt gives the box's own name as its current value, "All"). Only Status
        # shows its label; the others say what they are in their placeholder and their values.
        self.filter_labels: dict[str, QLabel] = {}
        for key, widget, shown in (
            ("status", self.status, True),
            ("category", self.category, False),
            ("source", self.source, False),
            ("scope", self.scope, False),
        ):
            filter_label = QLabel()
            filter_label.setObjectName(f"QueueFilterLabel-{key}")
            filter_label.setBuddy(widget)
            self.filter_labels[key] = filter_label
            bar.addWidget(filter_label)
            filter_label.setVisible(shown)
            bar.addWidget(widget, 1)
        self.table = QTableView()
        self.table.setObjectName("QueueTable")
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        # Tab leaves the table, as it leaves any list; the arrow keys move inside it. (Tab from
        # cell to cell trapped keyboard users and opened every ticket it passed.)
        self.table.setTabKeyNavigation(False)
        vertical = self.table.verticalHeader()
        vertical.hide()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setHighlightSections(False)
        for column, width in COLUMN_WIDTHS.items():
            self.table.setColumnWidth(column, width)
        header.setSectionResizeMode(Column.SUBJECT, QHeaderView.ResizeMode.Stretch)
        header.setSortIndicator(Column.NUMBER, Qt.SortOrder.DescendingOrder)
        self._widths: dict[Column, int] = dict(COLUMN_WIDTHS)  # the person's own widths once they drag one
        header.sectionResized.connect(self._column_resized)
        self.table.viewport().installEventFilter(self)
        self.table.setSortingEnabled(True)
        self._name_for_assistive_technology()
        self.line = QLabel()
        self.line.setObjectName("QueueStatusLine")
        self.line.setStyleSheet("color: palette(dark);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 2)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.line)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._emit_filter)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.status.currentIndexChanged.connect(lambda _i: self._emit_filter())
        self.scope.currentIndexChanged.connect(lambda _i: self._emit_filter())
        for combo in (self.category, self.source):
            combo.activated.connect(lambda _i: self._emit_filter())
            line = combo.lineEdit()
            assert line is not None
            line.editingFinished.connect(self._emit_filter)
            line.textChanged.connect(lambda text: self._emit_filter() if not text else None)
        selection = self.table.selectionModel()
        selection.currentRowChanged.connect(self._current_changed)
        # Bound methods, not lambdas: Qt drops these connections when this view is deleted.
        model.rows_changed.connect(self._update_line)
        model.loading_changed.connect(self._update_line)
        model.sort_refused.connect(self._sort_refused)
        model.load_failed.connect(self._load_failed)
        model.dataChanged.connect(self._update_line_soon)
        self._line_timer = QTimer(self)
        self._line_timer.setSingleShot(True)
        self._line_timer.setInterval(200)
        self._line_timer.timeout.connect(self._update_line)
        self._last_filter = QueueFilter()

    def _name_for_assistive_technology(self) -> None:
        """Names that say what each control is for; a combo box otherwise reads as its current value ("All")."""
        self.search.setAccessibleName(self.tr("Search the queue"))
        self.search.setAccessibleDescription(self.tr("Finds words in the subject and description"))
        self.filter_labels["status"].setText(self.tr("Status"))
        for key, combo, name in (
            ("status", self.status, self.tr("Status filter")),
            ("category", self.category, self.tr("Category filter")),
            ("source", self.source, self.tr("Source filter")),
            ("scope", self.scope, self.tr("Whose tickets")),
        ):
            combo.setAccessibleName(name)  # what Windows and macOS screen readers say
            if key != "status":
                self.filter_labels[key].setText(name)
            self.filter_labels[key].setAccessibleName(name)  # what a Linux screen reader says, by the label
            line = combo.lineEdit()
            if line is not None:
                line.setAccessibleName(name)
        self.table.setAccessibleName(self.tr("Tickets"))

    # ------------------------------------------------------------ filters
    def set_features(self, features: frozenset[Feature]) -> None:
        """Show only the filters and columns this backend can fill."""
        filters = Feature.FILTERS in features
        for widget in (self.search, self.category, self.source, self.scope):
            widget.setVisible(filters)
        self.table.setColumnHidden(Column.POSITION, Feature.WALK_UP not in features)
        self.table.setColumnHidden(Column.ASSIGNEE, Feature.ASSIGN not in features)

    def current_filter(self) -> QueueFilter:
        status = self.status.currentText()
        scope: Scope = self.scope.currentData() or "all"
        return QueueFilter(
            status=None if status == ALL else status,
            category=self.category.value(),
            source=self.source.value(),
            scope=scope,
            text=self.search.text().strip(),
        )

    def _emit_filter(self) -> None:
        self._search_timer.stop()
        filters = self.current_filter()
        if filters != self._last_filter:
            self._last_filter = filters
            self.filter_changed.emit(filters)

    def apply_now(self) -> None:
        """Send a pending search at once (Enter; tests)."""
        self._emit_filter()

    def _known(self, pick: Callable[[TicketSummary], str]) -> list[str]:
        values = {pick(row.ticket) for row in self.model.rows}
        return sorted((v for v in values if v), key=str.casefold)[:200]

    # ------------------------------------------------------------ selection
    # ------------------------------------------------------------ columns that fit
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return super().eventFilter(watched, event)

    def fit_columns(self) -> None:
        """Show the columns that fit the table's width (see ``DROP_ORDER``), the rest hidden until there is room."""
        hidden = columns_to_hide(self.table.viewport().width(), self._widths)
        for column in Column:
            if self.table.isColumnHidden(column) != (column in hidden):
                self.table.setColumnHidden(column, column in hidden)
                if column not in hidden and column != Column.SUBJECT:
                    self.table.setColumnWidth(column, self._widths[column])

    def _column_resized(self, column: int, _old: int, new: int) -> None:
        if column != Column.SUBJECT and new > 0:  # 0: being hidden, not a width the person chose
            self._widths[Column(column)] = new

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            ticket_id = current.data(TICKET_ID_ROLE)
            if isinstance(ticket_id, str):
                self.ticket_selected.emit(ticket_id)

    def select_ticket(self, ticket_id: str) -> bool:
        row = self.model.row_of(ticket_id)
        if row is None:
            return False
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        self.table.scrollTo(index)
        return True

    def selected_ticket_id(self) -> str | None:
        index = self.table.selectionModel().currentIndex()
        value = index.data(TICKET_ID_ROLE) if index.isValid() else None
        return value if isinstance(value, str) else None

    def move_selection(self, step: int) -> None:
        """Select the next (1) or previous (-1) ticket."""
        count = self.model.rowCount()
        if count == 0:
            return
        current = self.table.selectionModel().currentIndex()
        row = 0 if not current.isValid() else max(0, min(count - 1, current.row() + step))
        ticket = self.model.ticket_at(row)
        if ticket is not None:
            self.select_ticket(ticket.id)

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    # ------------------------------------------------------------ status line
    def _load_failed(self, reason: str) -> None:
        self.line.setText(f"Could not load tickets: {reason}")

    def _update_line_soon(self, *_changed: object) -> None:
        if not self._line_timer.isActive():
            self._line_timer.start()

    def _update_line(self, *_changed: object) -> None:
        model = self.model
        count = len(model.rows)
        parts = [f"{count:,} ticket{'s' if count != 1 else ''}"]
        if model.loading:
            parts.append("loading…")
        elif model.next_cursor is not None:
            parts.append("more as you scroll")
        unread = model.unread_count
        if unread:
            parts.append(f"{unread:,} unread")
        self.line.setText(" · ".join(parts))

    def _sort_refused(self, message: str) -> None:
        self.table.horizontalHeader().setSortIndicator(Column.NUMBER, Qt.SortOrder.DescendingOrder)
        self.line.setText(message)
