"""The technician's own threads: the changes feed, and the lane of what the person waits for.

Request/answer calls otherwise use shared_qt.workers (the connection's niced pool).

Updates come back as signals of a relay object that lives in the GUI thread, so the
callbacks run there (queued connections), never on the feed's thread.

The changes feed is a long poll: a call blocks until something changes or its wait runs
out, and an HTTP request in flight cannot be cancelled. It runs on a daemon thread that is
told to stop and not waited for, so closing the window never hangs on it; it finishes its
current poll (at most the wait) and then ends without reporting anything.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from PySide6.QtCore import QObject, Signal

from agent.connectors.base import AuthError, ConnectorError, PermanentError
from shared_qt.workers import PendingCallbacks, lower_thread_priority
from technician.client import Feature, QueueBoard, TechClient, TicketInfo, is_connection_problem

log = logging.getLogger(__name__)

MAX_FETCH_PER_BATCH: Final = 200  # more changed tickets than this at once: reload the list instead
RETRY_FIRST_SECONDS: Final = 0.25
RETRY_MAX_SECONDS: Final = 2.0
WORKER_NICENESS: Final = 5
LANE_MAX_PENDING: Final = 16
Result = TypeVar("Result")


# ---------------------------------------------------------------- the changes feed
@dataclass(frozen=True)
class FeedUpdate:
    """Tickets that changed, as they are now, with the kinds of change; boards of the sites touched."""

    tickets: Sequence[TicketInfo]
    kinds: dict[str, frozenset[str]] = field(default_factory=dict)
    boards: Sequence[QueueBoard] = ()
    last_seq: int = 0


class _FeedRelay(QObject):
    update = Signal(object)  # FeedUpdate
    lost = Signal(str)
    restored = Signal()
    refused = Signal(object)  # the AuthError: refused (401, 403) or no token at the moment
    resync = Signal()


class ChangeFeed(QObject):
    """Follows the backend's changes feed from ``after`` and reports every changed ticket, fetched fresh.

    ``lost`` when the backend stops answering (it keeps trying, with a short back-off),
    ``restored`` when it answers again; changes made meanwhile are then delivered, as the
    feed continues from the last sequence number it saw.
    """

    update = Signal(object)
    lost = Signal(str)
    restored = Signal()
    refused = Signal(object)  # the AuthError: refused (401, 403) or no token at the moment
    resync = Signal()

    def __init__(self, client: TechClient, after: int, *, wait_seconds: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._after = after
        self._wait = wait_seconds
        self._stop = threading.Event()
        self._relay = _FeedRelay()  # no parent: the thread may outlive this object by one poll
        self._relay.update.connect(self.update)
        self._relay.lost.connect(self.lost)
        self._relay.restored.connect(self.restored)
        self._relay.refused.connect(self.refused)
        self._relay.resync.connect(self.resync)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="showdesk-tech-feed", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end after its current poll; it reports nothing more."""
        self._stop.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def _send(self, signal: Any, *args: object) -> None:
        if self._stop.is_set():
            return
        try:
            signal.emit(*args)
        except RuntimeError:
            self._stop.set()

    def _run(self) -> None:
        lower_thread_priority(WORKER_NICENESS)
        after = self._after
        failing = False
        delay = RETRY_FIRST_SECONDS
        relay = self._relay
        while not self._stop.is_set():
            try:
                # While failing, ask without waiting: a long poll to a backend that is back would
                # hold the news that it answers again for the whole wait.
                batch = self._client.changes(after, wait=0.0 if failing else self._wait)
                if self._stop.is_set():
                    return
                if batch.changes:
                    self._deliver(batch.changes, batch.last_seq)
                after = batch.last_seq
                if failing:
                    failing = False
                    self._send(relay.restored)
                delay = RETRY_FIRST_SECONDS
            except AuthError as exc:
                # Technician mode signs in again (with a new token, if there is one) and starts
                # a new feed; this one waits to be stopped.
                self._send(relay.refused, exc)
                self._stop.wait(5.0)
            except ConnectorError as exc:
                if is_connection_problem(exc):
                    if not failing:
                        failing = True
                        self._send(relay.lost, exc.reason)
                else:
                    log.warning("the changes feed failed: %s", exc)
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
            except Exception:  # a bug must not end live updates silently
                log.exception("the changes feed failed unexpectedly")
                self._stop.wait(RETRY_MAX_SECONDS)

    def _deliver(self, changes: Sequence[Any], last_seq: int) -> None:
        kinds: dict[str, set[str]] = {}
        for change in changes:
            kinds.setdefault(change.ticket_id, set()).add(change.kind)
        if len(kinds) > MAX_FETCH_PER_BATCH:
            self._send(self._relay.resync)
            return
        tickets: list[TicketInfo] = []
        for ticket_id in kinds:
            try:
                tickets.append(self._client.ticket(ticket_id))
            except PermanentError as exc:  # gone, or not readable: nothing to show
                log.info("changed ticket %s could not be read: %s", ticket_id, exc)
        boards: list[QueueBoard] = []
        if Feature.WALK_UP in self._client.features:
            sites = {t.summary.site for t in tickets if t.summary.walk_up and t.summary.site}
            boards = [self._client.board(site) for site in sorted(s for s in sites if s)]
        self._send(
            self._relay.update,
            FeedUpdate(tickets, {k: frozenset(v) for k, v in kinds.items()}, boards, last_seq),
        )


