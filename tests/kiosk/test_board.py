"""The queue board for a TV: live numbers and masked names from the real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
from pytestqt.qtbot import QtBot

from agent.bundle import build_bundle
from agent.connectors.builtin import BuiltinConnector
from agent.schema import Report, Reporter, Source
from kiosk.board import BoardWindow, fetch_board, masked, parse_board
from tests.fixtures.server import ServerProcess

SITE = "HQ Tech Bar"


def walk_up(connector: BuiltinConnector, name: str) -> str:
    report = Report(
        id=uuid.uuid4(),
        reporter=Reporter(name=name),
        category="Laptop",
        source=Source(kind="kiosk", id="hq-bar-1", site=SITE),
        walk_up=True,
    )
    return connector.submit(build_bundle(report)).number


@pytest.fixture
def kiosk_connector(server_process: ServerProcess) -> Iterator[BuiltinConnector]:
    connector = BuiltinConnector(server_process.url, token=server_process.token("submitter", site=SITE))
    yield connector
    connector.close()


def test_names_are_masked_whatever_the_server_sends() -> None:
    board = parse_board(
        {"site": SITE, "waiting": [{"number": "SD-1", "name": "Alice Baker"}, {"number": "SD-2", "name": None}],
         "serving": [{"number": "SD-0", "name": "Bob C."}], "estimated_wait_seconds": 300}
    )
    assert [(r.number, r.name) for r in board.waiting] == [("SD-1", "Alice B."), ("SD-2", "")]
    assert board.serving[0].name == "Bob C." and masked("Grace") == "Grace"
    with pytest.raises(ValueError, match="not a list"):
        parse_board({"waiting": "everyone"})


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
