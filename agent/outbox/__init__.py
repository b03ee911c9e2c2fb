"""The durable outbox: the only path from a report to a backend.

A report is written to disk before a single byte goes to a backend, and deleted only
after the backend confirms it with a ticket. In between, senders (the agent's ``Sender``
thread, ``showdesk outbox flush``, possibly both at once) deliver it with exponential
backoff, the report id as idempotency key on every try, and a per-entry file lock so
one entry is sent by one sender at a time.

On disk (``directory``)::

    entries/<report id>/report.showdesk   the bundle, byte for byte what is sent
    entries/<report id>/state.json        attempts, next attempt, last error (rewritten atomically)
    entries/<report id>/lock              flock'ed by the sender working on the entry
    entries/.incoming-<id>-*/             a put in progress; renamed into place when complete
    receipts/<report id>.json             ticket id, number, URL, time, backend of a delivered report

An entry exists exactly when its ``state.json`` exists: ``put`` renames a complete
directory into place, delivery and purge remove ``state.json`` first. A crash at any
point therefore leaves a report either queued or delivered (with a receipt), never lost.

Entry states:

* ``pending``: waiting for its next attempt (backoff: 2 s doubling to 15 min, minus up to
  25 % jitter; a server's Retry-After on 429/503 wins);
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

Observers are plain callbacks called on the sending thread; a GUI marshals them to its
own thread.
"""

from __future__ import annotations

import builtins
import contextlib
import enum
import errno
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from agent.bundle import BundleError, ReportBundle
from agent.config import ConfigError
from agent.connectors.base import AuthError, Connector, PermanentError, TransientError
from agent.credentials import CredentialError
from agent.fsutil import atomic_write_bytes, fsync_dir
from agent.schema import Ticket

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS: Final = 2.0
BACKOFF_CAP_SECONDS: Final = 15 * 60.0
BACKOFF_JITTER: Final = 0.25  # each delay is shortened by up to this fraction, at random
PAUSE_SECONDS: Final = 15 * 60.0  # how often a paused entry (token refused) is tried anyway
MAX_RECEIPTS: Final = 500
BUSY_RECHECK_SECONDS: Final = 1.0
STALE_SECONDS: Final = 3600.0  # an unfinished put or temp file this old is a crash's leftover
# A report the backend fails the same way this many times, over at least this long, waits for a person.
ATTENTION_AFTER_ATTEMPTS: Final = 20
ATTENTION_AFTER_SECONDS: Final = 24 * 3600.0
# No wait the outbox sets is longer; a later due time means the wall clock jumped back.
MAX_WAIT_SECONDS: Final = 6 * 3600.0 + BACKOFF_CAP_SECONDS

ENTRIES_DIR: Final = "entries"
RECEIPTS_DIR: Final = "receipts"
BUNDLE_FILE: Final = "report.showdesk"
STATE_FILE: Final = "state.json"
LOCK_FILE: Final = "lock"
_INCOMING_PREFIX: Final = ".incoming-"
_STATE_VERSION: Final = 1
_DISK_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


# ---------------------------------------------------------------- errors
class OutboxError(Exception):
    """An outbox operation could not be done; the message says why and what is kept."""


class OutboxStorageError(OutboxError):
    """The outbox's disk cannot keep a new report (full, read-only, not permitted): it was not queued."""


class OutboxFullError(OutboxStorageError, OSError):
    """No space left for a report: it was not queued, nothing partial is left, earlier reports stay."""

    def __init__(self, message: str, directory: Path) -> None:
        OSError.__init__(self, errno.ENOSPC, message, str(directory))
        self.message = message

    def __str__(self) -> str:
        return self.message


class OutboxBusyError(OutboxError):
    """A sender is delivering this entry right now."""


class UnknownEntryError(OutboxError, KeyError):
    """No queued report matches the id given."""

    def __str__(self) -> str:
        return str(self.args[0])


# ---------------------------------------------------------------- records
class EntryState(enum.StrEnum):
    PENDING = "pending"
    PAUSED = "paused"
    DEAD = "dead"
    ATTENTION = "attention"


# States the outbox never leaves on its own: only ``retry`` (or ``purge``) by a person.
HELD_STATES: Final = frozenset({EntryState.DEAD, EntryState.ATTENTION})