# ---------------------------------------------------------------- the lane of what the person waits for
class JobDroppedError(Exception):
    """A lane job that never ran: the person moved on before its turn, or the lane was full."""


class _LaneRelay(QObject):
    finished = Signal(int, bool, object)  # job number, succeeded, result or exception


@dataclass(order=True)
class _LaneJob:
    sort_key: tuple[int, int]
    number: int = field(compare=False)
    function: Callable[[], Any] = field(compare=False)
    wanted: Callable[[], bool] = field(compare=False)


class PriorityLane(QObject):
    """Jobs on one thread of its own at the process's normal priority, the highest priority first.

    For the work a person is waiting for (opening a ticket, the picture of the selected step):
    the connection's pool runs niced, so with other work on the machine those jobs would get a
    quarter of a core. One thread: at most one decode runs at a time (and the image decoders
    never contend for Qt's lock). Bounded: at most ``max_pending`` jobs wait; a new one pushes
    out the least urgent. Cancelled: a job whose ``wanted()`` is false when its turn comes does
    not run (its ``on_error`` gets :class:`JobDroppedError`). Results come back on the GUI thread.
    The thread is a daemon: a call in flight never holds up closing the window.
    """

    def __init__(self, name: str, *, max_pending: int = LANE_MAX_PENDING, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._max_pending = max_pending
        self._callbacks = PendingCallbacks()
        self._relay = _LaneRelay()  # no parent: the thread may outlive this object by one job
        self._relay.finished.connect(self._finished)
        self._jobs: list[_LaneJob] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def run(
        self,
        function: Callable[[], Result],
        on_result: Callable[[Result], None],
        on_error: Callable[[Exception], None],
        *,
        priority: int = 0,
        newest_first: bool = False,
        wanted: Callable[[], bool] = lambda: True,
    ) -> None:
        """Queue ``function``; among jobs of one priority the oldest runs first (or the newest)."""
        if self._callbacks.closed:
            return
        number = self._callbacks.add(on_result, on_error)
        order = next(self._order)
        job = _LaneJob((-priority, -order if newest_first else order), number, function, wanted)
        pushed_out: _LaneJob | None = None
        with self._condition:
            heapq.heappush(self._jobs, job)
            if len(self._jobs) > self._max_pending:
                pushed_out = max(self._jobs)  # the least urgent
                self._jobs.remove(pushed_out)
                heapq.heapify(self._jobs)
            self._condition.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()
        if pushed_out is not None:
            self._relay.finished.emit(pushed_out.number, False, JobDroppedError("too many pictures asked for at once"))

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def stop(self) -> None:
        """Drop what waits and report nothing more; a job under way finishes unseen."""
        self._callbacks.close()
        with self._condition:
            self._stopped = True
            self._jobs.clear()
            self._condition.notify()

    def _finished(self, number: int, succeeded: bool, outcome: object) -> None:
        # A slot of this object: Qt queues the worker's emit into the GUI thread.
        self._callbacks.deliver(number, succeeded, outcome)

    def _work(self) -> None:
        relay = self._relay
        while True:
            with self._condition:
                while not self._jobs and not self._stopped:
                    self._condition.wait()
                if self._stopped:
                    return
                job = heapq.heappop(self._jobs)
            try:
                if not job.wanted():
                    raise JobDroppedError("no longer wanted")
                outcome, succeeded = job.function(), True
            except Exception as exc:  # noqa: BLE001 - handed to the job's on_error on the GUI thread
                outcome, succeeded = exc, False
            try:
                relay.finished.emit(job.number, succeeded, outcome)
            except RuntimeError:  # the relay is gone: the application is ending
                return
