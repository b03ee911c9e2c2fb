"""Where capture cannot work, the error says why and what to do; and the Shot itself."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.capture import CaptureError, Capturer, MonitorInfo, Rect, Shot, diagnose_unavailable

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 environment checks")


@linux_only
def test_no_display_is_a_clear_error() -> None:
    with pytest.raises(CaptureError) as caught:
        Capturer(environ={})

    message = str(caught.value)
    assert "DISPLAY is not set" in message
    assert "DISPLAY=:0" in message  # the fix


@linux_only
def test_wayland_without_x11_names_the_portal() -> None:
    with pytest.raises(CaptureError) as caught:
        Capturer(environ={"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"})

    assert "Wayland session with no X11 display" in str(caught.value)
    assert "xdg-desktop-portal Screenshot" in str(caught.value)


@linux_only
def test_no_display_in_a_fresh_process_reads_the_real_environment() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", "from agent.capture import Capturer; Capturer()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "CaptureError: no X display: DISPLAY is not set" in result.stderr


def _display_nobody_serves() -> str:
    # Far above the numbers -displayfd hands out, so no server started meanwhile can take it.
    number = next(n for n in range(64900, 65000) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    return f":{number}"


@linux_only
def test_unreachable_display_is_a_clear_error() -> None:
    display = _display_nobody_serves()

    with pytest.raises(CaptureError) as caught:
        Capturer(environ={"DISPLAY": display})

    assert f"cannot connect to the X display '{display}'" in str(caught.value)
    assert "DISPLAY" in str(caught.value)
    assert caught.value.__cause__ is not None


@linux_only
def test_xwayland_refusing_clients_points_to_the_portal() -> None:
    with pytest.raises(CaptureError) as caught:
        Capturer(environ={"DISPLAY": _display_nobody_serves(), "WAYLAND_DISPLAY": "wayland-0"})

    assert "Wayland" in str(caught.value)
    assert "xdg-desktop-portal" in str(caught.value)


def test_other_platforms_are_not_diagnosed_by_the_x11_checks() -> None:
    assert diagnose_unavailable({}, platform="win32") is None
    assert diagnose_unavailable({}, platform="darwin") is None
    assert diagnose_unavailable({"DISPLAY": ":0"}, platform="linux") is None


def test_importing_capture_and_encoding_loads_no_qt_pydantic_or_http() -> None:
    # `showdesk capture` is timed as a whole process: these imports would dominate it.
    code = (
        "import sys, agent.capture, agent.encoding; "
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'PySide6', 'shiboken6', 'pydantic', 'requests', 'mss'})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)

    assert result.stdout.strip() == ""


# ---------------------------------------------------------------- the Shot
def _shot(width: int, height: int, data: bytes, pixel_format: str = "BGRX") -> Shot:
    return Shot(
        pixels=memoryview(data),
        width=width,
        height=height,
        monitor_info=MonitorInfo(index=1, rect=Rect(0, 0, width, height), name="test"),
        region=Rect(0, 0, width, height),
        captured_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        pixel_format=pixel_format,  # type: ignore[arg-type]
    )


def test_shot_reads_bgrx_and_rgb_pixels() -> None:
    bgrx = _shot(2, 1, bytes([1, 2, 3, 0, 10, 20, 30, 0]))
    rgb = _shot(2, 1, bytes([1, 2, 3, 10, 20, 30]), "RGB")

    assert [bgrx.pixel(0, 0), bgrx.pixel(1, 0)] == [(3, 2, 1), (30, 20, 10)]
    assert [rgb.pixel(0, 0), rgb.pixel(1, 0)] == [(1, 2, 3), (10, 20, 30)]
    assert bgrx.image().getpixel((1, 0)) == (30, 20, 10)
    assert rgb.image().getpixel((1, 0)) == (10, 20, 30)


def test_shot_refuses_pixels_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="needs 16 bytes of pixels, got 12"):
        _shot(2, 2, bytes(12))


def test_shot_pixel_outside_is_an_index_error() -> None:
    with pytest.raises(IndexError, match=r"pixel \(2, 0\) is outside the 2x1 shot"):
        _shot(2, 1, bytes(8)).pixel(2, 0)


def test_shot_monitor_is_the_report_schema_monitor() -> None:
    from agent.schema import Monitor

    shot = _shot(4, 3, bytes(48))

    assert isinstance(shot.monitor, Monitor)
    assert shot.monitor.geometry.width == 4
    assert shot.monitor is shot.monitor  # built once
