"""Single-key shortcuts (WCAG 2.1.4): never while a text field has focus; they can be switched off or remapped."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from agent.config import ConfigError
from agent.connectors.builtin import BuiltinConnector
from technician.client import TechClient
from technician.model import ReadState
from technician.session import TechSession
from technician.settings import TechSettings
from technician.window import TechWindow
from tests.fixtures.server import ServerProcess
from tests.technician.conftest import ReportSender, TechWindows, key_click, key_clicks, open_in_viewer


class Triggered:
    """Counts how often a window's command ran."""

    def __init__(self, window: TechWindow, name: str) -> None:
        self.count = 0
        window.actions_by_name[name].triggered.connect(self._ran)

    def _ran(self, *_args: object) -> None:
        self.count += 1


def window_with(
    qtbot: QtBot, tech_windows: TechWindows, server: ServerProcess, tmp_path: Path, **settings: object
) -> TechWindow:
    token = server.token("technician")
    tech_settings = TechSettings(long_poll_seconds=3.0, poll_seconds=2.0, **settings)  # type: ignore[arg-type]
    session = TechSession(
        lambda: TechClient(lambda: BuiltinConnector(server.url, token=token, connect_timeout=2.0, read_timeout=20.0)),
        tech_settings,
        read_state=ReadState(tmp_path / "read.json", now=0.0),
    )
    return tech_windows.show(TechWindow(session, server=server.url, tray=False))


def on_table(qtbot: QtBot, window: TechWindow) -> None:
    window.activateWindow()
    window.queue_view.table.setFocus()
    qtbot.waitUntil(window.queue_view.table.hasFocus)


def test_letters_typed_into_a_text_field_are_text_never_commands(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    ticket = reporter.send()
    window = tech_windows(server_process)
    open_in_viewer(qtbot, window, ticket.id)
    claims, calls = Triggered(window, "claim"), Triggered(window, "call-next")
    view = window.queue_view

    window.activateWindow()
    view.search.setFocus()
    qtbot.waitUntil(view.search.hasFocus)
    key_clicks(qtbot, view.search, "cq")
    category = view.category.lineEdit()
    assert category is not None
    category.setFocus()
    qtbot.waitUntil(category.hasFocus)
    key_clicks(qtbot, category, "qc")
    assert view.search.text() == "cq" and category.text().endswith("qc")
    assert (claims.count, calls.count) == (0, 0), "a typed word claimed or called"
    assert "C" not in [k.toString() for k in window.actions_by_name["claim"].shortcuts()]
    assert window.actions_by_name["search"].shortcuts()[0].toString() == "Ctrl+F", "modified keys still work"

    on_table(qtbot, window)
    key_click(qtbot, view.table, Qt.Key.Key_C)
    assert claims.count == 1, "back on the queue, C claims"
    assert "C" in [k.toString() for k in window.actions_by_name["claim"].shortcuts()]


def test_single_key_shortcuts_can_be_switched_off(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows, tmp_path: Path
) -> None:
    ticket = reporter.send()
    window = window_with(qtbot, tech_windows, server_process, tmp_path, single_key_shortcuts=False)
    open_in_viewer(qtbot, window, ticket.id)
    claims = Triggered(window, "claim")
    on_table(qtbot, window)
    for key in (Qt.Key.Key_C, Qt.Key.Key_Q, Qt.Key.Key_N, Qt.Key.Key_R, Qt.Key.Key_A):
        key_click(qtbot, window.queue_view.table, key)
    assert claims.count == 0 and window.help_overlay.isHidden()
    # Keys with Ctrl, Alt or a function key stay.
    key_click(qtbot, window.queue_view.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.queue_view.search.hasFocus()
    key_click(qtbot, window.queue_view.search, Qt.Key.Key_F1)
    assert window.help_overlay.isVisible()
    assert "<code>C</code>" not in window.help_overlay.text.text(), "the help lists only keys in force"


def test_a_command_can_be_given_other_keys_or_none(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows, tmp_path: Path
) -> None:
    ticket = reporter.send()
    keys = (("claim", ("Ctrl+Shift+M",)), ("call-next", ()))
    window = window_with(qtbot, tech_windows, server_process, tmp_path, keys=keys)
    open_in_viewer(qtbot, window, ticket.id)
    claims, calls = Triggered(window, "claim"), Triggered(window, "call-next")
    on_table(qtbot, window)
    key_click(qtbot, window.queue_view.table, Qt.Key.Key_C)
    key_click(qtbot, window.queue_view.table, Qt.Key.Key_Q)
    assert (claims.count, calls.count) == (0, 0)
    key_click(
        qtbot,
        window.queue_view.table,
        Qt.Key.Key_M,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert claims.count == 1
    assert window.command_keys["reply"] == ("R",), "the others keep their keys"


def test_the_tech_table_checks_the_shortcut_keys() -> None:
    settings = TechSettings.from_table({"single_key_shortcuts": False, "keys": {"claim": "Ctrl+Shift+M", "note": []}})
    assert not settings.single_key_shortcuts
    assert dict(settings.keys) == {"claim": ("Ctrl+Shift+M",), "note": ()}
    assert TechSettings.from_table({}).single_key_shortcuts
    with pytest.raises(ConfigError, match="single_key_shortcuts"):
        TechSettings.from_table({"single_key_shortcuts": "no"})
    with pytest.raises(ConfigError, match=r"\[tech.keys\] claim"):
        TechSettings.from_table({"keys": {"claim": 3}})
