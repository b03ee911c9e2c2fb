"""The outbox's events, as plain callbacks on the thread that sends (a GUI marshals them to its own)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from agent.outbox.entries import OutboxEntry, Receipt

log = logging.getLogger(__name__)


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


class Observers:
    """The observers of one outbox; a failing observer is logged and the others still hear."""

    def __init__(self) -> None:
        self._observers: list[OutboxObserver] = []

    def add(self, observer: OutboxObserver) -> None:
        self._observers.append(observer)

    def remove(self, observer: OutboxObserver) -> None:
        with contextlib.suppress(ValueError):
            self._observers.remove(observer)

    def notify(self, method: str, *args: Any) -> None:
        """Call ``method`` (an ``OutboxObserver`` hook's name) on every observer."""
        # A copy: an observer may remove itself from inside its callback.
        for observer in list(self._observers):
            try:
                getattr(observer, method)(*args)
            except Exception:
                # A broken UI callback must not stop delivery.
                log.exception("outbox observer %r failed in %s", observer, method)
