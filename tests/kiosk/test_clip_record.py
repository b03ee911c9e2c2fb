"""Record on the kiosk: a clip of what happened on screen, reviewed, trimmed, sent, and forgotten.

The kiosk runs as in the other walk-up tests (its windows offscreen) and records a private Xvfb
whose screen changes: a yellow window appears, moves and disappears. The person trims the clip on
the review screen with the scrubber and the Start here / End here buttons, keeps it, and sends the
report to the real server on loopback; the stored clip holds exactly the kept frames. After the
visit, nothing of the clip is left in the kiosk. (That the capture bar itself is never in a
frame, also after a drag, is test_clip_bar_never_recorded.py, with the bar on the X server.)
"""

from __future__ import annotations

import gc
import io
import weakref
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image, ImageSequence
from pytestqt.qtbot import QtBot

from agent.capture import Capturer, Rect
from kiosk.flow import Stage
from kiosk.settings import DEFAULT_CLIP_SECONDS, KioskConfigError, parse_settings
from kiosk.showme import ShowMeController, mss_grabber
from kiosk.window import KioskWindow
from tests.clips.xwindows import ColourWindow, require_tools
from tests.fixtures.server import ServerProcess
from tests.fixtures.waiting import wait_until
from tests.fixtures.xvfb import XvfbServer, paint_root, start_xvfb
from tests.kiosk.conftest import WindowFactory, site_settings
from tests.kiosk.helpers import check_in_by_form, tap, wait_stage

WIDTH, HEIGHT = 1024, 768
DESKTOP = (30, 60, 120)
YELLOW = (255, 208, 0)
FIRST, SECOND = Rect(60, 60, 160, 80), Rect(700, 120, 160, 80)
WAIT_S = 20.0


@pytest.fixture(scope="module")
def screen() -> Iterator[XvfbServer]:
    require_tools()
    with start_xvfb(WIDTH, HEIGHT) as server:
        paint_root(server.display, Image.new("RGB", (WIDTH, HEIGHT), DESKTOP))
        yield server


def centre(rect: Rect) -> tuple[int, int]:
    return rect.left + rect.width // 2, rect.top + rect.height // 2


def where_is_yellow(image: Image.Image) -> str | None:
    found = [name for name, rect in (("first", FIRST), ("second", SECOND)) if image.getpixel(centre(rect)) == YELLOW]
    assert len(found) <= 1
    return found[0] if found else None


def connect(make_window: WindowFactory, server: ServerProcess) -> str:
    make_window.server_url = server.url
    make_window.token = server.token("submitter", site="HQ Tech Bar")
    make_window.start_sender()
    return server.token("technician")


def open_the_app(qtbot: QtBot, window: KioskWindow) -> ShowMeController:
    check_in_by_form(qtbot, window)
    tap(qtbot, window.what.tiles["laptop"])
    tap(qtbot, window.what.continue_button)
    wait_stage(qtbot, window, Stage.SHOW)
    showme = window.showme
    assert showme is not None
    tap(qtbot, window.show_screen.app_buttons["browser"])
    assert showme.active and showme.bar.record_button.isVisible()
    return showme


def still_open(showme: ShowMeController) -> bool:
    """Whether "show me" is on (read anew: a tap changed it since the last assert)."""
    return showme.active


def still_recording(showme: ShowMeController) -> object:
    return showme.recorder


def record_a_window_that_moves(qtbot: QtBot, showme: ShowMeController, screen: XvfbServer) -> None:
    """Record; a window appears, moves and disappears; Stop."""
    tap(qtbot, showme.bar.record_button)
    recorder = showme.recorder
    assert recorder is not None
    assert showme.bar.stop_button.isVisible() and not showme.bar.capture_button.isVisible()
    assert showme.bar.remaining_label.text() == "● Recording, 0:30 left"

    def frames_later(count: int, what: str) -> None:
        target = recorder.progress.frames + count
        qtbot.waitUntil(lambda: recorder.progress.frames >= target, timeout=int(WAIT_S * 1000))

    with Capturer(screen.display) as look:

        def shows(point: tuple[int, int], colour: tuple[int, int, int]) -> bool:
            return look.capture_monitor(1).pixel(*point) == colour

        frames_later(3, "the desktop")
        with ColourWindow(screen.env, "#ffd000", FIRST) as window:
            wait_until(lambda: shows(centre(FIRST), YELLOW), "the window appears", WAIT_S)
            frames_later(3, "the window")
            window.move(SECOND.left, SECOND.top)
            wait_until(lambda: shows(centre(SECOND), YELLOW), "the window moves", WAIT_S)
            frames_later(3, "the moved window")
        wait_until(lambda: shows(centre(SECOND), DESKTOP), "the window disappears", WAIT_S)
        frames_later(3, "the desktop again")
    # The countdown went down while recording.
    assert showme.bar.remaining_label.text() != "● Recording, 0:30 left"
    tap(qtbot, showme.bar.stop_button)


