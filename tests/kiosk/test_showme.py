""""Show me" when things go wrong: an app that cannot start, a capture that fails."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRect
from pytestqt.qtbot import QtBot

from agent.bundle import StepDraft
from agent.capture import CaptureError
from kiosk.flow import Stage
from tests.kiosk.conftest import WindowFactory, site_settings
from tests.kiosk.helpers import tap, wait_stage


def failing_grab() -> Callable[[str], StepDraft]:
    def grab(_caption: str) -> StepDraft:
        raise CaptureError("no screen to capture here")

    return grab


def open_show_screen(qtbot: QtBot, window: object) -> None:
    from kiosk.window import KioskWindow

    assert isinstance(window, KioskWindow)
    tap(qtbot, window.welcome.start_button)
    window.session.identify_guest()
    window.flow.advance()
    tap(qtbot, window.what.tiles["laptop"])
    tap(qtbot, window.what.continue_button)
    wait_stage(qtbot, window, Stage.SHOW)


def test_an_app_that_cannot_start_brings_the_person_back_with_a_notice(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    settings = site_settings(
        allowed_apps=[{"id": "browser", "label": "Browser", "command": ["/nonexistent/showdesk-browser"]}]
    )
    window = make_window(settings, grab_factory=failing_grab)
    open_show_screen(qtbot, window)
    showme = window.showme
    assert showme is not None
    with qtbot.waitSignal(showme.launch_failed, timeout=10_000):
        tap(qtbot, window.show_screen.app_buttons["browser"])
    qtbot.waitUntil(window.isVisible)
    assert not showme.active and not showme.bar.isVisible()
    assert window.show_screen.notice.isVisible() and "could not be opened" in window.show_screen.notice.text()
    assert window.flow.stage is Stage.SHOW


def test_a_failed_capture_says_so_on_the_bar_and_keeps_going(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(grab_factory=failing_grab)
    open_show_screen(qtbot, window)
    showme = window.showme
    assert showme is not None
    tap(qtbot, window.show_screen.app_buttons["browser"])
    with qtbot.waitSignal(showme.capture_failed, timeout=10_000):
        tap(qtbot, showme.bar.capture_button)
    assert showme.bar.isVisible() and showme.bar.capture_button.isEnabled()
    assert showme.bar.count_label.text() == "That did not work. Try again?"
    assert window.session.steps == []
    tap(qtbot, showme.bar.done_button)
    assert window.isVisible() and showme.running_apps() == ()


def test_an_idle_wipe_during_show_me_closes_the_apps(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(grab_factory=failing_grab)
    open_show_screen(qtbot, window)
    showme = window.showme
    assert showme is not None
    tap(qtbot, window.show_screen.app_buttons["browser"])
    assert len(showme.running_apps()) == 1
    window.flow.reset("idle")
    assert showme.running_apps() == () and not showme.bar.isVisible() and window.isVisible()
    assert window.flow.stage is Stage.WELCOME


def test_a_caption_is_typed_on_the_bars_own_keyboard_and_the_bar_stays_on_screen(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    from kiosk.keyboard import KeyKind

    window = make_window(grab_factory=failing_grab)
    open_show_screen(qtbot, window)
    showme = window.showme
    assert showme is not None
    tap(qtbot, window.show_screen.app_buttons["browser"])
    bar = showme.bar
    qtbot.waitUntil(bar.isVisible)
    screen = QRect(0, 0, 1920, 1080)
    assert bar.keyboard.isHidden()
    short = bar.geometry()

    bar.activateWindow()
    tap(qtbot, bar.caption_edit)
    qtbot.waitUntil(lambda: not bar.keyboard.isHidden())
    bar.caption_edit.setFocus()
    qtbot.waitUntil(bar.caption_edit.hasFocus)
    for letter in "vpn":
        tap(qtbot, bar.keyboard.key(KeyKind.CHAR, letter))
    assert bar.caption_edit.text() == "vpn"
    # Taller with its keyboard, the bar is still whole on the screen, its bottom where it was.
    assert screen.contains(bar.geometry()) and bar.height() > short.height()
    assert bar.geometry().bottom() == short.bottom()

    tap(qtbot, bar.keyboard.key(KeyKind.HIDE))
    assert bar.keyboard.isHidden() and bar.geometry() == short
    tap(qtbot, bar.done_button)
