"""The agent's warm system information for `showdesk capture`: used while fresh, never when stale.

A snapshot is fresh while its collection started at most ``max_age`` seconds ago (a clock the
tests drive), with the same options and the same monitors. The capture recipe is the core's
(``agent.cli.capture_bundle``) with a real capturer on the session's Xvfb; the hand-off runs a
real `showdesk` process against an agent in this process.
"""

# The shared fixtures of the hand-off tests are imported by name, which ruff reads as redefinitions.
# ruff: noqa: F811
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from agent.bundle import ReportBundle
from agent.capture import Capturer
from agent.cli import CaptureRequest, capture_bundle, capture_sysinfo_options
from agent.config import load_config
from agent.laptop.agent_app import HANDOFF_SYSINFO_MAX_AGE_SECONDS, AgentApp
from agent.sysinfo.collect import SnapshotCache, SysinfoOptions, collect
from tests.fixtures.xvfb import XvfbServer
from tests.laptop.test_capture_handoff import (  # noqa: F401 - fixtures
    listening_agent,
    run_capture,
    runtime,
    screen,
)

pytestmark = pytest.mark.xvfb

MAX_AGE = 10.0
OPTIONS = SysinfoOptions(exclude=("processes", "connectivity", "disks"))
MONITORS: list[dict[str, object]] = [{"index": 1, "geometry": {"left": 0, "top": 0, "width": 640, "height": 480}}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def marked(snapshot: dict[str, object], mark: str) -> dict[str, object]:
    """The snapshot with a mark in its showdesk group, to tell later which one a bundle holds."""
    showdesk = snapshot["showdesk"]
    assert isinstance(showdesk, dict)
    showdesk["collected_at"] = mark
    return snapshot


def mark_of(sysinfo: dict[str, Any] | None) -> object:
    assert sysinfo is not None
    return sysinfo["showdesk"]["collected_at"]


def test_a_snapshot_is_fresh_up_to_its_bound_and_stale_after(clock: Clock) -> None:
    cache = SnapshotCache(MAX_AGE, clock=clock)
    assert cache.fresh(OPTIONS, MONITORS) is None
    snapshot = marked(collect(OPTIONS), "warm")
    cache.put(OPTIONS, MONITORS, snapshot, clock.now)
    clock.now += MAX_AGE
    assert mark_of(cache.fresh(OPTIONS, MONITORS)) == "warm"
    clock.now += 0.001
    assert cache.fresh(OPTIONS, MONITORS) is None


def test_a_snapshot_serves_only_the_same_options_and_monitors(clock: Clock) -> None:
    cache = SnapshotCache(MAX_AGE, clock=clock)
    cache.put(OPTIONS, MONITORS, marked(collect(OPTIONS), "warm"), clock.now)
    other_monitors = [{**MONITORS[0], "geometry": {"left": 0, "top": 0, "width": 1920, "height": 1080}}]
    assert cache.fresh(OPTIONS, other_monitors) is None
    assert cache.fresh(SysinfoOptions(exclude=("processes",)), MONITORS) is None
    assert cache.fresh(SysinfoOptions(exclude=OPTIONS.exclude, backend_url="http://127.0.0.1:9"), MONITORS) is None
    assert mark_of(cache.fresh(OPTIONS, MONITORS)) == "warm"


def test_a_copy_is_handed_out_and_an_older_collection_does_not_replace_a_newer(clock: Clock) -> None:
    cache = SnapshotCache(MAX_AGE, clock=clock)
    cache.put(OPTIONS, MONITORS, marked(collect(OPTIONS), "newer"), clock.now)
    handed = cache.fresh(OPTIONS, MONITORS)
    assert handed is not None
    marked(handed, "changed by a caller")
    cache.put(OPTIONS, MONITORS, marked(collect(OPTIONS), "older"), clock.now - 1)
    assert mark_of(cache.fresh(OPTIONS, MONITORS)) == "newer"


def test_the_capture_recipe_uses_a_fresh_snapshot_and_collects_past_the_bound(screen: XvfbServer, clock: Clock) -> None:
    config = load_config()
    request = CaptureRequest(description="Printer offline")
    options = capture_sysinfo_options(config, request)
    assert options is not None
    cache = SnapshotCache(MAX_AGE, clock=clock)
    with Capturer(screen.display) as capturer:
        facts = [m.facts() for m in capturer.monitors()[1:]]
        cache.put(options, facts, marked(collect(options), "warm"), clock.now)

        def capture() -> ReportBundle:
            bundle, _ = capture_bundle(request, config, lambda: contextlib.nullcontext(capturer), warm=cache)
            return ReportBundle.from_bytes(bundle.data)

        clock.now += MAX_AGE - 1
        assert mark_of(capture().sysinfo) == "warm"
        clock.now += 2  # now past the bound: collected beside the capture, and kept
        collected = capture().sysinfo
        assert mark_of(collected) != "warm"
        assert cache.age() == 0
        assert cache.fresh(options, facts) == collected


def test_a_capture_without_system_information_neither_uses_nor_fills_the_cache(
    screen: XvfbServer, clock: Clock
) -> None:
    cache = SnapshotCache(MAX_AGE, clock=clock)
    with Capturer(screen.display) as capturer:
        bundle, _ = capture_bundle(
            CaptureRequest(sysinfo=False), load_config(), lambda: contextlib.nullcontext(capturer), warm=cache
        )
    assert ReportBundle.from_bytes(bundle.data).sysinfo is None
    assert cache.age() is None


def test_the_agent_hands_the_command_line_its_warm_snapshot_and_a_new_one_when_stale(
    listening_agent: AgentApp, screen: XvfbServer, tmp_path: Path, qtbot: QtBot, clock: Clock
) -> None:
    cache = SnapshotCache(HANDOFF_SYSINFO_MAX_AGE_SECONDS, clock=clock)
    listening_agent.handoff_sysinfo = cache

    def capture(name: str) -> dict[str, Any]:
        run_capture(qtbot, screen, "-o", str(tmp_path / name))
        listening_agent.wait_sysinfo_refresh()
        sysinfo = ReportBundle.read(tmp_path / name).sysinfo
        assert sysinfo is not None
        return sysinfo

    first = capture("first.showdesk")  # nothing warm yet: collected beside the capture, and kept
    clock.now += HANDOFF_SYSINFO_MAX_AGE_SECONDS / 4
    assert capture("second.showdesk") == first
    clock.now += HANDOFF_SYSINFO_MAX_AGE_SECONDS
    third = capture("third.showdesk")
    assert third != first
    assert cache.age() == 0


def test_after_a_hand_off_the_agent_refreshes_a_snapshot_past_half_its_age(
    listening_agent: AgentApp, screen: XvfbServer, tmp_path: Path, qtbot: QtBot, clock: Clock
) -> None:
    cache = SnapshotCache(HANDOFF_SYSINFO_MAX_AGE_SECONDS, clock=clock)
    listening_agent.handoff_sysinfo = cache
    run_capture(qtbot, screen, "-o", str(tmp_path / "first.showdesk"))
    listening_agent.wait_sysinfo_refresh()
    clock.now += HANDOFF_SYSINFO_MAX_AGE_SECONDS * 0.75
    run_capture(qtbot, screen, "-o", str(tmp_path / "second.showdesk"))  # the warm one, getting old
    assert (
        ReportBundle.read(tmp_path / "second.showdesk").sysinfo
        == ReportBundle.read(tmp_path / "first.showdesk").sysinfo
    )
    qtbot.waitUntil(lambda: cache.age() == 0, timeout=10_000)  # refreshed in the background