@pytest.mark.xvfb
def test_a_recorded_clip_is_trimmed_kept_and_stored_by_the_server_and_forgotten_after_the_visit(
    make_window: WindowFactory, qtbot: QtBot, server_process: ServerProcess, screen: XvfbServer, tmp_path: Path
) -> None:
    technician = connect(make_window, server_process)
    window = make_window(grab_factory=mss_grabber(screen.display, 1))
    showme = open_the_app(qtbot, window)
    record_a_window_that_moves(qtbot, showme, screen)

    review = window.clip_review
    qtbot.waitUntil(lambda: window.stack.currentWidget() is review)
    assert window.isVisible() and not showme.bar.isVisible() and showme.active  # the app still runs
    recording = review.recording
    assert recording is not None
    places = [where_is_yellow(image) for image in recording.images()]
    story = [place for number, place in enumerate(places) if number == 0 or place != places[number - 1]]
    assert story == [None, "first", "second", None]

    # It plays: the frame on screen moves on by itself.
    tap(qtbot, review.play_button)
    qtbot.waitUntil(lambda: review.index >= 2, timeout=5_000)
    tap(qtbot, review.play_button)
    assert not review._play_timer.isActive()

    # Keep only the frames with the window at its second place: scrub, Start here, scrub, End here.
    moved = places.index("second")
    last = len(places) - 1 - places[::-1].index("second")
    review.scrubber.setValue(moved)  # as a finger drags the handle
    preview = review.preview.pixmap().toImage()
    scale = preview.width() / recording.width
    colour = preview.pixelColor(round(centre(SECOND)[0] * scale), round(centre(SECOND)[1] * scale))
    assert (colour.red(), colour.green(), colour.blue()) == pytest.approx(YELLOW, abs=8), "the preview shows it"
    tap(qtbot, review.start_button)
    review.scrubber.setValue(last)
    tap(qtbot, review.end_button)
    kept_seconds = recording.frames[last + 1].at - recording.frames[moved].at
    assert review.trim_label.text().endswith(f"({kept_seconds:.1f} s)")
    recording_ref = weakref.ref(recording)
    del recording

    tap(qtbot, review.keep_button)
    qtbot.waitUntil(lambda: len(window.session.clips) == 1, timeout=30_000)
    # Back over the app, the bar counting the clip; the review let go of the recording.
    qtbot.waitUntil(showme.bar.isVisible)
    assert not window.isVisible() and window.stack.currentWidget() is window.show_screen
    assert showme.bar.count_label.text() == "0 step(s), 1 clip(s)"
    assert review.recording is None
    gc.collect()
    assert recording_ref() is None, "the frames are dropped once the clip is encoded"
    clip_ref = weakref.ref(window.session.clips[0])

    tap(qtbot, showme.bar.done_button)
    assert not still_open(showme) and window.isVisible()
    tap(qtbot, window.show_screen.continue_button)
    wait_stage(qtbot, window, Stage.REVIEW)
    tap(qtbot, window.review.send_button)
    wait_stage(qtbot, window, Stage.SEND)
    with qtbot.waitSignal(window.submission.finished, timeout=30_000):
        tap(qtbot, window.send.send_button)
    wait_stage(qtbot, window, Stage.DONE)
    outcome = window.session.outcome
    assert outcome is not None and outcome.ticket is not None

    detail = requests.get(
        f"{server_process.url}/api/v1/tickets/{outcome.ticket.id}", headers=server_process.auth(technician), timeout=10
    ).json()
    [manifest] = detail["report"]["clips"]
    assert manifest["duration_ms"] == pytest.approx(kept_seconds * 1000, abs=2)
    stored = requests.get(
        f"{server_process.url}/api/v1/tickets/{outcome.ticket.id}/files/clips/001.webp",
        headers=server_process.auth(technician),
        timeout=10,
    )
    assert stored.status_code == 200
    with Image.open(io.BytesIO(stored.content)) as played:
        shown = [where_is_yellow(frame.convert("RGB")) for frame in ImageSequence.Iterator(played)]
    assert set(shown) == {"second"}, "the trimmed clip holds the kept frames only"

    # The visit ends: nothing of the clip stays in the kiosk, in memory or on disk.
    tap(qtbot, window.done.finish_button)
    wait_stage(qtbot, window, Stage.WELCOME)
    assert window.session.clips == [] and window.clip_review.recording is None and showme.recorder is None
    gc.collect()
    assert clip_ref() is None, "the encoded clip's bytes are let go at the visit's end"
    kiosk_files = [p for d in ("outbox", "sessions") for p in (tmp_path / d).rglob("*") if p.is_file()]
    assert not any(b"RIFF" in p.read_bytes() and b"WEBP" in p.read_bytes() for p in kiosk_files)


