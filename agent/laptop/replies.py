"""Following the person's own tickets: the help desk's public replies, noticed while the agent runs.

:class:`ReplyPoller` is Qt-free: a thread of its own reads, on a bounded cadence, the public
conversation of the tickets this agent delivered (the outbox's receipts, newest first, at most
``max_tickets``) and tells its listeners what it read and which replies are new. The agent's Qt
side observes it through a bridge that turns the calls into signals.

Cheap by design: with a backend that has a changes feed (the built-in server gives a submitter
token its own tickets' public events there), a round is one small request, and a ticket's
conversation is read only when the feed names it. The first round after a start reads every
followed ticket once, so a reply that came while the agent was not running is noticed too.

A reply is announced once: the sequence numbers of the replies already announced are kept in a
small file (``seen_file``), so a restart does not announce them again. Offline, the cadence
backs off (doubling up to ``max_interval``) and returns to ``interval`` after the first round
that reaches the help desk; ``poll_now`` asks for a round at once (a Refresh button, an answer
just sent).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol, runtime_checkable

import platformdirs

from agent.config import APP_NAME
from agent.connectors.base import Capability, Connector, ConnectorError, TransientError
from agent.fsutil import atomic_write_bytes
from agent.outbox import Receipt
from agent.read_models import ChangePage, Conversation, ConversationEntry

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS: Final = 60.0
DEFAULT_MAX_INTERVAL_SECONDS: Final = 15 * 60.0
DEFAULT_MAX_TICKETS: Final = 20
MAX_CHANGE_PAGES: Final = 5  # pages of the feed read in one round; the rest waits for the next
CHANGES_PAGE_LIMIT: Final = 500
MAX_SEEN_TICKETS: Final = 500  # the seen file keeps the newest tickets only
STOP_TIMEOUT_SECONDS: Final = 10.0
SEEN_FILE_NAME: Final = "replies-announced.json"


def default_seen_file() -> Path:
    """Where the replies already announced are kept: the person's data, beside the remembered contact."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False) / SEEN_FILE_NAME


@runtime_checkable
class ConversationReader(Protocol):
    """A connector that can read a ticket's public conversation (the built-in one)."""

    def public_timeline(self, ticket_id: str) -> Conversation: ...


@dataclass(frozen=True)
class NewReply:
    """A public reply of the help desk the person has not been told of yet."""

    report_id: str
    ticket_id: str
    number: str
    entry: ConversationEntry


class RepliesListener(Protocol):
    """What the poller tells; called on the poller's thread."""

    def conversation_read(self, report_id: str, conversation: Conversation) -> None: ...

    def new_replies(self, replies: list[NewReply]) -> None: ...

    def poll_failed(self, reason: str, next_in: float) -> None: ...


