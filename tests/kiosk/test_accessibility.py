"""Screen readers and keyboards first: Review's tab order, announced errors, the idle alert, exposed states."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAccessible, QAccessibleEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from kiosk.flow import Stage
from kiosk.settings import hash_pin, parse_settings
from tests.kiosk.conftest import WindowFactory, site_settings
from tests.kiosk.helpers import check_in_by_form, tap, wait_stage
from tests.kiosk.test_walkup_trip_ups import capture_steps, every_group_sysinfo, solid_grab, to_show


def tab_walk(qtbot: QtBot, start: QWidget, limit: int = 40) -> list[QWidget]:
    """Focus ``start`` and press Tab until focus comes back to it: the stops, in order."""
    start.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(start.hasFocus)
    stops = [start]
    for _ in range(limit):
        current = QApplication.focusWidget()
        assert current is not None
        qtbot.keyClick(current, Qt.Key.Key_Tab)
        following = QApplication.focusWidget()
        assert following is not None
        if following is start:
            return stops
        stops.append(following)
    raise AssertionError("Tab never came back: " + ", ".join(w.objectName() for w in stops))


def test_review_tab_order_follows_the_screen(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(grab_factory=solid_grab, sysinfo=every_group_sysinfo)
    to_show(qtbot, window)
    capture_steps(qtbot, window, 2)
    tap(qtbot, window.show_screen.continue_button)
    wait_stage(qtbot, window, Stage.REVIEW)
    review = window.review
    qtbot.waitUntil(lambda: len(review.group_boxes) == 11)
    stops = tab_walk(qtbot, review.back_button)
    groups = [f"group-{key}" for key in every_group_sysinfo()]
    assert [w.objectName() for w in stops] == [
        "back",
        "delete-1",
        "markup-1",
        "delete-2",
        "markup-2",
        *groups,
        "sysinfo-details",
        "send",
    ], "top to bottom, left to right: the pictures before the technical switches"
    unnamed = [w.objectName() for w in stops if not accessible_name(w)]
    assert not unnamed, f"stops a screen reader cannot name: {unnamed}"

    # The mark-up editor's stops come between Back and Save mark-up, in the editor's own order.
    markup = review.findChild(type(review.send_button), "markup-1")
    assert markup is not None
    tap(qtbot, markup)
    qtbot.waitUntil(lambda: review.editor is not None and review.editor.isVisible())
    stops = tab_walk(qtbot, review.back_button)
    names = [w.objectName() for w in stops]
    assert names[1] == "markup-tool-select" and names[-1] == "save-markup", names
    assert not [w.objectName() for w in stops if not accessible_name(w)]


def accessible_name(widget: QWidget) -> str:
    """What a screen reader says for ``widget``: its name through Qt's accessibility interface."""
    interface = QAccessible.queryAccessibleInterface(widget)
    assert interface is not None
    return interface.text(QAccessible.Text.Name).strip()


class SpokenEvents:
    """What the kiosk hands to Qt's accessibility layer (which passes it on to screen readers)."""

    def __init__(self) -> None:
        self.events: list[tuple[QAccessible.Event, QObject, str]] = []

    def __call__(self, event: QAccessibleEvent) -> None:
        text = event.message() if hasattr(event, "message") else ""
        self.events.append((event.type(), event.object(), text))

    def said(self, obj: QObject) -> list[str]:
        """The announcements and alerts made on behalf of ``obj``, as text."""
        return [text for kind, source, text in self.events if source is obj and kind is QAccessible.Event.Announcement]

    def alerts(self, obj: QObject) -> int:
        return sum(1 for kind, source, _text in self.events if source is obj and kind is QAccessible.Event.Alert)


@pytest.fixture
def spoken(monkeypatch: pytest.MonkeyPatch) -> SpokenEvents:
    recorder = SpokenEvents()
    original = QAccessible.updateAccessibility

    def record(event: QAccessibleEvent) -> None:
        recorder(event)
        original(event)

    monkeypatch.setattr(QAccessible, "updateAccessibility", record)
    return recorder


