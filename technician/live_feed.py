"""Keeping the queue live: the changes feed, or polling where the backend has none, and probing while away.

With a feed (``Feature.LIVE``) the server wakes technician mode on every change, and the feed
keeps trying by itself while the backend is away. Without one, the newest page is looked at every
``poll_seconds``, and while the backend is away a probe signs in again every second until it
answers.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QObject, QTimer, Signal

from technician.client import Feature, TicketPage
from technician.connection import BackendConnection
from technician.model import TicketSummary
from technician.queue_model import QueueModel
from technician.settings import TechSettings
from technician.walk_up import WalkUpBoards
from technician.workers import ChangeFeed, FeedUpdate

PROBE_INTERVAL_MS: Final = 1000


class LiveFollower(QObject):
    """Follows the backend's changes into the queue model and the walk-up boards."""

    new_tickets = Signal(object)  # list[TicketSummary] created since the last update
    ticket_changed = Signal(object)  # TicketInfo, a change from the feed

    def __init__(
        self,
        connection: BackendConnection,
        model: QueueModel,
        boards: WalkUpBoards,
        settings: TechSettings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._connection = connection
        self._model = model
        self._boards = boards
        self._settings = settings
        self._feed: ChangeFeed | None = None
        self._probe = QTimer(self)
        self._probe.setInterval(PROBE_INTERVAL_MS)
        self._probe.timeout.connect(self._probe_backend)
        self._poll = QTimer(self)
        self._poll.timeout.connect(self._poll_first_page)

    def start(self, after: int) -> None:
        """Follow the changes after sequence number ``after`` (the feed), or poll."""
        client = self._connection.require_client()
        if Feature.LIVE in client.features:
            feed = ChangeFeed(client, after, wait_seconds=self._settings.long_poll_seconds, parent=self)
            feed.update.connect(self._feed_update)
            feed.lost.connect(lambda reason: self._connection.set_online(False, reason))
            feed.restored.connect(lambda: self._connection.set_online(True))
            feed.refused.connect(self._connection.token_failed)
            feed.resync.connect(self._model.reset)
            self._feed = feed
            feed.start()
        else:
            self._poll.setInterval(int(self._settings.poll_seconds * 1000))
            self._poll.start()

    def stop(self) -> None:
        if self._feed is not None:
            self._feed.stop()
            self._feed.deleteLater()
            self._feed = None
        self._poll.stop()
        self._probe.stop()

    def connection_changed(self, online: bool) -> None:
        """Away: probe, unless the feed is trying already; back: stop probing."""
        if online:
            self._probe.stop()
        elif self._feed is None or not self._feed.running:
            self._probe.start()

    def _probe_backend(self) -> None:
        client = self._connection.client
        if client is None or self._connection.closed:
            return
        self._connection.run(client.sign_in, lambda _caller: self._connection.set_online(True), lambda _error: None)

    def _poll_first_page(self) -> None:
        """Backends without a changes feed: look at the newest page now and then."""
        client = self._connection.client
        if client is None:
            return
        filters = self._model.filters

        def loaded(page: TicketPage) -> None:
            self._connection.set_online(True)
            created = [t for t in page.tickets if self._model.apply_ticket(t) == "inserted"]
            if created:
                self.new_tickets.emit(created)

        self._connection.run(lambda: client.list_page(filters, None, 50), loaded, lambda _e: None)

    def _feed_update(self, update: FeedUpdate) -> None:
        if self._connection.closed:
            return
        created: list[TicketSummary] = []
        me = self._connection.caller.name if self._connection.caller is not None else ""
        for info in update.tickets:
            # The timeline says who made each change: this technician's own ones are no news to them.
            self._model.read_state.acknowledge_own_changes(info.summary, info.timeline, me)
            outcome = self._model.apply_ticket(info.summary, info.flags)
            if "created" in update.kinds.get(info.summary.id, frozenset()) and outcome != "removed":
                created.append(info.summary)
            self.ticket_changed.emit(info)
        self._boards.put(update.boards)
        if created:
            self.new_tickets.emit(created)
