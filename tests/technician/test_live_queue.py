"""The live queue against the real server: new reports and other technicians' changes arrive by themselves."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from technician.model import Column
from technician.queue_model import UNREAD_ROLE
from tests.fixtures.server import ServerProcess
from tests.technician.conftest import (
    ReportSender,
    TechWindows,
    key_clicks,
    numbers,
    open_in_viewer,
    wait_loaded,
)


def test_a_report_sent_through_the_core_appears_without_user_action(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    earlier = reporter.send(description="before the window opened")
    window = tech_windows(server_process)
    assert numbers(window) == [earlier.number]

    with qtbot.waitSignal(window.session.new_tickets, timeout=10_000) as arrived:
        ticket = reporter.send(category="Network", description="The VPN drops every ten minutes", source_id="lt-7")

    assert [t.number for t in arrived.args[0]] == [ticket.number]
    qtbot.waitUntil(lambda: numbers(window) == [ticket.number, earlier.number])
    model = window.session.model
    row = model.row_of(ticket.id)
    assert row == 0
    assert model.index(row, Column.CATEGORY).data() == "Network"
    assert model.index(row, Column.SOURCE).data() == "lt-7"
    assert model.index(row, Column.WHO).data() == "Ada Lovelace"
    assert model.index(row, 0).data(UNREAD_ROLE) is True
    assert window.notifications[-1][0] == f"New ticket {ticket.number}"


def test_a_status_change_in_a_second_client_appears_in_the_first(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    ticket = reporter.send()
    first = tech_windows(server_process)
    second = tech_windows(server_process)
    model = first.session.model
    assert model.index(0, Column.STATUS).data() == "new"

    open_in_viewer(qtbot, second, ticket.id)
    second.actions_by_name["status-waiting"].trigger()

    qtbot.waitUntil(lambda: model.index(0, Column.STATUS).data() == "waiting", timeout=10_000)
    second.actions_by_name["claim"].trigger()
    claimer = second.caller
    assert claimer is not None
    qtbot.waitUntil(lambda: model.index(0, Column.ASSIGNEE).data() == claimer.name, timeout=10_000)
    assert numbers(first) == [ticket.number]  # updated in place, not reloaded into a second row


def test_filters_and_search_return_the_right_rows(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    printer = reporter.send(category="Printing", source_id="pc-1", description="Paper jam in tray two")
    vpn = reporter.send(category="Network", source_id="lt-2", description="VPN drops on the train")
    wifi = reporter.send(category="Network", source_id="pc-1", description="Wifi is slow in room 4")
    window = tech_windows(server_process)
    view = window.queue_view
    assert numbers(window) == [wifi.number, vpn.number, printer.number]

    def shown_after(change: object) -> list[str]:
        wait_loaded(qtbot, window)
        return numbers(window)

    view.category.setCurrentText("Network")
    view.apply_now()
    assert shown_after(view) == [wifi.number, vpn.number]

    view.source.setCurrentText("pc-1")
    view.apply_now()
    assert shown_after(view) == [wifi.number]

    view.category.setCurrentText("")
    view.source.setCurrentText("")
    key_clicks(qtbot, view.search, "vpn dro")  # search as you type: no Enter
    qtbot.waitUntil(lambda: window.session.model.filters.text == "vpn dro")
    assert shown_after(view) == [vpn.number]

    view.search.clear()
    qtbot.waitUntil(lambda: window.session.model.filters.text == "")
    wait_loaded(qtbot, window)
    open_in_viewer(qtbot, window, printer.id)
    window.actions_by_name["claim"].trigger()
    qtbot.waitUntil(lambda: window.session.model.ticket(printer.id).assignee is not None)  # type: ignore[union-attr]
    view.scope.setCurrentIndex(view.scope.findData("mine"))
    assert shown_after(view) == [printer.number]
    view.scope.setCurrentIndex(view.scope.findData("unassigned"))
    assert shown_after(view) == [wifi.number, vpn.number]

    view.scope.setCurrentIndex(view.scope.findData("all"))
    view.status.setCurrentText("new")
    assert shown_after(view) == [wifi.number, vpn.number]  # claiming opened the printer ticket
    view.status.setCurrentText("open")
    assert shown_after(view) == [printer.number]


def test_live_updates_respect_the_filter_shown(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    window = tech_windows(server_process)
    view = window.queue_view
    view.category.setCurrentText("Network")
    view.apply_now()
    wait_loaded(qtbot, window)

    with qtbot.waitSignal(window.session.new_tickets, timeout=10_000):
        reporter.send(category="Printing")
    with qtbot.waitSignal(window.session.new_tickets, timeout=10_000):
        network = reporter.send(category="Network")
    qtbot.waitUntil(lambda: numbers(window) == [network.number])

    # A ticket that leaves the filter leaves the list: here, a status filter and a status change.
    view.category.setCurrentText("")
    view.status.setCurrentText("new")
    view.apply_now()
    wait_loaded(qtbot, window)
    assert network.number in numbers(window)
    open_in_viewer(qtbot, window, network.id)
    window.actions_by_name["status-resolved"].trigger()
    qtbot.waitUntil(lambda: network.number not in numbers(window), timeout=10_000)
