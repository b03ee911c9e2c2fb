"""Capturing a real X server (Xvfb): pixels, monitors, regions and the errors around them."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from PIL import Image

from agent.capture import CaptureError, Capturer, Rect, Shot
from agent.schema import Geometry
from tests.fixtures.xvfb import (
    XvfbServer,
    paint_root,
    pattern_rgb,
    position_pattern,
    set_monitors,
    start_xvfb,
)

pytestmark = pytest.mark.xvfb


def _expected(pattern: Image.Image, rect: Rect) -> bytes:
    return pattern.crop((rect.left, rect.top, rect.right, rect.bottom)).tobytes()


def _assert_shows(shot: Shot, pattern: Image.Image, rect: Rect) -> None:
    assert (shot.width, shot.height) == (rect.width, rect.height)
    assert shot.image().tobytes() == _expected(pattern, rect)


@pytest.fixture(scope="module")
def painted(xvfb_display: XvfbServer) -> Image.Image:
    """The shared display showing the position pattern."""
    pattern = position_pattern(xvfb_display.width, xvfb_display.height)
    paint_root(xvfb_display.display, pattern)
    return pattern


@pytest.fixture
def capturer(xvfb_display: XvfbServer, painted: Image.Image) -> Iterator[Capturer]:
    with Capturer(xvfb_display.display) as capturer:
        yield capturer


# ---------------------------------------------------------------- one monitor
def test_monitor_shot_holds_the_screen_pixels(capturer: Capturer, painted: Image.Image) -> None:
    shot = capturer.capture_monitor(1)

    _assert_shows(shot, painted, Rect(0, 0, painted.width, painted.height))
    for x, y in ((0, 0), (1919, 1079), (300, 700), (1024, 512)):
        assert shot.pixel(x, y) == pattern_rgb(x, y)
    assert shot.pixel_format == "BGRX"
    assert shot.capture_method == "mss"
    assert shot.notes == ()


def test_monitor_shot_records_monitor_geometry_and_time(capturer: Capturer) -> None:
    shot = capturer.capture_monitor(1)

    assert shot.monitor.index == 1
    assert shot.monitor.geometry == Geometry(left=0, top=0, width=1920, height=1080)
    assert shot.monitor.scale == 1.0
    assert shot.monitor.name  # Xvfb names its one RandR output
    assert shot.region == Rect(0, 0, 1920, 1080)
    assert shot.captured_at.tzinfo is not None


def test_all_monitors_gives_one_shot_per_monitor(capturer: Capturer, painted: Image.Image) -> None:
    shots = capturer.capture_all()

    assert [s.monitor.index for s in shots] == [1]
    _assert_shows(shots[0], painted, Rect(0, 0, 1920, 1080))


def test_desktop_shot_is_monitor_zero(capturer: Capturer, painted: Image.Image) -> None:
    shot = capturer.capture_desktop()

    assert shot.monitor.index == 0
    _assert_shows(shot, painted, Rect(0, 0, 1920, 1080))


def test_unknown_monitor_is_a_clear_error(capturer: Capturer) -> None:
    with pytest.raises(CaptureError, match=r"monitor 5 does not exist; this desktop has monitors 1 to 1"):
        capturer.capture_monitor(5)


# ---------------------------------------------------------------- regions
def test_region_shot_holds_the_region_pixels(capturer: Capturer, painted: Image.Image) -> None:
    region = Rect(257, 300, 640, 90)
    shot = capturer.capture_region(region)

    _assert_shows(shot, painted, region)
    assert shot.pixel(0, 0) == pattern_rgb(257, 300)
    assert shot.region == region
    assert shot.monitor.index == 1


def test_region_accepts_the_schema_geometry(capturer: Capturer, painted: Image.Image) -> None:
    shot = capturer.capture_region(Geometry(left=1800, top=1000, width=120, height=80))

    _assert_shows(shot, painted, Rect(1800, 1000, 120, 80))


@pytest.mark.parametrize(
    "region",
    [Rect(1900, 0, 100, 100), Rect(-1, 0, 10, 10), Rect(0, 1000, 10, 81), Rect(5000, 5000, 10, 10)],
)
def test_region_outside_the_desktop_is_a_clear_error(capturer: Capturer, region: Rect) -> None:
    with pytest.raises(CaptureError) as caught:
        capturer.capture_region(region)

    message = str(caught.value)
    assert "outside the desktop" in message
    assert "1920x1080 at (0, 0)" in message
    assert region.describe() in message


def test_empty_region_is_a_clear_error(capturer: Capturer) -> None:
    with pytest.raises(CaptureError, match="is empty"):
        capturer.capture_region((10, 10, 0, 5))


def test_region_of_the_wrong_shape_is_a_clear_error(capturer: Capturer) -> None:
    with pytest.raises(CaptureError, match=r"a region is \(left, top, width, height\); got \(10, 10, 5\)"):
        capturer.capture_region((10, 10, 5))  # type: ignore[arg-type]


# ---------------------------------------------------------------- threads and life cycle
def test_capturer_refuses_calls_from_another_thread(capturer: Capturer) -> None:
    errors: list[CaptureError] = []

    def capture_elsewhere() -> None:
        try:
            capturer.capture_monitor(1)
        except CaptureError as exc:
            errors.append(exc)

    worker = threading.Thread(target=capture_elsewhere, name="not-the-owner")
    worker.start()
    worker.join()

    assert len(errors) == 1
    assert "not-the-owner" in str(errors[0])
    assert "create one Capturer in each thread" in str(errors[0])
    assert capturer.capture_monitor(1).width == 1920  # the owner still captures


def test_closed_capturer_says_so(xvfb_display: XvfbServer) -> None:
    capturer = Capturer(xvfb_display.display)
    capturer.close()

    with pytest.raises(CaptureError, match="closed"):
        capturer.capture_all()


def test_shot_stays_valid_after_the_next_grab(capturer: Capturer, painted: Image.Image) -> None:
    first = capturer.capture_region(Rect(0, 0, 300, 200))
    capturer.capture_region(Rect(600, 600, 300, 200))

    _assert_shows(first, painted, Rect(0, 0, 300, 200))
    with pytest.raises(TypeError):
        first.pixels[0] = 1  # read-only: shared with encoder threads


def test_scale_lookup_sets_the_device_pixel_ratio(xvfb_display: XvfbServer, painted: Image.Image) -> None:
    with Capturer(xvfb_display.display, scale_of=lambda monitor: 2.0 if monitor.index == 1 else None) as capturer:
        shot = capturer.capture_monitor(1)

    assert shot.monitor.scale == 2.0
    _assert_shows(shot, painted, Rect(0, 0, 1920, 1080))


def test_impossible_scales_from_the_lookup_are_ignored(xvfb_display: XvfbServer) -> None:
    with Capturer(xvfb_display.display, scale_of=lambda monitor: 0.0 if monitor.index else 50.0) as capturer:
        shots = [capturer.capture_desktop(), capturer.capture_monitor(1)]

    assert [shot.monitor.scale for shot in shots] == [1.0, 1.0]


# ---------------------------------------------------------------- several monitors
@pytest.fixture(scope="module")
def two_monitors() -> Iterator[tuple[XvfbServer, Image.Image]]:
    """A 3200x1080 screen split into monitors 1920x1080 and 1280x1024 (a dead corner below the second)."""
    with start_xvfb(3200, 1080) as server:
        pattern = position_pattern(3200, 1080)
        paint_root(server.display, pattern)
        set_monitors(server.display, [(0, 0, 1920, 1080), (1920, 0, 1280, 1024)])
        yield server, pattern


def test_all_monitors_on_a_two_monitor_desktop(two_monitors: tuple[XvfbServer, Image.Image]) -> None:
    server, pattern = two_monitors
    with Capturer(server.display) as capturer:
        shots = capturer.capture_all()

    assert [s.monitor.index for s in shots] == [1, 2]
    assert [s.monitor.geometry for s in shots] == [
        Geometry(left=0, top=0, width=1920, height=1080),
        Geometry(left=1920, top=0, width=1280, height=1024),
    ]
    _assert_shows(shots[0], pattern, Rect(0, 0, 1920, 1080))
    _assert_shows(shots[1], pattern, Rect(1920, 0, 1280, 1024))


def test_region_across_monitors_records_the_desktop(two_monitors: tuple[XvfbServer, Image.Image]) -> None:
    server, pattern = two_monitors
    region = Rect(1800, 1000, 300, 60)
    with Capturer(server.display) as capturer:
        shot = capturer.capture_region(region)

    _assert_shows(shot, pattern, region)
    assert shot.monitor.index == 0
    assert shot.monitor.geometry == Geometry(left=0, top=0, width=3200, height=1080)
    assert "region spans monitors 1, 2" in shot.notes
    assert "part of the region lies on no monitor and shows black" in shot.notes


def test_region_inside_the_second_monitor_records_it(two_monitors: tuple[XvfbServer, Image.Image]) -> None:
    server, pattern = two_monitors
    region = Rect(2000, 100, 500, 400)
    with Capturer(server.display) as capturer:
        shot = capturer.capture_region(region)

    _assert_shows(shot, pattern, region)
    assert shot.monitor.index == 2
    assert shot.notes == ()


def test_region_on_no_monitor_is_a_clear_error(two_monitors: tuple[XvfbServer, Image.Image]) -> None:
    server, _ = two_monitors
    with Capturer(server.display) as capturer, pytest.raises(CaptureError, match="lies on no monitor"):
        capturer.capture_region(Rect(2000, 1030, 100, 40))


def test_refresh_reads_a_changed_layout() -> None:
    with start_xvfb(1600, 600) as server, Capturer(server.display) as capturer:
        assert len(capturer.monitors()) == 2
        set_monitors(server.display, [(0, 0, 800, 600), (800, 0, 800, 600)])
        capturer.refresh()
        shots = capturer.capture_all()

    assert [s.monitor.geometry.left for s in shots] == [0, 800]
    assert [s.width for s in shots] == [800, 800]


# ---------------------------------------------------------------- environments where capture cannot work
def test_wayland_session_with_blank_xwayland_capture_points_to_the_portal() -> None:
    # An unpainted Xvfb is uniformly black: what XWayland returns for a Wayland desktop.
    with start_xvfb(320, 240) as server:
        environ = {"DISPLAY": server.display, "WAYLAND_DISPLAY": "wayland-0"}
        with Capturer(environ=environ) as capturer, pytest.raises(CaptureError) as caught:
            capturer.capture_monitor(1)

    assert "blank" in str(caught.value)
    assert "xdg-desktop-portal" in str(caught.value)


def test_wayland_session_capture_through_xwayland_carries_a_note() -> None:
    with start_xvfb(320, 240) as server:
        paint_root(server.display, position_pattern(320, 240))
        environ = {"DISPLAY": server.display, "XDG_SESSION_TYPE": "wayland"}
        with Capturer(environ=environ) as capturer:
            shot = capturer.capture_monitor(1)

    assert shot.pixel(10, 20) == pattern_rgb(10, 20)
    assert any("XWayland" in note for note in shot.notes)


def test_opening_the_screen_runs_no_ldconfig_and_leaves_ctypes_as_it_was(xvfb_display: XvfbServer) -> None:
    # ctypes.util.find_library runs `ldconfig -p` per call; mss asks it for eight X libraries as it
    # is imported and opens the screen. The capturer has the loader open them by soname instead.
    import subprocess
    import sys

    code = (
        "import ctypes.util, subprocess, sys\n"
        "original = ctypes.util.find_library\n"
        "started = []\n"
        "real_init = subprocess.Popen.__init__\n"
        "def spy(self, args, *rest, **options):\n"
        "    started.append(args)\n"
        "    real_init(self, args, *rest, **options)\n"
        "subprocess.Popen.__init__ = spy\n"
        "from agent.capture import Capturer\n"
        "with Capturer(sys.argv[1]) as capturer:\n"
        "    shot = capturer.capture_monitor(1)\n"
        "print(started, shot.width, ctypes.util.find_library is original)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, xvfb_display.display], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["[]", str(xvfb_display.width), "True"]


def test_an_unknown_library_is_looked_up_the_usual_way() -> None:
    from agent.capture import find_x_library

    asked: list[str] = []

    def fallback(name: str) -> str | None:
        asked.append(name)
        return None

    assert find_x_library("surely-not-a-library", fallback) is None
    assert find_x_library("xcb", fallback) == "libxcb.so.1"
    assert asked == ["surely-not-a-library"]