@dataclass(frozen=True)
class OutboxEntry:
    """A queued report's state. Times are seconds since the epoch (the outbox's clock)."""

    id: str
    backend: str
    state: EntryState
    created_at: float
    attempts: int
    next_attempt_at: float
    last_error: str | None
    size: int
    subject: str
    # The run of tries the backend answered with the same error: its kind ("HTTP 500"), length
    # and when it began. A try with no answer at all neither extends nor breaks it.
    failure_kind: str | None = None
    failure_streak: int = 0
    failing_since: float | None = None
    sending: bool = False  # another sender holds its lock right now (filled in by ``list``)

    @property
    def needs_attention(self) -> bool:
        """Kept, but sent again only when a person says so (``showdesk outbox retry``)."""
        return self.state in HELD_STATES

    def what_to_do(self) -> str | None:
        """For a report that needs attention, what a person can do about it."""
        if self.state is EntryState.ATTENTION:
            return (
                f"the backend failed this report the same way ({self.failure_kind}) on {self.failure_streak} tries "
                f"since {_iso(self.failing_since or self.created_at)}; it is kept but no longer retried on its own. "
                "Ask the help desk's administrator to look at the server (its log names the error), then "
                f"run `showdesk outbox retry {self.id}`"
            )
        if self.state is EntryState.DEAD:
            return (
                "the backend refused this report; it is kept. Fix what the reason says if you can, then run "
                f"`showdesk outbox retry {self.id}`, or give it up with `showdesk outbox purge {self.id}`"
            )
        return None

    def to_json(self) -> bytes:
        data = asdict(self)
        data.pop("sending")
        data["state"] = self.state.value
        data["version"] = _STATE_VERSION
        return json.dumps(data, sort_keys=True, indent=1).encode("utf-8")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for ``showdesk outbox list --json`` and UIs."""
        data = asdict(self)
        data["state"] = self.state.value
        data["created"] = _iso(self.created_at)
        data["next_attempt"] = None if self.needs_attention else _iso(self.next_attempt_at)
        data["needs_attention"] = self.needs_attention
        data["what_to_do"] = self.what_to_do()
        return data

    def describe(self, now: float | None = None) -> str:
        """One line for a person: id, state, when it is tried next, why it waits."""
        now = time.time() if now is None else now
        if self.sending:
            when = "sending now"
        elif self.needs_attention:
            when = "NEEDS ATTENTION: not retried unless you run `showdesk outbox retry`"
        elif self.next_attempt_at <= now:
            when = "due now"
        else:
            when = f"next try in {_duration(self.next_attempt_at - now)}"
        line = f"{self.id}  {self.state.value:<9}  {self.backend}  {self.subject!r}  {_size(self.size)}  "
        line += f"{self.attempts} tries, {when}"
        line += f"  ({self.last_error})" if self.last_error else ""
        advice = self.what_to_do()
        return line + (f"\n    what to do: {advice}" if advice else "")

    @classmethod
    def from_json(cls, raw: bytes) -> OutboxEntry:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("state is not a JSON object")
        return cls(
            id=str(data["id"]),
            backend=str(data["backend"]),
            state=EntryState(data["state"]),
            created_at=float(data["created_at"]),
            attempts=int(data["attempts"]),
            next_attempt_at=float(data["next_attempt_at"]),
            last_error=None if data.get("last_error") is None else str(data["last_error"]),
            size=int(data["size"]),
            subject=str(data.get("subject", "")),
            # Absent from state files written before the run of failures was kept.
            failure_kind=None if data.get("failure_kind") is None else str(data["failure_kind"]),
            failure_streak=int(data.get("failure_streak", 0)),
            failing_since=None if data.get("failing_since") is None else float(data["failing_since"]),
        )


@dataclass(frozen=True)
class Receipt:
    """What is kept of a delivered report."""

    report_id: str
    backend: str
    ticket_id: str
    number: str
    url: str
    status: str
    delivered_at: float
    attempts: int

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, indent=1).encode("utf-8")

    @property
    def ticket(self) -> Ticket:
        return Ticket(
            id=self.ticket_id, number=self.number, status=self.status, url=self.url, report_id=uuid.UUID(self.report_id)
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "delivered": _iso(self.delivered_at)}

    def describe(self) -> str:
        return (
            f"{self.report_id}  delivered  {self.backend}  ticket {self.number}  {self.url}  "
            f"at {_iso(self.delivered_at)}"
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Receipt:
        data = json.loads(raw)
        return cls(
            report_id=str(data["report_id"]),
            backend=str(data["backend"]),
            ticket_id=str(data["ticket_id"]),
            number=str(data["number"]),
            url=str(data["url"]),
            status=str(data["status"]),
            delivered_at=float(data["delivered_at"]),
            attempts=int(data["attempts"]),
        )


@dataclass(frozen=True)
class Attempt:
    """What one try at one report came to."""

    report_id: str
    state: str  # "delivered", or the entry's state afterwards: "pending", "paused", "dead"
    reason: str | None = None  # why it was not delivered
    receipt: Receipt | None = None
    next_attempt_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "state": self.state,
            "reason": self.reason,
            "receipt": None if self.receipt is None else self.receipt.as_dict(),
            "next_attempt": None if self.next_attempt_at is None else _iso(self.next_attempt_at),
        }

    def describe(self) -> str:
        if self.receipt is not None:
            return self.receipt.describe()
        if self.state == EntryState.DEAD:
            return f"{self.report_id}  refused for good: {self.reason}"
        if self.state == EntryState.ATTENTION:
            return f"{self.report_id}  needs attention (no longer retried on its own): {self.reason}"
        if self.state == EntryState.PAUSED:
            return f"{self.report_id}  waits until this is fixed: {self.reason}"
        when = "" if self.next_attempt_at is None else f"; next try at {_iso(self.next_attempt_at)}"
        return f"{self.report_id}  not delivered yet: {self.reason}{when}"


@dataclass
class FlushResult:
    """What one pass over the outbox did; iterating gives each ``Attempt`` in order."""

    attempts: list[Attempt] = field(default_factory=list)
    delivered: list[Receipt] = field(default_factory=list)
    retrying: list[OutboxEntry] = field(default_factory=list)  # failed for now; next attempt scheduled
    paused: list[OutboxEntry] = field(default_factory=list)
    dead: list[OutboxEntry] = field(default_factory=list)
    attention: list[OutboxEntry] = field(default_factory=list)  # moved to "needs attention" by this pass
    busy: int = 0  # entries another sender was working on
    remaining: int = 0  # entries still queued (neither dead nor needing attention) after the pass

    def __iter__(self) -> Iterator[Attempt]:
        return iter(self.attempts)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _size(size: int) -> str:
    return f"{size / 1024:.0f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MiB"


class OutboxObserver:
    """Hooks a UI overrides; every method is optional. Called on the thread that sends."""

    def queued(self, entry: OutboxEntry) -> None:
        """A report was put in the outbox."""

    def sending(self, entry: OutboxEntry, sent: int, total: int) -> None:
        """Upload progress of an attempt (bytes); (0, 0) before a connector reports sizes."""

    def delivered(self, entry: OutboxEntry, receipt: Receipt) -> None:
        """The backend confirmed the report; it is gone from the outbox."""

    def failed(self, entry: OutboxEntry, reason: str, next_attempt_at: float) -> None:
        """This attempt failed; the report is kept and tried again at ``next_attempt_at``."""

    def paused(self, entry: OutboxEntry, reason: str) -> None:
        """The token was refused (or the backend is not configured); kept until that is fixed."""

    def dead(self, entry: OutboxEntry, reason: str) -> None:
        """The backend refused the report for good; kept as a dead letter."""

    def needs_attention(self, entry: OutboxEntry, reason: str) -> None:
        """The backend failed the report the same way for a day of tries; kept, retried only by hand."""


ConnectorFactory = Callable[[str], Connector]


def default_connector_for(backend_name: str) -> Connector:
    """The configured connector for a backend name ("default" is the [backend] table)."""
    from agent.config import load_config
    from agent.connectors import make_connector

    return make_connector(load_config().backend(backend_name))


# ---------------------------------------------------------------- the portable lock shim
class _EntryLock:
    """An exclusive, non-blocking lock on one file: flock on POSIX, msvcrt on Windows.

    Each acquire opens its own file description, so two ``Outbox`` objects in one process
    exclude each other as two processes do.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:
            return False  # the entry directory is gone: delivered or purged meanwhile
        try:
            if sys.platform == "win32":
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if sys.platform == "win32":
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _failure_kind(error: TransientError) -> str | None:
    """What a failed try counts as towards "needs attention": the backend's answer, or None.

    No answer (offline, timeout) is the network's doing, not the backend's; a 429 is about the
    pace of the sender's token, not this report.
    """
    if error.status is None or error.status == 429:
        return None
    return f"HTTP {error.status}"


