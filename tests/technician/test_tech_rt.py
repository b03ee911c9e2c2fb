"""Technician mode on a Request Tracker backend, through the RT connector, against a real RT 5.

Reports with screenshots go into RT through the connector; technician mode, chosen with a
``[backends.helpdesk] type = "rt"`` table as ``showdesk tech --backend helpdesk`` chooses it,
lists them, shows their screenshots pixel for pixel with the steps and the system information,
hides what RT cannot do, and its status change, claim and note land in RT (read back through
RT's own REST2 API, not the connector).
"""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QTreeWidget
from pytestqt.qtbot import QtBot

from agent.bundle import ReportBundle
from agent.config import load_config
from agent.connectors.rt import RTConnector
from agent.schema import Ticket
from technician.cli import build_window
from technician.model import Column
from technician.note_dialog import NoteDialog
from technician.window import TAB_FIGURES, TechWindow
from tests.connectors.helpers import report_bundle, screenshot
from tests.fixtures.rt import RT_TEST_MAX_ATTACHMENT, RTInstance
from tests.technician.conftest import key_clicks, mouse_click, numbers, open_in_viewer, wait_loaded

# The first test to use the session's RT may install its Debian packages (a minute or more).
pytestmark = [pytest.mark.rt, pytest.mark.timeout(900)]

BACKEND = "helpdesk"


def png_pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
        return rgb.size, rgb.tobytes()


def shown_pixels(image: QImage) -> tuple[tuple[int, int], bytes]:
    """The RGB pixels of an image on screen, row by row (Qt pads each row to 4 bytes)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    data = bytes(rgb.constBits())
    return (width, height), b"".join(data[row * stride : row * stride + width * 3] for row in range(height))


def tree_texts(tree: QTreeWidget) -> set[tuple[str, str]]:
    """Every (key, value) row of the system-information tree, at any depth."""
    found: set[tuple[str, str]] = set()
    pending = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    while pending:
        item = pending.pop()
        if item is None:
            continue
        found.add((item.text(0), item.text(1)))
        pending += [item.child(i) for i in range(item.childCount())]
    return found


def rt_record(rt_server: RTInstance, ticket_id: str) -> dict[str, Any]:
    response = rt_server.api("GET", f"/ticket/{ticket_id}")
    response.raise_for_status()
    record: dict[str, Any] = response.json()
    return record


def rt_comments(rt_server: RTInstance, ticket_id: str) -> list[str]:
    """The text of every comment (internal note) on the ticket, from RT's own transactions."""
    history = rt_server.api("GET", f"/ticket/{ticket_id}/history", params={"fields": "Type", "per_page": 100})
    history.raise_for_status()
    texts = []
    for transaction in history.json()["items"]:
        if transaction["Type"] != "Comment":
            continue
        attachments = rt_server.api(
            "GET", f"/transaction/{transaction['id']}/attachments", params={"fields": "ContentType"}
        )
        attachments.raise_for_status()
        for attachment in attachments.json()["items"]:
            if attachment["ContentType"] == "text/plain":
                content = rt_server.api("GET", f"/attachment/{attachment['id']}")
                content.raise_for_status()
                texts.append(base64.b64decode(content.json()["Content"]).decode())
    return texts


@pytest.fixture
def rt_window(
    qtbot: QtBot, rt_server: RTInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TechWindow]:
    """Technician mode as ``showdesk tech --backend helpdesk`` builds it, signed in to the live RT."""
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[backends.{BACKEND}]\ntype = "rt"\nurl = "{rt_server.url}"\nqueue = "{rt_server.queue}"\n'
        f'report_id_field = "{rt_server.report_field}"\nmax_attachment_size = {RT_TEST_MAX_ATTACHMENT}\n'
        'user = "root"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SHOWDESK_CONFIG", str(config_file))
    monkeypatch.setenv("SHOWDESK_TOKEN", rt_server.token)
    window = build_window(load_config(), BACKEND, tray=False)
    qtbot.addWidget(window)
    window.resize(1600, 900)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.shutdown()


def submit(rt_server: RTInstance, bundles: list[ReportBundle]) -> list[Ticket]:
    with RTConnector(
        rt_server.url,
        queue=rt_server.queue,
        token=rt_server.token,
        report_id_field=rt_server.report_field,
        max_attachment_size=RT_TEST_MAX_ATTACHMENT,
    ) as connector:
        return [connector.submit(bundle) for bundle in bundles]


