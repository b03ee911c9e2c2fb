"""One technician's session: sign-in, the live queue, the open ticket, work actions, figures.

The session owns the client, the job runner and the changes feed, and holds the state the
widgets observe through its signals. Every backend call runs off the GUI thread; its answer
comes back here, on the GUI thread, and is handed to the model or announced by a signal.

Connection state: any call that finds the backend away marks the session offline
(``online_changed(False, reason)``); the changes feed (or, without one, a probe) keeps
trying and marks it online again, after which what failed is loaded again.
"""

from __future__ import annotations

import collections
import functools
import io
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QImageReader

from agent.connectors.base import AuthError, ConnectorError, TransientError
from agent.fsutil import atomic_write_bytes
from shared_qt.workers import BackgroundRunner
from technician.client import (
    Board,
    Caller,
    CallResult,
    Feature,
    HistoryItem,
    Stats,
    TechClient,
    TicketInfo,
    TicketPage,
    is_connection_problem,
)
from technician.model import QueueFilter, ReadState, TicketSummary
from technician.queue_model import QueueModel
from technician.settings import TechSettings
from technician.workers import WORKER_NICENESS, ChangeFeed, FeedUpdate

log = logging.getLogger(__name__)

MAX_FLAG_LOADS: Final = 2  # at once; flags of visible rows are a nicety, the queue must stay quick
MAX_PENDING_FLAGS: Final = 80
FLAG_PAUSE_MS: Final = 150
OPENING_PATIENCE_MS: Final = 3000
READ_STATE_SAVE_MS: Final = 60_000
THUMBNAIL_SIZE: Final = QSize(200, 120)
IMAGE_CACHE_BYTES: Final = 320 * 1024 * 1024
PROBE_INTERVAL_MS: Final = 1000
PRIORITY_OPEN: Final = 10
PRIORITY_IMAGE: Final = 8
PRIORITY_PAGE: Final = 5
PRIORITY_FLAGS: Final = 0


@dataclass(frozen=True)
class DecodedImage:
    """A step image decoded off the GUI thread: the full picture (None when only a thumbnail was asked)."""

    ticket_id: str
    path: str
    image: QImage | None
    thumbnail: QImage


def decode_image(data: bytes, *, full: bool, thumbnail: QSize = THUMBNAIL_SIZE) -> tuple[QImage | None, QImage]:
    """Decode image bytes (PNG, JPEG, WebP) into a paint-ready image and a thumbnail; runs on a worker.

    Only the image's own first bytes decide the decoder (Qt sniffs them), never a name.
    """
    with _DECODE_LOCK:
        return _decode(data, full=full, thumbnail=thumbnail)


# One decode at a time: QImageReader holds a Qt lock while it calls back into Python (the
# buffer is a Python object), and some of its calls keep the GIL while they wait for that
# lock; two decoders at once can deadlock. Waiting for this lock releases the GIL.
_DECODE_LOCK: Final = threading.Lock()


