"""The Outbox window: a report that needs attention with its reason and what to do (Retry sends it again);
a report behind a captive portal as waiting for the network, with the sign-in sentence."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidgetItem
from pytestqt.qtbot import QtBot

from agent.connectors.base import TransientError
from agent.connectors.builtin import BuiltinConnector
from agent.connectors.common import SIGN_IN_FIRST
from agent.laptop.queue_windows import OutboxWindow
from agent.outbox import EntryState, Outbox
from shared_qt.outbox_bridge import OutboxBridge
from tests.outbox.helpers import FakeClock, ScriptedConnector, make_bundle
from tests.outbox.peers import Peer, Reply
from tests.outbox.test_needs_attention import MAX_TRIES, _try_until_held


def _item(window: OutboxWindow, row: int, column: int) -> QTableWidgetItem:
    item = window.table.item(row, column)
    assert item is not None, (row, column)
    return item


def test_a_report_needing_attention_is_shown_with_what_to_do_and_retried_by_hand(
    qtbot: QtBot, tmp_path: Path
) -> None:
    clock = FakeClock()
    failures: list[object] = [TransientError("answered 500: database is locked", status=500)] * MAX_TRIES
    connector = ScriptedConnector(failures)  # type: ignore[arg-type]
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: connector, clock=clock)
    stuck = outbox.put(make_bundle(2, description="VPN drops every hour"))
    _try_until_held(outbox, clock, stuck.id)
    waiting = outbox.put(make_bundle(1, description="printer offline"))  # queued, not tried yet
    bridge = OutboxBridge(outbox)
    window = OutboxWindow(outbox, bridge)
    qtbot.addWidget(window)
    window.show()

    def row_of(description: str) -> int:
        [row] = [r for r in range(window.table.rowCount()) if description in _item(window, r, 0).text()]
        return row

    held_row = row_of("VPN drops every hour")
    assert _item(window, held_row, 1).text() == "needs attention: the help desk keeps failing it"
    why = _item(window, held_row, 4).text()
    assert "database is locked" in why and "press Retry" in why
    assert _item(window, held_row, 4).toolTip() == why
    assert _item(window, row_of("printer offline"), 1).text().startswith(("waiting", "will be sent"))
    assert "1 needs your attention" in window.summary.text()
    assert {e.id for e in outbox.list()} == {waiting.id, stuck.id}  # kept, not deleted

    window.table.selectRow(held_row)
    qtbot.mouseClick(window.retry_button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]

    retried = outbox.get(stuck.id)
    assert retried.state is EntryState.PENDING and retried.attempts == 0 and retried.next_attempt_at <= clock.now
    assert "needs your attention" not in window.summary.text()
    assert not _item(window, row_of("VPN drops every hour"), 1).text().startswith("needs attention")
    bridge.detach()


def test_a_report_behind_a_captive_portal_shows_it_waits_for_the_network_and_what_to_do(
    qtbot: QtBot, tmp_path: Path
) -> None:
    with Peer() as portal:
        # The hotel's network answers the upload with a redirect to its sign-in page on another host.
        portal.answer(Reply(302, b"", {"Location": "http://127.0.0.2:9/login"}))
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: BuiltinConnector(portal.url, token="t"),
                        clock=FakeClock())
        entry = outbox.put(make_bundle(3, description="cannot print from the hotel"))
        outbox.flush()
        outbox.close()
    assert outbox.get(entry.id).network == "captive-portal"
    bridge = OutboxBridge(outbox)
    window = OutboxWindow(outbox, bridge)
    qtbot.addWidget(window)
    window.show()
    [row] = [r for r in range(window.table.rowCount()) if "cannot print" in _item(window, r, 0).text()]
    assert _item(window, row, 1).text() == "waiting for the network (see why)"
    assert _item(window, row, 4).text() == SIGN_IN_FIRST
    assert _item(window, row, 4).toolTip() == SIGN_IN_FIRST
    bridge.detach()
