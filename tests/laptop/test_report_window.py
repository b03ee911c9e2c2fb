"""The report window end to end: capture, describe, mark up, choose system information, send to the real server."""

from __future__ import annotations

import io
import json
from urllib.parse import urlsplit

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from agent.connectors.builtin import BuiltinConnector
from agent.laptop.agent_app import AgentApp
from agent.laptop.report_window import ReportWindow
from agent.markup import new_item, open_image
from agent.outbox import Receipt
from agent.schema import Report
from tests.fixtures.server import ServerProcess
from tests.fixtures.xvfb import XvfbServer, paint_root, pattern_rgb, position_pattern
from tests.laptop.conftest import AgentHarness

pytestmark = pytest.mark.xvfb


def open_report(agent: AgentApp, qtbot: QtBot) -> ReportWindow:
    with qtbot.waitSignal(agent.report_shown, timeout=15_000) as shown:
        agent.start_report()
    window = shown.args[0]
    assert isinstance(window, ReportWindow)
    qtbot.waitUntil(lambda: window.draft.sysinfo is not None and window.current_step() == 0, timeout=10_000)
    return window


def send(window: ReportWindow, qtbot: QtBot) -> Receipt:
    with qtbot.waitSignal(window.submission.delivered, timeout=30_000) as delivered:
        qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
    receipt = delivered.args[0]
    assert isinstance(receipt, Receipt)
    return receipt


def read_back(server: ServerProcess, receipt: Receipt) -> tuple[Report, BuiltinConnector]:
    connector = BuiltinConnector(server.url, token=server.token("technician"))
    detail = connector.get_ticket(receipt.ticket_id)
    assert detail.report is not None
    return detail.report, connector


def test_the_report_arrives_with_capture_description_and_contact(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer, server_process: ServerProcess
) -> None:
    paint_root(xvfb_display.display, position_pattern(xvfb_display.width, xvfb_display.height))
    harness.use_server(server_process)
    agent = harness.make()
    window = open_report(agent, qtbot)
    window.name_edit.setText("Ada Lovelace")
    qtbot.keyClicks(window.description_edit, "The printer says offline")
    window.category_combo.setCurrentText("Printer")
    window.caption_edit.setText("the error")
    receipt = send(window, qtbot)

    report, connector = read_back(server_process, receipt)
    assert report.id == window.draft.id
    assert report.description == "The printer says offline"
    assert report.category == "Printer"
    assert report.reporter.name == "Ada Lovelace"
    assert report.source.kind == "agent"
    (step,) = report.steps
    assert step.caption == "the error" and step.markup == [] and step.original is None
    assert step.monitor is not None and step.monitor.index == 1
    image = Image.open(io.BytesIO(connector.attachment(receipt.ticket_id, step.image.path))).convert("RGB")
    assert image.size == (xvfb_display.width, xvfb_display.height)
    for x, y in ((0, 0), (1919, 1079), (777, 333)):
        assert image.getpixel((x, y)) == pattern_rgb(x, y)
    assert f"ticket <b>{receipt.number}</b>" in window.status_label.text()


def test_switched_off_groups_are_exactly_what_is_missing(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer, server_process: ServerProcess
) -> None:
    paint_root(xvfb_display.display, Image.new("RGB", (xvfb_display.width, xvfb_display.height), (90, 90, 90)))
    harness.use_server(server_process)
    agent = harness.make()
    window = open_report(agent, qtbot)
    collected = window.draft.sysinfo
    assert collected is not None
    assert window.sysinfo_preview.groups() == [g for g in collected if g in window.sysinfo_preview.groups()]
    assert set(window.sysinfo_preview.groups()) == set(collected)
    for group in ("processes", "network"):
        item = window.sysinfo_preview.group_item(group)
        item.setCheckState(0, Qt.CheckState.Unchecked)  # what a click on the switch does
    assert window.sysinfo_preview.excluded() == {"processes", "network"}
    receipt = send(window, qtbot)

    report, connector = read_back(server_process, receipt)
    assert report.sysinfo is not None
    sent = json.loads(connector.attachment(receipt.ticket_id, report.sysinfo.path))
    expected = {name: value for name, value in collected.items() if name not in ("processes", "network")}
    assert sent == json.loads(json.dumps(expected))


def test_redaction_leaves_none_of_the_original_pixels(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer, server_process: ServerProcess
) -> None:
    pattern = position_pattern(xvfb_display.width, xvfb_display.height)
    paint_root(xvfb_display.display, pattern)
    harness.use_server(server_process)
    agent = harness.make()
    window = open_report(agent, qtbot)
    box = (400, 300, 700, 420)
    window.editor.document().add(new_item("redaction", [(box[0], box[1]), (box[2], box[3])]))
    window.editor.document().add(new_item("arrow", [(100, 100), (380, 290)]))
    receipt = send(window, qtbot)

    report, connector = read_back(server_process, receipt)
    (step,) = report.steps
    assert [item.kind for item in step.markup] == ["redaction", "arrow"]
    assert step.original is None, "a redacted step must not carry its original"
    files = {ref.path: connector.attachment(receipt.ticket_id, ref.path) for ref in report.files()}
    image = open_image(files[step.image.path]).convert("RGB")
    inside = image.crop(box)
    assert inside.getcolors(maxcolors=2) == [(inside.width * inside.height, (0, 0, 0))]
    assert image.getpixel((1000, 900)) == pattern_rgb(1000, 900)
    # No file of the report holds the redacted pixels.
    secret = pattern.crop(box).tobytes()
    for data in files.values():
        try:
            decoded = open_image(data).convert("RGB")
        except Exception:  # noqa: BLE001 - not an image (sysinfo.json)
            assert secret[:64] not in data
            continue
        if decoded.size == pattern.size:
            assert decoded.crop(box).tobytes() != secret


