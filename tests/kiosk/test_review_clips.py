"""The Review stage lists the clips the person kept beside their steps, to see and remove before sending.

The kiosk runs as in the other walk-up tests (its windows offscreen) and records a private Xvfb:
a yellow window is on screen when Record is tapped and closes while recording, so only the first
frames show it. Review shows the clip as a card: a still of its first kept frame, its length, a
big Remove that takes it out at once with Undo, as a step's Delete. The report goes to the real
server on loopback, which then holds the step and no clip.
"""

from __future__ import annotations

import gc
import io
import re
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TypeVar

import pytest
import requests
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QFrame, QLabel, QWidget
from pytestqt.qtbot import QtBot

from agent.bundle import ClipDraft
from agent.capture import Capturer, Rect
from agent.schema import MAX_CLIPS
from kiosk.flow import Stage
from kiosk.screens.show import ShowScreen
from kiosk.session import KioskSession
from kiosk.showme import ShowMeController, mss_grabber
from kiosk.steps import ThumbnailCache
from kiosk.theme import BUTTON_HEIGHT_PX
from kiosk.window import KioskWindow
from shared_qt.workers import BackgroundRunner
from tests.clips.xwindows import ColourWindow, require_tools
from tests.fixtures.server import ServerProcess
from tests.fixtures.waiting import wait_until
from tests.fixtures.xvfb import XvfbServer, paint_root, start_xvfb
from tests.kiosk.conftest import WindowFactory, site_settings
from tests.kiosk.helpers import check_in_by_form, focused, tap, wait_stage

WIDTH, HEIGHT = 1024, 768
DESKTOP = (30, 60, 120)
YELLOW = (255, 208, 0)
# Top left: clear of the play mark a clip card draws in the middle of its picture.
WINDOW = Rect(40, 40, 240, 160)
WAIT_S = 20.0
Part = TypeVar("Part", bound=QWidget)


@pytest.fixture(scope="module")
def screen() -> Iterator[XvfbServer]:
    require_tools()
    with start_xvfb(WIDTH, HEIGHT) as server:
        paint_root(server.display, Image.new("RGB", (WIDTH, HEIGHT), DESKTOP))
        yield server


def centre(rect: Rect) -> tuple[int, int]:
    return rect.left + rect.width // 2, rect.top + rect.height // 2


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


def record_while_a_window_closes(
    qtbot: QtBot, window: KioskWindow, showme: ShowMeController, screen: XvfbServer
) -> float:
    """Record with the yellow window on screen, close it, record on, Stop, Keep; the kept seconds."""

    def frames_later(count: int) -> None:
        recorder = showme.recorder
        assert recorder is not None
        target = recorder.progress.frames + count
        qtbot.waitUntil(lambda: recorder.progress.frames >= target, timeout=int(WAIT_S * 1000))

    with Capturer(screen.display) as look:

        def shows(colour: tuple[int, int, int]) -> bool:
            return look.capture_monitor(1).pixel(*centre(WINDOW)) == colour

        with ColourWindow(screen.env, "#ffd000", WINDOW):
            wait_until(lambda: shows(YELLOW), "the window appears", WAIT_S)
            tap(qtbot, showme.bar.record_button)
            frames_later(2)
        wait_until(lambda: shows(DESKTOP), "the window closes", WAIT_S)
        frames_later(3)
    tap(qtbot, showme.bar.stop_button)
    review = window.clip_review
    qtbot.waitUntil(lambda: window.stack.currentWidget() is review and review.recording is not None)
    start, end = review.trim_times()  # all of it: nothing trimmed
    tap(qtbot, review.keep_button)
    qtbot.waitUntil(lambda: len(window.session.clips) == 1, timeout=30_000)
    qtbot.waitUntil(showme.bar.isVisible)
    return end - start


def to_review(qtbot: QtBot, window: KioskWindow, showme: ShowMeController) -> None:
    tap(qtbot, showme.bar.done_button)
    tap(qtbot, window.show_screen.continue_button)
    wait_stage(qtbot, window, Stage.REVIEW)


