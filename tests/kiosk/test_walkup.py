"""A whole walk-up against the real built-in server on loopback, as a person does it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from pytestqt.qtbot import QtBot

from kiosk.flow import Stage
from kiosk.showme import mss_grabber
from kiosk.window import KioskWindow
from tests.fixtures.server import ServerProcess
from tests.fixtures.xvfb import XvfbServer, paint_root
from tests.kiosk.conftest import WindowFactory, site_settings
from tests.kiosk.helpers import ReaderPipe, check_in_by_form, tap, wait_stage

SECRET_BOX = (300, 200, 700, 400)  # where the desktop shows a "password" that must be redacted
SECRET_COLOUR = (220, 30, 30)


def desktop_with_a_secret() -> Image.Image:
    image = Image.new("RGB", (1920, 1080), (40, 90, 160))
    image.paste(
        Image.new("RGB", (SECRET_BOX[2] - SECRET_BOX[0], SECRET_BOX[3] - SECRET_BOX[1]), SECRET_COLOUR), SECRET_BOX[:2]
    )
    return image


def connect(make_window: WindowFactory, server: ServerProcess) -> str:
    """Point the kiosk's outbox at ``server`` with a submitter token; returns a technician token."""
    make_window.server_url = server.url
    make_window.token = server.token("submitter", site="HQ Tech Bar")
    make_window.start_sender()
    return server.token("technician")


def ticket_detail(server: ServerProcess, token: str, ticket_id: str) -> dict[str, Any]:
    answer = requests.get(f"{server.url}/api/v1/tickets/{ticket_id}", headers=server.auth(token), timeout=10)
    answer.raise_for_status()
    data = answer.json()
    assert isinstance(data, dict)
    return data


def download(server: ServerProcess, token: str, url: str) -> bytes:
    target = url if url.startswith("http") else f"{server.url}{url}"
    answer = requests.get(target, headers=server.auth(token), timeout=10)
    answer.raise_for_status()
    return answer.content


def capture_two_steps(qtbot: QtBot, window: KioskWindow) -> None:
    showme = window.showme
    assert showme is not None
    tap(qtbot, window.show_screen.app_buttons["browser"])
    assert showme.active and showme.bar.isVisible() and not window.isVisible()
    for caption in ("The sign-in page", "After I press Sign in"):
        qtbot.keyClicks(showme.bar.caption_edit, caption)
        with qtbot.waitSignal(showme.step_captured, timeout=15_000):
            tap(qtbot, showme.bar.capture_button)
        qtbot.waitUntil(showme.bar.isVisible)
    assert [len(showme.running_apps())] == [1]
    tap(qtbot, showme.bar.done_button)
    assert not showme.active and window.isVisible() and showme.running_apps() == ()


def redact_secret_on_step_one(qtbot: QtBot, window: KioskWindow) -> None:
    tap(qtbot, window.review.findChild(type(window.review.send_button), "markup-1"))
    editor: Any = window.review.editor
    assert editor is not None and window.review.save_markup_button.isVisible()
    canvas = editor.canvas()
    qtbot.keyClick(canvas, Qt.Key.Key_X)  # the black-out tool
    assert editor.tool() == "redaction"
    # A little beyond the secret on every side, as a finger would draw it.
    start = canvas.image_to_widget(QPointF(SECRET_BOX[0] - 6, SECRET_BOX[1] - 6)).toPoint()
    end = canvas.image_to_widget(QPointF(SECRET_BOX[2] + 6, SECRET_BOX[3] + 6)).toPoint()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas, end)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=end)
    assert [item.kind for item in editor.items()] == ["redaction"]
    tap(qtbot, window.review.save_markup_button)
    qtbot.waitUntil(lambda: bool(window.session.steps[0].markup))
    assert window.review.pages.currentIndex() == 0


