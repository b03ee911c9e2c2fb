"""Work on tickets: status, assignment, notes and replies, calling the next walk-up visitor, export.

Each action answers with ``action_done`` (a line for the status bar) or ``action_failed``. The
queue shows a changed ticket at once; the changes feed, where the backend has one, tells the
viewer, else the open ticket is loaded again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QObject, Signal

from agent.fsutil import atomic_write_bytes
from technician.client import CallResult, Feature
from technician.connection import BackendConnection, reason
from technician.model import TicketSummary
from technician.queue_model import QueueModel
from technician.ticket_loader import TicketLoader
from technician.walk_up import WalkUpBoards

Result = TypeVar("Result")


class WorkActions(QObject):
    """What a technician does to a ticket, each a backend call off the GUI thread."""

    action_done = Signal(str)
    action_failed = Signal(str)
    called = Signal(object)  # CallResult

    def __init__(
        self,
        connection: BackendConnection,
        model: QueueModel,
        boards: WalkUpBoards,
        tickets: TicketLoader,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._connection = connection
        self._model = model
        self._boards = boards
        self._tickets = tickets

    def _run(self, function: Callable[[], Result], on_result: Callable[[Result], None]) -> None:
        self._connection.run(function, on_result, lambda error: self.action_failed.emit(reason(error)))

    def _changed(self, summary: TicketSummary, message: str) -> None:
        self._model.apply_ticket(summary)
        self._model.mark_read(summary.id)
        self.action_done.emit(message)
        if Feature.LIVE not in self._connection.features and summary.id == self._tickets.current_ticket_id:
            self._tickets.open_ticket(summary.id)  # no feed will tell the viewer

    def set_status(self, ticket_id: str, status: str) -> None:
        client = self._connection.require_client()
        self._run(
            lambda: client.set_status(ticket_id, status),
            lambda t: self._changed(t, f"{t.number} is now {t.status}"),
        )

    def assign(self, ticket_id: str, assignee: str | None) -> None:
        """``"me"`` claims the ticket; None gives it back to the pool."""
        client = self._connection.require_client()

        def done(ticket: TicketSummary) -> None:
            self._changed(
                ticket,
                f"{ticket.number} assigned to {ticket.assignee}"
                if ticket.assignee
                else f"{ticket.number} is unassigned",
            )

        self._run(lambda: client.assign(ticket_id, assignee), done)

    def add_note(self, ticket_id: str, text: str, *, internal: bool) -> None:
        client = self._connection.require_client()

        def done(_result: object) -> None:
            self.action_done.emit("Internal note added" if internal else "Reply sent to the reporter")
            if Feature.LIVE not in self._connection.features and ticket_id == self._tickets.current_ticket_id:
                self._tickets.open_ticket(ticket_id)

        self._run(lambda: client.add_note(ticket_id, text, internal=internal), done)

    def revoke_link(self, ticket_id: str) -> None:
        """Revoke the person's link to the ticket's page: the old one is a 404 at once."""
        client = self._connection.require_client()

        def done(_link: object) -> None:
            self.action_done.emit(self.tr("The person's old link no longer works; Copy link gives the new one"))
            # The revocation is an internal event: the feed brings the ticket with its new link.
            if Feature.LIVE not in self._connection.features and ticket_id == self._tickets.current_ticket_id:
                self._tickets.open_ticket(ticket_id)

        self._run(lambda: client.revoke_link(ticket_id), done)

    def call_next(self, site: str) -> None:
        client = self._connection.require_client()

        def done(result: CallResult) -> None:
            self._boards.put([result.board])
            self.called.emit(result)
            if result.called is None:
                self.action_done.emit(f"Nobody is waiting at {site}")
            else:
                self._model.apply_own_change(result.called)
                who = result.called.reporter_name or result.called.number
                self.action_done.emit(f"Called {who} ({result.called.number}) at {site}")

        self._run(lambda: client.call_next(site), done)

    def export_bundle(self, ticket_id: str, destination: Path) -> None:
        client = self._connection.require_client()

        def work() -> str:
            number, data = client.export_bundle(ticket_id)
            atomic_write_bytes(destination, data, mode=0o600)
            return number

        self._run(work, lambda number: self.action_done.emit(f"{number} saved as {destination}"))
