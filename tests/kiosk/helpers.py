"""Walking the kiosk as a person would: taps and keys, and what is visible on the current screen."""

from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget
from pytestqt.qtbot import QtBot

from kiosk.flow import Stage
from kiosk.window import KioskWindow


def visible_widgets(root: QWidget) -> Iterator[QWidget]:
    for widget in root.findChildren(QWidget):
        if widget.isVisibleTo(root) and widget.isVisible():
            yield widget


def primary_buttons(root: QWidget) -> list[QAbstractButton]:
    return [
        w for w in visible_widgets(root) if isinstance(w, QAbstractButton) and w.property("role") in ("primary", "hero")
    ]


def tap(qtbot: QtBot, button: QAbstractButton) -> None:
    assert button.isVisible() and button.isEnabled(), f"{button.objectName()} cannot be tapped"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def wait_stage(qtbot: QtBot, window: KioskWindow, stage: Stage, timeout: int = 10_000) -> None:
    qtbot.waitUntil(lambda: window.flow.stage is stage, timeout=timeout)


class SteppingClock:
    """A key-timing clock for the badge detector: each reading is ``step_ms`` after the previous one."""

    def __init__(self, step_ms: float) -> None:
        self.step_ms = step_ms
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.step_ms
        return self.now


def type_like_a_person(window: KioskWindow) -> None:
    """Keys ~180 ms apart, as people type (synthetic key events arrive microseconds apart)."""
    window.who.badge_filter.clock_ms = SteppingClock(180.0)


def type_like_a_reader(window: KioskWindow) -> None:
    """Keys 8 ms apart, as USB badge and barcode readers type."""
    window.who.badge_filter.clock_ms = SteppingClock(8.0)


def check_in_by_form(
    qtbot: QtBot, window: KioskWindow, name: str = "Ada Lovelace", email: str = "ada@example.org"
) -> None:
    tap(qtbot, window.welcome.start_button)
    wait_stage(qtbot, window, Stage.WHO)
    type_like_a_person(window)
    qtbot.keyClicks(window.who.name_edit, name)
    qtbot.keyClicks(window.who.email_edit, email)
    tap(qtbot, window.who.continue_button)
    wait_stage(qtbot, window, Stage.WHAT)


def focused() -> QWidget | None:
    return QApplication.focusWidget()


def tab_to(qtbot: QtBot, window: KioskWindow, target: QWidget, limit: int = 60) -> None:
    """Press Tab until ``target`` has focus, as a keyboard user would."""
    for _ in range(limit):
        if focused() is target:
            return
        current = focused() or window
        qtbot.keyClick(current, Qt.Key.Key_Tab)
    raise AssertionError(f"Tab never reached {target.objectName() or target}")
