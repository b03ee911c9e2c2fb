"""The durable outbox: the only path from a report to a backend.

A report is written to disk before a single byte goes to a backend, and deleted only
after the backend confirms it with a ticket. In between, senders (the agent's ``Sender``
thread, ``showdesk outbox flush``, possibly both at once) deliver it with exponential
backoff, the report id as idempotency key on every try, and a per-entry file lock so
one entry is sent by one sender at a time.

``Outbox`` is the one object callers use; it joins two parts that know little of each other:

* ``store``: the entries on disk (atomic put, the per-entry lock, ``state.json``, receipts,
  listing, purge, a full disk). It keeps bytes and state and knows no connector and no backoff.
* ``delivery``: the policy (backoff, Retry-After, pauses, dead letters, "needs attention",
  what each connector error means). Its docstring describes the entry states.

Beside them: ``entries`` (the records: ``OutboxEntry``, ``Receipt``, ``Attempt``, ``FlushResult``),
``errors``, ``observers`` (``OutboxObserver``), ``sender`` (the ``Sender`` thread) and ``netwatch``
(the ``NetworkWatcher`` a sender runs, which calls ``Outbox.network_changed``). Every caller
imports from ``agent.outbox``; the names below are its public interface.

Observers are plain callbacks called on the sending thread; a GUI marshals them to its
own thread.
"""

from __future__ import annotations

import builtins
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path

from agent.bundle import ReportBundle
from agent.outbox.delivery import (
    ATTENTION_AFTER_ATTEMPTS,
    ATTENTION_AFTER_SECONDS,
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    BACKOFF_JITTER,
    BUSY_RECHECK_SECONDS,
    HANDOVER_POLL_SECONDS,
    LOCAL_SERVER_WAIT_NOTE,
    MAX_WAIT_SECONDS,
    NETWORK_RECHECK_SECONDS,
    PAUSE_SECONDS,
    ConnectorFactory,
    Delivery,
    Outcome,
    attempt_record,
    default_connector_for,
    waits_for_local_server,
)
from agent.outbox.entries import HELD_STATES, Attempt, EntryState, FlushResult, OutboxEntry, Receipt
from agent.outbox.errors import (
    OutboxBusyError,
    OutboxError,
    OutboxFullError,
    OutboxStorageError,
    UnknownEntryError,
)
from agent.outbox.observers import Observers, OutboxObserver
from agent.outbox.sender import Sender
from agent.outbox.store import (
    BUNDLE_FILE,
    ENTRIES_DIR,
    LOCK_FILE,
    MAX_RECEIPTS,
    RECEIPTS_DIR,
    STALE_SECONDS,
    STATE_FILE,
    EntryStore,
)

__all__ = [
    "ATTENTION_AFTER_ATTEMPTS",
    "ATTENTION_AFTER_SECONDS",
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_CAP_SECONDS",
    "BACKOFF_JITTER",
    "BUNDLE_FILE",
    "BUSY_RECHECK_SECONDS",
    "ENTRIES_DIR",
    "HANDOVER_POLL_SECONDS",
    "HELD_STATES",
    "LOCAL_SERVER_WAIT_NOTE",
    "LOCK_FILE",
    "MAX_RECEIPTS",
    "MAX_WAIT_SECONDS",
    "NETWORK_RECHECK_SECONDS",
    "PAUSE_SECONDS",
    "RECEIPTS_DIR",
    "STALE_SECONDS",
    "STATE_FILE",
    "Attempt",
    "ConnectorFactory",
    "EntryState",
    "FlushResult",
    "Outbox",
    "OutboxBusyError",
    "OutboxEntry",
    "OutboxError",
    "OutboxFullError",
    "OutboxObserver",
    "OutboxStorageError",
    "Receipt",
    "Sender",
    "UnknownEntryError",
    "default_connector_for",
    "waits_for_local_server",
]

log = logging.getLogger(__name__)


