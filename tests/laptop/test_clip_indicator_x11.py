"""The recording indicator is on the screen while a clip records, and never in one of its frames.

Qt in the test process draws offscreen, so the case runs in a child Python whose Qt draws on a
private Xvfb (``QT_QPA_PLATFORM=xcb``): the indicator is a real window there. The child first
proves the indicator is really on screen (a direct grab shows its colours), moves it halfway
through (the recorder must follow), stops, and counts the indicator's pixels in every frame.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.fixtures.xvfb import start_xvfb

pytestmark = pytest.mark.xvfb

REPO = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 640, 480
DESKTOP = (90, 120, 150)
INDICATOR = (0x1F, 0x23, 0x28)  # the indicator's background (agent.laptop.clip_recording)
CHILD_TIMEOUT_S = 120.0
WAIT_S = 20.0


def test_the_indicator_is_never_in_a_frame(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    with start_xvfb(WIDTH, HEIGHT) as server:
        completed = subprocess.run(
            [sys.executable, "-m", "tests.laptop.test_clip_indicator_x11", str(out)],
            cwd=REPO,
            env={**server.env, "QT_QPA_PLATFORM": "xcb"},
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
        )
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-4000:]
    result = json.loads(out.read_text())
    assert result["on_screen_before"] > 100, "the indicator never showed on the screen"
    assert result["on_screen_after_move"] > 100, "the moved indicator never showed on the screen"
    assert result["frames_before_move"] >= 3 and result["frames_after_move"] >= 3
    assert result["frames_with_indicator"] == [], result
    assert result["black_at_indicator"] is True


# ---------------------------------------------------------------- the child
def count_colour(image: Image.Image, colour: tuple[int, int, int]) -> int:
    """How many pixels of ``image`` are exactly ``colour``."""
    counts = image.convert("RGB").getcolors(maxcolors=image.width * image.height) or []
    return sum(count for count, found in counts if found == colour)


def _wait(condition: object, what: str) -> None:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + WAIT_S
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_S} s: {what}")
        # The child's event loop turns (the recorder's frames, the window's paint); the deadline decides.
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 20)


def _child(out: Path) -> None:
    import os

    from PySide6.QtWidgets import QApplication

    from agent.capture import Capturer, Rect
    from agent.laptop.clip_recording import ClipRecordingSession
    from tests.fixtures.xvfb import paint_root

    display = os.environ["DISPLAY"]
    app = QApplication([])
    paint_root(display, Image.new("RGB", (WIDTH, HEIGHT), DESKTOP))
    recorded: list[object] = []
    session = ClipRecordingSession(
        Rect(0, 0, WIDTH, HEIGHT), display=display, fps=10.0, max_seconds=30.0, max_bytes=64 * 2**20
    )
    session.finished.connect(recorded.append)
    session.failed.connect(lambda reason: recorded.append(reason))
    indicator = session.indicator

    def indicator_pixels() -> int:
        with Capturer(display) as capturer:
            image = capturer.capture_region(indicator.native_rect()).image()
        return count_colour(image, INDICATOR)

    session.start()
    _wait(lambda: indicator_pixels() > 100, "the indicator is painted on the screen")
    on_screen_before = indicator_pixels()
    first_place = indicator.native_rect()
    start = session.frames
    _wait(lambda: session.frames >= start + 3, "three frames with the indicator on screen")
    frames_before_move = session.frames
    indicator.move(40, HEIGHT - indicator.height() - 40)
    _wait(lambda: indicator.native_rect() != first_place and indicator_pixels() > 100, "the moved indicator shows")
    on_screen_after_move = indicator_pixels()
    second_place = indicator.native_rect()
    moved_at = session.frames
    _wait(lambda: session.frames >= moved_at + 3, "three frames after the move")
    indicator.stop_button.click()
    _wait(lambda: bool(recorded), "the recording ends")
    recording = recorded[0]
    assert not isinstance(recording, str), recording
    with_indicator = []
    images = list(recording.images())  # type: ignore[attr-defined]
    for index, image in enumerate(images):
        if count_colour(image, INDICATOR):
            with_indicator.append(index)
    # The last frame was grabbed with the indicator in its second place: black there, desktop elsewhere.
    last = images[-1]
    centre = (second_place.left + second_place.width // 2, second_place.top + second_place.height // 2)
    black = last.getpixel(centre) == (0, 0, 0) and last.getpixel((WIDTH // 2, 10)) == DESKTOP
    out.write_text(
        json.dumps(
            {
                "on_screen_before": on_screen_before,
                "on_screen_after_move": on_screen_after_move,
                "frames_before_move": frames_before_move,
                "frames_after_move": len(images) - frames_before_move,
                "frames_with_indicator": with_indicator,
                "black_at_indicator": black,
            }
        )
    )
    app.quit()


if __name__ == "__main__":
    _child(Path(sys.argv[1]))
