"""Writing an internal note or a reply to the reporter: a small window that does not block the queue."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from agent.schema import MAX_DESCRIPTION_CHARS
from technician.model import TicketSummary


class NoteDialog(QDialog):
    """``submitted(text)`` when the technician sends a non-empty text (Ctrl+Enter or the button)."""

    submitted = Signal(str)

    def __init__(self, ticket: TicketSummary, *, internal: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("NoteDialog" if internal else "ReplyDialog")
        self.internal = internal
        who = ticket.reporter_name or ticket.reporter_email or "the reporter"
        self.setWindowTitle(f"{'Internal note on' if internal else 'Reply on'} {ticket.number}")
        hint = QLabel(
            "Only technicians see internal notes." if internal else f"{who} sees this reply with the ticket's status."
        )
        hint.setWordWrap(True)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("NoteText")
        self.editor.setPlaceholderText("Write here; Ctrl+Enter sends")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.send_button = self.buttons.addButton(
            "Add note" if internal else "Send reply", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.accepted.connect(self._send)
        self.buttons.rejected.connect(self.reject)
        self.limit = QLabel()
        self.limit.setStyleSheet("color: palette(dark);")
        self.editor.textChanged.connect(self._update)
        # The editor takes Ctrl+Return for itself (a line break), so it is caught before it gets there.
        self.editor.installEventFilter(self)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.limit)
        layout.addWidget(self.buttons)
        self.resize(560, 320)
        self._update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if (
            watched is self.editor
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self._send()
            return True
        return super().eventFilter(watched, event)

    def text(self) -> str:
        return self.editor.toPlainText().strip()

    def _update(self) -> None:
        length = len(self.text())
        self.send_button.setEnabled(0 < length <= MAX_DESCRIPTION_CHARS)
        self.limit.setText(
            f"{length:,} of {MAX_DESCRIPTION_CHARS:,} characters"
            + (" — too long, shorten it to send" if length > MAX_DESCRIPTION_CHARS else "")
        )

    def _send(self) -> None:
        text = self.text()
        if not 0 < len(text) <= MAX_DESCRIPTION_CHARS:
            return
        self.submitted.emit(text)
        self.accept()
