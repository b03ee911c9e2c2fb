"""The outbox's entries on disk: kept whole through any crash, one sender per entry at a time.

The store keeps bytes and state; when to send and what a backend's answer means is the
delivery policy's business (``agent.outbox.delivery``), and the store knows no connector.

On disk (``directory``)::

    entries/<report id>/report.showdesk   the bundle, byte for byte what is sent
    entries/<report id>/state.json        attempts, next attempt, last error (rewritten atomically)
    entries/<report id>/lock              flock'ed by the sender working on the entry
    entries/.incoming-<id>-*/             a put in progress; renamed into place when complete
    receipts/<report id>.json             ticket id, number, URL, time, backend of a delivered report

An entry exists exactly when its ``state.json`` exists: ``add`` renames a complete
directory into place, ``remove`` deletes ``state.json`` first. A crash at any point
therefore leaves a report either queued or delivered (with a receipt), never lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Collection, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Final

from agent.fsutil import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, atomic_write_bytes, fsync_dir, is_storage_full
from agent.outbox.entries import EntryState, OutboxEntry, Receipt
from agent.outbox.errors import (
    OutboxBusyError,
    OutboxError,
    OutboxFullError,
    OutboxStorageError,
    UnknownEntryError,
)

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

log = logging.getLogger(__name__)

MAX_RECEIPTS: Final = 500
STALE_SECONDS: Final = 3600.0  # an unfinished put or temp file this old is a crash's leftover

ENTRIES_DIR: Final = "entries"
RECEIPTS_DIR: Final = "receipts"
BUNDLE_FILE: Final = "report.showdesk"
STATE_FILE: Final = "state.json"
LOCK_FILE: Final = "lock"
_INCOMING_PREFIX: Final = ".incoming-"


# ---------------------------------------------------------------- the portable lock shim
class EntryLock:
    """An exclusive, non-blocking lock on one file: flock on POSIX, msvcrt on Windows.

    Each acquire opens its own file description, so two ``Outbox`` objects in one process
    exclude each other as two processes do.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
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


