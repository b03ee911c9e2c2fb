"""What a walk-up's steps become in the outbox: the mark-up the person saved, never the original."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pytestqt.qtbot import QtBot

from agent.bundle import StepDraft
from agent.connectors.builtin import BuiltinConnector
from agent.markup import flatten, new_item
from agent.outbox import Outbox
from kiosk.session import KioskSession
from kiosk.submit import Submission
from shared_qt.workers import BackgroundRunner
from tests.fixtures.server import free_port
from tests.kiosk.conftest import site_settings
from tests.markup.helpers import gradient, png_bytes


def test_a_walk_up_sends_its_saved_flattening_and_never_the_unmarked_original(qtbot: QtBot, tmp_path: Path) -> None:
    # Nothing listens on this port, and no sender runs: the report stays in the outbox to be read.
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: _unreachable())
    runner = BackgroundRunner()
    submission = Submission(outbox, runner, patience_seconds=60.0)
    session = KioskSession(tmp_path / "session")
    session.identify_guest()
    session.choose_category("laptop")
    captured = png_bytes(gradient(240, 160))
    marked = session.add_step(StepDraft(captured, 240, 160, datetime(2024, 5, 1, tzinfo=UTC), caption="the error"))
    session.add_step(StepDraft(png_bytes(gradient(120, 80)), 120, 80, datetime(2024, 5, 1, tzinfo=UTC)))
    # An arrow alone would let the laptop app send the original; the kiosk never does.
    arrow = new_item("arrow", [(10, 10), (100, 80)])
    saved = flatten(captured, [arrow])
    session.apply_markup(marked.id, [arrow], saved)

    with qtbot.waitSignal(submission.progress, timeout=10_000):  # (0, 0): it is on disk
        submission.submit(session, site_settings())

    bundle = outbox.bundle(str(session.report_id))
    first, second = bundle.report.steps
    assert first.original is None and first.markup == [arrow] and first.caption == "the error"
    assert bundle.files[first.image.path] == saved.image_bytes
    assert second.original is None and second.markup == []
    assert all(path.startswith("steps/00") for path in bundle.files if path.startswith("steps/"))
    submission.close()
    runner.shutdown()


def _unreachable() -> BuiltinConnector:
    return BuiltinConnector(f"http://127.0.0.1:{free_port()}", token="none", connect_timeout=1.0)
