"""`showdesk capture -o FILE` asks the running agent before the core's command line loads
(showdesk.fast_capture), and means exactly what the full parser would have made of it."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from agent import cli
from agent.laptop.instance_client import SOCKET_NAME
from showdesk import fast_capture

REPO = Path(__file__).resolve().parents[2]
ENVIRON = {
    "DISPLAY": ":7",
    "HOME": "/home/ann",
    "SHOWDESK_CONFIG": "/etc/showdesk-test.toml",
    "XDG_CONFIG_HOME": "/home/ann/.config",
    "PATH": "/usr/bin",
    "LANG": "C.UTF-8",
}

# Forms the fast reader takes: each must give the request the full parser gives.
READ_HERE = [
    ["-o", "r.showdesk"],
    ["--output", "r.showdesk", "--json"],
    ["--output=r.showdesk", "--caption=a=b"],
    ["--json", "--monitor", "2", "--no-sysinfo", "-o", "/tmp/x y.showdesk"],
    ["--region", "1,2,30,40", "--caption", "c", "--description", "d", "-o", "r.showdesk"],
    ["--region", " 1, 2,30,40", "-o", "r.showdesk"],
    ["-o", "r.showdesk", "--exclude", "disks", "--exclude=processes", "--backend", "glpi", "--wait", "3"],
    ["-o", "r.showdesk", "--name", "Ann", "--email", "ann@example.org", "--category", "Printer", "--format", "png"],
    ["-o", "first.showdesk", "-o", "last.showdesk", "--caption", "one", "--caption", "two"],
    ["-o", "r.showdesk", "--description", "", "--caption", ""],
    ["-o", "r.showdesk", "--monitor", "+3"],
]
# Forms left to the full parser (another option, an abbreviation, a mistake): nothing is sent.
LEFT_TO_THE_PARSER = [
    [],
    ["--json"],
    ["-o"],
    ["-o", ""],
    ["-or.showdesk"],
    ["-o=r.showdesk"],
    ["--desc", "d", "-o", "r.showdesk"],
    ["--delay", "2", "-o", "r.showdesk"],
    ["--clip", "3", "-o", "r.showdesk"],
    ["--fps", "3", "-o", "r.showdesk"],
    ["--no-agent", "-o", "r.showdesk"],
    ["--submit"],
    ["--gui"],
    ["-h"],
    ["--monitor", "1", "--region", "0,0,5,5", "-o", "r.showdesk"],
    ["--monitor", "one", "-o", "r.showdesk"],
    ["--monitor", "-1", "-o", "r.showdesk"],
    ["--region", "0,0,0,5", "-o", "r.showdesk"],
    ["--region", "0,0,5", "-o", "r.showdesk"],
    ["--caption", "-x", "-o", "r.showdesk"],
    ["--wait", "soon", "-o", "r.showdesk"],
    ["--json=yes", "-o", "r.showdesk"],
    ["-o", "r.showdesk", "extra"],
    ["-o", "r.showdesk", "--"],
]


@pytest.mark.parametrize("args", READ_HERE, ids=" ".join)
def test_the_fast_reader_builds_the_request_the_parser_builds(args: list[str]) -> None:
    handoff = fast_capture.read_capture_args(args, ENVIRON)
    assert handoff is not None
    parsed = cli.build_parser("capture").parse_args(["capture", *args])
    assert handoff.wire == cli.CaptureRequest.from_args(parsed, ENVIRON).to_wire()
    assert (handoff.output, handoff.as_json) == (parsed.output, parsed.json)
    # The command line capturing itself takes the options read here instead of parsing again.
    assert vars(cli.capture_namespace(handoff.options)) == vars(parsed)
    # What the agent reads back from the wire is the request the command line meant.
    assert cli.CaptureRequest.from_wire(json.loads(json.dumps(handoff.wire))) == cli.CaptureRequest.from_args(
        parsed, ENVIRON
    )


@pytest.mark.parametrize("args", LEFT_TO_THE_PARSER, ids=" ".join)
def test_other_forms_are_left_to_the_parser(args: list[str]) -> None:
    assert fast_capture.read_capture_args(args, ENVIRON) is None


def test_the_capture_environment_is_the_cores() -> None:
    assert fast_capture.CAPTURE_ENVIRONMENT_NAMES == cli._CAPTURE_ENVIRONMENT_NAMES
    assert fast_capture.CAPTURE_ENVIRONMENT_PREFIXES == cli._CAPTURE_ENVIRONMENT_PREFIXES
    for environ in (ENVIRON, {**ENVIRON, "DISPLAY": ""}, {"PATH": "/bin"}, {**ENVIRON, "WAYLAND_DISPLAY": "w-0"}):
        assert fast_capture.capture_environment(environ) == cli.capture_environment(environ, environ.get("DISPLAY"))


class StandInAgent:
    """A stand-in for the agent's socket: answers every request as the agent does, with
    ``bundle`` (None: it declines), and keeps the requests it was sent. With ``writes``, it
    writes the bundle to the file the request names and says so (``writes="elsewhere"``: says
    it wrote another file)."""

    def __init__(self, directory: Path, bundle: bytes | None, writes: str = "") -> None:
        self.requests: list[dict[str, Any]] = []
        self._bundle = bundle
        self._writes = writes
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(directory / SOCKET_NAME))
        self._listener.listen(4)
        self._listener.settimeout(60)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # the listener closed: the test is over
            while True:
                connection, _ = self._listener.accept()
                with connection:
                    self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        connection.settimeout(30)
        received = b""
        while not received.endswith(b"\n"):
            received += connection.recv(65536)
        self.requests.append(json.loads(received))
        connection.sendall(b'{"status":"accepted"}\n')
        if self._bundle is None:
            connection.sendall(b'{"status":"declined","reason":"busy"}\n')
            return
        header = {"status": "ok", "bytes": len(self._bundle), "report_id": "r-9", "steps": 1}
        output = self.requests[-1]["args"].get("output")
        if self._writes and output:
            Path(output).write_bytes(self._bundle)
            named = output if self._writes == "itself" else output + ".other"
            connection.sendall(json.dumps({**header, "status": "written", "file": named}).encode() + b"\n")
            return
        connection.sendall(json.dumps(header).encode() + b"\n" + self._bundle)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting on it
        self._listener.close()
        self._thread.join(timeout=30)


# What the launcher's hand-off must not load before its request is out, nor at all when the
# agent answers: the core's command line, its parser, configuration, capture code and Qt.
NOT_LOADED = ("agent.cli", "argparse", "agent.config", "agent.capture", "platformdirs", "PySide6")


def run_launcher(args: list[str], runtime: Path) -> tuple[str, str]:
    """``showdesk.__main__.main(args)`` in a new process; what it printed, and its code and
    which of NOT_LOADED it loaded."""
    code = (
        "import sys\n"
        "from showdesk.__main__ import main\n"
        f"code = main({args!r})\n"
        f"print('LOADED', code, sorted(m for m in {NOT_LOADED!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "SHOWDESK_RUNTIME_DIR": str(runtime)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output, _, loaded = result.stdout.rpartition("LOADED ")
    return output, loaded.strip()


def test_the_launcher_hands_the_capture_over_before_the_core_loads(tmp_path: Path) -> None:
    target = tmp_path / "handed.showdesk"
    agent = StandInAgent(tmp_path, b"PK the agent's bundle")
    try:
        output, loaded = run_launcher(["capture", "--json", "--caption", "c", "-o", str(target)], tmp_path)
    finally:
        agent.close()
    assert loaded == "0 []"
    assert json.loads(output) == {"report_id": "r-9", "file": str(target), "steps": 1, "captured_by": "agent"}
    assert target.read_bytes() == b"PK the agent's bundle"
    [request] = agent.requests
    assert request["command"] == "capture" and request["args"]["caption"] == "c"
    expected = fast_capture.read_capture_args(
        ["--caption", "c", "-o", str(target)], {**os.environ, "SHOWDESK_RUNTIME_DIR": str(tmp_path)}
    )
    # The request names the file (absolute) for an agent that writes it; this one sent the bytes.
    assert expected is not None and request["args"] == {**expected.wire, "output": str(target)}


def test_a_file_the_agent_wrote_is_not_written_again(tmp_path: Path) -> None:
    target = tmp_path / "handed.showdesk"
    agent = StandInAgent(tmp_path, b"PK written by the agent", writes="itself")
    try:
        output, loaded = run_launcher(["capture", "-o", str(target)], tmp_path)
    finally:
        agent.close()
    assert (output, loaded) == (f"saved 1 shot(s) to {target}\n", "0 []")
    assert target.read_bytes() == b"PK written by the agent"
    # The command line only waited for "written": it wrote nothing (no temporary file either).
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_relative_name_reaches_the_agent_resolved(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    agent = StandInAgent(tmp_path, b"PK bytes")
    code = (
        "import os, sys\n"
        f"os.chdir({str(tmp_path / 'out')!r})\n"
        "from showdesk.__main__ import main\n"
        "print('CODE', main(['capture', '-o', 'r.showdesk']))\n"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env={**os.environ, "SHOWDESK_RUNTIME_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        agent.close()
    assert result.stdout.strip().endswith("CODE 0"), result.stderr
    [request] = agent.requests
    assert request["args"]["output"] == str(tmp_path / "out" / "r.showdesk")
    assert (tmp_path / "out" / "r.showdesk").read_bytes() == b"PK bytes"


def test_an_agent_claiming_another_file_is_not_believed(tmp_path: Path) -> None:
    # The answer names a file that was not asked for: the command line takes no capture from it
    # and goes on as without an agent (here: no display, so its own capture fails).
    agent = StandInAgent(tmp_path, b"PK bytes", writes="elsewhere")
    code = (
        "import os\n"
        "os.environ.pop('DISPLAY', None); os.environ.pop('WAYLAND_DISPLAY', None)\n"
        "from showdesk.__main__ import main\n"
        f"print('CODE', main(['capture', '--no-sysinfo', '-o', {str(tmp_path / 'r.showdesk')!r}]))\n"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env={**os.environ, "SHOWDESK_RUNTIME_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        agent.close()
    assert result.stdout.strip().endswith("CODE 4"), result.stderr
    assert len(agent.requests) == 1


def test_a_declined_hand_over_is_not_asked_twice(tmp_path: Path) -> None:
    # The agent says no: the full command line runs (and would capture here); it must not ask
    # the agent a second time. Without a display its own capture fails, which is all it does.
    agent = StandInAgent(tmp_path, None)
    code = (
        "import os, sys\n"
        "os.environ.pop('DISPLAY', None); os.environ.pop('WAYLAND_DISPLAY', None)\n"
        "from showdesk.__main__ import main\n"
        f"code = main(['capture', '--no-sysinfo', '-o', {str(tmp_path / 'r.showdesk')!r}])\n"
        "print('CODE', code)\n"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env={**os.environ, "SHOWDESK_RUNTIME_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        agent.close()
    assert result.stdout.strip().endswith("CODE 4"), result.stderr  # capture is not possible here
    assert len(agent.requests) == 1
    assert not (tmp_path / "r.showdesk").exists()


def test_the_request_is_written_as_json_would_write_it() -> None:
    from agent.laptop.instance_client import encode_capture_message, encode_message

    request: dict[str, Any] = {
        "caption": 'the "print" dialog \\ C:\\temp\n\ttab \x00 \x1f é ü 中文 🖨️ \u2028',
        "monitor": -3,
        "region": [0, 1, 1920, 1080],
        "sysinfo": True,
        "format": None,
        "exclude": [],
        "environment": {"DISPLAY": ":0", "SHOWDESK_X": "ä=ö"},
        "nested": [{"a": [None, False, 0, 2**70]}],
    }
    fast = encode_capture_message(request)
    assert fast.endswith(b"\n") and fast.count(b"\n") == 1  # one line, whatever the text holds
    assert json.loads(fast) == json.loads(encode_message("capture", request)) == {"command": "capture", "args": request}
    for refused in (1.5, b"bytes", {1, 2}, {1: "key not text"}, object()):
        with pytest.raises(TypeError):
            encode_capture_message({"caption": refused})
