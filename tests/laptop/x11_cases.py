"""Agent cases that need its windows on a real X server (run by test_on_x11.py, not collected directly).

This file runs in a pytest subprocess whose Qt draws on an Xvfb (QT_QPA_PLATFORM=xcb, DISPLAY
set by the outer test), so the agent's windows really cover the screen that is captured.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from agent.capture import Capturer
from agent.laptop.report_window import ReportWindow
from tests.fixtures.xvfb import paint_root
from tests.laptop.conftest import AgentHarness

BACKGROUND = (200, 30, 30)


@pytest.fixture
def x_display() -> str:
    if QGuiApplication.platformName() != "xcb" or not os.environ.get("DISPLAY"):
        pytest.fail("run through tests/laptop/test_on_x11.py: these cases need Qt on an X server")
    return os.environ["DISPLAY"]


@pytest.fixture
def x_harness(qtbot: QtBot, tmp_path: Path, x_display: str) -> Iterator[AgentHarness]:
    made = AgentHarness(qtbot, tmp_path, x_display)
    yield made
    made.close()


def _unlike_background(image: Image.Image) -> int:
    colours = image.convert("RGB").getcolors(maxcolors=1 << 24) or []
    return sum(count for count, colour in colours if colour != BACKGROUND)


def _shown_pixels(display: str) -> int:
    """How many pixels of the screen are not the desktop's background right now."""
    with Capturer(display) as capturer:
        return _unlike_background(capturer.capture_monitor(1).image())


def test_the_report_window_is_not_in_its_own_capture(x_harness: AgentHarness, qtbot: QtBot, x_display: str) -> None:
    with Capturer(x_display) as capturer:
        width, height = capturer.monitors()[1].rect.width, capturer.monitors()[1].rect.height
    paint_root(x_display, Image.new("RGB", (width, height), BACKGROUND))
    agent = x_harness.make()
    with qtbot.waitSignal(agent.report_shown, timeout=15_000) as shown:
        agent.start_report("all")
    window = shown.args[0]
    assert isinstance(window, ReportWindow)
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.draft.sysinfo is not None, timeout=10_000)

    # The window is on the screen: a plain grab shows it (all but its picture of the red desktop).
    geometry = window.frameGeometry()
    qtbot.waitUntil(lambda: _shown_pixels(x_display) > 0.5 * geometry.width() * geometry.height(), timeout=10_000)

    # "Add a capture" from the window itself: the window steps aside, the shot is pure background.
    with qtbot.waitSignal(agent.report_shown, timeout=15_000):
        window.capture_actions["all"].trigger()
    assert len(window.draft.steps) == 2
    from agent.markup import open_image

    second = open_image(window.draft.steps[1].image)
    assert second.size == (width, height)
    assert _unlike_background(second) == 0
    qtbot.waitUntil(window.isVisible)


def test_the_step_recorder_bar_is_not_in_the_steps(x_harness: AgentHarness, qtbot: QtBot, x_display: str) -> None:
    with Capturer(x_display) as capturer:
        width, height = capturer.monitors()[1].rect.width, capturer.monitors()[1].rect.height
    paint_root(x_display, Image.new("RGB", (width, height), BACKGROUND))
    agent = x_harness.make()
    agent.start_recording()
    bar = agent.recorder.bar
    qtbot.waitExposed(bar)
    frame = bar.frameGeometry()
    qtbot.waitUntil(lambda: _shown_pixels(x_display) > 0.9 * frame.width() * frame.height(), timeout=10_000)

    with qtbot.waitSignal(agent.recorder.step_added, timeout=15_000):
        bar.capture_button.click()
    qtbot.waitUntil(bar.isVisible)
    from agent.markup import open_image

    (step,) = agent.recorder.steps
    assert _unlike_background(open_image(step.draft.image)) == 0