def clip_cards(window: KioskWindow) -> list[QFrame]:
    cards = [
        card
        for card in window.review.steps_holder.findChildren(QFrame)
        if re.fullmatch(r"clip-\d+", card.objectName()) and card.isVisibleTo(window.review.steps_holder)
    ]
    return sorted(cards, key=lambda card: card.objectName())


def card_part(window: KioskWindow, kind: type[Part], name: str) -> Part:
    """A named part of a clip card as shown now (the cards are made anew when a thumbnail arrives)."""
    [part] = [w for w in window.review.steps_holder.findChildren(kind, name) if w.isVisible()]
    return part


def card_picture(window: KioskWindow, number: int) -> QLabel:
    """The picture of clip card ``number`` (the card's one label holding a pixmap)."""
    [card] = [card for card in clip_cards(window) if card.objectName() == f"clip-{number}"]
    [label] = [label for label in card.findChildren(QLabel) if not label.pixmap().isNull()]
    return label


def has_picture(window: KioskWindow, number: int) -> bool:
    cards = [card for card in clip_cards(window) if card.objectName() == f"clip-{number}"]
    return bool(cards) and any(not label.pixmap().isNull() for label in cards[0].findChildren(QLabel))


@pytest.mark.xvfb
def test_a_kept_clip_shows_on_review_with_a_still_of_its_first_frame_and_its_length(
    make_window: WindowFactory, qtbot: QtBot, screen: XvfbServer
) -> None:
    window = make_window(grab_factory=mss_grabber(screen.display, 1))
    showme = open_the_app(qtbot, window)
    kept_seconds = record_while_a_window_closes(qtbot, window, showme, screen)
    to_review(qtbot, window, showme)

    review = window.review
    assert [card.objectName() for card in clip_cards(window)] == ["clip-1"]
    assert review.steps_heading.text() == "Your steps and clips" and not review.no_steps_label.isVisible()
    heading = card_part(window, QLabel, "clip-heading-1")
    found = re.fullmatch(r"Clip 1 · (\d+\.\d) s", heading.text())
    assert found is not None, heading.text()
    assert float(found.group(1)) == pytest.approx(kept_seconds, abs=0.051)

    # The still is the first frame: the yellow window, gone from every later frame, is in it.
    qtbot.waitUntil(lambda: has_picture(window, 1), timeout=10_000)
    still = card_picture(window, 1).pixmap().toImage()
    scale = still.width() / WIDTH
    assert still.height() == pytest.approx(HEIGHT * scale, abs=1)
    for point, colour in ((centre(WINDOW), YELLOW), ((WIDTH - 60, HEIGHT - 60), DESKTOP)):
        shown = still.pixelColor(round(point[0] * scale), round(point[1] * scale))
        assert (shown.red(), shown.green(), shown.blue()) == pytest.approx(colour, abs=12)

    # Remove is a big target, and Tab reaches it after the steps, before the switches.
    remove = card_part(window, QAbstractButton, "remove-clip-1")
    assert remove.height() >= BUTTON_HEIGHT_PX and remove.width() >= 2 * BUTTON_HEIGHT_PX
    assert remove.accessibleName() == "Remove clip 1"
    qtbot.waitUntil(lambda: bool(review.group_boxes))
    remove.setFocus()
    qtbot.keyClick(remove, Qt.Key.Key_Tab)  # type: ignore[no-untyped-call]
    assert focused() is next(iter(review.group_boxes.values()))