@pytest.mark.xvfb
def test_a_recording_stops_by_itself_at_the_clip_length_and_an_idle_wipe_drops_it(
    make_window: WindowFactory, qtbot: QtBot, screen: XvfbServer
) -> None:
    # Idle after 0.5 s (1.5 s while an app is open), wiped 1.2 s later: well within the 3 s clip.
    settings = replace(site_settings(), clip_seconds=3.0, idle_seconds=0.5, countdown_seconds=1.2)
    window = make_window(settings, grab_factory=mss_grabber(screen.display, 1))
    showme = open_the_app(qtbot, window)
    warnings: list[int] = []
    window.idle.countdown_started.connect(warnings.append)
    tap(qtbot, showme.bar.record_button)
    assert showme.bar.remaining_label.text() == "● Recording, 0:03 left"
    review = window.clip_review
    qtbot.waitUntil(lambda: window.stack.currentWidget() is review, timeout=10_000)
    # Someone recording watches the screen without touching it: no idle warning, no wipe meanwhile.
    assert warnings == []
    recording = review.recording
    assert recording is not None and recording.stop_reason == "length"
    assert recording.duration == pytest.approx(3.0, abs=0.01) and len(recording.frames) >= 10
    recording_ref = weakref.ref(recording)
    del recording

    # Nobody touches the review: the idle wipe takes the person's recording with it.
    with qtbot.waitSignal(window.idle.expired, timeout=10_000):
        pass
    assert window.flow.stage is Stage.WELCOME and not showme.active
    assert review.recording is None and showme.recorder is None and window.session.clips == []
    gc.collect()
    assert recording_ref() is None


@pytest.mark.xvfb
def test_record_again_and_remove_keep_nothing_and_an_idle_wipe_ends_a_recording_under_way(
    make_window: WindowFactory, qtbot: QtBot, screen: XvfbServer
) -> None:
    window = make_window(grab_factory=mss_grabber(screen.display, 1))
    showme = open_the_app(qtbot, window)
    review = window.clip_review

    def record_a_moment() -> None:
        recorder = showme.recorder
        assert recorder is not None
        qtbot.waitUntil(lambda: recorder.progress.frames >= 3, timeout=10_000)
        tap(qtbot, showme.bar.stop_button)
        qtbot.waitUntil(lambda: window.stack.currentWidget() is review and review.recording is not None)

    tap(qtbot, showme.bar.record_button)
    record_a_moment()
    first = review.recording
    tap(qtbot, review.again_button)  # back over the app, recording at once
    assert showme.recorder is not None and showme.bar.stop_button.isVisible()
    assert review.recording is None and window.session.clips == []
    record_a_moment()
    assert review.recording is not first
    tap(qtbot, review.remove_button)
    assert window.session.clips == [] and review.recording is None
    assert showme.bar.isVisible() and showme.bar.count_label.text() == "0 step(s)"

    tap(qtbot, showme.bar.record_button)
    recorder = showme.recorder
    assert recorder is not None
    window.flow.reset("idle")  # what the idle wipe does
    assert still_recording(showme) is None and not recorder.is_recording and not still_open(showme)


def test_clip_seconds_is_a_kiosk_setting_with_bounds() -> None:
    assert parse_settings({}).clip_seconds == DEFAULT_CLIP_SECONDS == 30.0
    assert parse_settings({"clip_seconds": 45}).clip_seconds == 45.0
    for wrong in (0.5, 121, "long"):
        with pytest.raises(KioskConfigError, match="clip_seconds"):
            parse_settings({"clip_seconds": wrong})


