"""The open ticket: loading it, its history and its step images, in the order the person needs them.

While a ticket opens, background work of less worth (flags of list rows, the ticket's history)
waits: the person is looking at an empty viewer until the first picture is there. ``settled``
says when that wait is over.
"""

from __future__ import annotations

import functools
from typing import Final

from PySide6.QtCore import QObject, QTimer, Signal

from technician.client import Feature, TicketInfo
from technician.connection import PRIORITY_IMAGE, PRIORITY_OPEN, BackendConnection, reason
from technician.model import TicketSummary
from technician.queue_model import QueueModel
from technician.step_images import DecodedImage, ImageCache, decode_image

OPENING_PATIENCE_MS: Final = 3000


class TicketLoader(QObject):
    """Loads the ticket the person opens and what the viewer asks of it."""

    ticket_loaded = Signal(object)  # TicketInfo, for the viewer
    ticket_failed = Signal(str, str)  # ticket id, reason
    history_loaded = Signal(str, object)  # ticket id, list[HistoryItem]
    history_failed = Signal(str, str)
    image_ready = Signal(object)  # DecodedImage
    image_failed = Signal(str, str, str)  # ticket id, path, reason
    settled = Signal()  # the opening ticket's first picture is on its way (or there is none)

    def __init__(self, connection: BackendConnection, model: QueueModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._connection = connection
        self._model = model
        self.images = ImageCache()
        self.current_ticket_id: str | None = None
        self._opening: str | None = None
        self._history_for: TicketSummary | None = None
        self._current_failed = False
        self._images_asked: set[tuple[str, str, bool]] = set()

    @property
    def opening(self) -> bool:
        """A ticket is opening: work of less worth waits for ``settled``."""
        return self._opening is not None

    def open_ticket(self, ticket_id: str) -> None:
        client = self._connection.require_client()
        self.current_ticket_id = ticket_id
        self._current_failed = False
        self._opening = ticket_id
        # Should no picture ever be asked for (the viewer kept an older copy), do not wait for one.
        QTimer.singleShot(OPENING_PATIENCE_MS, self, functools.partial(self._opened, ticket_id))

        def loaded(info: TicketInfo) -> None:
            if ticket_id != self.current_ticket_id:
                return
            self._model.apply_ticket(info.summary, info.flags)
            self._model.mark_read(info.summary.id)
            self._history_for = info.summary if Feature.HISTORY in self._connection.features else None
            self.ticket_loaded.emit(info)
            steps = info.report.steps if info.report is not None else []
            if not steps or self.images.get(ticket_id, steps[0].image.path) is not None:
                self._opened(ticket_id)

        def failed(error: Exception) -> None:
            if ticket_id == self.current_ticket_id:
                self._current_failed = True
                self._opened(ticket_id)
                self.ticket_failed.emit(ticket_id, reason(error))

        self._connection.run(lambda: client.ticket(ticket_id), loaded, failed, priority=PRIORITY_OPEN)

    def retry(self) -> None:
        """The backend answers again: open the current ticket again if it failed while it was away."""
        if self.current_ticket_id is not None and self._current_failed:
            self.open_ticket(self.current_ticket_id)

    def _opened(self, ticket_id: str) -> None:
        """The ticket's first picture is on its way to the screen (or there is none): the rest may start."""
        if self._opening != ticket_id:
            return
        self._opening = None
        history, self._history_for = self._history_for, None
        if history is not None and history.id == ticket_id:
            self.load_history(history)
        self.settled.emit()

    def load_history(self, ticket: TicketSummary) -> None:
        client = self._connection.require_client()
        self._connection.run(
            lambda: client.history(ticket),
            lambda items: self.history_loaded.emit(ticket.id, items),
            lambda error: self.history_failed.emit(ticket.id, reason(error)),
        )

    def load_image(self, ticket_id: str, path: str, *, full: bool = True) -> None:
        """Fetch and decode a step image; answers with image_ready (at once when cached)."""
        cached = self.images.get(ticket_id, path)
        thumbnail = self.images.thumbnail(ticket_id, path)
        if thumbnail is not None and (cached is not None or not full):
            self.image_ready.emit(DecodedImage(ticket_id, path, cached, thumbnail))
            if full:
                self._opened(ticket_id)
            return
        key = (ticket_id, path, full)
        if key in self._images_asked:
            return
        self._images_asked.add(key)
        client = self._connection.require_client()

        def work() -> DecodedImage:
            image, small = decode_image(client.file(ticket_id, path), full=full)
            return DecodedImage(ticket_id, path, image, small)

        def done(decoded: DecodedImage) -> None:
            self._images_asked.discard(key)
            self.images.put(decoded)
            self.image_ready.emit(decoded)
            if full:
                self._opened(ticket_id)

        def failed(error: Exception) -> None:
            self._images_asked.discard(key)
            self._opened(ticket_id)
            self.image_failed.emit(ticket_id, path, reason(error))

        self._connection.run(work, done, failed, priority=PRIORITY_IMAGE if full else PRIORITY_IMAGE - 1)
