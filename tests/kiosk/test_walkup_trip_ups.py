"""What a walk-up person tripped over: the admin corner, the camera card, Delete, the summary, the details, Capture."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from PIL import Image
from PySide6.QtCore import QPoint, QRect, Qt
from pytestqt.qtbot import QtBot

from agent.bundle import StepDraft
from kiosk.flow import Stage
from kiosk.window import KioskWindow
from tests.kiosk.conftest import WindowFactory, site_settings
from tests.kiosk.helpers import check_in_by_form, tap, wait_stage

SHOT_COLOUR = (200, 40, 40)


def solid_grab() -> Callable[[str], StepDraft]:
    """A grab that returns a red 1920x1080 picture (the screen of the offscreen platform is not capturable)."""
    buffer = io.BytesIO()
    Image.new("RGB", (1920, 1080), SHOT_COLOUR).save(buffer, format="PNG")
    data = buffer.getvalue()

    def grab(caption: str) -> StepDraft:
        return StepDraft(image=data, width=1920, height=1080, captured_at=datetime.now(UTC), caption=caption)

    return grab


def every_group_sysinfo() -> dict[str, Any]:
    return {
        "os": {"name": "Debian GNU/Linux 12", "hostname": "kiosk-01", "uptime_seconds": 249},
        "cpu": {"model": "Test CPU", "cores": 4},
        "memory": {"total_bytes": 8 * 2**30, "available_bytes": 4 * 2**30},
        "disks": [],
        "network": {"interfaces": [{"name": "eth0"}]},
        "proxy": {},
        "battery": None,
        "displays": [],
        "processes": [],
        "showdesk": {"version": "1"},
        "connectivity": {},
    }


def to_show(qtbot: QtBot, window: KioskWindow, description: str = "") -> None:
    check_in_by_form(qtbot, window)
    tap(qtbot, window.what.tiles["laptop"])
    if description:
        qtbot.keyClicks(window.what.description_edit, description)
    tap(qtbot, window.what.continue_button)
    wait_stage(qtbot, window, Stage.SHOW)


def capture_steps(qtbot: QtBot, window: KioskWindow, count: int) -> None:
    showme = window.showme
    assert showme is not None
    tap(qtbot, window.show_screen.app_buttons["browser"])
    for number in range(1, count + 1):
        with qtbot.waitSignal(showme.step_captured, timeout=10_000):
            tap(qtbot, showme.bar.capture_button)
        qtbot.waitUntil(lambda n=number: len(window.session.steps) == n)
    tap(qtbot, showme.bar.done_button)


# ---------------------------------------------------------------- the admin corner
def test_tapping_the_admin_corner_on_welcome_starts_no_visit(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    for _ in range(5):
        qtbot.mouseClick(window.welcome, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
        assert window.flow.stage is Stage.WELCOME
    assert window.admin_overlay.isVisible(), "five taps in the corner open the PIN pad"
    tap(qtbot, window.admin_overlay.cancel_button)
    # Anywhere else on the background still starts.
    qtbot.mouseClick(window.welcome, Qt.MouseButton.LeftButton, pos=QPoint(900, 300))
    wait_stage(qtbot, window, Stage.WHO)


# ---------------------------------------------------------------- no camera
def test_a_kiosk_without_a_camera_offers_no_camera_button(make_window: WindowFactory, qtbot: QtBot) -> None:
    make_window.photo.unlink()  # the image source finds no picture: no camera
    window = make_window()
    to_show(qtbot, window)
    assert window.show_screen.photo_hint.text() == "This kiosk has no camera."
    assert not window.show_screen.photo_button.isVisible()


def test_a_kiosk_with_a_camera_offers_it(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window()
    to_show(qtbot, window)
    assert window.show_screen.photo_button.isVisible() and window.show_screen.photo_button.isEnabled()


# ---------------------------------------------------------------- the send summary
def test_the_send_summary_shows_what_the_person_typed(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(grab_factory=solid_grab)
    to_show(qtbot, window, description="The printer on floor 3 says  PC LOAD LETTER")
    tap(qtbot, window.show_screen.continue_button)
    wait_stage(qtbot, window, Stage.REVIEW)
    tap(qtbot, window.review.send_button)
    wait_stage(qtbot, window, Stage.SEND)
    label = window.send.description_label
    assert label.isVisible()
    assert label.text() == "In your words: “The printer on floor 3 says PC LOAD LETTER”"


def test_the_send_summary_has_no_description_line_without_one(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(grab_factory=solid_grab)
    to_show(qtbot, window)
    tap(qtbot, window.show_screen.continue_button)
    tap(qtbot, window.review.send_button)
    wait_stage(qtbot, window, Stage.SEND)
    assert not window.send.description_label.isVisible()


# ---------------------------------------------------------------- delete and undo
def test_delete_is_apart_from_mark_up_and_can_be_undone(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(grab_factory=solid_grab)
    to_show(qtbot, window)
    capture_steps(qtbot, window, 2)
    tap(qtbot, window.show_screen.continue_button)
    wait_stage(qtbot, window, Stage.REVIEW)
    first_id, second_id = (s.id for s in window.session.steps)
    markup = window.review.findChild(type(window.review.send_button), "markup-1")
    delete = window.review.findChild(type(window.review.send_button), "delete-1")
    assert markup is not None and delete is not None
    delete_rect = QRect(delete.mapTo(window, QPoint(0, 0)), delete.size())
    markup_rect = QRect(markup.mapTo(window, QPoint(0, 0)), markup.size())
    gap = max(
        delete_rect.left() - markup_rect.right(),
        markup_rect.left() - delete_rect.right(),
        delete_rect.top() - markup_rect.bottom(),
        markup_rect.top() - delete_rect.bottom(),
    )
    assert gap >= 100, f"Delete is {gap} px from Mark up"

    tap(qtbot, delete)
    assert [s.id for s in window.session.steps] == [second_id]
    assert window.review.undo_bar.isVisible() and window.review.undo_label.text() == "Step 1 deleted."
    tap(qtbot, window.review.undo_button)
    assert [s.id for s in window.session.steps] == [first_id, second_id], "back in its place"
    assert not window.review.undo_bar.isVisible()

    # Without Undo the offer goes after a while and the step stays deleted.
    window.review._undo_timer.setInterval(50)
    second_delete = window.review.findChild(type(window.review.send_button), "delete-2")
    assert second_delete is not None
    tap(qtbot, second_delete)
    qtbot.waitUntil(lambda: not window.review.undo_bar.isVisible(), timeout=5_000)
    assert [s.id for s in window.session.steps] == [first_id]


# ---------------------------------------------------------------- exactly what is sent
def test_what_is_sent_reads_as_text_and_the_raw_data_is_one_tap_further(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    window = make_window(sysinfo=every_group_sysinfo)
    to_show(qtbot, window)
    tap(qtbot, window.show_screen.continue_button)
    wait_stage(qtbot, window, Stage.REVIEW)
    qtbot.waitUntil(lambda: "os" in window.review.group_boxes)
    window.review.group_boxes["cpu"].click()
    tap(qtbot, window.review.details_button)
    readable = window.review.details_view.toPlainText()
    assert "Operating system" in readable and "up 4 min" in readable
    assert "uptime_seconds" not in readable and "{" not in readable and "Test CPU" not in readable
    assert window.review.raw_button.text() == "Show the raw data"
    tap(qtbot, window.review.raw_button)
    raw = window.review.details_view.toPlainText()
    assert '"uptime_seconds": 249' in raw and '"cpu"' not in raw
    tap(qtbot, window.review.raw_button)
    assert window.review.details_view.toPlainText() == readable


# ---------------------------------------------------------------- the German "more below"
def test_the_more_below_hint_shows_whole_in_german(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(
        site_settings(language="de", languages=["de", "en"]), translations=True, sysinfo=every_group_sysinfo
    )
    to_show(qtbot, window)
    tap(qtbot, window.show_screen.continue_button)
    wait_stage(qtbot, window, Stage.REVIEW)
    hint = window.review.group_area.more_hint
    qtbot.waitUntil(hint.isVisible)
    assert hint.text().startswith("▼ Mehr weiter unten")
    needed = hint.fontMetrics().boundingRect(
        QRect(0, 0, hint.contentsRect().width(), 10_000), int(Qt.TextFlag.TextWordWrap), hint.text()
    )
    assert needed.width() <= hint.contentsRect().width() and needed.height() <= hint.contentsRect().height()


# ---------------------------------------------------------------- Capture answers
def test_capture_flashes_the_bar_and_shows_the_new_step(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(grab_factory=solid_grab)
    to_show(qtbot, window)
    showme = window.showme
    assert showme is not None
    tap(qtbot, window.show_screen.app_buttons["browser"])
    bar = showme.bar
    assert not bar.thumbnail.isVisible() and not bar.flash.isVisible()
    with qtbot.waitSignal(showme.step_captured, timeout=10_000):
        tap(qtbot, bar.capture_button)
    assert bar.flash.isVisible(), "the bar lights up"
    assert bar.thumbnail.isVisible() and bar.thumbnail.accessibleName() == "Step 1 captured"
    centre = bar.thumbnail.pixmap().toImage().pixelColor(bar.thumbnail.pixmap().rect().center())
    assert (centre.red(), centre.green(), centre.blue()) == SHOT_COLOUR
    qtbot.waitUntil(lambda: not bar.flash.isVisible(), timeout=5_000)
    tap(qtbot, bar.done_button)
    # The next visit's bar starts without the last person's picture.
    tap(qtbot, window.show_screen.app_buttons["browser"])
    assert not bar.thumbnail.isVisible()
    tap(qtbot, bar.done_button)
