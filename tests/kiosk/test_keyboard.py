"""The on-screen keyboard: taps type into the focused field, it follows focus and language, never covers the field."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from kiosk.flow import Stage
from kiosk.keyboard import KeyKind, Layer
from kiosk.settings import hash_pin
from kiosk.theme import MIN_TARGET_PX
from kiosk.window import KioskWindow
from tests.kiosk.conftest import WindowFactory, site_settings
from tests.kiosk.helpers import tap, wait_stage


def on_who(qtbot: QtBot, window: KioskWindow) -> None:
    tap(qtbot, window.welcome.start_button)
    wait_stage(qtbot, window, Stage.WHO)
    qtbot.waitUntil(lambda: window.keyboard.is_open)


def tap_text(qtbot: QtBot, window: KioskWindow, text: str) -> None:
    """Tap the keys for ``text`` as a person would: shift before each capital."""
    keyboard = window.keyboard.keyboard
    for char in text:
        if char == " ":
            tap(qtbot, keyboard.key(KeyKind.SPACE))
            continue
        if char != char.lower():
            tap(qtbot, keyboard.key(KeyKind.SHIFT))
        tap(qtbot, keyboard.key(KeyKind.CHAR, char.lower()))


def in_window(window: KioskWindow, widget: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def assert_field_clear_of_keyboard(window: KioskWindow, field: QWidget) -> None:
    QApplication.processEvents()
    keyboard_rect = in_window(window, window.keyboard.keyboard)
    field_rect = in_window(window, field)
    room_rect = in_window(window, window.keyboard.room)
    assert window.keyboard.is_open
    assert not field_rect.intersects(keyboard_rect), (field_rect, keyboard_rect)
    assert room_rect.contains(field_rect), (field_rect, room_rect)  # shown, not scrolled off the top or bottom
    assert keyboard_rect.bottom() <= window.rect().bottom()


def test_taps_type_a_name_with_a_capital_and_backspace(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    on_who(qtbot, window)
    assert QApplication.focusWidget() is window.who.name_edit
    tap_text(qtbot, window, "Ada Lovelacx")
    tap(qtbot, window.keyboard.keyboard.key(KeyKind.BACKSPACE))
    tap_text(qtbot, window, "e")
    assert window.who.name_edit.text() == "Ada Lovelace"
    # Shift is for one letter: after the capital, letters are small again.
    assert not window.keyboard.keyboard.shifted
    assert window.keyboard.keyboard.key(KeyKind.CHAR, "a").text() == "a"
    assert QApplication.focusWidget() is window.who.name_edit  # the keys never took focus


def test_done_moves_on_and_an_email_is_typed_with_the_at_and_dot_com_keys(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    window = make_window()
    on_who(qtbot, window)
    keyboard = window.keyboard.keyboard
    tap_text(qtbot, window, "Ada")
    assert keyboard.key(KeyKind.ENTER).accessibleName() == "Done"
    tap(qtbot, keyboard.key(KeyKind.ENTER))  # the name field's Enter goes on to the e-mail
    assert QApplication.focusWidget() is window.who.email_edit
    tap_text(qtbot, window, "ada")
    tap(qtbot, keyboard.key(KeyKind.CHAR, "@"))
    tap_text(qtbot, window, "example")
    tap(qtbot, keyboard.key(KeyKind.CHAR, ".com"))
    assert window.who.email_edit.text() == "ada@example.com"
    tap(qtbot, keyboard.key(KeyKind.ENTER))
    wait_stage(qtbot, window, Stage.WHAT)
    assert window.session.name == "Ada" and window.session.email == "ada@example.com"


def test_the_description_is_typed_with_letters_digits_and_a_new_line(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    on_who(qtbot, window)
    window.session.identify_guest()
    window.flow.advance()
    wait_stage(qtbot, window, Stage.WHAT)
    tap(qtbot, window.what.tiles["laptop"])
    qtbot.waitUntil(lambda: not window.keyboard.is_open)  # a tile has focus now
    qtbot.mouseClick(window.what.description_edit.viewport(), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.keyboard.is_open)
    keyboard = window.keyboard.keyboard
    assert keyboard.key(KeyKind.ENTER).accessibleName() == "New line"
    tap_text(qtbot, window, "No wifi")
    tap(qtbot, keyboard.key(KeyKind.ENTER))
    layers = [keyboard.layer]
    tap(qtbot, keyboard.key(KeyKind.LAYER))
    layers.append(keyboard.layer)
    assert keyboard.key(KeyKind.CHAR, "&").text() == "&&"  # shown as one "&", not taken as a mnemonic
    tap(qtbot, keyboard.key(KeyKind.CHAR, "4"))
    tap(qtbot, keyboard.key(KeyKind.CHAR, "2"))
    tap(qtbot, keyboard.key(KeyKind.LAYER))
    layers.append(keyboard.layer)
    assert layers == [Layer.LETTERS, Layer.SYMBOLS, Layer.LETTERS]
    assert window.what.description_edit.toPlainText() == "No wifi\n42"
    assert_field_clear_of_keyboard(window, window.what.description_edit)


def test_the_keyboard_opens_on_a_text_field_and_goes_when_focus_leaves(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    window = make_window()
    assert not window.keyboard.is_open  # Welcome has no text field
    on_who(qtbot, window)
    assert_field_clear_of_keyboard(window, window.who.name_edit)
    window.who.guest_button.setFocus()
    qtbot.waitUntil(lambda: not window.keyboard.is_open)
    assert window.keyboard.room.height() == window.height()  # the screen has the whole window again
    window.who.email_edit.setFocus()
    qtbot.waitUntil(lambda: window.keyboard.is_open)
    assert_field_clear_of_keyboard(window, window.who.email_edit)
    # The hide key closes it; tapping the field that still has focus brings it back.
    tap(qtbot, window.keyboard.keyboard.key(KeyKind.HIDE))
    assert not window.keyboard.is_open
    assert QApplication.focusWidget() is window.who.email_edit
    qtbot.keyClicks(window.who.email_edit, "ada@example.org")  # a physical keyboard still types
    assert window.who.email_edit.text() == "ada@example.org"
    qtbot.mouseClick(window.who.email_edit, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.keyboard.is_open)


def test_a_field_low_on_a_small_screen_is_moved_above_the_keyboard(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    window.resize(1280, 800)
    on_who(qtbot, window)
    window.session.identify_guest()
    window.flow.advance()
    wait_stage(qtbot, window, Stage.WHAT)
    window.what.description_edit.setFocus()
    qtbot.waitUntil(lambda: window.keyboard.is_open)
    assert_field_clear_of_keyboard(window, window.what.description_edit)
    for _spec, key in window.keyboard.keyboard.keys:
        assert key.height() >= MIN_TARGET_PX and key.width() >= MIN_TARGET_PX, key.objectName()


def test_german_adds_umlauts_and_switches_while_open(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(translations=True)
    on_who(qtbot, window)
    keyboard = window.keyboard.keyboard
    letters = {spec.text for spec, _ in keyboard.keys}
    assert "ä" not in letters and "y" in letters
    window.set_language("de")  # live, with the keyboard open
    qtbot.waitUntil(lambda: keyboard.language == "de")
    letters = {spec.text for spec, _ in keyboard.keys}
    assert {"ä", "ö", "ü", "ß"} <= letters
    row_one = [button.text() for spec, button in keyboard.keys if spec.kind is KeyKind.CHAR][:6]
    assert row_one == ["q", "w", "e", "r", "t", "z"]  # QWERTZ
    tap(qtbot, keyboard.key(KeyKind.SHIFT))
    tap(qtbot, keyboard.key(KeyKind.CHAR, "ü"))
    tap(qtbot, keyboard.key(KeyKind.CHAR, "ß"))
    assert window.who.name_edit.text() == "Üß"
    window.set_language("en")
    qtbot.waitUntil(lambda: keyboard.language == "en")
    assert "ä" not in {spec.text for spec, _ in keyboard.keys}


def test_a_german_kiosk_opens_with_the_german_keys(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(site_settings(language="de"))
    on_who(qtbot, window)
    assert {"ä", "ö", "ü", "ß"} <= {spec.text for spec, _ in window.keyboard.keyboard.keys}


def test_every_key_has_an_accessible_name_on_both_layers(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    on_who(qtbot, window)
    keyboard = window.keyboard.keyboard
    names: dict[str, str] = {}
    for _layer in (Layer.LETTERS, Layer.SYMBOLS):
        for spec, button in keyboard.keys:
            assert button.accessibleName().strip(), f"{spec} has no accessible name"
            names[spec.kind.value] = button.accessibleName()
        tap(qtbot, keyboard.key(KeyKind.LAYER))
    assert names["shift"] == "Shift" and names["backspace"] == "Backspace" and names["space"] == "Space"
    assert names["enter"] == "Done" and names["hide"] == "Hide keyboard" and names["layer"] == "Letters"
    assert all(isinstance(button, QPushButton) and not button.focusPolicy().value for _s, button in keyboard.keys)


def test_text_on_a_marked_up_picture_is_typed_with_the_keys(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    on_who(qtbot, window)
    window.session.identify_guest()
    window.flow.advance()
    tap(qtbot, window.what.tiles["laptop"])
    tap(qtbot, window.what.continue_button)
    tap(qtbot, window.show_screen.photo_button)
    tap(qtbot, window.show_screen.take_photo_button)
    qtbot.waitUntil(lambda: len(window.session.steps) == 1)
    tap(qtbot, window.show_screen.continue_button)
    qtbot.waitUntil(lambda: window.review.findChild(QAbstractButton, "markup-1") is not None)
    markup = window.review.findChild(QAbstractButton, "markup-1")
    assert markup is not None
    tap(qtbot, markup)
    editor = window.review.editor
    assert editor is not None
    text_tool = editor.findChild(QAbstractButton, "markup-tool-text")
    assert text_tool is not None
    tap(qtbot, text_tool)
    canvas = editor.canvas()
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=canvas.rect().center())
    entry = canvas.text_entry()
    qtbot.waitUntil(lambda: entry.hasFocus() and window.keyboard.is_open)
    assert_field_clear_of_keyboard(window, entry)
    tap_text(qtbot, window, "Here")
    with qtbot.waitSignal(editor.changed, timeout=2000):
        tap(qtbot, window.keyboard.keyboard.key(KeyKind.ENTER))
    assert [item.text for item in editor.items()] == ["Here"]


def test_the_administrator_pin_pad_keeps_its_own_keypad(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(replace(site_settings(), admin_pin_hash=hash_pin("2468", iterations=1000)))
    on_who(qtbot, window)
    window.admin_overlay.open_pad()
    qtbot.waitUntil(lambda: window.admin_overlay.pin_edit.hasFocus())
    assert not window.keyboard.is_open
