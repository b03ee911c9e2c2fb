"""The screen-lock watcher against a private D-Bus session bus with the desktop's ScreenSaver interface.

The service below implements ``org.freedesktop.ScreenSaver`` as desktops document it (``GetActive``
answers the state, ``ActiveChanged(b)`` is emitted on every change); it is the desktop's side of
the conversation, not a stand-in for ShowDesk's code. The bus is a real ``dbus-daemon --session``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from agent.clips.screen_lock import (
    SCREENSAVER_INTERFACE,
    SCREENSAVER_NAME,
    SCREENSAVER_PATH,
    DbusScreenLockWatcher,
    NullScreenLockWatcher,
)

pytest.importorskip("jeepney")

WAIT_S = 10.0


@pytest.fixture(scope="module")
def session_bus() -> Iterator[str]:
    if shutil.which("dbus-daemon") is None:
        pytest.skip("needs dbus-daemon (Debian package dbus)")
    with tempfile.TemporaryDirectory(prefix="showdesk-lock-") as tmp:
        env = {**os.environ, "HOME": tmp, "XDG_RUNTIME_DIR": tmp}
        daemon = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            assert daemon.stdout is not None
            address = daemon.stdout.readline().strip()
            assert address.startswith("unix:"), f"dbus-daemon gave no address ({address!r})"
            yield address
        finally:
            daemon.terminate()
            daemon.wait(timeout=10)
            if daemon.stdout is not None:
                daemon.stdout.close()


class ScreenSaverService:
    """``org.freedesktop.ScreenSaver`` on the bus: answers GetActive, emits ActiveChanged."""

    def __init__(self, address: str, active: bool = False) -> None:
        from jeepney import MatchRule  # type: ignore[import-untyped]
        from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
        from jeepney.io.threading import DBusRouter, Proxy, open_dbus_connection  # type: ignore[import-untyped]

        self.active = active
        self.calls = 0
        self._connection = open_dbus_connection(address)
        self._router = DBusRouter(self._connection)
        reply = Proxy(message_bus, self._router, timeout=5).RequestName(SCREENSAVER_NAME, 4)
        assert reply == (1,), f"could not own {SCREENSAVER_NAME}: {reply}"
        self._calls: queue.Queue[Any] = queue.Queue()
        rule = MatchRule(type="method_call", interface=SCREENSAVER_INTERFACE, path=SCREENSAVER_PATH)
        self._filter = self._router.filter(rule, queue=self._calls)
        self._thread = threading.Thread(target=self._answer, daemon=True)
        self._thread.start()

    def _answer(self) -> None:
        from jeepney import new_error, new_method_return

        while True:
            message = self._calls.get()
            if message is None:
                return
            self.calls += 1
            if message.header.fields.get(3) == "GetActive":  # 3: the MEMBER header field
                self._router.send(new_method_return(message, "b", (self.active,)))
            else:
                self._router.send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod"))

    def set_active(self, active: bool) -> None:
        from jeepney import DBusAddress, new_signal

        self.active = active
        emitter = DBusAddress(SCREENSAVER_PATH, interface=SCREENSAVER_INTERFACE)
        self._router.send(new_signal(emitter, "ActiveChanged", "b", (active,)))

    def close(self) -> None:
        self._calls.put(None)
        self._thread.join(timeout=5)
        self._filter.close()
        self._router.close()
        self._connection.close()


@contextlib.contextmanager
def service(address: str, active: bool = False) -> Iterator[ScreenSaverService]:
    made = ScreenSaverService(address, active)
    try:
        yield made
    finally:
        made.close()


def is_locked(watcher: DbusScreenLockWatcher) -> bool:
    return watcher.locked


class Changes:
    def __init__(self) -> None:
        self.seen: queue.Queue[bool] = queue.Queue()

    def __call__(self, locked: bool) -> None:
        self.seen.put(locked)

    def next(self) -> bool:
        return self.seen.get(timeout=WAIT_S)


def test_follows_the_screensaver_interface(session_bus: str) -> None:
    changes = Changes()
    with service(session_bus) as saver:
        watcher = DbusScreenLockWatcher(session_bus, system_bus=None)
        watcher.start(changes)
        try:
            assert watcher.sources == ("screensaver",)
            assert saver.calls == 1  # asked for the state now
            assert is_locked(watcher) is False
            saver.set_active(True)
            assert changes.next() is True
            assert is_locked(watcher) is True
            saver.set_active(False)
            assert changes.next() is False
            assert is_locked(watcher) is False
        finally:
            watcher.stop()
    assert changes.seen.empty()


def test_a_screen_locked_at_start_is_reported_at_once(session_bus: str) -> None:
    changes = Changes()
    with service(session_bus, active=True):
        watcher = DbusScreenLockWatcher(session_bus, system_bus=None)
        watcher.start(changes)
        try:
            assert changes.seen.get_nowait() is True
            assert is_locked(watcher) is True
        finally:
            watcher.stop()


def test_no_screensaver_now_is_not_an_error_and_a_later_one_is_heard(session_bus: str) -> None:
    changes = Changes()
    watcher = DbusScreenLockWatcher(session_bus, system_bus=None)
    watcher.start(changes)
    try:
        assert is_locked(watcher) is False
        with service(session_bus) as saver:
            saver.set_active(True)
            assert changes.next() is True
    finally:
        watcher.stop()


def test_missing_buses_leave_a_watcher_that_never_locks(tmp_path: object) -> None:
    watcher = DbusScreenLockWatcher(f"unix:path={tmp_path}/no-bus", system_bus=f"unix:path={tmp_path}/no-bus")
    watcher.start(Changes())
    try:
        assert watcher.sources == ()
        assert is_locked(watcher) is False
    finally:
        watcher.stop()
    assert NullScreenLockWatcher().locked is False
