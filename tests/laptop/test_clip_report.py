"""Record → trim → the report carries the clip; black boxes are black in every frame of what is sent.

The agent records from the session's Xvfb (its widgets draw offscreen in this process); the screen
changes colour while it records, so which frames the trim kept can be read from their pixels.
Waits are on the recorder's frame count, the dialog and the encoding, each with a deadline.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image, ImageSequence
from PySide6.QtCore import QPoint, QPointF, Qt
from pytestqt.qtbot import QtBot

from agent.capture import Rect
from agent.laptop.agent_app import AgentApp
from agent.laptop.region_overlay import rect_between
from agent.laptop.report_draft import freeze
from agent.laptop.report_window import ReportWindow
from agent.laptop.settings_store import AgentSettings
from shared_qt.clip_trim import ClipTrimDialog
from tests.fixtures.xvfb import XvfbServer, paint_root
from tests.laptop.conftest import AgentHarness

pytestmark = pytest.mark.xvfb

WAIT_MS = 20_000
REGION = Rect(0, 0, 320, 240)
RED, GREEN, BLUE = (220, 30, 30), (30, 200, 60), (40, 60, 220)


def paint(screen: XvfbServer, colour: tuple[int, int, int]) -> None:
    paint_root(screen.display, Image.new("RGB", (screen.width, screen.height), colour))


def colour_of(image: Image.Image) -> tuple[int, int, int]:
    pixel = image.convert("RGB").getpixel((REGION.width - 10, REGION.height - 10))
    assert isinstance(pixel, tuple)
    return (pixel[0], pixel[1], pixel[2])


@pytest.fixture
def agent(harness: AgentHarness) -> Iterator[AgentApp]:
    settings = AgentSettings(backend_url=harness.server_url, clip_fps=10.0, clip_max_seconds=20.0)
    yield harness.make(settings=settings)


def record_red_green_blue(qtbot: QtBot, agent: AgentApp, screen: XvfbServer) -> ClipTrimDialog:
    """Record red, then green, then blue; Stop; return the trim dialog the report window opens."""
    paint(screen, RED)
    assert agent.start_clip(region=REGION)
    session = agent.clip_session
    assert session is not None and session.is_recording
    qtbot.waitUntil(lambda: session.frames >= 2, timeout=WAIT_MS)
    paint(screen, GREEN)
    green_from = session.frames
    qtbot.waitUntil(lambda: session.frames >= green_from + 4, timeout=WAIT_MS)
    paint(screen, BLUE)
    blue_from = session.frames
    qtbot.waitUntil(lambda: session.frames >= blue_from + 2, timeout=WAIT_MS)
    qtbot.mouseClick(session.indicator.stop_button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    qtbot.waitUntil(lambda: agent.report_window is not None and agent.report_window.trim_dialog is not None)
    window = agent.report_window
    assert window is not None and window.trim_dialog is not None
    return window.trim_dialog


def keep_green(qtbot: QtBot, dialog: ClipTrimDialog) -> tuple[int, int]:
    """Trim to exactly the green frames with the keyboard; returns (first, last) green frame."""
    colours = [colour_of(image) for image in dialog.recording.images()]
    green = [index for index, colour in enumerate(colours) if colour == GREEN]
    assert green and colours[0] == RED and colours[-1] == BLUE, colours
    first, last = green[0], green[-1]
    scrubber = dialog.scrubber
    qtbot.keyClick(scrubber, Qt.Key.Key_End)  # type: ignore[no-untyped-call]
    qtbot.keyClick(scrubber, Qt.Key.Key_Home)  # type: ignore[no-untyped-call]
    for _ in range(first):
        qtbot.keyClick(scrubber, Qt.Key.Key_Right)  # type: ignore[no-untyped-call]
    qtbot.keyClick(scrubber, Qt.Key.Key_BracketLeft)  # type: ignore[no-untyped-call]
    for _ in range(last - first):
        qtbot.keyClick(scrubber, Qt.Key.Key_Right)  # type: ignore[no-untyped-call]
    qtbot.keyClick(scrubber, Qt.Key.Key_BracketRight)  # type: ignore[no-untyped-call]
    qtbot.waitUntil(lambda: dialog.shown_frame() == last)
    assert colour_of(dialog.recording.image(dialog.shown_frame())) == GREEN
    assert (scrubber.start, scrubber.end) == (first, last)
    return first, last


def clip_frames(window: ReportWindow) -> tuple[list[Image.Image], int]:
    """The clip's frames as the report carries them (decoded with Pillow), and its duration_ms."""
    bundle = freeze(window.draft)
    (clip,) = bundle.report.clips
    data = bundle.files[clip.file.path]
    with Image.open(io.BytesIO(data)) as opened:
        frames = [frame.convert("RGB") for frame in ImageSequence.Iterator(opened)]
    assert len(frames) == clip.frames
    return frames, clip.duration_ms


def test_record_trim_and_the_report_carries_the_trimmed_clip(
    qtbot: QtBot, agent: AgentApp, xvfb_display: XvfbServer
) -> None:
    dialog = record_red_green_blue(qtbot, agent, xvfb_display)
    recording = dialog.recording
    assert recording.region == REGION
    first, last = keep_green(qtbot, dialog)
    expected_ms = round(1000 * (recording.frame_times[last + 1] - recording.frame_times[first]))
    window = agent.report_window
    assert window is not None
    with qtbot.waitSignal(window.clip_ready, timeout=WAIT_MS):
        qtbot.keyClick(dialog.scrubber, Qt.Key.Key_Return)  # type: ignore[no-untyped-call]
    assert window.trim_dialog is None
    assert len(window.draft.clips) == 1
    kept = window.draft.clips[0].recording
    assert len(kept.frames) == last - first + 1
    frames, duration_ms = clip_frames(window)
    assert {colour_of(frame) for frame in frames} == {GREEN}
    assert abs(duration_ms - expected_ms) <= 2
    # The person sees it: the clip panel plays what will be sent.
    assert window.current_clip() == 0
    assert window.clip_panel.showing() == "still"  # one green picture: libwebp wrote a still


