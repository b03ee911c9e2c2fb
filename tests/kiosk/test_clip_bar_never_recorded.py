"""Record under the kiosk's capture bar on a real X server: the screen is filmed, the bar never is.

The capture bar runs as a real Qt app on xcb on a private Xvfb, painted one distinctive colour
(magenta) so a pixel search finds it on the screen. While it records, a yellow window appears,
moves and disappears, and the bar is dragged up the screen with the X server's own pointer. The
clip must hold the window's whole story and no magenta pixel, the bar's places black, before and
after the drag.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageSequence

from tests.clips.xwindows import require_tools
from tests.fixtures.xvfb import XvfbServer, paint_root, start_xvfb

pytestmark = pytest.mark.xvfb

WIDTH, HEIGHT = 1024, 768
DESKTOP = (30, 60, 120)
YELLOW, MAGENTA = (255, 208, 0), (255, 0, 255)
FIRST, SECOND = (60, 60, 160, 80), (700, 180, 160, 80)  # left, top, width, height
DRAG_UP_PX = 250

# Runs under the X server as the kiosk runs: the controller shows the bar over an app; the
# person taps Record, the screen changes, the bar is dragged, the person taps Stop. Waits are on
# what the screen shows or what the recorder grabbed, each with a deadline.
_SCRIPT = r"""
import json, subprocess, sys, time
from pathlib import Path
from PySide6.QtCore import QEventLoop, QRect
from PySide6.QtWidgets import QApplication
from agent.capture import Capturer, Rect
from agent.clips import CaptureTarget, encode_clip
from kiosk.settings import Colours, parse_settings
from kiosk.showme import ScreenGrabber, ShowMeController, mss_grabber
from kiosk.theme import style_sheet
from tests.clips.xwindows import ColourWindow

out = Path(sys.argv[1])
first, second, drag_up = json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
app = QApplication([])
# The bar in one colour a pixel search can find: its card, labels, field and buttons.
magenta = "#ff00ff"
app.setStyleSheet(style_sheet(Colours()) + (
    f"QWidget#CaptureBar, QWidget#CaptureBar * {{ background: {magenta}; color: {magenta};"
    f" border-color: {magenta}; selection-background-color: {magenta}; }}"
))
settings = parse_settings({"allowed_apps": [{"id": "app", "label": "App", "command": ["sleep", "60"]}]})
grabber = ScreenGrabber(mss_grabber(None, 1))
controller = ShowMeController(
    grabber, lambda: QRect(0, 0, 1024, 768), clip_target=CaptureTarget(monitor=1), clip_seconds=60
)
recordings = []
controller.clip_recorded.connect(recordings.append)
look = Capturer()
result = {}


def pump(condition, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"not within {timeout} s: {what}")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.02)


def shows(point, colour):
    return look.capture_monitor(1).pixel(*point) == colour


def centre(rect):
    return rect[0] + rect[2] // 2, rect[1] + rect[3] // 2


def frames_later(count, what):
    target = controller.recorder.progress.frames + count
    pump(lambda: controller.recorder.progress.frames >= target, what)


def geometry():
    g = controller.bar.frameGeometry()
    return [g.x(), g.y(), g.width(), g.height()]


def screenshot(name):
    look.capture_monitor(1).image().save(out / name)


controller.start(settings.allowed_apps[0], 0)
bar_centre = lambda: (controller.bar.frameGeometry().center().x(), controller.bar.frameGeometry().center().y())
pump(lambda: controller.bar.isVisible() and shows(bar_centre(), (255, 0, 255)), "the bar is drawn")
result["bar_before"] = geometry()
controller.bar.record_button.click()
pump(lambda: controller.recorder is not None and controller.bar.stop_button.isVisible(), "recording starts")
result["countdown"] = controller.bar.remaining_label.text()
frames_later(3, "the recorder grabs the app's screen")
screenshot("before.png")
with ColourWindow(dict(__import__("os").environ), "#ffd000", Rect(*first)) as window:
    pump(lambda: shows(centre(first), (255, 208, 0)), "the window appears")
    frames_later(3, "the recorder grabs the window")
    window.move(second[0], second[1])
    pump(lambda: shows(centre(second), (255, 208, 0)), "the window moves")
    frames_later(3, "the recorder grabs the moved window")
    # The person drags the bar up by its surface (the countdown), with the X server's pointer.
    label = controller.bar.remaining_label
    grip = label.mapToGlobal(label.rect().center())
    start_top = controller.bar.frameGeometry().y()
    subprocess.run(
        ["xdotool", "mousemove", str(grip.x()), str(grip.y()), "mousedown", "1",
         "mousemove", str(grip.x()), str(grip.y() - 20),
         "mousemove", str(grip.x()), str(grip.y() - drag_up), "mouseup", "1"],
        check=True, timeout=15,
    )
    pump(lambda: controller.bar.frameGeometry().y() == start_top - drag_up, "the bar follows the drag")
    pump(lambda: shows(bar_centre(), (255, 0, 255)), "the bar is drawn at its new place")
    result["bar_after"] = geometry()
    frames_later(3, "the recorder grabs the screen with the bar moved")
    screenshot("after.png")
