"""My requests (delivered reports and their tickets' status) and the Outbox (reports waiting to be sent).

Both read the outbox through its public API and change it only through its commands (wake,
retry, purge). Ticket status is read back through the connector, where it can read, on a
worker thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Final

from PySide6.QtCore import QCoreApplication, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from agent.connectors.base import Capability, Connector, ConnectorError
from agent.outbox import EntryState, Outbox, OutboxEntry, OutboxError, Receipt, waits_for_local_server
from shared_qt.outbox_bridge import OutboxBridge
from shared_qt.workers import BackgroundRunner

log = logging.getLogger(__name__)

REFRESH_MS: Final = 2000
MAX_STATUS_LOOKUPS: Final = 20
ConnectorFactory = Callable[[], Connector]


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")


def _cell(text: str, tooltip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if tooltip:
        item.setToolTip(tooltip)
    return item


def _table(headers: list[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(headers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


_ATTENTION_ADVICE: Final = {
    EntryState.DEAD: "kept here; fix what it says if you can, then select it and press Retry, or Remove it.",
    EntryState.ATTENTION: "the help desk failed it the same way for a day; it is kept but no longer sent on "
    "its own. Tell the help desk, then select it and press Retry.",
}


def describe_state(entry: OutboxEntry, now: float | None = None) -> str:
    """A queued report's state for a person."""
    now = time.time() if now is None else now
    if entry.sending:
        return "sending now"
    if entry.state is EntryState.DEAD:
        return "needs attention: refused by the help desk"
    if entry.state is EntryState.ATTENTION:
        return "needs attention: the help desk keeps failing it"
    if entry.state is EntryState.PAUSED:
        return "waiting for you to fix the sign-in or settings"
    if waits_for_local_server(entry):
        # Its backoff time would mislead: it goes as soon as the server is back.
        return "waiting for the help desk server on this machine"
    if entry.waits_for_network:
        # A sign-in page or a proxy answers instead of the help desk: its next-try time would mislead,
        # it goes once the network lets it through. The "Why it waits" column says what to do.
        return QCoreApplication.translate("OutboxWindow", "waiting for the network (see why)")
    if entry.next_attempt_at <= now:
        return "will be sent now"
    seconds = entry.next_attempt_at - now
    wait = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
    return f"waiting, next try in {wait}"


