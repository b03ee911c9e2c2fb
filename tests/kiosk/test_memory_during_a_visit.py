"""The kiosk's memory during a visit (issue 24: at most 200 MB at any moment, bench/kiosk_soak.py).

What is measured here runs in a fresh interpreter, so its peak resident memory (``VmHWM``,
reset just before the call) is the call's own; bounds are in full-size copies of a 1080p
screen (4 bytes a pixel), between what the code needs and what it held before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from agent.bundle import StepDraft
from kiosk.showme import ScreenGrabber
from tests.fixtures.waiting import wait_until
from tests.fixtures.xvfb import XvfbServer

REPO = Path(__file__).resolve().parents[2]
COPY_MB = 1920 * 1080 * 4 / 2**20

pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc")

_STATUS = """
from pathlib import Path

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)
"""

# The kiosk's own grab function on a 1080p X screen: the rise of the peak over the resident
# memory before one capture, and the shared memory the capturer holds before and after let go.
_CAPTURE_PROBE = (
    _STATUS
    + """
import gc, json
from kiosk.memory import keep_big_blocks_apart, release_free_memory
from kiosk.showme import mss_grabber

keep_big_blocks_apart()
grab = mss_grabber(None, 1)()
grab("warm-up")  # the X connection, the encoder's first use
gc.collect()
release_free_memory()
before = status("VmRSS")
Path("/proc/self/clear_refs").write_text("5")
draft = grab("the step")
rise = status("VmHWM") - before
held = status("RssShmem")
grab.close()
print(json.dumps({"rise_mb": rise, "shared_held_mb": held, "shared_after_close_mb": status("RssShmem"),
                  "width": draft.width, "bytes": len(draft.image), "png": draft.image.startswith(b"\\x89PNG")}))
"""
)

# Small blocks freed at the top of the heap after the kiosk's start (keep_working_memory, then the
# window's keep_big_blocks_apart): how much of them stays resident without an explicit trim.
_TRIM_PROBE = (
    _STATUS
    + """
import json
from agent.encoding import keep_working_memory
from kiosk.memory import keep_big_blocks_apart

keep_working_memory()
keep_big_blocks_apart()
before = status("VmRSS")
blocks = [bytearray(64 * 1024) for _ in range(640)]  # 40 MB of heap blocks, each below the mmap bound
grown = status("VmRSS")
del blocks
print(json.dumps({"grown_mb": grown - before, "kept_mb": status("VmRSS") - before}))
"""
)


def run_probe(code: str, env: dict[str, str] | None = None) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def test_a_capture_holds_the_screen_two_and_a_half_times_at_most_then_lets_go(xvfb_display: XvfbServer) -> None:
    # Needed: the screen's raw pixels until Pillow has its own, then Pillow's image and the PNG
    # encoder's small buffers. Before, the raw pixels stayed through a lossless WebP encode with
    # libwebp's ARGB copy and working buffers (~3.5 copies of the plain Xvfb screen, 30-40 MB
    # more on a busy one), and the capturer's shared screen buffer stayed for the kiosk's life.
    figures = run_probe(_CAPTURE_PROBE, env=xvfb_display.env)
    assert figures["width"] == 1920 and figures["bytes"] > 0 and figures["png"], figures
    assert figures["rise_mb"] <= 2.5 * COPY_MB, figures
    assert figures["shared_after_close_mb"] < figures["shared_held_mb"] or figures["shared_held_mb"] == 0, figures
    assert figures["shared_after_close_mb"] <= 1, figures


def test_free_memory_at_the_top_of_the_heap_goes_back_during_a_visit() -> None:
    # keep_working_memory's 128 MiB trim bound kept a visit's freed small blocks resident
    # until the visit ended; the kiosk's own bound (1 MiB) gives them back when freed.
    figures = run_probe(_TRIM_PROBE)
    assert figures["grown_mb"] >= 30, figures
    assert figures["kept_mb"] <= 5, figures


class _CountingGrab:
    """A grab function that counts how often it was opened and closed."""

    opened = 0
    closed = 0

    def __init__(self) -> None:
        type(self).opened += 1

    def __call__(self, caption: str) -> StepDraft:
        from datetime import UTC, datetime

        return StepDraft(image=b"picture", width=1, height=1, captured_at=datetime.now(UTC), caption=caption)

    def close(self) -> None:
        type(self).closed += 1


def test_the_capturer_is_closed_after_a_show_me_and_opened_again_by_the_next_capture(qtbot: QtBot) -> None:
    _CountingGrab.opened = _CountingGrab.closed = 0
    grabber = ScreenGrabber(_CountingGrab)
    try:
        with qtbot.waitSignal(grabber.grabbed, timeout=10_000) as first:
            grabber.request("one")
        assert isinstance(first.args[0], StepDraft) and first.args[0].caption == "one"
        grabber.let_go()
        wait_until(lambda: _CountingGrab.closed == 1, "the capturer closed", timeout=10)
        with qtbot.waitSignal(grabber.grabbed, timeout=10_000) as second:
            grabber.request("two")
        assert second.args[0].caption == "two"
        assert _CountingGrab.opened == 2
    finally:
        grabber.shutdown()
    assert _CountingGrab.closed == 2
