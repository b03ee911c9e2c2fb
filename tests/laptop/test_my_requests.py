"""My requests on real parts: the built-in server on loopback, the agent's outbox and capture under Xvfb.

The reply round trip: a technician replies through the API, the agent's poller notices, My
requests shows the reply as typed, the person answers with text and a screenshot, and the
server's timeline then holds the answer once with the ticket back to open.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from agent.connectors.builtin import BuiltinConnector
from agent.laptop.agent_app import AgentApp
from agent.laptop.queue_windows import RepliesBridge, RequestsWindow
from agent.laptop.replies import ReplyPoller
from agent.outbox import Receipt
from tests.fixtures.server import ServerProcess
from tests.fixtures.waiting import wait_until
from tests.laptop.conftest import AgentHarness
from tests.outbox.helpers import make_bundle
from tests.outbox.peers import Peer, Reply

HOSTILE = "<b>x</b><img src=x> Which tray is empty?"
INTERNAL = "internal: this model jams with cheap paper"


class Desk:
    """The agent on the shared server with a token of its own, its poller, the window, and a technician."""

    def __init__(self, harness: AgentHarness, server: ServerProcess, tmp_path: Path) -> None:
        harness.use_server(server)
        self.harness = harness
        self.server = server
        self.agent: AgentApp = harness.make()
        self.technician = BuiltinConnector(server.url, token=server.token("technician"))
        self.poller = ReplyPoller(harness.outbox.receipts, harness.connector, seen_file=tmp_path / "seen.json")
        self.replies = RepliesBridge(self.poller)
        self.replies.replies_arrived.connect(self.agent.tray.notify_replies)  # as the agent wires it
        self.window: RequestsWindow | None = None

    def deliver(self) -> Receipt:
        bundle = make_bundle(7, description="the printer says the tray is empty")
        self.harness.outbox.put(bundle)
        self.harness.outbox.wake()
        report_id = str(bundle.report.id)
        wait_until(lambda: self.harness.outbox.receipt(report_id) is not None, "the report delivered", 30)
        receipt = self.harness.outbox.receipt(report_id)
        assert receipt is not None
        return receipt

    def open_window(self, qtbot: QtBot, connector_factory: object = None) -> RequestsWindow:
        window = RequestsWindow(
            self.harness.outbox,
            self.agent.bridge,
            connector_factory or self.harness.connector,  # type: ignore[arg-type]
            replies=self.replies,
            capture=self.agent.capture,
        )
        qtbot.addWidget(window)
        window.show()
        self.window = window
        return window

    def close(self) -> None:
        self.poller.stop()
        self.replies.detach()
        if self.window is not None:
            self.window.wait_idle()
        self.technician.close()


@pytest.fixture
def desk(harness: AgentHarness, shared_server: ServerProcess, tmp_path: Path) -> Iterator[Desk]:
    made = Desk(harness, shared_server, tmp_path)
    yield made
    made.close()


def _type(qtbot: QtBot, widget: QWidget, text: str) -> None:
    qtbot.keyClicks(widget, text)  # type: ignore[no-untyped-call]  # pytest-qt's stub has no types


def _cell(window: RequestsWindow, row: int, column: int) -> str:
    item = window.table.item(row, column)
    assert item is not None
    return item.text()


def _timeline(desk: Desk, ticket_id: str) -> list[dict[str, object]]:
    timeline = desk.technician.get_ticket(ticket_id).timeline
    return [event for event in timeline if isinstance(event, dict)]


def test_the_reply_round_trip_with_a_screenshot(qtbot: QtBot, desk: Desk) -> None:
    receipt = desk.deliver()
    window = desk.open_window(qtbot)
    desk.poller.start()
    qtbot.waitUntil(lambda: receipt.report_id in window.conversations, timeout=20_000)
    assert window.selected_receipt() == receipt  # the newest request is shown at once
    assert not window.message_views()

    desk.technician.add_note(receipt.ticket_id, INTERNAL, internal=True)
    desk.technician.add_note(receipt.ticket_id, HOSTILE, internal=False)
    desk.technician.set_status(receipt.ticket_id, "waiting")
    with (
        qtbot.waitSignal(desk.replies.replies_arrived, timeout=20_000) as arrived,
        qtbot.waitSignal(desk.agent.tray.notified, timeout=20_000) as notified,
    ):
        desk.poller.poll_now()
    [reply] = arrived.args[0]
    assert (reply.ticket_id, reply.entry.text) == (receipt.ticket_id, HOSTILE)
    assert notified.args[0] == f"New reply on {receipt.number}"
    assert HOSTILE not in notified.args[1]  # the text is read in My requests, not in a notification

    qtbot.waitUntil(lambda: len(window.message_views()) == 1, timeout=10_000)
    [shown] = window.message_views()
    assert shown.objectName() == "message-reply"
    assert shown.body.text() == HOSTILE
    assert shown.body.textFormat() == Qt.TextFormat.PlainText
    assert _cell(window, 0, 4) == HOSTILE
    assert _cell(window, 0, 1) == "waiting"
    assert all(INTERNAL not in view.body.text() for view in window.message_views())

    _type(qtbot, window.answer_text, "Tray 2, the lower one")
    window.screenshot_button.click()
    draft = window.drafts[receipt.report_id]
    qtbot.waitUntil(lambda: len(draft.shots) >= 1 and not desk.agent.capture.busy, timeout=20_000)
    qtbot.waitUntil(window.isVisible, timeout=5_000)  # the window stepped aside and came back
    assert draft.shots[0].media_type in ("image/webp", "image/png")

    key = draft.key
    window.send_button.click()
    window.send_button.click()  # a double click: the button is off while the answer goes
    window.send_answer()  # and the window refuses a second send of its own accord
    qtbot.waitUntil(lambda: window.sending is None, timeout=20_000)
    assert window.answer_status.text() == "Your answer was sent to the help desk."
    assert receipt.report_id not in window.drafts  # the next answer gets a new key
    qtbot.waitUntil(lambda: [v.objectName() for v in window.message_views()] == ["message-reply", "message-answer"])
    assert window.message_views()[1].body.text() == "Tray 2, the lower one"

    events = _timeline(desk, receipt.ticket_id)
    answers = [e for e in events if e["kind"] == "answer"]
    assert len(answers) == 1
    data = answers[0]["data"]
    assert isinstance(data, dict) and data["text"] == "Tray 2, the lower one" and len(data["files"]) == len(draft.shots)
    statuses = [e["data"] for e in events if e["kind"] == "status"]
    assert statuses[-2]["to"] == "waiting"  # type: ignore[index]
    assert statuses[-1] == {"from": "waiting", "to": "open"}  # the answer moved it back
    assert desk.technician.get_ticket(receipt.ticket_id).ticket.status == "open"
    assert key not in json.dumps(events)  # the key is the server's business, not the timeline's


def test_an_answer_whose_reply_was_lost_is_sent_again_once(qtbot: QtBot, desk: Desk) -> None:
    receipt = desk.deliver()
    desk.technician.add_note(receipt.ticket_id, "Does it happen with every document?", internal=False)
    with Peer(upstream=desk.server.url, reply_when=lambda r: r.path.endswith("/answer")) as peer:
        # The first answer reaches the server, which records it; the agent hears a gateway error.
        peer.answer(Reply(502, b'{"detail": "bad gateway"}', {"Content-Type": "application/json"}, forward_first=True))
        token = desk.harness.token
        window = desk.open_window(
            qtbot, lambda: BuiltinConnector(peer.url, token=lambda: token, connect_timeout=2.0, read_timeout=20.0)
        )
        desk.poller.start()
        qtbot.waitUntil(lambda: len(window.message_views()) == 1, timeout=20_000)
        _type(qtbot, window.answer_text, "Yes, every one")
        key = window.drafts[receipt.report_id].key
        window.send_button.click()
        qtbot.waitUntil(lambda: window.sending is None, timeout=20_000)
        assert window.answer_status.text().startswith("Your answer was not sent")
        assert window.drafts[receipt.report_id].key == key  # kept for the resend
        assert window.answer_text.toPlainText() == "Yes, every one"

        window.send_button.click()
        qtbot.waitUntil(lambda: window.sending is None, timeout=20_000)
        assert window.answer_status.text() == "The help desk already had this answer."
        assert [r.headers["Idempotency-Key"] for r in peer.received if r.path.endswith("/answer")] == [key, key]
    answers = [e for e in _timeline(desk, receipt.ticket_id) if e["kind"] == "answer"]
    assert [a["data"]["text"] for a in answers] == ["Yes, every one"]  # type: ignore[index]


def test_a_closed_request_takes_no_answer_and_a_new_draft_gets_a_new_key(qtbot: QtBot, desk: Desk) -> None:
    receipt = desk.deliver()
    window = desk.open_window(qtbot)
    desk.poller.start()
    qtbot.waitUntil(lambda: receipt.report_id in window.conversations, timeout=20_000)
    assert window.findChild(type(window.conversation_title), "no-messages") is not None
    _type(qtbot, window.answer_text, "one more thing")
    assert window.send_button.isEnabled()
    first_key = window.drafts[receipt.report_id].key
    assert len(first_key) == len(uuid.uuid4().hex)

    for status in ("open", "resolved", "closed"):
        desk.technician.set_status(receipt.ticket_id, status)
    desk.poller.poll_now()
    qtbot.waitUntil(lambda: window.conversations[receipt.report_id].status == "closed", timeout=20_000)
    assert not window.send_button.isEnabled()
    assert window.answer_text.isReadOnly()
    assert _cell(window, 0, 1) == "closed"


def test_a_window_opened_after_a_reply_shows_it_at_once(qtbot: QtBot, desk: Desk) -> None:
    receipt = desk.deliver()
    desk.technician.add_note(receipt.ticket_id, "Fixed, please check", internal=False)
    with qtbot.waitSignal(desk.replies.replies_arrived, timeout=20_000):
        desk.poller.start()  # the first round, with no window open yet
    window = desk.open_window(qtbot)
    assert [view.body.text() for view in window.message_views()] == ["Fixed, please check"]
    assert window.conversation_title.text() == f"Messages about {receipt.number}"


def test_hostile_replies_show_as_typed_with_bidi_controls_made_visible(qtbot: QtBot, desk: Desk) -> None:
    receipt = desk.deliver()
    payloads = [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "javascript:alert(1)",
        "ok \u202etxt.exe",
    ]
    for text in payloads:
        desk.technician.add_note(receipt.ticket_id, text, internal=False)
    window = desk.open_window(qtbot)
    desk.poller.start()
    qtbot.waitUntil(lambda: len(window.message_views()) == len(payloads), timeout=20_000)
    views = window.message_views()
    assert [view.body.text() for view in views] == [*payloads[:3], "ok [U+202E]txt.exe"]
    for view in views:
        assert view.body.textFormat() == Qt.TextFormat.PlainText
        assert view.header.textFormat() == Qt.TextFormat.PlainText
        assert not view.body.openExternalLinks()
        assert not view.body.textInteractionFlags() & Qt.TextInteractionFlag.LinksAccessibleByMouse
    assert _cell(window, 0, 4) == "ok [U+202E]txt.exe"
