"""The agent as wired: its poller follows delivered reports, the tray tells of a reply, My requests shows it."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from agent.connectors.builtin import BuiltinConnector
from tests.fixtures.server import ServerProcess
from tests.fixtures.waiting import wait_until
from tests.laptop.conftest import AgentHarness
from tests.outbox.helpers import make_bundle


def test_the_running_agent_tells_of_a_reply_and_shows_it(
    qtbot: QtBot, harness: AgentHarness, shared_server: ServerProcess, tmp_path: Path
) -> None:
    harness.use_server(shared_server)
    agent = harness.make(replies_seen_file=tmp_path / "seen.json")
    bundle = make_bundle(9)
    harness.outbox.put(bundle)
    harness.outbox.wake()
    report_id = str(bundle.report.id)
    wait_until(lambda: harness.outbox.receipt(report_id) is not None, "delivered", 30)
    receipt = harness.outbox.receipt(report_id)
    assert receipt is not None and agent.reply_poller is not None
    with BuiltinConnector(shared_server.url, token=shared_server.token("technician")) as desk:
        desk.add_note(receipt.ticket_id, "Restart it, please", internal=False)
    def a_reply(title: str, _text: str) -> bool:
        return title.startswith("New reply")  # not the "delivered" notification

    with qtbot.waitSignal(agent.tray.notified, timeout=20_000, check_params_cb=a_reply) as told:
        agent.reply_poller.poll_now()
    assert told.args[0] == f"New reply on {receipt.number}"
    agent.open_requests()
    window = agent.requests_window
    assert window is not None
    qtbot.waitUntil(lambda: [v.body.text() for v in window.message_views()] == ["Restart it, please"], timeout=10_000)
