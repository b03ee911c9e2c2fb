"""`showdesk capture` handed to the running agent over its single-instance socket, and never stuck on it.

The agent runs in this process (its capture thread grabs the session's Xvfb); the command line
is a real `showdesk` process. Hostile listeners are plain sockets on threads of this process.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import QObject, Qt, QThread
from pytestqt.qtbot import QtBot

from agent.bundle import ReportBundle
from agent.laptop.agent_app import AgentApp
from agent.laptop.instance_client import OUTPUT_ARG, SOCKET_NAME, encode_message, request_capture, usable_output_path
from agent.laptop.single_instance import InstanceServer
from tests.fixtures.xvfb import XvfbServer, paint_root, pattern_rgb, position_pattern
from tests.laptop.conftest import AgentHarness

pytestmark = pytest.mark.xvfb

REPO = Path(__file__).resolve().parents[2]
SOME_REQUEST: dict[str, Any] = {"monitor": None, "region": None, "sysinfo": False, "environment": {}}


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The agent's runtime directory, for this process and the command lines it starts."""
    directory = tmp_path / "runtime"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv("SHOWDESK_RUNTIME_DIR", str(directory))
    return directory


@pytest.fixture
def screen(xvfb_display: XvfbServer) -> XvfbServer:
    paint_root(xvfb_display.display, position_pattern(xvfb_display.width, xvfb_display.height))
    return xvfb_display


@pytest.fixture
def listening_agent(harness: AgentHarness, runtime: Path) -> Iterator[AgentApp]:
    """An agent that listens on the runtime directory's socket, wired as `showdesk agent` wires it."""
    server = InstanceServer(runtime)
    assert server.claim()
    agent = harness.make()
    server.command_received.connect(agent.handle_command)
    yield agent
    server.release()


