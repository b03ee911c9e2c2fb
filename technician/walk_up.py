"""The walk-up boards technician mode knows, by site, and where "call next" calls.

A site becomes known when a walk-up ticket of it is listed (its board is then loaded), from the
changes feed, or from the configured ``site``.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal

from technician.client import Feature, QueueBoard
from technician.connection import BackendConnection
from technician.model import TicketSummary
from technician.queue_model import QueueModel
from technician.settings import TechSettings


class WalkUpBoards(QObject):
    """The boards by site; the queue model's walk-up column follows them."""

    boards_changed = Signal()

    def __init__(
        self,
        connection: BackendConnection,
        model: QueueModel,
        settings: TechSettings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._connection = connection
        self._model = model
        self._settings = settings
        self.boards: dict[str, QueueBoard] = {}

    def put(self, boards: Sequence[QueueBoard]) -> None:
        """Boards as the backend now tells them; one ``boards_changed`` for all of them."""
        for board in boards:
            self.boards[board.site] = board
            self._model.set_board(board)
        if boards:
            self.boards_changed.emit()

    def learn_sites(self, tickets: Sequence[TicketSummary]) -> None:
        """Load the boards of sites first seen in ``tickets``."""
        if Feature.WALK_UP not in self._connection.features:
            return
        for site in sorted({t.site for t in tickets if t.walk_up and t.site} - set(self.boards)):
            if site:
                self.boards[site] = QueueBoard.empty(site)
                self.load_board(site)

    def load_board(self, site: str) -> None:
        client = self._connection.require_client()
        self._connection.run(lambda: client.board(site), lambda board: self.put([board]), lambda _e: None)

    def site_to_call(self, ticket: TicketSummary | None) -> str | None:
        """Where "call next" calls: the configured site, else the open walk-up ticket's, else the one known."""
        if self._settings.site:
            return self._settings.site
        if ticket is not None and ticket.walk_up and ticket.site:
            return ticket.site
        sites = self.sites
        return sites[0] if len(sites) == 1 else None

    @property
    def sites(self) -> list[str]:
        known = set(self.boards)
        if self._settings.site:
            known.add(self._settings.site)
        return sorted(known)
