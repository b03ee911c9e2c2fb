"""The queue model's quick paint path: what the view is shown, and the work a repaint does per row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import QModelRoleData, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from agent.flags import Flag
from technician.client import TicketPage
from technician.model import Column, QueueFilter, ReadState, Row, TicketSummary
from technician.queue_model import SEVERITY_COLOURS, TICKET_ID_ROLE, UNREAD_ROLE, QueueModel

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ROLES = (
    *(int(role) for role in Qt.ItemDataRole if int(role) < int(Qt.ItemDataRole.UserRole)),
    TICKET_ID_ROLE,
    UNREAD_ROLE,
    int(Qt.ItemDataRole.UserRole) + 9,  # one the model does not use
)


class CountingSource:
    def __init__(self) -> None:
        self.flags_asked: list[str] = []

    def request_page(self, filters: QueueFilter, cursor: str | None, generation: int) -> None:
        pass

    def request_flags(self, ticket_id: str) -> None:
        self.flags_asked.append(ticket_id)


def ticket(number: int, **fields: Any) -> TicketSummary:
    values: dict[str, Any] = {
        "id": f"id-{number}",
        "number": f"SD-{number}",
        "status": "new",
        "subject": f"Printing: ticket {number}",
        "category": "Printing",
        "source_id": f"pc-{number}",
        "created_at": NOW + timedelta(minutes=number),
        "updated_at": NOW + timedelta(minutes=number),
    }
    values.update(fields)
    return TicketSummary(**values)


@pytest.fixture
def model(qtbot: QtBot) -> QueueModel:
    del qtbot  # a QApplication must exist
    queue = QueueModel(CountingSource(), ReadState(None, now=0.0))
    queue.now = lambda: (NOW + timedelta(hours=3)).timestamp()
    queue.reset(QueueFilter())
    queue.page_loaded(queue.generation, TicketPage([ticket(n, walk_up=n % 3 == 0) for n in range(40, 0, -1)], None))
    return queue


def answer_one_role(queue: QueueModel, row: int, column: int, role: int, slot: QModelRoleData | None = None) -> Any:
    slot = QModelRoleData(role) if slot is None else slot
    queue.multiData(queue.index(row, column), slot)
    return slot.data()


def test_every_role_of_every_cell_answers_through_multi_data_what_data_answers(model: QueueModel) -> None:
    model.mark_read("id-39")
    model.set_flags("id-38", [Flag("disk", "critical", "Disk almost full", "storage")])
    model.set_flags("id-37", [Flag("uptime", "info", "Up for 40 days", "system")])
    model.set_flags("id-36", [])
    for row in range(6):
        for column in Column:
            for role in ROLES:
                assert answer_one_role(model, row, column, role) == model.data(model.index(row, column), role), (
                    row,
                    column.name,
                    role,
                )
    # The cases that differ from row to row really are told apart.
    unread_font = answer_one_role(model, 0, Column.SUBJECT, Qt.ItemDataRole.FontRole)
    assert isinstance(unread_font, QFont) and unread_font.bold()
    assert answer_one_role(model, 1, Column.SUBJECT, Qt.ItemDataRole.FontRole) is None  # read
    critical = answer_one_role(model, 2, Column.FLAGS, Qt.ItemDataRole.ForegroundRole)
    assert critical.color().name() == SEVERITY_COLOURS["critical"]
    assert answer_one_role(model, 2, Column.SUBJECT, Qt.ItemDataRole.ForegroundRole) is None
    assert answer_one_role(model, 0, Column.AGE, Qt.ItemDataRole.DisplayRole) == model.data(model.index(0, Column.AGE))
    assert answer_one_role(model, 0, Column.STEPS, Qt.ItemDataRole.TextAlignmentRole) == int(
        Qt.AlignmentFlag.AlignCenter
    )


def test_a_slot_handed_on_from_an_unread_cell_is_cleared_for_a_read_one(model: QueueModel) -> None:
    model.mark_read("id-39")
    slot = QModelRoleData(int(Qt.ItemDataRole.BackgroundRole))
    assert answer_one_role(model, 0, Column.NUMBER, slot.role(), slot) is not None  # unread: tinted
    assert answer_one_role(model, 1, Column.NUMBER, slot.role(), slot) is None


def test_a_rows_texts_are_built_once_however_often_it_is_painted(
    model: QueueModel, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    build = model._texts

    def counting(row: Row) -> tuple[str, ...]:
        built.append(row.ticket.id)
        return build(row)

    monkeypatch.setattr(model, "_texts", counting)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(900, 300)
    view.show()
    qtbot.waitExposed(view)
    view.grab()
    painted = set(built)
    assert painted and len(built) == len(painted)  # every painted row once, none twice
    for _ in range(3):
        view.grab()
    assert len(built) == len(painted)
    source = model._source
    assert isinstance(source, CountingSource)
    assert sorted(source.flags_asked) == sorted(painted)  # and its flags asked for once

    model.mark_read("id-40")  # what the row shows changed: its texts are built again, once
    view.grab()
    view.grab()
    assert built.count("id-40") == 2
    assert model.index(0, Column.NUMBER).data() == "SD-40"  # the unread mark gone
