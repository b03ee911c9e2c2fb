"""Clips and the instant replay on a real X server whose screen changes.

One recording is made for the module on a private 640×480 Xvfb: a yellow window appears, moves
and disappears while a magenta "capture bar" stays on screen, excluded from the recording. The
tests then read that recording: the moment is held, the bar is never in a frame, trimming keeps
the right frames, and a redaction box is black in every frame of the clip the real server stores.
Waits are on what the screen shows or what the recorder has grabbed, each with a deadline.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from PIL import Image, ImageSequence

from agent.bundle import build_bundle
from agent.capture import Capturer, Rect
from agent.clips import CaptureTarget, ClipRecorder, Progress, Recording, ReplayBuffer, encode_clip
from agent.markup import new_item
from tests.clips.xwindows import ColourWindow, require_tools
from tests.fixtures.server import ServerProcess
from tests.fixtures.waiting import wait_until
from tests.fixtures.xvfb import XvfbServer, paint_root, start_xvfb
from tests.server.helpers import api, make_report, submit

pytestmark = pytest.mark.xvfb

WIDTH, HEIGHT = 640, 480
DESKTOP = (30, 60, 120)
YELLOW, MAGENTA = (255, 208, 0), (255, 0, 255)
FIRST, SECOND = Rect(60, 60, 160, 80), Rect(360, 220, 160, 80)
BAR = Rect(40, 400, 300, 50)  # the capture bar: on screen throughout, never in a frame
WAIT_S = 20.0


def where_is_yellow(image: Image.Image) -> str | None:
    """Which of the two places shows the yellow window in ``image`` (its centre pixel), if any."""
    places = {"first": FIRST, "second": SECOND}
    found = [name for name, rect in places.items() if image.getpixel(_centre(rect)) == YELLOW]
    assert len(found) <= 1
    return found[0] if found else None


def _centre(rect: Rect) -> tuple[int, int]:
    return rect.left + rect.width // 2, rect.top + rect.height // 2


@dataclass
class Scene:
    screen: XvfbServer
    recording: Recording


@pytest.fixture(scope="module")
def screen() -> Iterator[XvfbServer]:
    require_tools()
    with start_xvfb(WIDTH, HEIGHT) as server:
        paint_root(server.display, Image.new("RGB", (WIDTH, HEIGHT), DESKTOP))
        yield server


def _shows(capturer: Capturer, point: tuple[int, int], colour: tuple[int, int, int]) -> bool:
    return capturer.capture_monitor(1).pixel(*point) == colour


@pytest.fixture(scope="module")
def scene(screen: XvfbServer) -> Iterator[Scene]:
    with ColourWindow(screen.env, "#ff00ff", BAR) as bar, Capturer(screen.display) as look:
        wait_until(lambda: _shows(look, _centre(bar.rect), MAGENTA), "the capture bar is drawn", WAIT_S)
        # The bar's own border and any stray pixel of it: exclude a little more than the window.
        excluded = Rect(BAR.left - 2, BAR.top - 2, BAR.width + 4, BAR.height + 4)
        recorder = ClipRecorder(CaptureTarget(display=screen.display), fps=5, max_seconds=60, excluded=[excluded])
        recorder.start()

        def after_frames(count: int, what: str) -> None:
            target = recorder.progress.frames + count
            wait_until(lambda: recorder.progress.frames >= target, what, WAIT_S)

        after_frames(3, "the recorder grabs the empty desktop")
        with ColourWindow(screen.env, "#ffd000", FIRST) as window:
            wait_until(lambda: _shows(look, _centre(FIRST), YELLOW), "the window appears", WAIT_S)
            after_frames(3, "the recorder grabs the window")
            window.move(SECOND.left, SECOND.top)
            wait_until(lambda: _shows(look, _centre(SECOND), YELLOW), "the window moves", WAIT_S)
            after_frames(3, "the recorder grabs the moved window")
        wait_until(lambda: _shows(look, _centre(SECOND), DESKTOP), "the window disappears", WAIT_S)
        after_frames(3, "the recorder grabs the desktop again")
        recording = recorder.stop()
        assert _shows(look, _centre(BAR), MAGENTA)  # the bar was on screen all along
    yield Scene(screen, recording)


def test_a_clip_holds_the_moment_a_window_appears_moves_and_disappears(scene: Scene) -> None:
    places = [where_is_yellow(image) for image in scene.recording.images()]
    story = [place for number, place in enumerate(places) if number == 0 or place != places[number - 1]]
    assert story == [None, "first", "second", None]
    assert places.count("first") >= 3 and places.count("second") >= 3
    times = scene.recording.frame_times
    assert times[0] == 0.0 and list(times) == sorted(times)
    # 5 frames a second: the frames are about 200 ms apart (a loaded machine may skip, never burst).
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) > 0.15


def test_the_excluded_capture_bar_is_never_in_a_frame(scene: Scene) -> None:
    for image in scene.recording.images():
        assert image.crop((BAR.left, BAR.top, BAR.right, BAR.bottom)).getcolors() == [(BAR.area, (0, 0, 0))]
        assert MAGENTA not in {colour for _, colour in image.getcolors(WIDTH * HEIGHT) or []}


def test_trimming_keeps_exactly_the_frames_between_two_times(scene: Scene) -> None:
    recording = scene.recording
    places = [where_is_yellow(image) for image in recording.images()]
    moved = places.index("second")
    gone = places.index(None, moved)
    start, end = recording.frames[moved].at, recording.frames[gone].at
    part = recording.trimmed(start, end)
    assert [where_is_yellow(image) for image in part.images()] == ["second"] * (gone - moved)
    assert part.duration == pytest.approx(end - start)
    # Half a frame earlier, the frame still showing the window at its first place comes first.
    earlier = recording.trimmed(start - 0.05, end)
    assert [where_is_yellow(image) for image in earlier.images()][:2] == ["first", "second"]


def test_a_redaction_box_is_black_in_every_frame_the_server_stores(
    scene: Scene, shared_server: ServerProcess
) -> None:
    # The box covers the left half of the window's second place, and nothing of its first.
    box = Rect(SECOND.left - 10, SECOND.top - 10, SECOND.width // 2 + 20, SECOND.height + 20)
    redaction = new_item("redaction", [(box.left, box.top), (box.right, box.bottom)])
    clip = encode_clip(scene.recording, redactions=[redaction])
    bundle = build_bundle(make_report(), clips=[clip.draft("the window that moved")])
    response = submit(shared_server, shared_server.token("submitter"), bundle)
    assert response.status_code == 201, response.text
    ticket = response.json()["ticket"]
    technician = shared_server.token("technician")
    stored = api(shared_server, technician, "GET", f"/tickets/{ticket['id']}/files/clips/001.webp")
    assert stored.status_code == 200 and stored.content == clip.data

    seen = []
    with Image.open(io.BytesIO(stored.content)) as played:
        for frame in ImageSequence.Iterator(played):
            image = frame.convert("RGB")
            assert image.crop((box.left, box.top, box.right, box.bottom)).getcolors() == [(box.area, (0, 0, 0))]
            seen.append(where_is_yellow(image))
            # The right half of the window at its second place is outside the box, and shows.
            right_half = (SECOND.right - 20, SECOND.top + SECOND.height // 2)
            seen.append("second, right half" if image.getpixel(right_half) == YELLOW else None)
    assert "first" in seen and "second, right half" in seen
    assert "second" not in seen  # the centre of the second place lies under the box


# ---------------------------------------------------------------- the instant replay
def test_the_replay_holds_the_last_seconds_and_pauses(screen: XvfbServer) -> None:
    replay = ReplayBuffer(CaptureTarget(display=screen.display), seconds=1.5, fps=10)
    replay.start()
    try:
        with ColourWindow(screen.env, "#ffd000", FIRST) as window, Capturer(screen.display) as look:
            wait_until(lambda: _shows(look, _centre(FIRST), YELLOW), "the window appears", WAIT_S)
            shown = replay.frames_grabbed
            wait_until(lambda: replay.frames_grabbed >= shown + 3, "the replay grabs the window", WAIT_S)
            window.move(SECOND.left, SECOND.top)
            wait_until(lambda: _shows(look, _centre(SECOND), YELLOW), "the window moves", WAIT_S)
            moved_at = replay.clock()
            # Once more than 1.5 s have passed on the replay's clock, the first place has aged out.
            wait_until(lambda: replay.clock() > moved_at + 2.0, "two seconds pass on the replay's clock", WAIT_S)
            held = replay.snapshot()
        assert held.origin == "replay"
        assert held.duration == pytest.approx(1.5, abs=0.05)
        assert {where_is_yellow(image) for image in held.images()} == {"second"}
        assert 8 <= len(held.frames) <= 16  # 10 a second for 1.5 s, give or take a late grab

        replay.pause()
        paused_at, paused_clock = replay.frames_grabbed, replay.clock()
        # A grab under way when pause() came may still land; after it, nothing is grabbed.
        wait_until(lambda: replay.clock() > paused_clock + 0.5, "half a second of pause", WAIT_S)
        settled = replay.frames_grabbed
        assert settled <= paused_at + 1
        wait_until(lambda: replay.clock() > paused_clock + 1.0, "a second of pause", WAIT_S)
        assert replay.frames_grabbed == settled
        replay.resume()
        wait_until(lambda: replay.frames_grabbed >= settled + 2, "the replay grabs again", WAIT_S)
    finally:
        replay.stop()
    assert replay.bytes_held == 0


def test_the_replay_never_holds_more_than_its_memory_cap(screen: XvfbServer) -> None:
    # A desktop of noise: every band a moving window uncovers costs its full size.
    noise = Image.effect_noise((WIDTH, HEIGHT), 100).convert("RGB")
    paint_root(screen.display, noise)
    cap = 2 * 1024 * 1024
    replay = ReplayBuffer(CaptureTarget(display=screen.display), seconds=60, fps=10, max_bytes=cap)
    replay.start()
    try:
        highest = 0
        with ColourWindow(screen.env, "#ffd000", FIRST) as window:
            for step in range(24):
                window.move(40 + (step % 6) * 80, 40 + (step % 4) * 90)
                grabbed = replay.frames_grabbed
                wait_until(
                    lambda before=grabbed: replay.frames_grabbed > before, "the replay grabs the move", WAIT_S  # type: ignore[misc]
                )
                highest = max(highest, replay.bytes_held)
                assert replay.bytes_held <= cap
        held = replay.snapshot()
        # The cap, not the 60 s, decided what is held: the oldest frames are gone.
        assert held.duration < replay.clock() - 0.5
        assert highest > cap // 2
    finally:
        replay.stop()
        paint_root(screen.display, Image.new("RGB", (WIDTH, HEIGHT), DESKTOP))


# ---------------------------------------------------------------- a recording's own ends
def test_a_recording_ends_by_itself_at_its_length_cap(screen: XvfbServer) -> None:
    ended: list[tuple[str, str]] = []
    recorder = ClipRecorder(
        CaptureTarget(display=screen.display), fps=5, max_seconds=1.0, on_stopped=lambda r, m: ended.append((r, m))
    )
    recorder.start()
    assert recorder.wait(WAIT_S)
    recording = recorder.stop()
    assert ended == [("length", "")]
    assert recording.stop_reason == "length"
    assert recording.duration == pytest.approx(1.0)
    assert 4 <= len(recording.frames) <= 5 and recording.frame_times[-1] < 1.0


def test_a_recording_ends_by_itself_at_its_memory_cap_keeping_what_fit(screen: XvfbServer) -> None:
    paint_root(screen.display, Image.effect_noise((WIDTH, HEIGHT), 100).convert("RGB"))
    try:
        # One frame of noise is about 1.2 MB compressed: the second, which moves a window, does not fit.
        recorder = ClipRecorder(CaptureTarget(display=screen.display), fps=10, max_seconds=30, max_bytes=1_400_000)
        with ColourWindow(screen.env, "#ffd000", FIRST) as window:
            recorder.start()
            for step in range(20):
                if not recorder.is_recording:
                    break
                window.move(40 + (step % 6) * 80, 40 + (step % 4) * 90)
                count = recorder.progress.frames
                wait_until(
                    lambda before=count: recorder.progress.frames > before or not recorder.is_recording,  # type: ignore[misc]
                    "a frame or the end",
                    WAIT_S,
                )
        assert recorder.wait(WAIT_S)
        recording = recorder.stop()
        assert recording.stop_reason == "memory"
        assert 1 <= len(recording.frames) < 20
    finally:
        paint_root(screen.display, Image.new("RGB", (WIDTH, HEIGHT), DESKTOP))


def test_record_clip_to_bundle_makes_a_version_2_report_with_the_clip(screen: XvfbServer) -> None:
    from agent.bundle import ReportBundle
    from agent.clips import record_clip_to_bundle

    bundle = record_clip_to_bundle(
        1.0, region=(0, 0, 320, 240), display=screen.display, caption="a second", source_id="pc-7", description="x"
    )
    again = ReportBundle.from_bytes(bundle.to_bytes())
    assert again.report.schema_version == 2 and again.report.source.kind == "cli"
    (clip,) = again.report.clips
    assert (clip.width, clip.height, clip.duration_ms, clip.caption) == (320, 240, 1000, "a second")
    assert clip.region is not None and (clip.region.width, clip.region.height) == (320, 240)


def test_a_failing_frame_callback_ends_the_recording_and_keeps_its_frames(screen: XvfbServer) -> None:
    ended: list[tuple[str, str]] = []

    def fail_on_third(progress: Progress) -> None:
        if progress.frames == 3:
            raise RuntimeError("the window went away")

    recorder = ClipRecorder(
        CaptureTarget(display=screen.display),
        fps=10,
        on_frame=fail_on_third,
        on_stopped=lambda reason, message: ended.append((reason, message)),
    )
    recorder.start()
    assert recorder.wait(WAIT_S)
    recording = recorder.stop()
    assert ended == [("error", "the recording stopped on an error (RuntimeError: the window went away)")]
    assert recording.stop_reason == "error" and len(recording.frames) == 3