def run_capture(qtbot: QtBot, screen: XvfbServer, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """`showdesk capture ARGS --json` while this process's event loop serves the agent; its JSON."""
    process = subprocess.Popen(
        [sys.executable, "-m", "showdesk", "capture", "--json", *args],
        cwd=REPO,
        env={**os.environ, "DISPLAY": screen.display, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    qtbot.waitUntil(lambda: process.poll() is not None, timeout=60_000)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def comparable_manifest(bundle: ReportBundle) -> dict[str, Any]:
    """The manifest without what differs between any two captures (ids, times, measurements)."""
    manifest = bundle.report.model_dump(mode="json")
    for key in ("id", "created_at"):
        manifest.pop(key)
    for step in manifest["steps"]:
        step.pop("captured_at")
    manifest.pop("sysinfo", None)
    return manifest


def test_the_agent_captures_for_the_command_line_and_the_bundle_is_the_same(
    listening_agent: AgentApp, screen: XvfbServer, tmp_path: Path, qtbot: QtBot
) -> None:
    common = ["--description", "Printer offline", "--caption", "the dialog", "--name", "Ann", "--category", "Printer"]
    by_agent = run_capture(qtbot, screen, *common, "-o", str(tmp_path / "agent.showdesk"))
    by_cli = run_capture(qtbot, screen, *common, "--no-agent", "-o", str(tmp_path / "cli.showdesk"))
    assert (by_agent["captured_by"], by_cli["captured_by"]) == ("agent", "cli")
    agent_bundle = ReportBundle.read(tmp_path / "agent.showdesk")
    cli_bundle = ReportBundle.read(tmp_path / "cli.showdesk")
    assert str(agent_bundle.report.id) == by_agent["report_id"] and by_agent["steps"] == 1
    assert comparable_manifest(agent_bundle) == comparable_manifest(cli_bundle)
    assert agent_bundle.report.source.kind == "cli"
    [agent_step], [cli_step] = agent_bundle.report.steps, cli_bundle.report.steps
    # The same screen through the same encoder: the same image file, byte for byte.
    assert agent_bundle.files[agent_step.image.path] == cli_bundle.files[cli_step.image.path]
    image = Image.open(io.BytesIO(agent_bundle.files[agent_step.image.path])).convert("RGB")
    assert image.getpixel((777, 555)) == pattern_rgb(777, 555)
    assert agent_bundle.sysinfo is not None and cli_bundle.sysinfo is not None
    assert sorted(agent_bundle.sysinfo) == sorted(cli_bundle.sysinfo)


def test_an_agent_on_another_display_or_configuration_declines(
    listening_agent: AgentApp, screen: XvfbServer, tmp_path: Path, qtbot: QtBot
) -> None:
    other_config = tmp_path / "other.toml"
    other_config.write_text("")
    result = run_capture(
        qtbot, screen, "--no-sysinfo", "-o", str(tmp_path / "r.showdesk"), env={"SHOWDESK_CONFIG": str(other_config)}
    )
    assert result["captured_by"] == "cli"
    ReportBundle.read(tmp_path / "r.showdesk")


def test_a_capture_the_agent_cannot_make_is_declined_and_the_command_line_says_why(
    listening_agent: AgentApp, screen: XvfbServer, tmp_path: Path, qtbot: QtBot
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "showdesk", "capture", "--monitor", "9", "-o", str(tmp_path / "r.showdesk")],
        cwd=REPO,
        env={**os.environ, "DISPLAY": screen.display},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    qtbot.waitUntil(lambda: process.poll() is not None, timeout=60_000)
    _out, err = process.communicate(timeout=10)
    assert process.returncode == 4  # the command line's own capture error, as without an agent
    assert "monitor" in err


def test_the_agent_declines_a_malformed_request(listening_agent: AgentApp, runtime: Path, qtbot: QtBot) -> None:
    answers: list[bytes] = []

    def ask() -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(20)
            client.connect(str(runtime / SOCKET_NAME))
            client.sendall(encode_message("capture", {"monitor": "all of them", "reply": "forged"}))
            while chunk := client.recv(4096):
                answers.append(chunk)

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    qtbot.waitUntil(lambda: not asker.is_alive(), timeout=20_000)
    accepted, declined = b"".join(answers).decode().splitlines()
    assert json.loads(accepted) == {"status": "accepted"}
    assert json.loads(declined)["status"] == "declined" and "malformed" in json.loads(declined)["reason"]


# ---------------------------------------------------------------- hostile or stale sockets
class FakeAgent:
    """A listener on the agent's socket path: reads the request, sends ``answer`` (None: says
    nothing at all), closes its sending side when ``then_close``, and otherwise keeps the
    connection open until :meth:`close`."""

    def __init__(self, directory: Path, answer: bytes | None, *, then_close: bool = False) -> None:
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(directory / SOCKET_NAME))
        self._listener.listen(4)
        self._listener.settimeout(60)
        self._answer, self._then_close = answer, then_close
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self._listener.accept()
        except OSError:
            return
        with connection, contextlib.suppress(OSError):  # the command line hanging up is what it should do
            connection.settimeout(30)
            if self._answer is not None:
                received = b""
                while not received.endswith(b"\n"):
                    received += connection.recv(65536)
                connection.sendall(self._answer)
            if self._then_close:
                connection.shutdown(socket.SHUT_WR)
            self._stop.wait(30)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=30)


ACCEPTED = b'{"status":"accepted"}\n'
HOSTILE: dict[str, tuple[bytes | None, bool]] = {
    "silent": (None, False),
    "never answers after accepting": (ACCEPTED, False),
    "an endless header line": (b"x" * 300_000, False),
    "announces more than a bundle may hold": (ACCEPTED + b'{"status":"ok","bytes":999999999999}\n', False),
    "sends less than it announced": (ACCEPTED + b'{"status":"ok","bytes":100}\nshort', True),
    "sends more than it announced": (ACCEPTED + b'{"status":"ok","bytes":3}\nmore than three', False),
    "not JSON": (b"\x00\xff garbage\n", False),
    "hangs up at once": (b"", True),
}


@pytest.mark.parametrize("behaviour", sorted(HOSTILE))
def test_a_hostile_socket_is_answered_by_capturing_here(behaviour: str, tmp_path: Path) -> None:
    answer, then_close = HOSTILE[behaviour]
    fake = FakeAgent(tmp_path, answer, then_close=then_close)
    try:
        started = time.monotonic()
        outcome = request_capture(SOME_REQUEST, directory=tmp_path, accept_timeout=0.5, answer_timeout=1.5)
        elapsed = time.monotonic() - started
    finally:
        fake.close()
    assert outcome is None
    assert elapsed < 10  # bounded by the time-outs given, never the listener's whim


def test_a_stale_socket_is_a_quick_no(tmp_path: Path) -> None:
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(tmp_path / SOCKET_NAME))
    dead.close()  # the file stays, nobody listens: an agent that died
    assert (tmp_path / SOCKET_NAME).exists()
    assert request_capture(SOME_REQUEST, directory=tmp_path, accept_timeout=30, answer_timeout=30) is None