def test_markup_without_redaction_keeps_the_original(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer, server_process: ServerProcess
) -> None:
    paint_root(xvfb_display.display, position_pattern(xvfb_display.width, xvfb_display.height))
    harness.use_server(server_process)
    agent = harness.make()
    window = open_report(agent, qtbot)
    window.editor.document().add(new_item("rectangle", [(10, 10), (200, 120)]))
    receipt = send(window, qtbot)

    report, connector = read_back(server_process, receipt)
    (step,) = report.steps
    assert [item.kind for item in step.markup] == ["rectangle"]
    assert step.original is not None
    original = open_image(connector.attachment(receipt.ticket_id, step.original.path)).convert("RGB")
    assert original.getpixel((10, 10)) == pattern_rgb(10, 10)
    marked = open_image(connector.attachment(receipt.ticket_id, step.image.path)).convert("RGB")
    assert marked.getpixel((10, 10)) != pattern_rgb(10, 10)


def test_offline_submit_is_queued_then_delivered_when_the_server_comes_up(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer
) -> None:
    paint_root(xvfb_display.display, Image.new("RGB", (xvfb_display.width, xvfb_display.height), (10, 120, 60)))
    port = urlsplit(harness.server_url).port
    assert port is not None
    server = ServerProcess(harness.tmp_path / "late-server", port=port)  # not started: the help desk is down
    harness.token = "not-yet-known"
    agent = harness.make()
    window = open_report(agent, qtbot)
    qtbot.keyClicks(window.description_edit, "No network at all")
    with qtbot.waitSignal(window.submission.waiting, timeout=30_000):
        qtbot.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
    assert "Queued, will send automatically" in window.status_label.text()
    qtbot.waitUntil(lambda: agent.tray.waiting == 1, timeout=10_000)
    window.close()

    try:
        server.start()
        harness.token = server.token("submitter")
        agent.open_outbox()
        assert agent.outbox_window is not None
        with qtbot.waitSignal(agent.tray.notified, timeout=30_000) as notified:
            qtbot.mouseClick(agent.outbox_window.send_now_button, Qt.MouseButton.LeftButton)
        (receipt,) = agent.outbox.receipts()
        assert notified.args[0] == f"Ticket {receipt.number}: your report was delivered"
        qtbot.waitUntil(lambda: agent.tray.waiting == 0, timeout=10_000)
        report, _ = read_back(server, receipt)
        assert report.description == "No network at all"
    finally:
        server.stop()


def test_a_capture_can_be_added_and_removed(harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer) -> None:
    size = (xvfb_display.width, xvfb_display.height)
    paint_root(xvfb_display.display, Image.new("RGB", size, (255, 0, 0)))
    agent = harness.make()
    window = open_report(agent, qtbot)
    window.delay_combo.setCurrentIndex(0)
    paint_root(xvfb_display.display, Image.new("RGB", size, (0, 0, 255)))
    with qtbot.waitSignal(agent.report_shown, timeout=15_000):
        window.capture_actions["all"].trigger()
    qtbot.waitUntil(lambda: window.current_step() == 1, timeout=5_000)
    assert window.steps_list.count() == 2
    window.steps_list.setCurrentRow(0)
    qtbot.mouseClick(window.remove_button, Qt.MouseButton.LeftButton)
    assert window.steps_list.count() == 1 and len(window.draft.steps) == 1
    assert window.current_step() == 0
    remaining = open_image(window.draft.steps[0].image).convert("RGB")
    assert remaining.getpixel((5, 5)) == (0, 0, 255)
    assert window.editor.image_bytes() is window.draft.steps[0].image


def test_quit_asks_before_dropping_an_unsent_report(
    harness: AgentHarness, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    agent = harness.make()
    window = open_report(agent, qtbot)
    qtbot.keyClicks(window.description_edit, "Half a sentence")
    monkeypatch.setattr(QMessageBox, "question", lambda *_args: QMessageBox.StandardButton.Cancel)
    agent.tray.action("quit").trigger()
    assert agent.outbox_sender.running and window.isVisible(), "the person kept the report: no quit"
    monkeypatch.setattr(QMessageBox, "question", lambda *_args: QMessageBox.StandardButton.Discard)
    with qtbot.waitSignal(agent.quitting):
        agent.tray.action("quit").trigger()
    assert not agent.outbox_sender.running
