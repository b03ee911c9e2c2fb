"""A private desktop accessibility session for tests: a session bus, AT-SPI's bus launcher, a Qt app.

``atspi_bus`` (session scope) starts ``dbus-daemon --session`` and at-spi2-core's
``at-spi-bus-launcher`` on it, with HOME and XDG_RUNTIME_DIR in a temporary directory (the
accessibility bus's socket goes there, never into the real home) and without DISPLAY (so the
launcher leaves the shared X server's root window alone). It yields the session bus address.
Skipped, with the reason, when dbus-daemon or at-spi2-core is not installed.

``save_as_app(...)`` starts :mod:`tests.steps.save_as_app` on that bus and an X display, with
Qt's accessibility always on, and returns once the app is on screen and in the desktop's tree.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from agent.pointer_target.atspi import AtspiFinder
from tests.fixtures.waiting import wait_until

BUS_LAUNCHER_PATHS = ("/usr/libexec/at-spi-bus-launcher", "/usr/lib/at-spi2-core/at-spi-bus-launcher")
APP = Path(__file__).with_name("save_as_app.py")
START_TIMEOUT_S = 20.0


def bus_launcher() -> str | None:
    return next((path for path in BUS_LAUNCHER_PATHS if os.access(path, os.X_OK)), None)


def missing_atspi() -> str:
    """Why an accessibility session cannot be started here, or ""."""
    if shutil.which("dbus-daemon") is None:
        return "needs dbus-daemon (Debian package dbus)"
    if bus_launcher() is None:
        return "needs at-spi2-core's at-spi-bus-launcher (Debian package at-spi2-core); scripts/setup.sh installs it"
    return ""


def _stop(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def _read_line(stream: IO[str], timeout: float) -> str:
    """One line from a child's pipe, with a deadline (a child that never speaks fails the test)."""
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"the child process said nothing within {timeout} s")
    return stream.readline().strip()


@pytest.fixture(scope="session")
def atspi_bus() -> Iterator[str]:
    missing = missing_atspi()
    if missing:
        pytest.skip(missing)
    launcher = bus_launcher()
    assert launcher is not None
    with tempfile.TemporaryDirectory(prefix="showdesk-atspi-") as tmp:
        runtime = Path(tmp) / "run"
        runtime.mkdir(mode=0o700)
        env = {key: value for key, value in os.environ.items() if key != "DISPLAY"}
        env.update(HOME=tmp, XDG_RUNTIME_DIR=str(runtime))
        daemon = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            address = _read_line(daemon.stdout, START_TIMEOUT_S) if daemon.stdout else ""
            assert address.startswith("unix:"), f"dbus-daemon gave no address ({address!r})"
            env["DBUS_SESSION_BUS_ADDRESS"] = address
            launcher_process = subprocess.Popen(
                [launcher, "--launch-immediately", "--a11y=1"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_until(lambda: _a11y_bus_address(address) != "", "AT-SPI's bus launcher answers", START_TIMEOUT_S)
                yield address
            finally:
                _stop(launcher_process)
        finally:
            _stop(daemon)


def _a11y_bus_address(session_address: str) -> str:
    from jeepney import DBusAddress, MessageType, new_method_call  # type: ignore[import-untyped]
    from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

    try:
        with open_dbus_connection(session_address, auth_timeout=2.0) as connection:
            bus = DBusAddress("/org/a11y/bus", "org.a11y.Bus", "org.a11y.Bus")
            reply = connection.send_and_get_reply(new_method_call(bus, "GetAddress"), timeout=2.0)
    except (OSError, TimeoutError):
        return ""
    return str(reply.body[0]) if reply.header.message_type == MessageType.method_return else ""


@dataclass
class SaveAsApp:
    process: subprocess.Popen[str]
    button_centre: tuple[int, int]

    def next_line(self, timeout: float = START_TIMEOUT_S) -> str:
        assert self.process.stdout is not None
        return _read_line(self.process.stdout, timeout)


@contextlib.contextmanager
def save_as_app(bus_address: str, x_env: dict[str, str], left: int = 200, top: int = 200) -> Iterator[SaveAsApp]:
    env = dict(x_env)
    env.update(
        DBUS_SESSION_BUS_ADDRESS=bus_address,
        QT_LINUX_ACCESSIBILITY_ALWAYS_ON="1",
        QT_QPA_PLATFORM="xcb",
        QT_ACCESSIBILITY="1",
    )
    process = subprocess.Popen(
        [sys.executable, str(APP), str(left), str(top)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        app = SaveAsApp(process, (0, 0))
        words = app.next_line().split()
        assert words[:1] == ["ready"], f"the test app did not start: {words}"
        app.button_centre = (int(words[1]), int(words[2]))
        finder = AtspiFinder(bus_address)
        try:
            # The app registers with the accessibility registry a moment after it shows its window.
            wait_until(
                lambda: finder.target_at(*app.button_centre, budget_s=2.0) is not None,
                "the test app is in the desktop's accessibility tree",
                START_TIMEOUT_S,
            )
        finally:
            finder.close()
        yield app
    finally:
        _stop(process)
