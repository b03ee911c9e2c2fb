"""Idle while an app is open under "Show me": input in the app counts, and the warning shows over the app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kiosk.flow import Stage
from tests.fixtures.xvfb import XvfbServer
from tests.kiosk.conftest import WindowFactory, site_settings
from tests.kiosk.helpers import tap, wait_stage
from tests.kiosk.test_walkup_trip_ups import solid_grab, to_show


class DisplayIdle:
    """Stands in for the X server's idle time (the offscreen platform has none): set when "input" happened."""

    def __init__(self) -> None:
        import time

        self._clock = time.monotonic
        self.last_input = self._clock()

    def input_now(self) -> None:
        self.last_input = self._clock()

    def __call__(self) -> float:
        return self._clock() - self.last_input


def test_input_in_the_app_keeps_the_session_and_the_warning_shows_over_it(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    window = make_window(site_settings(countdown_seconds=30), grab_factory=solid_grab)
    window.idle.idle_seconds = 1  # below what a site may set, to keep the test short
    display = DisplayIdle()
    window.idle.activity_probe = display
    window.idle._probe_opened = True
    to_show(qtbot, window)
    showme = window.showme
    assert showme is not None
    tap(qtbot, window.show_screen.app_buttons["browser"])
    assert not window.isVisible() and window.idle.handed_over
    # The person works in the app for a while: the kiosk sees none of it, the display does.
    started: list[int] = []
    window.idle.countdown_started.connect(started.append)
    for _ in range(3):
        # Input a little while into the idle time, as a person's next tap would come.
        qtbot.waitUntil(lambda: 0 <= window.idle._idle.remainingTime() < 700, timeout=5_000)
        display.input_now()
        with qtbot.waitSignal(window.idle._idle.timeout, timeout=5_000):
            pass
        assert not started and not window.idle.counting_down, "busy in the app is not idle"
    # They stop: the warning comes after the normal limit (not three times it), over the app.
    qtbot.waitUntil(lambda: window.idle.counting_down, timeout=5_000)
    assert 0.9 <= display() < 3  # Qt timers may fire a few per cent early
    assert showme.countdown.isVisible() and showme.countdown.isWindow()
    assert showme.countdown.geometry().contains(window._screen_rect()), "it covers the whole screen"
    assert "cleared in" in showme.countdown.count_label.text()
    # A touch in the app during the warning is "I'm still here".
    with qtbot.waitSignal(window.idle.countdown_cancelled, timeout=5_000):
        display.input_now()
    assert not showme.countdown.isVisible() and window.flow.stage is Stage.SHOW
    # "I'm still here" on the warning itself works too.
    qtbot.waitUntil(lambda: showme.countdown.isVisible(), timeout=5_000)
    with qtbot.waitSignal(window.idle.countdown_cancelled, timeout=5_000):
        tap(qtbot, showme.countdown.button)
    tap(qtbot, showme.bar.done_button)
    assert window.isVisible() and not showme.countdown.isVisible()


def test_without_a_view_of_the_display_the_limit_is_stretched(make_window: WindowFactory, qtbot: QtBot) -> None:
    settings = site_settings(idle_seconds=60, countdown_seconds=30)
    window = make_window(settings, grab_factory=solid_grab)
    to_show(qtbot, window)  # offscreen: no X server to ask
    tap(qtbot, window.show_screen.app_buttons["browser"])
    assert not window.idle.sees_other_apps
    assert window.idle._idle.interval() == 180_000
    assert window.showme is not None
    tap(qtbot, window.showme.bar.done_button)
    wait_stage(qtbot, window, Stage.SHOW)
    assert window.idle._idle.interval() == 60_000


# Runs under the X server as a real Qt app on xcb: an "app" window covers the screen, another
# X client (XTest, as a mouse would) moves the pointer for a while, then stops.
_SCRIPT = r"""
import ctypes, ctypes.util, json, sys, time
from pathlib import Path
from PySide6.QtCore import QRect, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget
from kiosk.idle import IdleWatcher
from kiosk.settings import Colours, parse_settings
from kiosk.showme import ScreenGrabber, ShowMeController, mss_grabber
from kiosk.theme import style_sheet

out = Path(sys.argv[1])
MOVES = 12
app = QApplication([])
app.setStyleSheet(style_sheet(Colours()))
x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
xtst = ctypes.CDLL(ctypes.util.find_library("Xtst"))
x11.XOpenDisplay.restype = ctypes.c_void_p
x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
x11.XFlush.argtypes = [ctypes.c_void_p]
xtst.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_ulong]
other_client = x11.XOpenDisplay(None)

settings = parse_settings({"allowed_apps": [{"id": "app", "label": "App", "command": ["sleep", "30"]}]})
grabber = ScreenGrabber(mss_grabber(None, 1))
controller = ShowMeController(grabber, lambda: QRect(0, 0, 1920, 1080))
idle = IdleWatcher(0.8, 20)
controller.watch_idle(idle)
controller.handing_over.connect(lambda: idle.set_handed_over(True))
result = {"moves": []}
the_app = QWidget()
palette = the_app.palette()
palette.setColor(QPalette.ColorRole.Window, QColor(12, 200, 120))
the_app.setPalette(palette)
the_app.setAutoFillBackground(True)
the_app.setGeometry(0, 0, 1920, 1080)

def move():
    x = 200 + 10 * len(result["moves"])
    xtst.XTestFakeMotionEvent(other_client, -1, x, 300, 0)
    x11.XFlush(other_client)
    result["moves"].append(time.monotonic())
    if len(result["moves"]) < MOVES:
        QTimer.singleShot(150, move)

def started(seconds):
    result["countdown_at"] = time.monotonic()
    result["sees_other_apps"] = idle.sees_other_apps
    QTimer.singleShot(300, check_screen)

def check_screen():
    import io
    from PIL import Image
    from agent.capture import Capturer
    from agent.encoding import encode
    with Capturer() as capturer:
        image = Image.open(io.BytesIO(encode(capturer.capture_monitor(1)).data)).convert("RGB")
    result["centre"] = list(image.getpixel((960, 540)))
    result["overlay_visible"] = controller.countdown.isVisible()
    QTimer.singleShot(100, move_once_more)

def move_once_more():
    xtst.XTestFakeMotionEvent(other_client, -1, 900, 700, 0)
    x11.XFlush(other_client)
    result["late_move_at"] = time.monotonic()

def cancelled():
    result["cancelled_at"] = time.monotonic()
    result["overlay_after"] = controller.countdown.isVisible()
    controller.finish()
    app.quit()

idle.countdown_started.connect(started)
idle.countdown_cancelled.connect(lambda: "countdown_at" in result and cancelled())
idle.expired.connect(lambda: (result.update(expired=True), app.quit()))
idle.arm()
controller.start(settings.allowed_apps[0], 0)
the_app.show()
the_app.raise_()
QTimer.singleShot(100, move)
QTimer.singleShot(20000, app.quit)
app.exec()
grabber.shutdown()
out.joinpath("result.json").write_text(json.dumps(result))
"""


@pytest.mark.xvfb
def test_on_x_input_in_another_client_counts_and_the_warning_covers_it(
    xvfb_display: XvfbServer, tmp_path: Path
) -> None:
    env = {**xvfb_display.env, "QT_QPA_PLATFORM": "xcb"}
    completed = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result.get("sees_other_apps") is True, result
    assert "expired" not in result
    last_move = result["moves"][-1]
    span = last_move - result["moves"][0]
    assert span > 0.8, "the moves outlast the idle limit, so a watcher blind to them would warn in between"
    assert result["countdown_at"] >= last_move + 0.6, "no warning while the pointer moved in another client"
    assert result["overlay_visible"] is True
    assert result["centre"] != [12, 200, 120], "the warning is on the screen over the app"
    assert result["cancelled_at"] > result["late_move_at"] and result["overlay_after"] is False
