"""One agent per user: a later launch hands its command to the first, through a real socket, from a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from agent.laptop.instance_client import LOCK_NAME, SOCKET_NAME, decode_message, encode_message, send_command
from agent.laptop.single_instance import InstanceServer

REPO = Path(__file__).resolve().parents[2]


def launch(runtime: Path, *argv: str) -> subprocess.Popen[str]:
    """``showdesk agent ARGV`` as a separate process, in the test's runtime directory."""
    code = f"import sys; from agent.laptop.app import main; sys.exit(main({list(argv)!r}))"
    env = {**os.environ, "SHOWDESK_RUNTIME_DIR": str(runtime), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture
def server(tmp_path: Path, qapp: QApplication) -> Iterator[InstanceServer]:
    first = InstanceServer(tmp_path)
    assert first.claim()
    yield first
    first.release()


def test_only_the_first_instance_claims(server: InstanceServer, tmp_path: Path) -> None:
    second = InstanceServer(tmp_path)
    assert second.claim() is False
    second.release()
    assert (tmp_path / SOCKET_NAME).exists() and (tmp_path / LOCK_NAME).exists()


def test_a_second_launch_hands_its_command_to_the_first(server: InstanceServer, tmp_path: Path, qtbot: QtBot) -> None:
    with qtbot.waitSignal(server.command_received, timeout=20_000) as received:
        process = launch(tmp_path, "--report", "--mode", "region", "--delay", "3")
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert received.args == ["report", {"delay": 3, "mode": "region"}]


def test_a_plain_second_launch_brings_the_first_forward(server: InstanceServer, tmp_path: Path, qtbot: QtBot) -> None:
    with qtbot.waitSignal(server.command_received, timeout=20_000) as received:
        process = launch(tmp_path)
    process.communicate(timeout=30)
    assert process.returncode == 0
    assert received.args == ["show", {}]


def test_the_lock_of_a_killed_agent_is_taken_over(tmp_path: Path, qtbot: QtBot) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from PySide6.QtCore import QCoreApplication; app = QCoreApplication([]);"
            "from agent.laptop.single_instance import InstanceServer; from pathlib import Path;"
            "s = InstanceServer(Path(sys.argv[1])); print(s.claim(), flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    with holder.stdout:
        assert holder.stdout.readline().strip() == "True"
    alive = InstanceServer(tmp_path)
    assert alive.claim() is False  # its process is alive: it is the agent
    alive.release()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    assert (tmp_path / SOCKET_NAME).exists(), "the killed agent left its socket behind"

    successor = InstanceServer(tmp_path)
    assert successor.claim()
    try:
        with qtbot.waitSignal(successor.command_received, timeout=20_000) as received:
            process = launch(tmp_path, "--outbox")
        process.communicate(timeout=30)
        assert received.args == ["outbox", {}]
    finally:
        successor.release()


def test_nothing_listening_is_a_quick_no(tmp_path: Path) -> None:
    assert send_command("report", directory=tmp_path, timeout=0.0) is False


def test_messages_are_checked() -> None:
    assert decode_message(encode_message("record")) == ("record", {})
    with pytest.raises(ValueError, match="unknown agent command"):
        encode_message("format-disk")
    with pytest.raises(ValueError, match="not an agent command"):
        decode_message(b'{"command": "format-disk"}')


def test_the_agent_starts_takes_a_command_and_quits(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SHOWDESK_RUNTIME_DIR": str(tmp_path / "runtime"),
        "SHOWDESK_OUTBOX": str(tmp_path / "outbox"),
        "QT_QPA_PLATFORM": "offscreen",
    }
    code = "import sys; from agent.laptop.app import main; sys.exit(main(['--background', '--no-tray']))"
    agent = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    try:
        directory = tmp_path / "runtime"
        assert send_command("requests", directory=directory, timeout=30.0), "the agent did not start listening"
        assert send_command("quit", directory=directory, timeout=5.0)
        _out, err = agent.communicate(timeout=30)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.communicate()
    assert agent.returncode == 0, err
    assert not (directory / SOCKET_NAME).exists(), "a clean quit removes the socket"


def test_enrolment_from_the_command_line_stores_token_and_address(tmp_path: Path) -> None:
    from agent.enrolment import make_enrolment_link

    env = {
        **os.environ,
        "SHOWDESK_RUNTIME_DIR": str(tmp_path / "runtime"),
        "SHOWDESK_CONFIG": str(tmp_path / "c.toml"),
        "SHOWDESK_TEST_KEYRING": str(tmp_path / "keyring.json"),
    }
    link = make_enrolment_link("https://help.example.org", "sdk_enrolled")
    code = f"import sys; from agent.laptop.app import main; sys.exit(main(['--enrol', {link!r}]))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "signed in to https://help.example.org" in done.stdout
    assert "sdk_enrolled" in (tmp_path / "keyring.json").read_text()
    assert 'url = "https://help.example.org"' in (tmp_path / "c.toml").read_text()
    bad = subprocess.run(
        [sys.executable, "-c", code.replace(repr(link), repr("SDE1-broken"))],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 5 and "enrolment code is damaged" in bad.stderr
