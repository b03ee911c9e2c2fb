"""What a technician tripped over, checked against the real server: own changes are no news, the
figures count a served walk-up and keep themselves current on whole-number axes, the open
ticket's age keeps counting, and the queue's flags show at the size the window opens at."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests
from PySide6.QtCharts import QValueAxis
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from technician.dashboard import count_axis
from technician.model import Column, ReadState, TicketSummary
from technician.queue_view import COLUMN_WIDTHS, DROP_ORDER, MIN_SUBJECT_WIDTH, columns_to_hide
from technician.window import DEFAULT_SIZE, TechWindow
from tests.fixtures.server import ServerProcess
from tests.technician.conftest import ReportSender, TechWindows, open_in_viewer
from tests.technician.test_work import press


def row_unread(window: TechWindow, ticket_id: str) -> bool:
    model = window.session.model
    number = model.row_of(ticket_id)
    data = model.row_data(number) if number is not None else None
    assert data is not None, f"{ticket_id} is not in the queue"
    return data.unread


def other_technician_note(server: ServerProcess, token: str, ticket_id: str, text: str) -> None:
    answer = requests.post(
        f"{server.api}/tickets/{ticket_id}/notes", json={"text": text}, headers=server.auth(token), timeout=10
    )
    assert answer.status_code == 201, answer.text


# ---------------------------------------------------------------- unread: only news from someone else
def test_own_note_reply_and_call_leave_the_open_ticket_read_but_a_colleagues_note_does_not(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    visitor = reporter.send(walk_up=True, site="HQ", kind="kiosk", source_id="hq-bar-1", name="Ada")
    window = tech_windows(server_process)
    caller = window.caller
    assert caller is not None
    open_in_viewer(qtbot, window, visitor.id)
    qtbot.waitUntil(lambda: not row_unread(window, visitor.id), timeout=10_000)

    session = window.session
    session.add_note(visitor.id, "Checked the printer queue", internal=True)
    qtbot.waitUntil(lambda: "printer queue" in window.viewer.timeline.toPlainText(), timeout=10_000)
    session.add_note(visitor.id, "Please come to the desk", internal=False)
    qtbot.waitUntil(lambda: "come to the desk" in window.viewer.timeline.toPlainText(), timeout=10_000)
    assert not row_unread(window, visitor.id)

    with qtbot.waitSignal(session.called, timeout=10_000) as called:
        press(qtbot, window, Qt.Key.Key_Q)
    assert called.args[0].called.id == visitor.id
    # The feed brings the call back (status and assignee from the server); it stays read.
    qtbot.waitUntil(
        lambda: window.viewer.info is not None and window.viewer.info.summary.assignee == caller.name, timeout=10_000
    )
    assert not row_unread(window, visitor.id)
    assert session.model.unread_count == 0
    assert "unread" not in window.windowTitle()

    colleague = server_process.token("technician", name="tech-colleague")
    other_technician_note(server_process, colleague, visitor.id, "I know this printer")
    qtbot.waitUntil(lambda: row_unread(window, visitor.id), timeout=10_000)
    assert session.model.unread_count == 1


def summary_at(updated: float, ticket_id: str = "t-1") -> TicketSummary:
    moment = datetime.fromtimestamp(updated, UTC)
    return TicketSummary(id=ticket_id, number="SD-1001", status="open", created_at=moment, updated_at=moment)


def test_read_state_counts_only_changes_by_someone_else_as_new() -> None:
    def event(at: float, actor: str) -> dict[str, str]:
        return {"at": datetime.fromtimestamp(at, UTC).isoformat(), "actor": actor, "kind": "note"}

    state = ReadState(None, now=0.0)
    seen = summary_at(100.0)
    state.mark_read(seen)
    timeline = [event(50.0, "kiosk"), event(100.0, "kiosk")]

    mine = summary_at(200.0)
    state.acknowledge_own_changes(mine, [*timeline, event(200.0, "me")], "me")
    assert not state.is_unread(mine)

    theirs = summary_at(300.0)
    state.acknowledge_own_changes(theirs, [*timeline, event(200.0, "me"), event(300.0, "you")], "me")
    assert state.is_unread(theirs)
    # Still unread after an own change on top: the colleague's note is unseen.
    both = summary_at(400.0)
    state.acknowledge_own_changes(both, [event(300.0, "you"), event(400.0, "me")], "me")
    assert state.is_unread(both)


# ---------------------------------------------------------------- figures
def tick_values(axis: QValueAxis) -> list[float]:
    count = axis.tickCount()
    low, high = axis.min(), axis.max()
    return [low + i * (high - low) / (count - 1) for i in range(count)]


@pytest.mark.parametrize("largest", [0, 1, 2, 3, 5, 6, 7, 11, 24, 26, 99, 101, 999, 12_345])
def test_count_axes_tick_on_distinct_whole_numbers_covering_the_largest(largest: int) -> None:
    top, step = count_axis(largest)
    assert top >= max(1, largest) and top % step == 0
    assert 2 <= top // step + 1 <= 6
    assert top - step < max(1, largest)  # no empty tick beyond the largest bar


def test_figures_count_a_served_walk_up_refresh_by_themselves_and_tick_on_whole_numbers(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    visitor = reporter.send(walk_up=True, site="HQ", kind="kiosk", source_id="hq-bar-1", category="Laptop")
    reporter.send(category="Printing")
    window = tech_windows(server_process)
    dashboard = window.dashboard
    with qtbot.waitSignal(window.session.stats_loaded, timeout=10_000):
        press(qtbot, window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert dashboard.tiles["walk_up"].value.text() == "–"  # waiting: not served yet
    assert dashboard.tiles["created"].value.text() == "2"

    # Helped at the desk and resolved there, without "call next", by a colleague's client.
    colleague = server_process.token("technician", name="tech-desk")
    answer = requests.post(
        f"{server_process.api}/tickets/{visitor.id}/status",
        json={"status": "resolved"},
        headers=server_process.auth(colleague),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    reporter.send(category="Printing")

    # Nobody presses Refresh: the feed's news brings the figures up to date.
    qtbot.waitUntil(lambda: dashboard.tiles["created"].value.text() == "3", timeout=15_000)
    assert dashboard.tiles["walk_up"].value.text() != "–"
    assert "median of 1 visit" in dashboard.tiles["walk_up"].detail.text()

    chart = dashboard.category_chart.chart()
    axis = next(a for a in chart.axes(Qt.Orientation.Horizontal) if isinstance(a, QValueAxis))
    ticks = tick_values(axis)
    assert all(value == pytest.approx(round(value)) for value in ticks), ticks
    assert len({round(value) for value in ticks}) == len(ticks)  # "0 0 1 1" had repeats
    assert axis.max() >= 2  # Printing: 2


# ---------------------------------------------------------------- the viewer's age
def test_the_open_tickets_age_keeps_counting(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    ticket = reporter.send()
    window = tech_windows(server_process)
    open_in_viewer(qtbot, window, ticket.id)
    viewer = window.viewer
    assert "just now" in viewer.meta.text()

    started = time.time()
    viewer.clock = lambda: started + 14 * 60  # fourteen minutes on, as the queue's Age column says
    viewer.age_timer.setInterval(20)  # the timer, not a reload, must bring the age up to date
    qtbot.waitUntil(lambda: "14 min ago" in viewer.meta.text(), timeout=5_000)
    assert viewer.info is not None and viewer.info.summary.id == ticket.id


# ---------------------------------------------------------------- the queue's columns
def flags_fully_shown(window: TechWindow) -> bool:
    table = window.queue_view.table
    if table.isColumnHidden(Column.FLAGS):
        return False
    right = table.columnViewportPosition(Column.FLAGS) + table.columnWidth(Column.FLAGS)
    return table.columnViewportPosition(Column.FLAGS) >= 0 and right <= table.viewport().width()


@pytest.mark.parametrize("size", [DEFAULT_SIZE, (1280, 800), (2400, 1200)])
def test_the_flags_column_shows_without_scrolling(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows,
    size: tuple[int, int],
) -> None:  # fmt: skip
    reporter.send()
    window = tech_windows(server_process)
    window.resize(*size)
    table = window.queue_view.table
    qtbot.waitUntil(lambda: table.viewport().width() < size[0], timeout=5_000)
    qtbot.waitUntil(lambda: flags_fully_shown(window), timeout=5_000)
    assert not table.horizontalScrollBar().isVisible()
    for column in (Column.NUMBER, Column.STATUS, Column.SUBJECT):
        assert not table.isColumnHidden(column)
    assert table.columnWidth(Column.SUBJECT) >= MIN_SUBJECT_WIDTH
    if size == (2400, 1200):
        assert not any(table.isColumnHidden(column) for column in Column)


def test_columns_give_way_in_their_order_and_come_back_with_room() -> None:
    everything = MIN_SUBJECT_WIDTH + sum(w for c, w in COLUMN_WIDTHS.items() if c != Column.SUBJECT)
    assert columns_to_hide(everything, COLUMN_WIDTHS) == frozenset()
    assert columns_to_hide(everything - 1, COLUMN_WIDTHS) == {DROP_ORDER[0]}
    narrow = columns_to_hide(600, COLUMN_WIDTHS)
    assert Column.FLAGS not in narrow and Column.STATUS not in narrow and Column.NUMBER not in narrow
    assert narrow == set(DROP_ORDER[: len(narrow)])  # a prefix of the order
