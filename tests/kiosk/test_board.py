"""The queue board for a TV: live numbers and masked names from the real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from pytestqt.qtbot import QtBot

from agent.bundle import build_bundle
from agent.config import load_config
from agent.connectors import AuthError, make_connector
from agent.connectors.builtin import BuiltinConnector
from agent.schema import BoardEntry, QueueBoard, Report, Reporter, Source
from kiosk.board import BoardReader, BoardWindow, fetch_board, masked
from kiosk.cli import board_reader
from kiosk.settings import KioskSettings
from tests.fixtures.server import ServerProcess

SITE = "HQ Tech Bar"


def walk_up(connector: BuiltinConnector, name: str, site: str = SITE) -> str:
    report = Report(
        id=uuid.uuid4(),
        reporter=Reporter(name=name),
        category="Laptop",
        source=Source(kind="kiosk", id="hq-bar-1", site=site),
        walk_up=True,
    )
    return connector.submit(build_bundle(report)).number


@pytest.fixture
def kiosk_connector(server_process: ServerProcess) -> Iterator[BuiltinConnector]:
    connector = BuiltinConnector(server_process.url, token=server_process.token("submitter", site=SITE))
    yield connector
    connector.close()


def entry(number: str, name: str | None, position: int) -> BoardEntry:
    return BoardEntry(
        number=number, name=name, position=position, state="waiting" if position else "called",
        waiting_since=datetime(2024, 5, 1, 12, 0, tzinfo=UTC), called_at=None, called_by=None,
        estimated_wait_seconds=60.0 * position, ticket_id=f"id-{number}",
    )  # fmt: skip


def test_names_are_masked_whatever_the_server_sends(qtbot: QtBot) -> None:
    # A technician's token sees full names; the board still shows only "Alice B.".
    sent = QueueBoard(
        site=SITE, waiting=[entry("SD-1", "Alice Baker", 1), entry("SD-2", None, 2)],
        serving=[entry("SD-0", "Bob C.", 0)], mean_service_seconds=300.0, service_history=3,
        estimated_wait_seconds=300.0,
    )  # fmt: skip
    board = BoardWindow(SITE, lambda: sent, refresh_ms=60_000)
    qtbot.addWidget(board)
    board.start()
    qtbot.waitUntil(lambda: board.board is not None, timeout=10_000)
    assert [(n.text(), m.text()) for n, m in board.waiting_cells[:2]] == [("SD-1", "Alice B."), ("SD-2", "")]
    assert board.serving_cells[0][1].text() == "Bob C." and masked("Grace") == "Grace"
    assert board.wait_label.text() == "Joining now: about 5 minute(s)."
    board.shutdown()


def test_the_board_follows_the_queue_live(
    qtbot: QtBot, server_process: ServerProcess, kiosk_connector: BuiltinConnector
) -> None:
    first = walk_up(kiosk_connector, "Ada Lovelace")
    second = walk_up(kiosk_connector, "Grace Hopper")
    board = BoardWindow(SITE, lambda: fetch_board(kiosk_connector, SITE), refresh_ms=200)
    qtbot.addWidget(board)
    board.resize(1920, 1080)
    board.show()
    board.start()

    def shown(cells: list[tuple[object, object]]) -> list[tuple[str, str]]:
        return [(n.text(), m.text()) for n, m in cells if n.isVisible()]  # type: ignore[attr-defined]

    qtbot.waitUntil(lambda: shown(board.waiting_cells) == [(first, "Ada L."), (second, "Grace H.")], timeout=10_000)
    assert shown(board.serving_cells) == []
    assert board.wait_label.text().startswith("Joining now")

    technician = server_process.token("technician")
    answer = requests.post(
        f"{server_process.url}/api/v1/queue/{SITE}/next", headers=server_process.auth(technician), timeout=10
    )
    answer.raise_for_status()
    qtbot.waitUntil(lambda: shown(board.serving_cells) == [(first, "Ada L.")], timeout=10_000)
    assert shown(board.waiting_cells) == [(second, "Grace H.")]

    server_process.stop()
    qtbot.waitUntil(lambda: not board.reachable, timeout=15_000)
    assert board.status_label.text() == "The queue cannot be updated right now."
    assert shown(board.waiting_cells) == [(second, "Grace H.")]  # the last good answer stays
    board.shutdown()


def test_out_of_the_box_the_local_board_shows_what_the_kiosk_promised(
    qtbot: QtBot, server_process: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As scripts/run has it: no configuration, no stored token, only the local server's hand-over file.
    monkeypatch.setenv("SHOWDESK_URL", server_process.url)
    settings = KioskSettings()
    backend = load_config().backend(None)
    with make_connector(backend) as kiosk:
        assert isinstance(kiosk, BuiltinConnector)
        number = walk_up(kiosk, "Ada Lovelace", site=settings.site)
    reader = board_reader(settings.site, backend)
    board = BoardWindow(settings.site, reader, refresh_ms=60_000)
    qtbot.addWidget(board)
    board.start()
    qtbot.waitUntil(lambda: board.board is not None or not board.reachable, timeout=10_000)
    assert board.reachable, board.status_label.text()
    assert [(n.text(), m.text()) for n, m in board.waiting_cells[:1]] == [(number, "Ada L.")]
    assert reader.role == "technician"  # the hand-over submitter token belongs to no site
    board.shutdown()
    reader.close()


def test_away_from_this_machine_a_refused_board_stays_refused(server_process: ServerProcess) -> None:
    other_site = BuiltinConnector(server_process.url, token=server_process.token("submitter", site="Elsewhere"))
    reader = BoardReader(SITE, other_site)  # no technician stand-in: not the local setup
    with pytest.raises(AuthError) as refused:
        reader()
    assert refused.value.status == 403 and reader.role == "submitter"
    reader.close()


def test_a_notification_queue_that_cannot_be_written_costs_the_alert_not_the_board(qtbot: QtBot) -> None:
    sent = QueueBoard(
        site=SITE, waiting=[entry("SD-1", "Alice Baker", 1)], serving=[], mean_service_seconds=300.0,
        service_history=3, estimated_wait_seconds=300.0,
    )  # fmt: skip
    told: list[tuple[QueueBoard, datetime]] = []

    class FullDisk:
        def observe_board(self, board: QueueBoard, now: datetime) -> object:
            told.append((board, now))
            raise OSError(28, "No space left on device")

    moment = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    board = BoardWindow(SITE, lambda: sent, refresh_ms=60_000, observer=FullDisk(), clock=lambda: moment)
    qtbot.addWidget(board)
    board.start()
    qtbot.waitUntil(lambda: board.board is not None, timeout=10_000)
    assert told == [(sent, moment)]  # the queue the board read, at the board's time
    assert board.reachable and board.status_label.text() == ""
    assert [(n.text(), m.text()) for n, m in board.waiting_cells[:1]] == [("SD-1", "Alice B.")]
    board.shutdown()