@pytest.mark.xvfb
def test_remove_takes_the_clip_out_undo_brings_it_back_and_the_server_gets_no_clip(
    make_window: WindowFactory, qtbot: QtBot, screen: XvfbServer, shared_server: ServerProcess
) -> None:
    make_window.server_url = shared_server.url
    make_window.token = shared_server.token("submitter", site="HQ Tech Bar")
    make_window.start_sender()
    technician = shared_server.token("technician")
    window = make_window(grab_factory=mss_grabber(screen.display, 1))
    showme = open_the_app(qtbot, window)
    tap(qtbot, showme.bar.capture_button)
    qtbot.waitUntil(lambda: len(window.session.steps) == 1, timeout=10_000)
    record_while_a_window_closes(qtbot, window, showme, screen)
    clip_ref = weakref.ref(window.session.clips[0])
    to_review(qtbot, window, showme)
    review = window.review
    qtbot.waitUntil(lambda: has_picture(window, 1), timeout=10_000)

    tap(qtbot, card_part(window, QAbstractButton, "remove-clip-1"))
    assert window.session.clips == [] and clip_cards(window) == []
    assert review.undo_bar.isVisible() and review.undo_label.text() == "Clip 1 removed."
    assert focused() is review.undo_button and review.undo_button.accessibleName() == "Undo: bring the clip back"
    assert review.steps_heading.text() == "Your steps"

    tap(qtbot, review.undo_button)
    assert len(window.session.clips) == 1 and window.session.clips[0] is clip_ref()
    assert [card.objectName() for card in clip_cards(window)] == ["clip-1"] and not review.undo_bar.isVisible()
    assert has_picture(window, 1), "the still is kept while Undo is offered"

    tap(qtbot, card_part(window, QAbstractButton, "remove-clip-1"))
    assert window.session.clips == []
    tap(qtbot, review.send_button)
    wait_stage(qtbot, window, Stage.SEND)
    with qtbot.waitSignal(window.submission.finished, timeout=30_000):
        tap(qtbot, window.send.send_button)
    wait_stage(qtbot, window, Stage.DONE)
    outcome = window.session.outcome
    assert outcome is not None and outcome.ticket is not None
    detail = requests.get(
        f"{shared_server.url}/api/v1/tickets/{outcome.ticket.id}", headers=shared_server.auth(technician), timeout=10
    ).json()
    assert len(detail["report"]["steps"]) == 1, "the report went, with its step"
    assert detail["report"]["clips"] == []

    # The visit ends: Review holds nothing of the removed clip either.
    tap(qtbot, window.done.finish_button)
    wait_stage(qtbot, window, Stage.WELCOME)
    gc.collect()
    assert clip_ref() is None, "the removed clip's bytes are let go at the visit's end"