@pytest.mark.xvfb
def test_a_walk_up_from_form_to_ticket_with_captures_photo_and_redaction(
    make_window: WindowFactory, qtbot: QtBot, server_process: ServerProcess, xvfb_display: XvfbServer
) -> None:
    technician = connect(make_window, server_process)
    paint_root(xvfb_display.display, desktop_with_a_secret())
    window = make_window(grab_factory=mss_grabber(xvfb_display.display, 1))

    check_in_by_form(qtbot, window, "Ada Lovelace", "ada@example.org")
    tap(qtbot, window.what.tiles["sign-in"])
    assert window.what.help_card.isVisible()  # self-help first
    qtbot.keyClicks(window.what.description_edit, "Sign-in page says my account is locked")
    tap(qtbot, window.what.continue_button)
    wait_stage(qtbot, window, Stage.SHOW)

    capture_two_steps(qtbot, window)
    tap(qtbot, window.show_screen.photo_button)
    tap(qtbot, window.show_screen.take_photo_button)
    qtbot.waitUntil(lambda: len(window.session.steps) == 3)
    assert [s.capture_method for s in window.session.steps] == ["mss", "mss", "photo"]
    assert window.session.steps[0].caption == "The sign-in page"
    tap(qtbot, window.show_screen.continue_button)
    wait_stage(qtbot, window, Stage.REVIEW)

    redact_secret_on_step_one(qtbot, window)
    qtbot.waitUntil(lambda: "network" in window.review.group_boxes)
    window.review.group_boxes["network"].click()  # the person switches one group off
    tap(qtbot, window.review.details_button)
    readable = window.review.details_view.toPlainText()
    assert "Operating system" in readable and "Debian GNU/Linux 12" in readable and "Network" not in readable
    tap(qtbot, window.review.raw_button)  # the raw data, one tap further
    assert '"network"' not in window.review.details_view.toPlainText()
    assert '"os"' in window.review.details_view.toPlainText()
    tap(qtbot, window.review.back_button)
    tap(qtbot, window.review.send_button)
    wait_stage(qtbot, window, Stage.SEND)
    with qtbot.waitSignal(window.submission.finished, timeout=30_000):
        tap(qtbot, window.send.send_button)
    wait_stage(qtbot, window, Stage.DONE)

    outcome = window.session.outcome
    assert outcome is not None and outcome.ticket is not None
    assert window.done.number_label.text() == outcome.ticket.number
    assert window.done.queue_label.text() == "You are number 1 in the queue."
    assert window.done.qr.isVisible() and window.done.qr.data == outcome.ticket.url

    detail = ticket_detail(server_process, technician, outcome.ticket.id)
    assert detail["reporter"]["name"] == "Ada Lovelace" and detail["category"] == "Can't sign in"
    assert detail["walk_up"] is True and detail["queue"]["position"] == 1
    assert [s["caption"] for s in detail["steps"]] == ["The sign-in page", "After I press Sign in", ""]
    assert set(detail["sysinfo"]) == {"os", "memory"}
    assert detail["report"]["self_help_articles"] == ["reset-password", "mfa"]
    redacted = Image.open(io.BytesIO(download(server_process, technician, detail["steps"][0]["image"]["url"])))
    secret_pixels = redacted.convert("RGB").crop(SECRET_BOX)
    colours = secret_pixels.getcolors(maxcolors=1 << 16) or []
    assert {colour for _count, colour in colours} == {(0, 0, 0)}, "the redaction must destroy the pixels"
    assert detail["steps"][0]["original"] is None
    untouched = Image.open(io.BytesIO(download(server_process, technician, detail["steps"][1]["image"]["url"])))
    assert untouched.convert("RGB").getpixel((400, 300)) == SECRET_COLOUR  # only step 1 was marked up

    tap(qtbot, window.done.finish_button)
    wait_stage(qtbot, window, Stage.WELCOME)
    assert make_window.outbox.list() == [] and make_window.outbox.receipts() == []