def test_an_e_mail_error_is_the_fields_description_and_is_announced(
    make_window: WindowFactory, qtbot: QtBot, spoken: SpokenEvents
) -> None:
    window = make_window()
    tap(qtbot, window.welcome.start_button)
    wait_stage(qtbot, window, Stage.WHO)
    qtbot.keyClicks(window.who.name_edit, "Ada Lovelace")
    qtbot.keyClicks(window.who.email_edit, "ada-at-example")
    tap(qtbot, window.who.continue_button)

    message = window.who.error_label.text()
    assert "e-mail" in message
    field = QAccessible.queryAccessibleInterface(window.who.email_edit)
    assert field is not None
    assert field.text(QAccessible.Text.Description) == message, "the error is the field's own description"
    assert field.text(QAccessible.Text.Name) == "E-mail"
    name_field = QAccessible.queryAccessibleInterface(window.who.name_edit)
    # A field without an error keeps Qt's own description (its placeholder).
    assert name_field is not None
    assert name_field.text(QAccessible.Text.Description) == window.who.name_edit.placeholderText()
    assert window.who.email_edit.hasFocus()
    assert spoken.said(window.who.email_edit) == [message] and spoken.alerts(window.who.email_edit) == 1

    # The same mistake again is said again; fixing it clears the description.
    tap(qtbot, window.who.continue_button)
    assert spoken.said(window.who.email_edit) == [message, message]
    window.who.email_edit.clear()
    qtbot.keyClicks(window.who.email_edit, "ada@example.org")
    assert field.text(QAccessible.Text.Description) == window.who.email_edit.placeholderText()


def test_the_idle_warning_is_an_alert_dialog_whose_text_is_spoken(
    make_window: WindowFactory, qtbot: QtBot, spoken: SpokenEvents
) -> None:
    window = make_window(replace(site_settings(), idle_seconds=0.3, countdown_seconds=30))
    assert parse_settings({}).countdown_seconds >= 20, "WCAG 2.2.1: at least 20 s by default"
    check_in_by_form(qtbot, window)
    overlay = window.idle_overlay
    with qtbot.waitSignal(window.idle.countdown_started, timeout=5_000):
        pass
    assert overlay.isVisible()
    alert = QAccessible.queryAccessibleInterface(overlay)
    assert alert is not None
    assert alert.role() is QAccessible.Role.AlertMessage
    assert alert.text(QAccessible.Text.Name) == "Are you still there?"
    description = alert.text(QAccessible.Text.Description)
    assert description == overlay.count_label.text() and "30 second" in description
    assert spoken.said(overlay) == [f"Are you still there? {description}"]
    assert spoken.alerts(overlay) == 1
    # Its button is inside the alert, so the reader says the alert before "I'm still here".
    button = QAccessible.queryAccessibleInterface(overlay.button)
    assert button is not None and button.parent() is not None
    assert overlay.isAncestorOf(overlay.button) and window.idle_overlay.button.hasFocus()
    with qtbot.waitSignal(window.idle.countdown_cancelled):
        tap(qtbot, overlay.button)


def test_high_contrast_says_on_or_off_and_the_languages_are_one_choice(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    window = make_window(translations=True)
    welcome = window.welcome
    contrast = QAccessible.queryAccessibleInterface(welcome.contrast_button)
    assert contrast is not None
    assert contrast.state().checkable and not contrast.state().checked
    tap(qtbot, welcome.contrast_button)
    assert window.theme == "high-contrast" and contrast.state().checked
    tap(qtbot, welcome.contrast_button)
    assert window.theme == "default" and not contrast.state().checked

    english, german = welcome.language_buttons["en"], welcome.language_buttons["de"]
    interfaces = [QAccessible.queryAccessibleInterface(b) for b in (english, german)]
    assert all(i is not None and i.role() is QAccessible.Role.RadioButton for i in interfaces)

    def states() -> list[tuple[bool, bool]]:
        return [(i.state().checkable, i.state().checked) for i in interfaces if i is not None]

    assert states() == [(True, True), (True, False)]
    tap(qtbot, german)
    assert window.language == "de" and states() == [(True, False), (True, True)]
    tap(qtbot, german)  # choosing the chosen one again keeps it chosen: one of two, never none
    assert states() == [(True, False), (True, True)]


def test_a_wrong_admin_pin_is_the_pin_fields_description_and_is_announced(
    make_window: WindowFactory, qtbot: QtBot, spoken: SpokenEvents
) -> None:
    window = make_window(replace(site_settings(), admin_pin_hash=hash_pin("8642", iterations=1000)))
    pad = window.admin_overlay
    pad.open_pad()
    for digit in "1234":
        tap(qtbot, pad.findChild(type(pad.ok_button), f"admin-digit-{digit}"))
    tap(qtbot, pad.ok_button)
    qtbot.waitUntil(lambda: pad.status.text() == "Wrong PIN.")
    field = QAccessible.queryAccessibleInterface(pad.pin_edit)
    assert field is not None and field.text(QAccessible.Text.Description) == "Wrong PIN."
    assert spoken.said(pad.pin_edit) == ["Wrong PIN."]