def test_the_command_line_captures_itself_past_a_silent_listener(
    screen: XvfbServer, runtime: Path, tmp_path: Path
) -> None:
    fake = FakeAgent(runtime, None)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "showdesk", "capture", "--json", "--no-sysinfo", "-o", str(tmp_path / "r.showdesk")],
            cwd=REPO,
            env={**os.environ, "DISPLAY": screen.display},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        fake.close()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["captured_by"] == "cli"
    ReportBundle.read(tmp_path / "r.showdesk")


def test_the_command_line_finds_the_agents_directory_without_platformdirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.fsutil import runtime_dir
    from agent.laptop.instance_client import _runtime_dir_at_hand

    monkeypatch.delenv("SHOWDESK_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert _runtime_dir_at_hand() == runtime_dir() == tmp_path / "showdesk"


def test_the_command_line_names_the_runtime_directory_variable_as_the_core_does() -> None:
    # The hand-off reads the variable without importing agent.fsutil (it loads while the agent captures).
    from agent import fsutil
    from agent.laptop import instance_client

    assert instance_client.RUNTIME_DIR_ENV == fsutil.RUNTIME_DIR_ENV


@pytest.mark.parametrize(
    "args",
    [
        ["capture", "-o", "r.showdesk"],
        ["capture", "--monitor", "2", "--no-sysinfo", "--exclude", "disks", "--submit", "--wait", "3"],
        ["capture", "--region", "1,2,30,40", "--caption", "c", "--description", "d", "--json", "-o", "r.showdesk"],
    ],
)
def test_the_capture_parser_reads_capture_as_the_whole_parser_does(args: list[str]) -> None:
    from agent.cli import build_parser

    assert vars(build_parser("capture").parse_args(args)) == vars(build_parser().parse_args(args))


# ---------------------------------------------------------------- the agent writes the file itself
def test_a_usable_output_path_is_an_absolute_name_in_an_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "a-directory").mkdir()
    good = str(tmp_path / "r.showdesk")
    assert usable_output_path(good) == good
    for bad in [
        None,
        42,
        "",
        "r.showdesk",  # relative: the command line resolves it in its own directory first
        str(tmp_path / "missing" / "r.showdesk"),  # the command line makes the directory itself
        str(tmp_path / "a-directory"),
        str(tmp_path) + "/./r.showdesk",
        str(tmp_path) + "/x/../r.showdesk",
        str(tmp_path / "r\0.showdesk"),
        str(tmp_path / ("x" * 5000)),
        str(tmp_path) + "/",
    ]:
        assert usable_output_path(bad) is None, bad


def capture_request_for(screen: XvfbServer, target: Path) -> dict[str, Any]:
    """The request `showdesk capture --no-sysinfo -o TARGET` sends, naming its file for the agent."""
    from showdesk.fast_capture import read_capture_args

    handoff = read_capture_args(["--no-sysinfo", "-o", str(target)], {**os.environ, "DISPLAY": screen.display})
    assert handoff is not None
    return {**handoff.wire, OUTPUT_ARG: str(target)}


def ask_in_the_background(runtime: Path, request: dict[str, Any]) -> tuple[threading.Thread, list[bytes]]:
    """Send ``request`` on the agent's socket from a thread; everything the agent answers is collected."""
    answers: list[bytes] = []

    def ask() -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(30)
            client.connect(str(runtime / SOCKET_NAME))
            client.sendall(encode_message("capture", request))
            while chunk := client.recv(1 << 20):
                answers.append(chunk)

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    return asker, answers


