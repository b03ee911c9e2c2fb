"""The step recorder: ordered steps with captions, pause, capture on every click (XRecord on the real Xvfb),
and each click step naming what was clicked through AT-SPI, with typed keys as a count only."""

from __future__ import annotations

import base64
import socket
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from agent.laptop.agent_app import AgentApp
from agent.laptop.click_hook import X11ClickListener, click_listener_problem
from agent.laptop.report_window import ReportWindow
from agent.markup import normalized_rect, open_image
from tests.fixtures.xvfb import XvfbServer, paint_root
from tests.laptop.conftest import AgentHarness
from tests.steps.atspi_session import atspi_bus, save_as_app

__all__ = ["atspi_bus"]  # the session's accessibility bus, a fixture

pytestmark = pytest.mark.xvfb


def fill(xvfb: XvfbServer, colour: tuple[int, int, int]) -> None:
    paint_root(xvfb.display, Image.new("RGB", (xvfb.width, xvfb.height), colour))


def capture_with_caption(agent: AgentApp, qtbot: QtBot, caption: str) -> None:
    bar = agent.recorder.bar
    bar.caption_edit.clear()
    qtbot.keyClicks(bar.caption_edit, caption)
    with qtbot.waitSignal(agent.recorder.step_added, timeout=15_000):
        qtbot.mouseClick(bar.capture_button, Qt.MouseButton.LeftButton)


def only_colour(data: bytes) -> tuple[int, int, int] | None:
    colours = open_image(data).convert("RGB").getcolors(maxcolors=2)
    return colours[0][1] if colours and len(colours) == 1 else None


def test_recorded_steps_arrive_in_order_with_their_captions(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer
) -> None:
    agent = harness.make()
    agent.tray.action("record").trigger()
    bar = agent.recorder.bar
    assert bar.isVisible() and agent.recorder.recording
    fill(xvfb_display, (200, 0, 0))
    capture_with_caption(agent, qtbot, "Open the File menu")
    fill(xvfb_display, (0, 200, 0))
    capture_with_caption(agent, qtbot, "Click Save")
    assert bar.count_label.text() == "2 steps"
    assert bar.caption_edit.text() == "", "the caption belongs to the step it was typed for"

    qtbot.mouseClick(bar.pause_button, Qt.MouseButton.LeftButton)
    assert agent.recorder.paused and not bar.capture_button.isEnabled()
    assert agent.recorder.capture_step("while paused") is False
    qtbot.mouseClick(bar.pause_button, Qt.MouseButton.LeftButton)
    fill(xvfb_display, (0, 0, 200))
    capture_with_caption(agent, qtbot, "The error appears")

    with qtbot.waitSignal(agent.report_shown, timeout=15_000) as shown:
        qtbot.mouseClick(bar.stop_button, Qt.MouseButton.LeftButton)
    window = shown.args[0]
    assert isinstance(window, ReportWindow)
    assert not bar.isVisible() and not agent.recorder.recording
    steps = window.draft.steps
    assert [s.caption for s in steps] == ["Open the File menu", "Click Save", "The error appears"]
    assert [only_colour(s.image) for s in steps] == [(200, 0, 0), (0, 200, 0), (0, 0, 200)]
    assert window.steps_list.count() == 3


def test_every_click_captures_a_step_with_the_click_marked(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer
) -> None:
    fill(xvfb_display, (60, 60, 60))
    agent = harness.make()
    agent.start_recording()
    bar = agent.recorder.bar
    assert bar.on_click_box.isEnabled(), bar.on_click_box.toolTip()
    bar.on_click_box.setChecked(True)
    for x, y in ((300, 200), (1500, 900)):
        with qtbot.waitSignal(agent.recorder.step_added, timeout=15_000):
            subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], env=xvfb_display.env, check=True)
    first, second = agent.recorder.steps
    for step, (x, y) in ((first, (300, 200)), (second, (1500, 900))):
        (mark,) = step.draft.markup
        assert mark.kind == "rectangle"
        left, top, right, bottom = normalized_rect(mark)
        assert (left + right) / 2 == pytest.approx(x) and (top + bottom) / 2 == pytest.approx(y)
        assert step.draft.original is None  # the pixels stay as captured; the mark is data
    qtbot.mouseClick(bar.pause_button, Qt.MouseButton.LeftButton)
    subprocess.run(["xdotool", "mousemove", "10", "10", "click", "1"], env=xvfb_display.env, check=True)
    with qtbot.waitSignal(agent.report_shown, timeout=15_000) as shown:
        agent.recorder.stop()
    window = shown.args[0]
    assert len(window.draft.steps) == 2, "a click while paused is no step"
    assert [len(s.markup) for s in window.draft.steps] == [1, 1]


def test_capture_on_click_says_why_it_is_unavailable() -> None:
    assert "Wayland" in (click_listener_problem({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}) or "")
    assert click_listener_problem({}) == "there is no X display to follow clicks on"
    assert click_listener_problem({"DISPLAY": ":5"}) is None


def test_the_recorder_shows_why_clicks_cannot_be_followed(harness: AgentHarness) -> None:
    def refuse(_callback: object) -> X11ClickListener:
        return X11ClickListener(lambda x, y, b: None, ":4242")  # no X server there

    agent = harness.make(click_listener=refuse)
    agent.start_recording()
    box = agent.recorder.bar.on_click_box
    assert box.isEnabled()
    problems: list[str] = []
    agent.recorder.problem.connect(problems.append)
    box.setChecked(True)
    assert not box.isChecked() and not box.isEnabled()
    assert problems and ":4242" in problems[0]
    assert box.toolTip().startswith("Not available here:")


