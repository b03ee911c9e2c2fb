"""Capture modes of the agent: delayed capture, the monitor under a point, a cut from the frozen desktop, failures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from agent.capture import CaptureError, MonitorInfo, Rect, Shot
from agent.laptop.shots import crop_shot, monitor_at, shot_from_image_bytes
from agent.markup import encode_png, open_image
from tests.fixtures.xvfb import XvfbServer, paint_root, pattern_rgb, position_pattern
from tests.laptop.conftest import AgentHarness

MONITORS = [
    MonitorInfo(0, Rect(0, 0, 3000, 1080)),
    MonitorInfo(1, Rect(0, 0, 1920, 1080), primary=True),
    MonitorInfo(2, Rect(1920, 0, 1080, 1080), scale=2.0),
]


@pytest.mark.xvfb
def test_a_delayed_capture_shows_the_screen_after_the_delay(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer
) -> None:
    size = (xvfb_display.width, xvfb_display.height)
    paint_root(xvfb_display.display, Image.new("RGB", size, (128, 128, 128)))
    agent = harness.make()
    seen: list[int] = []

    badge_shown: list[bool] = []

    def counted(seconds: int) -> None:
        seen.append(seconds)
        badge = agent.capture.badge
        badge_shown.append(badge is not None and badge.isVisible())
        if seconds == 1:  # the person opens the menu that would close on focus loss
            paint_root(xvfb_display.display, Image.new("RGB", size, (0, 0, 255)))

    agent.capture.countdown.connect(counted)
    with qtbot.waitSignal(agent.report_shown, timeout=15_000) as shown:
        assert agent.start_report("all", delay=3)
    assert seen == [3, 2, 1, 0]
    assert badge_shown == [True, True, True, False], "the countdown shows, and is gone before the grab"
    image = open_image(shown.args[0].draft.steps[0].image).convert("RGB")
    assert image.getcolors(maxcolors=2) == [(size[0] * size[1], (0, 0, 255))]


@pytest.mark.xvfb
def test_the_monitor_mode_takes_the_monitor_under_the_point(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer
) -> None:
    paint_root(xvfb_display.display, position_pattern(xvfb_display.width, xvfb_display.height))
    agent = harness.make()
    with qtbot.waitSignal(agent.capture.captured, timeout=15_000) as captured:
        agent.capture.request("monitor", point=(100, 100), tag=("test",))
    (step,) = captured.args[0]
    assert step.region == Rect(0, 0, xvfb_display.width, xvfb_display.height)
    assert step.draft.monitor is not None and step.draft.monitor.index == 1


def test_a_capture_that_cannot_work_still_opens_the_report_window(harness: AgentHarness, qtbot: QtBot) -> None:
    harness.display = ":4242"  # no X server there
    agent = harness.make()
    with qtbot.waitSignal(agent.report_shown, timeout=15_000) as shown:
        agent.start_report("all")
    window = shown.args[0]
    assert window.draft.steps == []
    assert "The screen could not be captured" in window.status_label.text()
    assert ":4242" in window.status_label.text()
    qtbot.waitUntil(lambda: window.draft.sysinfo is not None, timeout=10_000)
    qtbot.keyClicks(window.description_edit, "Teams freezes when I share my screen")
    with qtbot.waitSignal(window.submission.queued, timeout=15_000):
        qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
    (entry,) = harness.outbox.list()
    assert harness.outbox.bundle(entry.id).report.steps == []


def test_a_region_is_cut_from_the_frozen_desktop_with_its_monitor() -> None:
    pattern = position_pattern(3000, 1080)
    desktop = Shot(
        pixels=memoryview(pattern.tobytes()).toreadonly(),
        width=3000,
        height=1080,
        monitor_info=MONITORS[0],
        region=Rect(0, 0, 3000, 1080),
        captured_at=datetime.now(UTC),
        pixel_format="RGB",
    )
    inside = crop_shot(desktop, Rect(2000, 10, 300, 200), MONITORS)
    assert (inside.width, inside.height) == (300, 200)
    assert inside.pixel(0, 0) == pattern_rgb(2000, 10) and inside.pixel(299, 199) == pattern_rgb(2299, 209)
    assert inside.monitor_info.index == 2 and inside.notes == ()
    across = crop_shot(desktop, Rect(1800, 0, 300, 50), MONITORS)
    assert across.monitor_info.index == 0 and "region spans monitors 1, 2" in across.notes
    with pytest.raises(CaptureError, match="outside the captured desktop"):
        crop_shot(desktop, Rect(4000, 0, 10, 10), MONITORS)


def test_the_monitor_under_a_point() -> None:
    assert monitor_at((2500, 500), MONITORS).index == 2
    assert monitor_at((10, 10), MONITORS).index == 1
    assert monitor_at(None, MONITORS).index == 1  # the primary
    assert monitor_at((-5, 5000), MONITORS).index == 1


def test_a_portal_picture_becomes_a_shot_that_says_how_it_was_taken() -> None:
    picture = encode_png(Image.new("RGB", (64, 32), (1, 2, 3)))
    shot = shot_from_image_bytes(
        picture, captured_at=datetime.now(UTC), capture_method="portal", notes=("through the portal",)
    )
    assert (shot.width, shot.height) == (64, 32) and shot.pixel(5, 5) == (1, 2, 3)
    assert shot.capture_method == "portal" and shot.notes_text == "through the portal"
    with pytest.raises(CaptureError, match="cannot be read as an image"):
        shot_from_image_bytes(b"not a picture", captured_at=datetime.now(UTC), capture_method="portal")
