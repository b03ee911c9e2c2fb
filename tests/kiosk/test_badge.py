"""Badges come from the configured reader's device only: typing, however fast, and the on-screen keyboard stay text."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kiosk.flow import Stage
from kiosk.keyboard import KeyKind
from tests.kiosk.conftest import WindowFactory, site_settings
from tests.kiosk.helpers import ReaderPipe, focused, tap, wait_stage


def test_a_typed_burst_with_enter_stays_text_even_beside_a_reader(
    make_window: WindowFactory, qtbot: QtBot, tmp_path: Path
) -> None:
    reader = ReaderPipe(tmp_path)
    window = make_window(site_settings(badge_reader=str(reader.path)))
    tap(qtbot, window.welcome.start_button)
    wait_stage(qtbot, window, Stage.WHO)
    # What a text expander or dictation does: a whole word in microseconds, then Enter.
    qtbot.keyClicks(window.who.name_edit, "04829174")
    qtbot.keyClick(window.who.name_edit, Qt.Key.Key_Return)
    assert window.who.name_edit.text() == "04829174", "the typed text was kept"
    assert focused() is window.who.email_edit and window.flow.stage is Stage.WHO
    assert not window.session.badge_id
    qtbot.keyClicks(window.who.email_edit, "ann@example.org")
    qtbot.keyClick(window.who.email_edit, Qt.Key.Key_Return)
    wait_stage(qtbot, window, Stage.WHAT)
    assert window.session.name == "04829174" and not window.session.badge_id
    reader.close()


def test_the_on_screen_keyboard_is_never_read_as_a_badge(
    make_window: WindowFactory, qtbot: QtBot, tmp_path: Path
) -> None:
    reader = ReaderPipe(tmp_path)
    window = make_window(site_settings(badge_reader=str(reader.path)))
    tap(qtbot, window.welcome.start_button)
    wait_stage(qtbot, window, Stage.WHO)
    qtbot.waitUntil(lambda: window.keyboard.is_open)
    keyboard = window.keyboard.keyboard
    for char in "ann":
        tap(qtbot, keyboard.key(KeyKind.CHAR, char))
    tap(qtbot, keyboard.key(KeyKind.ENTER))
    assert window.who.name_edit.text() == "ann" and not window.session.badge_id
    assert focused() is window.who.email_edit

    # The reader, by contrast, is a badge at once, and nothing it sends lands in a field.
    reader.scan("77770001")
    wait_stage(qtbot, window, Stage.WHAT)
    assert window.session.badge_id == "77770001"
    assert window.who.email_edit.text() == ""
    reader.close()


def test_without_a_reader_nothing_is_a_badge_and_none_is_offered(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    assert not window.who.badge_reader.is_open
    tap(qtbot, window.welcome.start_button)
    wait_stage(qtbot, window, Stage.WHO)
    assert not window.who.badge_card.isVisible(), "no 'scan your badge' without a reader"
    qtbot.keyClicks(window.who.name_edit, "00428817")
    qtbot.keyClick(window.who.name_edit, Qt.Key.Key_Return)
    assert window.who.name_edit.text() == "00428817" and not window.session.badge_id


def test_a_scan_on_another_screen_is_dropped_and_the_reader_comes_back_after_unplugging(
    make_window: WindowFactory, qtbot: QtBot, tmp_path: Path
) -> None:
    reader = ReaderPipe(tmp_path)
    window = make_window(site_settings(badge_reader=str(reader.path)))
    badge = window.who.badge_reader
    with qtbot.waitSignal(badge.scanned, timeout=5_000) as scanned:
        reader.scan("12345678")  # on Welcome: read (so never typed anywhere), but no visit starts
    assert scanned.args == ["12345678"] and window.flow.stage is Stage.WELCOME
    reader.close()  # unplugged: the device ends
    qtbot.waitUntil(lambda: not badge.is_open, timeout=5_000)
    badge.open()  # what its retry timer does
    assert badge.is_open