def test_the_agent_writes_the_named_file_and_sends_no_bytes(
    listening_agent: AgentApp, screen: XvfbServer, runtime: Path, tmp_path: Path, qtbot: QtBot
) -> None:
    target = tmp_path / "written.showdesk"
    asker, answers = ask_in_the_background(runtime, capture_request_for(screen, target))
    qtbot.waitUntil(lambda: not asker.is_alive(), timeout=30_000)
    accepted, header = b"".join(answers).decode().splitlines()  # two lines, not a byte more
    assert json.loads(accepted) == {"status": "accepted"}
    answer = json.loads(header)
    assert (answer["status"], answer["file"], answer["steps"]) == ("written", str(target), 1)
    assert answer["bytes"] == target.stat().st_size
    assert target.stat().st_mode & 0o777 == 0o600  # as the command line writes it
    bundle = ReportBundle.read(target)
    assert str(bundle.report.id) == answer["report_id"]
    [step] = bundle.report.steps
    image = Image.open(io.BytesIO(bundle.files[step.image.path])).convert("RGB")
    assert image.getpixel((777, 555)) == pattern_rgb(777, 555)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_when_the_agent_cannot_write_the_file_it_sends_the_bytes(
    harness: AgentHarness, screen: XvfbServer, runtime: Path, tmp_path: Path, qtbot: QtBot
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    target = folder / "r.showdesk"
    server = InstanceServer(runtime)
    assert server.claim()
    agent = harness.make()
    server.command_received.connect(agent.handle_command)

    def folder_becomes_a_file(_command: str, _args: object) -> None:
        # Runs after the agent took the request (and checked the path), before its capture is back.
        folder.rmdir()
        folder.write_text("not a directory any more")

    server.command_received.connect(folder_becomes_a_file)
    try:
        asker, answers = ask_in_the_background(runtime, capture_request_for(screen, target))
        qtbot.waitUntil(lambda: not asker.is_alive(), timeout=30_000)
    finally:
        server.release()
    received = b"".join(answers)
    _accepted, header, data = received.split(b"\n", 2)
    answer = json.loads(header)
    assert answer["status"] == "ok" and answer["bytes"] == len(data)
    bundle = ReportBundle.from_bytes(data)
    assert str(bundle.report.id) == answer["report_id"]
    assert folder.read_text() == "not a directory any more"


def test_the_writing_threads_messenger_is_deleted_on_the_gui_thread(
    runtime: Path, tmp_path: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The object the writing thread signals "written" through dies on the GUI thread, even when
    the writing thread holds the last Python reference to it and drops it after the answer is out
    (as a thread ending does): a QObject deleted there while the GUI thread uses it crashes."""
    from agent.laptop import single_instance

    gui_thread = QThread.currentThread()
    made: list[QObject] = []
    destroyed_on_gui_thread: list[bool] = []

    class Recorded(single_instance._Written):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)
            # Called inside the destructor, on the thread that deletes the object.
            self.destroyed.connect(
                lambda: destroyed_on_gui_thread.append(QThread.currentThread() == gui_thread),
                Qt.ConnectionType.DirectConnection,
            )

    answered = threading.Event()
    real_write = single_instance._write_bundle

    def write_then_drop_the_last_reference_late(output: str, data: bytes, done: Any) -> None:
        held = made.pop()  # from here on, the GUI thread's side holds only what the code under test keeps
        real_write(output, data, done)
        answered.wait(30)
        del held  # on the writing thread, after the GUI thread delivered the answer

    monkeypatch.setattr(single_instance, "_Written", Recorded)
    monkeypatch.setattr(single_instance, "_write_bundle", write_then_drop_the_last_reference_late)
    server = InstanceServer(runtime)
    assert server.claim()

    def answer(command: str, args: dict[str, Any]) -> None:
        assert command == "capture"
        args["reply"].send(b"the bundle", report_id="r-1", steps=1)

    server.command_received.connect(answer)
    target = tmp_path / "r.showdesk"
    try:
        asker, answers = ask_in_the_background(runtime, {**SOME_REQUEST, OUTPUT_ARG: str(target)})
        qtbot.waitUntil(lambda: not asker.is_alive(), timeout=30_000)
        assert json.loads(b"".join(answers).splitlines()[-1])["status"] == "written"
        assert target.read_bytes() == b"the bundle"
        answered.set()
        qtbot.waitUntil(lambda: bool(destroyed_on_gui_thread), timeout=10_000)
    finally:
        answered.set()
        server.release()
    assert destroyed_on_gui_thread == [True]
