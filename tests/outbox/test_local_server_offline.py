"""A cleanly stopped built-in server on this machine: an outage the outbox rides out, not a sign-in problem.

The real server process on 127.0.0.1 hands its token over through its hand-over file in the
test's runtime directory (tests/conftest.py), as on a kiosk or a laptop with the local
setup. A clean stop (SIGTERM) removes that file; the report must wait as pending with a
reason that says the server is not running, and go within seconds of the server's return.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.config import BackendConfig
from agent.connectors import builtin
from agent.connectors.base import Connector
from agent.outbox import (
    EntryState,
    Outbox,
    OutboxEntry,
    OutboxObserver,
    Sender,
    waits_for_local_server,
)
from tests.fixtures.server import ServerProcess
from tests.fixtures.waiting import wait_until as wait_for_condition
from tests.outbox.helpers import FakeClock, make_bundle

NOT_RUNNING = (
    "the help desk server on this machine is not running; your report is kept and will be sent when it is back"
)
WAIT_SECONDS = 20.0  # a generous bound on a busy machine; the watch itself looks every 0.5 s


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> float:
    return wait_for_condition(condition, what, timeout)


def local_connector_for(url: str) -> Callable[[str], Connector]:
    """The connector the configuration makes: its token looked up at each call (keyring, then hand-over file)."""
    backend = BackendConfig(name="default", type="builtin", url=url, connect_timeout=2.0, read_timeout=30.0)
    return lambda _name: builtin.create(backend)


class Events(OutboxObserver):
    def __init__(self) -> None:
        self.names: list[str] = []

    def paused(self, entry: OutboxEntry, reason: str) -> None:
        self.names.append("paused")

    def failed(self, entry: OutboxEntry, reason: str, next_attempt_at: float) -> None:
        self.names.append("failed")


@pytest.fixture(autouse=True)
def _no_script_token(monkeypatch: pytest.MonkeyPatch) -> None:
    # The hand-over file must be the only token source, as on a machine set up by scripts/run.
    monkeypatch.delenv("SHOWDESK_TOKEN", raising=False)


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "server-data")
    try:
        yield server
    finally:
        server.stop()


def test_a_report_sent_while_the_local_server_is_stopped_waits_pending_and_goes_when_it_is_back(
    local_server: ServerProcess, tmp_path: Path
) -> None:
    server = local_server.start()
    clock = FakeClock()  # never moves: only the server's return can make the sender try again
    outbox = Outbox(tmp_path / "outbox", connector_for=local_connector_for(server.url), clock=clock)
    events = Events()
    outbox.add_observer(events)
    # While it runs, its hand-over token carries the report.
    outbox.put(make_bundle(1))
    assert len(outbox.flush().delivered) == 1

    assert server.stop() == 0
    assert not server.handover_path.exists()  # the clean stop took the token with it
    sender = Sender(outbox)
    sender.start()
    try:
        report_id = outbox.put(make_bundle(2)).id
        wait_until(lambda: outbox.get(report_id).attempts >= 1, "the first try")
        entry = outbox.get(report_id)
        assert entry.state is EntryState.PENDING
        assert entry.last_error == NOT_RUNNING
        assert entry.next_attempt_at > clock.now  # the normal backoff, not a pause
        assert waits_for_local_server(entry)
        assert events.names == ["failed"]

        server.start()  # same port, same data directory: it writes a fresh hand-over file
        back_at = time.monotonic()
        delivered_at = wait_until(lambda: outbox.receipt(report_id) is not None, "delivery after the return")
    finally:
        assert sender.stop()
        outbox.close()
    print(f"delivered {delivered_at - back_at:.2f} s after the local server was back")
    assert outbox.list() == []
    assert "paused" not in events.names


def test_a_local_server_listening_without_a_hand_over_file_is_a_sign_in_problem_until_the_file_appears(
    local_server: ServerProcess, tmp_path: Path
) -> None:
    local_server.extra_args = ["--no-handover"]
    server = local_server.start()
    clock = FakeClock()
    outbox = Outbox(tmp_path / "outbox", connector_for=local_connector_for(server.url), clock=clock)
    sender = Sender(outbox)
    sender.start()
    try:
        report_id = outbox.put(make_bundle(3)).id
        wait_until(lambda: outbox.get(report_id).attempts >= 1, "the first try")
        entry = outbox.get(report_id)
        assert entry.state is EntryState.PAUSED
        assert entry.last_error is not None and "showdesk login" in entry.last_error
        assert not waits_for_local_server(entry)

        # A server still starting writes its file just after it listens: the pause ends with it.
        server.stop()
        server.extra_args = []
        server.start()
        wait_until(lambda: outbox.receipt(report_id) is not None, "delivery once the hand-over file is there")
    finally:
        assert sender.stop()
        outbox.close()


def test_a_stopped_local_server_is_told_apart_from_a_missing_sign_in(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outbox = Outbox(tmp_path / "outbox", connector_for=local_connector_for(f"http://127.0.0.1:{port}"))
    report_id = outbox.put(make_bundle(4)).id

    [attempt] = outbox.flush().attempts

    assert (attempt.state, attempt.reason) == ("pending", NOT_RUNNING)
    assert outbox.get(report_id).state is EntryState.PENDING
