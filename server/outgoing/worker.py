"""One thread of the server process that derives and sends the outgoing messages of every channel.

Woken by every commit that adds timeline events (the store's listener), and at the latest
every ``POLL_SECONDS`` (so a retry asked for on the command line, in another process, goes
out without a restart) or when the next retry is due. Sends one message at a time: mail to a
few people per ticket needs no parallelism, and one thread keeps "never twice" simple.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from server.outgoing.channel import Channel, PermanentSendError, RetryLaterError, SendError
from server.store import Derived, Store
from server.store.outgoing import WaitingWalkUp

log = logging.getLogger("showdesk.server.outgoing")

POLL_SECONDS: Final = 30.0
# Messages sent per channel before the worker looks for new events again.
SEND_BATCH: Final = 50
STOP_SECONDS: Final = 5.0
WALKUP_KIND: Final = "walkup_waiting"  # the row kind of "a walk-up waiting past the threshold"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``first`` seconds, doubling up to ``longest``, ``attempts`` tries in all."""

    first: float
    longest: float
    attempts: int

    def retry_in(self, attempts_made: int) -> float | None:
        """Seconds until the next attempt after ``attempts_made`` failed ones; None: no more."""
        if attempts_made >= self.attempts:
            return None
        return float(min(self.longest, self.first * 2 ** min(attempts_made - 1, 40)))


class OutgoingWorker:
    """Derives rows from the timeline and sends them, per channel, on one thread."""

    def __init__(
        self,
        store: Store,
        channels: Sequence[Channel],
        retry: RetryPolicy,
        *,
        max_age: float,
        retries: Mapping[str, RetryPolicy] | None = None,
        max_ages: Mapping[str, float] | None = None,
        walkup_check_seconds: float = POLL_SECONDS,
    ) -> None:
        """``retry`` and ``max_age`` hold for every channel not named in ``retries`` / ``max_ages``."""
        self._store = store
        self._channels = list(channels)
        self._retry = retry
        self._max_age = max_age
        self._retries = dict(retries or {})
        self._max_ages = dict(max_ages or {})
        self._walkup_check_seconds = walkup_check_seconds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Recover rows a crash left half sent, read the timeline once, then run the thread."""
        queue = self._store.outgoing
        for channel in self._channels:
            recovered = queue.recover(channel.name)
            if recovered:
                log.warning(
                    "%d %s message(s) were being sent when the server stopped; sending again with the same id",
                    recovered,
                    channel.name,
                )
            queue.derive(
                channel.name, channel.derive, max_age=self._max_age_of(channel), message_domain=channel.message_domain
            )
        self._store.add_listener(self.wake)
        self._thread = threading.Thread(target=self._run, name="showdesk-outgoing", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop after the message in hand (bounded by the channel's own timeouts; a row cut off stays
        ``sending`` and is sent again at the next start)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for channel in self._channels:
            channel.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self._pass()
            except Exception:
                # The queue is durable: whatever failed here is tried again on the next pass.
                log.exception("the outgoing queue's pass failed; trying again shortly")
            self._wake.wait(self._wait_seconds())

    def _wait_seconds(self) -> float:
        due = [self._store.outgoing.next_due(channel.name) for channel in self._channels]
        soonest = min((d for d in due if d is not None), default=None)
        longest = self._walkup_check_seconds if self._walkup_watchers() else POLL_SECONDS
        if soonest is None:
            return longest
        return max(0.0, min(longest, soonest - time.time()))

    def _max_age_of(self, channel: Channel) -> float:
        return self._max_ages.get(channel.name, self._max_age)

    def _retry_of(self, channel: Channel) -> RetryPolicy:
        return self._retries.get(channel.name, self._retry)

    def _walkup_watchers(self) -> list[tuple[Channel, float]]:
        """The channels that tell of a walk-up waiting too long, with their thresholds in seconds."""
        watchers: list[tuple[Channel, float]] = []
        for channel in self._channels:
            seconds = getattr(channel, "walkup_seconds", None)
            if isinstance(seconds, (int, float)):
                watchers.append((channel, float(seconds)))
        return watchers

    def _check_walkups(self) -> None:
        """Rows for people waiting past each watcher's threshold; the queue's unique key makes each one once."""
        queue = self._store.outgoing
        at = time.time()
        for channel, seconds in self._walkup_watchers():
            wants = getattr(channel, "wants_walkup", None)
            recipient = str(getattr(channel, "target_name", channel.name))
            waiting: list[WaitingWalkUp] = queue.walkups_waiting(channel.name, WALKUP_KIND, at - seconds)
            for person in waiting:
                if callable(wants) and not wants(person.site, person.category):
                    continue
                queue.add(channel.name, person, Derived(WALKUP_KIND, recipient), message_domain=channel.message_domain)

    def _pass(self) -> None:
        queue = self._store.outgoing
        self._check_walkups()
        for channel in self._channels:
            queue.derive(
                channel.name, channel.derive, max_age=self._max_age_of(channel), message_domain=channel.message_domain
            )
            for _sent in range(SEND_BATCH):
                if self._stopping.is_set():
                    return
                claimed = queue.claim_due(channel.name, time.time())
                if claimed is None:
                    break
                row = claimed.row
                try:
                    channel.send(claimed)
                except PermanentSendError as exc:
                    queue.mark_failed_attempt(row.id, str(exc), retry_in=None)
                    log.warning(
                        "%s %s #%d for %s failed: %s",
                        channel.name,
                        row.kind,
                        row.id,
                        row.ticket_number,
                        exc,
                    )
                except SendError as exc:
                    retry_in = self._retry_of(channel).retry_in(row.attempts)
                    if isinstance(exc, RetryLaterError) and retry_in is not None:
                        # The receiver's own wait (429 Retry-After) when it asks for longer than the backoff.
                        retry_in = max(retry_in, exc.retry_after)
                    state = queue.mark_failed_attempt(row.id, str(exc), retry_in=retry_in)
                    log.info(
                        "%s %s #%d for %s: attempt %d failed (%s); %s",
                        channel.name,
                        row.kind,
                        row.id,
                        row.ticket_number,
                        row.attempts,
                        exc,
                        "given up" if state == "failed" else f"next in {retry_in:.0f} s",
                    )
                except Exception as exc:
                    # A fault of ours (a template, a bug): the row must not stay "sending" until a restart.
                    log.exception(
                        "%s %s #%d for %s: unexpected failure", channel.name, row.kind, row.id, row.ticket_number
                    )
                    queue.mark_failed_attempt(
                        row.id,
                        f"unexpected failure: {type(exc).__name__}",
                        retry_in=self._retry_of(channel).retry_in(row.attempts),
                    )
                else:
                    queue.mark_sent(row.id)
                    log.info("%s %s #%d for %s sent", channel.name, row.kind, row.id, row.ticket_number)