def click_at(xvfb: XvfbServer, x: int, y: int) -> None:
    subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], env=xvfb.env, check=True)


def test_a_click_step_names_the_qt_button_and_counts_keys_without_them(
    harness: AgentHarness,
    qtbot: QtBot,
    xvfb_display: XvfbServer,
    atspi_bus: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fill(xvfb_display, (60, 60, 60))
    # The agent finds the desktop's accessibility tree through its session bus, as on a desktop.
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", atspi_bus)
    with save_as_app(atspi_bus, xvfb_display.env, left=400, top=300) as app:
        agent = harness.make()
        agent.start_recording()
        bar = agent.recorder.bar
        bar.on_click_box.setChecked(True)
        bar.activateWindow()
        bar.caption_edit.setFocus()
        qtbot.waitUntil(bar.caption_edit.hasFocus, timeout=5_000)
        # Typed while the recorder's caption field has the keyboard: the person's caption, no step's keys.
        subprocess.run(["xdotool", "type", "--delay", "5", "abc"], env=xvfb_display.env, check=True)
        x, y = app.button_centre
        with qtbot.waitSignal(agent.recorder.step_added, timeout=15_000):
            click_at(xvfb_display, x, y - 50)  # the text field above the button
        # Clicking another program takes the keyboard from the recorder; the offscreen platform the
        # agent's widgets draw on has no other program to give it to, so the test does it.
        bar.caption_edit.clearFocus()
        subprocess.run(["xdotool", "type", "--delay", "5", "hunter2"], env=xvfb_display.env, check=True)
        with qtbot.waitSignal(agent.recorder.step_added, timeout=15_000):
            click_at(xvfb_display, x, y)
        assert app.next_line() == "clicked", "the click reached the button"
        with qtbot.waitSignal(agent.report_shown, timeout=15_000) as shown:
            agent.recorder.stop()
    window = shown.args[0]
    captions = [step.caption for step in window.draft.steps]
    assert captions == ["Left-click a text field in 'Save As'", "Typed 7 keys. Left-click 'OK' button in 'Save As'"]
    assert not any("hunter" in caption for caption in captions), "typed characters never reach a step"
    # The words are the step's caption: the person sees them, and can change them before sending.
    window.steps_list.setCurrentRow(1)
    assert window.caption_edit.text() == captions[1]
    window.caption_edit.setText("Pressed OK")
    assert window.draft.steps[1].caption == "Pressed OK"


def test_click_steps_without_an_accessibility_tree_say_where_and_export_as_a_web_page(
    harness: AgentHarness,
    qtbot: QtBot,
    xvfb_display: XvfbServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    fill(xvfb_display, (60, 60, 60))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    agent = harness.make()
    agent.start_recording()
    agent.recorder.bar.on_click_box.setChecked(True)
    with qtbot.waitSignal(agent.recorder.step_added, timeout=15_000):
        click_at(xvfb_display, 700, 500)
    # The wheel is no click: scrolling makes no step (a capture is asked for at once when it does).
    subprocess.run(["xdotool", "click", "4"], env=xvfb_display.env, check=True)
    with qtbot.waitSignal(agent.recorder.step_added, timeout=15_000):
        subprocess.run(["xdotool", "click", "3"], env=xvfb_display.env, check=True)
    captions = ["Left-click at (700, 500)", "Right-click at (700, 500)"]
    assert [s.draft.caption for s in agent.recorder.steps] == captions

    with qtbot.waitSignal(agent.report_shown, timeout=15_000) as shown:
        agent.recorder.stop()
    window = shown.args[0]
    window.description_edit.setPlainText("The menu <b>vanishes</b>")
    page = tmp_path / "report.html"
    with qtbot.waitSignal(window.exported, timeout=15_000):
        window.export_web_page(page)
    assert page.stat().st_mode & 0o077 == 0, "the page holds the shots: private to its owner"
    # tests/steps opens such pages in Chromium; here the page is read as it is written.
    read = PageReader()
    read.feed(page.read_text(encoding="utf-8"))
    assert [open_image(image).size for image in read.images] == [(xvfb_display.width, xvfb_display.height)] * 2
    assert read.captions == captions
    assert "The menu <b>vanishes</b>" in read.text


class PageReader(HTMLParser):
    """The pictures (decoded from their data: URIs), the step captions and the text of an exported page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[bytes] = []
        self.captions: list[str] = []
        self.text = ""
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            _, _, encoded = (values.get("src") or "").partition(";base64,")
            self.images.append(base64.b64decode(encoded))
        self._in_caption = tag == "span" and values.get("class") == "text" and bool(self.images)

    def handle_data(self, data: str) -> None:
        self.text += data
        if self._in_caption:
            self.captions.append(data)
            self._in_caption = False


def test_a_hung_accessibility_bus_costs_the_steps_their_names_not_the_steps(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fill(xvfb_display, (60, 60, 60))
    silent = socket.socket(socket.AF_UNIX)  # takes connections, never answers
    silent.bind(str(tmp_path / "bus"))
    silent.listen(4)
    try:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'bus'}")
        agent = harness.make()
        agent.start_recording()
        agent.recorder.bar.on_click_box.setChecked(True)
        for x in (300, 600):
            with qtbot.waitSignal(agent.recorder.step_added, timeout=15_000):
                click_at(xvfb_display, x, 400)
    finally:
        silent.close()
    assert [s.draft.caption for s in agent.recorder.steps] == ["Left-click at (300, 400)", "Left-click at (600, 400)"]