class SeenReplies:
    """The highest reply sequence number announced per ticket, kept in a small JSON file (or in memory)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._seen: dict[str, int] = {}
        if path is not None:
            try:
                loaded = json.loads(path.read_bytes())
            except FileNotFoundError:
                loaded = {}
            except (OSError, ValueError) as exc:
                # A damaged file costs at most one repeated notification per ticket.
                log.warning("the list of replies already announced could not be read (%s); starting afresh", exc)
                loaded = {}
            if isinstance(loaded, dict):
                self._seen = {str(k): v for k, v in loaded.items() if isinstance(v, int)}

    def get(self, ticket_id: str) -> int:
        return self._seen.get(ticket_id, 0)

    def update(self, ticket_id: str, seq: int) -> None:
        self._seen[ticket_id] = max(seq, self._seen.get(ticket_id, 0))
        if len(self._seen) > MAX_SEEN_TICKETS:
            newest = sorted(self._seen.items(), key=lambda item: item[1])[-MAX_SEEN_TICKETS:]
            self._seen = dict(newest)
        if self.path is not None:
            try:
                atomic_write_bytes(self.path, json.dumps(self._seen, sort_keys=True).encode())
            except OSError as exc:
                log.warning("the list of replies already announced could not be saved: %s", exc)


class ReplyPoller:
    """Reads the person's tickets' conversations on a cadence; see the module's description."""

    def __init__(
        self,
        receipts: Callable[[], Sequence[Receipt]],
        connector_factory: Callable[[], Connector],
        *,
        backend_name: str | None = None,
        seen_file: Path | None = None,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        max_interval: float = DEFAULT_MAX_INTERVAL_SECONDS,
        max_tickets: int = DEFAULT_MAX_TICKETS,
    ) -> None:
        """``backend_name``: follow only receipts of this backend (None: every receipt)."""
        if interval <= 0 or max_interval < interval:
            raise ValueError("the interval is positive and at most max_interval")
        self._receipts = receipts
        self._connector_factory = connector_factory
        self._backend_name = backend_name
        self.seen = SeenReplies(seen_file)
        self.interval = interval
        self.max_interval = max_interval
        self.max_tickets = max_tickets
        self._listeners: list[RepliesListener] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cursor: int | None = None
        self._read_once: set[str] = set()  # tickets read since the start (a new receipt is read at once)
        self.failures = 0
        self.rounds = 0

    # ------------------------------------------------------------ observers
    def add_listener(self, listener: RepliesListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: RepliesListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _each_listener(self) -> list[RepliesListener]:
        with self._lock:
            return list(self._listeners)

    # ------------------------------------------------------------ the thread
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="showdesk-replies", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop after the round under way (its requests carry the connector's timeouts)."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def poll_now(self) -> None:
        """A round at once, whatever the cadence or the backoff."""
        self._wake.set()

    def next_delay(self) -> float:
        """The wait before the next round: the interval, doubled per failed round up to the maximum."""
        if self.failures <= 0:
            return self.interval
        return min(self.max_interval, self.interval * float(2 ** min(self.failures, 20)))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.poll_once()
            except Exception:  # a bug must not end the following silently: log it, back off, go on
                log.exception("reading the replies failed")
                self.failures += 1
            self._wake.wait(self.next_delay())

    # ------------------------------------------------------------ one round
    def followed(self) -> list[Receipt]:
        """The receipts followed: this backend's, newest first, at most ``max_tickets``."""
        mine = [r for r in self._receipts() if self._backend_name is None or r.backend == self._backend_name]
        mine.sort(key=lambda r: r.delivered_at, reverse=True)
        return mine[: self.max_tickets]

    def poll_once(self) -> list[NewReply]:
        """One round on the caller's thread: read what changed, tell the listeners, return the new replies."""
        self.rounds += 1
        followed = {r.ticket_id: r for r in self.followed()}
        if not followed:
            self.failures = 0
            return []
        try:
            with self._connector_factory() as connector:
                if not isinstance(connector, ConversationReader):
                    return []  # another backend: the person follows tickets in its own interface
                wanted = self._tickets_to_read(connector, set(followed))
                new: list[NewReply] = []
                for ticket_id in wanted:
                    receipt = followed[ticket_id]
                    try:
                        conversation = connector.public_timeline(ticket_id)
                    except TransientError:
                        raise
                    except ConnectorError as exc:  # this ticket only (gone, refused): the others go on
                        log.info("the conversation of ticket %s could not be read: %s", receipt.number, exc)
                        continue
                    self._read_once.add(ticket_id)
                    for listener in self._each_listener():
                        listener.conversation_read(receipt.report_id, conversation)
                    new += self._new_replies(receipt, conversation)
        except ConnectorError as exc:
            self.failures += 1
            delay = self.next_delay()
            log.info("replies not read (%s); next try in %.0f s", exc, delay)
            for listener in self._each_listener():
                listener.poll_failed(str(exc), delay)
            return []
        self.failures = 0
        if new:
            for listener in self._each_listener():
                listener.new_replies(new)
        return new

    def _tickets_to_read(self, connector: Connector, followed: set[str]) -> list[str]:
        """The followed tickets whose conversation may have changed since the last round."""
        unread = {t for t in followed if t not in self._read_once}
        if Capability.CHANGES not in connector.capabilities:
            return sorted(followed)
        if self._cursor is None:
            # From now on through the feed; everything followed is read once to catch up.
            self._cursor = connector.changes(None).last_seq
            return sorted(followed)
        touched: set[str] = set()
        for _ in range(MAX_CHANGE_PAGES):
            page: ChangePage = connector.changes(self._cursor, limit=CHANGES_PAGE_LIMIT)
            if page.last_seq < self._cursor:  # a server restored from an older backup: catch up again
                self._cursor = page.last_seq
                return sorted(followed)
            touched.update(c.ticket_id for c in page.changes)
            self._cursor = page.last_seq
            if len(page.changes) < CHANGES_PAGE_LIMIT:
                break
        return sorted((touched & followed) | unread)

    def _new_replies(self, receipt: Receipt, conversation: Conversation) -> list[NewReply]:
        seen = self.seen.get(receipt.ticket_id)
        fresh = [e for e in conversation.replies() if e.seq > seen]
        if not fresh:
            return []
        self.seen.update(receipt.ticket_id, max(e.seq for e in fresh))
        return [NewReply(receipt.report_id, receipt.ticket_id, conversation.number, entry) for entry in fresh]


__all__ = [
    "ConversationReader",
    "NewReply",
    "RepliesListener",
    "ReplyPoller",
    "SeenReplies",
    "default_seen_file",
]
