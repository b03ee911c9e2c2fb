"""Walking the kiosk as a person would: taps and keys, and what is visible on the current screen."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget
from pytestqt.qtbot import QtBot

from kiosk.badge import _KEY_CHARS, EV_KEY, INPUT_EVENT
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


def check_in_by_form(
    qtbot: QtBot, window: KioskWindow, name: str = "Ada Lovelace", email: str = "ada@example.org"
) -> None:
    tap(qtbot, window.welcome.start_button)
    wait_stage(qtbot, window, Stage.WHO)
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


class ReaderPipe:
    """A badge reader's device stood in by a FIFO: ``scan`` writes the key events a USB reader sends.

    The kiosk reads it like the real ``/dev/input`` device (only taking it exclusively fails,
    which the reader logs and gets over). The write end stays open so the kiosk never sees an
    end of file between scans.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / "badge-reader"
        os.mkfifo(self.path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)

    def scan(self, text: str, *, enter: bool = True) -> None:
        codes = {char: code for code, (char, _shifted) in _KEY_CHARS.items() if char not in "0123456789"}
        codes.update({str(digit): 11 if digit == 0 else digit + 1 for digit in range(10)})
        events = b""
        for char in text:
            code = codes[char.lower()]
            shift = char != char.lower()
            if shift:
                events += INPUT_EVENT.pack(0, 0, EV_KEY, 42, 1)
            events += INPUT_EVENT.pack(0, 0, EV_KEY, code, 1) + INPUT_EVENT.pack(0, 0, EV_KEY, code, 0)
            if shift:
                events += INPUT_EVENT.pack(0, 0, EV_KEY, 42, 0)
        if enter:
            events += INPUT_EVENT.pack(0, 0, EV_KEY, 28, 1) + INPUT_EVENT.pack(0, 0, EV_KEY, 28, 0)
        os.write(self._fd, events)

    def close(self) -> None:
        os.close(self._fd)
