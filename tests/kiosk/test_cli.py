"""``showdesk kiosk`` on the command line: checks, the PIN hash, clear errors."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from kiosk.cli import locks_the_person_in, main, quit_on_signals
from kiosk.settings import DEFAULT_SITE, KioskSettings, hash_pin, verify_pin
from tests.fixtures.server import REPO


@pytest.fixture
def user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "user.toml"
    monkeypatch.setenv("SHOWDESK_CONFIG", str(path))
    return path


def test_hash_pin_prints_a_line_for_the_machine_wide_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda _prompt="": "480915")
    assert main(["kiosk", "--hash-pin"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith('admin_pin_hash = "pbkdf2_sha256$')
    assert verify_pin("480915", line.split('"')[1])


def test_hash_pin_refuses_two_different_pins(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(["1234", "4321"])
    monkeypatch.setattr("getpass.getpass", lambda _prompt="": next(answers))
    assert main(["kiosk", "--hash-pin"]) == 2
    assert "differ" in capsys.readouterr().err


def test_an_unconfigured_kiosk_joins_the_default_sites_queue(
    user_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The server refuses a walk-up without a site: without a default, nothing the kiosk sent arrived.
    user_config.write_text("[kiosk]\n")
    assert main(["kiosk", "--check"]) == 0
    assert f"site {DEFAULT_SITE}," in capsys.readouterr().out


def test_bad_arguments_are_usage_errors(user_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kiosk", "--screen", "40"]) == 2
    assert main(["kiosk", "--no-such-option"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_a_configuration_mistake_stops_the_kiosk_before_any_window(
    user_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user_config.write_text('[kiosk]\ncolors = { primary = "blue" }\n')
    assert main(["kiosk", "--windowed"]) == 5
    assert "primary = 'blue' is not a colour" in capsys.readouterr().err


def _in_a_terminal(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """``showdesk`` as a person starts it: input and output a terminal (a pseudo-terminal here)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "showdesk", *args], stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=REPO
    )
    os.close(terminal)
    return process, controller


def _read_all(controller: int, deadline: float) -> str:
    chunks = []
    while time.monotonic() < deadline and select.select([controller], [], [], deadline - time.monotonic())[0]:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the other side closed: the program ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return b"".join(chunks).decode("utf-8", "replace")


def test_full_screen_without_a_pin_from_a_terminal_is_refused(user_config: Path) -> None:
    process, controller = _in_a_terminal(["kiosk"], dict(os.environ))
    output = _read_all(controller, time.monotonic() + 60)
    assert process.wait(timeout=30) == 5
    words = " ".join(output.split())
    assert "nothing on the screen leads out" in words
    assert "`showdesk kiosk --hash-pin`" in words and "--allow-no-exit" in words


def test_a_pin_a_window_or_consent_lets_it_start() -> None:
    locked = KioskSettings()
    assert not locks_the_person_in(KioskSettings(admin_pin_hash=hash_pin("2468")), windowed=False, allowed=False)
    assert not locks_the_person_in(KioskSettings(allow_no_exit=True), windowed=False, allowed=False)
    assert not locks_the_person_in(locked, windowed=True, allowed=False)
    assert not locks_the_person_in(locked, windowed=False, allowed=True)


@pytest.mark.xvfb
def test_allowed_without_a_pin_it_starts_and_ends_on_sigterm(xvfb_display: object, tmp_path: Path) -> None:
    env = {**xvfb_display.env, "QT_QPA_PLATFORM": "xcb", "SHOWDESK_URL": "http://127.0.0.1:9"}  # type: ignore[attr-defined]
    process, controller = _in_a_terminal(["kiosk", "--allow-no-exit"], env)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", "^ShowDesk$"], env=env, capture_output=True, check=False
        ).returncode:
            assert process.poll() is None, _read_all(controller, time.monotonic() + 5)
            assert time.monotonic() < deadline, "the kiosk window did not appear within 60 s"
            select.select([], [], [], 0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        _read_all(controller, time.monotonic() + 1)


def test_ctrl_c_ends_the_qt_loop_at_once(qtbot: QtBot) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    # The deadline only stops a broken handler from hanging the suite; it is never the answer.
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(lambda: app.exit(-1))
    deadline.start(20_000)
    QTimer.singleShot(0, lambda: os.kill(os.getpid(), signal.SIGINT))
    try:
        with quit_on_signals(app):
            assert app.exec() == 128 + signal.SIGINT
    finally:
        deadline.stop()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
