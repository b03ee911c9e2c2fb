"""Notifications from the agent's side: rules pick targets, the queue keeps the jobs, each job is posted.

``Notifier.publish`` queues an event for every target whose rules take it (once per
(event, target) key); ``deliver_due`` posts what is due, with backoff and Retry-After;
``start`` runs that in a small thread woken when something new is queued. The webhook URL
and the signing secret are read from the OS keyring (service ``showdesk-notify``) or the
environment at each try, never kept in the queue or written to a log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

from agent.notify import payloads
from agent.notify.events import NotifyEvent, walkup_events
from agent.notify.queue import Job, LogRecord, NotifyQueue, NotifyQueueFullError
from agent.notify.rules import SecretRef, Target, targets_for, walkup_thresholds
from agent.notify.slack_files import SLACK_API, share_images
from agent.notify.transport import DEFAULT_TIMEOUT_SECONDS, Answer, Post, post, redact

if TYPE_CHECKING:
    from datetime import datetime

    from agent.config import Config
    from agent.read_models import QueueBoard

KEYRING_SERVICE: Final = "showdesk-notify"
BACKOFF_BASE_SECONDS: Final = 30.0
BACKOFF_MAX_SECONDS: Final = 3600.0
MAX_ATTEMPTS: Final = 10  # about 4.5 hours of tries at the backoff above
MAX_JOBS_PER_PASS: Final = 50
PASS_DEADLINE_SECONDS: Final = 120.0
WORKER_IDLE_SECONDS: Final = 300.0  # the worker looks again at least this often

IMAGES_SUFFIX: Final = ":images"  # the key of a Slack target's second job: the report's screenshots
IMAGES_KEPT: Final = "kept"  # event.extra["images"]: the screenshots wait in images_dir(report_id)

log = logging.getLogger(__name__)

SecretResolver = Callable[[SecretRef], str | None]


class NotifyError(Exception):
    """A notification target that cannot be used as configured; the message says what to fix."""


def resolve_secret(ref: SecretRef) -> str | None:
    """The secret ``ref`` names: its environment variable, else its OS keyring entry; None if neither holds one."""
    if ref.env:
        return os.environ.get(ref.env) or None
    if not ref.keyring:
        return None
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(KEYRING_SERVICE, ref.keyring) or None
    except (KeyringError, RuntimeError) as exc:
        log.warning("the OS keyring could not be read for notification secret %r: %s", ref.keyring, exc)
        return None


def backoff_delay(attempts: int) -> float:
    """Seconds before try ``attempts + 1``: 30 s doubling, at most an hour."""
    return min(BACKOFF_BASE_SECONDS * 2.0 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)


@dataclass(frozen=True)
class Outcome:
    job: Job
    status: str  # "delivered", "retrying", "failed", "busy"
    detail: str = ""


class Notifier:
    def __init__(
        self,
        targets: Sequence[Target],
        queue: NotifyQueue,
        *,
        secrets: SecretResolver = resolve_secret,
        sender: Post = post,
        clock: Callable[[], float] = time.time,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        slack_api: str = SLACK_API,
    ) -> None:
        self.targets = list(targets)
        self.queue = queue
        self._by_name = {t.name: t for t in self.targets}
        self._secrets = secrets
        self._send = sender
        self._clock = clock
        self._timeout = timeout
        self._slack_api = slack_api
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config, directory: Path | None = None) -> Notifier:
        return cls(
            config.notify_targets(),
            NotifyQueue(directory or config.notify_dir),
            timeout=float(config.get("notifications.timeout")),
        )

    # ------------------------------------------------------------ events in
    def publish(self, event: NotifyEvent) -> list[Job]:
        """Queue ``event`` for each target that wants it and has not had it yet; the new jobs."""
        jobs = []
        for target in targets_for(event, self.targets):
            try:
                job = self.queue.enqueue(event, target.name)
            except NotifyQueueFullError as exc:
                log.warning("notification %s for %s dropped: %s", event.kind, target.name, exc)
                continue
            except OSError as exc:
                log.warning("notification %s for %s could not be queued: %s", event.kind, target.name, exc)
                continue
            if job is not None:
                jobs.append(job)
            if target.kind == "slack" and target.images and event.extra.get("images") == IMAGES_KEPT:
                with contextlib.suppress(NotifyQueueFullError, OSError):
                    images_job = self.queue.enqueue(replace(event, key=event.key + IMAGES_SUFFIX), target.name)
                    if images_job is not None:
                        jobs.append(images_job)
        if jobs:
            self._wake.set()
        return jobs

    @property
    def wants_images(self) -> bool:
        """Whether any target uploads screenshots (only then are they kept from a report)."""
        return any(t.images and t.enabled for t in self.targets)

    def images_dir(self, report_id: str) -> Path:
        """Where a report's screenshots wait for Slack targets with ``images = true``."""
        return self.queue.directory / "images" / str(uuid.UUID(report_id))

    def tidy_images(self, report_id: str) -> None:
        """Remove a report's kept screenshots once no images job for it waits."""
        waiting = any(j.event.report_id == report_id and j.event.key.endswith(IMAGES_SUFFIX)
                      for j in self.queue.pending())
        if not waiting:
            with contextlib.suppress(ValueError):
                shutil.rmtree(self.images_dir(report_id), ignore_errors=True)

    def observe_board(self, board: QueueBoard, now: datetime, ticket_urls: dict[str, str] | None = None) -> list[Job]:
        """A site's walk-up board as the kiosk or technician mode read it: people waiting too long are told once."""
        jobs: list[Job] = []
        for minutes in sorted(walkup_thresholds(self.targets)):
            for event in walkup_events(board, minutes=minutes, now=now, ticket_urls=ticket_urls):
                jobs.extend(self.publish(event))
        return jobs

    # ------------------------------------------------------------ delivery
    def deliver_due(self, *, limit: int = MAX_JOBS_PER_PASS) -> list[Outcome]:
        """Post every due job (at most ``limit``, within ``PASS_DEADLINE_SECONDS``); what each came to."""
        outcomes: list[Outcome] = []
        with self._pass_lock:
            started = time.monotonic()
            for job in self.queue.due(self._clock())[:limit]:
                if time.monotonic() - started > PASS_DEADLINE_SECONDS:
                    break
                outcomes.append(self._deliver(job))
        return outcomes

    def deliver_one(self, job: Job) -> Outcome:
        with self._pass_lock:
            return self._deliver(job)

    def next_due_at(self) -> float | None:
        return self.queue.next_due_at()

    def log_records(self) -> list[LogRecord]:
        return self.queue.log_records()

    def _deliver(self, job: Job) -> Outcome:
        target = self._by_name.get(job.target)
        if target is None:
            self.queue.claim(job)
            self.queue.give_up(job, f"no target named {job.target!r} is configured any more")
            return Outcome(job, "failed", "target removed")
        if self.queue.claim(job) is None:
            return Outcome(job, "busy")
        try:
            answer = self._post(target, job)
        except NotifyError as exc:
            answer = Answer(status=0, reason=str(exc))
        except Exception as exc:  # a bug must not lose the job: it stays queued with backoff
            log.exception("notification to %s failed unexpectedly", target.name)
            answer = Answer(status=0, reason=f"unexpected {type(exc).__name__}")
        return self._settle(job, answer)

    def _settle(self, job: Job, answer: Answer) -> Outcome:
        outcome = self._settle_job(job, answer)
        if job.event.key.endswith(IMAGES_SUFFIX) and outcome.status in ("delivered", "failed"):
            self.tidy_images(job.event.report_id)
        return outcome

    def _settle_job(self, job: Job, answer: Answer) -> Outcome:
        if answer.ok:
            self.queue.delivered(job, answer.describe())
            return Outcome(job, "delivered", answer.describe())
        detail = answer.describe()
        if answer.permanent:
            self.queue.give_up(job, f"refused: {detail}")
            return Outcome(job, "failed", detail)
        if job.attempts + 1 >= MAX_ATTEMPTS:
            self.queue.give_up(job, f"gave up after {MAX_ATTEMPTS} tries: {detail}")
            return Outcome(job, "failed", detail)
        # A 429's Retry-After is the target's own word on when to come back; otherwise back off.
        delay = answer.retry_after if answer.retry_after is not None else backoff_delay(job.attempts + 1)
        self.queue.retry_later(job, self._clock() + delay, detail)
        return Outcome(job, "retrying", detail)

    def _post(self, target: Target, job: Job) -> Answer:
        url = self._secrets(target.url)
        if not url:
            raise NotifyError(f"no webhook URL in {target.url.describe()} for target {target.name!r}")
        if not url.startswith(("https://", "http://")):
            raise NotifyError(f"the URL in {target.url.describe()} is not an http(s) address")
        headers: dict[str, str] = {}
        if job.event.key.endswith(IMAGES_SUFFIX):
            return self._share_images(target, job)
        if target.kind == "teams":
            body = payloads.encode(payloads.teams_payload(job.event))
        elif target.kind == "slack":
            body = payloads.encode(payloads.slack_payload(job.event))
        else:
            secret = self._secrets(target.secret)
            if not secret:
                raise NotifyError(f"no signing secret in {target.secret.describe()} for target {target.name!r}")
            body = payloads.encode(payloads.webhook_body(job.event, job.id))
            headers = payloads.webhook_headers(secret, job.event, job.id, body, self._clock())
        log.debug("posting %s (%d bytes) to %s for %s", job.event.kind, len(body), redact(url), target.name)
        return self._send(url, body, headers, self._timeout)

    def _share_images(self, target: Target, job: Job) -> Answer:
        token = self._secrets(target.slack_token)
        if not token:
            raise NotifyError(f"no Slack bot token in {target.slack_token.describe()} for target {target.name!r}")
        directory = self.images_dir(job.event.report_id)
        images = [(p.name, p.read_bytes()) for p in sorted(directory.glob("*")) if p.is_file()]
        if not images:
            return Answer(status=204, reason="the screenshots are no longer kept")
        link = payloads.safe_link(job.event.ticket_url)
        number = payloads.escape_slack(job.event.ticket_number)
        comment = f"Screenshots of {f'<{link}|{number}>' if link else number}"
        return share_images(self._send, token=token, channel_id=target.slack_channel_id, images=images,
                            comment=comment, timeout=self._timeout, api=self._slack_api)

    # ------------------------------------------------------------ the worker
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Deliver in a background thread, woken by ``publish``/``wake`` and by the next due time."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="showdesk-notify", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.deliver_due()
            except OSError as exc:
                log.warning("notification queue unreadable: %s", exc)
            due = self.next_due_at()
            wait = WORKER_IDLE_SECONDS if due is None else min(max(due - self._clock(), 0.05), WORKER_IDLE_SECONDS)
            self._wake.wait(wait)


def trial_event(target: Target, now: float) -> NotifyEvent:
    """A notification that says it is a test, new each time (its key is unique)."""
    return NotifyEvent(
        kind="new_report",
        key=f"test:{uuid.uuid4()}",
        occurred_at=now,
        site=target.sites[0] if target.sites else "",
        category=target.categories[0] if target.categories else "",
        subject="ShowDesk test notification: this target is set up",
        ticket_number="TEST",
    )


def send_test(notifier: Notifier, name: str) -> Outcome:
    """Queue and send one test notification to the target ``name`` at once (``showdesk notify test NAME``)."""
    target = next((t for t in notifier.targets if t.name == name), None)
    if target is None:
        known = ", ".join(t.name for t in notifier.targets) or "none"
        raise NotifyError(f"no notification target named {name!r}; configured: {known}")
    event = trial_event(target, time.time())
    job = notifier.queue.enqueue(event, target.name)
    if job is None:  # a fresh uuid: cannot be known already
        raise NotifyError("the test notification was already queued")
    return notifier.deliver_one(job)