class OutboxWindow(QWidget):
    """Reports waiting to be sent, with why they wait; Send now, Retry, Remove."""

    def __init__(self, outbox: Outbox, bridge: OutboxBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("outbox-window")
        self.setWindowTitle("Outbox — ShowDesk")
        self.outbox = outbox
        self.summary = QLabel()
        self.summary.setObjectName("outbox-summary")
        self.summary.setWordWrap(True)
        self.table = _table(["Report", "State", "Tries", "Size", "Why it waits"], "outbox-table")
        self.send_now_button = QPushButton("Send now")
        self.send_now_button.setObjectName("send-now")
        self.send_now_button.setToolTip("Try every waiting report now (after connecting the VPN, say)")
        self.send_now_button.clicked.connect(self.send_now)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setObjectName("retry")
        self.retry_button.clicked.connect(self.retry_selected)
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setObjectName("remove")
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.send_now_button)
        buttons.addWidget(self.retry_button)
        buttons.addStretch(1)
        buttons.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.entries: list[OutboxEntry] = []
        # Retry and Remove follow the selection at once, not at the next refresh.
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        bridge.changed.connect(self.refresh)
        bridge.sending_signal.connect(lambda *_: self.refresh())
        self.resize(820, 360)
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh()
        self._timer.start()

    def hideEvent(self, event: object) -> None:  # noqa: N802 - Qt's name
        self._timer.stop()

    def refresh(self) -> None:
        selected = self.selected_id()
        self.entries = self.outbox.list()
        self.table.setRowCount(len(self.entries))
        now = time.time()
        for row, entry in enumerate(self.entries):
            self.table.setItem(row, 0, _cell(entry.subject or entry.id[:8], f"report {entry.id}"))
            self.table.setItem(row, 1, _cell(describe_state(entry, now)))
            self.table.setItem(row, 2, _cell(str(entry.attempts)))
            self.table.setItem(row, 3, _cell(f"{entry.size / 1024:.0f} KiB"))
            why = entry.last_error or ""
            if entry.needs_attention:
                # What to do comes with the reason, in this window's words (the tooltip has it all).
                why = f"{why} — {_ATTENTION_ADVICE[entry.state]}"
            self.table.setItem(row, 4, _cell(why, why))
            if entry.id == selected:
                self.table.selectRow(row)
        count = len(self.entries)
        held = sum(1 for e in self.entries if e.needs_attention)
        summary = (
            "Nothing is waiting: every report was delivered."
            if not count
            else f"{count} report{'s' if count != 1 else ''} waiting. They are kept on this computer and sent "
            "automatically when the help desk can be reached."
        )
        if held:
            summary += (
                f" {held} need{'s' if held == 1 else ''} your attention: kept, but sent again only when you "
                "select it and press Retry (see why in the table)."
            )
        self.summary.setText(summary)
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_selection = self.selected_id() is not None
        self.retry_button.setEnabled(has_selection)
        self.remove_button.setEnabled(has_selection)
        self.send_now_button.setEnabled(bool(self.entries))

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if rows and rows[0].row() < len(self.entries):
            return self.entries[rows[0].row()].id
        if len(self.entries) == 1:
            return self.entries[0].id
        return None

    def send_now(self) -> None:
        self.outbox.wake()
        self.refresh()

    def retry_selected(self) -> None:
        entry_id = self.selected_id()
        if entry_id is None:
            return
        try:
            self.outbox.retry(entry_id)
        except OutboxError as exc:
            QMessageBox.information(self, "Outbox", str(exc))
        self.refresh()

    def remove_selected(self) -> None:
        entry_id = self.selected_id()
        if entry_id is None:
            return
        answer = QMessageBox.question(
            self,
            "Remove this report?",
            "The report will be deleted from this computer without being sent. Remove it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.outbox.purge(entry_id)
        except OutboxError as exc:
            QMessageBox.information(self, "Outbox", str(exc))
        self.refresh()


class RequestsWindow(QWidget):
    """The agent's main window: my requests (receipts and ticket status), and the agent's actions."""

    report_requested = Signal()
    record_requested = Signal()
    outbox_requested = Signal()
    settings_requested = Signal()

    def __init__(
        self,
        outbox: Outbox,
        bridge: OutboxBridge,
        connector_factory: ConnectorFactory | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("requests-window")
        self.setWindowTitle("My requests — ShowDesk")
        self.outbox = outbox
        self._connector_factory = connector_factory
        self._runner = BackgroundRunner(self, max_threads=1)
        self.statuses: dict[str, str] = {}
        actions = QHBoxLayout()
        for name, label, signal in (
            ("report", "Report a problem…", self.report_requested),
            ("record", "Record steps…", self.record_requested),
            ("outbox", "Outbox", self.outbox_requested),
            ("settings", "Settings…", self.settings_requested),
        ):
            button = QPushButton(label)
            button.setObjectName(f"open-{name}")
            button.clicked.connect(signal.emit)
            actions.addWidget(button)
        actions.addStretch(1)
        self.refresh_button = QPushButton("Refresh status")
        self.refresh_button.setObjectName("refresh-status")
        self.refresh_button.clicked.connect(self.refresh_status)
        actions.addWidget(self.refresh_button)
        self.waiting_label = QLabel()
        self.waiting_label.setObjectName("waiting")
        self.table = _table(["Ticket", "Status", "Sent", "Report"], "requests-table")
        self.table.cellDoubleClicked.connect(self._open)
        layout = QVBoxLayout(self)
        layout.addLayout(actions)
        layout.addWidget(self.waiting_label)
        layout.addWidget(self.table, 1)
        self.receipts: list[Receipt] = []
        bridge.changed.connect(self.refresh)
        self.resize(760, 420)
        self.refresh()

    def refresh(self) -> None:
        self.receipts = self.outbox.receipts()
        waiting = [e for e in self.outbox.list() if not e.needs_attention]
        self.waiting_label.setText(
            f"{len(waiting)} report{'s' if len(waiting) != 1 else ''} waiting to be sent (see Outbox)."
            if waiting
            else ""
        )
        self.table.setRowCount(len(self.receipts))
        for row, receipt in enumerate(self.receipts):
            status = self.statuses.get(receipt.report_id, receipt.status)
            self.table.setItem(row, 0, _cell(receipt.number, receipt.url))
            self.table.setItem(row, 1, _cell(status))
            self.table.setItem(row, 2, _cell(_when(receipt.delivered_at)))
            self.table.setItem(row, 3, _cell(receipt.report_id[:8], receipt.report_id))

    def refresh_status(self) -> None:
        """Read the tickets' current status back from the help desk (where the backend allows it)."""
        factory = self._connector_factory
        if factory is None:
            return
        wanted = [(r.report_id, r.ticket_id) for r in self.receipts[:MAX_STATUS_LOOKUPS]]
        self.refresh_button.setEnabled(False)

        def look_up() -> dict[str, str]:
            found: dict[str, str] = {}
            with factory() as connector:
                if Capability.READ not in connector.capabilities:
                    return found
                for report_id, ticket_id in wanted:
                    try:
                        found[report_id] = connector.get_ticket(ticket_id).ticket.status
                    except ConnectorError as exc:
                        log.info("status of ticket %s unknown: %s", ticket_id, exc)
            return found

        def done(found: dict[str, str]) -> None:
            self.statuses.update(found)
            self.refresh_button.setEnabled(True)
            self.refresh()

        def failed(exc: Exception) -> None:
            self.refresh_button.setEnabled(True)
            self.waiting_label.setText(f"The status could not be read from the help desk: {exc}")

        self._runner.run(look_up, done, failed)

    def _open(self, row: int, _column: int) -> None:
        if 0 <= row < len(self.receipts) and self.receipts[row].url.startswith(("http://", "https://")):
            QDesktopServices.openUrl(QUrl(self.receipts[row].url))

    def wait_idle(self) -> None:
        self._runner.wait_idle()
