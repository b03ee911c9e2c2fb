"""The touch rules, accessible names, one primary action and a way back, measured on every screen."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QCheckBox, QLabel, QLineEdit, QPlainTextEdit, QWidget
from pytestqt.qtbot import QtBot

from agent.schema import Ticket
from kiosk.flow import Stage
from kiosk.session import Outcome
from kiosk.theme import MIN_TARGET_PX, MIN_TEXT_PT
from kiosk.window import KioskWindow
from tests.kiosk.conftest import WindowFactory
from tests.kiosk.helpers import (
    focused,
    primary_buttons,
    tab_to,
    tap,
    visible_widgets,
    wait_stage,
)


def visit_every_screen(qtbot: QtBot, window: KioskWindow) -> Iterator[Stage]:
    """Each stage with the content a person would see there (articles, a step, a ticket)."""
    yield Stage.WELCOME
    tap(qtbot, window.welcome.start_button)
    yield Stage.WHO
    window.session.identify_guest()
    window.flow.advance()
    tap(qtbot, window.what.tiles["sign-in"])
    yield Stage.WHAT
    tap(qtbot, window.what.continue_button)
    tap(qtbot, window.show_screen.photo_button)
    yield Stage.SHOW  # the photo panel open
    tap(qtbot, window.show_screen.take_photo_button)
    qtbot.waitUntil(lambda: len(window.session.steps) == 1)
    yield Stage.SHOW
    tap(qtbot, window.show_screen.continue_button)
    qtbot.waitUntil(lambda: bool(window.review.group_boxes))
    yield Stage.REVIEW
    tap(qtbot, window.review.send_button)
    yield Stage.SEND
    ticket = Ticket(id="t-1", number="HQ-0042", url="https://help.example.org/t/HQ-0042")
    window.session.finish(
        Outcome(report_id=window.session.report_id, ticket=ticket, queue_position=3, estimated_wait_seconds=540)
    )
    window.flow.advance()
    yield Stage.DONE


def problems_on(screen: QWidget) -> list[str]:
    QApplication.processEvents()  # let pending layout requests settle first
    problems = []
    for widget in visible_widgets(screen):
        name = widget.objectName() or type(widget).__name__
        interactive = isinstance(widget, QAbstractButton | QLineEdit | QPlainTextEdit | QCheckBox)
        if interactive and (widget.width() < MIN_TARGET_PX or widget.height() < MIN_TARGET_PX):
            problems.append(f"{name}: {widget.width()}x{widget.height()} px is below {MIN_TARGET_PX} px")
        shows_text = isinstance(widget, QAbstractButton | QLineEdit | QPlainTextEdit) or (
            isinstance(widget, QLabel) and bool(widget.text())
        )
        if shows_text and widget.font().pointSizeF() < MIN_TEXT_PT:
            problems.append(f"{name}: text {widget.font().pointSizeF()} pt is below {MIN_TEXT_PT} pt")
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and not widget.accessibleName().strip():
            problems.append(f"{name} ({type(widget).__name__}) takes focus but has no accessible name")
        if isinstance(widget, QAbstractButton) and widget.text() and widget.sizeHint().width() > widget.width() + 1:
            problems.append(f"{name}: '{widget.text()}' needs {widget.sizeHint().width()} px, has {widget.width()}")
        if isinstance(widget, QLabel) and widget.text() and widget.wordWrap() is False:
            needed = widget.fontMetrics().horizontalAdvance(widget.text())
            if needed > widget.width() + 2:
                problems.append(f"{name}: '{widget.text()}' needs {needed} px, has {widget.width()}")
    return problems


@pytest.mark.parametrize("theme", ["default", "high-contrast"])
def test_every_screen_keeps_the_touch_rules(make_window: WindowFactory, qtbot: QtBot, theme: str) -> None:
    window = make_window()
    window.apply_theme(theme)
    seen = []
    for stage in visit_every_screen(qtbot, window):
        assert window.flow.stage is stage
        screen = window.screens[stage]
        seen.append(stage)
        assert problems_on(screen) == [], stage
        primaries = primary_buttons(screen)
        assert len(primaries) == 1, f"{stage}: primary actions {[b.text() for b in primaries]}"
        if stage is not Stage.WELCOME:
            back = screen.back_button
            assert back.isVisible() and back.isEnabled(), stage
            assert back.accessibleName() in ("Back", "Start over")
    assert set(seen) == set(Stage)


def test_back_leads_one_screen_back_and_from_who_to_a_wiped_welcome(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    tap(qtbot, window.welcome.start_button)
    qtbot.keyClicks(window.who.name_edit, "Grace Hopper")
    window.session.identify_guest()
    window.flow.advance()
    tap(qtbot, window.what.tiles["laptop"])
    tap(qtbot, window.what.continue_button)
    wait_stage(qtbot, window, Stage.SHOW)
    for expected in (Stage.WHAT, Stage.WHO, Stage.WELCOME):
        tap(qtbot, window.screens[window.flow.stage].back_button)
        assert window.flow.stage is expected
    assert window.who.name_edit.text() == ""
    assert not window.session.identified and window.session.category_id == ""


def test_escape_is_back_for_keyboard_users(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    tap(qtbot, window.welcome.start_button)
    window.session.identify_guest()
    window.flow.advance()
    wait_stage(qtbot, window, Stage.WHAT)
    qtbot.keyClick(focused() or window, Qt.Key.Key_Escape)
    assert window.flow.stage is Stage.WHO


def test_the_whole_flow_by_keyboard_alone(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(patience_seconds=0.2)  # nothing listens: the local receipt comes quickly
    make_window.start_sender()
    qtbot.keyClick(focused() or window, Qt.Key.Key_Return)
    wait_stage(qtbot, window, Stage.WHO)
    assert focused() is window.who.name_edit
    qtbot.keyClicks(window.who.name_edit, "Ada Lovelace")
    qtbot.keyClick(window.who.name_edit, Qt.Key.Key_Return)
    assert focused() is window.who.email_edit
    qtbot.keyClicks(window.who.email_edit, "ada@example.org")
    qtbot.keyClick(window.who.email_edit, Qt.Key.Key_Return)
    wait_stage(qtbot, window, Stage.WHAT)
    tab_to(qtbot, window, window.what.tiles["printer"])
    qtbot.keyClick(window.what.tiles["printer"], Qt.Key.Key_Space)
    assert window.session.category_id == "printer"
    tab_to(qtbot, window, window.what.description_edit)
    qtbot.keyClicks(window.what.description_edit, "Paper jam on floor 2")
    tab_to(qtbot, window, window.what.continue_button)
    qtbot.keyClick(window.what.continue_button, Qt.Key.Key_Return)
    wait_stage(qtbot, window, Stage.SHOW)
    tab_to(qtbot, window, window.show_screen.photo_button)
    qtbot.keyClick(window.show_screen.photo_button, Qt.Key.Key_Return)
    assert focused() is window.show_screen.take_photo_button
    qtbot.keyClick(window.show_screen.take_photo_button, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(window.session.steps) == 1)
    tab_to(qtbot, window, window.show_screen.continue_button)
    qtbot.keyClick(window.show_screen.continue_button, Qt.Key.Key_Return)
    wait_stage(qtbot, window, Stage.REVIEW)
    qtbot.keyClick(focused() or window, Qt.Key.Key_Return)
    wait_stage(qtbot, window, Stage.SEND)
    assert focused() is window.send.send_button
    sent_id = window.session.report_id
    qtbot.keyClick(window.send.send_button, Qt.Key.Key_Return)
    wait_stage(qtbot, window, Stage.DONE)
    assert window.session.outcome is not None and window.session.description == "Paper jam on floor 2"
    assert focused() is window.done.finish_button
    qtbot.keyClick(window.done.finish_button, Qt.Key.Key_Return)
    wait_stage(qtbot, window, Stage.WELCOME)
    # Nothing listens at the backend address: the report waits in the outbox.
    assert [entry.id for entry in make_window.outbox.list()] == [str(sent_id)]


def test_welcome_starts_on_any_touch_or_key_but_not_on_tab(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    qtbot.keyClick(window.welcome, Qt.Key.Key_Tab)
    assert window.flow.stage is Stage.WELCOME
    qtbot.mouseClick(window.welcome.headline, Qt.MouseButton.LeftButton)
    assert window.flow.stage is Stage.WHO
    window.flow.reset("cancel")
    qtbot.keyClick(window.welcome, Qt.Key.Key_A)
    assert window.flow.stage is Stage.WHO


def test_a_category_without_articles_shows_no_self_help(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    tap(qtbot, window.welcome.start_button)
    window.session.identify_guest()
    window.flow.advance()
    tap(qtbot, window.what.tiles["printer"])
    assert not window.what.help_card.isVisible()
    tap(qtbot, window.what.tiles["sign-in"])
    assert window.what.help_card.isVisible()
    titles = [t.text() for t in window.what.article_titles if t.isVisible()]
    assert titles == ["Reset your password", "Set up your authenticator app"]
    codes = [c.data for c in window.what.article_codes if c.isVisible()]
    assert codes == ["https://help.example.org/reset-password", "https://help.example.org/mfa"]


def test_self_help_that_solved_it_is_counted_and_ends_the_visit(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    for expected in (1, 2):
        tap(qtbot, window.welcome.start_button)
        window.session.identify_guest()
        window.flow.advance()
        tap(qtbot, window.what.tiles["sign-in"])
        tap(qtbot, window.what.solved_button)
        assert window.flow.stage is Stage.WELCOME
        assert window.stats.read() == {"self_help_resolved": {"sign-in": expected}}
    assert make_window.outbox.list() == []


def test_description_stops_at_its_visible_limit(make_window: WindowFactory, qtbot: QtBot) -> None:
    from tests.kiosk.conftest import site_settings

    window = make_window(site_settings(description_max_chars=20))
    tap(qtbot, window.welcome.start_button)
    window.session.identify_guest()
    window.flow.advance()
    qtbot.keyClicks(window.what.description_edit, "The screen flickers when I dock the laptop")
    assert window.what.description_edit.toPlainText() == "The screen flickers "
    assert window.what.counter_label.text() == "20 of 20 characters"


def test_guest_button_only_where_the_site_allows_it(make_window: WindowFactory, qtbot: QtBot) -> None:
    from tests.kiosk.conftest import site_settings

    window = make_window(site_settings(guest_allowed=False))
    tap(qtbot, window.welcome.start_button)
    assert not window.who.guest_button.isVisible()
    window.who.continue_as_guest()
    assert window.flow.stage is Stage.WHO and not window.session.identified


def test_contrast_toggle_changes_the_look_and_the_next_person_gets_the_site_theme(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    window = make_window()
    before = window.welcome.grab().toImage().pixelColor(10, 10)
    tap(qtbot, window.welcome.contrast_button)
    after = window.welcome.grab().toImage().pixelColor(10, 10)
    assert (before.red(), before.green(), before.blue()) != (0, 0, 0)
    assert (after.red(), after.green(), after.blue()) == (0, 0, 0)
    tap(qtbot, window.welcome.start_button)
    window.flow.reset("idle")
    assert window.theme == "default"


def test_report_id_is_fresh_for_each_person(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    first = window.session.report_id
    tap(qtbot, window.welcome.start_button)
    window.flow.reset("cancel")
    assert isinstance(first, uuid.UUID) and window.session.report_id != first


def test_review_fills_the_width_with_step_cards_and_says_when_more_are_below(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    from kiosk.screens.review import GROUP_LABELS

    window = make_window(sysinfo=lambda: {key: {"value": key} for key in GROUP_LABELS})
    tap(qtbot, window.welcome.start_button)
    window.session.identify_guest()
    window.flow.advance()
    tap(qtbot, window.what.tiles["printer"])
    tap(qtbot, window.what.continue_button)
    for count in range(1, 4):
        tap(qtbot, window.show_screen.photo_button)
        tap(qtbot, window.show_screen.take_photo_button)
        qtbot.waitUntil(lambda wanted=count: len(window.session.steps) == wanted)
    tap(qtbot, window.show_screen.continue_button)
    wait_stage(qtbot, window, Stage.REVIEW)
    review = window.review
    QApplication.processEvents()
    cards = [review.steps_grid.itemAt(i).widget() for i in range(review.steps_grid.count())]
    assert len({card.y() for card in cards}) == 1, "three steps sit side by side at 1920 px"
    right_edge = max(card.geometry().right() for card in cards)
    assert review.steps_area.viewport().width() - right_edge < 40, "the cards use the width up to the scroll bar"
    assert not review.steps_area.more_hint.isVisible()
    qtbot.waitUntil(lambda: len(review.group_boxes) == len(GROUP_LABELS))
    # Eleven switches do not fit the card: the list says so, and its bar is wide enough for a finger.
    qtbot.waitUntil(lambda: review.group_area.verticalScrollBar().maximum() > 0)
    assert review.group_area.more_hint.isVisible()
    assert review.group_area.verticalScrollBar().width() >= 24
    review.group_area.verticalScrollBar().setValue(review.group_area.verticalScrollBar().maximum())
    assert not review.group_area.more_hint.isVisible()
