"""Technician mode by keyboard and screen reader: Tab leaves the queue, the filters have names."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from technician.window import TechWindow
from tests.fixtures.server import ServerProcess
from tests.technician.conftest import ReportSender, TechWindows, key_click, numbers, open_in_viewer


def spoken_name(widget: QWidget) -> str:
    interface = QAccessible.queryAccessibleInterface(widget)
    assert interface is not None
    return interface.text(QAccessible.Text.Name)


def label_names(widget: QWidget) -> list[str]:
    """The names of the labels ``widget`` is labelled by, through Qt's accessibility interface."""
    interface = QAccessible.queryAccessibleInterface(widget)
    assert interface is not None
    return [
        label.text(QAccessible.Text.Name)
        for label, relation in interface.relations(QAccessible.RelationFlag.AllRelations)
        if relation & QAccessible.RelationFlag.Label
    ]


def focus_table(qtbot: QtBot, window: TechWindow) -> None:
    window.activateWindow()
    window.queue_view.table.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(window.queue_view.table.hasFocus)


def test_tab_leaves_the_queue_table_and_the_arrows_move_inside_it(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    first, second = reporter.send(), reporter.send()
    window = tech_windows(server_process)
    qtbot.waitUntil(lambda: len(numbers(window)) == 2, timeout=10_000)
    open_in_viewer(qtbot, window, second.id)  # newest first: the top row
    table = window.queue_view.table
    focus_table(qtbot, window)
    row = table.currentIndex().row()

    key_click(qtbot, table, Qt.Key.Key_Down)
    assert table.hasFocus() and table.currentIndex().row() == row + 1
    qtbot.waitUntil(lambda: window.queue_view.selected_ticket_id() == first.id)

    key_click(qtbot, table, Qt.Key.Key_Tab)
    after_tab = QApplication.focusWidget()
    assert after_tab is not None and after_tab is not table, "Tab moved on from the table"
    assert not table.isAncestorOf(after_tab)
    assert table.currentIndex().row() == row + 1, "leaving the table opened no other ticket"
    assert window.queue_view.selected_ticket_id() == first.id

    key_click(qtbot, after_tab, Qt.Key.Key_Backtab)
    assert table.hasFocus(), "Shift+Tab comes back to it"


def test_the_search_field_and_the_four_filters_have_names_not_values(
    qtbot: QtBot, server_process: ServerProcess, tech_windows: TechWindows
) -> None:
    window = tech_windows(server_process)
    view = window.queue_view
    assert spoken_name(view.search) == "Search the queue"
    expected = {
        view.status: "Status filter",
        view.category: "Category filter",
        view.source: "Source filter",
        view.scope: "Whose tickets",
    }
    for combo, name in expected.items():
        # On Linux Qt gives a combo box its value as its name ("All"); the name a screen reader
        # says comes from the label it is labelled by. Elsewhere the box's own name is used.
        assert label_names(combo) == [name], f"{combo.objectName()} is named by what it filters"
        assert combo.accessibleName() == name
    for combo in (view.category, view.source):
        line = combo.lineEdit()
        assert line is not None and spoken_name(line) == expected[combo], "the field typed into is named too"
    assert spoken_name(view.table) == "Tickets"
