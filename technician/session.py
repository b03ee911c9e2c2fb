"""One technician's session: the façade the widgets call and observe.

The session signs in and holds the parts of technician mode together, each one job:

- :class:`~technician.connection.BackendConnection`: the client, runs every backend call off the
  GUI thread, and knows whether the backend answers;
- :class:`~technician.live_feed.LiveFollower`: the changes feed (or polling), and probing while away;
- :class:`~technician.queue_pages.QueuePages`: pages of the queue and flags of its rows;
- :class:`~technician.ticket_loader.TicketLoader`: the open ticket, its history and step images;
- :class:`~technician.walk_up.WalkUpBoards`: the walk-up boards and where "call next" calls;
- :class:`~technician.work_actions.WorkActions`: status, assignment, notes, calls, export.

Widgets call the session's methods and observe its signals; the parts' signals are the
session's. Connection state: any call that finds the backend away marks the session offline
(``online_changed(False, reason)``); the changes feed (or, without one, a probe) keeps trying
and marks it online again, after which what failed is loaded again.

Token state: a token refused, or gone, while signed in does not end the session for good. The
credentials are asked again at once (a restarted local server has handed over a new token);
a token the backend has not refused yet signs in again by itself, keeping the queue on
screen. Otherwise the session waits for a new token (``waiting_for_token`` while it was signed
in and the token is merely gone, as while a local server restarts; ``sign_in_failed``
otherwise) and asks the credentials every ``CREDENTIALS_CHECK_MS``, signing in once per new
token value: never in a loop on a token the backend keeps refusing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Final

from PySide6.QtCore import QObject, QTimer, Signal

from agent.connectors.base import AuthError, ConnectorError
from shared_qt.workers import BackgroundRunner
from technician.client import Caller, Feature, Figures, HistoryItem, QueueBoard, TechClient
from technician.connection import PRIORITY_OPEN, BackendConnection, Credentials, reason, sign_in_problem
from technician.live_feed import LiveFollower
from technician.model import QueueFilter, ReadState, TicketSummary
from technician.queue_model import QueueModel
from technician.queue_pages import QueuePages
from technician.settings import TechSettings
from technician.step_images import DecodedImage, ImageCache, decode_image, warm_up_decoders
from technician.ticket_loader import TicketLoader
from technician.walk_up import WalkUpBoards
from technician.work_actions import WorkActions

log = logging.getLogger(__name__)

READ_STATE_SAVE_MS: Final = 60_000
# How often the credentials are asked for a new token while signed out for want of one: a
# restarted local server is noticed within about this long after it hands its token over.
CREDENTIALS_CHECK_MS: Final = 1000


class TechSession(QObject):
    """State and actions of technician mode; widgets call its methods and observe its signals."""

    signing_in = Signal()
    signed_in = Signal(object)  # Caller
    sign_in_failed = Signal(str, str)  # kind (no-token, refused, unreachable, error), message
    waiting_for_token = Signal(str)  # message: signed out, the queue kept, until a token is there again
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
    stats_loaded = Signal(object)  # DeskFigures: the figures and, where the backend has them, the ratings
    stats_failed = Signal(str)
    boards_changed = Signal()
    called = Signal(object)  # CallResult

    def __init__(
        self,
        client_factory: Callable[[], TechClient],
        settings: TechSettings | None = None,
        *,
        read_state: ReadState | None = None,
        credentials: Credentials | None = None,
        parent: QObject | None = None,
    ) -> None:
        """``credentials``: the token the connector would use now (``token_for``), for signing
        in again by itself when it changes; without it a refused token waits for "Try again"."""
        super().__init__(parent)
        self.settings = settings or TechSettings()
        self.read_state = read_state or ReadState(self.settings.read_state_path)
        self.connection = BackendConnection(client_factory, parent=self, credentials=credentials)
        self.model = QueueModel(self, self.read_state, parent=self)
        self.walk_up = WalkUpBoards(self.connection, self.model, self.settings, parent=self)
        self.tickets = TicketLoader(self.connection, self.model, parent=self)
        self.queue = QueuePages(self.connection, self.model, self.walk_up, self.tickets, parent=self)
        self.live = LiveFollower(self.connection, self.model, self.walk_up, self.settings, parent=self)
        self.actions = WorkActions(self.connection, self.model, self.walk_up, self.tickets, parent=self)

        # The parts' signals are the session's. Forwarded before the session's own handling is
        # connected, so the widgets hear of a change before what follows from it starts.
        self.connection.online_changed.connect(self.online_changed)
        self.connection.online_changed.connect(self._connection_changed)
        self.connection.signed_out.connect(self._signed_out)
        self.live.new_tickets.connect(self.new_tickets)
        self.live.ticket_changed.connect(self.ticket_changed)
        self.tickets.ticket_loaded.connect(self.ticket_loaded)
        self.tickets.ticket_failed.connect(self.ticket_failed)
        self.tickets.history_loaded.connect(self.history_loaded)
        self.tickets.history_failed.connect(self.history_failed)
        self.tickets.image_ready.connect(self.image_ready)
        self.tickets.image_failed.connect(self.image_failed)
        self.walk_up.boards_changed.connect(self.boards_changed)
        self.actions.action_done.connect(self.action_done)
        self.actions.action_failed.connect(self.action_failed)
        self.actions.called.connect(self.called)

        self._keep_read_state = QTimer(self)
        self._keep_read_state.setInterval(READ_STATE_SAVE_MS)
        self._keep_read_state.timeout.connect(self._save_read_state)
        self._keep_read_state.start()

        self._signing = False
        self._checking_credentials = False
        self._token_watch = QTimer(self)
        self._token_watch.setInterval(CREDENTIALS_CHECK_MS)
        self._token_watch.timeout.connect(self._check_credentials)

    # ------------------------------------------------------------ state, as the parts hold it
    @property
    def client(self) -> TechClient | None:
        return self.connection.client

    @property
    def caller(self) -> Caller | None:
        return self.connection.caller

    @property
    def features(self) -> frozenset[Feature]:
        return self.connection.features

    @property
    def online(self) -> bool:
        return self.connection.online

    @property
    def runner(self) -> BackgroundRunner:
        return self.connection.runner

    @property
    def images(self) -> ImageCache:
        return self.tickets.images

    @property
    def boards(self) -> dict[str, QueueBoard]:
        return self.walk_up.boards

    @property
    def current_ticket_id(self) -> str | None:
        return self.tickets.current_ticket_id

    def has(self, feature: Feature) -> bool:
        return self.connection.has(feature)

    # ------------------------------------------------------------ sign-in and the connection
    @property
    def watching_credentials(self) -> bool:
        """Signed out for want of a usable token, and signing in by itself once a new one is there."""
        return self._token_watch.isActive()

    def sign_in(self) -> None:
        """Check the token and start the live queue; answers with signed_in or sign_in_failed."""
        self._token_watch.stop()
        self.signing_in.emit()
        self.live.stop()
        try:
            client = self.connection.open_client()
        except (ValueError, ConnectorError) as exc:  # ConfigError is a ValueError: a configuration mistake
            self.sign_in_failed.emit("error", str(exc))
            return
        self._signing = True
        connection = self.connection
        # The token looked at just before signing in: what a refusal is remembered by. The
        # connector looks it up again for its call; a change in between is caught by the next
        # refusal, one value later.
        tried: list[str | None] = [None]

        def work() -> tuple[Caller, int]:
            tried[0] = connection.current_token()
            caller = client.sign_in()
            after = client.current_change_seq() if Feature.LIVE in client.features else 0
            return caller, after

        def done(result: tuple[Caller, int]) -> None:
            self._signing = False
            if connection.closed:
                return
            caller, after = result
            connection.runner.run(warm_up_decoders, lambda _r: None, lambda _e: None)
            connection.caller = caller
            connection.token_in_use = tried[0]
            self.model.me = caller.name or None
            connection.online = True
            self.live.start(after)
            self.model.reset()  # the filter shown stays: signing in again keeps the person's view
            self.signed_in.emit(caller)

        def failed(error: Exception) -> None:
            self._signing = False
            if connection.closed:
                return
            kind, message = sign_in_problem(error)
            if isinstance(error, AuthError) and error.status is not None and tried[0] is not None:
                connection.mark_refused(tried[0])
            self._watch_credentials(kind)
            self.sign_in_failed.emit(kind, message)

        connection.runner.run(work, done, failed, priority=PRIORITY_OPEN)

    def _signed_out(self, kind: str, message: str) -> None:
        """The token was refused or is gone while signed in: sign in again with a new one if there is one."""
        self.live.stop()
        connection = self.connection
        if connection.credentials is None:
            self.sign_in_failed.emit(kind, message)
            return
        refused = connection.refused_tokens()

        def decide(untried: str | None) -> None:
            if connection.closed or connection.caller is not None or self._signing:
                return
            if untried is not None:
                self.sign_in()  # the queue stays on screen; signed_in refreshes it
                return
            self._watch_credentials(kind)
            if kind == "no-token":
                self.waiting_for_token.emit(message)
            else:
                self.sign_in_failed.emit(kind, message)

        connection.runner.run(
            lambda: connection.untried_token(refused), decide, lambda _e: decide(None), priority=PRIORITY_OPEN
        )

    def _watch_credentials(self, kind: str) -> None:
        if kind in ("no-token", "refused") and self.connection.credentials is not None:
            self._token_watch.start()

    def _check_credentials(self) -> None:
        """A tick of the watch: sign in if the credentials now give a token not refused yet."""
        connection = self.connection
        if self._checking_credentials or self._signing or connection.closed:
            return
        self._checking_credentials = True
        refused = connection.refused_tokens()

        def checked(untried: str | None) -> None:
            self._checking_credentials = False
            if untried is not None and self._token_watch.isActive() and not connection.closed:
                self.sign_in()

        def failed(_error: Exception) -> None:
            self._checking_credentials = False

        connection.runner.run(lambda: connection.untried_token(refused), checked, failed)

    def _connection_changed(self, online: bool, _reason: str) -> None:
        self.live.connection_changed(online)
        if online:
            # The backend answers again: load what failed while it was away.
            self.queue.retry()
            self.tickets.retry()

    # ------------------------------------------------------------ the queue (the model's QueueSource)
    def set_filter(self, filters: QueueFilter) -> None:
        if filters != self.model.filters or not self.model.started:
            self.model.reset(filters)

    def reload(self) -> None:
        self.model.reset()

    def request_page(self, filters: QueueFilter, cursor: str | None, generation: int) -> None:
        self.queue.request_page(filters, cursor, generation)

    def request_flags(self, ticket_id: str) -> None:
        self.queue.request_flags(ticket_id)

    def load_board(self, site: str) -> None:
        self.walk_up.load_board(site)

    def site_to_call(self, ticket: TicketSummary | None) -> str | None:
        """Where "call next" calls: the configured site, else the open walk-up ticket's, else the one known."""
        return self.walk_up.site_to_call(ticket)

    @property
    def sites(self) -> list[str]:
        return self.walk_up.sites

    # ------------------------------------------------------------ the open ticket
    def open_ticket(self, ticket_id: str) -> None:
        self.tickets.open_ticket(ticket_id)

    def load_history(self, ticket: TicketSummary) -> None:
        self.tickets.load_history(ticket)

    def load_image(self, ticket_id: str, path: str, *, full: bool = True) -> None:
        """Fetch and decode a step image; answers with image_ready (at once when cached)."""
        self.tickets.load_image(ticket_id, path, full=full)

    # ------------------------------------------------------------ work
    def set_status(self, ticket_id: str, status: str) -> None:
        self.actions.set_status(ticket_id, status)

    def assign(self, ticket_id: str, assignee: str | None) -> None:
        """``"me"`` claims the ticket; None gives it back to the pool."""
        self.actions.assign(ticket_id, assignee)

    def add_note(self, ticket_id: str, text: str, *, internal: bool) -> None:
        self.actions.add_note(ticket_id, text, internal=internal)

    def call_next(self, site: str) -> None:
        self.actions.call_next(site)

    def export_bundle(self, ticket_id: str, destination: Path) -> None:
        self.actions.export_bundle(ticket_id, destination)

    def revoke_link(self, ticket_id: str) -> None:
        self.actions.revoke_link(ticket_id)

    # ------------------------------------------------------------ figures
    def load_stats(self, since: datetime, until: datetime) -> None:
        client = self.connection.require_client()
        self.connection.run(
            lambda: client.desk_figures(since, until),
            self.stats_loaded.emit,
            lambda error: self.stats_failed.emit(reason(error)),
        )

    def _save_read_state(self) -> None:
        data = self.read_state.snapshot()
        if data is not None:
            state = self.read_state
            self.connection.runner.run(lambda: state.write(data), lambda _r: None, lambda _e: None)

    # ------------------------------------------------------------ end
    def shutdown(self, timeout_ms: int = 10_000) -> None:
        if self.connection.closed:
            return
        self.connection.closed = True
        self._keep_read_state.stop()
        self._token_watch.stop()
        self.live.stop()
        self.model.stop()
        # The opening lane's thread outlives the window by design (a daemon); stopped, it drops what
        # waits and delivers nothing more to widgets that are being torn down.
        self.tickets.shutdown()
        if not self.connection.runner.shutdown(timeout_ms):
            log.warning("background calls still running %d ms after closing; the window waits for them", timeout_ms)
        self.read_state.save()
        if self.connection.client is not None:
            self.connection.client.close()


__all__ = [
    "Caller",
    "DecodedImage",
    "Figures",
    "HistoryItem",
    "ImageCache",
    "TechSession",
    "decode_image",
    "sign_in_problem",
]
