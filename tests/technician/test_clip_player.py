"""A report's clip in technician mode: after the steps in the filmstrip, played and stepped frame by frame."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from agent.bundle import build_bundle
from agent.clips import encode_clip
from agent.schema import Report, Reporter, Source
from technician import step_images
from technician.clip_player import ClipPlayer
from technician.step_images import decode_clip
from tests.clips.synthetic import marked_recording, square_at
from tests.fixtures.server import ServerProcess
from tests.technician.conftest import (
    ReportSender,
    TechWindows,
    key_click,
    mouse_click,
    multi_monitor_steps,
    open_in_viewer,
)

FRAMES = 6
CAPTION = "The dialog <b>flashes</b> and vanishes"


def send_with_clip(reporter: ReportSender, *, steps: int) -> tuple[str, bytes]:
    """A report with ``steps`` steps and one clip of FRAMES marked frames; (ticket id, the clip's bytes)."""
    encoded = encode_clip(marked_recording(FRAMES))
    report = Report(
        id=uuid.uuid4(),
        reporter=Reporter(name="Ada Lovelace", email="ada@example.org"),
        category="Printing",
        description="A dialog flashes",
        source=Source(kind="agent", id="pc-clip", site=None, app_version="test"),
    )
    drafts = multi_monitor_steps(steps) if steps else []
    bundle = build_bundle(report, drafts, clips=[encoded.draft(CAPTION)])
    assert reporter.outbox is not None
    entry = reporter.outbox.put(bundle)
    attempt = reporter.outbox.deliver_now(entry.id)
    assert attempt.state == "delivered" and attempt.receipt is not None, attempt
    return attempt.receipt.ticket.id, encoded.data


def is_playing(player: ClipPlayer) -> bool:
    # A call, not the property: the player's state changes between the checks.
    return player.playing


def pillow_frame(data: bytes, index: int) -> Image.Image:
    with Image.open(io.BytesIO(data)) as clip:
        clip.seek(index)
        return clip.convert("RGB")


def as_pillow(image: QImage) -> Image.Image:
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    size = (rgb.width(), rgb.height())
    return Image.frombuffer("RGB", size, bytes(rgb.constBits()), "raw", "RGB", rgb.bytesPerLine())


def test_a_clip_follows_the_steps_and_steps_frame_by_frame_with_the_frames_pixels(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    ticket_id, data = send_with_clip(reporter, steps=2)
    window = tech_windows(server_process)
    open_in_viewer(qtbot, window, ticket_id)
    viewer = window.viewer
    player = viewer.clip_player
    assert viewer.filmstrip.count() == 3  # two steps, then the clip
    assert viewer.filmstrip.item(2).text() == "Clip 1"
    assert "&lt;b&gt;flashes&lt;/b&gt;" in viewer.filmstrip.item(2).toolTip()  # the caption's markup is text

    viewer.filmstrip.setCurrentRow(2)
    qtbot.waitUntil(lambda: player.clip is not None, timeout=10_000)
    assert viewer.stage.currentWidget() is player and viewer.current_clip == 0
    assert player.caption.text() == CAPTION and player.caption.textFormat() == Qt.TextFormat.PlainText
    assert player.frame == 0 and f"Frame 1 of {FRAMES}" in player.position.text()

    player.setFocus()
    for expected in (1, 2):
        key_click(qtbot, player, Qt.Key.Key_Period)
        assert player.frame == expected
        shown = player.current_image()
        assert shown is not None
        decoded = as_pillow(shown)
        assert decoded.tobytes() == pillow_frame(data, expected).tobytes()
        assert square_at(decoded) == expected
    assert f"Frame 3 of {FRAMES} · 0.4 s" in player.position.text()
    key_click(qtbot, player, Qt.Key.Key_Comma)
    assert player.frame == 1
    mouse_click(qtbot, player.next_button)
    assert player.frame == 2
    mouse_click(qtbot, player.previous_button)
    assert player.frame == 1

    mouse_click(qtbot, player.play_button)
    assert is_playing(player)
    qtbot.waitUntil(lambda: player.frame >= 3, timeout=5_000)  # it plays on by itself
    mouse_click(qtbot, player.play_button)
    assert not is_playing(player)
    paused_at = player.frame
    key_click(qtbot, player, Qt.Key.Key_Space)
    assert is_playing(player)
    key_click(qtbot, player, Qt.Key.Key_Space)
    assert not is_playing(player) and player.frame >= paused_at

    viewer.previous_step()  # back to the last step: the still picture and its controls again
    assert viewer.current_step == 1 and viewer.current_clip == -1 and viewer.stage.currentWidget() is viewer.image
    qtbot.waitUntil(lambda: not viewer.filmstrip.item(2).icon().isNull(), timeout=10_000)


def test_a_report_of_only_a_clip_opens_on_the_clip(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    ticket_id, _data = send_with_clip(reporter, steps=0)
    window = tech_windows(server_process)
    open_in_viewer(qtbot, window, ticket_id)
    player = window.viewer.clip_player
    qtbot.waitUntil(lambda: player.clip is not None, timeout=10_000)
    assert window.viewer.current_clip == 0 and len(player.clip.frames) == FRAMES  # type: ignore[union-attr]


def test_a_clip_beyond_the_frame_bound_is_refused_and_a_large_one_is_scaled_to_the_budget(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = encode_clip(marked_recording(FRAMES)).data
    clip = decode_clip(data, display=QSize(1920, 1080))
    assert len(clip.frames) == FRAMES and clip.duration_ms == FRAMES * 200
    assert clip.frames[0].size() == clip.size  # smaller than the display: the clip's own pixels
    tiny_budget = decode_clip(data, display=QSize(1920, 1080), budget=FRAMES * 40 * 30 * 4)
    assert tiny_budget.frames[0].width() <= 40 and len(tiny_budget.frames) == FRAMES
    monkeypatch.setattr(step_images, "MAX_CLIP_FRAMES", FRAMES - 1)
    with pytest.raises(ValueError, match="beyond a report's bounds"):
        decode_clip(data, display=QSize(1920, 1080))
