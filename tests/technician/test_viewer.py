"""The viewer against the real server: steps, flags from the system information, history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QSize, Qt
from pytestqt.qtbot import QtBot

from agent.bundle import StepDraft
from technician.model import Column
from technician.viewer import TAB_HISTORY
from tests.fixtures.server import ServerProcess
from tests.technician.conftest import (
    ReportSender,
    TechWindows,
    crafted_sysinfo,
    key_click,
    mouse_click,
    multi_monitor_steps,
    open_in_viewer,
    screen_png,
    wait_loaded,
)


def three_steps() -> list[StepDraft]:
    start = datetime.now(UTC)
    return [
        StepDraft(screen_png(640, 400, f"step {i}"), 640, 400, start + timedelta(seconds=30 * i), caption=caption)
        for i, caption in enumerate(("I open the invoice", "I press Print", "This error appears"), start=1)
    ]


def test_steps_in_order_with_filmstrip_keys_and_zoom(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    ticket = reporter.send(steps=three_steps())
    window = tech_windows(server_process)
    open_in_viewer(qtbot, window, ticket.id)
    viewer = window.viewer
    qtbot.waitUntil(lambda: viewer.shown_image_count == 1)
    assert viewer.filmstrip.count() == 3
    assert "Step 1 of 3" in viewer.caption.text() and "I open the invoice" in viewer.caption.text()
    image = viewer.image.tiles[0].image
    assert image is not None and (image.width(), image.height()) == (640, 400)

    window.queue_view.table.setFocus()
    key_click(qtbot, window.queue_view.table, Qt.Key.Key_Right)
    assert viewer.current_step == 1 and "I press Print" in viewer.caption.text()
    key_click(qtbot, window.queue_view.table, Qt.Key.Key_Right)
    key_click(qtbot, window.queue_view.table, Qt.Key.Key_Right)  # past the last step: stays there
    assert viewer.current_step == 2 and "This error appears" in viewer.caption.text()
    assert viewer.filmstrip.currentRow() == 2
    qtbot.waitUntil(lambda: viewer.shown_image_count == 1)
    qtbot.waitUntil(lambda: all(not viewer.filmstrip.item(i).icon().isNull() for i in range(3)))

    window.actions_by_name["zoom-actual"].trigger()
    assert viewer.image.zoom == 1.0 and not viewer.image.fitting
    window.actions_by_name["zoom-in"].trigger()
    assert viewer.image.zoom == 1.25
    window.actions_by_name["zoom-fit"].trigger()
    assert viewer.image.zoom < 1.25
    assert viewer.image.fitting


def test_monitors_of_one_capture_are_shown_where_they_stood(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    ticket = reporter.send(steps=multi_monitor_steps(2, (320, 180)))
    window = tech_windows(server_process)
    open_in_viewer(qtbot, window, ticket.id)
    viewer = window.viewer
    qtbot.waitUntil(lambda: viewer.shown_image_count == 2)
    assert viewer.arranged.isVisibleTo(window)
    placements = [(t.placement.left, t.placement.top, t.current) for t in viewer.image.tiles]
    assert placements == [(0, 0, True), (320, 0, False)]
    assert "monitor 1 “DP-1”" in viewer.caption.text()

    viewer.next_step()
    assert [t.current for t in viewer.image.tiles] == [False, True]
    assert "monitor 2" in viewer.caption.text()
    viewer.arranged.setChecked(False)
    assert len(viewer.image.tiles) == 1 and viewer.image.tiles[0].placement.step_index == 1


def test_flags_from_a_crafted_snapshot_are_computed_and_shown_first(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    snapshot = crafted_sysinfo(
        disks=[{"mount": "/home", "filesystem": "ext4", "read_only": False, "total": 500 * 2**30,
                "used": 485 * 2**30, "free": 15 * 2**30, "percent": 97.0}],
        network={"default_route_known": True, "default_routes": []},
        battery={"present": True, "plugged_in": False, "percent": 12.0},
    )  # fmt: skip
    sick = reporter.send(sysinfo=snapshot, source_id="lt-sick")
    healthy = reporter.send(sysinfo=crafted_sysinfo(), source_id="pc-fine")
    window = tech_windows(server_process)
    model = window.session.model

    # The queue computes flags for the rows on screen, by itself.
    sick_row = model.row_of(sick.id)
    healthy_row = model.row_of(healthy.id)
    assert sick_row is not None and healthy_row is not None
    qtbot.waitUntil(lambda: model.index(sick_row, Column.FLAGS).data() not in ("…", ""), timeout=10_000)
    assert model.index(sick_row, Column.FLAGS).data() == "no default route +2"
    tooltip = model.index(sick_row, Column.FLAGS).data(Qt.ItemDataRole.ToolTipRole)
    assert "/home is 97 % full" in tooltip and "12 %" in tooltip
    qtbot.waitUntil(lambda: model.index(healthy_row, Column.FLAGS).data() == "", timeout=10_000)

    open_in_viewer(qtbot, window, sick.id)
    viewer = window.viewer
    strip = viewer.flags_strip.text()
    assert viewer.flags_strip.isVisibleTo(window)
    assert strip.index("No default route") < strip.index("/home is 97 % full")  # critical before warning
    assert "On battery at 12 %" in strip
    rows = viewer.tree_rows()
    assert rows[0] == ("Flags", "3 found")
    flags_item = viewer.tree.topLevelItem(0)
    assert flags_item is not None and flags_item.isExpanded()
    assert [flags_item.child(i).text(0) for i in range(3)] == ["critical", "warning", "warning"]  # type: ignore[union-attr]
    assert [name for name, _value in rows[1:4]] == ["Operating system", "Memory", "Disks"]
    expanded = {
        item.text(0)
        for i in range(viewer.tree.topLevelItemCount())
        if (item := viewer.tree.topLevelItem(i)) is not None and item.isExpanded()
    }
    assert expanded == {"Flags", "Disks", "Network", "Battery"}  # where each flag comes from, opened

    viewer.system_search.setText("route_known")  # searchable: only the way to the match stays
    assert [name for name, _value in viewer.tree_rows()] == ["Network"]
    viewer.system_search.setText("")
    assert len(viewer.tree_rows()) == len(rows)

    open_in_viewer(qtbot, window, healthy.id)
    assert "No flags" in viewer.flags_strip.text()
    assert viewer.tree_rows()[0] == ("Flags", "none")


def test_history_lists_the_earlier_ticket_of_the_same_machine_one_click_away(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    earlier = reporter.send(source_id="pc-42", name="Grace Hopper", email="grace@example.org", category="Hardware",
                            description="The dock stops charging")  # fmt: skip
    reporter.send(source_id="pc-7", name="Alan Turing", email="alan@example.org", description="Unrelated")
    latest = reporter.send(source_id="pc-42", name="Katherine Johnson", email="kj@example.org",
                           description="The dock again")  # fmt: skip
    window = tech_windows(server_process)
    open_in_viewer(qtbot, window, latest.id)
    viewer = window.viewer
    qtbot.waitUntil(lambda: viewer.history.count() > 0, timeout=10_000)
    assert viewer.history_ids() == [earlier.id]
    assert "same machine" in viewer.history.item(0).text()
    assert viewer.tabs.tabText(TAB_HISTORY) == "History (1)"

    window.actions_by_name["show-history"].trigger()
    assert viewer.tabs.currentIndex() == TAB_HISTORY
    rect = viewer.history.visualItemRect(viewer.history.item(0))
    mouse_click(qtbot, viewer.history.viewport(), pos=rect.center())
    qtbot.waitUntil(lambda: viewer.info is not None and viewer.info.summary.id == earlier.id, timeout=10_000)
    assert window.queue_view.selected_ticket_id() == earlier.id
    assert "Grace Hopper" in viewer.meta.text()


# ---------------------------------------------------------------- pictures at display size, decoding bounded
def test_a_large_step_is_shown_at_display_size_then_sharp_when_zoomed_in(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    big = StepDraft(screen_png(2400, 1500, "a wide screen"), 2400, 1500, datetime.now(UTC), caption="wide")
    ticket = reporter.send(steps=[big, *three_steps()[:1]])
    window = tech_windows(server_process)
    window.session.tickets.display = QSize(1200, 900)
    open_in_viewer(qtbot, window, ticket.id)
    viewer = window.viewer
    qtbot.waitUntil(lambda: viewer.shown_image_count == 1)
    shown = viewer.image.tiles[0].image
    assert shown is not None and (shown.width(), shown.height()) == (1200, 750)  # fits, keeps the aspect
    # The full-size picture follows for zooming in; fitted, the display copy is what is painted.
    qtbot.waitUntil(lambda: viewer.image.tiles[0].full is not None, timeout=20_000)
    full = viewer.image.tiles[0].full
    assert full is not None and (full.width(), full.height()) == (2400, 1500)
    [(item, _tile)] = viewer.image._pictures
    assert item.pixmap().width() == 1200
    viewer.zoom("zoom-actual")
    assert item.pixmap().width() == 2400
    # Thumbnails come downscaled from their decoder (the second step's only after the picture).
    images = window.session.images
    qtbot.waitUntil(lambda: images.thumbnail(ticket.id, viewer.steps[1].image.path) is not None, timeout=20_000)
    for step in viewer.steps:
        thumbnail = images.thumbnail(ticket.id, step.image.path)
        assert thumbnail is not None and thumbnail.width() <= 200 and thumbnail.height() <= 120


def test_work_for_a_ticket_left_behind_is_dropped(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    import threading

    first = reporter.send(steps=three_steps())
    second = reporter.send(steps=three_steps())
    window = tech_windows(server_process)
    wait_loaded(qtbot, window)
    loader = window.session.tickets
    gate, started = threading.Event(), threading.Event()

    # The lane is busy: what follows waits for its turn, as when the person clicks on quickly.
    def busy() -> bool:
        started.set()
        return gate.wait(10)

    loader.lane.run(busy, lambda _r: None, lambda _e: None)
    qtbot.waitUntil(started.is_set)
    loader.open_ticket(first.id)
    later_steps = ["steps/002.png", "steps/003.png"]
    for path in later_steps:
        loader.load_image(first.id, path, full=False)
    loaded: list[str] = []
    loader.ticket_loaded.connect(lambda info: loaded.append(info.summary.id))
    failures: list[str] = []
    loader.image_failed.connect(lambda _t, path, why: failures.append(f"{path}: {why}"))
    loader.open_ticket(second.id)  # the person moved on
    gate.set()
    qtbot.waitUntil(lambda: window.viewer.shown_image_count == 1, timeout=20_000)
    qtbot.waitUntil(lambda: not loader.decoding, timeout=20_000)
    assert loaded == [second.id]  # the first ticket was never fetched
    assert all(loader.images.thumbnail(first.id, path) is None for path in later_steps)
    assert all(loader.images.thumbnail(second.id, path) is not None for path in later_steps)
    assert failures == []  # dropped work is not a failure to show


def test_the_lane_runs_the_most_urgent_first_drops_what_is_no_longer_wanted_and_stays_bounded(qtbot: QtBot) -> None:
    import threading

    from technician.workers import JobDroppedError, PriorityLane

    lane = PriorityLane("test-lane", max_pending=3)
    gate, started = threading.Event(), threading.Event()
    ran: list[str] = []
    outcomes: dict[str, str] = {}

    def job(name: str) -> Callable[[], str]:
        def run() -> str:
            if name == "blocker":
                started.set()
                gate.wait(10)
            ran.append(name)
            return name

        return run

    def submit(name: str, priority: int, *, wanted: bool = True, newest_first: bool = False) -> None:
        lane.run(
            job(name),
            lambda result: outcomes.__setitem__(result, "done"),
            lambda error: outcomes.__setitem__(name, "dropped" if isinstance(error, JobDroppedError) else str(error)),
            priority=priority,
            newest_first=newest_first,
            wanted=lambda: wanted,
        )

    submit("blocker", 0)
    qtbot.waitUntil(started.is_set)  # the lane's one thread is busy: what follows waits
    submit("thumbnail", 0)
    submit("old picture", 8, newest_first=True)
    submit("new picture", 8, newest_first=True)
    submit("left behind", 10, wanted=False)  # the fourth waiting job: the least urgent is pushed out
    gate.set()
    qtbot.waitUntil(lambda: not lane.busy, timeout=10_000)
    assert ran == ["blocker", "new picture", "old picture"]
    assert outcomes == {
        "blocker": "done",
        "new picture": "done",
        "old picture": "done",
        "thumbnail": "dropped",
        "left behind": "dropped",
    }
    lane.stop()


def test_an_image_beyond_the_pixel_bound_is_refused_before_decoding(qtbot: QtBot) -> None:
    import io

    import pytest
    from PIL import Image

    from agent.report_format import MAX_IMAGE_PIXELS
    from technician.step_images import decode_image

    side = int(MAX_IMAGE_PIXELS**0.5) + 10
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, "PNG")
    with pytest.raises(ValueError, match="more than a report may hold"):
        decode_image(buffer.getvalue(), full=True)
