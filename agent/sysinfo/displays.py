"""The displays group: each monitor's name, resolution, scale and place, and how they are arranged.

The capture layer passes the monitors it captured (``MonitorInfo.facts()``); where it has no name
for one (mss names only some), the desktop's own list fills it in: on X11, ``xrandr
--listmonitors`` (run beside the other collectors, within the bound), matched by geometry.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from agent.sysinfo.bounded import run_command

# " 1: +*DP-1 1920/527x1080/296+0+0  DP-1": index, flags, name, size/mm, offset.
_XRANDR_MONITOR = re.compile(r"^\s*\d+:\s+\+?(\*?)(\S+)\s+(\d+)/(\d+)x(\d+)/(\d+)\+(-?\d+)\+(-?\d+)")


def desktop_monitors(deadline: float) -> list[dict[str, object]] | None:
    """The monitors as the desktop lists them (X11), or None where it cannot be asked."""
    xrandr = shutil.which("xrandr")
    if not sys.platform.startswith("linux") or not os.environ.get("DISPLAY") or xrandr is None:
        return None
    found = []
    for line in run_command([xrandr, "--listmonitors"], deadline).splitlines():
        match = _XRANDR_MONITOR.match(line)
        if match is None:
            continue
        primary, name, width, width_mm, height, height_mm, left, top = match.groups()
        found.append(
            {
                "name": name,
                "primary": bool(primary),
                "left": int(left),
                "top": int(top),
                "width": int(width),
                "height": int(height),
                "physical_size_mm": [int(width_mm), int(height_mm)],
            }
        )
    return found


def displays_info(
    monitors: Sequence[Mapping[str, object]] | None, desktop: list[dict[str, object]] | None = None
) -> dict[str, object]:
    if monitors is None:
        return {"count": None, "monitors": [], "note": "not passed in by the caller"}
    shown = []
    for monitor in monitors:
        if monitor.get("index") == 0 and len(monitors) > 1:
            continue  # mss's "monitor 0" is the whole desktop, not a screen
        entry = dict(monitor)
        geometry = _geometry(entry)
        same = _same_place(geometry, desktop or [])
        if same is not None:
            if not entry.get("name"):
                entry["name"] = same["name"]
            entry["primary"] = same["primary"]
            entry["physical_size_mm"] = same["physical_size_mm"]
        if geometry is not None:
            entry["resolution"] = f"{geometry['width']}×{geometry['height']}"
        shown.append(entry)
    result: dict[str, object] = {"count": len(shown), "monitors": shown}
    arrangement = _arrangement(shown)
    if arrangement:
        result["arrangement"] = arrangement
    return result


def _geometry(monitor: Mapping[str, object]) -> dict[str, int] | None:
    geometry = monitor.get("geometry")
    source: Any = geometry if isinstance(geometry, Mapping) else monitor
    try:
        return {key: int(source[key]) for key in ("left", "top", "width", "height")}
    except (KeyError, TypeError, ValueError):
        return None


def _same_place(geometry: dict[str, int] | None, desktop: list[dict[str, Any]]) -> dict[str, Any] | None:
    if geometry is None:
        return None
    for candidate in desktop:
        if all(candidate.get(key) == value for key, value in geometry.items()):
            return candidate
    return None


def _arrangement(monitors: list[dict[str, object]]) -> str | None:
    placed = [(monitor, _geometry(monitor)) for monitor in monitors]
    known = [(monitor, geometry) for monitor, geometry in placed if geometry is not None]
    if len(known) < 2 or len(known) != len(placed):
        return None

    def label(monitor: Mapping[str, object]) -> str:
        name = str(monitor.get("name") or f"screen {monitor.get('index', '?')}")
        return f"{name} (primary)" if monitor.get("primary") else name

    if len({geometry["top"] for _, geometry in known}) == 1:
        ordered = sorted(known, key=lambda item: item[1]["left"])
        return "side by side, left to right: " + ", ".join(label(monitor) for monitor, _ in ordered)
    if len({geometry["left"] for _, geometry in known}) == 1:
        ordered = sorted(known, key=lambda item: item[1]["top"])
        return "stacked, top to bottom: " + ", ".join(label(monitor) for monitor, _ in ordered)
    ordered = sorted(known, key=lambda item: (item[1]["left"], item[1]["top"]))
    return "; ".join(f"{label(monitor)} at ({geometry['left']}, {geometry['top']})" for monitor, geometry in ordered)