def test_technician_mode_lists_opens_and_works_rt_tickets(
    qtbot: QtBot, rt_server: RTInstance, rt_window: TechWindow
) -> None:
    tag = uuid.uuid4().hex[:8]
    first_bundle = report_bundle(
        screenshots=[screenshot(61, (800, 500)), screenshot(62, (640, 400))],
        description=f"Invoices print blank [{tag}]\nSince this morning every page comes out empty.",
    )
    second_bundle = report_bundle(screenshots=[screenshot(63, (640, 400))], description=f"Scanner offline [{tag}]")
    first, second = submit(rt_server, [first_bundle, second_bundle])
    window = rt_window

    with qtbot.waitSignal(window.session.signed_in, timeout=30_000):
        window.start()
    wait_loaded(qtbot, window)

    # The queue lists both, newest first, with what RT's records say.
    listed = numbers(window)
    assert first.number in listed and second.number in listed
    assert listed.index(second.number) < listed.index(first.number)
    model = window.session.model
    row = model.row_of(first.id)
    assert row is not None
    assert model.index(row, Column.SUBJECT).data().endswith(f"Invoices print blank [{tag}]")
    assert model.index(row, Column.STATUS).data() == "new"

    # What RT cannot do is not offered: no walk-up queue board or "call next", no figures.
    available = window.available_commands()
    assert not {"call-next", "show-dashboard"} & available
    assert {"claim", "note", "reply", "status-waiting", "search"} <= available
    assert window.queue_view.table.isColumnHidden(Column.POSITION)
    assert not window.tabs.isTabVisible(TAB_FIGURES)

    # Opened: the screenshots shown are the ones submitted, pixel for pixel.
    open_in_viewer(qtbot, window, first.id)
    viewer = window.viewer
    for index, step in enumerate(first_bundle.report.steps):
        viewer.select_step(index)
        qtbot.waitUntil(
            lambda: viewer.shown_image_count == 1 and viewer.image.tiles[0].image is not None, timeout=20_000
        )
        image = viewer.image.tiles[0].image
        assert image is not None
        assert shown_pixels(image) == png_pixels(first_bundle.files[step.image.path]), step.image.path
        assert step.caption in viewer.caption.text()
    assert f"Invoices print blank [{tag}]" in viewer.title.text()
    assert "every page comes out empty" in viewer.description.text()
    # The system information came back as the report's file, and its flags are computed from it.
    assert "Disk / is 99 % full" in viewer.flags_strip.text()
    assert ("Operating system", "") in viewer.tree_rows()
    # Rows read in words ("Hostname"); the snapshot's own keys still find them in a search.
    assert {("Name", "Debian GNU/Linux 12"), ("Hostname", "pc-17")} <= tree_texts(viewer.tree)
    viewer.system_search.setText("hostname")
    assert ("Operating system", "") in viewer.tree_rows()
    viewer.system_search.clear()

    # Work done in the window lands in RT.
    window.actions_by_name["status-waiting"].trigger()
    qtbot.waitUntil(lambda: model.index(model.row_of(first.id) or 0, Column.STATUS).data() == "waiting", timeout=20_000)
    assert rt_record(rt_server, first.id)["Status"] == "stalled"

    window.actions_by_name["claim"].trigger()
    qtbot.waitUntil(lambda: model.index(model.row_of(first.id) or 0, Column.ASSIGNEE).data() == "root", timeout=20_000)
    assert rt_record(rt_server, first.id)["Owner"]["id"] == "root"

    window.actions_by_name["note"].trigger()
    note = window.findChild(NoteDialog, "NoteDialog")
    assert isinstance(note, NoteDialog)
    qtbot.waitUntil(note.isVisible)
    key_clicks(qtbot, note.editor, f"Toner cartridge {tag} is empty")
    mouse_click(qtbot, note.send_button)
    qtbot.waitUntil(lambda: f"Toner cartridge {tag} is empty" in viewer.timeline.toPlainText(), timeout=20_000)
    assert f"Toner cartridge {tag} is empty" in [text.strip() for text in rt_comments(rt_server, first.id)]
    assert rt_record(rt_server, second.id)["Status"] == "new"  # the other ticket is untouched
