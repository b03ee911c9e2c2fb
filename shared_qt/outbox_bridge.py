"""The outbox's callbacks (made on its sender thread) as Qt signals delivered on the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from agent.outbox import Outbox, OutboxEntry, OutboxObserver, Receipt

# Qt's int is 32 bits: a report over 2 GiB is beyond the schema's limits anyway.
_MAX_QT_INT = 2**31 - 1


class OutboxBridge(QObject, OutboxObserver):
    """Register with ``outbox.add_observer``; connect to the signals.

    The object lives in the GUI thread, so every emit from the sender thread is queued into it:
    slots run on the GUI thread and may touch widgets.
    """

    queued_signal = Signal(object)  # OutboxEntry
    sending_signal = Signal(object, int, int)  # OutboxEntry, bytes sent, total
    delivered_signal = Signal(object, object)  # OutboxEntry, Receipt
    failed_signal = Signal(object, str, float)  # OutboxEntry, reason, next attempt (epoch seconds)
    paused_signal = Signal(object, str)
    dead_signal = Signal(object, str)
    attention_signal = Signal(object, str)  # OutboxEntry, reason: kept, sent again only by hand
    changed = Signal()  # anything above happened

    def __init__(self, outbox: Outbox, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.outbox = outbox
        # The last per-mille of progress passed on, by entry id; touched on the sender thread only.
        self._last_permille: dict[str, int] = {}
        outbox.add_observer(self)

    def detach(self) -> None:
        self.outbox.remove_observer(self)

    # -- OutboxObserver, called on the sending thread
    def queued(self, entry: OutboxEntry) -> None:
        self.queued_signal.emit(entry)
        self.changed.emit()

    def sending(self, entry: OutboxEntry, sent: int, total: int) -> None:
        # The connector reports every chunk it hands to the socket (thousands for a big report),
        # and each emit is a queued call into the GUI thread: pass on only the first and last
        # report of an attempt and a step of one per cent in between, when a bar would move.
        permille = 1000 * sent // total if total > 0 else -1
        if permille == self._last_permille.get(entry.id) or (0 < sent < total and permille % 10):
            return
        self._last_permille[entry.id] = permille
        self.sending_signal.emit(entry, min(sent, _MAX_QT_INT), min(total, _MAX_QT_INT))

    def delivered(self, entry: OutboxEntry, receipt: Receipt) -> None:
        self._attempt_over(entry)
        self.delivered_signal.emit(entry, receipt)
        self.changed.emit()

    def failed(self, entry: OutboxEntry, reason: str, next_attempt_at: float) -> None:
        self._attempt_over(entry)
        self.failed_signal.emit(entry, reason, next_attempt_at)
        self.changed.emit()

    def paused(self, entry: OutboxEntry, reason: str) -> None:
        self._attempt_over(entry)
        self.paused_signal.emit(entry, reason)
        self.changed.emit()

    def dead(self, entry: OutboxEntry, reason: str) -> None:
        self._attempt_over(entry)
        self.dead_signal.emit(entry, reason)
        self.changed.emit()

    def needs_attention(self, entry: OutboxEntry, reason: str) -> None:
        self._attempt_over(entry)
        self.attention_signal.emit(entry, reason)
        self.changed.emit()

    def _attempt_over(self, entry: OutboxEntry) -> None:
        # The next attempt starts its progress afresh (and a delivered entry leaves no trace here).
        self._last_permille.pop(entry.id, None)
