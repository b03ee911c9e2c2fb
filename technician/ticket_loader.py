"""The open ticket: loading it, its history and its step images, in the order the person needs them.

While a ticket opens, background work of less worth (flags of list rows, the ticket's history)
waits: the person is looking at an empty viewer until the first picture is there. ``settled``
says when that wait is over.

What the person waits for (the ticket opening, the picture of the selected step) runs on a
lane of its own at normal priority (:class:`~technician.workers.PriorityLane`), not on the
connection's niced pool, where other work on the machine would leave it a quarter of a core:
the ticket first, then the selected step's picture (the newest asked first), then thumbnails.
A job for a ticket the person has left, or a step picture no longer on screen, is dropped when
its turn comes; at most ``LANE_MAX_PENDING`` wait.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Final, TypeVar

from PySide6.QtCore import QObject, QSize, QTimer, Signal
from PySide6.QtGui import QImage

from technician.client import Feature, TicketInfo
from technician.connection import PRIORITY_IMAGE, PRIORITY_OPEN, BackendConnection, reason
from technician.model import TicketSummary
from technician.queue_model import QueueModel
from technician.step_images import (
    CLIP_PREFIX,
    THUMBNAIL_SIZE,
    DecodedImage,
    ImageCache,
    decode_clip,
    decode_image,
    decode_step,
    display_size,
    thumbnail_of,
)
from technician.workers import JobDroppedError, PriorityLane

log = logging.getLogger(__name__)
Result = TypeVar("Result")
OPENING_PATIENCE_MS: Final = 3000
PRIORITY_THUMBNAIL: Final = 0
PRIORITY_FULL_SIZE: Final = 4  # after the pictures asked for, before thumbnails
WANTED_PICTURES: Final = 4  # step pictures kept wanted at once: the monitors of one capture


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
        # Step pictures the viewer asked for last, for the ticket shown: read by the lane's thread.
        self._wanted_paths: frozenset[tuple[str, str]] = frozenset()
        self._wanted_order: list[tuple[str, str]] = []
        self.lane = PriorityLane("showdesk-tech-open", parent=self)
        self.display: QSize | None = None  # None: the largest screen's size, asked at each picture

    @property
    def decoding(self) -> bool:
        """The lane still has the opening ticket or pictures to fetch and decode."""
        return self.lane.busy

    def shutdown(self) -> None:
        self.lane.stop()

    @property
    def opening(self) -> bool:
        """A ticket is opening: work of less worth waits for ``settled``."""
        return self._opening is not None

    def open_ticket(self, ticket_id: str) -> None:
        client = self._connection.require_client()
        self.current_ticket_id = ticket_id
        self._wanted_paths = frozenset()
        self._wanted_order = []
        self._current_failed = False
        self._opening = ticket_id
        # Should no picture ever be asked for (the viewer kept an older copy), do not wait for one.
        QTimer.singleShot(OPENING_PATIENCE_MS, self, functools.partial(self._opened, ticket_id))

        def loaded(info: TicketInfo) -> None:
            if ticket_id != self.current_ticket_id:
                return
            steps = info.report.steps if info.report is not None else []
            first_cached = bool(steps) and self.images.get(ticket_id, steps[0].image.path) is not None
            if steps and not first_cached:
                # The first step's picture is fetched and decoded while this thread fills the
                # viewer and the row (the viewer then asks for it: the same job, not a second).
                self.load_image(ticket_id, steps[0].image.path, full=True)
            self._model.apply_ticket(info.summary, info.flags)
            self._model.mark_read(info.summary.id)
            self._history_for = info.summary if Feature.HISTORY in self._connection.features else None
            self.ticket_loaded.emit(info)
            if not steps or first_cached:
                self._opened(ticket_id)

        def failed(error: Exception) -> None:
            if isinstance(error, JobDroppedError):
                return  # another ticket was opened before this one's turn
            self._connection.note_failure(error)
            if ticket_id == self.current_ticket_id:
                self._current_failed = True
                self._opened(ticket_id)
                self.ticket_failed.emit(ticket_id, reason(error))

        self._on_lane(
            lambda: client.ticket(ticket_id), loaded, failed, PRIORITY_OPEN, lambda: self._is_current(ticket_id)
        )

    def _is_current(self, ticket_id: str) -> bool:
        return ticket_id == self.current_ticket_id and not self._connection.closed

    def _on_lane(
        self,
        work: Callable[[], Result],
        done: Callable[[Result], None],
        failed: Callable[[Exception], None],
        priority: int,
        wanted: Callable[[], bool],
        *,
        newest_first: bool = False,
    ) -> None:
        def delivered(result: Result) -> None:
            if not self._connection.closed:
                done(result)

        self.lane.run(work, delivered, failed, priority=priority, newest_first=newest_first, wanted=wanted)

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
        """Fetch and decode a step image; answers with image_ready (at once when cached).

        ``full``: the picture to show (at display size, with the full-size one for zooming);
        otherwise only its thumbnail. A picture asked for is wanted until the viewer asks for
        pictures of another ticket or step set; thumbnails as long as their ticket is open.
        """
        cached = self.images.decoded(ticket_id, path)
        thumbnail = self.images.thumbnail(ticket_id, path)
        if full:
            self._want(ticket_id, path)
        if thumbnail is not None and (cached is not None or not full):
            self.image_ready.emit(cached or DecodedImage(ticket_id, path, None, thumbnail))
            if full:
                self._opened(ticket_id)
            return
        key = (ticket_id, path, full)
        if key in self._images_asked:
            return
        self._images_asked.add(key)
        client = self._connection.require_client()
        display = self.display or display_size()  # asked here: screens are the GUI thread's

        def work() -> tuple[DecodedImage, bytes | None]:
            data = client.file(ticket_id, path)
            if not full:
                _none, small = decode_image(data, full=False)
                return DecodedImage(ticket_id, path, None, small), None
            if path.startswith(CLIP_PREFIX):
                # A clip is played, not zoomed: all its frames at display size, no full-size pass.
                clip = decode_clip(data, display=display)
                return DecodedImage(ticket_id, path, clip.frames[0], thumbnail_of(clip.frames[0]), clip=clip), None
            shown, small, larger = decode_step(data, display=display)
            return DecodedImage(ticket_id, path, shown, small), (data if larger else None)

        def done(result: tuple[DecodedImage, bytes | None]) -> None:
            decoded, data = result
            self._images_asked.discard(key)
            self.images.put(decoded)
            self.image_ready.emit(decoded)
            if full:
                self._opened(ticket_id)
            if data is not None:
                self._load_full_size(decoded, data)

        def failed(error: Exception) -> None:
            self._images_asked.discard(key)
            if isinstance(error, JobDroppedError):
                return  # the person moved on; asked again if the picture is wanted again
            self._connection.note_failure(error)
            self._opened(ticket_id)
            self.image_failed.emit(ticket_id, path, reason(error))

        if full:
            self._on_lane(
                work, done, failed, PRIORITY_IMAGE, lambda: (ticket_id, path) in self._wanted_paths, newest_first=True
            )
        else:
            self._on_lane(work, done, failed, PRIORITY_THUMBNAIL, lambda: self._is_current(ticket_id))

    def _load_full_size(self, shown: DecodedImage, data: bytes) -> None:
        """The full-size picture of a step shown at display size, for zooming in; after the
        pictures asked for, before thumbnails, while the step is still wanted."""
        ticket_id, path = shown.ticket_id, shown.path

        def work() -> QImage:
            whole, _small = decode_image(data, full=True, thumbnail=THUMBNAIL_SIZE)
            assert whole is not None
            return whole

        def done(whole: QImage) -> None:
            cached = self.images.decoded(ticket_id, path) or shown
            decoded = DecodedImage(ticket_id, path, cached.image, cached.thumbnail, whole)
            self.images.put(decoded)
            self.image_ready.emit(decoded)

        def failed(error: Exception) -> None:
            if not isinstance(error, JobDroppedError):
                log.warning("the full-size picture of %s could not be decoded: %s", path, error)

        self._on_lane(work, done, failed, PRIORITY_FULL_SIZE, lambda: (ticket_id, path) in self._wanted_paths)

    def _want(self, ticket_id: str, path: str) -> None:
        """``path`` is on screen now: pictures of other tickets, and all but the last few of this
        one (the monitors of one capture shown together), are no longer wanted."""
        recent = [key for key in self._wanted_order if key[0] == ticket_id and key[1] != path]
        self._wanted_order = [*recent[-(WANTED_PICTURES - 1) :], (ticket_id, path)]
        self._wanted_paths = frozenset(self._wanted_order)
