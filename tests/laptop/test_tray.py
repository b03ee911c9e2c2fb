"""The tray menu's actions, driven through the QMenu itself (Xvfb has no system tray)."""

from __future__ import annotations

import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from agent.laptop.queue_windows import OutboxWindow, RequestsWindow
from agent.laptop.report_window import ReportWindow
from agent.laptop.tray import ACTION_NAMES
from tests.fixtures.xvfb import XvfbServer, paint_root
from tests.laptop.conftest import AgentHarness
from tests.outbox.helpers import make_bundle

pytestmark = pytest.mark.xvfb


def test_the_menu_offers_every_action_in_order(harness: AgentHarness) -> None:
    agent = harness.make()
    names = [a.objectName() for a in agent.tray.menu.actions() if a.objectName()]
    assert [n for n in names if n != "action-status"] == [f"action-{name}" for name in ACTION_NAMES]
    assert agent.tray.has_tray is False  # Xvfb has no tray: the menu still works on its own
    assert agent.tray.menu.defaultAction() is agent.tray.action("report")


def test_report_a_problem_captures_then_shows_the_window(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer
) -> None:
    paint_root(xvfb_display.display, Image.new("RGB", (xvfb_display.width, xvfb_display.height), (40, 90, 200)))
    agent = harness.make()
    with qtbot.waitSignal(agent.report_shown, timeout=15_000) as shown:
        agent.tray.action("report").trigger()
    window = shown.args[0]
    assert isinstance(window, ReportWindow) and window.isVisible()
    assert len(window.draft.steps) == 1
    step = window.draft.steps[0]
    assert (step.width, step.height) == (xvfb_display.width, xvfb_display.height)
    assert step.monitor is not None and step.monitor.index == 1
    from agent.markup import open_image

    colours = open_image(step.image).convert("RGB").getcolors(maxcolors=4)
    assert colours == [(xvfb_display.width * xvfb_display.height, (40, 90, 200))]
    qtbot.waitUntil(lambda: window.editor.image_bytes() is not None, timeout=5_000)
    assert window.current_step() == 0


def test_my_requests_and_outbox_open_their_windows(harness: AgentHarness, qtbot: QtBot) -> None:
    harness.token = "a-token"  # signed in, but the help desk is unreachable
    harness.outbox.put(make_bundle(7, description="VPN drops every hour"))
    agent = harness.make()
    agent.tray.action("requests").trigger()
    assert isinstance(agent.requests_window, RequestsWindow) and agent.requests_window.isVisible()
    assert "1 report waiting" in agent.requests_window.waiting_label.text()
    agent.tray.action("outbox").trigger()
    window = agent.outbox_window
    assert isinstance(window, OutboxWindow) and window.isVisible()


    def shows_the_failed_attempt() -> None:
        # The sender may be mid-attempt when the table refreshes: wait for the settled row.
        assert window.table.rowCount() == 1 and window.entries[0].last_error
        assert "VPN drops every hour" in window.table.item(0, 0).text()
        assert window.table.item(0, 1).text().startswith("waiting, next try in")
        assert window.table.item(0, 4).text() == window.entries[0].last_error
        assert "127.0.0.1" in window.table.item(0, 4).text()

    qtbot.waitUntil(shows_the_failed_attempt, timeout=15_000)


def test_the_status_line_counts_reports_waiting(harness: AgentHarness, qtbot: QtBot) -> None:
    agent = harness.make()
    assert agent.tray.status_action.text() == "Nothing waiting to be sent"
    harness.outbox.put(make_bundle(1))
    qtbot.waitUntil(lambda: agent.tray.waiting == 1, timeout=10_000)
    assert agent.tray.status_action.text().startswith("1 report waiting to be sent")
    assert agent.tray.action("outbox").text() == "Outbox (1)"


def test_quit_stops_the_agent(harness: AgentHarness, qtbot: QtBot) -> None:
    agent = harness.make()
    agent.tray.action("requests").trigger()
    assert agent.outbox_sender.running
    with qtbot.waitSignal(agent.quitting):
        agent.tray.action("quit").trigger()
    assert not agent.outbox_sender.running
    assert agent.requests_window is None
