"""The delivery policy: when a queued report is tried, and what a backend's answer does to it.

Entry states:

* ``pending``: waiting for its next attempt (backoff: 2 s doubling to 15 min, minus up to
  25 % jitter; a server's Retry-After on 429/503/507 wins). A stopped server on this machine
  is an outage like any other (pending, never paused), and its coming back is noticed
  within ``HANDOVER_POLL_SECONDS``: the hand-over file it writes on start is watched.
  So is the network in between answering instead of the backend (a captive portal's sign-in
  page, a proxy's own error, a TLS failure): the entry records which (``OutboxEntry.network``),
  its reason tells the person what to do, it is retried on the backoff and at once when the
  network changes (``agent.outbox.netwatch``), and such tries never count towards "needs
  attention" nor make a dead letter: the backend never saw the report. While a captive portal
  or a proxy answers, the report is not uploaded through it again and again: every
  ``NETWORK_RECHECK_SECONDS`` the connector's cheap probe (``Connector.network_clear``: a GET
  without credentials) asks whether the network still answers in the backend's place, and the
  full send follows only once it no longer does, so a report goes within that time of a sign-in
  that the OS never hears of. A connector that cannot tell (None) keeps the backoff and full
  sends; so does one whose probe said clear while the full send still met the network (a portal
  that lets a GET through), until the network changes;
* ``paused``: the backend refused the token, or the backend is not configured. Retrying
  cannot help until a person fixes that, so the entry waits (kept, not dead) and is tried
  again on ``wake()``/``retry()``, or every 15 minutes in case the fix came from elsewhere;
* ``dead``: the backend refused the report for good, with its reason (a 4xx such as 422 for
  a report over one of its bounds). Kept until a person runs ``retry`` (back to pending) or
  ``purge``; listed as needing attention, with what to do.
* ``attention``: the backend answered with the same error (a 5xx, or another answer that is
  not a refusal for good) on every try for at least ``ATTENTION_AFTER_ATTEMPTS`` tries and
  ``ATTENTION_AFTER_SECONDS`` (a day). Retrying on its own would go on forever and tell no
  one: the report is kept, listed with the reason and what to do, and tried again only when
  a person runs ``retry``. Failures with no answer at all (offline, DNS, timeouts) never
  lead here: a laptop away from the network for a week still delivers when it is back.

The policy reads and writes entries only through the store (``agent.outbox.store``).
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path
from typing import Final

from agent.bundle import BundleError, ReportBundle
from agent.config import ConfigError
from agent.connectors.base import AuthError, Connector, PermanentError, TransientError
from agent.connectors.common import NetworkCondition, NetworkConditionError, TlsError
from agent.credentials import LOCAL_SERVER_NOT_RUNNING, CredentialError, LocalServerDownError, LocalServerNoTokenError
from agent.outbox.entries import Attempt, EntryState, FlushResult, OutboxEntry, Receipt, iso_time
from agent.outbox.observers import Observers
from agent.outbox.store import EntryStore

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS: Final = 2.0
BACKOFF_CAP_SECONDS: Final = 15 * 60.0
BACKOFF_JITTER: Final = 0.25  # each delay is shortened by up to this fraction, at random
PAUSE_SECONDS: Final = 15 * 60.0  # how often a paused entry (token refused) is tried anyway
BUSY_RECHECK_SECONDS: Final = 1.0
# How often a sender that waits for a local server looks for the hand-over file it writes on start.
HANDOVER_POLL_SECONDS: Final = 0.5
LOCAL_SERVER_WAIT_NOTE: Final = "your report is kept and will be sent when it is back"
# A report the backend fails the same way this many times, over at least this long, waits for a person.
ATTENTION_AFTER_ATTEMPTS: Final = 20
ATTENTION_AFTER_SECONDS: Final = 24 * 3600.0
# No wait the outbox sets is longer; a later due time means the wall clock jumped back.
MAX_WAIT_SECONDS: Final = 6 * 3600.0 + BACKOFF_CAP_SECONDS
# How often a report that waits for a captive portal or a proxy is looked at again with its connector's
# cheap probe (no upload): a person who signs in sees the report go within this time.
NETWORK_RECHECK_SECONDS: Final = 20.0
# The networks the probe is for. A TLS failure is not one: the probe would meet it as the full send does.
PROBED_NETWORKS: Final = frozenset(condition.value for condition in NetworkCondition)

ConnectorFactory = Callable[[str], Connector]
# What a hand-over file looked like when a try failed for want of it: (inode, mtime) or None when absent.
FileSignature = tuple[int, int] | None


def file_signature(path: Path) -> FileSignature:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def default_connector_for(backend_name: str) -> Connector:
    """The configured connector for a backend name ("default" is the [backend] table)."""
    from agent.config import load_config
    from agent.connectors import make_connector

    return make_connector(load_config().backend(backend_name))


def waits_for_local_server(entry: OutboxEntry) -> bool:
    """Whether ``entry`` waits only for the help desk server on this machine to start again.

    The apps say so instead of a next-try time: the report goes as soon as the server is back.
    """
    return entry.state is EntryState.PENDING and (entry.last_error or "").startswith(LOCAL_SERVER_NOT_RUNNING)


def failure_kind(error: TransientError) -> str | None:
    """What a failed try counts as towards "needs attention": the backend's answer, or None.

    No answer (offline, timeout) is the network's doing, not the backend's; a 429 is about the
    pace of the sender's token, not this report.
    """
    if error.status is None or error.status == 429 or isinstance(error, NetworkConditionError):
        return None
    return f"HTTP {error.status}"


def network_of(error: TransientError) -> str | None:
    """Which part of the network answered instead of the backend, for ``OutboxEntry.network``; or None."""
    if isinstance(error, NetworkConditionError):
        return error.condition.value
    if isinstance(error, TlsError):
        return "tls"
    return None


class Outcome(enum.Enum):
    """What one try at one entry came to, as the pass over the outbox counts it."""

    DELIVERED = "delivered"
    RETRYING = "retrying"
    PAUSED = "paused"
    DEAD = "dead"
    ATTENTION = "attention"
    BUSY = "busy"
    SKIPPED = "skipped"  # gone, dead or not due by the time the lock was ours
    NETWORK = "network"  # the probe says the network still answers in the backend's place: nothing was sent


def attempt_record(report_id: str, outcome: Outcome, detail: Receipt | OutboxEntry | None) -> Attempt:
    if isinstance(detail, Receipt):
        return Attempt(report_id, "delivered", receipt=detail)
    if isinstance(detail, OutboxEntry):
        return Attempt(
            report_id,
            detail.state.value,
            reason=detail.last_error,
            next_attempt_at=None if detail.needs_attention else detail.next_attempt_at,
        )
    return Attempt(report_id, outcome.value)


class Delivery:
    """Tries due entries through their backend's connector and moves each to its next state.

    Not thread-safe on its own: the ``Outbox`` runs one pass at a time.
    """

    def __init__(
        self,
        store: EntryStore,
        observers: Observers,
        *,
        connector_for: ConnectorFactory,
        clock: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self._store = store
        self._observers = observers
        self._connector_for = connector_for
        self._clock = clock
        self._rng = rng
        self._connectors: dict[str, Connector] = {}
        # Backends that failed recently, in this process: their other entries wait too
        # instead of each timing out against a server that is down.
        self._holds: dict[str, float] = {}
        # Backends on this machine that failed for want of the server's hand-over file: the file
        # to watch and how it looked then. The sender polls them while it waits (another thread
        # than the pass that records them, hence the lock).
        self._handover_watch: dict[str, tuple[Path, FileSignature]] = {}
        self._watch_lock = threading.Lock()
        # The network probe, per backend, in this process: when it is due next; backends whose
        # connector answered it, and those whose connector cannot tell cheaply; backends whose probe
        # said clear while the full send still met the network (its "clear" is no use on this
        # network); this pass's answers (one probe per backend and pass, however many reports wait).
        self._probe_at: dict[str, float] = {}
        self._can_probe: set[str] = set()
        self._cannot_probe: set[str] = set()
        self._probe_misled: set[str] = set()
        self._probed: dict[str, bool | None] = {}

    # ------------------------------------------------------------ when
    def backoff_delay(self, attempts: int) -> float:
        """Seconds before try number ``attempts + 1``: 2 s doubling to 15 min, minus up to 25 % jitter."""
        exponent = min(max(attempts, 1) - 1, 30)
        nominal = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0**exponent)
        return nominal * (1.0 - BACKOFF_JITTER * self._rng.random())

    def due_at(self, entry: OutboxEntry, now: float) -> float:
        due = max(entry.next_attempt_at, self._holds.get(entry.backend, 0.0))
        if self.probes_first(entry):
            # No try in this process yet (just started, another process's try): now, it is cheap.
            probe_at = self._probe_at.get(entry.backend, now)
            if entry.backend in self._probe_misled:
                due = max(due, probe_at)  # it only keeps uploads home while it sees the network in the way
            elif entry.backend in self._can_probe:
                due = probe_at  # the probe's cadence replaces the backoff
            else:
                due = min(due, probe_at)  # not asked yet: whichever comes first, then its answer decides
        return now if due - now > MAX_WAIT_SECONDS else due

    def probes_first(self, entry: OutboxEntry) -> bool:
        """Whether ``entry``'s next try starts with its connector's network probe (a captive portal, a proxy)."""
        return (
            entry.waits_for_network
            and entry.network in PROBED_NETWORKS
            and entry.backend not in self._cannot_probe
        )

    def is_due(self, entry: OutboxEntry, now: float) -> bool:
        return now >= self.due_at(entry, now)

    def release_hold(self, backend_name: str) -> None:
        """The backend's other entries need not wait for its last failure any longer."""
        self._holds.pop(backend_name, None)

    def release_all_holds(self) -> None:
        self._holds.clear()

    # ------------------------------------------------------------ a local server coming back
    def watching_handover(self) -> bool:
        """Whether some backend waits for a server on this machine to (re)write its hand-over file."""
        with self._watch_lock:
            return bool(self._handover_watch)

    def handover_changed(self) -> bool:
        """True (once) when a watched hand-over file appeared or was rewritten: that server is back.

        The backends concerned are no longer watched; a try that fails again watches anew.
        """
        with self._watch_lock:
            changed = [
                backend
                for backend, (path, before) in self._handover_watch.items()
                if (now := file_signature(path)) is not None and now != before
            ]
            for backend in changed:
                del self._handover_watch[backend]
        return bool(changed)

    def _watch_handover(self, backend_name: str, path: Path) -> None:
        with self._watch_lock:
            self._handover_watch[backend_name] = (path, file_signature(path))

    # ------------------------------------------------------------ a pass
    def run_pass(
        self, deadline: float | None, *, force: bool, only: Collection[str] | None, pending_now: bool = False
    ) -> FlushResult:
        """One pass over the outbox; ``Outbox.flush`` says what the arguments mean.

        ``pending_now``: every pending entry is due (the network changed), paused ones keep their wait.
        """
        self._store.collect_garbage()
        self._probed.clear()
        result = FlushResult()
        failed_backends: set[str] = set()
        for entry in self._store.scan():
            if deadline is not None and time.monotonic() >= deadline:
                break
            if entry.needs_attention or entry.backend in failed_backends:
                continue
            if only is not None and entry.id not in only:
                continue
            if (
                not force
                and not (pending_now and entry.state is EntryState.PENDING)
                and not self.is_due(entry, self._clock())
            ):
                continue
            outcome, detail = self._attempt(entry.id, force=force, pending_now=pending_now)
            if outcome not in (Outcome.BUSY, Outcome.SKIPPED, Outcome.NETWORK):
                result.attempts.append(attempt_record(entry.id, outcome, detail))
            if outcome is Outcome.DELIVERED and isinstance(detail, Receipt):
                result.delivered.append(detail)
            elif outcome is Outcome.BUSY:
                result.busy += 1
            elif isinstance(detail, OutboxEntry):
                if outcome is Outcome.RETRYING:
                    result.retrying.append(detail)
                    failed_backends.add(entry.backend)
                elif outcome is Outcome.PAUSED:
                    result.paused.append(detail)
                    failed_backends.add(entry.backend)
                elif outcome is Outcome.DEAD:
                    result.dead.append(detail)
                elif outcome is Outcome.ATTENTION:
                    result.attention.append(detail)
        if result.delivered:
            self._store.collect_garbage()  # what a killed sender left of the reports just delivered
        result.remaining = sum(1 for e in self._store.scan() if not e.needs_attention)
        return result

    def _attempt(
        self, entry_id: str, *, force: bool, pending_now: bool = False
    ) -> tuple[Outcome, Receipt | OutboxEntry | None]:
        lock = self._store.lock(entry_id)
        if not lock.acquire():
            return (Outcome.BUSY if self._store.exists(entry_id) else Outcome.SKIPPED), None
        try:
            # Re-read under the lock: another sender may have delivered or rescheduled it.
            entry = self._store.read_state(entry_id)
            if entry is None or entry.needs_attention:
                return Outcome.SKIPPED, None
            due_anyway = force or (pending_now and entry.state is EntryState.PENDING)
            if not due_anyway and not self.is_due(entry, self._clock()):
                return Outcome.SKIPPED, None
            # A person's "send now" (force) is a full send; any other try at a report that waits for
            # a portal or a proxy asks the probe first.
            cleared = False
            if not force and self.probes_first(entry):
                clear = self._probe(entry.backend)
                if clear is False:
                    return Outcome.NETWORK, entry
                if not due_anyway and not self.is_due(entry, self._clock()):
                    # It cannot tell (the backoff says when), or it said clear to a report of this
                    # backend that then met the network in this very pass.
                    return Outcome.SKIPPED, None
                cleared = clear is True
            outcome, detail = self._send(entry)
            if cleared and isinstance(detail, OutboxEntry) and detail.network in PROBED_NETWORKS:
                self._probe_misled.add(entry.backend)
                log.info("the network probe for backend %s said clear, yet the report met the network; its "
                         "reports go on their backoff until the probe sees the network in the way again or the "
                         "network changes", entry.backend)
            return outcome, detail
        finally:
            lock.release()
            self._store.tidy(entry_id)

    def _probe(self, backend_name: str) -> bool | None:
        """The backend connector's answer to ``network_clear``, once per pass; what it means for the schedule."""
        if backend_name in self._probed:
            return self._probed[backend_name]
        clear: bool | None
        # The cadence counts from when the probe asked, not from when its answer came: a slow
        # answer (a portal on a loaded network) must not push every later look further out.
        asked_at = self._clock()
        try:
            clear = self._connector(backend_name).network_clear()
        except Exception:
            # No connector (the full send says why), or a probe that broke its promise not to raise.
            log.debug("no network probe for backend %s", backend_name, exc_info=True)
            clear = None
        self._probed[backend_name] = clear
        if clear is None:
            self._cannot_probe.add(backend_name)
            return None
        self._can_probe.add(backend_name)
        if clear:
            log.info("the network lets ShowDesk through to backend %s again; sending what waited for it", backend_name)
            self._holds.pop(backend_name, None)
        else:
            self._probe_at[backend_name] = asked_at + NETWORK_RECHECK_SECONDS
            self._probe_misled.discard(backend_name)  # it sees the network in the way again: it can tell
            log.debug("the network still answers in place of backend %s; next look in %.0f s",
                      backend_name, NETWORK_RECHECK_SECONDS)
        return clear

    # ------------------------------------------------------------ one try, and what the answer means
    def _send(self, entry: OutboxEntry) -> tuple[Outcome, Receipt | OutboxEntry | None]:
        try:
            bundle = ReportBundle.from_bytes(self._store.read_bundle(entry.id))
        except BundleError as exc:
            return self._mark_dead(entry, f"the queued report is damaged and cannot be sent: {exc}")
        except OSError as exc:
            return self._reschedule(entry, f"cannot read the queued report: {exc}", None)
        try:
            connector = self._connector(entry.backend)
        except (ConfigError, CredentialError) as exc:
            return self._mark_paused(entry, str(exc))
        except Exception as exc:
            log.exception("cannot make a connector for backend %s", entry.backend)
            return self._reschedule(entry, f"cannot reach backend {entry.backend!r}: {exc}", None)
        notify = self._observers.notify
        notify("sending", entry, 0, 0)
        try:
            ticket = connector.submit(bundle, progress=lambda sent, total: notify("sending", entry, sent, total))
        except LocalServerDownError as exc:
            # An outage, not a sign-in problem: the normal backoff, and the watch notices the return.
            self._watch_handover(entry.backend, exc.handover)
            return self._reschedule(entry, f"{exc.reason}; {LOCAL_SERVER_WAIT_NOTE}", None)
        except AuthError as exc:
            if isinstance(exc, LocalServerNoTokenError):
                # Listening without a hand-over file may be a server still starting: its file ends the pause.
                self._watch_handover(entry.backend, exc.handover)
            return self._mark_paused(entry, exc.reason)
        except PermanentError as exc:
            return self._mark_dead(entry, exc.reason)
        except TransientError as exc:
            network = network_of(exc)
            if network is not None:
                # For the kiosk's administrator and support: the facts the person's sentence leaves out.
                detail = exc.detail if isinstance(exc, NetworkConditionError) else exc.reason
                log.warning("report %s waits for the network (%s): %s", entry.id, network, detail)
            return self._reschedule(entry, exc.reason, exc.retry_after, failure_kind(exc), network=network)
        except Exception as exc:
            # A connector bug must not lose the report: keep it and back off.
            log.exception("connector for backend %s failed unexpectedly on report %s", entry.backend, entry.id)
            return self._reschedule(
                entry, f"unexpected error: {type(exc).__name__}: {exc}", None, f"unexpected {type(exc).__name__}"
            )
        receipt = Receipt(
            report_id=entry.id,
            backend=entry.backend,
            ticket_id=ticket.id,
            number=ticket.number,
            url=ticket.url,
            status=ticket.status,
            delivered_at=self._clock(),
            attempts=entry.attempts + 1,
        )
        try:
            self._store.save_receipt(receipt)
        except OSError as exc:
            # The backend has the report: delivery stands even if the receipt cannot be kept.
            log.warning("report %s became ticket %s but its receipt could not be saved: %s", entry.id,
                        ticket.number, exc)
        self._store.remove(entry.id)
        self._holds.pop(entry.backend, None)
        self._probe_misled.discard(entry.backend)
        with self._watch_lock:
            self._handover_watch.pop(entry.backend, None)
        log.info("delivered report %s as ticket %s (%s)", entry.id, ticket.number, entry.backend)
        notify("delivered", entry, receipt)
        return Outcome.DELIVERED, receipt

    def _reschedule(
        self,
        entry: OutboxEntry,
        reason: str,
        retry_after: float | None,
        kind: str | None = None,
        *,
        network: str | None = None,
    ) -> tuple[Outcome, OutboxEntry]:
        now = self._clock()
        attempts = entry.attempts + 1
        delay = retry_after if retry_after is not None else self.backoff_delay(attempts)
        updated = replace(
            entry,
            state=EntryState.PENDING,
            attempts=attempts,
            next_attempt_at=now + delay,
            last_error=reason,
            network=network,
        )
        if kind is not None:
            if kind == entry.failure_kind and entry.failing_since is not None:
                updated = replace(updated, failure_streak=entry.failure_streak + 1)
            else:
                updated = replace(updated, failure_kind=kind, failure_streak=1, failing_since=now)
            since = updated.failing_since if updated.failing_since is not None else now
            if updated.failure_streak >= ATTENTION_AFTER_ATTEMPTS and now - since >= ATTENTION_AFTER_SECONDS:
                return self._mark_attention(updated, reason)
        self._store.save_state(updated)
        self._holds[entry.backend] = updated.next_attempt_at
        if network in PROBED_NETWORKS:
            # The probe's first look: after the recheck time, or the answer's Retry-After if later.
            self._probe_at[entry.backend] = now + max(NETWORK_RECHECK_SECONDS, retry_after or 0.0)
        log.info("report %s not delivered (%s); next try in %.0f s", entry.id, reason, delay)
        self._observers.notify("failed", updated, reason, updated.next_attempt_at)
        return Outcome.RETRYING, updated

    def _mark_paused(self, entry: OutboxEntry, reason: str) -> tuple[Outcome, OutboxEntry]:
        now = self._clock()
        updated = replace(
            entry,
            state=EntryState.PAUSED,
            attempts=entry.attempts + 1,
            next_attempt_at=now + PAUSE_SECONDS,
            last_error=reason,
            network=None,
        )
        self._store.save_state(updated)
        self._holds[entry.backend] = updated.next_attempt_at
        log.warning("report %s waits: %s", entry.id, reason)
        self._observers.notify("paused", updated, reason)
        return Outcome.PAUSED, updated

    def _mark_attention(self, entry: OutboxEntry, reason: str) -> tuple[Outcome, OutboxEntry]:
        updated = replace(entry, state=EntryState.ATTENTION)
        self._store.save_state(updated)
        log.error(
            "report %s needs attention: %s on %d tries since %s; kept, and retried only by `showdesk outbox retry`",
            entry.id, entry.failure_kind, entry.failure_streak, iso_time(entry.failing_since or entry.created_at),
        )
        self._observers.notify("needs_attention", updated, reason)
        return Outcome.ATTENTION, updated

    def _mark_dead(self, entry: OutboxEntry, reason: str) -> tuple[Outcome, OutboxEntry]:
        updated = replace(entry, state=EntryState.DEAD, attempts=entry.attempts + 1, last_error=reason, network=None)
        self._store.save_state(updated)
        log.error("report %s refused for good: %s", entry.id, reason)
        self._observers.notify("dead", updated, reason)
        return Outcome.DEAD, updated

    # ------------------------------------------------------------ connectors
    def _connector(self, backend_name: str) -> Connector:
        connector = self._connectors.get(backend_name)
        if connector is None:
            connector = self._connector_for(backend_name)
            self._connectors[backend_name] = connector
        return connector

    def close_connectors(self) -> None:
        """Close every connector made so far; the next try makes a fresh one (a new token, a new configuration)."""
        connectors, self._connectors = self._connectors, {}
        # New connectors (a new configuration, a new network): what the old probes taught is void.
        self._can_probe.clear()
        self._cannot_probe.clear()
        self._probe_misled.clear()
        self._probe_at.clear()
        for connector in connectors.values():
            try:
                connector.close()
            except Exception:
                log.exception("closing a connector failed")
