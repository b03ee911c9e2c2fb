"""``scripts/run`` and ``scripts/setup.sh`` as a newcomer meets them: what they say, and what they never do."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.server import REPO, free_port
from tests.fixtures.xvfb import XvfbServer

RUN = REPO / "scripts" / "run"
SETUP = REPO / "scripts" / "setup.sh"
SCRIPT_TIMEOUT_SECONDS = 60


def run_env(port: int, **extra: str) -> dict[str, str]:
    # tests/conftest.py has already pointed every ShowDesk directory at a throw-away place.
    return {**os.environ, "SHOWDESK_PORT": str(port), **extra}


def handover_file(port: int) -> Path:
    return Path(os.environ["SHOWDESK_RUNTIME_DIR"]) / f"server-{port}.json"


@pytest.fixture
def foreign_server() -> Iterator[socket.socket]:
    """Another program listening on a loopback port, as a second ShowDesk or any web server would."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener


def test_run_with_its_port_taken_says_so_and_starts_nothing(foreign_server: socket.socket) -> None:
    port = foreign_server.getsockname()[1]
    result = subprocess.run(
        [str(RUN)],
        env=run_env(port, DISPLAY=":0", QT_QPA_PLATFORM="offscreen"),
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is taken by another program" in result.stderr
    assert f"SHOWDESK_PORT={port + 1} scripts/run" in result.stderr
    assert "the built-in server is at" not in result.stdout
    # Nothing knocked at the foreign server: no health check mistaken for ours, no kiosk submitting to it.
    foreign_server.setblocking(False)
    with pytest.raises(BlockingIOError):
        foreign_server.accept()


def test_run_stops_when_its_server_does_not_start(tmp_path: Path) -> None:
    (tmp_path / "showdesk").write_text("a file where the server's data directory would go")
    port = free_port()
    result = subprocess.run(
        [str(RUN)],
        env=run_env(port, XDG_DATA_HOME=str(tmp_path), DISPLAY=":0", QT_QPA_PLATFORM="offscreen"),
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 1
    assert "run: the built-in server did not start (exit 1" in result.stderr
    assert "the kiosk was not started" in result.stderr
    assert "the built-in server is at" not in result.stdout


def _visible_kiosk(env: dict[str, str]) -> bool:
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "^ShowDesk$"], env=env, capture_output=True, check=False
    )
    return found.returncode == 0


def _stop_with_ctrl_c(env: dict[str, str], tmp_path: Path) -> str:
    """Start scripts/run, wait for the kiosk's window, press Ctrl-C; the script's error output."""
    port = int(env["SHOWDESK_PORT"])
    errors = tmp_path / "run.err"
    output = tmp_path / "run.out"
    with errors.open("wb") as error_file, output.open("wb") as output_file:
        # A session of its own, so the Ctrl-C below reaches the script, the server and the kiosk
        # together, as a terminal sends it to its foreground process group.
        script = subprocess.Popen(
            [str(RUN)], env=env, stdout=output_file, stderr=error_file, start_new_session=True
        )
    try:
        deadline = time.monotonic() + SCRIPT_TIMEOUT_SECONDS
        while True:
            shown = re.search(r"DISPLAY=(:\d+)", output.read_text())
            display_env = {**env, "DISPLAY": shown.group(1)} if shown else env
            if "DISPLAY" in display_env and _visible_kiosk(display_env):
                break
            assert script.poll() is None, errors.read_text()
            assert time.monotonic() < deadline, "the kiosk window did not appear"
            select.select([], [], [], 0.1)
        assert handover_file(port).exists()
        os.killpg(script.pid, signal.SIGINT)
        assert script.wait(timeout=30) == 130
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()
    log = errors.read_text()
    assert "did not stop" not in log, log
    assert not _visible_kiosk(display_env)
    assert not handover_file(port).exists()  # the server stopped cleanly: it removes its file
    assert "stopped cleanly" in log
    return log


@pytest.mark.xvfb
def test_ctrl_c_in_run_ends_the_kiosk_and_the_server(xvfb_display: XvfbServer, tmp_path: Path) -> None:
    env = {**os.environ, **xvfb_display.env, "QT_QPA_PLATFORM": "xcb", "SHOWDESK_PORT": str(free_port())}
    _stop_with_ctrl_c(env, tmp_path)


@pytest.mark.xvfb  # scripts/run starts its own Xvfb here
def test_without_a_display_run_makes_one_and_ctrl_c_ends_the_kiosk_before_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["SHOWDESK_PORT"] = str(free_port())
    log = _stop_with_ctrl_c(env, tmp_path)
    assert "X11 connection broke" not in log  # the display outlived the kiosk drawing on it
    assert "x11vnc -display :" in (tmp_path / "run.out").read_text()  # how to see the invisible display


def _fake_tools(bin_dir: Path, *, missing: set[str], uid: int) -> Path:
    """``id``, ``dpkg-query`` and ``apt-get`` stand-ins: this user and these packages, an apt that only records."""
    bin_dir.mkdir()
    called = bin_dir / "apt-get-called"
    scripts = {
        "id": f'#!/bin/sh\n[ "$1" = -u ] && echo {uid} || exec /usr/bin/id "$@"\n',
        "dpkg-query": (
            '#!/bin/sh\nfor last; do :; done\ncase " ' + " ".join(sorted(missing)) + ' " in\n'
            '  *" $last "*) exit 1 ;;\nesac\nprintf installed\n'
        ),
        "apt-get": f'#!/bin/sh\necho "$@" >> "{called}"\n',
    }
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return called


@pytest.mark.parametrize(
    ("purpose", "missing", "named"),
    [
        ("run", {"libgl1", "xvfb", "maim"}, "libgl1 xvfb"),  # maim is for the benchmarks, not for run
        ("test", {"xdotool"}, "xdotool"),
    ],
)
def test_setup_stops_a_user_without_root_at_once_with_one_line(
    tmp_path: Path, purpose: str, missing: set[str], named: str
) -> None:
    called = _fake_tools(tmp_path / "bin", missing=missing, uid=1000)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        [str(SETUP), purpose], env=env, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_SECONDS, check=False
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"setup: missing system packages; install them with `sudo apt-get install {named}`,"
        f" or run scripts/{purpose} once as root"
    ]
    assert not called.exists()  # never an apt call, nor a password prompt, without root