def _attempt_record(report_id: str, outcome: _Outcome, detail: Receipt | OutboxEntry | None) -> Attempt:
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


class _Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRYING = "retrying"
    PAUSED = "paused"
    DEAD = "dead"
    ATTENTION = "attention"
    BUSY = "busy"
    SKIPPED = "skipped"  # gone, dead or not due by the time the lock was ours


# ---------------------------------------------------------------- the outbox
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
        self._entries_dir = self.directory / ENTRIES_DIR
        self._receipts_dir = self.directory / RECEIPTS_DIR
        self._connector_for = connector_for or default_connector_for
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._connectors: dict[str, Connector] = {}
        self._observers: list[OutboxObserver] = []
        # Backends that failed recently, in this process: their other entries wait too
        # instead of each timing out against a server that is down.
        self._holds: dict[str, float] = {}
        self._flush_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._wake_event = threading.Event()
        self._wake_requested = False
        self._reset_connectors = False

    # ------------------------------------------------------------ observers
    def add_observer(self, observer: OutboxObserver) -> None:
        self._observers.append(observer)

    def remove_observer(self, observer: OutboxObserver) -> None:
        with contextlib.suppress(ValueError):
            self._observers.remove(observer)

    def _notify(self, method: str, *args: Any) -> None:
        for observer in builtins.list(self._observers):
            try:
                getattr(observer, method)(*args)
            except Exception:
                # A broken UI callback must not stop delivery.
                log.exception("outbox observer %r failed in %s", observer, method)

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
        final = self._entries_dir / report_id
        if (final / STATE_FILE).exists():
            return self._existing_entry(final, data)
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
        incoming: Path | None = None
        try:
            # Reports hold screenshots: only this user may read the outbox.
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._entries_dir.mkdir(mode=0o700, exist_ok=True)
            incoming = Path(tempfile.mkdtemp(prefix=f"{_INCOMING_PREFIX}{report_id}-", dir=self._entries_dir))
            atomic_write_bytes(incoming / BUNDLE_FILE, data)
            atomic_write_bytes(incoming / STATE_FILE, entry.to_json())
            (incoming / LOCK_FILE).touch(mode=0o600)
            fsync_dir(incoming)
            # The entry appears complete or not at all: a directory rename is atomic.
            incoming.rename(final)
            incoming = None
            fsync_dir(self._entries_dir)
        except OSError as exc:
            if incoming is not None:
                shutil.rmtree(incoming, ignore_errors=True)
            if exc.errno in _DISK_FULL_ERRNOS:
                raise OutboxFullError(
                    f"the outbox at {self.directory} is full: no space for this report ({len(data)} bytes). "
                    "It was not queued; reports queued earlier are kept and will still be delivered. "
                    "Free some disk space and submit again.",
                    self.directory,
                ) from exc
            if (final / STATE_FILE).exists():  # another process queued the same report meanwhile
                return self._existing_entry(final, data)
            raise OutboxStorageError(
                f"cannot queue the report in {self.directory}: {exc.strerror or exc}. It was not queued; "
                "reports queued earlier are kept."
            ) from exc
        log.info("queued report %s for backend %s (%d bytes)", report_id, backend_name, len(data))
        self._notify("queued", entry)
        self._wake_event.set()
        return entry

    def _existing_entry(self, entry_dir: Path, data: bytes) -> OutboxEntry:
        try:
            same = (entry_dir / BUNDLE_FILE).read_bytes() == data
        except OSError:
            same = False
        if not same:
            raise OutboxError(
                f"a different report with id {entry_dir.name} is already queued; "
                "a report id is its idempotency key and must not be reused"
            )
        existing = self._read_state(entry_dir)
        if existing is None:
            raise UnknownEntryError(f"report {entry_dir.name} left the outbox while being queued again")
        return existing

    # ------------------------------------------------------------ reading state
    def _entry_dirs(self) -> Iterator[Path]:
        try:
            children = builtins.list(os.scandir(self._entries_dir))
        except FileNotFoundError:
            return
        for child in children:
            if not child.name.startswith(".") and child.is_dir(follow_symlinks=False):
                yield Path(child.path)

    def _read_state(self, entry_dir: Path) -> OutboxEntry | None:
        try:
            raw = (entry_dir / STATE_FILE).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read %s: %s", entry_dir / STATE_FILE, exc)
            return None
        try:
            # The directory name is the report id every path is built from.
            return replace(OutboxEntry.from_json(raw), id=entry_dir.name)
        except (ValueError, KeyError, TypeError) as exc:
            # Never drop a report over damaged bookkeeping: show it as a dead letter a
            # person can retry (to the default backend) or purge.
            try:
                size = (entry_dir / BUNDLE_FILE).stat().st_size
                created = entry_dir.stat().st_mtime
            except OSError:
                return None  # removed while we looked
            return OutboxEntry(
                id=entry_dir.name,
                backend="default",
                state=EntryState.DEAD,
                created_at=created,
                attempts=0,
                next_attempt_at=0.0,
                last_error=f"the outbox's state file for this report is damaged ({exc}); retry sends it "
                "to the default backend",
                size=size,
                subject="",
            )

    def _scan(self) -> builtins.list[OutboxEntry]:
        entries = [e for e in (self._read_state(d) for d in self._entry_dirs()) if e is not None]
        entries.sort(key=lambda e: (e.created_at, e.id))
        return entries

    def _write_state(self, entry: OutboxEntry) -> None:
        """Persist an entry's state; while sending, a failure (full disk) is logged, not raised.

        The old state stays valid then: at worst an attempt is not counted.
        """
        try:
            atomic_write_bytes(self._entries_dir / entry.id / STATE_FILE, entry.to_json())
        except OSError as exc:
            log.warning("cannot save the outbox state of report %s: %s", entry.id, exc)

    def _resolve(self, entry_id: str) -> Path:
        """The entry directory for a full report id or a unique prefix of one."""
        wanted = entry_id.strip().lower()
        if not wanted:
            raise UnknownEntryError("no report id given")
        exact = self._entries_dir / wanted
        if (exact / STATE_FILE).exists():
            return exact
        matches = [d for d in self._entry_dirs() if d.name.startswith(wanted) and (d / STATE_FILE).exists()]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UnknownEntryError(f"no queued report has an id starting with {entry_id!r}")
        raise UnknownEntryError(
            f"{entry_id!r} matches {len(matches)} queued reports; give more of the id"
        )

    def get(self, entry_id: str) -> OutboxEntry:
        entry_dir = self._resolve(entry_id)
        entry = self._read_state(entry_dir)
        if entry is None:
            raise UnknownEntryError(f"report {entry_id} is no longer in the outbox")
        return entry

    def bundle(self, entry_id: str) -> ReportBundle:
        """The queued report itself (for showing or exporting a dead letter)."""
        entry_dir = self._resolve(entry_id)
        return ReportBundle.from_bytes((entry_dir / BUNDLE_FILE).read_bytes())

    def receipts(self) -> builtins.list[Receipt]:
        """Receipts of delivered reports, newest first (the newest ``MAX_RECEIPTS`` are kept)."""
        found: builtins.list[Receipt] = []
        try:
            paths = builtins.list(self._receipts_dir.glob("*.json"))
        except OSError:
            return found
        for path in paths:
            try:
                found.append(Receipt.from_json(path.read_bytes()))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        found.sort(key=lambda r: (r.delivered_at, r.report_id), reverse=True)
        return found

    def receipt(self, report_id: str | uuid.UUID) -> Receipt | None:
        try:
            return Receipt.from_json((self._receipts_dir / f"{report_id}.json").read_bytes())
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def forget_receipt(self, report_id: str | uuid.UUID) -> bool:
        """Delete the receipt of a delivered report; True when there was one, False when not.

        For reports whose ticket must leave no local trace (a walk-up kiosk's person has
        left). The unlink is atomic, so a reader sees the whole receipt or none, and the
        directory is synced so the deletion survives a crash. Only a full report id is
        accepted: a prefix could delete the wrong receipt.
        """
        try:
            canonical = str(uuid.UUID(str(report_id)))
        except ValueError:
            raise ValueError(f"not a report id (a full UUID is needed): {report_id!r}") from None
        try:
            (self._receipts_dir / f"{canonical}.json").unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise OutboxError(f"cannot delete the receipt of report {canonical} in {self.directory}: {exc}") from exc
        fsync_dir(self._receipts_dir)
        return True

    def _due_at(self, entry: OutboxEntry, now: float) -> float:
        due = max(entry.next_attempt_at, self._holds.get(entry.backend, 0.0))
        return now if due - now > MAX_WAIT_SECONDS else due

    def _is_due(self, entry: OutboxEntry, now: float) -> bool:
        return now >= self._due_at(entry, now)

    def next_due_at(self) -> float | None:
        """When the earliest waiting entry (not one needing attention) is due, or None when nothing waits."""
        now = self._clock()
        times = [self._due_at(e, now) for e in self._scan() if not e.needs_attention]
        return min(times) if times else None

    # ------------------------------------------------------------ commands
    def retry(self, entry_id: str) -> OutboxEntry:
        """An entry needing attention, paused or waiting becomes pending and due now; the backoff
        and the count towards "needs attention" start over."""
        entry_dir = self._resolve(entry_id)
        with self._locked(entry_dir) as entry:
            now = self._clock()
            updated = replace(
                entry, state=EntryState.PENDING, attempts=0, next_attempt_at=now,
                failure_kind=None, failure_streak=0, failing_since=None,
            )
            try:
                atomic_write_bytes(entry_dir / STATE_FILE, updated.to_json())
            except OSError as exc:
                raise OutboxStorageError(f"cannot update the outbox at {self.directory}: {exc}") from exc
        self._holds.pop(updated.backend, None)
        self._wake_event.set()
        return updated

    def purge(self, entry_id: str) -> OutboxEntry:
        """Delete a queued report for good (a person's decision; it is logged)."""
        entry_dir = self._resolve(entry_id)
        with self._locked(entry_dir) as entry:
            self._remove_entry(entry_dir)
        log.warning("purged report %s (%s) from the outbox without delivering it", entry.id, entry.state)
        return entry

    @contextlib.contextmanager
    def _locked(self, entry_dir: Path) -> Iterator[OutboxEntry]:
        lock = _EntryLock(entry_dir / LOCK_FILE)
        if not lock.acquire():
            if not (entry_dir / STATE_FILE).exists():
                raise UnknownEntryError(f"report {entry_dir.name} is no longer in the outbox")
            raise OutboxBusyError(f"report {entry_dir.name} is being sent right now; try again in a moment")
        try:
            entry = self._read_state(entry_dir)
            if entry is None:
                raise UnknownEntryError(f"report {entry_dir.name} is no longer in the outbox")
            yield entry
        finally:
            lock.release()

    def _remove_entry(self, entry_dir: Path) -> None:
        # state.json goes first: from that moment the entry no longer exists for anyone.
        with contextlib.suppress(FileNotFoundError):
            (entry_dir / STATE_FILE).unlink()
        fsync_dir(entry_dir)
        with contextlib.suppress(FileNotFoundError):
            (entry_dir / BUNDLE_FILE).unlink()

    # ------------------------------------------------------------ waking
    def wake(self) -> None:
        """Try everything now (the network came back, the token was fixed): waits and holds end."""
        with self._state_lock:
            self._wake_requested = True
            self._reset_connectors = True  # pick up a new token or configuration
            self._holds.clear()
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
        """Block until ``put``/``wake``/``retry``/``interrupt_wait`` or ``timeout`` seconds."""
        self._wake_event.wait(timeout)

    def interrupt_wait(self) -> None:
        self._wake_event.set()

    def now(self) -> float:
        """The outbox's clock (seconds since the epoch)."""
        return self._clock()

    # ------------------------------------------------------------ backoff
    def backoff_delay(self, attempts: int) -> float:
        """Seconds before try number ``attempts + 1``: 2 s doubling to 15 min, minus up to 25 % jitter."""
        exponent = min(max(attempts, 1) - 1, 30)
        nominal = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0**exponent)
        return nominal * (1.0 - BACKOFF_JITTER * self._rng.random())

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
        failing the same way.
        """
        with self._flush_lock:
            if self._reset_connectors:
                self._close_connectors()
            self._collect_garbage()
            result = FlushResult()
            failed_backends: set[str] = set()
            for entry in self._scan():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if entry.needs_attention or entry.backend in failed_backends:
                    continue
                if only is not None and entry.id not in only:
                    continue
                if not force and not self._is_due(entry, self._clock()):
                    continue
                outcome, detail = self._attempt(entry.id, force=force)
                if outcome not in (_Outcome.BUSY, _Outcome.SKIPPED):
                    result.attempts.append(_attempt_record(entry.id, outcome, detail))
                if outcome is _Outcome.DELIVERED and isinstance(detail, Receipt):
                    result.delivered.append(detail)
                elif outcome is _Outcome.BUSY:
                    result.busy += 1
                elif isinstance(detail, OutboxEntry):
                    if outcome is _Outcome.RETRYING:
                        result.retrying.append(detail)
                        failed_backends.add(entry.backend)
                    elif outcome is _Outcome.PAUSED:
                        result.paused.append(detail)
                        failed_backends.add(entry.backend)
                    elif outcome is _Outcome.DEAD:
                        result.dead.append(detail)
                    elif outcome is _Outcome.ATTENTION:
                        result.attention.append(detail)
            if result.delivered:
                self._collect_garbage()  # what a killed sender left of the reports just delivered
            result.remaining = sum(1 for e in self._scan() if not e.needs_attention)
            return result

    def deliver_now(self, entry_id: str, deadline: float | None = None) -> Attempt:
        """Send one report at once, and through transient failures until ``deadline``.

        ``deadline`` is a ``time.monotonic()`` value; without one there is one attempt.
        The report stays queued whatever happens, so any sender delivers it later. Returns
        the last attempt: state "delivered" (with the receipt), "pending" (the reason it
        is not there yet), "paused" or "dead" (the backend's reason).
        """
        report_id = self._resolve(entry_id).name
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
                current = self._read_state(self._entries_dir / report_id)
                if current is None:
                    return Attempt(report_id, "gone", reason="it is no longer in the outbox (purged)")
                last = _attempt_record(report_id, _Outcome.SKIPPED, current)
                wait = self._due_at(current, self._clock()) - self._clock()
            if last.state != EntryState.PENDING or deadline is None:
                return last
            wait = max(wait, 0.0)
            if time.monotonic() + wait >= deadline:
                return last
            self._sleep(wait)

    def _attempt(self, entry_id: str, *, force: bool) -> tuple[_Outcome, Receipt | OutboxEntry | None]:
        entry_dir = self._entries_dir / entry_id
        lock = _EntryLock(entry_dir / LOCK_FILE)
        if not lock.acquire():
            return (_Outcome.BUSY if (entry_dir / STATE_FILE).exists() else _Outcome.SKIPPED), None
        try:
            # Re-read under the lock: another sender may have delivered or rescheduled it.
            entry = self._read_state(entry_dir)
            if entry is None or entry.needs_attention:
                return _Outcome.SKIPPED, None
            if not force and not self._is_due(entry, self._clock()):
                return _Outcome.SKIPPED, None
            return self._send(entry_dir, entry)
        finally:
            lock.release()
            if not (entry_dir / STATE_FILE).exists():
                shutil.rmtree(entry_dir, ignore_errors=True)

    def _send(self, entry_dir: Path, entry: OutboxEntry) -> tuple[_Outcome, Receipt | OutboxEntry | None]:
        try:
            bundle = ReportBundle.from_bytes((entry_dir / BUNDLE_FILE).read_bytes())
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
        self._notify("sending", entry, 0, 0)
        try:
            ticket = connector.submit(bundle, progress=lambda sent, total: self._notify("sending", entry, sent, total))
        except AuthError as exc:
            return self._mark_paused(entry, exc.reason)
        except PermanentError as exc:
            return self._mark_dead(entry, exc.reason)
        except TransientError as exc:
            return self._reschedule(entry, exc.reason, exc.retry_after, _failure_kind(exc))
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
            atomic_write_bytes(self._receipts_dir / f"{entry.id}.json", receipt.to_json(), mode=0o600)
        except OSError as exc:
            # The backend has the report: delivery stands even if the receipt cannot be kept.
            log.warning("report %s became ticket %s but its receipt could not be saved: %s", entry.id,
                        ticket.number, exc)
        self._remove_entry(entry_dir)
        self._holds.pop(entry.backend, None)
        log.info("delivered report %s as ticket %s (%s)", entry.id, ticket.number, entry.backend)
        self._notify("delivered", entry, receipt)
        return _Outcome.DELIVERED, receipt

    def _reschedule(
        self, entry: OutboxEntry, reason: str, retry_after: float | None, failure_kind: str | None = None
    ) -> tuple[_Outcome, OutboxEntry]:
        now = self._clock()
        attempts = entry.attempts + 1
        delay = retry_after if retry_after is not None else self.backoff_delay(attempts)
        updated = replace(
            entry, state=EntryState.PENDING, attempts=attempts, next_attempt_at=now + delay, last_error=reason
        )
        if failure_kind is not None:
            if failure_kind == entry.failure_kind and entry.failing_since is not None:
                updated = replace(updated, failure_streak=entry.failure_streak + 1)
            else:
                updated = replace(updated, failure_kind=failure_kind, failure_streak=1, failing_since=now)
            since = updated.failing_since if updated.failing_since is not None else now
            if updated.failure_streak >= ATTENTION_AFTER_ATTEMPTS and now - since >= ATTENTION_AFTER_SECONDS:
                return self._mark_attention(updated, reason)
        self._write_state(updated)
        self._holds[entry.backend] = updated.next_attempt_at
        log.info("report %s not delivered (%s); next try in %.0f s", entry.id, reason, delay)
        self._notify("failed", updated, reason, updated.next_attempt_at)
        return _Outcome.RETRYING, updated

    def _mark_paused(self, entry: OutboxEntry, reason: str) -> tuple[_Outcome, OutboxEntry]:
        now = self._clock()
        updated = replace(
            entry,
            state=EntryState.PAUSED,
            attempts=entry.attempts + 1,
            next_attempt_at=now + PAUSE_SECONDS,
            last_error=reason,
        )
        self._write_state(updated)
        self._holds[entry.backend] = updated.next_attempt_at
        log.warning("report %s waits: %s", entry.id, reason)
        self._notify("paused", updated, reason)
        return _Outcome.PAUSED, updated

    def _mark_attention(self, entry: OutboxEntry, reason: str) -> tuple[_Outcome, OutboxEntry]:
        updated = replace(entry, state=EntryState.ATTENTION)
        self._write_state(updated)
        log.error(
            "report %s needs attention: %s on %d tries since %s; kept, and retried only by `showdesk outbox retry`",
            entry.id, entry.failure_kind, entry.failure_streak, _iso(entry.failing_since or entry.created_at),
        )
        self._notify("needs_attention", updated, reason)
        return _Outcome.ATTENTION, updated

    def _mark_dead(self, entry: OutboxEntry, reason: str) -> tuple[_Outcome, OutboxEntry]:
        updated = replace(entry, state=EntryState.DEAD, attempts=entry.attempts + 1, last_error=reason)
        self._write_state(updated)
        log.error("report %s refused for good: %s", entry.id, reason)
        self._notify("dead", updated, reason)
        return _Outcome.DEAD, updated

    def _connector(self, backend_name: str) -> Connector:
        connector = self._connectors.get(backend_name)
        if connector is None:
            connector = self._connector_for(backend_name)
            self._connectors[backend_name] = connector
        return connector

    def _close_connectors(self) -> None:
        self._reset_connectors = False
        connectors, self._connectors = self._connectors, {}
        for connector in connectors.values():
            try:
                connector.close()
            except Exception:
                log.exception("closing a connector failed")

    def _collect_garbage(self) -> None:
        """Remove what crashes leave behind: unfinished puts, temp files, emptied entries, old receipts."""
        stale_before = time.time() - STALE_SECONDS
        try:
            children = builtins.list(os.scandir(self._entries_dir))
        except FileNotFoundError:
            children = []
        for child in children:
            path = Path(child.path)
            try:
                if child.name.startswith(_INCOMING_PREFIX):
                    if child.stat(follow_symlinks=False).st_mtime < stale_before:
                        shutil.rmtree(path, ignore_errors=True)
                elif child.is_dir(follow_symlinks=False) and not (path / STATE_FILE).exists():
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                continue
        receipts: builtins.list[tuple[float, Path]] = []
        try:
            receipt_children = builtins.list(os.scandir(self._receipts_dir))
        except FileNotFoundError:
            receipt_children = []
        for child in receipt_children:
            try:
                mtime = child.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if child.name.endswith(".tmp") and (mtime < stale_before or self._orphan_receipt_temp(child.name)):
                with contextlib.suppress(OSError):
                    Path(child.path).unlink()
            elif child.name.endswith(".json"):
                receipts.append((mtime, Path(child.path)))
        if len(receipts) > MAX_RECEIPTS:
            receipts.sort(reverse=True)
            for _mtime, path in receipts[MAX_RECEIPTS:]:
                with contextlib.suppress(OSError):
                    path.unlink()

    def _orphan_receipt_temp(self, name: str) -> bool:
        """A receipt's temp file whose entry is gone: its writer died (receipts are written
        while the entry still exists, under its lock)."""
        report_id = name.lstrip(".").split(".json.", 1)[0]
        try:
            uuid.UUID(report_id)
        except ValueError:
            return False
        return not (self._entries_dir / report_id / STATE_FILE).exists()

    def close(self) -> None:
        """Close the connectors' connections."""
        with self._flush_lock:
            self._close_connectors()

    # Defined last: inside the class body the name ``list`` then means the method.
    def list(self, states: Collection[str] | None = None) -> builtins.list[OutboxEntry]:
        """Queued reports, oldest first, all or those in ``states`` ("pending", "paused", "dead").

        ``sending`` marks the ones a sender is delivering right now.
        """
        entries = []
        for entry in self._scan():
            if states is not None and entry.state not in states:
                continue
            lock = _EntryLock(self._entries_dir / entry.id / LOCK_FILE)
            in_flight = not lock.acquire()
            lock.release()
            entries.append(replace(entry, sending=in_flight and (self._entries_dir / entry.id).exists()))
        return entries


