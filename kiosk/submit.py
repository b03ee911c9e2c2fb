"""Submitting a walk-up through the outbox, observed from the GUI thread.

The report is built and put in the outbox on a worker thread; the outbox's sender thread
delivers it and reports through ``OutboxObserver`` callbacks, which arrive here as Qt
signals (queued into the GUI thread). The person gets an ``Outcome`` either way: the
ticket (and its place in the walk-up queue), or, when the backend cannot be reached,
a local receipt while the outbox keeps trying.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from agent import __version__
from agent.bundle import build_bundle
from agent.connectors.base import Capability, Connector, ConnectorError, QueuePlace
from agent.outbox import Outbox, OutboxEntry, OutboxError, OutboxObserver, Receipt
from agent.schema import Report, Source, Ticket
from kiosk.session import KioskSession, Outcome
from kiosk.settings import KioskSettings
from shared_qt.workers import BackgroundRunner

log = logging.getLogger(__name__)

# How long the person waits for the first delivery attempt before getting the local receipt.
DEFAULT_PATIENCE_SECONDS = 20.0

ConnectorFactory = Callable[[], Connector]


def build_report(session: KioskSession, settings: KioskSettings) -> Report:
    category = settings.category(session.category_id)
    # The ticket is read by the help desk, so it carries the category in the site's base language.
    label = category.label.resolve("en") if category is not None else session.category_id
    return Report(
        id=session.report_id,
        reporter=session.reporter(),
        category=label[:200],
        description=session.description,
        source=Source(kind="kiosk", id=settings.kiosk_id, site=settings.site or None, app_version=__version__),
        walk_up=True,
        self_help_articles=list(session.articles_shown)[:20],
    )


class _Relay(QObject, OutboxObserver):
    """Outbox callbacks (on the sender thread) turned into signals (delivered in the GUI thread)."""

    queued_signal = Signal(str)
    sending_signal = Signal(str, int, int)
    delivered_signal = Signal(str, object)
    failed_signal = Signal(str, str)
    held_signal = Signal(str, str)

    def queued(self, entry: OutboxEntry) -> None:
        self.queued_signal.emit(entry.id)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._last_permille: dict[str, int] = {}

    def sending(self, entry: OutboxEntry, sent: int, total: int) -> None:
        # The connector reports every chunk it hands to the socket (thousands for a big
        # report); the GUI needs a step only when the bar would move.
        permille = 1000 * sent // total if total > 0 else -1
        if permille == self._last_permille.get(entry.id) or (0 < sent < total and permille % 10):
            return
        self._last_permille[entry.id] = permille
        self.sending_signal.emit(entry.id, sent, total)

    def delivered_or_failed(self, entry: OutboxEntry) -> None:
        self._last_permille.pop(entry.id, None)

    def delivered(self, entry: OutboxEntry, receipt: Receipt) -> None:
        self.delivered_or_failed(entry)
        self.delivered_signal.emit(entry.id, receipt)

    def failed(self, entry: OutboxEntry, reason: str, next_attempt_at: float) -> None:
        self.delivered_or_failed(entry)
        self.failed_signal.emit(entry.id, reason)

    def paused(self, entry: OutboxEntry, reason: str) -> None:
        self.held_signal.emit(entry.id, reason)

    def dead(self, entry: OutboxEntry, reason: str) -> None:
        self.held_signal.emit(entry.id, reason)


class Submission(QObject):
    """Puts a session's report in the outbox and reports how it went for this person."""

    progress = Signal(int, int)  # bytes sent, total
    finished = Signal(object)  # Outcome: delivered or local receipt
    refused = Signal(str)  # could not even be saved (disk full, invalid): nothing was queued

    def __init__(
        self,
        outbox: Outbox,
        runner: BackgroundRunner,
        *,
        backend_name: str = "default",
        queue_connector: ConnectorFactory | None = None,
        patience_seconds: float = DEFAULT_PATIENCE_SECONDS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.outbox = outbox
        self.runner = runner
        self.backend_name = backend_name
        self._queue_connector = queue_connector
        self._relay = _Relay(self)
        outbox.add_observer(self._relay)
        self._relay.sending_signal.connect(self._sending)
        self._relay.delivered_signal.connect(self._delivered)
        self._relay.failed_signal.connect(self._not_yet)
        self._relay.held_signal.connect(self._not_yet)
        self._patience = QTimer(self)
        self._patience.setSingleShot(True)
        self._patience.setInterval(int(patience_seconds * 1000))
        self._patience.timeout.connect(self._give_receipt)
        self.current: uuid.UUID | None = None
        self._settled = False
        self._finished_ids: set[str] = set()

    # ------------------------------------------------------------ submitting
    def submit(self, session: KioskSession, settings: KioskSettings) -> None:
        report_id = session.report_id
        self.current = report_id
        self._settled = False
        base = build_report(session, settings)
        steps = [step.draft for step in session.steps]
        snapshot = dict(session.sysinfo) if session.sysinfo is not None else None
        excluded = set(session.excluded_groups)
        backend = self.backend_name

        def put() -> str:
            from agent.sysinfo import without_groups

            sysinfo = without_groups(snapshot, excluded) if snapshot is not None else None
            bundle = build_bundle(base, steps, sysinfo=sysinfo)
            return self.outbox.put(bundle, backend).id

        self._patience.start()
        self.runner.run(put, self._queued, self._put_failed)

    def _queued(self, _entry_id: object) -> None:
        # The report is on disk now; the sender thread was woken by put().
        self.progress.emit(0, 0)

    def _put_failed(self, exc: Exception) -> None:
        self._patience.stop()
        self._settled = True
        reason = str(exc) if isinstance(exc, OutboxError | ValueError | OSError) else type(exc).__name__
        log.error("a walk-up could not be saved: %s", reason)
        self.refused.emit(reason)

    def _sending(self, entry_id: str, sent: int, total: int) -> None:
        if self._is_current(entry_id) and not self._settled:
            self.progress.emit(sent, total)

    def _not_yet(self, entry_id: str, _reason: str) -> None:
        if self._is_current(entry_id) and not self._settled:
            self._give_receipt()

    def _give_receipt(self) -> None:
        if self._settled or self.current is None:
            return
        self._settled = True
        self._patience.stop()
        self.finished.emit(Outcome(report_id=self.current))

    def _delivered(self, entry_id: str, receipt: object) -> None:
        if not isinstance(receipt, Receipt):
            return
        if not self._is_current(entry_id):
            # A walk-up from an earlier person, delivered late: its local receipt goes too.
            self._finished_ids.add(entry_id)
            self.forget_receipt(entry_id)
            return
        if self._settled:
            # The person already left with a local receipt; nothing more to show them.
            self.forget_receipt(entry_id)
            return
        self._settled = True
        self._patience.stop()
        ticket = Ticket(
            id=receipt.ticket_id,
            number=receipt.number,
            url=receipt.url,
            status=receipt.status,
            report_id=uuid.UUID(receipt.report_id),
        )
        report_id = uuid.UUID(entry_id)
        factory = self._queue_connector
        if factory is None:
            self.finished.emit(Outcome(report_id=report_id, ticket=ticket))
            return

        def read_place() -> QueuePlace | None:
            with factory() as connector:
                if Capability.QUEUE not in connector.capabilities:
                    return None
                return connector.queue_place(ticket.id)

        def with_place(place: object) -> None:
            position = place.position if isinstance(place, QueuePlace) else None
            wait = place.estimated_wait_seconds if isinstance(place, QueuePlace) else None
            self.finished.emit(
                Outcome(report_id=report_id, ticket=ticket, queue_position=position, estimated_wait_seconds=wait)
            )

        def without_place(exc: Exception) -> None:
            if not isinstance(exc, ConnectorError):
                log.warning("reading the queue place failed: %s", exc)
            self.finished.emit(Outcome(report_id=report_id, ticket=ticket))

        self.runner.run(read_place, with_place, without_place)

    def _is_current(self, entry_id: str) -> bool:
        return self.current is not None and entry_id == str(self.current)

    # ------------------------------------------------------------ wiping
    def forget_receipt(self, report_id: str | uuid.UUID) -> None:
        """Remove the outbox's local receipt of a delivered walk-up (the ticket lives on the server)."""
        try:
            self.outbox.forget_receipt(report_id)
        except (OutboxError, ValueError) as exc:
            # The wipe goes on; a receipt left behind is pruned with the oldest ones later.
            log.warning("the receipt of report %s could not be deleted: %s", report_id, exc)

    def end_session(self) -> None:
        """The person left: their delivered report leaves no local trace; a queued one stays until sent."""
        if self.current is not None:
            self.forget_receipt(self.current)
        self.current = None
        self._settled = True
        self._patience.stop()

    def close(self) -> None:
        self.outbox.remove_observer(self._relay)
