"""The technician's own threads: the changes feed, and the lane of what the person waits for.

Request/answer calls otherwise use shared_qt.workers (the connection's niced pool).

Updates come back as signals of a relay object that lives in the GUI thread, so the
callbacks run there (queued connections), never on the feed's thread.

The changes feed is a long poll: a call blocks until something changes or its wait runs
out, and an HTTP request in flight cannot be cancelled. It runs on a daemon thread that is
told to stop and not waited for, so closing the window never hangs on it; it finishes its
current poll (at most the wait) and then ends without reporting anything.

Which thread deletes a Qt object matters. A thread here therefore holds no Qt object but its
relay: it runs a plain loop object, never a method of a QObject, and its relay belongs to the
application object (C++), not to Python. A Python-owned QObject is deleted wherever its last
reference goes, and a thread's last references go on that thread when it ends: the feed's
relay was deleted there while the GUI thread deleted the feed connected to it, both
destructors walked the one connection, and the process died in Qt's event loop now and then.
The relay goes by the ``deleteLater`` its thread asks for as its last act, on the GUI thread.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from PySide6.QtCore import QCoreApplication, QObject, Signal

from agent.connectors.base import AuthError, ConnectorError, PermanentError
from shared_qt.workers import PendingCallbacks, lower_thread_priority
from technician.client import Feature, QueueBoard, TechClient, TicketInfo, is_connection_problem

log = logging.getLogger(__name__)

MAX_FETCH_PER_BATCH: Final = 200  # more changed tickets than this at once: reload the list instead
RETRY_FIRST_SECONDS: Final = 0.25
RETRY_MAX_SECONDS: Final = 2.0
WORKER_NICENESS: Final = 5
LANE_MAX_PENDING: Final = 16
FEED_THREAD: Final = "showdesk-tech-feed"
Result = TypeVar("Result")
RelayType = TypeVar("RelayType", bound=QObject)


# ---------------------------------------------------------------- threads and their relays
def _thread_relay(kind: type[RelayType]) -> RelayType:
    """A relay for one of our threads to emit into, owned by the application object, not by Python.

    Its Python wrapper may then go on any thread (the thread's last references go where the
    thread ends) without deleting the object; the object goes by the ``deleteLater`` the thread
    asks for as its last act, on the GUI thread, after its last emit. Without an application
    object there is no event loop to deliver to, and the relay is Python's.
    """
    return kind(QCoreApplication.instance())


@dataclass(frozen=True, order=True)
class ThreadState:
    """One of technician mode's threads still running: its name, and whether it was told to stop."""

    name: str
    stopping: bool


class _Loop:
    """What one of technician mode's threads runs: plain Python and a relay, no other Qt object."""

    name = ""

    @property
    def stopping(self) -> bool:
        raise NotImplementedError


_running: set[_Loop] = set()
_running_lock = threading.Lock()


def _start_thread(loop: _Loop, body: Callable[[], None], relay: QObject) -> threading.Thread:
    """Run ``body`` on a daemon thread that, as its last act, hands ``relay`` to the GUI thread to delete."""

    def run() -> None:
        try:
            body()
        finally:
            with _running_lock:
                _running.discard(loop)
            with contextlib.suppress(RuntimeError):  # the application object is gone: the process ends
                relay.deleteLater()  # thread-safe: posted to the GUI thread, which deletes it there

    with _running_lock:
        _running.add(loop)
    thread = threading.Thread(target=run, name=loop.name, daemon=True)
    thread.start()
    return thread


def running_threads() -> list[ThreadState]:
    """Technician mode's threads running now (feeds and lanes), for shutting down and tests."""
    with _running_lock:
        return sorted(ThreadState(loop.name, loop.stopping) for loop in _running)


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


class _FeedLoop(_Loop):
    """The feed's thread: polls the changes and reports them through the relay until told to stop."""

    name = FEED_THREAD

    def __init__(self, client: TechClient, after: int, wait_seconds: float, relay: _FeedRelay) -> None:
        self.client = client
        self.after = after
        self.wait = wait_seconds
        self.relay = relay
        self.stop = threading.Event()

    @property
    def stopping(self) -> bool:
        return self.stop.is_set()

    def _send(self, signal: Any, *args: object) -> None:
        if self.stop.is_set():
            return
        try:
            signal.emit(*args)
        except RuntimeError:
            self.stop.set()

    def run(self) -> None:
        lower_thread_priority(WORKER_NICENESS)
        after = self.after
        failing = False
        delay = RETRY_FIRST_SECONDS
        relay = self.relay
        while not self.stop.is_set():
            try:
                # While failing, ask without waiting: a long poll to a backend that is back would
                # hold the news that it answers again for the whole wait.
                batch = self.client.changes(after, wait=0.0 if failing else self.wait)
                if self.stop.is_set():
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
                self.stop.wait(5.0)
            except ConnectorError as exc:
                if is_connection_problem(exc):
                    if not failing:
                        failing = True
                        self._send(relay.lost, exc.reason)
                else:
                    log.warning("the changes feed failed: %s", exc)
                self.stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
            except Exception:  # a bug must not end live updates silently
                log.exception("the changes feed failed unexpectedly")
                self.stop.wait(RETRY_MAX_SECONDS)

    def _deliver(self, changes: Sequence[Any], last_seq: int) -> None:
        kinds: dict[str, set[str]] = {}
        for change in changes:
            kinds.setdefault(change.ticket_id, set()).add(change.kind)
        if len(kinds) > MAX_FETCH_PER_BATCH:
            self._send(self.relay.resync)
            return
        tickets: list[TicketInfo] = []
        for ticket_id in kinds:
            try:
                tickets.append(self.client.ticket(ticket_id))
            except PermanentError as exc:  # gone, or not readable: nothing to show
                log.info("changed ticket %s could not be read: %s", ticket_id, exc)
        boards: list[QueueBoard] = []
        if Feature.WALK_UP in self.client.features:
            sites = {t.summary.site for t in tickets if t.summary.walk_up and t.summary.site}
            boards = [self.client.board(site) for site in sorted(s for s in sites if s)]
        self._send(
            self.relay.update,
            FeedUpdate(tickets, {k: frozenset(v) for k, v in kinds.items()}, boards, last_seq),
        )


