"""The agent's durable notification queue: one file per (event, target), a memory of what went, a delivery log.

On disk under one private directory:

- ``jobs/<id>.json``: a notification waiting for its next try (event, target, tries, when);
- ``sending/<id>.json``: one being sent right now; the rename from ``jobs/`` is the claim, so
  two processes never send the same job at once;
- ``sent/<id>``: an empty marker per job that was delivered or given up: the same
  (event, target) is never queued again (exactly once per key, as far as this machine knows);
- ``log.jsonl``: the last attempts, newest last, with their outcome and never the URL.

Every write is atomic (``agent.fsutil``). The queue is bounded in jobs, in bytes per job,
in markers kept and in log lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

from agent.fsutil import atomic_write_bytes, make_private_dir
from agent.notify.events import NotifyEvent

MAX_JOBS: Final = 500
MAX_JOB_BYTES: Final = 64 * 1024
MAX_SENT_MARKERS: Final = 5000
MAX_LOG_RECORDS: Final = 200
# A job left in sending/ this long was being sent by a process that died: it goes back to jobs/.
STALE_SENDING_SECONDS: Final = 300.0

log = logging.getLogger(__name__)


class NotifyQueueFullError(Exception):
    """The queue holds ``MAX_JOBS`` notifications already; the new one is dropped (and logged)."""


def job_id(event_key: str, target_name: str) -> str:
    """The job's name: the same (event, target) always gives the same id."""
    return hashlib.sha256(f"{event_key}\0{target_name}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Job:
    id: str
    target: str
    event: NotifyEvent
    created_at: float
    attempts: int = 0
    next_at: float = 0.0
    last_error: str = ""

    def to_json(self) -> bytes:
        data = asdict(self)
        data["event"] = self.event.to_dict()
        return json.dumps(data, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Job:
        data = json.loads(raw)
        return cls(
            id=str(data["id"]),
            target=str(data["target"]),
            event=NotifyEvent.from_dict(data["event"]),
            created_at=float(data["created_at"]),
            attempts=int(data.get("attempts", 0)),
            next_at=float(data.get("next_at", 0.0)),
            last_error=str(data.get("last_error", "")),
        )


@dataclass(frozen=True)
class LogRecord:
    """One attempt (or a drop): when, to which target, which event, what came of it. Never a URL."""

    at: float
    target: str
    event: str  # the event's key
    kind: str
    status: str  # "delivered", "retrying", "failed" (given up), "dropped" (never queued)
    detail: str = ""
    attempt: int = 0

    def describe(self) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.at))
        detail = f"  ({self.detail})" if self.detail else ""
        return f"{stamp}Z  {self.status:<9}  {self.target}  {self.kind}  try {self.attempt}{detail}"


