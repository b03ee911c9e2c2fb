"""The kiosk cannot be closed by a visitor; the administrator leaves with the hidden gesture and the PIN."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from kiosk.settings import hash_pin
from tests.kiosk.conftest import WindowFactory, site_settings
from tests.kiosk.helpers import tap


def test_close_and_alt_f4_are_ignored_and_the_pin_lets_the_administrator_out(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    settings = replace(site_settings(), admin_pin_hash=hash_pin("4711", iterations=1000))
    window = make_window(settings, windowed=False)
    window.close()  # what the window manager does on Alt+F4
    assert window.isVisible()

    for _ in range(4):
        qtbot.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    assert not window.admin_overlay.isVisible()
    qtbot.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    pad = window.admin_overlay
    assert pad.isVisible()

    for digit in "1234":
        tap(qtbot, pad.findChild(type(pad.ok_button), f"admin-digit-{digit}"))
    assert pad.pin_edit.text() == "1234"
    tap(qtbot, pad.ok_button)
    qtbot.waitUntil(lambda: pad.status.text() == "Wrong PIN.")
    assert window.isVisible() and pad.pin_edit.text() == ""

    qtbot.keyClicks(pad.pin_edit, "4711")
    with qtbot.waitSignal(window.exit_requested):
        qtbot.keyClick(pad.pin_edit, Qt.Key.Key_Return)
    assert not window.isVisible()


def test_five_wrong_pins_lock_the_pad(make_window: WindowFactory, qtbot: QtBot) -> None:
    settings = replace(site_settings(), admin_pin_hash=hash_pin("4711", iterations=1000))
    window = make_window(settings, windowed=False)
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    pad = window.admin_overlay
    assert pad.isVisible()
    for attempt in range(5):
        qtbot.keyClicks(pad.pin_edit, f"000{attempt}")
        qtbot.keyClick(pad.pin_edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not pad.checking)
    assert "Too many wrong PINs" in pad.status.text()
    qtbot.keyClicks(pad.pin_edit, "4711")
    qtbot.keyClick(pad.pin_edit, Qt.Key.Key_Return)
    assert not pad.checking and window.isVisible()  # locked: not even checked
    tap(qtbot, pad.cancel_button)
    assert not pad.isVisible()


def test_without_a_pin_there_is_no_way_out_from_the_screen(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(windowed=False)
    for _ in range(5):
        qtbot.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    pad = window.admin_overlay
    assert pad.isVisible() and pad.status.text() == "No administrator PIN is set on this kiosk."
    qtbot.keyClicks(pad.pin_edit, "0000")
    tap(qtbot, pad.ok_button)
    assert window.isVisible() and not pad.checking
