"""My requests (delivered reports, their tickets' status and conversation) and the Outbox (reports waiting to be sent).

Both read the outbox through its public API and change it only through its commands (wake,
retry, purge). Ticket status is read back through the connector, where it can read, on a
worker thread.

My requests also shows the help desk's public replies to the selected request and lets the
person answer, with text and screenshots taken through the agent's capture service. The
replies come from :class:`agent.laptop.replies.ReplyPoller` (Qt-free, on its own thread),
observed through :class:`RepliesBridge`. Every text a technician wrote is shown as plain text:
Qt never renders it as rich text. An answer keeps its idempotency key until the help desk has
it, so a double click or a resend after a lost reply records it once.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from agent.connectors.base import Capability, Connector, ConnectorError
from agent.laptop.replies import ConversationReader, NewReply, ReplyPoller
from agent.outbox import EntryState, Outbox, OutboxEntry, OutboxError, Receipt, waits_for_local_server
from agent.read_models import Conversation, ConversationEntry
from agent.report_format import sniff_image_type
from shared_qt.outbox_bridge import OutboxBridge
from shared_qt.workers import BackgroundRunner

if TYPE_CHECKING:
    from agent.connectors.builtin import AnswerPhoto, AnswerSent
    from agent.laptop.capture_service import Captured, CaptureService

log = logging.getLogger(__name__)

REFRESH_MS: Final = 2000
MAX_STATUS_LOOKUPS: Final = 20
MAX_ANSWER_SHOTS: Final = 5  # the server's bound on photos per answer (server.api.photos.MAX_ANSWER_PHOTOS)
MAX_ANSWER_CHARS: Final = 4000  # the server's bound on an answer's text (agent.schema.MAX_DESCRIPTION_CHARS)
PREVIEW_CHARS: Final = 80
ConnectorFactory = Callable[[], Connector]
_EXTENSIONS: Final = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
# Bidirectional controls (as the requester's page treats them, server/requester/security.py).
_BIDI_CONTROLS: Final = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")


def with_visible_controls(text: str) -> str:
    """A technician's text with its bidirectional controls shown as marks ("[U+202E]").

    Plain text is not enough: a right-to-left override would still reorder what follows it on
    the line (the name in a header, the rest of a preview), so what a person reads could differ
    from what was written.
    """
    return _BIDI_CONTROLS.sub(lambda match: f"[U+{ord(match.group(0)):04X}]", text)


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


class RepliesBridge(QObject):
    """The reply poller's news as signals on the GUI thread (the poller calls from its own thread)."""

    conversation_changed = Signal(str, object)  # report id, Conversation
    replies_arrived = Signal(object)  # list[NewReply]
    failed = Signal(str, float)  # reason, seconds to the next try

    def __init__(self, poller: ReplyPoller, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.poller = poller
        # The latest reading per report id: a My requests window opened later starts from it.
        self.conversations: dict[str, Conversation] = {}
        poller.add_listener(self)

    def conversation_read(self, report_id: str, conversation: Conversation) -> None:
        self.conversations[report_id] = conversation  # one assignment: safe from the poller's thread
        self.conversation_changed.emit(report_id, conversation)

    def new_replies(self, replies: list[NewReply]) -> None:
        self.replies_arrived.emit(replies)

    def poll_failed(self, reason: str, next_in: float) -> None:
        self.failed.emit(reason, next_in)

    def poll_now(self) -> None:
        self.poller.poll_now()

    def detach(self) -> None:
        self.poller.remove_listener(self)


def screenshots_attached(count: int) -> str:
    # Two literal texts rather than "%n screenshot(s)": the English source is shown as it is.
    if count == 1:
        return QCoreApplication.translate("RequestsWindow", "1 screenshot attached")
    return QCoreApplication.translate("RequestsWindow", "{count} screenshots attached").format(count=count)


@dataclass
class AnswerDraft:
    """An answer being written for one ticket: its screenshots and the key it is sent under.

    The key is made with the draft and kept until the help desk confirms the answer (new or a
    replay), so every resend of the same answer (a double click, a retry after a lost reply)
    carries it and the server records the answer once.
    """

    text: str = ""
    shots: list[AnswerPhoto] = field(default_factory=list)
    key: str = field(default_factory=lambda: uuid.uuid4().hex)


class MessageView(QFrame):
    """One message of the conversation: who and when, then the text, always as plain text."""

    def __init__(self, entry: ConversationEntry, header: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        self.setObjectName(f"message-{entry.kind}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        self.header = QLabel(header)
        self.header.setObjectName("message-header")
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        font = self.header.font()
        font.setBold(True)
        self.header.setFont(font)
        self.body = QLabel(with_visible_controls(entry.text))
        self.body.setObjectName("message-text")
        # A technician's text is data, never mark-up: "<b>x</b><img src=x>" shows as typed.
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.header)
        layout.addWidget(self.body)
        if entry.photos:
            photos = QLabel(screenshots_attached(len(entry.photos)))
            photos.setObjectName("message-photos")
            photos.setTextFormat(Qt.TextFormat.PlainText)
            layout.addWidget(photos)


class RequestsWindow(QWidget):
    """The agent's main window: my requests (receipts, ticket status, the conversation), and the agent's actions."""

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
        *,
        replies: RepliesBridge | None = None,
        capture: CaptureService | None = None,
    ) -> None:
        """``replies`` feeds the conversations (none: only the status is read back); ``capture``
        takes the screenshots of an answer (none: answers are text only)."""
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
        self.table = _table(["Ticket", "Status", "Sent", "Report", self.tr("Latest reply")], "requests-table")
        self.table.cellDoubleClicked.connect(self._open)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.receipts: list[Receipt] = []
        self.conversations: dict[str, Conversation] = {}  # by report id
        self.drafts: dict[str, AnswerDraft] = {}  # by report id
        self.shown_report: str | None = None
        self.sending: str | None = None  # the report id whose answer is on its way
        self.replies = replies
        self.capture = capture
        self._answer_runner = BackgroundRunner(self, max_threads=1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self._conversation_pane())
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(actions)
        layout.addWidget(self.waiting_label)
        layout.addWidget(splitter, 1)
        bridge.changed.connect(self.refresh)
        if replies is not None:
            self.conversations.update(replies.conversations)
            replies.conversation_changed.connect(self._conversation_read)
        if capture is not None:
            capture.captured.connect(self._captured)
            capture.failed.connect(self._capture_failed)
            capture.cancelled.connect(self._capture_cancelled)
        self.resize(820, 640)
        self.refresh()

    def _conversation_pane(self) -> QWidget:
        pane = QWidget()
        pane.setObjectName("conversation")
        self.conversation_title = QLabel(self.tr("Select a request to see the help desk's replies."))
        self.conversation_title.setObjectName("conversation-title")
        self.conversation_title.setTextFormat(Qt.TextFormat.PlainText)
        self.conversation_title.setWordWrap(True)
        self.messages = QWidget()
        self.messages.setObjectName("messages")
        self.messages_layout = QVBoxLayout(self.messages)
        self.messages_layout.setContentsMargins(0, 0, 0, 0)
        self.messages_layout.addStretch(1)
        self.messages_scroll = QScrollArea()
        self.messages_scroll.setObjectName("messages-scroll")
        self.messages_scroll.setWidgetResizable(True)
        self.messages_scroll.setWidget(self.messages)
        self.answer_text = QPlainTextEdit()
        self.answer_text.setObjectName("answer-text")
        self.answer_text.setPlaceholderText(self.tr("Answer the help desk…"))
        self.answer_text.setAccessibleName(self.tr("Your answer"))
        self.answer_text.setMaximumHeight(110)
        self.answer_text.textChanged.connect(self._answer_edited)
        self.shots_label = QLabel()
        self.shots_label.setObjectName("answer-shots")
        self.shots_label.setTextFormat(Qt.TextFormat.PlainText)
        self.screenshot_button = QPushButton(self.tr("Add a screenshot"))
        self.screenshot_button.setObjectName("answer-screenshot")
        self.screenshot_button.setToolTip(self.tr("This window steps aside while the screen is captured"))
        self.screenshot_button.clicked.connect(self.add_screenshot)
        self.remove_shots_button = QPushButton(self.tr("Remove screenshots"))
        self.remove_shots_button.setObjectName("answer-remove-shots")
        self.remove_shots_button.clicked.connect(self.remove_screenshots)
        self.send_button = QPushButton(self.tr("Send answer"))
        self.send_button.setObjectName("answer-send")
        self.send_button.clicked.connect(self.send_answer)
        self.answer_status = QLabel()
        self.answer_status.setObjectName("answer-status")
        self.answer_status.setTextFormat(Qt.TextFormat.PlainText)
        self.answer_status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.screenshot_button)
        buttons.addWidget(self.remove_shots_button)
        buttons.addWidget(self.shots_label, 1)
        buttons.addWidget(self.send_button)
        layout = QVBoxLayout(pane)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.conversation_title)
        layout.addWidget(self.messages_scroll, 1)
        layout.addWidget(self.answer_text)
        layout.addLayout(buttons)
        layout.addWidget(self.answer_status)
        self._update_composer()
        return pane

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.replies is not None:
            self.replies.poll_now()  # what the person opens the window for is read at once

    def refresh(self) -> None:
        self.receipts = self.outbox.receipts()
        waiting = [e for e in self.outbox.list() if not e.needs_attention]
        self.waiting_label.setText(
            f"{len(waiting)} report{'s' if len(waiting) != 1 else ''} waiting to be sent (see Outbox)."
            if waiting
            else ""
        )
        shown = self.shown_report
        self.table.blockSignals(True)  # rebuilding the rows is no change of selection
        self.table.setRowCount(len(self.receipts))
        for row, receipt in enumerate(self.receipts):
            conversation = self.conversations.get(receipt.report_id)
            status = self.statuses.get(receipt.report_id, receipt.status)
            if conversation is not None:
                status = conversation.status
            latest = conversation.replies()[-1].text if conversation is not None and conversation.replies() else ""
            preview = " ".join(with_visible_controls(latest).split())
            preview = preview if len(preview) <= PREVIEW_CHARS else preview[: PREVIEW_CHARS - 1] + "…"
            self.table.setItem(row, 0, _cell(receipt.number, receipt.url))
            self.table.setItem(row, 1, _cell(status))
            self.table.setItem(row, 2, _cell(_when(receipt.delivered_at)))
            self.table.setItem(row, 3, _cell(receipt.report_id[:8], receipt.report_id))
            self.table.setItem(row, 4, _cell(preview))  # a table cell is plain text
            if receipt.report_id == shown:
                self.table.selectRow(row)
        self.table.blockSignals(False)
        if shown is None and self.receipts:
            self.table.selectRow(0)  # the newest request's conversation is shown at once
        elif shown is not None and all(r.report_id != shown for r in self.receipts):
            self.show_conversation(None)

    def refresh_status(self) -> None:
        """Read the tickets' current status back from the help desk (where the backend allows it)."""
        if self.replies is not None:
            self.replies.poll_now()  # the conversations too
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

    # ------------------------------------------------------------ the conversation
    def selected_receipt(self) -> Receipt | None:
        model = self.table.selectionModel()
        rows = model.selectedRows() if model is not None else []
        if rows and rows[0].row() < len(self.receipts):
            return self.receipts[rows[0].row()]
        return None

    def select_report(self, report_id: str) -> None:
        for row, receipt in enumerate(self.receipts):
            if receipt.report_id == report_id:
                self.table.selectRow(row)
                return

    def _selection_changed(self) -> None:
        receipt = self.selected_receipt()
        self.show_conversation(receipt.report_id if receipt is not None else None)

    def _conversation_read(self, report_id: str, conversation: Conversation) -> None:
        before = self.conversations.get(report_id)
        self.conversations[report_id] = conversation
        self.statuses[report_id] = conversation.status
        if before != conversation:
            self.refresh()
            if report_id == self.shown_report:
                self._show_messages(conversation)
        self._update_composer()

    def show_conversation(self, report_id: str | None) -> None:
        """Show the selected request's conversation and its draft answer (kept per request)."""
        if self.shown_report is not None and self.shown_report in self.drafts:
            self.drafts[self.shown_report].text = self.answer_text.toPlainText()
        self.shown_report = report_id
        receipt = next((r for r in self.receipts if r.report_id == report_id), None)
        self.answer_text.blockSignals(True)
        self.answer_text.setPlainText(self.drafts[report_id].text if report_id in self.drafts else "")
        self.answer_text.blockSignals(False)
        self.answer_status.clear()
        if receipt is None:
            self.conversation_title.setText(self.tr("Select a request to see the help desk's replies."))
            self._show_messages(None)
        else:
            self.conversation_title.setText(self.tr("Messages about {number}").format(number=receipt.number))
            self._show_messages(self.conversations.get(receipt.report_id))
        self._update_composer()

    def _show_messages(self, conversation: Conversation | None) -> None:
        while self.messages_layout.count() > 1:  # the last item is the stretch
            item = self.messages_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        entries = conversation.entries if conversation is not None else []
        if conversation is not None and not entries:
            empty = QLabel(self.tr("No reply from the help desk yet. You will be told when one arrives."))
            empty.setObjectName("no-messages")
            empty.setWordWrap(True)
            self.messages_layout.insertWidget(0, empty)
        for index, entry in enumerate(entries):
            when = entry.at.astimezone().strftime("%Y-%m-%d %H:%M")
            if entry.kind == "reply":
                name = with_visible_controls(entry.actor)
                header = self.tr("Help desk ({name}) · {when}").format(name=name, when=when)
            else:
                header = self.tr("You · {when}").format(when=when)
            self.messages_layout.insertWidget(index, MessageView(entry, header))
        if entries:
            bar = self.messages_scroll.verticalScrollBar()
            QTimer.singleShot(0, lambda: bar.setValue(bar.maximum()))  # the newest message in view

    def message_views(self) -> list[MessageView]:
        """The messages shown, oldest first."""
        views = []
        for index in range(self.messages_layout.count()):
            item = self.messages_layout.itemAt(index)
            widget = item.widget() if item is not None else None
            if isinstance(widget, MessageView):
                views.append(widget)
        return views

    # ------------------------------------------------------------ answering
    def _draft(self) -> AnswerDraft | None:
        if self.shown_report is None:
            return None
        return self.drafts.setdefault(self.shown_report, AnswerDraft())

    def _answer_edited(self) -> None:
        draft = self._draft()
        if draft is not None:
            draft.text = self.answer_text.toPlainText()
        self._update_composer()

    def _can_answer(self) -> bool:
        """A request of a backend that keeps a conversation (read once), not closed, nothing on its way."""
        if self.shown_report is None or self._connector_factory is None or self.sending is not None:
            return False
        conversation = self.conversations.get(self.shown_report)
        return conversation is not None and conversation.status != "closed"

    def _update_composer(self) -> None:
        can = self._can_answer()
        draft = self.drafts.get(self.shown_report) if self.shown_report is not None else None
        shots = len(draft.shots) if draft is not None else 0
        text = draft.text.strip() if draft is not None else ""
        self.answer_text.setReadOnly(not can)
        self.screenshot_button.setEnabled(
            can and self.capture is not None and not self.capture.busy and shots < MAX_ANSWER_SHOTS
        )
        self.remove_shots_button.setEnabled(can and shots > 0)
        self.send_button.setEnabled(can and (bool(text) or shots > 0) and len(text) <= MAX_ANSWER_CHARS)
        self.shots_label.setText(screenshots_attached(shots) if shots else "")

    def add_screenshot(self) -> None:
        """Capture the screen for the shown request's answer (this window steps aside meanwhile)."""
        if self.capture is None or self.shown_report is None or not self._can_answer():
            return
        if self.capture.request("all", tag=("answer", self.shown_report)):
            self.answer_status.setText(self.tr("Capturing the screen…"))
        self._update_composer()

    def _captured(self, steps: list[Captured], tag: object) -> None:
        if not (isinstance(tag, tuple) and len(tag) == 2 and tag[0] == "answer"):
            return  # a report's or the step recorder's capture
        from agent.connectors.builtin import AnswerPhoto

        draft = self.drafts.setdefault(str(tag[1]), AnswerDraft())
        for step in steps:
            if len(draft.shots) >= MAX_ANSWER_SHOTS:
                break
            media_type = sniff_image_type(step.draft.image) or "image/png"
            name = f"screenshot-{len(draft.shots) + 1}.{_EXTENSIONS.get(media_type, 'png')}"
            draft.shots.append(AnswerPhoto(name, step.draft.image, media_type))
        self.answer_status.setText(self.tr("The screenshot is added to your answer."))
        self._update_composer()

    def _capture_failed(self, reason: str, tag: object) -> None:
        if isinstance(tag, tuple) and tag and tag[0] == "answer":
            self.answer_status.setText(self.tr("The screen could not be captured: {reason}").format(reason=reason))
            self._update_composer()

    def _capture_cancelled(self, tag: object) -> None:
        if isinstance(tag, tuple) and tag and tag[0] == "answer":
            self.answer_status.clear()
            self._update_composer()

    def remove_screenshots(self) -> None:
        draft = self._draft()
        if draft is not None:
            draft.shots.clear()
        self._update_composer()

    def send_answer(self) -> None:
        """Send the shown request's answer on a worker; a second click while it goes does nothing."""
        factory = self._connector_factory
        report_id = self.shown_report
        draft = self._draft()
        receipt = next((r for r in self.receipts if r.report_id == report_id), None)
        if factory is None or draft is None or receipt is None or report_id is None or not self._can_answer():
            return
        text, shots, key = draft.text.strip(), list(draft.shots), draft.key
        if not text and not shots:
            return
        self.sending = report_id
        self.answer_status.setText(self.tr("Sending your answer…"))
        self._update_composer()
        ticket_id = receipt.ticket_id

        def send() -> tuple[AnswerSent, Conversation]:
            with factory() as connector:
                if not isinstance(connector, ConversationReader) or not hasattr(connector, "answer"):
                    raise ConnectorError("this help desk takes answers in its own interface")
                sent: AnswerSent = connector.answer(ticket_id, text, shots, idempotency_key=key)
                return sent, connector.public_timeline(ticket_id)

        def done(result: tuple[AnswerSent, Conversation]) -> None:
            sent, conversation = result
            self.sending = None
            self.drafts.pop(report_id, None)  # the next answer gets a key of its own
            if self.shown_report == report_id:
                self.answer_text.blockSignals(True)
                self.answer_text.clear()
                self.answer_text.blockSignals(False)
                self.answer_status.setText(
                    self.tr("The help desk already had this answer.")
                    if sent.replayed
                    else self.tr("Your answer was sent to the help desk.")
                )
            self._conversation_read(report_id, conversation)
            if self.replies is not None:
                self.replies.poll_now()

        def failed(exc: Exception) -> None:
            self.sending = None
            if self.shown_report == report_id:
                # The draft and its key stay: sending again cannot record the answer twice.
                self.answer_status.setText(
                    self.tr(
                        "Your answer was not sent ({reason}). It is kept here: press Send answer to try again."
                    ).format(reason=exc)
                )
            self._update_composer()

        self._answer_runner.run(send, done, failed)

    def wait_idle(self) -> None:
        self._runner.wait_idle()
        self._answer_runner.wait_idle()
