"""One report's way out through the outbox, followed from the GUI thread.

The report's bundle is made and put in the outbox on a background runner; the outbox's sender
thread delivers it and reports through an :class:`OutboxBridge`. An :class:`OutboxSubmission` follows
one report at a time and hands the events about *that* report to the hooks below; the apps
subclass it for what they tell the person (the laptop app: a status line and a notification;
the kiosk: a local receipt after a while, the place in the walk-up queue).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from agent.bundle import ReportBundle
from agent.outbox import Outbox, OutboxEntry, Receipt
from shared_qt.outbox_bridge import OutboxBridge
from shared_qt.workers import BackgroundRunner


class OutboxSubmission(QObject):
    """Puts a bundle in the outbox (``put``) and follows that report's events through the hooks.

    Every hook runs on the GUI thread. Events about other reports reach only
    :meth:`other_delivered`; everything else about them is left to whoever shows the outbox.
    """

    def __init__(
        self,
        outbox: Outbox,
        bridge: OutboxBridge,
        runner: BackgroundRunner | None = None,
        *,
        backend_name: str = "default",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.outbox = outbox
        self.bridge = bridge
        # Without the app's runner, one worker of its own: reports are frozen one after another.
        self.runner = runner if runner is not None else BackgroundRunner(self, max_threads=1)
        self.backend_name = backend_name
        self.report_id: str | None = None  # the report followed, from ``put`` on
        bridge.sending_signal.connect(self._sending)
        bridge.delivered_signal.connect(self._delivered)
        bridge.failed_signal.connect(self._failed_attempt)
        bridge.paused_signal.connect(self._paused)
        bridge.dead_signal.connect(self._dead)
        # For the person the two are alike: kept in the outbox, sent again only when someone says so.
        bridge.attention_signal.connect(self._dead)

    def put(self, report_id: str, make_bundle: Callable[[], ReportBundle]) -> None:
        """Follow ``report_id`` from now on; make its bundle and put it in the outbox off this thread.

        ``make_bundle`` runs on the runner (freezing flattens mark-up and encodes images) and
        must make the report ``report_id``: the events are matched by that id.
        """
        self.report_id = report_id
        outbox, backend = self.outbox, self.backend_name

        def make_and_put() -> OutboxEntry:
            return outbox.put(make_bundle(), backend)

        self.runner.run(make_and_put, self.on_queued, self.on_put_failed)

    def follows(self, entry: OutboxEntry) -> bool:
        """Whether ``entry`` is the report this submission follows."""
        return self.report_id is not None and entry.id == self.report_id

    def stop_following(self) -> None:
        """Events about the report followed so far go nowhere from now on."""
        self.report_id = None

    # ------------------------------------------------------------ hooks for the apps
    def on_queued(self, entry: OutboxEntry) -> None:
        """The report is safe on disk (the sender thread was woken by the put)."""

    def on_put_failed(self, exc: Exception) -> None:
        """Making the bundle or putting it in the outbox failed: nothing was queued."""

    def on_sending(self, entry: OutboxEntry, sent: int, total: int) -> None:
        """Upload progress of an attempt (bytes; (0, 0) while connecting)."""

    def on_delivered(self, entry: OutboxEntry, receipt: Receipt) -> None:
        """The backend confirmed the report."""

    def on_not_yet(self, entry: OutboxEntry, reason: str) -> None:
        """An attempt failed or the outbox paused it: it stays queued and is tried again."""

    def on_dead(self, entry: OutboxEntry, reason: str) -> None:
        """The backend refused the report for good, or failed it the same way for a day of tries:
        the outbox keeps it and sends it again only by hand."""

    def other_delivered(self, entry: OutboxEntry, receipt: Receipt) -> None:
        """A report this submission does not follow (an earlier one) was delivered."""

    # ------------------------------------------------------------ the bridge's events, sorted
    def _sending(self, entry: OutboxEntry, sent: int, total: int) -> None:
        if self.follows(entry):
            self.on_sending(entry, sent, total)

    def _delivered(self, entry: OutboxEntry, receipt: Receipt) -> None:
        if self.follows(entry):
            self.on_delivered(entry, receipt)
        else:
            self.other_delivered(entry, receipt)

    def _failed_attempt(self, entry: OutboxEntry, reason: str, _next_attempt_at: float) -> None:
        if self.follows(entry):
            self.on_not_yet(entry, reason)

    def _paused(self, entry: OutboxEntry, reason: str) -> None:
        if self.follows(entry):
            self.on_not_yet(entry, reason)

    def _dead(self, entry: OutboxEntry, reason: str) -> None:
        if self.follows(entry):
            self.on_dead(entry, reason)
