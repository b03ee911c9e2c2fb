"""What a person sees while the help desk server on this machine is stopped: why nothing goes, and no sign-in advice."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from agent.laptop.queue_windows import OutboxWindow
from agent.outbox import EntryState
from tests.laptop.conftest import AgentHarness
from tests.outbox.helpers import make_bundle

pytestmark = pytest.mark.xvfb

NOT_RUNNING = (
    "the help desk server on this machine is not running; your report is kept and will be sent when it is back"
)


def test_the_tray_and_the_outbox_say_the_local_server_is_not_running(harness: AgentHarness, qtbot: QtBot) -> None:
    # The harness's backend is on 127.0.0.1 with nothing listening and no token: a stopped local server.
    agent = harness.make()
    report_id = harness.outbox.put(make_bundle(5, description="printer jams")).id

    qtbot.waitUntil(lambda: harness.outbox.get(report_id).attempts >= 1, timeout=10_000)
    assert harness.outbox.get(report_id).state is EntryState.PENDING  # not paused for a sign-in
    qtbot.waitUntil(lambda: agent.tray.problem is not None, timeout=10_000)
    assert agent.tray.problem == NOT_RUNNING
    assert agent.tray.status_action.text().startswith("1 report waiting to be sent (the help desk server on this")

    agent.tray.action("outbox").trigger()
    window = agent.outbox_window
    assert isinstance(window, OutboxWindow)

    def cell(column: int) -> str:
        item = window.table.item(0, column)
        assert item is not None
        return item.text()

    def shows_why_it_waits() -> None:
        assert window.table.rowCount() == 1
        assert cell(1) == "waiting for the help desk server on this machine"
        assert cell(4) == NOT_RUNNING

    qtbot.waitUntil(shows_why_it_waits, timeout=10_000)
    shown = [agent.tray.status_action.text(), cell(1), cell(4)]
    assert not any("showdesk login" in text or "sign-in" in text for text in shown)
