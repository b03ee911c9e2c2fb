"""Capture through the desktop portal, against a service implementing its documented Screenshot interface
on a private session bus (dbus-run-session), since no Wayland compositor runs here."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtDBus import QDBusConnection
from pytestqt.qtbot import QtBot

from agent.laptop.portal import PORTAL_NOTE, PortalScreenshot
from agent.markup import open_image
from tests.fixtures.xvfb import pattern_rgb
from tests.laptop.conftest import AgentHarness

REPO = Path(__file__).resolve().parents[2]
FAKE_PORTAL = Path(__file__).with_name("fake_portal.py")
_names = itertools.count()

pytestmark = pytest.mark.skipif(shutil.which("dbus-run-session") is None, reason="needs dbus-run-session (dbus)")


@pytest.fixture
def portal_bus(tmp_path: Path) -> Iterator[Callable[[str], QDBusConnection]]:
    """``portal_bus(behaviour)``: a private session bus with the fake portal on it, and our connection to it."""
    started: list[tuple[subprocess.Popen[str], str]] = []

    def start(behaviour: str) -> QDBusConnection:
        out = tmp_path / f"portal-{len(started)}"
        out.mkdir()
        process = subprocess.Popen(
            ["dbus-run-session", "--", sys.executable, str(FAKE_PORTAL), str(out), behaviour],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        address = process.stdout.readline().strip()
        assert address, "the private session bus did not start"
        name = f"showdesk-portal-test-{next(_names)}"
        bus = QDBusConnection.connectToBus(address, name)
        assert bus.isConnected(), bus.lastError().message()
        started.append((process, name))
        return bus

    yield start
    for process, name in started:
        QDBusConnection.disconnectFromBus(name)
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()
        process.stdout.close()
        process.wait(timeout=10)


def test_the_portal_picture_becomes_the_step(
    harness: AgentHarness, qtbot: QtBot, portal_bus: Callable[[str], QDBusConnection], tmp_path: Path
) -> None:
    bus = portal_bus("ok")
    agent = harness.make(capture_backend="portal", portal=PortalScreenshot(bus))
    with qtbot.waitSignal(agent.report_shown, timeout=20_000) as shown:
        agent.start_report("all")
    window = shown.args[0]
    (step,) = window.draft.steps
    assert step.capture_method == "portal"
    assert PORTAL_NOTE in step.capture_notes
    image = open_image(step.image).convert("RGB")
    assert image.size == (1600, 1200)
    for x, y in ((0, 0), (1599, 1199), (1234, 567)):
        assert image.getpixel((x, y)) == pattern_rgb(x, y)
    assert not (tmp_path / "portal-0" / "Screenshot.png").exists(), "the portal's file is not left behind"


def test_a_region_of_the_portal_picture_maps_through_its_scale(
    harness: AgentHarness, qtbot: QtBot, portal_bus: Callable[[str], QDBusConnection]
) -> None:
    bus = portal_bus("ok")
    agent = harness.make(capture_backend="portal", portal=PortalScreenshot(bus))
    with qtbot.waitSignal(agent.report_shown, timeout=20_000) as shown:
        agent.start_report("region")
        qtbot.waitUntil(lambda: bool(agent.capture.selector.overlays()), timeout=10_000)
        (overlay,) = agent.capture.selector.overlays()
        # The portal's picture has more pixels than the (offscreen) screen has units.
        screen = overlay.screen_rect
        scale_x, scale_y = 1600 / screen.width, 1200 / screen.height
        assert scale_x > 1 and scale_y > 1
        qtbot.mousePress(overlay, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
        qtbot.mouseRelease(overlay, Qt.MouseButton.LeftButton, pos=QPoint(300, 200))
    step = shown.args[0].draft.steps[0]
    image = open_image(step.image).convert("RGB")
    # Units 100..300 across and 100..200 down, both ends included, in the picture's pixels.
    left, top = round(100 * scale_x), round(100 * scale_y)
    right, bottom = round(301 * scale_x), round(201 * scale_y)
    assert image.size == (right - left, bottom - top)
    assert image.getpixel((0, 0)) == pattern_rgb(left, top)
    assert image.getpixel((image.width - 1, image.height - 1)) == pattern_rgb(right - 1, bottom - 1)


def test_a_cancelled_portal_dialog_is_said_plainly(
    harness: AgentHarness, qtbot: QtBot, portal_bus: Callable[[str], QDBusConnection]
) -> None:
    agent = harness.make(capture_backend="portal", portal=PortalScreenshot(portal_bus("cancel")))
    with qtbot.waitSignal(agent.report_shown, timeout=20_000) as shown:
        agent.start_report("all")
    window = shown.args[0]
    assert window.draft.steps == []
    assert "cancelled in the desktop's dialog" in window.status_label.text()


def test_no_portal_on_the_bus_is_said_plainly(
    harness: AgentHarness, qtbot: QtBot, portal_bus: Callable[[str], QDBusConnection]
) -> None:
    portal = PortalScreenshot(portal_bus("absent"))
    with qtbot.waitSignal(portal.failed, timeout=20_000) as failed:
        portal.request()
    assert "no desktop portal answers on this desktop" in failed.args[0]