def test_a_kiosk_without_a_screen_to_record_offers_no_record_button(make_window: WindowFactory, qtbot: QtBot) -> None:
    from agent.bundle import StepDraft

    def stand_in() -> Any:
        def grab(caption: str) -> StepDraft:
            raise RuntimeError("no screen here")

        return grab

    window = make_window(grab_factory=stand_in)
    showme = open_the_app_without_record(qtbot, window)
    assert not showme.bar.record_button.isVisible()


def open_the_app_without_record(qtbot: QtBot, window: KioskWindow) -> ShowMeController:
    check_in_by_form(qtbot, window)
    tap(qtbot, window.what.tiles["laptop"])
    tap(qtbot, window.what.continue_button)
    wait_stage(qtbot, window, Stage.SHOW)
    showme = window.showme
    assert showme is not None
    tap(qtbot, window.show_screen.app_buttons["browser"])
    assert showme.active
    return showme


def test_record_is_offered_while_the_report_has_room_for_a_clip(make_window: WindowFactory, qtbot: QtBot) -> None:
    from datetime import UTC, datetime

    from agent.bundle import ClipDraft
    from agent.schema import MAX_CLIPS

    # Nothing is grabbed here: the bar is only shown.
    window = make_window(grab_factory=mss_grabber(":99999", 1))
    for _ in range(MAX_CLIPS - 1):
        window.session.add_clip(ClipDraft(data=b"", started_at=datetime.now(UTC), duration_ms=1000))
    showme = open_the_app(qtbot, window)
    assert showme.bar.count_label.text() == f"0 step(s), {MAX_CLIPS - 1} clip(s)"
    tap(qtbot, showme.bar.done_button)
    window.session.add_clip(ClipDraft(data=b"", started_at=datetime.now(UTC), duration_ms=1000))
    tap(qtbot, window.show_screen.app_buttons["browser"])
    assert showme.active and not showme.bar.record_button.isVisible()
    showme.start_recording()  # a stray call records nothing either
    assert still_recording(showme) is None


def test_the_show_hint_mentions_record_exactly_when_the_capture_bar_offers_it(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    from datetime import UTC, datetime

    from agent.bundle import ClipDraft, StepDraft
    from agent.schema import MAX_CLIPS

    def stand_in() -> Any:
        def grab(caption: str) -> StepDraft:
            raise RuntimeError("no screen here")

        return grab

    def hint_says_record(window: KioskWindow) -> bool:
        return "Record" in window.show_screen.kiosk_hint.text()

    def bar_offers_record(window: KioskWindow) -> bool:
        """Open the app, read whether the bar shows Record, come back with Done."""
        showme = window.showme
        if showme is None:
            return False
        tap(qtbot, window.show_screen.app_buttons["browser"])
        assert showme.active
        offered = showme.bar.record_button.isVisible()
        tap(qtbot, showme.bar.done_button)
        assert not still_open(showme) and window.flow.stage is Stage.SHOW
        return offered

    def to_show(window: KioskWindow) -> None:
        check_in_by_form(qtbot, window)
        tap(qtbot, window.what.tiles["laptop"])
        tap(qtbot, window.what.continue_button)
        wait_stage(qtbot, window, Stage.SHOW)

    def a_clip() -> ClipDraft:
        return ClipDraft(data=b"", started_at=datetime.now(UTC), duration_ms=1000)

    # No screen to grab, and a stand-in grab function that records nothing: Capture only, on the bar and in the hint.
    for grab_factory in (None, stand_in):
        window = make_window(grab_factory=grab_factory)
        to_show(window)
        assert "Capture" in window.show_screen.kiosk_hint.text()
        assert not hint_says_record(window) and not bar_offers_record(window)

    # A kiosk that records its screen (nothing is grabbed here: the bar is only shown).
    window = make_window(grab_factory=mss_grabber(":99999", 1))
    to_show(window)
    assert hint_says_record(window) and bar_offers_record(window)
    for _ in range(MAX_CLIPS):
        window.session.add_clip(a_clip())
    assert not hint_says_record(window) and not bar_offers_record(window), "a full report: no Record"
    window.session.remove_clip(0)
    assert hint_says_record(window) and bar_offers_record(window), "room again: Record again"
    # The next visit starts with room for clips: the hint says Record from the start.
    window.flow.reset("idle")
    wait_stage(qtbot, window, Stage.WELCOME)
    to_show(window)
    assert window.session.clips == [] and hint_says_record(window) and bar_offers_record(window)