pump(lambda: shows(centre(second), (30, 60, 120)), "the window disappears")
frames_later(3, "the recorder grabs the desktop again")
controller.bar.stop_button.click()
pump(lambda: bool(recordings), "Stop hands the recording on")
result["bar_back"] = controller.bar.capture_button.isVisible() and not controller.bar.stop_button.isVisible()
(out / "clip.webp").write_bytes(encode_clip(recordings[0]).data)
controller.finish()
grabber.shutdown()
look.close()
(out / "result.json").write_text(json.dumps(result))
"""


@pytest.fixture(scope="module")
def screen() -> Iterator[XvfbServer]:
    require_tools()
    with start_xvfb(WIDTH, HEIGHT) as server:
        paint_root(server.display, Image.new("RGB", (WIDTH, HEIGHT), DESKTOP))
        yield server


def magenta_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """Where the magenta bar is on ``image``: the box around every magenta pixel (a pixel search)."""
    difference = ImageChops.difference(image.convert("RGB"), Image.new("RGB", image.size, MAGENTA))
    exact = difference.convert("L").point(lambda value: 255 if value == 0 else 0)
    return exact.getbbox()


def where_is_yellow(image: Image.Image) -> str | None:
    found = [
        name
        for name, (left, top, width, height) in (("first", FIRST), ("second", SECOND))
        if image.getpixel((left + width // 2, top + height // 2)) == YELLOW
    ]
    assert len(found) <= 1
    return found[0] if found else None


def test_record_films_the_screen_and_never_the_bar_even_after_it_is_dragged(screen: XvfbServer, tmp_path: Path) -> None:
    env = {**screen.env, "QT_QPA_PLATFORM": "xcb"}
    completed = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path), json.dumps(FIRST), json.dumps(SECOND), str(DRAG_UP_PX)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["bar_back"] is True
    assert result["countdown"] == "● Recording, 1:00 left"

    # The bar was on the screen, at two places: a pixel search finds it in each screenshot.
    before = magenta_box(Image.open(tmp_path / "before.png"))
    after = magenta_box(Image.open(tmp_path / "after.png"))
    assert before is not None and after is not None, "the bar must be on the screen while recording"
    assert after[1] == before[1] - DRAG_UP_PX and after[0] == before[0]
    left, top, width, height = result["bar_before"]
    assert before[0] >= left and before[2] <= left + width and before[3] <= top + height

    with Image.open(io.BytesIO((tmp_path / "clip.webp").read_bytes())) as clip:
        images = [frame.convert("RGB") for frame in ImageSequence.Iterator(clip)]
    places = [where_is_yellow(image) for image in images]
    story = [place for number, place in enumerate(places) if number == 0 or place != places[number - 1]]
    assert story == [None, "first", "second", None], "the clip holds the window appearing, moving, going"
    black_at = []
    for image in images:
        assert magenta_box(image) is None, "no pixel of the bar in any frame"
        black_at.append(
            [
                name
                for name, box in (("before", before), ("after", after))
                if image.crop(box).getcolors() == [((box[2] - box[0]) * (box[3] - box[1]), (0, 0, 0))]
            ]
        )
    # Each frame has the bar's place of its time blacked out: the first place until the drag,
    # the new place from it on (both while it moved).
    assert all(black_at), black_at
    assert black_at[0] == ["before"] and black_at[-1] == ["after"]