class NotifyQueue:
    def __init__(self, directory: Path, *, max_jobs: int = MAX_JOBS, clock: Any = time.time) -> None:
        self.directory = Path(directory)
        self._jobs = self.directory / "jobs"
        self._sending = self.directory / "sending"
        self._sent = self.directory / "sent"
        self._log = self.directory / "log.jsonl"
        self._max_jobs = max_jobs
        self._clock = clock
        self._lock = threading.Lock()
        for path in (self.directory, self._jobs, self._sending, self._sent):
            make_private_dir(path)
        self._recover()

    # ------------------------------------------------------------ putting in
    def known(self, jid: str) -> bool:
        """Whether the job is queued, being sent, or done (sent or given up)."""
        return any((d / name).exists() for d, name in
                   ((self._jobs, f"{jid}.json"), (self._sending, f"{jid}.json"), (self._sent, jid)))

    def enqueue(self, event: NotifyEvent, target: str) -> Job | None:
        """Queue ``event`` for ``target`` unless this (event, target) is already known; the new job or None.

        Raises ``NotifyQueueFullError`` (after logging a "dropped" record) when the queue is full
        or the job is over ``MAX_JOB_BYTES``.
        """
        jid = job_id(event.key, target)
        now = self._clock()
        job = Job(id=jid, target=target, event=event, created_at=now, next_at=now)
        data = job.to_json()
        with self._lock:
            if self.known(jid):
                return None
            reason = ""
            if len(data) > MAX_JOB_BYTES:
                reason = f"notification of {len(data)} bytes is over {MAX_JOB_BYTES}"
            elif self._count(self._jobs) >= self._max_jobs:
                reason = f"the notification queue holds {self._max_jobs} already"
            if reason:
                self._append_log(LogRecord(now, target, event.key, event.kind, "dropped", reason))
                raise NotifyQueueFullError(reason)
            atomic_write_bytes(self._jobs / f"{jid}.json", data)
        return job

    # ------------------------------------------------------------ taking out
    def pending(self) -> list[Job]:
        """Every queued job (not those being sent), soonest first."""
        jobs = []
        for path in self._jobs.glob("*.json"):
            job = self._read(path)
            if job is not None:
                jobs.append(job)
        return sorted(jobs, key=lambda j: (j.next_at, j.created_at))

    def due(self, now: float) -> list[Job]:
        return [j for j in self.pending() if j.next_at <= now]

    def next_due_at(self) -> float | None:
        jobs = self.pending()
        return jobs[0].next_at if jobs else None

    def claim(self, job: Job) -> Job | None:
        """Take ``job`` for sending; None when another sender has it or it is gone."""
        try:
            (self._jobs / f"{job.id}.json").rename(self._sending / f"{job.id}.json")
        except FileNotFoundError:
            return None
        # The rename kept the old mtime; the claim's age is what tells a dead sender.
        with contextlib.suppress(OSError):
            os.utime(self._sending / f"{job.id}.json")
        return job

    def delivered(self, job: Job, detail: str = "") -> None:
        self._finish(job, "delivered", detail)

    def give_up(self, job: Job, reason: str) -> None:
        """Stop trying ``job`` (refused for good, or out of tries); it is never queued again."""
        self._finish(job, "failed", reason)

    def retry_later(self, job: Job, next_at: float, reason: str) -> Job:
        updated = replace(job, attempts=job.attempts + 1, next_at=next_at, last_error=reason)
        with self._lock:
            atomic_write_bytes(self._jobs / f"{job.id}.json", updated.to_json())
            with contextlib.suppress(FileNotFoundError):
                (self._sending / f"{job.id}.json").unlink()
            self._append_log(LogRecord(self._clock(), job.target, job.event.key, job.event.kind, "retrying",
                                       reason, updated.attempts))
        return updated

    # ------------------------------------------------------------ the delivery log
    def log_records(self) -> list[LogRecord]:
        """The last attempts, oldest first."""
        records = []
        try:
            lines = self._log.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        for line in lines:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                records.append(LogRecord(**json.loads(line)))
        return records

    # ------------------------------------------------------------ inside
    def _finish(self, job: Job, status: str, detail: str) -> None:
        with self._lock:
            atomic_write_bytes(self._sent / job.id, b"")
            with contextlib.suppress(FileNotFoundError):
                (self._sending / f"{job.id}.json").unlink()
            with contextlib.suppress(FileNotFoundError):
                (self._jobs / f"{job.id}.json").unlink()
            self._append_log(LogRecord(self._clock(), job.target, job.event.key, job.event.kind, status, detail,
                                       job.attempts + 1))
            self._trim_markers()

    def _append_log(self, record: LogRecord) -> None:
        lines = []
        with contextlib.suppress(FileNotFoundError):
            lines = self._log.read_bytes().splitlines()
        lines.append(json.dumps(asdict(record), sort_keys=True).encode("utf-8"))
        atomic_write_bytes(self._log, b"\n".join(lines[-MAX_LOG_RECORDS:]) + b"\n")
        log.info("notification %s to %s: %s%s", record.kind, record.target, record.status,
                 f" ({record.detail})" if record.detail else "")

    def _trim_markers(self) -> None:
        markers = list(self._sent.iterdir())
        if len(markers) <= MAX_SENT_MARKERS:
            return
        markers.sort(key=lambda p: p.stat().st_mtime)
        for path in markers[: len(markers) - MAX_SENT_MARKERS]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _count(self, directory: Path) -> int:
        return sum(1 for _ in directory.glob("*.json"))

    def _read(self, path: Path) -> Job | None:
        try:
            return Job.from_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("notification job %s is damaged and is dropped: %s", path.name, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def _recover(self) -> None:
        now = time.time()
        for path in self._sending.glob("*.json"):
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > STALE_SENDING_SECONDS:
                    path.rename(self._jobs / path.name)