# ---------------------------------------------------------------- the sender thread
class Sender:
    """Delivers the outbox in the background until stopped; survives any exception.

    It sleeps until the next entry is due, at most ``max_idle`` seconds (so reports put
    by another process are picked up), and wakes at once on ``put``, ``retry`` and
    ``wake``.
    """

    def __init__(self, outbox: Outbox, *, max_idle: float = 60.0) -> None:
        self.outbox = outbox
        self._max_idle = max_idle
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0  # completed passes, for observers and tests

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="showdesk-outbox-sender", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self.outbox.wake()

    def stop(self, timeout: float | None = 30.0) -> bool:
        """Stop after the attempt under way; True when the thread has ended."""
        self._stop.set()
        self.outbox.interrupt_wait()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                result = self.outbox.flush(force=self.outbox.begin_pass())
                failures = 0
                due = self.outbox.next_due_at()
                delay = self._max_idle if due is None else due - self.outbox.now()
                if result.busy:
                    # Another process is sending; look again shortly rather than spin.
                    delay = max(delay, BUSY_RECHECK_SECONDS)
            except Exception:
                failures += 1
                log.exception("the outbox sender failed; the reports are kept and it tries again")
                delay = self.outbox.backoff_delay(failures)
            self.passes += 1
            if self._stop.is_set():
                break
            self.outbox.wait_for_work(min(max(delay, 0.05), self._max_idle))