class Outbox:
    """The durable queue of reports not yet confirmed by a backend.

    ``connector_for`` maps a backend name to a connector (default: from the configuration);
    ``clock`` (seconds since the epoch), ``rng`` and ``sleep`` (used only by
    ``deliver_now``) are injectable so backoff can be tested without waiting.
    """

    def __init__(
        self,
        directory: Path,
        *,
        connector_for: ConnectorFactory | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.directory = Path(directory)
        self._store = EntryStore(self.directory)
        self._observers = Observers()
        self._clock = clock
        self._sleep = sleep
        self._delivery = Delivery(
            self._store,
            self._observers,
            connector_for=connector_for or default_connector_for,
            clock=clock,
            rng=rng or random.Random(),  # noqa: S311 - jitter, not secrets
        )
        self._flush_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._wake_event = threading.Event()
        self._wake_requested = False
        self._reset_connectors = False
        self._network_changed = False

    # ------------------------------------------------------------ observers
    def add_observer(self, observer: OutboxObserver) -> None:
        self._observers.add(observer)

    def remove_observer(self, observer: OutboxObserver) -> None:
        self._observers.remove(observer)

    # ------------------------------------------------------------ putting reports in
    def put(self, bundle: ReportBundle, backend_name: str = "default") -> OutboxEntry:
        """Queue ``bundle`` for ``backend_name``, durably, before anything is sent.

        Raises ``BundleError`` for a report that does not validate, ``OutboxFullError``
        when the disk is full (nothing partial is left; queued reports stay), and
        ``OutboxError`` when a different report with the same id is already queued.
        Putting the very same report twice returns the queued entry.
        """
        data = bundle.to_bytes()  # validates the report and its files
        # What is queued must load back when it is sent: refuse now, while the caller can act.
        ReportBundle.from_bytes(data)
        report_id = str(bundle.report.id)
        existing = self._store.queued_copy(report_id, data)
        if existing is not None:
            return existing
        now = self._clock()
        entry = OutboxEntry(
            id=report_id,
            backend=backend_name,
            state=EntryState.PENDING,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
            last_error=None,
            size=len(data),
            subject=bundle.report.subject(),
        )
        queued, added_now = self._store.add(entry, data)
        if not added_now:  # another process queued the very same report meanwhile
            return queued
        log.info("queued report %s for backend %s (%d bytes)", report_id, backend_name, len(data))
        self._observers.notify("queued", entry)
        self._wake_event.set()
        return entry

    # ------------------------------------------------------------ reading state
    def get(self, entry_id: str) -> OutboxEntry:
        """The queued report whose id is ``entry_id`` or starts with it (uniquely)."""
        entry = self._store.read_state(self._store.resolve(entry_id))
        if entry is None:
            raise UnknownEntryError(f"report {entry_id} is no longer in the outbox")
        return entry

    def bundle(self, entry_id: str) -> ReportBundle:
        """The queued report itself (for showing or exporting a dead letter)."""
        return ReportBundle.from_bytes(self._store.read_bundle(self._store.resolve(entry_id)))

    def receipts(self) -> builtins.list[Receipt]:
        """Receipts of delivered reports, newest first (the newest ``MAX_RECEIPTS`` are kept)."""
        return self._store.receipts()

    def receipt(self, report_id: str | uuid.UUID) -> Receipt | None:
        return self._store.receipt(report_id)

    def forget_receipt(self, report_id: str | uuid.UUID) -> bool:
        """Delete the receipt of a delivered report; True when there was one, False when not.

        For reports whose ticket must leave no local trace (a walk-up kiosk's person has
        left). The deletion is atomic and survives a crash. Only a full report id is
        accepted: a prefix could delete the wrong receipt.
        """
        return self._store.forget_receipt(report_id)

    def next_due_at(self) -> float | None:
        """When the earliest waiting entry (not one needing attention) is due, or None when nothing waits."""
        now = self._clock()
        times = [self._delivery.due_at(e, now) for e in self._store.scan() if not e.needs_attention]
        return min(times) if times else None

    # ------------------------------------------------------------ commands
    def retry(self, entry_id: str) -> OutboxEntry:
        """An entry needing attention, paused or waiting becomes pending and due now; the backoff
        and the count towards "needs attention" start over."""
        with self._store.locked(self._store.resolve(entry_id)) as entry:
            now = self._clock()
            updated = replace(
                entry, state=EntryState.PENDING, attempts=0, next_attempt_at=now,
                failure_kind=None, failure_streak=0, failing_since=None,
            )
            self._store.replace_state(updated)
        self._delivery.release_hold(updated.backend)
        self._wake_event.set()
        return updated

    def purge(self, entry_id: str) -> OutboxEntry:
        """Delete a queued report for good (a person's decision; it is logged)."""
        with self._store.locked(self._store.resolve(entry_id)) as entry:
            self._store.remove(entry.id)
        log.warning("purged report %s (%s) from the outbox without delivering it", entry.id, entry.state)
        return entry

    # ------------------------------------------------------------ waking
    def wake(self) -> None:
        """Try everything now (the network came back, the token was fixed): waits and holds end."""
        with self._state_lock:
            self._wake_requested = True
            self._reset_connectors = True  # pick up a new token or configuration
            self._delivery.release_all_holds()
        self._wake_event.set()

    def network_changed(self) -> None:
        """The network changed (an interface came up, a new address or route): pending reports go now.

        Unlike ``wake``, paused reports keep their wait (a new network fixes no token). Connections
        are made afresh: the old ones may lead nowhere now.
        """
        with self._state_lock:
            self._network_changed = True
            self._reset_connectors = True
            self._delivery.release_all_holds()
        self._wake_event.set()

    def begin_pass(self) -> bool:
        """For a sender loop, before each ``flush``: True when ``wake`` asked to try everything.

        Anything that calls for work after this point ends the following ``wait_for_work``.
        """
        with self._state_lock:
            self._wake_event.clear()
            requested, self._wake_requested = self._wake_requested, False
            return requested

    def wait_for_work(self, timeout: float) -> None:
        """Block until ``put``/``wake``/``retry``/``interrupt_wait`` or ``timeout`` seconds.

        While a server on this machine is awaited, its hand-over file is looked at every
        ``HANDOVER_POLL_SECONDS``; when it appears the wait ends as ``wake`` would: the server
        is back, so everything waiting is tried now rather than at the end of its backoff.
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if not self._delivery.watching_handover():
                self._wake_event.wait(max(remaining, 0.0))
                return
            if self._wake_event.wait(max(min(remaining, HANDOVER_POLL_SECONDS), 0.0)):
                return
            if self._delivery.handover_changed():
                log.info("the help desk server on this machine is back; sending what waits")
                self.wake()
                return
            if time.monotonic() >= deadline:
                return

    def interrupt_wait(self) -> None:
        self._wake_event.set()

    def now(self) -> float:
        """The outbox's clock (seconds since the epoch)."""
        return self._clock()

    def backoff_delay(self, attempts: int) -> float:
        """Seconds before try number ``attempts + 1``: 2 s doubling to 15 min, minus up to 25 % jitter."""
        return self._delivery.backoff_delay(attempts)

    # ------------------------------------------------------------ delivering
    def flush(
        self, deadline: float | None = None, *, force: bool = False, only: Collection[str] | None = None
    ) -> FlushResult:
        """One pass: try every entry that is due (all pending and paused ones with ``force``).

        ``deadline`` (a ``time.monotonic()`` value) stops starting new attempts; one
        already under way finishes. ``only`` limits the pass to these report
        ids (``showdesk submit`` sends just its own). Entries needing attention (dead letters
        included) are never tried here.
        After a backend fails, its other entries wait for the next pass instead of each
        failing the same way. After ``network_changed``, the next pass over everything tries
        every pending entry whatever its due time.
        """
        with self._flush_lock:
            pending_now = False
            if only is None:  # a pass over everything takes up a network change; one report's does not
                with self._state_lock:
                    pending_now, self._network_changed = self._network_changed, False
            if self._reset_connectors:
                self._close_connectors()
            return self._delivery.run_pass(deadline, force=force, only=only, pending_now=pending_now)

    def deliver_now(self, entry_id: str, deadline: float | None = None) -> Attempt:
        """Send one report at once, and through transient failures until ``deadline``.

        ``deadline`` is a ``time.monotonic()`` value; without one there is one attempt.
        The report stays queued whatever happens, so any sender delivers it later. Returns
        the last attempt: state "delivered" (with the receipt), "pending" (the reason it
        is not there yet), "paused" or "dead" (the backend's reason).
        """
        report_id = self._store.resolve(entry_id)
        force = True
        while True:
            result = self.flush(force=force, only={report_id})
            force = False
            if result.attempts:
                last = result.attempts[-1]
                wait = (last.next_attempt_at or 0.0) - self._clock()
            elif result.busy:
                last = Attempt(report_id, EntryState.PENDING.value, reason="another sender is delivering it right now")
                wait = BUSY_RECHECK_SECONDS
            else:
                receipt = self.receipt(report_id)
                if receipt is not None:  # another sender delivered it meanwhile
                    return Attempt(report_id, "delivered", receipt=receipt)
                current = self._store.read_state(report_id)
                if current is None:
                    return Attempt(report_id, "gone", reason="it is no longer in the outbox (purged)")
                last = attempt_record(report_id, Outcome.SKIPPED, current)
                wait = self._delivery.due_at(current, self._clock()) - self._clock()
            if last.state != EntryState.PENDING or deadline is None:
                return last
            wait = max(wait, 0.0)
            if time.monotonic() + wait >= deadline:
                return last
            self._sleep(wait)

    def _close_connectors(self) -> None:
        self._reset_connectors = False
        self._delivery.close_connectors()

    def close(self) -> None:
        """Close the connectors' connections."""
        with self._flush_lock:
            self._close_connectors()

    # Defined last: inside the class body the name ``list`` then means the method.
    def list(self, states: Collection[str] | None = None) -> builtins.list[OutboxEntry]:
        """Queued reports, oldest first, all or those in ``states`` ("pending", "paused", "dead").

        ``sending`` marks the ones a sender is delivering right now.
        """
        return self._store.listing(states)