def test_without_a_clip_review_shows_no_clip_card(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    check_in_by_form(qtbot, window)
    tap(qtbot, window.what.tiles["laptop"])
    tap(qtbot, window.what.continue_button)
    wait_stage(qtbot, window, Stage.SHOW)
    tap(qtbot, window.show_screen.photo_button)
    tap(qtbot, window.show_screen.take_photo_button)
    qtbot.waitUntil(lambda: len(window.session.steps) == 1, timeout=10_000)
    tap(qtbot, window.show_screen.continue_button)
    wait_stage(qtbot, window, Stage.REVIEW)
    review = window.review
    step_cards = [f for f in review.steps_holder.findChildren(QFrame) if f.objectName() == "step-1" and f.isVisible()]
    assert len(step_cards) == 1, "the step is there"
    assert clip_cards(window) == []
    assert not [b for b in review.findChildren(QAbstractButton) if b.objectName().startswith("remove-clip")]
    assert review.steps_heading.text() == "Your steps"


def test_the_hint_mentions_record_only_where_the_capture_bar_offers_it(qtbot: QtBot) -> None:
    session = KioskSession()
    runner = BackgroundRunner()
    screen = ShowScreen(site_settings(), session, runner, ThumbnailCache(runner), None)
    qtbot.addWidget(screen)

    def mentions_record() -> bool:
        return "Record" in screen.kiosk_hint.text()

    assert not mentions_record(), "no screen to record: Capture only"
    assert "Capture" in screen.kiosk_hint.text()
    screen.set_record_offered(True)
    assert mentions_record() and "Capture" in screen.kiosk_hint.text()
    # A full report: the bar stops offering Record, and the hint stops saying it.
    for _ in range(MAX_CLIPS):
        session.add_clip(ClipDraft(data=b"", started_at=datetime.now(UTC), duration_ms=1000))
    assert not mentions_record()
    session.remove_clip(0)
    assert mentions_record()
    session.wipe()
    assert mentions_record()
    screen.set_record_offered(False)
    assert not mentions_record()


def test_only_the_last_removal_is_undone_a_removed_clip_stays_out_once_a_step_is_deleted(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    window = make_window()
    frames = [Image.new("RGB", (320, 200), colour) for colour in (YELLOW, DESKTOP)]
    animated = io.BytesIO()
    frames[0].save(animated, "WEBP", save_all=True, append_images=frames[1:], duration=[400, 2100], lossless=True)
    window.session.add_clip(ClipDraft(data=animated.getvalue(), started_at=datetime.now(UTC), duration_ms=2500))
    check_in_by_form(qtbot, window)
    tap(qtbot, window.what.tiles["laptop"])
    tap(qtbot, window.what.continue_button)
    wait_stage(qtbot, window, Stage.SHOW)
    tap(qtbot, window.show_screen.photo_button)
    tap(qtbot, window.show_screen.take_photo_button)
    qtbot.waitUntil(lambda: len(window.session.steps) == 1, timeout=10_000)
    tap(qtbot, window.show_screen.continue_button)
    wait_stage(qtbot, window, Stage.REVIEW)
    review = window.review
    assert card_part(window, QLabel, "clip-heading-1").text() == "Clip 1 · 2.5 s"
    qtbot.waitUntil(lambda: has_picture(window, 1), timeout=10_000)
    first = card_picture(window, 1).pixmap().toImage()
    shown = first.pixelColor(8, 8)  # a corner, clear of the play mark
    assert (shown.red(), shown.green(), shown.blue()) == pytest.approx(YELLOW, abs=8), "the first frame"

    tap(qtbot, card_part(window, QAbstractButton, "remove-clip-1"))
    tap(qtbot, card_part(window, QAbstractButton, "delete-1"))
    assert review.undo_label.text() == "Step 1 deleted."
    tap(qtbot, review.undo_button)
    assert len(window.session.steps) == 1 and window.session.clips == []
    assert clip_cards(window) == [] and review.steps_heading.text() == "Your steps"


def animated_webp(colour: tuple[int, int, int], durations_ms: list[int]) -> bytes:
    """A small animated WebP: one frame of ``colour``, then the desktop's, for ``durations_ms``."""
    frames = [Image.new("RGB", (320, 200), colour), *(Image.new("RGB", (320, 200), DESKTOP) for _ in durations_ms[1:])]
    encoded = io.BytesIO()
    frames[0].save(encoded, "WEBP", save_all=True, append_images=frames[1:], duration=durations_ms, lossless=True)
    return encoded.getvalue()


def test_undo_puts_a_removed_clip_back_in_its_place_among_several(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    first = ClipDraft(data=animated_webp(YELLOW, [400, 2100]), started_at=datetime.now(UTC), duration_ms=2500)
    second = ClipDraft(data=animated_webp(DESKTOP, [500, 500]), started_at=datetime.now(UTC), duration_ms=1000)
    window.session.add_clip(first)
    window.session.add_clip(second)
    check_in_by_form(qtbot, window)
    tap(qtbot, window.what.tiles["laptop"])
    tap(qtbot, window.what.continue_button)
    wait_stage(qtbot, window, Stage.SHOW)
    tap(qtbot, window.show_screen.continue_button)
    wait_stage(qtbot, window, Stage.REVIEW)
    review = window.review

    def headings() -> list[str]:
        return [card_part(window, QLabel, f"clip-heading-{n}").text() for n in range(1, len(clip_cards(window)) + 1)]

    assert headings() == ["Clip 1 · 2.5 s", "Clip 2 · 1.0 s"]
    tap(qtbot, card_part(window, QAbstractButton, "remove-clip-1"))
    assert window.session.clips == [second] and headings() == ["Clip 1 · 1.0 s"]
    assert review.undo_label.text() == "Clip 1 removed."
    tap(qtbot, review.undo_button)
    assert [clip is kept for clip, kept in zip(window.session.clips, (first, second), strict=True)] == [True, True]
    assert headings() == ["Clip 1 · 2.5 s", "Clip 2 · 1.0 s"], "the first clip is first again"
    qtbot.waitUntil(lambda: has_picture(window, 1) and has_picture(window, 2), timeout=10_000)
    shown = card_picture(window, 1).pixmap().toImage().pixelColor(8, 8)
    assert (shown.red(), shown.green(), shown.blue()) == pytest.approx(YELLOW, abs=8), "its own still, too"


def test_restore_clip_puts_a_clip_back_once_and_within_the_report_s_bounds() -> None:
    from kiosk.session import SessionError

    session = KioskSession()
    clips = [ClipDraft(data=b"", started_at=datetime.now(UTC), duration_ms=1000) for _ in range(MAX_CLIPS + 1)]
    changes: list[int] = []
    session.on_change(lambda: changes.append(len(session.clips)))
    session.add_clip(clips[0])
    session.add_clip(clips[1])
    session.remove_clip(0)
    session.restore_clip(0, clips[0])
    assert [id(c) for c in session.clips] == [id(clips[0]), id(clips[1])] and changes == [1, 2, 1, 2]
    session.restore_clip(0, clips[0])  # already there (a second Undo): nothing changes
    assert len(session.clips) == 2 and changes == [1, 2, 1, 2]
    session.remove_clip(1)
    session.restore_clip(7, clips[1])  # a place past the end is the end
    assert [id(c) for c in session.clips] == [id(clips[0]), id(clips[1])]
    for clip in clips[2:MAX_CLIPS]:
        session.add_clip(clip)
    with pytest.raises(SessionError, match="clips"):
        session.restore_clip(0, clips[MAX_CLIPS])
    assert len(session.clips) == MAX_CLIPS


def test_the_send_summary_counts_the_clips_that_go_and_says_nothing_of_none(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    window = make_window()
    check_in_by_form(qtbot, window)
    tap(qtbot, window.what.tiles["laptop"])
    tap(qtbot, window.what.continue_button)
    wait_stage(qtbot, window, Stage.SHOW)
    tap(qtbot, window.show_screen.continue_button)
    wait_stage(qtbot, window, Stage.REVIEW)
    tap(qtbot, window.review.send_button)
    wait_stage(qtbot, window, Stage.SEND)
    send = window.send
    assert not send.clips_label.isVisible(), "no clips: no line about them"
    assert send.steps_label.text() == "0 picture(s) of the problem"

    tap(qtbot, send.back_button)
    wait_stage(qtbot, window, Stage.REVIEW)
    for colour in (YELLOW, DESKTOP):
        window.session.add_clip(
            ClipDraft(data=animated_webp(colour, [500, 500]), started_at=datetime.now(UTC), duration_ms=1000)
        )
    tap(qtbot, window.review.send_button)
    wait_stage(qtbot, window, Stage.SEND)
    assert send.clips_label.isVisible() and send.clips_label.text() == "2 clip(s) of the screen"
    # Between the pictures and the technical information, as the report lists them.
    card = send.clips_label.parentWidget()
    layout = card.layout() if card is not None else None
    assert layout is not None
    where = [layout.indexOf(label) for label in (send.steps_label, send.clips_label, send.sysinfo_label)]
    assert where == sorted(where) and where[0] >= 0

    tap(qtbot, send.back_button)
    wait_stage(qtbot, window, Stage.REVIEW)
    tap(qtbot, card_part(window, QAbstractButton, "remove-clip-1"))
    tap(qtbot, window.review.send_button)
    wait_stage(qtbot, window, Stage.SEND)
    assert send.clips_label.text() == "1 clip(s) of the screen"
