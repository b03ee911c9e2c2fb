"""What is under the pointer: AT-SPI on a real accessibility bus with a real Qt app, and the fallbacks."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.pointer_target import BackgroundLookups, PointerTarget, default_finder
from agent.pointer_target.atspi import AtspiFinder
from agent.pointer_target.null import NullFinder
from agent.pointer_target.uia import UiaFinder
from tests.fixtures.xvfb import XvfbServer
from tests.steps.atspi_session import SaveAsApp, save_as_app


@pytest.fixture
def app(atspi_bus: str, xvfb_display: XvfbServer) -> Iterator[SaveAsApp]:
    with save_as_app(atspi_bus, xvfb_display.env, left=240, top=260) as running:
        yield running


@pytest.mark.xvfb
def test_atspi_names_the_button_its_role_and_its_window(atspi_bus: str, app: SaveAsApp) -> None:
    finder = AtspiFinder(atspi_bus)
    try:
        target = finder.target_at(*app.button_centre, budget_s=2.0)
        assert target == PointerTarget(name="OK", role="button", window_title="Save As")
        # Above the button lies the text field: its role, no name (Qt gives an unlabelled field none).
        x, y = app.button_centre
        field = finder.target_at(x, y - 50, budget_s=2.0)
        assert field is not None and field.role == "text field" and field.window_title == "Save As"
        assert finder.target_at(5, 5, budget_s=2.0) is None, "no window there"
    finally:
        finder.close()


@pytest.mark.xvfb
def test_background_lookups_answer_off_the_calling_thread(atspi_bus: str, app: SaveAsApp) -> None:
    lookups = BackgroundLookups(AtspiFinder(atspi_bus), budget_s=2.0)
    try:
        answer = lookups.request(*app.button_centre)
        assert answer.result(timeout=5) == PointerTarget("OK", "button", "Save As")
    finally:
        lookups.close()


@pytest.fixture
def silent_bus(tmp_path: Path) -> Iterator[str]:
    """A socket that takes connections and never answers: a hung bus."""
    path = tmp_path / "silent-bus"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(4)
    try:
        yield f"unix:path={path}"
    finally:
        server.close()


def test_a_bus_that_never_answers_costs_the_budget_only(silent_bus: str) -> None:
    finder = AtspiFinder(silent_bus)
    started = time.monotonic()
    assert finder.target_at(100, 100, budget_s=0.2) is None
    # Bounded, not timed: without the budget this call would never return.
    assert time.monotonic() - started < 5.0
    finder.close()


def test_a_lookup_that_waited_past_its_budget_asks_nothing() -> None:
    asked: list[tuple[int, int]] = []

    class Recording(NullFinder):
        @property
        def problem(self) -> str | None:
            return None

        def target_at(self, x: int, y: int, budget_s: float = 0.15) -> PointerTarget | None:
            asked.append((x, y))
            return PointerTarget(name="x")

    lookups = BackgroundLookups(Recording(), budget_s=0.0)
    assert lookups.request(1, 2).result(timeout=5) is None
    lookups.close()
    assert asked == []
    lookups = BackgroundLookups(Recording(), budget_s=5.0)
    assert lookups.request(3, 4).result(timeout=5) == PointerTarget(name="x")
    lookups.close()
    assert asked == [(3, 4)]


def test_each_platform_gets_its_backend_or_a_reason() -> None:
    if sys.platform.startswith("linux"):
        assert isinstance(default_finder({"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nowhere"}), AtspiFinder)
        nothing = default_finder({})
        assert isinstance(nothing, NullFinder) and "session bus" in (nothing.problem or "")
    uia = UiaFinder()
    assert uia.problem is not None and "not available on this platform" in uia.problem
    assert uia.target_at(1, 1) is None
    lookups = BackgroundLookups(NullFinder())
    assert lookups.request(1, 1).result(timeout=1) is None
    lookups.close()