def _decode(data: bytes, *, full: bool, thumbnail: QSize) -> tuple[QImage | None, QImage]:
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    reader.setDecideFormatFromContent(True)
    reader.setAutoTransform(True)
    if not full:
        size = reader.size()
        if size.isValid():
            reader.setScaledSize(size.scaled(thumbnail, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        raise ValueError(f"the image could not be decoded: {reader.errorString()}")
    # The screen's own formats paint without a conversion on every frame.
    wanted = QImage.Format.Format_ARGB32_Premultiplied if image.hasAlphaChannel() else QImage.Format.Format_RGB32
    if image.format() != wanted:
        image = image.convertToFormat(wanted)
    small = (
        image
        if image.width() <= thumbnail.width() and image.height() <= thumbnail.height()
        else image.scaled(thumbnail, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    )
    return (image if full else None), small


def warm_up_decoders() -> None:
    """Load Qt's image plugins now, not when the first 4K screenshot waits for them (~80 ms)."""
    from PIL import Image

    for kind in ("WEBP", "PNG", "JPEG"):
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buffer, kind)
        decode_image(buffer.getvalue(), full=True)


class ImageCache:
    """Decoded full-size step images, the most recently used kept up to a byte budget."""

    def __init__(self, budget: int = IMAGE_CACHE_BYTES) -> None:
        self.budget = budget
        self._images: collections.OrderedDict[tuple[str, str], QImage] = collections.OrderedDict()
        self._thumbnails: dict[tuple[str, str], QImage] = {}

    def get(self, ticket_id: str, path: str) -> QImage | None:
        key = (ticket_id, path)
        image = self._images.get(key)
        if image is not None:
            self._images.move_to_end(key)
        return image

    def thumbnail(self, ticket_id: str, path: str) -> QImage | None:
        return self._thumbnails.get((ticket_id, path))

    def put(self, decoded: DecodedImage) -> None:
        key = (decoded.ticket_id, decoded.path)
        self._thumbnails[key] = decoded.thumbnail
        if decoded.image is None:
            return
        self._images[key] = decoded.image
        self._images.move_to_end(key)
        while len(self._images) > 1 and sum(i.sizeInBytes() for i in self._images.values()) > self.budget:
            self._images.popitem(last=False)


def sign_in_problem(error: Exception) -> tuple[str, str]:
    """(kind, message) for the sign-in screen: no-token, refused, unreachable or error."""
    if isinstance(error, AuthError):
        reason = error.reason
        if error.status is not None and os.environ.get("SHOWDESK_TOKEN"):
            reason += " (the token in use is SHOWDESK_TOKEN from the environment, which wins over the keyring)"
        return ("no-token" if error.status is None else "refused"), reason
    if isinstance(error, TransientError):
        return "unreachable", error.reason
    if isinstance(error, ConnectorError):
        return "error", error.reason
    return "error", str(error) or type(error).__name__


class TechSession(QObject):
    """State and actions of technician mode; widgets call its methods and observe its signals."""

    signing_in = Signal()
    signed_in = Signal(object)  # Caller
    sign_in_failed = Signal(str, str)  # kind (no-token, refused, unreachable, error), message
    online_changed = Signal(bool, str)  # online, reason when offline
    new_tickets = Signal(object)  # list[TicketSummary] created since the last update
    ticket_loaded = Signal(object)  # TicketInfo, for the viewer
    ticket_failed = Signal(str, str)  # ticket id, reason
    ticket_changed = Signal(object)  # TicketInfo, a change from the feed or an action
    history_loaded = Signal(str, object)  # ticket id, list[HistoryItem]
    history_failed = Signal(str, str)
    image_ready = Signal(object)  # DecodedImage
    image_failed = Signal(str, str, str)  # ticket id, path, reason
    action_done = Signal(str)
    action_failed = Signal(str)
    stats_loaded = Signal(object)  # Stats
    stats_failed = Signal(str)
    boards_changed = Signal()
    called = Signal(object)  # CallResult

    def __init__(
        self,
        client_factory: Callable[[], TechClient],
        settings: TechSettings | None = None,
        *,
        read_state: ReadState | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings or TechSettings()
        self._client_factory = client_factory
        self.client: TechClient | None = None
        self.caller: Caller | None = None
        self.features: frozenset[Feature] = frozenset()
        self.read_state = read_state or ReadState(self.settings.read_state_path)
        self.runner = BackgroundRunner(self, max_threads=4, niceness=WORKER_NICENESS)
        self.model = QueueModel(self, self.read_state, parent=self)
        self.images = ImageCache()
        self.boards: dict[str, Board] = {}
        self.online = True
        self.current_ticket_id: str | None = None
        # While a ticket opens, background work (flags of list rows, its history) waits: the
        # person is looking at an empty viewer until the first picture is there.
        self._opening: str | None = None
        self._history_for: TicketSummary | None = None
        self._current_failed = False
        self._feed: ChangeFeed | None = None
        self._flag_queue: collections.deque[str] = collections.deque()
        self._flag_loads = 0
        self._flag_failures: list[str] = []
        self._flag_pause = QTimer(self)
        self._flag_pause.setSingleShot(True)
        self._flag_pause.setInterval(FLAG_PAUSE_MS)
        self._flag_pause.timeout.connect(self._next_flags)
        self._images_asked: set[tuple[str, str, bool]] = set()
        self._closed = False
        self._probe = QTimer(self)
        self._probe.setInterval(PROBE_INTERVAL_MS)
        self._probe.timeout.connect(self._probe_backend)
        self._poll = QTimer(self)
        self._poll.timeout.connect(self._poll_first_page)
        self._keep_read_state = QTimer(self)
        self._keep_read_state.setInterval(READ_STATE_SAVE_MS)
        self._keep_read_state.timeout.connect(self._save_read_state)
        self._keep_read_state.start()

    # ------------------------------------------------------------ helpers
    def has(self, feature: Feature) -> bool:
        return feature in self.features

    def _client(self) -> TechClient:
        if self.client is None:
            raise RuntimeError("technician mode is not signed in")
        return self.client

    def _run(
        self,
        function: Callable[[], Any],
        on_result: Callable[[Any], None],
        on_error: Callable[[Exception], None] | None = None,
        *,
        priority: int = 0,
    ) -> None:
        def failed(error: Exception) -> None:
            self._note_failure(error)
            if on_error is not None:
                on_error(error)
            else:
                self.action_failed.emit(_reason(error))

        def succeeded(result: Any) -> None:
            if not self._closed:
                on_result(result)

        self.runner.run(function, succeeded, failed, priority=priority)

    def _note_failure(self, error: Exception) -> None:
        if is_connection_problem(error):
            self._set_online(False, _reason(error))
        elif isinstance(error, AuthError) and error.status in (401, 403) and self.caller is not None:
            self._lose_sign_in("refused", error.reason)

    def _set_online(self, online: bool, reason: str = "") -> None:
        if online == self.online:
            return
        self.online = online
        self.online_changed.emit(online, reason)
        if online:
            self._probe.stop()
            self._recover()
        elif self._feed is None or not self._feed.running:
            self._probe.start()

    # ------------------------------------------------------------ sign-in
    def sign_in(self) -> None:
        """Check the token and start the live queue; answers with signed_in or sign_in_failed."""
        self.signing_in.emit()
        self._stop_live()
        if self.client is not None:
            self.client.close()
            self.client = None
        try:
            client = self._client_factory()
        except (ValueError, ConnectorError) as exc:  # ConfigError is a ValueError: a configuration mistake
            self.sign_in_failed.emit("error", str(exc))
            return
        self.client = client
        self.features = client.features

        def work() -> tuple[Caller, int]:
            caller = client.sign_in()
            after = client.current_change_seq() if Feature.LIVE in client.features else 0
            return caller, after

        def done(result: tuple[Caller, int]) -> None:
            caller, after = result
            self.runner.run(warm_up_decoders, lambda _r: None, lambda _e: None)
            self.caller = caller
            self.model.me = caller.name or None
            self.online = True
            self._start_live(after)
            self.model.reset(QueueFilter())
            self.signed_in.emit(caller)

        def failed(error: Exception) -> None:
            kind, message = sign_in_problem(error)
            self.sign_in_failed.emit(kind, message)

        self.runner.run(work, lambda r: None if self._closed else done(r), failed, priority=PRIORITY_OPEN)

    def _lose_sign_in(self, kind: str, message: str) -> None:
        self._stop_live()
        self.caller = None
        self.sign_in_failed.emit(kind, message)

    def _start_live(self, after: int) -> None:
        client = self._client()
        if Feature.LIVE in client.features:
            feed = ChangeFeed(client, after, wait_seconds=self.settings.long_poll_seconds, parent=self)
            feed.update.connect(self._feed_update)
            feed.lost.connect(lambda reason: self._set_online(False, reason))
            feed.restored.connect(lambda: self._set_online(True))
            feed.refused.connect(lambda reason: self._lose_sign_in("refused", reason))
            feed.resync.connect(self.model.reset)
            self._feed = feed
            feed.start()
        else:
            self._poll.setInterval(int(self.settings.poll_seconds * 1000))
            self._poll.start()

    def _stop_live(self) -> None:
        if self._feed is not None:
            self._feed.stop()
            self._feed.deleteLater()
            self._feed = None
        self._poll.stop()
        self._probe.stop()

    def _probe_backend(self) -> None:
        if self.client is None or self._closed:
            return
        client = self.client
        self._run(client.sign_in, lambda _caller: self._set_online(True), lambda _error: None)

    def _recover(self) -> None:
        """The backend answers again: load what failed while it was away."""
        self.model.retry()
        for ticket_id in self._flag_failures:
            self.model.flags_failed(ticket_id)
        self._flag_failures.clear()
        if self.current_ticket_id is not None and self._current_failed:
            self.open_ticket(self.current_ticket_id)

    # ------------------------------------------------------------ the queue (QueueSource)
    def set_filter(self, filters: QueueFilter) -> None:
        if filters != self.model.filters or not self.model.started:
            self.model.reset(filters)

    def reload(self) -> None:
        self.model.reset()

    def request_page(self, filters: QueueFilter, cursor: str | None, generation: int) -> None:
        client = self._client()

        def loaded(page: TicketPage) -> None:
            self.model.page_loaded(generation, page)
            self._learn_sites(page.tickets)

        def failed(error: Exception) -> None:
            self.model.page_failed(generation, _reason(error))

        self._run(lambda: client.list_page(filters, cursor), loaded, failed, priority=PRIORITY_PAGE)

    def request_flags(self, ticket_id: str) -> None:
        if self.client is None:
            return
        self._flag_queue.append(ticket_id)
        if len(self._flag_queue) > MAX_PENDING_FLAGS:
            # Scrolled past long ago: forget it; the row asks again if it is painted again.
            self.model.flags_failed(self._flag_queue.popleft())
        # Rows flying past while someone scrolls are not worth a request each: start when the
        # view comes to rest, with the rows painted last (the ones on screen) first.
        self._flag_pause.start()

    def _next_flags(self) -> None:
        if self._opening is not None:
            return  # resumed by _opened
        client = self.client
        while client is not None and self._flag_loads < MAX_FLAG_LOADS and self._flag_queue:
            ticket_id = self._flag_queue.pop()  # the row painted last is the one on screen now
            self._flag_loads += 1

            def loaded(info: TicketInfo, ticket_id: str = ticket_id) -> None:
                self._flag_loads -= 1
                self.model.set_flags(ticket_id, info.flags)
                if not self._flag_pause.isActive():
                    self._next_flags()

            def failed(error: Exception, ticket_id: str = ticket_id) -> None:
                self._flag_loads -= 1
                if is_connection_problem(error):
                    self._flag_failures.append(ticket_id)  # asked again when the backend is back
                else:
                    self.model.set_flags(ticket_id, ())  # unreadable: show no flags rather than a spinner
                if not self._flag_pause.isActive():
                    self._next_flags()

            self._run(functools.partial(client.ticket, ticket_id), loaded, failed, priority=PRIORITY_FLAGS)

    def _poll_first_page(self) -> None:
        """Backends without a changes feed: look at the newest page now and then."""
        client = self.client
        if client is None:
            return
        filters = self.model.filters

        def loaded(page: TicketPage) -> None:
            self._set_online(True)
            created = [t for t in page.tickets if self.model.apply_ticket(t) == "inserted"]
            if created:
                self.new_tickets.emit(created)

        self._run(lambda: client.list_page(filters, None, 50), loaded, lambda _e: None)

    def _learn_sites(self, tickets: Sequence[TicketSummary]) -> None:
        if Feature.WALK_UP not in self.features:
            return
        for site in sorted({t.site for t in tickets if t.walk_up and t.site} - set(self.boards)):
            if site:
                self.boards[site] = Board(site)
                self.load_board(site)

    def load_board(self, site: str) -> None:
        client = self._client()

        def loaded(board: Board) -> None:
            self.boards[board.site] = board
            self.model.set_board(board)
            self.boards_changed.emit()

        self._run(lambda: client.board(site), loaded, lambda _e: None)

    def site_to_call(self, ticket: TicketSummary | None) -> str | None:
        """Where "call next" calls: the configured site, else the open walk-up ticket's, else the one known."""
        if self.settings.site:
            return self.settings.site
        if ticket is not None and ticket.walk_up and ticket.site:
            return ticket.site
        sites = self.sites
        return sites[0] if len(sites) == 1 else None

    @property
    def sites(self) -> list[str]:
        known = set(self.boards)
        if self.settings.site:
            known.add(self.settings.site)
        return sorted(known)

    def _feed_update(self, update: FeedUpdate) -> None:
        if self._closed:
            return
        created: list[TicketSummary] = []
        for info in update.tickets:
            outcome = self.model.apply_ticket(info.summary, info.flags)
            if "created" in update.kinds.get(info.summary.id, frozenset()) and outcome != "removed":
                created.append(info.summary)
            self.ticket_changed.emit(info)
        for board in update.boards:
            self.boards[board.site] = board
            self.model.set_board(board)
        if update.boards:
            self.boards_changed.emit()
        if created:
            self.new_tickets.emit(created)

    # ------------------------------------------------------------ the open ticket
    def open_ticket(self, ticket_id: str) -> None:
        client = self._client()
        self.current_ticket_id = ticket_id
        self._current_failed = False
        self._opening = ticket_id
        # Should no picture ever be asked for (the viewer kept an older copy), do not wait for one.
        QTimer.singleShot(OPENING_PATIENCE_MS, self, functools.partial(self._opened, ticket_id))

        def loaded(info: TicketInfo) -> None:
            if ticket_id != self.current_ticket_id:
                return
            self.model.apply_ticket(info.summary, info.flags)
            self.model.mark_read(info.summary.id)
            self._history_for = info.summary if Feature.HISTORY in self.features else None
            self.ticket_loaded.emit(info)
            steps = info.report.steps if info.report is not None else []
            if not steps or self.images.get(ticket_id, steps[0].image.path) is not None:
                self._opened(ticket_id)

        def failed(error: Exception) -> None:
            if ticket_id == self.current_ticket_id:
                self._current_failed = True
                self._opened(ticket_id)
                self.ticket_failed.emit(ticket_id, _reason(error))

        self._run(lambda: client.ticket(ticket_id), loaded, failed, priority=PRIORITY_OPEN)

    def _opened(self, ticket_id: str) -> None:
        """The ticket's first picture is on its way to the screen (or there is none): the rest may start."""
        if self._opening != ticket_id:
            return
        self._opening = None
        history, self._history_for = self._history_for, None
        if history is not None and history.id == ticket_id:
            self.load_history(history)
        self._next_flags()

    def load_history(self, ticket: TicketSummary) -> None:
        client = self._client()
        self._run(
            lambda: client.history(ticket),
            lambda items: self.history_loaded.emit(ticket.id, items),
            lambda error: self.history_failed.emit(ticket.id, _reason(error)),
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
        client = self._client()

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
            self.image_failed.emit(ticket_id, path, _reason(error))

        self._run(work, done, failed, priority=PRIORITY_IMAGE if full else PRIORITY_IMAGE - 1)

    # ------------------------------------------------------------ work
    def _changed(self, summary: TicketSummary, message: str) -> None:
        self.model.apply_ticket(summary)
        self.model.mark_read(summary.id)
        self.action_done.emit(message)
        if Feature.LIVE not in self.features and summary.id == self.current_ticket_id:
            self.open_ticket(summary.id)  # no feed will tell the viewer

    def set_status(self, ticket_id: str, status: str) -> None:
        client = self._client()
        self._run(
            lambda: client.set_status(ticket_id, status),
            lambda t: self._changed(t, f"{t.number} is now {t.status}"),
        )

    def assign(self, ticket_id: str, assignee: str | None) -> None:
        """``"me"`` claims the ticket; None gives it back to the pool."""
        client = self._client()

        def done(ticket: TicketSummary) -> None:
            self._changed(
                ticket,
                f"{ticket.number} assigned to {ticket.assignee}"
                if ticket.assignee
                else f"{ticket.number} is unassigned",
            )

        self._run(lambda: client.assign(ticket_id, assignee), done)

    def add_note(self, ticket_id: str, text: str, *, internal: bool) -> None:
        client = self._client()

        def done(_result: object) -> None:
            self.action_done.emit("Internal note added" if internal else "Reply sent to the reporter")
            if Feature.LIVE not in self.features and ticket_id == self.current_ticket_id:
                self.open_ticket(ticket_id)

        self._run(lambda: client.add_note(ticket_id, text, internal=internal), done)

    def call_next(self, site: str) -> None:
        client = self._client()

        def done(result: CallResult) -> None:
            self.boards[result.board.site] = result.board
            self.model.set_board(result.board)
            self.boards_changed.emit()
            self.called.emit(result)
            if result.called is None:
                self.action_done.emit(f"Nobody is waiting at {site}")
            else:
                self.model.apply_ticket(result.called)
                who = result.called.reporter_name or result.called.number
                self.action_done.emit(f"Called {who} ({result.called.number}) at {site}")

        self._run(lambda: client.call_next(site), done)

    def export_bundle(self, ticket_id: str, destination: Path) -> None:
        client = self._client()

        def work() -> str:
            number, data = client.export_bundle(ticket_id)
            atomic_write_bytes(destination, data, mode=0o600)
            return number

        self._run(work, lambda number: self.action_done.emit(f"{number} saved as {destination}"))

    # ------------------------------------------------------------ figures
    def load_stats(self, since: datetime, until: datetime) -> None:
        client = self._client()
        self._run(
            lambda: client.stats(since, until),
            self.stats_loaded.emit,
            lambda error: self.stats_failed.emit(_reason(error)),
        )

    def _save_read_state(self) -> None:
        data = self.read_state.snapshot()
        if data is not None:
            state = self.read_state
            self.runner.run(lambda: state.write(data), lambda _r: None, lambda _e: None)

    # ------------------------------------------------------------ end
    def shutdown(self, timeout_ms: int = 10_000) -> None:
        if self._closed:
            return
        self._closed = True
        self._keep_read_state.stop()
        self._stop_live()
        self.model.stop()
        if not self.runner.shutdown(timeout_ms):
            log.warning("background calls still running %d ms after closing; the window waits for them", timeout_ms)
        self.read_state.save()
        if self.client is not None:
            self.client.close()


def _reason(error: BaseException) -> str:
    if isinstance(error, ConnectorError):
        return error.reason
    return str(error) or type(error).__name__


__all__ = [
    "Caller",
    "DecodedImage",
    "HistoryItem",
    "ImageCache",
    "Stats",
    "TechSession",
    "decode_image",
    "sign_in_problem",
]