# ---------------------------------------------------------------- the store
class EntryStore:
    """Queued reports and receipts in one directory, addressed by report id."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._entries_dir = self.directory / ENTRIES_DIR
        self._receipts_dir = self.directory / RECEIPTS_DIR

    # ------------------------------------------------------------ adding
    def queued_copy(self, report_id: str, data: bytes) -> OutboxEntry | None:
        """The entry of report ``report_id`` when it is queued already with exactly ``data``, else None.

        Raises ``OutboxError`` when a different report with that id is queued.
        """
        entry_dir = self._entries_dir / report_id
        if (entry_dir / STATE_FILE).exists():
            return self._existing_entry(entry_dir, data)
        return None

    def add(self, entry: OutboxEntry, data: bytes) -> tuple[OutboxEntry, bool]:
        """Keep ``data`` (the bundle) as ``entry``, durably: (``entry``, True) once it is in place.

        When another process queued the very same report meanwhile, returns (its entry, False).
        Raises ``OutboxFullError`` when the disk is full and ``OutboxStorageError`` when it cannot
        be written otherwise; nothing partial is left and the entries already here stay.
        """
        final = self._entries_dir / entry.id
        incoming: Path | None = None
        try:
            # Reports hold screenshots: only this user may read the outbox.
            self.directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            self._entries_dir.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
            incoming = Path(tempfile.mkdtemp(prefix=f"{_INCOMING_PREFIX}{entry.id}-", dir=self._entries_dir))
            atomic_write_bytes(incoming / BUNDLE_FILE, data)
            atomic_write_bytes(incoming / STATE_FILE, entry.to_json())
            (incoming / LOCK_FILE).touch(mode=PRIVATE_FILE_MODE)
            fsync_dir(incoming)
            # The entry appears complete or not at all: a directory rename is atomic.
            incoming.rename(final)
            incoming = None
            fsync_dir(self._entries_dir)
        except OSError as exc:
            if incoming is not None:
                shutil.rmtree(incoming, ignore_errors=True)
            if is_storage_full(exc):
                raise OutboxFullError(
                    f"the outbox at {self.directory} is full: no space for this report ({len(data)} bytes). "
                    "It was not queued; reports queued earlier are kept and will still be delivered. "
                    "Free some disk space and submit again.",
                    self.directory,
                ) from exc
            if (final / STATE_FILE).exists():  # another process queued the same report meanwhile
                return self._existing_entry(final, data), False
            raise OutboxStorageError(
                f"cannot queue the report in {self.directory}: {exc.strerror or exc}. It was not queued; "
                "reports queued earlier are kept."
            ) from exc
        return entry, True

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

    # ------------------------------------------------------------ reading
    def _entry_dirs(self) -> Iterator[Path]:
        try:
            children = list(os.scandir(self._entries_dir))
        except FileNotFoundError:
            return
        for child in children:
            if not child.name.startswith(".") and child.is_dir(follow_symlinks=False):
                yield Path(child.path)

    def read_state(self, entry_id: str) -> OutboxEntry | None:
        """The state of the entry with this full id, or None when it is not queued."""
        return self._read_state(self._entries_dir / entry_id)

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

    def scan(self) -> list[OutboxEntry]:
        """Every queued entry, oldest first."""
        entries = [e for e in (self._read_state(d) for d in self._entry_dirs()) if e is not None]
        entries.sort(key=lambda e: (e.created_at, e.id))
        return entries

    def listing(self, states: Collection[str] | None = None) -> list[OutboxEntry]:
        """``scan``, or its entries in ``states``, with ``sending`` marking those another sender holds."""
        entries = []
        for entry in self.scan():
            if states is not None and entry.state not in states:
                continue
            lock = EntryLock(self._entries_dir / entry.id / LOCK_FILE)
            in_flight = not lock.acquire()
            lock.release()
            entries.append(replace(entry, sending=in_flight and (self._entries_dir / entry.id).exists()))
        return entries

    def resolve(self, entry_id: str) -> str:
        """The full id of the queued report whose id is ``entry_id`` or starts with it (uniquely)."""
        wanted = entry_id.strip().lower()
        if not wanted:
            raise UnknownEntryError("no report id given")
        exact = self._entries_dir / wanted
        if (exact / STATE_FILE).exists():
            return wanted
        matches = [d for d in self._entry_dirs() if d.name.startswith(wanted) and (d / STATE_FILE).exists()]
        if len(matches) == 1:
            return matches[0].name
        if not matches:
            raise UnknownEntryError(f"no queued report has an id starting with {entry_id!r}")
        raise UnknownEntryError(
            f"{entry_id!r} matches {len(matches)} queued reports; give more of the id"
        )

    def read_bundle(self, entry_id: str) -> bytes:
        """The queued bundle's bytes, exactly as they were put (OSError when it cannot be read)."""
        return (self._entries_dir / entry_id / BUNDLE_FILE).read_bytes()

    def exists(self, entry_id: str) -> bool:
        return (self._entries_dir / entry_id / STATE_FILE).exists()

    # ------------------------------------------------------------ changing state
    def save_state(self, entry: OutboxEntry) -> None:
        """Persist an entry's state; while sending, a failure (full disk) is logged, not raised.

        The old state stays valid then: at worst an attempt is not counted.
        """
        try:
            atomic_write_bytes(self._entries_dir / entry.id / STATE_FILE, entry.to_json())
        except OSError as exc:
            log.warning("cannot save the outbox state of report %s: %s", entry.id, exc)

    def replace_state(self, entry: OutboxEntry) -> None:
        """Persist an entry's state for a person's command: a failure raises ``OutboxStorageError``."""
        try:
            atomic_write_bytes(self._entries_dir / entry.id / STATE_FILE, entry.to_json())
        except OSError as exc:
            raise OutboxStorageError(f"cannot update the outbox at {self.directory}: {exc}") from exc

    def lock(self, entry_id: str) -> EntryLock:
        """The entry's lock, not yet acquired: whoever holds it is the one sender of the entry."""
        return EntryLock(self._entries_dir / entry_id / LOCK_FILE)

    @contextlib.contextmanager
    def locked(self, entry_id: str) -> Iterator[OutboxEntry]:
        """Hold the entry's lock and yield its state; raises when a sender holds it or it is gone."""
        entry_dir = self._entries_dir / entry_id
        lock = EntryLock(entry_dir / LOCK_FILE)
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

    def remove(self, entry_id: str) -> None:
        """End the entry (call it holding the entry's lock); ``tidy`` deletes what is left."""
        entry_dir = self._entries_dir / entry_id
        # state.json goes first: from that moment the entry no longer exists for anyone.
        with contextlib.suppress(FileNotFoundError):
            (entry_dir / STATE_FILE).unlink()
        fsync_dir(entry_dir)
        with contextlib.suppress(FileNotFoundError):
            (entry_dir / BUNDLE_FILE).unlink()

    def tidy(self, entry_id: str) -> None:
        """Delete the directory of an entry that no longer exists (after its lock is released)."""
        entry_dir = self._entries_dir / entry_id
        if not (entry_dir / STATE_FILE).exists():
            shutil.rmtree(entry_dir, ignore_errors=True)

    # ------------------------------------------------------------ receipts
    def save_receipt(self, receipt: Receipt) -> None:
        """Keep the receipt of a delivered report (call it holding the entry's lock); OSError on failure."""
        atomic_write_bytes(self._receipts_dir / f"{receipt.report_id}.json", receipt.to_json(), mode=PRIVATE_FILE_MODE)

    def receipts(self) -> list[Receipt]:
        """Receipts of delivered reports, newest first (the newest ``MAX_RECEIPTS`` are kept)."""
        found: list[Receipt] = []
        try:
            paths = list(self._receipts_dir.glob("*.json"))
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

    # ------------------------------------------------------------ what crashes leave
    def collect_garbage(self) -> None:
        """Remove what crashes leave behind: unfinished puts, temp files, emptied entries, old receipts."""
        stale_before = time.time() - STALE_SECONDS
        try:
            children = list(os.scandir(self._entries_dir))
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
        receipts: list[tuple[float, Path]] = []
        try:
            receipt_children = list(os.scandir(self._receipts_dir))
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
