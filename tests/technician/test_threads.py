"""Technician mode's own threads (the changes feed, the opening lane) end without deleting Qt objects on them.

A thread's last references go on that thread when it ends. The feed's relay, owned by Python,
was deleted there while the GUI thread deleted the feed it was connected to: both destructors
walked the one connection and the process died in Qt's event loop now and then. These tests
put the thread's end after its owner's deletion, every time, and look at where the relay dies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QObject, Qt
from pytestqt.qtbot import QtBot

from agent.connectors.builtin import BuiltinConnector
from agent.read_models import ChangePage
from technician.client import TechClient
from technician.workers import FEED_THREAD, ChangeFeed, PriorityLane, ThreadState, running_threads
from tests.fixtures.server import ServerProcess
from tests.fixtures.waiting import wait_until

GATE_SECONDS = 10.0
# A feed an earlier test stopped may still finish its long poll (3 s in the tests' settings).
EARLIER_THREADS_SECONDS = 15.0


@pytest.fixture(autouse=True)
def no_earlier_threads() -> None:
    """These tests count technician threads: none of an earlier test's is still finishing."""
    wait_until(lambda: running_threads() == [], "earlier tests' technician threads ending", EARLIER_THREADS_SECONDS)


class HeldFeedClient(TechClient):
    """A real client on the server whose changes call waits until the test lets it through."""

    def __init__(self, server: ServerProcess) -> None:
        token = server.token("technician")
        super().__init__(lambda: BuiltinConnector(server.url, token=token, connect_timeout=2.0))
        self.polling = threading.Event()
        self.release = threading.Event()

    def changes(self, after: int, wait: float = 0.0, limit: int = 500) -> ChangePage:
        self.polling.set()
        self.release.wait(GATE_SECONDS)
        return super().changes(after, wait=0.0, limit=limit)


@pytest.fixture
def held_client(server_process: ServerProcess) -> Iterator[HeldFeedClient]:
    client = HeldFeedClient(server_process)
    yield client
    client.release.set()
    client.close()


def record_destruction(relay: QObject) -> list[int]:
    """The thread ids ``relay`` is destroyed on (called there, inside its destructor)."""
    threads: list[int] = []
    relay.destroyed.connect(lambda: threads.append(threading.get_ident()), Qt.ConnectionType.DirectConnection)
    return threads


def delete_and_wait(qtbot: QtBot, obj: QObject) -> None:
    gone = threading.Event()
    obj.destroyed.connect(gone.set)
    obj.deleteLater()
    qtbot.waitUntil(gone.is_set, timeout=5000)


def relay_of(owner: ChangeFeed | PriorityLane) -> QObject:
    loop = owner._loop  # the one Qt object the thread holds, looked at from outside
    assert loop is not None
    return loop.relay


def test_a_feed_deleted_while_its_thread_polls_has_its_relay_deleted_on_the_gui_thread(
    qtbot: QtBot, held_client: HeldFeedClient
) -> None:
    owner = QObject()
    feed = ChangeFeed(held_client, 0, wait_seconds=1.0, parent=owner)
    feed.start()
    qtbot.waitUntil(held_client.polling.is_set, timeout=5000)
    destroyed_on = record_destruction(relay_of(feed))
    feed.stop()
    delete_and_wait(qtbot, feed)  # as the live follower does when the token is refused
    del feed

    held_client.release.set()  # the thread's poll ends after its feed is gone, and so does the thread
    qtbot.waitUntil(lambda: bool(destroyed_on), timeout=10_000)
    assert destroyed_on == [threading.get_ident()]
    assert running_threads() == []


def test_a_feed_deleted_without_being_stopped_stops_its_thread(qtbot: QtBot, held_client: HeldFeedClient) -> None:
    feed = ChangeFeed(held_client, 0, wait_seconds=1.0)
    feed.start()
    qtbot.waitUntil(held_client.polling.is_set, timeout=5000)
    assert running_threads() == [ThreadState(FEED_THREAD, stopping=False)]
    delete_and_wait(qtbot, feed)
    assert running_threads() == [ThreadState(FEED_THREAD, stopping=True)]
    held_client.release.set()
    qtbot.waitUntil(lambda: running_threads() == [], timeout=10_000)


def blocking_job(started: threading.Event, gate: threading.Event) -> Callable[[], bool]:
    def run() -> bool:
        started.set()
        return gate.wait(GATE_SECONDS)

    return run


def test_a_lane_whose_owner_goes_while_a_job_runs_has_its_relay_deleted_on_the_gui_thread(qtbot: QtBot) -> None:
    owner = QObject()
    lane = PriorityLane("test-lane", parent=owner)
    started, gate = threading.Event(), threading.Event()
    results: list[object] = []
    lane.run(blocking_job(started, gate), results.append, results.append)
    qtbot.waitUntil(started.is_set, timeout=5000)
    destroyed_on = record_destruction(relay_of(lane))
    lane.stop()
    del lane
    delete_and_wait(qtbot, owner)  # the window (and the lane in it) goes while a picture decodes

    gate.set()
    qtbot.waitUntil(lambda: bool(destroyed_on), timeout=10_000)
    assert destroyed_on == [threading.get_ident()]
    assert results == []  # stopped: the job under way finished unseen
    assert running_threads() == []


def test_a_lane_deleted_without_being_stopped_ends_its_thread(qtbot: QtBot) -> None:
    lane = PriorityLane("test-lane")
    started, gate = threading.Event(), threading.Event()
    lane.run(blocking_job(started, gate), lambda _r: None, lambda _e: None)
    qtbot.waitUntil(started.is_set, timeout=5000)
    assert running_threads() == [ThreadState("test-lane", stopping=False)]
    delete_and_wait(qtbot, lane)
    assert running_threads() == [ThreadState("test-lane", stopping=True)]
    gate.set()
    qtbot.waitUntil(lambda: running_threads() == [], timeout=10_000)
