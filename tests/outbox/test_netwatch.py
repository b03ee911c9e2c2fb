"""The network watcher: changes settle into one call, calls are spaced, link noise alone is ignored, it stops."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Hashable, Iterator
from pathlib import Path

import pytest

from agent.outbox import Outbox, Sender
from agent.outbox.netwatch import NetworkWatcher, message_types, netlink_socket
from tests.fixtures.waiting import wait_until

DEADLINE_SECONDS = 10.0
RTM_NEWLINK = 16
RTM_NEWADDR = 20


class Calls:
    def __init__(self) -> None:
        self.times: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.times.append(time.monotonic())

    def __len__(self) -> int:
        with self._lock:
            return len(self.times)


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def watchers() -> Iterator[list[NetworkWatcher]]:
    made: list[NetworkWatcher] = []
    yield made
    for watcher in made:
        assert watcher.stop()


def _watcher(made: list[NetworkWatcher], calls: Calls, **kwargs: object) -> NetworkWatcher:
    options: dict[str, object] = {"use_netlink": False, "poll_seconds": 3600, "settle_seconds": 0, "min_interval": 0}
    watcher = NetworkWatcher(calls, **{**options, **kwargs})  # type: ignore[arg-type]
    made.append(watcher)
    watcher.start()
    return watcher


def test_a_burst_of_changes_settles_into_one_call(calls: Calls, watchers: list[NetworkWatcher]) -> None:
    watcher = _watcher(watchers, calls, settle_seconds=0.5)
    for n in range(5):
        watcher.inject(f"change {n}")
    wait_until(lambda: len(calls) == 1, "one call for the burst", DEADLINE_SECONDS)
    assert watcher.stop()
    assert len(calls) == 1 and watcher.changes == 1 and not watcher.running


def test_calls_are_spaced_by_the_minimum_interval(calls: Calls, watchers: list[NetworkWatcher]) -> None:
    watcher = _watcher(watchers, calls, min_interval=0.4)
    watcher.inject("first")
    wait_until(lambda: len(calls) == 1, "the first call", DEADLINE_SECONDS)
    watcher.inject("second, at once")
    wait_until(lambda: len(calls) == 2, "the second call, later", DEADLINE_SECONDS)
    assert calls.times[1] - calls.times[0] >= 0.4


def test_where_the_os_does_not_tell_the_addresses_are_polled(calls: Calls, watchers: list[NetworkWatcher]) -> None:
    state = {"addresses": frozenset({("wlan0", 2, "10.0.0.5")}), "looks": 0}

    def signature() -> Hashable:
        state["looks"] += 1  # type: ignore[operator]
        return state["addresses"]

    watcher = _watcher(watchers, calls, poll_seconds=0.05, signature=signature)
    assert watcher.source == "polling"
    wait_until(lambda: state["looks"] >= 5, "a few polls", DEADLINE_SECONDS)  # type: ignore[operator]
    assert len(calls) == 0  # looked, nothing changed
    state["addresses"] = frozenset({("wlan0", 2, "192.168.1.20")})
    wait_until(lambda: len(calls) == 1, "the new address noticed", DEADLINE_SECONDS)


def _netlink_message(kind: int, payload: bytes = b"\0" * 16) -> bytes:
    return struct.pack("=LHHLL", 16 + len(payload), kind, 0, 0, 0) + payload


def test_link_messages_alone_count_only_when_the_addresses_changed(
    calls: Calls, watchers: list[NetworkWatcher]
) -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    ours.setblocking(False)
    state = {"addresses": frozenset({("wlan0", 2, "10.0.0.5")}), "looks": 0}

    def signature() -> Hashable:
        state["looks"] += 1  # type: ignore[operator]
        return state["addresses"]

    watcher = _watcher(watchers, calls, use_netlink=True, open_netlink=lambda: ours, signature=signature)
    try:
        assert watcher.source == "netlink"
        theirs.send(_netlink_message(RTM_NEWLINK))  # a Wi-Fi scan result, say
        wait_until(lambda: state["looks"] >= 2, "the link message looked at", DEADLINE_SECONDS)  # type: ignore[operator]
        assert len(calls) == 0
        theirs.send(_netlink_message(RTM_NEWADDR) + _netlink_message(RTM_NEWLINK))
        wait_until(lambda: len(calls) == 1, "a new address noticed", DEADLINE_SECONDS)
        state["addresses"] = frozenset()
        theirs.send(_netlink_message(RTM_NEWLINK))  # the interface went down
        wait_until(lambda: len(calls) == 2, "the link change with new addresses", DEADLINE_SECONDS)
    finally:
        theirs.close()


def test_message_types_reads_every_message_of_a_datagram() -> None:
    # Each message is padded to 4 bytes (NLMSG_ALIGN); its length field does not count the padding.
    data = _netlink_message(RTM_NEWADDR, b"\0" * 13) + b"\0" * 3 + _netlink_message(RTM_NEWLINK) + b"\0\0"
    assert message_types(data) == [RTM_NEWADDR, RTM_NEWLINK]
    assert message_types(b"") == [] and message_types(struct.pack("=LHHLL", 3, 20, 0, 0, 0)) == []


def test_a_real_netlink_watcher_starts_and_stops_at_once(calls: Calls, watchers: list[NetworkWatcher]) -> None:
    probe = netlink_socket()
    if probe is None:
        pytest.skip("this system offers no netlink socket: the watcher polls (tested above)")
    probe.close()
    watcher = _watcher(watchers, calls, use_netlink=True)
    assert watcher.source == "netlink" and watcher.running
    started = time.monotonic()
    assert watcher.stop(timeout=5)
    assert time.monotonic() - started < 5 and not watcher.running


def test_the_sender_runs_its_watcher_with_it(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    sender = Sender(outbox, max_idle=0.2)
    watcher = sender.network_watcher
    assert watcher is not None
    sender.start()
    try:
        running_while_sending = watcher.running
    finally:
        assert sender.stop(10)
    assert running_while_sending and not watcher.running
    assert Sender(outbox, watch_network=False).network_watcher is None
