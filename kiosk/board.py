"""``showdesk kiosk --board``: the walk-up queue on a TV — numbers, masked names, who is served, the wait.

The board asks the backend for the site's queue every few seconds, off the GUI thread, and
keeps showing the last good answer while the backend cannot be reached. Names are masked
here too ("Alice B."), whatever token the board runs with: a board hangs in a public place.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from agent.connectors.base import AuthError, Connector, QueueBoard
from agent.schema import BoardEntry
from kiosk.widgets import fill, make_label, set_role
from shared_qt.workers import BackgroundRunner

log = logging.getLogger(__name__)

REFRESH_MS = 3000
MAX_ROWS = 8


def masked(name: str | None) -> str:
    """'Alice Baker' → 'Alice B.'; already masked or one word: as it is."""
    words = (name or "").split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return f"{words[0]} {words[-1][0]}."


def fetch_board(connector: Connector, site: str) -> QueueBoard:
    """The site's queue, through the connector (a backend without walk-up queues raises ``UnsupportedError``)."""
    return connector.queue_board(site)


BoardSource = Callable[[], QueueBoard]


class BoardObserver(Protocol):
    """What the board tells of each queue it reads: ``agent.notify.notifier.Notifier`` (walk-ups waiting too long)."""

    def observe_board(self, board: QueueBoard, now: datetime) -> object: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class BoardReader:
    """The board's source: the site's queue read with the board's token, on the local setup with the technician one.

    A deployed board holds a submitter token of its site, which may show that site's board. The
    local setup (``scripts/run``) has only the tokens the built-in server on this machine hands
    over, and its submitter token belongs to no site: the server refuses it every board (403),
    and the TV stayed empty. The hand-over technician token may show every board; whoever can
    read the one token can read the other, so reading with it gives the board nothing its user
    did not already have, and names are masked on screen either way. ``technician`` is given
    only for a server on this machine: elsewhere a refusal stays a refusal.
    """

    def __init__(self, site: str, connector: Connector, technician: Callable[[], Connector] | None = None) -> None:
        self.site = site
        self._connector = connector
        self._make_technician = technician
        self._technician: Connector | None = None
        self.role = "submitter"

    def __call__(self) -> QueueBoard:
        if self.role == "technician" and self._technician is not None:
            return fetch_board(self._technician, self.site)
        try:
            return fetch_board(self._connector, self.site)
        except AuthError as refused:
            if refused.status != 403 or self._make_technician is None:
                raise
            if self._technician is None:
                self._technician = self._make_technician()
            try:
                board = fetch_board(self._technician, self.site)
            except AuthError:
                raise refused from None  # the first refusal says what to fix
            log.info("the board's token may not show %r; reading it with this machine's technician token", self.site)
            self.role = "technician"
            return board

    def close(self) -> None:
        self._connector.close()
        if self._technician is not None:
            self._technician.close()


