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
from dataclasses import replace

from PySide6.QtCore import QObject, QTimer, Signal

from agent import __version__
from agent.bundle import ReportBundle, build_bundle
from agent.connectors.base import Capability, Connector, ConnectorError, QueuePlace
from agent.markup import encode_png
from agent.outbox import Outbox, OutboxEntry, OutboxError, Receipt
from agent.schema import Report, Source, Ticket
from agent.steps import freeze_step
from kiosk.session import KioskSession, Outcome
from kiosk.settings import KioskSettings
from shared_qt.outbox_bridge import OutboxBridge
from shared_qt.submission import OutboxSubmission
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


class Submission(OutboxSubmission):
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
        # The kiosk's own bridge: it follows its walk-ups only, and leaves with ``close``.
        bridge = OutboxBridge(outbox)
        super().__init__(outbox, bridge, runner, backend_name=backend_name, parent=parent)
        bridge.setParent(self)
        self._queue_connector = queue_connector
        self._patience = QTimer(self)
        self._patience.setSingleShot(True)
        self._patience.setInterval(int(patience_seconds * 1000))
        self._patience.timeout.connect(self._give_receipt)
        self.current: uuid.UUID | None = None
        self._settled = False

    # ------------------------------------------------------------ submitting
    def submit(self, session: KioskSession, settings: KioskSettings) -> None:
        report_id = session.report_id
        self.current = report_id
        self._settled = False
        base = build_report(session, settings)
        # Copies: the person may go on editing while the bundle is made on the worker.
        steps = [replace(step, markup=list(step.markup)) for step in session.steps]
        snapshot = dict(session.sysinfo) if session.sysinfo is not None else None
        excluded = set(session.excluded_groups)
        clips = list(session.clips)  # encoded already (on Keep); redactions are in their pixels

        def make_bundle() -> ReportBundle:
            from agent.sysinfo import without_groups

            sysinfo = without_groups(snapshot, excluded) if snapshot is not None else None
            # A walk-up never sends the unmarked original beside its mark-up (the person may not
            # know a copy would travel); a flattening is PNG, as the review made it.
            frozen = [freeze_step(step, keep_original=False, encode_image=encode_png) for step in steps]
            return build_bundle(base, frozen, sysinfo=sysinfo, clips=clips)

        self._patience.start()
        self.put(str(report_id), make_bundle)

    def on_queued(self, entry: OutboxEntry) -> None:
        # The report is on disk now; the sender thread was woken by put().
        self.progress.emit(0, 0)

    def on_put_failed(self, exc: Exception) -> None:
        self._patience.stop()
        self._settled = True
        reason = str(exc) if isinstance(exc, OutboxError | ValueError | OSError) else type(exc).__name__
        log.error("a walk-up could not be saved: %s", reason)
        self.refused.emit(reason)

    def on_sending(self, entry: OutboxEntry, sent: int, total: int) -> None:
        if not self._settled:
            self.progress.emit(sent, total)

    def on_not_yet(self, entry: OutboxEntry, reason: str) -> None:
        if not self._settled:
            self._give_receipt()

    def on_dead(self, entry: OutboxEntry, reason: str) -> None:
        # Refused for good is "not yet" for the person: the desk sees the dead letter, they get a receipt.
        self.on_not_yet(entry, reason)

    def _give_receipt(self) -> None:
        if self._settled or self.current is None:
            return
        self._settled = True
        self._patience.stop()
        self.finished.emit(Outcome(report_id=self.current))

    def other_delivered(self, entry: OutboxEntry, receipt: Receipt) -> None:
        # A walk-up from an earlier person, delivered late: its local receipt goes too.
        self.forget_receipt(entry.id)

    def on_delivered(self, entry: OutboxEntry, receipt: Receipt) -> None:
        if self._settled:
            # The person already left with a local receipt; nothing more to show them.
            self.forget_receipt(entry.id)
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
        report_id = uuid.UUID(entry.id)
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
        self.stop_following()
        self._settled = True
        self._patience.stop()

    def close(self) -> None:
        self.bridge.detach()
