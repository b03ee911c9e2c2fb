"""Monitor layouts X servers here cannot show: negative coordinates, mixed scale, as mss reports them."""

from __future__ import annotations

from typing import Any

import pytest

from agent.capture import (
    CaptureError,
    MonitorInfo,
    Rect,
    monitors_from_mss,
    monitors_overlapping,
    plan_region,
)

# A Windows laptop (primary, at the origin) with a second screen to its left and higher up:
# mss lists the bounding box first, then each monitor, in physical pixels.
WINDOWS_LEFT_AND_ABOVE: list[dict[str, Any]] = [
    {"left": -2560, "top": -360, "width": 4480, "height": 1440},
    {"left": 0, "top": 0, "width": 1920, "height": 1080, "is_primary": True, "name": "Built-in Display"},
    {"left": -2560, "top": -360, "width": 2560, "height": 1440, "is_primary": False, "name": "DELL U2723QE"},
]
# A Mac with a Retina panel (2 pixels per point) and an external screen at 1x, in points.
MAC_MIXED_SCALE: list[dict[str, Any]] = [
    {"left": 0, "top": 0, "width": 3432, "height": 1440},
    {"left": 0, "top": 0, "width": 1512, "height": 982},
    {"left": 1512, "top": 0, "width": 1920, "height": 1440},
]


def test_monitors_keep_mss_order_names_and_primary() -> None:
    monitors = monitors_from_mss(WINDOWS_LEFT_AND_ABOVE)

    assert [m.index for m in monitors] == [0, 1, 2]
    assert monitors[0].rect == Rect(-2560, -360, 4480, 1440)
    assert monitors[1].name == "Built-in Display"
    assert monitors[1].primary
    assert monitors[2].rect == Rect(-2560, -360, 2560, 1440)
    assert monitors[2].to_schema().geometry.left == -2560


def test_monitor_name_falls_back_to_the_output_and_drops_control_characters() -> None:
    monitors = monitors_from_mss(
        [
            {"left": 0, "top": 0, "width": 100, "height": 100},
            {"left": 0, "top": 0, "width": 100, "height": 100, "output": "HDMI-1"},
            {"left": 0, "top": 0, "width": 100, "height": 100, "name": "Bad\x00Name\n"},
            {"left": 0, "top": 0, "width": 100, "height": 100},
        ]
    )

    assert [m.name for m in monitors[1:]] == ["HDMI-1", "BadName", None]
    assert monitors[2].to_schema().name == "BadName"


def test_region_on_a_monitor_left_of_the_origin() -> None:
    monitors = monitors_from_mss(WINDOWS_LEFT_AND_ABOVE)

    monitor, notes = plan_region(Rect(-2000, -300, 800, 600), monitors)

    assert monitor.index == 2
    assert notes == ()


def test_region_across_the_origin_spans_both_monitors() -> None:
    monitors = monitors_from_mss(WINDOWS_LEFT_AND_ABOVE)
    region = Rect(-100, 500, 200, 100)

    overlaps = monitors_overlapping(region, monitors)
    monitor, notes = plan_region(region, monitors)

    assert [(m.index, part) for m, part in overlaps] == [(1, Rect(0, 500, 100, 100)), (2, Rect(-100, 500, 100, 100))]
    assert monitor.index == 0
    assert monitor.rect == Rect(-2560, -360, 4480, 1440)
    assert notes == ("region spans monitors 1, 2",)


def test_region_in_the_dead_corner_of_an_uneven_layout() -> None:
    monitors = monitors_from_mss(WINDOWS_LEFT_AND_ABOVE)

    # Above the laptop panel, right of the external screen: inside the bounding box, on no monitor.
    with pytest.raises(CaptureError, match="lies on no monitor"):
        plan_region(Rect(100, -300, 200, 100), monitors)
    _, notes = plan_region(Rect(100, -100, 200, 200), monitors)
    assert notes == ("part of the region lies on no monitor and shows black",)


def test_region_outside_a_negative_desktop_names_its_bounds() -> None:
    monitors = monitors_from_mss(WINDOWS_LEFT_AND_ABOVE)

    with pytest.raises(CaptureError, match=r"4480x1440 at \(-2560, -360\)"):
        plan_region(Rect(-2600, 0, 100, 100), monitors)


def test_mixed_scale_region_records_the_larger_scale_and_says_so() -> None:
    monitors = monitors_from_mss(MAC_MIXED_SCALE, scales={1: 2.0, 2: 1.0})

    monitor, notes = plan_region(Rect(1400, 100, 300, 200), monitors)

    assert monitor.index == 0
    assert monitor.scale == 2.0
    assert "monitors of different scale (1, 2)" in notes
    single, single_notes = plan_region(Rect(10, 10, 100, 100), monitors)
    assert (single.index, single.scale, single_notes) == (1, 2.0, ())


def test_layout_without_monitors_is_a_clear_error() -> None:
    with pytest.raises(CaptureError, match="no monitors"):
        plan_region(Rect(0, 0, 10, 10), [])


def test_monitor_info_converts_to_the_report_schema() -> None:
    info = MonitorInfo(index=2, rect=Rect(-1280, 0, 1280, 1024), name="HDMI-1", scale=1.25)

    monitor = info.to_schema()

    assert (monitor.index, monitor.name, monitor.scale) == (2, "HDMI-1", 1.25)
    assert (monitor.geometry.left, monitor.geometry.width) == (-1280, 1280)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (Rect(0, 0, 10, 10), Rect(5, 5, 10, 10), Rect(5, 5, 5, 5)),
        (Rect(0, 0, 10, 10), Rect(10, 0, 10, 10), None),  # touching edges share no pixel
        (Rect(-10, -10, 5, 5), Rect(-8, -20, 2, 40), Rect(-8, -10, 2, 5)),
    ],
)
def test_rect_intersection(a: Rect, b: Rect, expected: Rect | None) -> None:
    assert a.intersection(b) == expected
    assert b.intersection(a) == expected


def test_monitor_facts_match_the_schema_model() -> None:
    from agent.capture import MonitorInfo, Rect

    monitor = MonitorInfo(index=2, rect=Rect(1920, -200, 1280, 1024), name="HDMI-1", scale=1.5)
    assert monitor.facts() == monitor.to_schema().model_dump(mode="json")