class BoardWindow(QWidget):
    """The queue board: now serving on the left, waiting on the right, the wait for newcomers below."""

    def __init__(
        self,
        site: str,
        source: BoardSource,
        *,
        refresh_ms: int = REFRESH_MS,
        observer: BoardObserver | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__()
        self.setObjectName("KioskRoot")
        self.setWindowTitle("ShowDesk")
        self.site = site
        self.source = source
        self.observer = observer
        self.clock = clock
        self.board: QueueBoard | None = None
        self.reachable = True
        self.runner = BackgroundRunner(parent=self)
        self._busy = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(64, 48, 64, 48)
        outer.setSpacing(32)
        self.title = make_label("hero", wrap=False)
        outer.addWidget(self.title)
        columns = QHBoxLayout()
        columns.setSpacing(48)
        self.serving_title, self.serving_grid, self.serving_empty = self._column(columns, "serving")
        self.waiting_title, self.waiting_grid, self.waiting_empty = self._column(columns, "waiting")
        outer.addLayout(columns, 1)
        self.wait_label = make_label("title")
        self.wait_label.setObjectName("board-wait")
        outer.addWidget(self.wait_label)
        self.status_label = make_label("hint")
        self.status_label.setObjectName("board-status")
        outer.addWidget(self.status_label)
        self.serving_cells: list[tuple[QLabel, QLabel]] = self._cells(self.serving_grid, 4)
        self.waiting_cells: list[tuple[QLabel, QLabel]] = self._cells(self.waiting_grid, MAX_ROWS)
        self.timer = QTimer(self)
        self.timer.setInterval(refresh_ms)
        self.timer.timeout.connect(self.refresh)
        self.retranslate()

    def _column(self, row: QHBoxLayout, name: str) -> tuple[QLabel, QGridLayout, QLabel]:
        card = QFrame()
        set_role(card, "card")
        card.setObjectName(f"board-{name}")
        layout = QVBoxLayout(card)
        layout.setContentsMargins(40, 32, 40, 32)
        title = make_label("title")
        layout.addWidget(title)
        # An empty column says so: a blank card reads as a board that is broken.
        empty = make_label("hint")
        empty.setObjectName(f"board-{name}-empty")
        empty.hide()
        layout.addWidget(empty)
        grid = QGridLayout()
        grid.setHorizontalSpacing(40)
        grid.setVerticalSpacing(12)
        grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        layout.addLayout(grid, 1)
        row.addWidget(card, 1)
        return title, grid, empty

    @staticmethod
    def _cells(grid: QGridLayout, rows: int) -> list[tuple[QLabel, QLabel]]:
        cells = []
        for index in range(rows):
            number = make_label("board-number", wrap=False)
            name = make_label("title", wrap=False)
            grid.addWidget(number, index, 0)
            grid.addWidget(name, index, 1)
            number.hide()
            name.hide()
            cells.append((number, name))
        return cells

    def start(self) -> None:
        self.refresh()
        self.timer.start()

    def refresh(self) -> None:
        if self._busy:
            return
        self._busy = True
        self.runner.run(self._read, self._received, self._failed)

    def _read(self) -> QueueBoard:
        """On the worker: the queue, handed to the observer there (its queue writes files)."""
        board = self.source()
        if self.observer is not None:
            try:
                self.observer.observe_board(board, self.clock())
            except (OSError, ValueError) as exc:
                # The board still shows the queue: an alert not queued costs the alert, not the TV.
                log.warning("the queue board could not be passed to the notifications: %s", exc)
        return board

    def _received(self, board: object) -> None:
        self._busy = False
        if isinstance(board, QueueBoard):
            self.board = board
            self.reachable = True
            self.retranslate()

    def _failed(self, exc: Exception) -> None:
        self._busy = False
        log.warning("the queue board could not be read: %s", exc)
        self.reachable = False
        self.retranslate()

    def retranslate(self) -> None:
        self.title.setText(fill(self.tr("Walk-up queue — %1"), self.site) if self.site else self.tr("Walk-up queue"))
        self.serving_title.setText(self.tr("Now serving"))
        self.waiting_title.setText(self.tr("Waiting"))
        board = self.board
        self._fill(self.serving_cells, board.serving if board else ())
        self._fill(self.waiting_cells, board.waiting if board else ())
        self.serving_empty.setText(self.tr("Nobody is being served right now."))
        self.waiting_empty.setText(self.tr("Nobody is waiting."))
        self.serving_empty.setVisible(board is not None and not board.serving)
        self.waiting_empty.setVisible(board is not None and not board.waiting)
        seconds = board.estimated_wait_seconds if board else None
        if seconds is None:
            self.wait_label.setText("")
        elif seconds < 60:
            self.wait_label.setText(self.tr("Joining now: less than a minute."))
        else:
            self.wait_label.setText(self.tr("Joining now: about %n minute(s).", "", math.ceil(seconds / 60)))
        more = len(board.waiting) - MAX_ROWS if board else 0
        if not self.reachable:
            self.status_label.setText(self.tr("The queue cannot be updated right now."))
        elif more > 0:
            self.status_label.setText(self.tr("… and %n more waiting.", "", more))
        elif board is not None and not board.waiting and not board.serving:
            self.status_label.setText(self.tr("Nobody is waiting. Walk right up!"))
        else:
            self.status_label.setText("")

    @staticmethod
    def _fill(cells: list[tuple[QLabel, QLabel]], entries: Sequence[BoardEntry]) -> None:
        for index, (number, name) in enumerate(cells):
            if index < len(entries):
                number.setText(entries[index].number)
                # Masked here too, whatever the token may see: the board hangs in a public place.
                name.setText(masked(entries[index].name))
                number.setAccessibleName(entries[index].number)
                number.show()
                name.show()
            else:
                number.clear()
                name.clear()
                number.hide()
                name.hide()

    def shutdown(self) -> None:
        self.timer.stop()
        self.runner.wait_idle()
