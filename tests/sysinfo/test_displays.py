"""Displays: two monitors on a real X server (Xvfb with RandR monitors): names the capture layer
lacked come from the desktop's list, with resolution, place and arrangement."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from agent.sysinfo import GROUPS, SysinfoOptions, collect, format_text
from tests.fixtures.xvfb import set_monitors, start_xvfb

pytestmark = pytest.mark.xvfb


def test_a_second_monitor_without_a_name_is_named_from_the_desktop(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("Xvfb") is None or shutil.which("xrandr") is None:
        pytest.skip("needs Xvfb and xrandr (x11-xserver-utils)")
    with start_xvfb(3200, 1080) as server:
        set_monitors(server.display, [(0, 0, 1920, 1080), (1920, 0, 1280, 1024)])
        monkeypatch.setenv("DISPLAY", server.display)
        # As mss reports them: the second monitor has no name.
        captured = [
            {"index": 1, "name": None, "geometry": {"left": 0, "top": 0, "width": 1920, "height": 1080}, "scale": 1.0},
            {
                "index": 2,
                "name": None,
                "geometry": {"left": 1920, "top": 0, "width": 1280, "height": 1024},
                "scale": 1.0,
            },
        ]
        options = SysinfoOptions(timeout=5.0, exclude=[name for name in GROUPS if name != "displays"])
        snapshot: Any = collect(options.__class__(**{**options.__dict__, "monitors": captured}))
    displays = snapshot["displays"]
    assert [m["name"] for m in displays["monitors"]] == ["TEST-1", "TEST-2"]
    assert [m["resolution"] for m in displays["monitors"]] == ["1920×1080", "1280×1024"]
    assert [m["primary"] for m in displays["monitors"]] == [True, False]
    assert displays["arrangement"] == "side by side, left to right: TEST-1 (primary), TEST-2"
    assert "TEST-2, 1280×1024, scale 1.0, at (1920, 0)" in format_text(snapshot)


def test_monitors_one_above_the_other_are_said_to_be_stacked() -> None:
    captured = [
        {"index": 1, "name": "eDP-1", "geometry": {"left": 0, "top": 1080, "width": 1920, "height": 1200}},
        {"index": 2, "name": "DP-2", "geometry": {"left": 0, "top": 0, "width": 2560, "height": 1080}},
    ]
    snapshot: Any = collect(SysinfoOptions(timeout=5.0, monitors=captured, exclude=["processes", "connectivity"]))
    assert snapshot["displays"]["arrangement"] == "stacked, top to bottom: DP-2, eDP-1"