def test_a_black_box_is_black_in_every_frame_of_the_encoded_clip(
    qtbot: QtBot, agent: AgentApp, xvfb_display: XvfbServer
) -> None:
    dialog = record_red_green_blue(qtbot, agent, xvfb_display)
    window = agent.report_window
    assert window is not None
    with qtbot.waitSignal(window.clip_ready, timeout=WAIT_MS):
        dialog.accept()  # the whole recording: red, green and blue frames
    panel = window.clip_panel
    qtbot.mouseClick(panel.boxes_button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    assert panel.editor.tool() == "redaction"
    canvas = panel.editor.canvas()
    canvas.resize(640, 480)
    start = canvas.image_to_widget(QPointF(20, 20))
    end = canvas.image_to_widget(QPointF(120, 90))
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(round(start.x()), round(start.y())))  # type: ignore[no-untyped-call]
    qtbot.mouseMove(canvas, QPoint(round(end.x()), round(end.y())))  # type: ignore[no-untyped-call]
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(round(end.x()), round(end.y())))  # type: ignore[no-untyped-call]
    assert [item.kind for item in panel.boxes()] == ["redaction"]
    with qtbot.waitSignal(window.clip_ready, timeout=WAIT_MS):
        qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    assert window.clip_panel.showing() == "movie"
    frames, _duration = clip_frames(window)
    assert len({colour_of(frame) for frame in frames}) == 3  # every colour is still there, outside the box
    for frame in frames:
        box = frame.crop((22, 22, 118, 88))  # inside the box, a little in from its edges
        assert box.getextrema() == ((0, 0), (0, 0), (0, 0))


def test_a_clip_recorded_with_the_step_recorder_joins_the_report_at_stop(
    qtbot: QtBot, agent: AgentApp, xvfb_display: XvfbServer
) -> None:
    paint(xvfb_display, GREEN)
    agent.start_recording()
    bar = agent.recorder.bar
    qtbot.mouseClick(bar.clip_button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    session = agent.clip_session
    assert session is not None
    # The recorder's bar stays on screen and is kept out of the frames, beside the indicator.
    assert len(session.excluded()) == 2
    qtbot.waitUntil(lambda: session.frames >= 3, timeout=WAIT_MS)
    qtbot.mouseClick(session.indicator.stop_button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    trim = agent.recorder_trim
    assert trim is not None and agent.report_window is None  # trimmed now; the report waits for Stop
    trim.accept()
    assert len(agent.recorder.clips) == 1
    assert "1 clip" in bar.count_label.text()
    with qtbot.waitSignal(agent.report_shown, timeout=WAIT_MS) as shown:
        qtbot.mouseClick(bar.stop_button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    window = shown.args[0]
    assert isinstance(window, ReportWindow)
    assert len(window.draft.clips) == 1 and window.draft.clips[0].recording.origin == "recording"
    qtbot.waitUntil(lambda: window.draft.clips[0].encoded is not None, timeout=WAIT_MS)
    frames, _duration = clip_frames(window)
    assert {colour_of(frame) for frame in frames} == {GREEN}


def test_a_region_is_dragged_and_a_removed_clip_leaves_the_report(
    qtbot: QtBot, agent: AgentApp, xvfb_display: XvfbServer
) -> None:
    paint(xvfb_display, BLUE)
    assert agent.start_clip("region")
    selector = agent.clip_selector
    qtbot.waitUntil(lambda: selector.active, timeout=WAIT_MS)
    overlay = selector.overlays()[0]
    left, top = overlay.screen_rect.left, overlay.screen_rect.top
    selector.press(overlay, (left + 40, top + 30))
    selector.drag((left + 240, top + 130))
    selector.release(overlay, (left + 240, top + 130))
    session = agent.clip_session
    assert session is not None
    dragged = rect_between((left + 40, top + 30), (left + 240, top + 130))  # the overlay's own rule
    assert session.region == dragged and dragged.width >= 200
    qtbot.waitUntil(lambda: session.frames >= 2, timeout=WAIT_MS)
    qtbot.mouseClick(session.indicator.stop_button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    window = agent.report_window
    assert window is not None and window.trim_dialog is not None
    assert (window.trim_dialog.recording.width, window.trim_dialog.recording.height) == (dragged.width, dragged.height)
    with qtbot.waitSignal(window.clip_ready, timeout=WAIT_MS):
        window.trim_dialog.accept()
    assert freeze(window.draft).report.schema_version == 2
    qtbot.mouseClick(window.clip_panel.remove_button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    assert window.draft.clips == [] and window.clips_list.count() == 0
    bundle = freeze(window.draft)
    assert bundle.report.clips == [] and bundle.report.schema_version == 1
    # Record from the window's own menu: it steps aside while recording, and comes back after.
    window.record_actions["monitor"].trigger()
    again = agent.clip_session
    assert again is not None and not window.isVisible()
    qtbot.waitUntil(lambda: again.frames >= 1, timeout=WAIT_MS)
    qtbot.mouseClick(again.indicator.stop_button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    assert window.isVisible() and window.trim_dialog is not None
    window.trim_dialog.reject()  # "Discard the clip"
    assert window.draft.clips == [] and window.trim_dialog is None
