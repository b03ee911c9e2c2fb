"""Sending one report through the outbox, observed from the GUI thread.

The draft is frozen (mark-up flattened, images encoded) and put in the outbox on a worker
thread; the outbox's sender thread delivers it and reports through the bridge. A report that
cannot be delivered now stays queued and is sent automatically later; the person is told so
in plain words, and the agent notifies them when it is delivered.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from agent.laptop.report_draft import DraftError, ReportDraft, freeze
from agent.outbox import Outbox, OutboxEntry, OutboxError, Receipt
from shared_qt.outbox_bridge import OutboxBridge
from shared_qt.submission import OutboxSubmission

log = logging.getLogger(__name__)


class Submission(OutboxSubmission):
    """One report's way out: ``submit(draft)`` then the signals below, for this report only."""

    queued = Signal(str)  # report id: it is safe on disk now
    progress = Signal(int, int)  # bytes sent, total (0, 0: connecting)
    delivered = Signal(object)  # Receipt
    waiting = Signal(str)  # not delivered yet; the outbox keeps trying (the reason)
    refused = Signal(str)  # the backend refused it for good (kept as a dead letter in the outbox)
    failed = Signal(str)  # it could not even be queued (invalid, disk full): nothing was sent or saved

    def __init__(
        self,
        outbox: Outbox,
        bridge: OutboxBridge,
        *,
        backend_name: str = "default",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(outbox, bridge, backend_name=backend_name, parent=parent)
        self.state = "new"  # new, freezing, queued, sending, waiting, delivered, refused, failed

    def submit(self, draft: ReportDraft) -> None:
        if self.state not in ("new", "failed"):
            return
        self.state = "freezing"
        self.put(str(draft.id), lambda: freeze(draft))

    def on_queued(self, entry: OutboxEntry) -> None:
        if self.state == "freezing":  # the sender may have delivered it already
            self.state = "queued"
        self.queued.emit(entry.id)
        # A sender that delivered it before this arrived left a receipt.
        receipt = self.outbox.receipt(entry.id)
        if receipt is not None and self.state != "delivered":
            self.on_delivered(entry, receipt)

    def on_put_failed(self, exc: Exception) -> None:
        self.state = "failed"
        if isinstance(exc, DraftError | OutboxError | OSError | ValueError):
            reason = str(exc)
        else:
            log.error("freezing or queueing a report failed", exc_info=exc)
            reason = f"{type(exc).__name__}: {exc}"
        self.failed.emit(reason)

    def on_sending(self, entry: OutboxEntry, sent: int, total: int) -> None:
        if self.state not in ("delivered", "refused"):
            self.state = "sending"
            self.progress.emit(sent, total)

    def on_delivered(self, entry: OutboxEntry, receipt: Receipt) -> None:
        if self.state != "delivered":
            self.state = "delivered"
            self.delivered.emit(receipt)

    def on_not_yet(self, entry: OutboxEntry, reason: str) -> None:
        if self.state != "delivered":
            self.state = "waiting"
            self.waiting.emit(reason)

    def on_dead(self, entry: OutboxEntry, reason: str) -> None:
        self.state = "refused"
        self.refused.emit(reason)

    def wait_idle(self) -> None:
        self.runner.wait_idle()