class ChangeFeed(QObject):
    """Follows the backend's changes feed from ``after`` and reports every changed ticket, fetched fresh.

    ``lost`` when the backend stops answering (it keeps trying, with a short back-off),
    ``restored`` when it answers again; changes made meanwhile are then delivered, as the
    feed continues from the last sequence number it saw. Deleted without ``stop``, it stops.
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
        self._loop: _FeedLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        relay = _thread_relay(_FeedRelay)
        relay.update.connect(self.update)
        relay.lost.connect(self.lost)
        relay.restored.connect(self.restored)
        relay.refused.connect(self.refused)
        relay.resync.connect(self.resync)
        self._loop = loop = _FeedLoop(self._client, self._after, self._wait, relay)
        # Not a slot of this object: none runs once it is being destroyed, and then the thread must stop.
        self.destroyed.connect(functools.partial(threading.Event.set, loop.stop))
        self._thread = _start_thread(loop, loop.run, relay)

    def stop(self) -> None:
        """Ask the thread to end after its current poll; it reports nothing more."""
        if self._loop is not None:
            self._loop.stop.set()

    @property
    def running(self) -> bool:
        loop, thread = self._loop, self._thread
        return loop is not None and thread is not None and thread.is_alive() and not loop.stopping


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


class _LaneLoop(_Loop):
    """The lane's thread and the jobs it waits for; the GUI thread adds jobs, the thread takes them."""

    def __init__(self, name: str, relay: _LaneRelay) -> None:
        self.name = name
        self.relay = relay
        self.jobs: list[_LaneJob] = []
        self.condition = threading.Condition()
        self.stopped = False

    @property
    def stopping(self) -> bool:
        return self.stopped

    def stop(self) -> None:
        with self.condition:
            self.stopped = True
            self.jobs.clear()
            self.condition.notify()

    def run(self) -> None:
        relay = self.relay
        while True:
            with self.condition:
                while not self.jobs and not self.stopped:
                    self.condition.wait()
                if self.stopped:
                    return
                job = heapq.heappop(self.jobs)
            try:
                if not job.wanted():
                    raise JobDroppedError("no longer wanted")
                outcome, succeeded = job.function(), True
            except Exception as exc:  # noqa: BLE001 - handed to the job's on_error on the GUI thread
                outcome, succeeded = exc, False
            number = job.number
            del job  # its functions are not kept while the lane waits for the next one
            try:
                relay.finished.emit(number, succeeded, outcome)
            except RuntimeError:  # the relay is gone: the application is ending
                return
            del outcome


class PriorityLane(QObject):
    """Jobs on one thread of its own at the process's normal priority, the highest priority first.

    For the work a person is waiting for (opening a ticket, the picture of the selected step):
    the connection's pool runs niced, so with other work on the machine those jobs would get a
    quarter of a core. One thread: at most one decode runs at a time (and the image decoders
    never contend for Qt's lock). Bounded: at most ``max_pending`` jobs wait; a new one pushes
    out the least urgent. Cancelled: a job whose ``wanted()`` is false when its turn comes does
    not run (its ``on_error`` gets :class:`JobDroppedError`). Results come back on the GUI thread.
    The thread is a daemon: a call in flight never holds up closing the window. Deleted
    without ``stop``, the lane stops.
    """

    def __init__(self, name: str, *, max_pending: int = LANE_MAX_PENDING, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._max_pending = max_pending
        self._callbacks = PendingCallbacks()
        self._order = itertools.count()
        self._loop: _LaneLoop | None = None

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
        loop = self._loop or self._start()
        number = self._callbacks.add(on_result, on_error)
        order = next(self._order)
        job = _LaneJob((-priority, -order if newest_first else order), number, function, wanted)
        pushed_out: _LaneJob | None = None
        with loop.condition:
            heapq.heappush(loop.jobs, job)
            if len(loop.jobs) > self._max_pending:
                pushed_out = max(loop.jobs)  # the least urgent
                loop.jobs.remove(pushed_out)
                heapq.heapify(loop.jobs)
            loop.condition.notify()
        if pushed_out is not None:
            self._finished(pushed_out.number, False, JobDroppedError("too many pictures asked for at once"))

    def _start(self) -> _LaneLoop:
        relay = _thread_relay(_LaneRelay)
        relay.finished.connect(self._finished)
        self._loop = loop = _LaneLoop(self._name, relay)
        # Not a slot of this object: none runs once it is being destroyed, and then the thread must stop.
        self.destroyed.connect(functools.partial(_LaneLoop.stop, loop))
        _start_thread(loop, loop.run, relay)
        return loop

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def stop(self) -> None:
        """Drop what waits and report nothing more; a job under way finishes unseen."""
        self._callbacks.close()
        if self._loop is not None:
            self._loop.stop()

    def _finished(self, number: int, succeeded: bool, outcome: object) -> None:
        # A slot of this object: Qt queues the worker's emit into the GUI thread.
        self._callbacks.deliver(number, succeeded, outcome)
