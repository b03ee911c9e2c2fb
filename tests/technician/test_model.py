"""Technician mode's rules without a server: filters, read state, step layout, the queue model, the tree."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import QItemSelectionModel, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from agent.config import ConfigError
from agent.flags import Flag
from agent.schema import BoardEntry, FileRef, Geometry, Monitor, QueueBoard, Step
from technician import queue_model
from technician.client import TicketPage
from technician.model import (
    Column,
    QueueFilter,
    ReadState,
    TicketSummary,
    arrangements,
    format_age,
    format_seconds,
    text_matches,
)
from technician.queue_model import QueueModel
from technician.settings import TechSettings
from technician.step_images import DecodedImage, ImageCache, decode_image
from technician.sysinfo_tree import MAX_CHILDREN, build_tree

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def ticket(number: int, **fields: Any) -> TicketSummary:
    defaults: dict[str, Any] = {
        "id": f"id-{number}",
        "number": f"SD-{number}",
        "status": "new",
        "subject": f"Printing: ticket {number}",
        "category": "Printing",
        "source_id": "pc-1",
        "created_at": NOW + timedelta(minutes=number),
        "updated_at": NOW + timedelta(minutes=number),
    }
    defaults.update(fields)
    return TicketSummary(**defaults)


# ---------------------------------------------------------------- filters
def test_filter_parameters_for_the_server() -> None:
    assert QueueFilter().params() == {}
    assert QueueFilter(status="open", category="Network", source="lt-2", scope="mine", text="  vpn ").params() == {
        "status": "open",
        "category": "Network",
        "source": "lt-2",
        "assignee": "me",
        "q": "vpn",
    }
    assert QueueFilter(scope="unassigned").params() == {"assignee": "none"}


def test_filter_matches_what_the_server_would_list() -> None:
    mine = ticket(1, assignee="me.tech", description="The VPN drops on the train")
    assert QueueFilter(scope="mine").matches(mine, "me.tech")
    assert not QueueFilter(scope="mine").matches(mine, "someone.else")
    assert not QueueFilter(scope="unassigned").matches(mine, "me.tech")
    assert QueueFilter(scope="unassigned").matches(ticket(2, description=""), None)
    assert not QueueFilter(status="open").matches(mine, None)
    assert not QueueFilter(category="Network").matches(mine, None)
    assert not QueueFilter(source="lt-9").matches(mine, None)
    assert QueueFilter(text="vpn tra").matches(mine, None)  # every word starts a word
    assert not QueueFilter(text="rain").matches(mine, None)
    # A list record has no description: the text is not held against it.
    assert QueueFilter(text="rain").matches(replace(mine, description=None), None)


def test_text_matching_is_word_prefixes_ignoring_case() -> None:
    assert text_matches("", "anything")
    assert text_matches("PRINT", "the printer jams")
    assert not text_matches("rint", "the printer jams")
    assert text_matches("jam print", "the printer jams")
    assert not text_matches("jam scanner", "the printer jams")


def test_ages_and_durations_read_like_people_write_them() -> None:
    now = NOW.timestamp()
    assert format_age(NOW - timedelta(seconds=20), now) == "now"
    assert format_age(NOW - timedelta(minutes=5), now) == "5 min"
    assert format_age(NOW - timedelta(hours=3), now) == "3 h"
    assert format_age(NOW - timedelta(days=2, hours=5), now) == "2 d"
    assert format_age(None, now) == ""
    assert [format_seconds(s) for s in (None, 45, 600, 3 * 3600, 3 * 86400)] == [
        "–",
        "45 s",
        "10 min",
        "3.0 h",
        "3.0 d",
    ]


# ---------------------------------------------------------------- read state
def test_read_state_survives_a_restart_and_counts_older_tickets_as_read(tmp_path: Path) -> None:
    path = tmp_path / "read.json"
    state = ReadState(path, now=(NOW + timedelta(minutes=2)).timestamp())
    assert not state.is_unread(ticket(1))  # changed before the first sign-in here
    fresh = ticket(5)
    assert state.is_unread(fresh)
    state.mark_read(fresh)
    assert not state.is_unread(fresh)
    assert state.is_unread(replace(fresh, updated_at=NOW + timedelta(minutes=9)))  # changed since
    state.save()

    again = ReadState(path, now=0.0)
    assert not again.is_unread(fresh) and not again.is_unread(ticket(1))
    assert again.is_unread(ticket(6))


def test_a_damaged_read_state_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "read.json"
    path.write_text("{not json", encoding="utf-8")
    state = ReadState(path, now=NOW.timestamp())
    assert state.seen == {} and state.is_unread(ticket(5))


# ---------------------------------------------------------------- steps
def step(left: int, top: int, width: int, height: int, *, index: int = 1, seconds: float = 0.0) -> Step:
    ref = FileRef(path="steps/001.png", sha256="0" * 64, size=1, media_type="image/png")
    return Step(
        image=ref,
        width=width,
        height=height,
        captured_at=NOW + timedelta(seconds=seconds),
        monitor=Monitor(index=index, geometry=Geometry(left=left, top=top, width=width, height=height)),
    )


def test_monitors_of_one_capture_are_arranged_and_others_are_not() -> None:
    steps = [
        step(0, 0, 1920, 1080, index=1),
        step(1920, -200, 2560, 1440, index=2, seconds=0.1),  # one capture: side by side, offset
        step(0, 0, 1920, 1080, index=1, seconds=60),  # a later single shot
        step(0, 0, 1920, 1080, index=1, seconds=120),
        step(100, 100, 1920, 1080, index=2, seconds=120.1),  # overlaps the one before: not one desktop
        step(0, 0, 3840, 1080, index=0, seconds=200),  # the whole desktop in one picture
    ]
    layout = arrangements(steps)
    assert set(layout) == {0, 1}
    assert layout[0] is layout[1]
    assert layout[0].step_indexes == (0, 1)
    assert layout[0].bounds() == (0, -200, 4480, 1440)


# ---------------------------------------------------------------- the queue model
class FakeSource:
    def __init__(self) -> None:
        self.pages: list[tuple[QueueFilter, str | None, int]] = []
        self.flags: list[str] = []

    def request_page(self, filters: QueueFilter, cursor: str | None, generation: int) -> None:
        self.pages.append((filters, cursor, generation))

    def request_flags(self, ticket_id: str) -> None:
        self.flags.append(ticket_id)


@pytest.fixture
def model(qtbot: QtBot) -> QueueModel:
    del qtbot  # a QApplication must exist
    return QueueModel(FakeSource(), ReadState(None, now=0.0))


def shown(model: QueueModel) -> list[str]:
    return [row.ticket.number for row in model.rows]


def test_pages_append_and_stale_pages_are_dropped(model: QueueModel) -> None:
    source = model._source
    assert isinstance(source, FakeSource)
    model.reset(QueueFilter())
    assert model.loading and source.pages == [(QueueFilter(), None, 1)]
    model.page_loaded(1, TicketPage([ticket(9), ticket(8)], "c8"))
    assert shown(model) == ["SD-9", "SD-8"] and model.canFetchMore()
    model.fetchMore()
    assert source.pages == [(QueueFilter(), None, 1), (QueueFilter(), "c8", 1)]
    model.reset(QueueFilter(category="Network"))  # the person changed the filter meanwhile
    model.page_loaded(1, TicketPage([ticket(7)], None))
    assert shown(model) == []
    model.page_loaded(2, TicketPage([ticket(5, category="Network")], None))
    assert shown(model) == ["SD-5"] and not model.canFetchMore()


def test_live_changes_touch_only_their_row(model: QueueModel, qtbot: QtBot) -> None:
    model.reset(QueueFilter(status="new"))
    model.page_loaded(1, TicketPage([ticket(9), ticket(8), ticket(7)], "c7"))
    with qtbot.assertNotEmitted(model.modelReset):
        assert model.apply_ticket(ticket(10)) == "inserted"
        assert model.apply_ticket(ticket(3)) == "ignored"  # older than what is loaded: its page brings it
        assert model.apply_ticket(ticket(8, assignee="ann")) == "updated"
        assert model.apply_ticket(ticket(9, status="open")) == "removed"  # left the filter
        assert model.apply_ticket(ticket(11, status="open")) == "ignored"
    assert shown(model) == ["SD-10", "SD-8", "SD-7"]
    assert model.index(1, Column.ASSIGNEE).data() == "ann"


def test_a_new_ticket_is_unread_until_opened(model: QueueModel) -> None:
    model.reset()
    model.page_loaded(1, TicketPage([ticket(1)], None))
    model.apply_ticket(ticket(2))
    assert model.index(0, Column.NUMBER).data() == "● SD-2"
    assert model.index(0, Column.NUMBER).data(Qt.ItemDataRole.FontRole).bold()
    assert model.unread_count == 2
    model.mark_read("id-2")
    assert model.index(0, Column.NUMBER).data() == "SD-2"
    assert model.unread_count == 1


def test_flags_are_asked_for_once_when_a_row_is_painted(model: QueueModel) -> None:
    source = model._source
    assert isinstance(source, FakeSource)
    model.reset()
    model.page_loaded(1, TicketPage([ticket(1), ticket(2)], None))
    assert model.index(0, Column.FLAGS).data() == "…"
    model.index(0, Column.FLAGS).data()
    assert source.flags == ["id-1"]
    model.set_flags("id-1", [Flag("disk_full", "warning", "Disk / is 95 % full", "disks"),
                             Flag("no_default_route", "critical", "No default route", "network")])  # fmt: skip
    assert model.index(0, Column.FLAGS).data() == "no default route +1"
    model.flags_failed("id-2")  # a failed load is asked again next time
    model.index(1, Column.FLAGS).data()
    model.flags_failed("id-2")
    model.index(1, Column.FLAGS).data()
    assert source.flags == ["id-1", "id-2", "id-2"]


def entry(ticket_id: str, number: str, name: str, position: int) -> BoardEntry:
    return BoardEntry(
        number=number, name=name, position=position, state="waiting", waiting_since=datetime(2024, 5, 1, tzinfo=UTC),
        called_at=None, called_by=None, estimated_wait_seconds=60.0 * position, ticket_id=ticket_id,
    )  # fmt: skip


def board(site: str, waiting: list[BoardEntry]) -> QueueBoard:
    return QueueBoard(
        site=site, waiting=waiting, serving=[], mean_service_seconds=0.0, service_history=0, estimated_wait_seconds=0.0
    )


def test_walk_up_places_come_from_the_sites_board(model: QueueModel) -> None:
    model.reset()
    model.page_loaded(1, TicketPage([ticket(2, walk_up=True, site="HQ"), ticket(1, walk_up=True, site="HQ")], None))
    model.set_board(board("HQ", waiting=[entry("id-1", "SD-1", "Ada", 1), entry("id-2", "SD-2", "Bo", 2)]))
    assert [model.index(r, Column.POSITION).data() for r in range(2)] == ["#2", "#1"]
    model.set_board(board("HQ", waiting=[entry("id-2", "SD-2", "Bo", 1)]))
    assert [model.index(r, Column.POSITION).data() for r in range(2)] == ["#1", "walk-up"]


def test_sorting_loads_the_rest_first_and_the_selection_follows(model: QueueModel, qtbot: QtBot) -> None:
    model.reset()
    model.page_loaded(1, TicketPage([ticket(3, category="B"), ticket(2, category="C")], "c2"))
    selection = QItemSelectionModel(model)
    selection.setCurrentIndex(model.index(0, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    model.sort(Column.CATEGORY, Qt.SortOrder.AscendingOrder)
    assert model.loading and shown(model) == ["SD-3", "SD-2"]  # not sorted on half the tickets
    model.page_loaded(1, TicketPage([ticket(1, category="A")], None))
    assert shown(model) == ["SD-1", "SD-3", "SD-2"]
    assert selection.currentIndex().row() == 1  # SD-3 is still the selected one
    model.apply_ticket(ticket(4, category="AB"))  # a live insert goes where the order wants it
    assert shown(model) == ["SD-1", "SD-4", "SD-3", "SD-2"]
    model.apply_ticket(ticket(1, category="Z"))  # a change that moves its row
    assert shown(model) == ["SD-4", "SD-3", "SD-2", "SD-1"]
    model.sort(Column.NUMBER, Qt.SortOrder.DescendingOrder)
    assert shown(model) == ["SD-4", "SD-3", "SD-2", "SD-1"] and model.sort_column is None


def test_sorting_more_than_the_bound_is_refused_with_a_reason(
    model: QueueModel, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_model, "MAX_LOCAL_SORT_ROWS", 2)
    model.reset()
    model.page_loaded(1, TicketPage([ticket(3), ticket(2), ticket(1)], "c1"))
    with qtbot.waitSignal(model.sort_refused) as refused:
        model.sort(Column.WHO, Qt.SortOrder.AscendingOrder)
    assert "narrow the filter" in refused.args[0]
    assert model.sort_column is None


def test_persistent_indexes_survive_a_live_insert(model: QueueModel) -> None:
    model.reset()
    model.page_loaded(1, TicketPage([ticket(2), ticket(1)], None))
    kept = QPersistentModelIndex(model.index(1, 0))
    model.apply_ticket(ticket(3))
    assert kept.row() == 2 and kept.data() == "● SD-1"


# ---------------------------------------------------------------- system information tree
def test_the_tree_puts_flags_first_then_groups_in_their_order() -> None:
    flags = [Flag("battery_low", "warning", "On battery at 12 %, not plugged in", "battery")]
    snapshot = {
        "zz_custom": {"a": 1},
        "battery": {"present": True, "percent": 12.0},
        "memory": {"total": 8 * 2**30, "available": 2**30},
        "os": {"error": "timed out after 0.30 s"},
        "disks": [{"mount": "/", "free": 2**30}],
    }
    nodes = build_tree(snapshot, flags)
    assert [(n.key, n.value) for n in nodes] == [
        ("Flags", "1 found"),
        ("Operating system", "not collected: timed out after 0.30 s"),
        ("Memory", ""),
        ("Disks", "1 item"),
        ("Battery", ""),
        ("zz_custom", ""),
    ]
    assert nodes[0].children[0].severity == "warning"
    # Rows read in words, not keys.
    assert [(c.key, c.value) for c in nodes[2].children] == [("Total", "8.0 GB (8,589,934,592)"),
                                                             ("Available", "1.0 GB (1,073,741,824)")]  # fmt: skip
    assert nodes[3].children[0].key == "/"  # list items are named by what they are
    assert [(c.key, c.value) for c in nodes[4].children] == [("Present", "yes"), ("Charge", "12 %")]
    assert build_tree(None, [])[1].value == "not sent with this report"


def test_a_huge_group_is_cut_with_a_note() -> None:
    nodes = build_tree({"processes": {"by_cpu": [{"name": f"p{i}"} for i in range(MAX_CHILDREN + 7)]}}, [])
    rows = nodes[1].children[0].children
    assert len(rows) == MAX_CHILDREN + 1 and rows[-1].value == "7 more not shown"


# ---------------------------------------------------------------- settings and images
def test_tech_settings_are_checked_with_the_key_named() -> None:
    settings = TechSettings.from_table({"site": "HQ", "sound": True, "long_poll_seconds": 25}, read_timeout=10.0)
    assert settings.site == "HQ" and settings.sound and settings.long_poll_seconds == 5.0  # below the read timeout
    for table, key in (({"sound": "yes"}, "sound"), ({"poll_seconds": 0}, "poll_seconds"), ({"colour": 1}, "colour")):
        with pytest.raises(ConfigError, match=key):
            TechSettings.from_table(table)


@pytest.mark.parametrize("kind", ["PNG", "WEBP", "JPEG"])
def test_step_images_decode_with_a_thumbnail(qtbot: QtBot, kind: str) -> None:
    del qtbot
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 900), (10, 200, 30)).save(buffer, kind)
    image, thumbnail = decode_image(buffer.getvalue(), full=True)
    assert image is not None and (image.width(), image.height()) == (1600, 900)
    assert thumbnail.width() <= 200 and thumbnail.height() <= 120 and thumbnail.width() > 100
    none, small = decode_image(buffer.getvalue(), full=False)
    assert none is None and small.width() <= 200
    with pytest.raises(ValueError, match="could not be decoded"):
        decode_image(b"not an image at all", full=True)


def test_the_image_cache_keeps_the_newest_within_its_budget(qtbot: QtBot) -> None:
    del qtbot
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300)).save(buffer, "PNG")
    cache = ImageCache(budget=400 * 300 * 4 * 2)
    for name in ("a", "b", "c"):
        image, thumbnail = decode_image(buffer.getvalue(), full=True)
        cache.put(DecodedImage("t", name, image, thumbnail))
    assert cache.get("t", "a") is None and cache.get("t", "b") is not None and cache.get("t", "c") is not None
    assert cache.thumbnail("t", "a") is not None  # thumbnails are small and all kept


def test_read_state_file_is_json_a_person_can_read(tmp_path: Path) -> None:
    state = ReadState(tmp_path / "read.json", now=0.0)
    state.mark_read(ticket(1))
    state.save()
    data = json.loads((tmp_path / "read.json").read_text(encoding="utf-8"))
    assert data["seen"] == {"id-1": (NOW + timedelta(minutes=1)).timestamp()}


def test_painted_rows_show_only_their_own_look(model: QueueModel, qtbot: QtBot) -> None:
    """The view asks for all roles of a cell at once and reuses the slots: nothing may leak from cell to cell."""
    model.reset()
    model.page_loaded(1, TicketPage([ticket(2), ticket(1)], None))
    model.mark_read("id-1")  # row 1 read, row 0 unread
    model.set_flags("id-2", [Flag("no_default_route", "critical", "No default route", "network")])
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(1400, 200)
    view.show()
    qtbot.waitExposed(view)
    image = view.viewport().grab().toImage()

    def background(row: int) -> str:
        rect = view.visualRect(model.index(row, Column.STEPS))  # an empty cell: only its background
        return image.pixelColor(rect.center()).name()

    assert background(0) == queue_model.UNREAD_BACKGROUND
    assert background(1) != queue_model.UNREAD_BACKGROUND
