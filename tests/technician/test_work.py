"""Working a ticket from the keyboard against the real server: claim, assign, status, notes, replies,
the walk-up queue, export, the ticket link, and the shortcut overlay."""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QInputDialog, QWidget
from pytestqt.qtbot import QtBot

from technician.help import COMMANDS
from technician.model import Column
from technician.note_dialog import NoteDialog
from technician.queue_model import QueueModel
from technician.window import TechWindow
from tests.fixtures.server import ServerProcess
from tests.technician.conftest import (
    ReportSender,
    TechWindows,
    key_click,
    key_clicks,
    mouse_click,
    numbers,
    open_in_viewer,
)


def press(qtbot: QtBot, window: TechWindow, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
          ) -> None:  # fmt: skip
    """A key pressed while the queue has the focus, as a technician works."""
    window.activateWindow()
    window.queue_view.table.setFocus()
    qtbot.waitUntil(window.queue_view.table.hasFocus)
    key_click(qtbot, window.queue_view.table, key, modifier)


def public_timeline(server: ServerProcess, token: str, ticket_id: str) -> list[dict[str, Any]]:
    """What the reporter's own token reads back."""
    answer = requests.get(f"{server.api}/tickets/{ticket_id}", headers=server.auth(token), timeout=10)
    answer.raise_for_status()
    timeline: list[dict[str, Any]] = answer.json()["timeline"]
    return timeline


def test_claim_status_note_and_reply_from_the_keyboard(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    ticket = reporter.send()
    window = tech_windows(server_process)
    open_in_viewer(qtbot, window, ticket.id)
    model = window.session.model
    caller = window.caller
    assert caller is not None

    press(qtbot, window, Qt.Key.Key_C)
    qtbot.waitUntil(lambda: model.index(0, Column.ASSIGNEE).data() == caller.name, timeout=10_000)
    press(qtbot, window, Qt.Key.Key_O, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: model.index(0, Column.STATUS).data() == "open", timeout=10_000)
    qtbot.waitUntil(lambda: not window.actions_by_name["status-open"].isEnabled(), timeout=10_000)  # already open

    press(qtbot, window, Qt.Key.Key_N)
    note = window.findChild(NoteDialog, "NoteDialog")
    assert isinstance(note, NoteDialog)
    qtbot.waitUntil(note.isVisible, timeout=10_000)
    assert not note.send_button.isEnabled()  # nothing written yet
    key_clicks(qtbot, note.editor, "Checked the spooler; driver is outdated")
    key_click(qtbot, note.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "driver is outdated" in window.viewer.timeline.toPlainText(), timeout=10_000)

    press(qtbot, window, Qt.Key.Key_R)
    reply = window.findChild(NoteDialog, "ReplyDialog")
    assert isinstance(reply, NoteDialog)
    key_clicks(qtbot, reply.editor, "Please restart the laptop, then try again")
    mouse_click(qtbot, reply.send_button)
    qtbot.waitUntil(lambda: "restart the laptop" in window.viewer.timeline.toPlainText(), timeout=10_000)

    # The reporter sees the reply, never the internal note.
    texts = [e["data"].get("text") for e in public_timeline(server_process, reporter.token, ticket.id)]
    assert "Please restart the laptop, then try again" in texts
    assert "Checked the spooler; driver is outdated" not in texts

    press(qtbot, window, Qt.Key.Key_R, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: model.index(0, Column.STATUS).data() == "resolved", timeout=10_000)


def assignee_is(model: QueueModel, shown: str) -> bool:
    return bool(model.index(0, Column.ASSIGNEE).data() == shown)


def test_assign_to_a_named_technician_and_back_to_nobody(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    ticket = reporter.send()
    window = tech_windows(server_process)
    open_in_viewer(qtbot, window, ticket.id)
    model = window.session.model

    for name, shown in (("mo.hands", "mo.hands"), ("", "")):
        press(qtbot, window, Qt.Key.Key_A)
        dialog = window.findChild(QInputDialog, "AssignDialog")
        assert isinstance(dialog, QInputDialog)
        qtbot.waitUntil(dialog.isVisible)
        dialog.setTextValue(name)
        dialog.accept()
        dialog.setObjectName("")  # the next round finds its own dialog
        qtbot.waitUntil(functools.partial(assignee_is, model, shown), timeout=10_000)


def test_call_the_next_walk_up_person(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    first = reporter.send(walk_up=True, site="HQ", kind="kiosk", source_id="hq-bar-1", name="Ada")
    second = reporter.send(walk_up=True, site="HQ", kind="kiosk", source_id="hq-bar-1", name="Brian")
    window = tech_windows(server_process)
    model = window.session.model
    qtbot.waitUntil(lambda: model.index(model.row_of(first.id) or 0, Column.POSITION).data() == "#1", timeout=10_000)
    assert model.index(model.row_of(second.id) or 0, Column.POSITION).data() == "#2"

    open_in_viewer(qtbot, window, second.id)
    with qtbot.waitSignal(window.session.called, timeout=10_000) as called:
        press(qtbot, window, Qt.Key.Key_Q)
    assert called.args[0].called.id == first.id  # the longest waiting, whoever is on screen
    qtbot.waitUntil(lambda: model.index(model.row_of(second.id) or 0, Column.POSITION).data() == "#1")
    qtbot.waitUntil(lambda: model.index(model.row_of(first.id) or 0, Column.STATUS).data() == "open")
    assert "Called Ada" in window.statusBar().currentMessage()


def test_export_bundle_and_copy_link(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows, tmp_path: Path
) -> None:
    from tests.technician.conftest import multi_monitor_steps

    ticket = reporter.send(steps=multi_monitor_steps(2), sysinfo={"os": {"name": "Test OS"}})
    window = tech_windows(server_process)
    open_in_viewer(qtbot, window, ticket.id)

    press(qtbot, window, Qt.Key.Key_L)
    assert QGuiApplication.clipboard().text() == ticket.url

    asked: list[tuple[str, str]] = []
    target = tmp_path / "exported.showdesk"

    def choose(_parent: QWidget, title: str, suggested: Path, chosen: Callable[[Path], None]) -> None:
        asked.append((title, suggested.name))
        chosen(target)  # what the file dialog does once a name is chosen

    window.choose_save_path = choose
    press(qtbot, window, Qt.Key.Key_E)
    assert asked == [(f"Export {ticket.number}", f"{ticket.number}.showdesk")]
    qtbot.waitUntil(target.exists, timeout=10_000)
    assert target.read_bytes() == reporter.bundles[ticket.id]  # the reporter's bundle, byte for byte


def test_help_overlay_lists_every_available_shortcut(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    reporter.send()
    window = tech_windows(server_process)
    assert numbers(window)
    press(qtbot, window, Qt.Key.Key_F1)
    overlay = window.help_overlay
    assert overlay.isVisible()
    text = overlay.text.text()
    available = window.available_commands()
    for command in COMMANDS:
        if command.name in available:
            assert html.escape(command.label) in text
    assert "Claim (assign to me)" in text  # listed before a ticket is open, though not usable yet
    assert not window.actions_by_name["claim"].isEnabled()
    key_click(qtbot, overlay, Qt.Key.Key_Escape)
    assert not overlay.isVisible()
