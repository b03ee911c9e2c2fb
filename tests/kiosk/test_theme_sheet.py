"""The kiosk's theme is the whole application's style sheet while a kiosk window lives, and only then."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.kiosk.conftest import WindowFactory


def test_the_application_gets_its_own_style_sheet_back_whatever_order_the_windows_close_in(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.styleSheet()
    first, second = make_window(), make_window()
    themed = app.styleSheet()
    assert themed != before and "font-size" in themed
    second.toggle_contrast()  # the newest window's theme is the one on show
    contrast = app.styleSheet()
    assert contrast != themed
    for window in (first, second):  # oldest first: what pytest-qt's own teardown does
        window.allow_close = True
        window.close()
        if window is first:
            assert app.styleSheet() == contrast, "the window still open keeps its theme"
    assert app.styleSheet() == before
