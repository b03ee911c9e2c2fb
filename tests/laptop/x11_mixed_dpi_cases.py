"""Region selection on two monitors of different scale (run by test_on_x11.py, not collected directly).

The X screen is split into two RandR monitors; Qt is told the second one has a device-pixel ratio
of 2 (QT_SCREEN_SCALE_FACTORS), so its overlay counts in logical units half the size of the
desktop's pixels. The mouse is driven by xdotool, in desktop pixels, as a person's would be.
The desktop shows a picture whose every pixel encodes its own position.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from agent.laptop.agent_app import AgentApp
from agent.laptop.report_window import ReportWindow
from agent.markup import open_image
from tests.fixtures.xvfb import paint_root, pattern_rgb, position_pattern
from tests.laptop.conftest import AgentHarness

SCREEN = (1920, 1080)
MONITORS = [(0, 0, 960, 1080), (960, 0, 960, 1080)]
SCALE_FACTORS = "1;2"


@pytest.fixture
def x_harness(qtbot: QtBot, tmp_path: Path) -> Iterator[AgentHarness]:
    display = os.environ.get("DISPLAY")
    ratios = [screen.devicePixelRatio() for screen in QGuiApplication.screens()]
    if QGuiApplication.platformName() != "xcb" or not display or ratios != [1.0, 2.0]:
        pytest.fail(f"run through tests/laptop/test_on_x11.py (platform, ratios: {ratios})")
    if shutil.which("xdotool") is None:
        pytest.fail("xdotool is needed to drive the mouse (Debian package xdotool)")
    paint_root(display, position_pattern(*SCREEN))
    made = AgentHarness(qtbot, tmp_path, display)
    yield made
    made.close()


def _overlays_shown(agent: AgentApp) -> bool:
    overlays = agent.capture.selector.overlays()
    handles = [overlay.windowHandle() for overlay in overlays]
    return len(overlays) == 2 and all(handle is not None and handle.isExposed() for handle in handles)


def _drag(agent: AgentApp, qtbot: QtBot, *xdotool: str) -> ReportWindow:
    with qtbot.waitSignal(agent.report_shown, timeout=20_000) as shown:
        agent.start_report("region")
        qtbot.waitUntil(lambda: _overlays_shown(agent), timeout=10_000)
        subprocess.run(["xdotool", *xdotool], check=True, timeout=20)
    window = shown.args[0]
    assert isinstance(window, ReportWindow)
    return window


def _assert_shows(window: ReportWindow, left: int, top: int, width: int, height: int) -> None:
    step = window.draft.steps[-1]
    image = open_image(step.image).convert("RGB")
    assert image.size == (width, height)
    for x, y in ((0, 0), (width - 1, height - 1), (width // 2, height // 3), (width - 1, 0), (0, height - 1)):
        assert image.getpixel((x, y)) == pattern_rgb(left + x, top + y), (x, y)


def test_a_drag_across_both_monitors_cuts_exactly_those_pixels(x_harness: AgentHarness, qtbot: QtBot) -> None:
    agent = x_harness.make()
    window = _drag(
        agent,
        qtbot,
        "mousemove",
        "901",
        "501",
        "mousedown",
        "1",
        "mousemove",
        "1000",
        "600",
        "mousemove",
        "1101",
        "703",
        "mouseup",
        "1",
    )
    _assert_shows(window, 901, 501, 201, 203)
    step = window.draft.steps[-1]
    assert step.monitor is not None and step.monitor.index == 0
    assert "region spans monitors 1, 2" in step.capture_notes
    assert "monitors of different scale (1, 2)" in step.capture_notes


def test_a_drag_on_the_scaled_monitor_maps_half_pixels_back(x_harness: AgentHarness, qtbot: QtBot) -> None:
    agent = x_harness.make()
    window = _drag(
        agent,
        qtbot,
        "mousemove",
        "1301",
        "211",
        "mousedown",
        "1",
        "mousemove",
        "1500",
        "300",
        "mousemove",
        "1677",
        "409",
        "mouseup",
        "1",
    )
    _assert_shows(window, 1301, 211, 377, 199)
    step = window.draft.steps[-1]
    assert step.monitor is not None and step.monitor.index == 2 and step.monitor.scale == 2.0


def test_a_click_takes_the_whole_monitor_under_it(x_harness: AgentHarness, qtbot: QtBot) -> None:
    agent = x_harness.make()
    window = _drag(agent, qtbot, "mousemove", "1500", "800", "click", "1")
    _assert_shows(window, 960, 0, 960, 1080)
    step = window.draft.steps[-1]
    assert step.monitor is not None and step.monitor.index == 2
