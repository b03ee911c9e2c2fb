"""The queue's pages and the flags of its rows, loaded for the queue model.

Flags need the whole ticket, one request per row. They are a nicety, the queue must stay quick:
at most two load at once, only once the view is at rest and no ticket is opening, the rows on
screen first; rows scrolled past long ago are forgotten.
"""

from __future__ import annotations

import collections
import functools
from typing import Final

from PySide6.QtCore import QObject, QTimer

from technician.client import TicketInfo, TicketPage, is_connection_problem
from technician.connection import PRIORITY_FLAGS, PRIORITY_PAGE, BackendConnection, reason
from technician.model import QueueFilter
from technician.queue_model import QueueModel
from technician.ticket_loader import TicketLoader
from technician.walk_up import WalkUpBoards

MAX_FLAG_LOADS: Final = 2  # at once; flags of visible rows are a nicety, the queue must stay quick
MAX_PENDING_FLAGS: Final = 80
FLAG_PAUSE_MS: Final = 150


class QueuePages(QObject):
    """Answers the queue model's requests (``QueueSource``): pages of tickets, flags of rows."""

    def __init__(
        self,
        connection: BackendConnection,
        model: QueueModel,
        boards: WalkUpBoards,
        tickets: TicketLoader,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._connection = connection
        self._model = model
        self._boards = boards
        self._tickets = tickets
        self._flag_queue: collections.deque[str] = collections.deque()
        self._flag_loads = 0
        self._flag_failures: list[str] = []
        self._flag_pause = QTimer(self)
        self._flag_pause.setSingleShot(True)
        self._flag_pause.setInterval(FLAG_PAUSE_MS)
        self._flag_pause.timeout.connect(self._next_flags)
        tickets.settled.connect(self._next_flags)

    def request_page(self, filters: QueueFilter, cursor: str | None, generation: int) -> None:
        client = self._connection.require_client()

        def loaded(page: TicketPage) -> None:
            self._model.page_loaded(generation, page)
            self._boards.learn_sites(page.tickets)

        def failed(error: Exception) -> None:
            self._model.page_failed(generation, reason(error))

        self._connection.run(lambda: client.list_page(filters, cursor), loaded, failed, priority=PRIORITY_PAGE)

    def request_flags(self, ticket_id: str) -> None:
        if self._connection.client is None:
            return
        self._flag_queue.append(ticket_id)
        if len(self._flag_queue) > MAX_PENDING_FLAGS:
            # Scrolled past long ago: forget it; the row asks again if it is painted again.
            self._model.flags_failed(self._flag_queue.popleft())
        # Rows flying past while someone scrolls are not worth a request each: start when the
        # view comes to rest, with the rows painted last (the ones on screen) first.
        self._flag_pause.start()

    def retry(self) -> None:
        """The backend answers again: load what failed while it was away."""
        self._model.retry()
        for ticket_id in self._flag_failures:
            self._model.flags_failed(ticket_id)
        self._flag_failures.clear()

    def _next_flags(self) -> None:
        if self._tickets.opening:
            return  # resumed when the ticket has settled
        client = self._connection.client
        while client is not None and self._flag_loads < MAX_FLAG_LOADS and self._flag_queue:
            ticket_id = self._flag_queue.pop()  # the row painted last is the one on screen now
            self._flag_loads += 1

            def loaded(info: TicketInfo, ticket_id: str = ticket_id) -> None:
                self._flag_loads -= 1
                self._model.set_flags(ticket_id, info.flags)
                if not self._flag_pause.isActive():
                    self._next_flags()

            def failed(error: Exception, ticket_id: str = ticket_id) -> None:
                self._flag_loads -= 1
                if is_connection_problem(error):
                    self._flag_failures.append(ticket_id)  # asked again when the backend is back
                else:
                    self._model.set_flags(ticket_id, ())  # unreadable: show no flags rather than a spinner
                if not self._flag_pause.isActive():
                    self._next_flags()

            self._connection.run(functools.partial(client.ticket, ticket_id), loaded, failed, priority=PRIORITY_FLAGS)
