"""Qt translations: English and German complete, in step with the code, and no text outside them."""

from __future__ import annotations

import ast
from pathlib import Path

from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit, QPlainTextEdit, QWidget
from pytestqt.qtbot import QtBot

from kiosk.flow import Stage
from kiosk.i18n import catalogue_path
from kiosk.i18n_build import check, messages, sources
from kiosk.window import KioskWindow
from tests.kiosk.conftest import WindowFactory, site_settings
from tests.kiosk.helpers import tap, visible_widgets, wait_stage
from tests.kiosk.test_screens import visit_every_screen

_TEXT_SETTERS = {"setText", "setPlaceholderText", "setAccessibleName", "setToolTip", "setWindowTitle", "set_text"}


def test_translation_files_match_the_code_and_are_complete() -> None:
    assert check() == []


def test_widget_texts_in_the_code_all_go_through_the_translation_files() -> None:
    offenders = []
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in _TEXT_SETTERS:
                continue
            for argument in node.args:
                literal = isinstance(argument, ast.Constant) and isinstance(argument.value, str)
                if literal and any(c.isalpha() for c in argument.value) and argument.value != "ShowDesk":
                    offenders.append(f"{path.name}:{node.lineno} {argument.value!r}")
    assert offenders == []


def shown_texts(root: QWidget) -> list[str]:
    texts = []
    for widget in visible_widgets(root):
        if isinstance(widget, QLabel | QAbstractButton):
            texts.append(widget.text())
        if isinstance(widget, QLineEdit | QPlainTextEdit):
            texts.append(widget.placeholderText())
        texts.append(widget.accessibleName())
    return [t for t in texts if t.strip()]


def markup_editor_texts(qtbot: QtBot, window: KioskWindow) -> list[str]:
    """What the mark-up editor shows and says (labels, tool tips, descriptions), then back to Review."""
    tap(qtbot, window.review.findChild(QAbstractButton, "markup-1"))
    editor = window.review.editor
    assert editor is not None and editor.isVisible()
    texts = shown_texts(editor)
    for widget in [editor, *editor.findChildren(QWidget)]:
        # A tool tip ends in the shortcut, "(Ctrl+Z)": the text before it is what gets translated.
        texts += [widget.toolTip().rsplit(" (", 1)[0], widget.accessibleDescription()]
        if isinstance(widget, QLineEdit):  # the inline text field, hidden until a person types
            texts += [widget.placeholderText(), widget.accessibleName()]
    # Every tool's label, also where the bar shows icons alone.
    texts += [button.text() for button in editor.findChildren(QAbstractButton)]
    tap(qtbot, window.review.back_button)
    assert window.review.pages.currentIndex() == 0
    return [t for t in texts if t.strip()]


def untranslated_english(language_file: Path) -> set[str]:
    """English source texts whose German differs: seeing one on a German screen is a missed translation."""
    found = set()
    for (_context, source), message in messages(language_file).items():
        translation = message.find("translation")
        forms = [f.text or "" for f in translation.findall("numerusform")] if translation is not None else []
        text = translation.text if translation is not None else None
        if message.get("numerus") != "yes" and text and text != source:
            found.add(source)
        if forms and source not in forms:
            found.add(source)
    return found


def test_a_german_walk_shows_no_english(make_window: WindowFactory, qtbot: QtBot) -> None:
    english_only = untranslated_english(catalogue_path("de", ".ts"))
    window = make_window(site_settings(language="de"), translations=True)
    seen: list[str] = []
    for stage in visit_every_screen(qtbot, window):
        texts = shown_texts(window.screens[stage])
        if stage is Stage.REVIEW:
            texts += markup_editor_texts(qtbot, window)
        seen += texts
        leaked = sorted(t for t in texts if t in english_only)
        assert leaked == [], f"{stage}: {leaked}"
    assert "Rückgängig" in seen and "Schwärzen" in seen and "Die letzte Änderung rückgängig machen" in seen
    assert "Markierungen: 0" in seen and "Tippen, dann Eingabe drücken" in seen
    assert "Wer sind Sie?" in seen and "Anmeldung klappt nicht" in seen and "Passwort zurücksetzen" in seen
    assert "Sie sind Nummer 3 in der Warteschlange." in seen
    assert "Geschätzte Wartezeit: etwa 9 Minuten." in seen


def test_the_person_switches_language_and_the_next_person_gets_the_sites(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    window = make_window(translations=True)
    assert window.welcome.start_button.text() == "Touch to start"
    tap(qtbot, window.welcome.language_buttons["de"])
    assert window.welcome.start_button.text() == "Zum Starten berühren"
    assert window.welcome.language_buttons["de"].isChecked()
    tap(qtbot, window.welcome.start_button)
    wait_stage(qtbot, window, Stage.WHO)
    assert window.who.title_label.text() == "Wer sind Sie?"
    assert window.who.back_button.accessibleName() == "Zurück"
    tap(qtbot, window.who.back_button)
    assert window.welcome.start_button.text() == "Touch to start"


def test_english_plurals_read_right(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(translations=True)
    tap(qtbot, window.welcome.start_button)
    window.session.identify_guest()
    window.flow.advance()
    tap(qtbot, window.what.tiles["printer"])
    tap(qtbot, window.what.continue_button)
    tap(qtbot, window.show_screen.photo_button)
    tap(qtbot, window.show_screen.take_photo_button)
    qtbot.waitUntil(lambda: len(window.session.steps) == 1)
    assert window.show_screen.steps_heading.text() == "Your steps so far: 1"
    tap(qtbot, window.show_screen.continue_button)
    qtbot.waitUntil(lambda: len(window.review.group_boxes) == 3)
    tap(qtbot, window.review.send_button)
    assert window.send.steps_label.text() == "1 picture of the problem"
    assert window.send.sysinfo_label.text() == "3 groups of technical information"