def test_a_badge_scan_while_the_server_is_down_gives_a_receipt_and_is_delivered_later(
    make_window: WindowFactory, qtbot: QtBot, server_process: ServerProcess, tmp_path: Path
) -> None:
    technician = connect(make_window, server_process)
    reader = ReaderPipe(tmp_path)
    window = make_window(site_settings(badge_reader=str(reader.path)), patience_seconds=20.0)
    assert window.who.badge_reader.is_open
    tap(qtbot, window.welcome.start_button)
    wait_stage(qtbot, window, Stage.WHO)
    assert window.who.badge_card.isVisible()
    reader.scan("00428817")
    wait_stage(qtbot, window, Stage.WHAT)
    assert window.session.badge_id == "00428817" and window.who.name_edit.text() == ""
    reader.close()
    tap(qtbot, window.what.tiles["printer"])
    tap(qtbot, window.what.continue_button)
    tap(qtbot, window.show_screen.continue_button)  # nothing to show: skipped
    tap(qtbot, window.review.send_button)

    server_process.stop()
    report_id = window.session.report_id
    with qtbot.waitSignal(window.submission.finished, timeout=30_000):
        tap(qtbot, window.send.send_button)
    wait_stage(qtbot, window, Stage.DONE)
    assert window.done.number_label.text() == report_id.hex[:8].upper()
    assert "sent automatically" in window.done.headline.text()
    assert not window.done.qr.isVisible()
    tap(qtbot, window.done.finish_button)
    assert [e.id for e in make_window.outbox.list()] == [str(report_id)]  # the walk-up is not lost

    server_process.start()
    make_window.outbox.wake()
    qtbot.waitUntil(lambda: make_window.outbox.list() == [], timeout=30_000)
    # The late delivery leaves no local receipt behind on the kiosk.
    qtbot.waitUntil(lambda: make_window.outbox.receipts() == [])
    detail = ticket_detail(server_process, technician, str(report_id))
    assert detail["report"]["reporter"]["badge_id"] == "00428817" and detail["category"] == "Printer"


def test_an_idle_person_is_wiped_with_nothing_left_behind(
    make_window: WindowFactory, qtbot: QtBot, server_process: ServerProcess, tmp_path: Path
) -> None:
    connect(make_window, server_process)
    settings = site_settings()
    from dataclasses import replace

    window = make_window(replace(settings, idle_seconds=0.5, countdown_seconds=1.2, done_seconds=120))

    kiosk_dirs = [tmp_path / "outbox", tmp_path / "sessions", tmp_path / "data"]  # the server's files are its own

    def kiosk_files() -> list[Path]:
        return [p for d in kiosk_dirs if d.exists() for p in d.rglob("*") if p.is_file()]

    def files() -> set[str]:
        return {str(p.relative_to(tmp_path)) for p in kiosk_files()}

    before = files()
    check_in_by_form(qtbot, window, "Ada Lovelace", "ada@example.org")
    tap(qtbot, window.what.tiles["laptop"])
    tap(qtbot, window.what.continue_button)
    tap(qtbot, window.show_screen.photo_button)
    tap(qtbot, window.show_screen.take_photo_button)
    qtbot.waitUntil(lambda: len(window.session.steps) == 1)
    tap(qtbot, window.show_screen.continue_button)
    tap(qtbot, window.review.send_button)
    with qtbot.waitSignal(window.submission.finished, timeout=30_000):
        tap(qtbot, window.send.send_button)
    wait_stage(qtbot, window, Stage.DONE)
    assert make_window.outbox.receipts() != []  # a local copy of the delivery exists now
    during = files()
    assert during - before, "the delivery leaves a receipt until the person is gone"

    with qtbot.waitSignal(window.idle.countdown_started, timeout=5_000):
        pass
    assert window.idle_overlay.isVisible()
    assert "cleared in" in window.idle_overlay.count_label.text()
    with qtbot.waitSignal(window.idle.expired, timeout=5_000):
        pass
    assert window.flow.stage is Stage.WELCOME and not window.idle_overlay.isVisible()

    assert files() == before
    assert make_window.outbox.receipts() == [] and make_window.outbox.list() == []
    assert not any(b"Ada" in p.read_bytes() for p in kiosk_files())
    session = window.session
    assert (session.name, session.email, session.steps, session.outcome, session.sysinfo) == ("", "", [], None, None)
    assert len(window.thumbnails) == 0
    assert window.who.name_edit.text() == "" and window.who.email_edit.text() == ""
    assert window.review.steps_grid.count() == 0 and window.done.number_label.text() == ""


def test_input_during_the_countdown_keeps_the_session(make_window: WindowFactory, qtbot: QtBot) -> None:
    from dataclasses import replace

    window = make_window(replace(site_settings(), idle_seconds=0.3, countdown_seconds=30))
    check_in_by_form(qtbot, window)
    with qtbot.waitSignal(window.idle.countdown_started, timeout=5_000):
        pass
    assert window.idle_overlay.isVisible()
    with qtbot.waitSignal(window.idle.countdown_cancelled):
        tap(qtbot, window.idle_overlay.button)
    assert not window.idle_overlay.isVisible()
    assert window.flow.stage is Stage.WHAT and window.session.name == "Ada Lovelace"
