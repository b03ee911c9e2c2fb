"""The name and e-mail a person sent are prefilled on their next report; nothing else changes them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from agent.laptop.agent_app import AgentApp
from agent.laptop.report_window import ReportWindow
from agent.laptop.settings_store import load_remembered_contact, remember_contact
from tests.laptop.conftest import AgentHarness


def test_the_contact_is_kept_privately_and_read_back(tmp_path: Path) -> None:
    target = tmp_path / "data" / "last-contact.json"
    assert load_remembered_contact(target) is None
    remember_contact("  Grace Hopper ", "grace@example.org ", target)
    assert load_remembered_contact(target) == ("Grace Hopper", "grace@example.org")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    remember_contact("Grace Hopper", "", target)
    assert load_remembered_contact(target) == ("Grace Hopper", "")
    assert sorted(p.name for p in target.parent.iterdir()) == ["last-contact.json"], "no temporary file is left"


@pytest.mark.parametrize("content", [b"{not json", b'["a", "b"]', b'{"name": 3, "email": ""}', b"\xff\xfe"])
def test_a_damaged_contact_file_means_nothing_remembered(tmp_path: Path, content: bytes) -> None:
    target = tmp_path / "last-contact.json"
    target.write_bytes(content)
    assert load_remembered_contact(target) is None


def open_report(agent: AgentApp, qtbot: QtBot) -> ReportWindow:
    with qtbot.waitSignal(agent.report_shown, timeout=15_000) as shown:
        agent.start_report()
    window = shown.args[0]
    assert isinstance(window, ReportWindow)
    qtbot.waitUntil(lambda: window.draft.sysinfo is not None and window.current_step() == 0, timeout=10_000)
    return window


def type_contact(window: ReportWindow, qtbot: QtBot, name: str, email: str) -> None:
    window.name_edit.clear()
    qtbot.keyClicks(window.name_edit, name)
    window.email_edit.clear()
    qtbot.keyClicks(window.email_edit, email)


def close(window: ReportWindow, qtbot: QtBot) -> None:
    with qtbot.waitSignal(window.closed, timeout=5_000):
        window.close()


@pytest.mark.xvfb
def test_the_next_report_is_prefilled_with_what_was_sent_last(
    harness: AgentHarness, qtbot: QtBot, tmp_path: Path
) -> None:
    contact_file = tmp_path / "last-contact.json"
    agent = harness.make(contact_file=contact_file)

    first = open_report(agent, qtbot)
    type_contact(first, qtbot, "Grace Hopper", "grace@example.org")
    qtbot.keyClicks(first.description_edit, "The VPN drops every hour")
    # No help desk is listening: queued is enough, the person may close the window.
    with qtbot.waitSignal(first.sent, timeout=20_000):
        qtbot.mouseClick(first.send_button, Qt.MouseButton.LeftButton)
    assert json.loads(contact_file.read_text(encoding="utf-8")) == {
        "name": "Grace Hopper",
        "email": "grace@example.org",
    }
    close(first, qtbot)

    second = open_report(agent, qtbot)
    assert (second.name_edit.text(), second.email_edit.text()) == ("Grace Hopper", "grace@example.org")
    # Typed but never sent: the next report still gets what was sent.
    type_contact(second, qtbot, "Someone Else", "someone@example.org")
    close(second, qtbot)

    third = open_report(agent, qtbot)
    assert (third.name_edit.text(), third.email_edit.text()) == ("Grace Hopper", "grace@example.org")
    # Refused before queuing (not an e-mail address): not remembered either.
    type_contact(third, qtbot, "Typo Person", "not-an-address")
    qtbot.keyClicks(third.description_edit, "x")
    qtbot.mouseClick(third.send_button, Qt.MouseButton.LeftButton)
    assert "not an e-mail address" in third.status_label.text()
    assert third.submission.state == "new"
    assert load_remembered_contact(contact_file) == ("Grace Hopper", "grace@example.org")
