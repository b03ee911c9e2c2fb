"""The queue as a Qt table model: pages fetched as the view scrolls, live changes applied row by row.

The model never talks to a backend itself: it asks its ``QueueSource`` for a page or for a
ticket's flags, and the session hands the answers back (``page_loaded``, ``set_flags``,
``apply_ticket``). A live change touches only its own row (insert, update, move or remove),
so an update never reloads the list and the view keeps its scroll position and selection.

Order: the backend lists newest first, and that order needs nothing but the pages. Any other
order is applied here, which needs every matching ticket: the model fetches the remaining
pages first, up to ``MAX_LOCAL_SORT_ROWS``, and refuses (with a message) beyond that.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, Final, Protocol, cast

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleData,
    QModelRoleDataSpan,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont

from agent.flags import Flag
from technician.client import QueueBoard, TicketPage
from technician.model import (
    COLUMN_TITLES,
    SEVERITY_RANK,
    Column,
    QueueFilter,
    ReadState,
    Row,
    TicketSummary,
    flags_text,
    format_age,
    sort_key,
)

MAX_LOCAL_SORT_ROWS: Final = 20_000
FREEZE_AFTER_ROWS: Final = 5_000
_DISPLAY: Final = int(Qt.ItemDataRole.DisplayRole)
_FONT: Final = int(Qt.ItemDataRole.FontRole)
_BACKGROUND: Final = int(Qt.ItemDataRole.BackgroundRole)
_FOREGROUND: Final = int(Qt.ItemDataRole.ForegroundRole)
_ALIGNMENT: Final = int(Qt.ItemDataRole.TextAlignmentRole)
_TOOLTIP: Final = int(Qt.ItemDataRole.ToolTipRole)
_AGE: Final = int(Column.AGE)
_FLAGS: Final = int(Column.FLAGS)
_CENTRED: Final = int(Qt.AlignmentFlag.AlignCenter)
_CENTRED_COLUMNS: Final = frozenset({int(Column.POSITION), int(Column.STEPS)})
_COLUMN_COUNT: Final = len(Column)
_ROW_FLAGS: Final = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
TICKET_ID_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 1
UNREAD_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 2
_ROLES_USED: Final = frozenset(
    {
        int(Qt.ItemDataRole.DisplayRole),
        int(Qt.ItemDataRole.FontRole),
        int(Qt.ItemDataRole.BackgroundRole),
        int(Qt.ItemDataRole.ForegroundRole),
        int(Qt.ItemDataRole.TextAlignmentRole),
        int(Qt.ItemDataRole.ToolTipRole),
        TICKET_ID_ROLE,
        UNREAD_ROLE,
    }
)
# The roles a view asks of every cell it paints (QStyledItemDelegate): the model sets the
# first five, the rest it leaves empty.
_ASKED_WHEN_PAINTED: Final = (
    _DISPLAY,
    _FONT,
    _BACKGROUND,
    _FOREGROUND,
    _ALIGNMENT,
    int(Qt.ItemDataRole.DecorationRole),
    int(Qt.ItemDataRole.CheckStateRole),
)
_ASK_THE_ROW: Final = object()
SEVERITY_COLOURS: Final = {"critical": "#c62828", "warning": "#b26a00", "info": "#1565c0"}
UNREAD_BACKGROUND: Final = "#e8f1ff"

AnyIndex = QModelIndex | QPersistentModelIndex


class QueueSource(Protocol):
    """What the model asks of the session; both calls return at once and answer later."""

    def request_page(self, filters: QueueFilter, cursor: str | None, generation: int) -> None: ...

    def request_flags(self, ticket_id: str) -> None: ...


class QueueModel(QAbstractTableModel):
    """Rows of the technician's queue under one filter."""

    loading_changed = Signal(bool)
    sort_refused = Signal(str)
    load_failed = Signal(str)
    rows_changed = Signal()  # counts or "more to load" changed: for a status line

    def __init__(self, source: QueueSource, read_state: ReadState, parent: Any = None) -> None:
        super().__init__(parent)
        self._source = source
        self.read_state = read_state
        self.rows: list[Row] = []
        self._positions: dict[str, int] = {}
        self._index: dict[str, int] | None = {}
        self._unread = 0
        self.filters = QueueFilter()
        self.me: str | None = None
        self.next_cursor: str | None = None
        self.loading = False
        self.generation = 0
        self.started = False
        self.sort_column: Column | None = None  # None: the backend's order (newest first)
        self.sort_descending = True
        self._pending_sort: tuple[Column, bool] | None = None
        self._flags_asked: set[str] = set()
        self._bold = QFont()
        self._bold.setBold(True)
        self._unread_brush = QBrush(QColor(UNREAD_BACKGROUND))
        self._severity_brushes = {name: QBrush(QColor(colour)) for name, colour in SEVERITY_COLOURS.items()}
        self._cell_styles = self._styles()
        self.now: Callable[[], float] = time.time
        self._age_timer = QTimer(self)
        self._age_timer.setInterval(30_000)
        self._age_timer.timeout.connect(self._refresh_ages)
        self._age_timer.start()

    # ------------------------------------------------------------ loading
    def reset(self, filters: QueueFilter | None = None) -> None:
        """Show ``filters`` (or the current filter again) from its first page."""
        self.beginResetModel()
        if filters is not None:
            self.filters = filters
        self.generation += 1
        self.rows = []
        self._index = {}
        self._unread = 0
        self.next_cursor = None
        self._flags_asked.clear()
        self.started = True
        self.endResetModel()
        self._set_loading(True)
        self._source.request_page(self.filters, None, self.generation)
        self.rows_changed.emit()

    def _set_loading(self, loading: bool) -> None:
        if loading != self.loading:
            self.loading = loading
            self.loading_changed.emit(loading)

    def page_loaded(self, generation: int, page: TicketPage) -> None:
        if generation != self.generation:
            return  # an answer for a filter no longer shown
        known = self._ids()
        fresh = [t for t in page.tickets if t.id not in known]
        self.next_cursor = page.next_cursor if page.tickets else None
        self._set_loading(False)
        if fresh:
            new_rows = [self._row(t) for t in fresh]
            self._unread += sum(1 for row in new_rows if row.unread)
            if len(self.rows) >= FREEZE_AFTER_ROWS:
                # Rows live as long as the list does. Past a few thousand, a full pass of Python's
                # cycle collector over them takes tens of milliseconds, which would land in the
                # middle of a frame; frozen, they are left out of its passes (they hold no cycles).
                gc.freeze()
            if self.sort_column is None:
                first = len(self.rows)
                self.beginInsertRows(QModelIndex(), first, first + len(new_rows) - 1)
                self.rows.extend(new_rows)
                if self._index is not None:  # appended at the end: the rows above keep their numbers
                    self._index.update((row.ticket.id, first + i) for i, row in enumerate(new_rows))
                self.endInsertRows()
            else:
                self.layoutAboutToBeChanged.emit()
                self.rows.extend(new_rows)
                self._sort_rows_keeping_indexes()
        self.rows_changed.emit()
        if self._pending_sort is not None:
            self._continue_pending_sort()

    def page_failed(self, generation: int, reason: str) -> None:
        if generation != self.generation:
            return
        self._set_loading(False)
        self._pending_sort = None
        self.load_failed.emit(reason)

    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008, N802 - Qt's signature
        return not parent.isValid() and self.started and self.next_cursor is not None and not self.loading

    def fetchMore(self, parent: AnyIndex = QModelIndex()) -> None:  # noqa: B008, N802
        if not self.canFetchMore(parent):
            return
        self._set_loading(True)
        self._source.request_page(self.filters, self.next_cursor, self.generation)

    def retry(self) -> None:
        """Load again what failed: the first page, or the next one."""
        if not self.started or self.loading:
            return
        if not self.rows:
            self.reset()
        elif self.next_cursor is not None:
            self.fetchMore()

    # ------------------------------------------------------------ rows
    def _row(self, ticket: TicketSummary) -> Row:
        return Row(
            ticket=ticket,
            flags=None,
            position=self._positions.get(ticket.id),
            unread=self.read_state.is_unread(ticket),
        )

    def _ids(self) -> dict[str, int]:
        if self._index is None:
            self._index = {row.ticket.id: number for number, row in enumerate(self.rows)}
        return self._index

    def row_of(self, ticket_id: str) -> int | None:
        return self._ids().get(ticket_id)

    def ticket_at(self, row: int) -> TicketSummary | None:
        return self.rows[row].ticket if 0 <= row < len(self.rows) else None

    def row_data(self, row: int) -> Row | None:
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def ticket(self, ticket_id: str) -> TicketSummary | None:
        number = self.row_of(ticket_id)
        return None if number is None else self.rows[number].ticket

    # ------------------------------------------------------------ live changes
    def apply_ticket(self, ticket: TicketSummary, flags: Sequence[Flag] | None = None) -> str:
        """Bring one ticket up to date; returns what happened: inserted, updated, removed or ignored."""
        if flags is not None:
            self._flags_asked.add(ticket.id)
        number = self.row_of(ticket.id)
        if number is not None and ticket.description is None:
            ticket = replace(ticket, description=self.rows[number].ticket.description)
        matches = self.filters.matches(ticket, self.me)
        if number is not None:
            if not matches:
                self.beginRemoveRows(QModelIndex(), number, number)
                self._unread -= self.rows[number].unread
                del self.rows[number]
                self._index = None
                self.endRemoveRows()
                self.rows_changed.emit()
                return "removed"
            row = self.rows[number]
            row.ticket = ticket
            unread = self.read_state.is_unread(ticket)
            self._unread += unread - row.unread
            row.unread = unread
            if flags is not None:
                row.flags = tuple(flags)
            row.texts = None
            self._reposition(number)
            return "updated"
        if not matches or not self.started:
            return "ignored"
        row = self._row(ticket)
        if flags is not None:
            row.flags = tuple(flags)
        place = self._insertion_point(row)
        if place == len(self.rows) and self.next_cursor is not None:
            return "ignored"  # it belongs among tickets not loaded yet; its page will bring it
        self.beginInsertRows(QModelIndex(), place, place)
        self.rows.insert(place, row)
        self._unread += row.unread
        self._index = None
        self.endInsertRows()
        self.rows_changed.emit()
        return "inserted"

    def apply_own_change(self, ticket: TicketSummary) -> str:
        """Bring up to date a ticket this technician just changed: it stays read if it was read before."""
        number = self.row_of(ticket.id)
        was_read = number is not None and not self.rows[number].unread
        outcome = self.apply_ticket(ticket)
        if was_read:
            self.mark_read(ticket.id)
        return outcome

    def _key(self, row: Row) -> tuple[Any, ...]:
        return sort_key(self.sort_column or Column.NUMBER, row)

    def _descending(self) -> bool:
        return self.sort_descending if self.sort_column is not None else True

    def _before(self, a: Row, b: Row) -> bool:
        """Whether ``a`` goes above ``b`` in the current order."""
        ka, kb = self._key(a), self._key(b)
        return ka > kb if self._descending() else ka < kb

    def _insertion_point(self, row: Row, rows: Sequence[Row] | None = None) -> int:
        rows = self.rows if rows is None else rows
        low, high = 0, len(rows)
        while low < high:
            middle = (low + high) // 2
            if self._before(rows[middle], row):
                low = middle + 1
            else:
                high = middle
        return low

    def _reposition(self, number: int) -> None:
        """Move a changed row to where the order wants it, or just repaint it."""
        row = self.rows[number]
        others = self.rows[:number] + self.rows[number + 1 :]
        target = self._insertion_point(row, others)
        if target != number:
            destination = target if target < number else target + 1
            if self.beginMoveRows(QModelIndex(), number, number, QModelIndex(), destination):
                del self.rows[number]
                self.rows.insert(target, row)
                self._index = None
                self.endMoveRows()
                return
        self.dataChanged.emit(self.index(number, 0), self.index(number, len(Column) - 1))

    def set_flags(self, ticket_id: str, flags: Sequence[Flag]) -> None:
        self._flags_asked.add(ticket_id)
        number = self.row_of(ticket_id)
        if number is None:
            return
        self.rows[number].flags = tuple(flags)
        self.rows[number].texts = None
        if self.sort_column == Column.FLAGS:
            self._reposition(number)
        else:
            cell = self.index(number, Column.FLAGS)
            self.dataChanged.emit(cell, cell)

    def flags_failed(self, ticket_id: str) -> None:
        """Ask again next time the row is painted (the backend may be back)."""
        self._flags_asked.discard(ticket_id)
        number = self.row_of(ticket_id)
        if number is not None:
            self.rows[number].texts = None

    def set_board(self, board: QueueBoard) -> None:
        """Walk-up places of one site's queue."""
        positions = board.positions()
        for number, row in enumerate(self.rows):
            ticket = row.ticket
            if not ticket.walk_up or ticket.site != board.site:
                continue
            place = positions.get(ticket.id)
            if place != row.position:
                row.position = place
                row.texts = None
                cell = self.index(number, Column.POSITION)
                self.dataChanged.emit(cell, cell)
        for ticket_id in [k for k, _v in self._positions.items() if k not in positions]:
            known = self.ticket(ticket_id)
            if known is None or known.site == board.site:
                self._positions.pop(ticket_id, None)
        self._positions.update(positions)

    def mark_read(self, ticket_id: str) -> None:
        number = self.row_of(ticket_id)
        if number is None:
            return
        row = self.rows[number]
        self.read_state.mark_read(row.ticket)
        if row.unread:
            row.unread = False
            row.texts = None
            self._unread -= 1
            self.dataChanged.emit(self.index(number, 0), self.index(number, len(Column) - 1))

    @property
    def unread_count(self) -> int:
        return self._unread

    def stop(self) -> None:
        """No more timed repaints (the window is closing)."""
        self._age_timer.stop()

    def _refresh_ages(self) -> None:
        if self.rows:
            self.dataChanged.emit(self.index(0, Column.AGE), self.index(len(self.rows) - 1, Column.AGE))

    # ------------------------------------------------------------ sorting
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        chosen = Column(column)
        descending = order == Qt.SortOrder.DescendingOrder
        if (chosen == Column.NUMBER and descending) or (chosen == Column.AGE and not descending):
            self._apply_sort(None, True)  # the backend's own order: no need to load everything
            return
        if self.next_cursor is None and not self.loading:
            self._apply_sort(chosen, descending)
            return
        self._pending_sort = (chosen, descending)
        self._continue_pending_sort()

    def _continue_pending_sort(self) -> None:
        if self._pending_sort is None:
            return
        column, descending = self._pending_sort
        if len(self.rows) > MAX_LOCAL_SORT_ROWS:
            self._pending_sort = None
            self.sort_refused.emit(
                f"More than {MAX_LOCAL_SORT_ROWS:,} tickets match; narrow the filter to sort by "
                f"{COLUMN_TITLES[column].lower()}."
            )
            return
        if self.next_cursor is not None or self.loading:
            self.fetchMore()
            return
        self._pending_sort = None
        self._apply_sort(column, descending)

    def _apply_sort(self, column: Column | None, descending: bool) -> None:
        self.layoutAboutToBeChanged.emit()
        self.sort_column = column
        self.sort_descending = descending
        self._sort_rows_keeping_indexes()

    def _sort_rows_keeping_indexes(self) -> None:
        """Sort ``rows``; the caller emitted layoutAboutToBeChanged. Selection and current row follow."""
        old_ids = [row.ticket.id for row in self.rows]
        key = self._key
        self.rows.sort(key=key, reverse=self._descending())
        self._index = None
        ids = self._ids()
        persistent = self.persistentIndexList()
        moved = []
        for index in persistent:
            if 0 <= index.row() < len(old_ids):
                new_row = ids.get(old_ids[index.row()], index.row())
                moved.append(self.index(new_row, index.column()))
            else:
                moved.append(QModelIndex())
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    # ------------------------------------------------------------ Qt model interface
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else _COLUMN_COUNT

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(Column)
        ):
            return COLUMN_TITLES[Column(section)]
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        return _ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES_USED:
            return None
        number = index.row()
        if not 0 <= number < len(self.rows):
            return None
        return self._value(self.rows[number], index.column(), role)

    def multiData(self, index: AnyIndex, roles: QModelRoleDataSpan | QModelRoleData) -> None:  # noqa: N802
        # The view asks for about seven roles of every cell it paints; one call per cell instead
        # of one per role keeps a repaint of the visible rows within a few milliseconds.
        # Profiled while flinging through 100,000 tickets (bench/tech_viewer.py --profile): a
        # repaint asks for some 280 cells of seven role slots each, so every role but the text
        # is a lookup in a table made once (it depends only on the column and whether the row
        # is unread), and the text comes from the row's cached texts.
        number = index.row()
        rows = self.rows
        if not 0 <= number < len(rows):
            return
        row = rows[number]
        column = index.column()
        styles = self._cell_styles[row.unread][column]
        # A span iterates over its role slots (the type hints do not say so).
        for wanted in cast(Iterable[QModelRoleData], roles if isinstance(roles, QModelRoleDataSpan) else [roles]):
            role = wanted.role()
            if role == _DISPLAY and column != _AGE:
                texts = row.texts
                if texts is None:
                    texts = row.texts = self._texts(row)
                wanted.setData(texts[column])
                continue
            value = styles.get(role, _ASK_THE_ROW)
            if value is _ASK_THE_ROW:
                value = self._value(row, column, role) if role in _ROLES_USED else None
            # The view hands the same slots from cell to cell: clear what this cell does not set.
            if value is None:
                wanted.clearData()
            else:
                wanted.setData(value)

    def _styles(self) -> tuple[tuple[dict[int, Any], ...], tuple[dict[int, Any], ...]]:
        """Per read state (read, unread) and column: the roles whose answer is the same for every such cell.

        Roles left out (the age's text, the flags' colour, tooltips, the ids) are asked of the row.
        """

        def column_styles(unread: bool) -> tuple[dict[int, Any], ...]:
            table = []
            for column in range(_COLUMN_COUNT):
                styles: dict[int, Any] = dict.fromkeys(_ASKED_WHEN_PAINTED)
                styles[_FONT] = self._bold if unread else None
                styles[_BACKGROUND] = self._unread_brush if unread else None
                styles[_ALIGNMENT] = _CENTRED if column in _CENTRED_COLUMNS else None
                if column == _FLAGS:
                    del styles[_FOREGROUND]  # the worst flag's colour: the row's own
                if column == _AGE:
                    del styles[_DISPLAY]  # it changes by itself
                table.append(styles)
            return tuple(table)

        return column_styles(False), column_styles(True)

    def _value(self, row: Row, column: int, role: int) -> Any:
        if role == _DISPLAY:
            if column == _AGE:
                return format_age(row.ticket.created_at, self.now())
            texts = row.texts
            if texts is None:
                texts = row.texts = self._texts(row)
            return texts[column]
        if role == _FONT:
            return self._bold if row.unread else None
        if role == _BACKGROUND:
            return self._unread_brush if row.unread else None
        if role == _FOREGROUND:
            if column == _FLAGS and row.flags:
                worst = min(row.flags, key=lambda f: SEVERITY_RANK.get(f.severity, 3))
                return self._severity_brushes.get(worst.severity)
            return None
        if role == _ALIGNMENT:
            return _CENTRED if column in _CENTRED_COLUMNS else None
        if role == _TOOLTIP:
            return self._tooltip(row, Column(column))
        if role == TICKET_ID_ROLE:
            return row.ticket.id
        return row.unread  # UNREAD_ROLE

    def _texts(self, row: Row) -> tuple[str, ...]:
        """Every column's text for ``row`` (the age is worked out when painted: it changes by itself)."""
        t = row.ticket
        if row.flags is None and t.id not in self._flags_asked:
            self._flags_asked.add(t.id)
            self._source.request_flags(t.id)
        position = "walk-up" if t.walk_up else ""
        if row.position is not None:
            position = f"#{row.position}"
        return (
            ("● " if row.unread else "") + t.number,
            "",
            t.reporter_name or t.reporter_email or "",
            t.category,
            t.title,
            t.source_id,
            position,
            t.status,
            t.assignee or "",
            "" if t.step_count is None else str(t.step_count),
            flags_text(row.flags),
        )

    def _tooltip(self, row: Row, column: Column) -> str | None:
        t = row.ticket
        if column == Column.FLAGS and row.flags:
            return "\n".join(f"{f.severity}: {f.message}" for f in row.flags)
        if column == Column.WHO:
            return t.who or None
        if column == Column.SOURCE:
            kind = {"kiosk": "kiosk", "agent": "laptop agent", "cli": "command line"}.get(t.source_kind, t.source_kind)
            site = f" at {t.site}" if t.site else ""
            return f"{t.source_id} ({kind}{site})" if t.source_id else None
        if column == Column.SUBJECT:
            return t.title or None
        if column == Column.AGE and t.created_at is not None:
            return t.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
        return None
