"""Talking to the running agent from another process: no Qt here, so it starts fast.

The lock (``agent.lock``) and the socket (``agent.sock``) live in the per-user runtime directory.
The lock decides who is first, so two launches at the same moment cannot both win, and it is
taken over when its holder died (Qt checks the process id). A later launch sends one line of
JSON (``{"command": "report"}``) over the socket, waits for ``ok``, and exits: that is how a
second launch brings the first forward, and how ``showdesk capture --gui`` reaches a resident
agent fast (on POSIX the sender needs no Qt at all, only a Unix socket).
"""

from __future__ import annotations

import _socket  # socket's own C module: the hand-off needs nothing of socket.py's wrappers (enums, selectors)
import os
import sys
import time

# `showdesk capture -o FILE` sends its request through this module before anything else of the
# command line loads (showdesk.fast_capture): typing, pathlib, threading and json (with re, for
# its decoder) would cost it several ms before the agent even hears of it, so they load only where
# they are used; the request itself is written by _json_text.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any, Final

SOCKET_NAME: Final = "agent.sock"
LOCK_NAME: Final = "agent.lock"
# One request line: room for a capture's description (4,000 characters, each escaped) and no more.
MAX_MESSAGE_BYTES: Final = 64 * 1024
COMMANDS: Final = ("show", "report", "record", "requests", "outbox", "settings", "wake", "quit", "capture")
# Arguments only the agent's own socket server sets (a reply handle); never taken from the wire.
RESERVED_ARGS: Final = ("reply",)
# A capture's argument naming the file the agent writes the bundle to itself (usable_output_path).
OUTPUT_ARG: Final = "output"
MAX_OUTPUT_PATH_CHARS: Final = 4096

# `showdesk capture` handed to the running agent: the agent first says it took the request (a
# silent listener costs the command line this long before it captures itself), then sends one
# header line and the bundle's bytes; the whole answer has this long.
HANDOFF_ACCEPT_SECONDS: Final = 1.0
HANDOFF_ANSWER_SECONDS: Final = 20.0
MAX_HEADER_BYTES: Final = 1024
MAX_HANDOFF_BUNDLE_BYTES: Final = 200 * 1024 * 1024  # agent.bundle.MAX_BUNDLE_BYTES
RUNTIME_DIR_ENV: Final = "SHOWDESK_RUNTIME_DIR"  # agent.fsutil.RUNTIME_DIR_ENV, without its imports


def agent_runtime_dir() -> Path:
    from agent.fsutil import runtime_dir

    directory = runtime_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def _runtime_dir_at_hand() -> Path:
    """The runtime directory without importing platformdirs where the environment names it
    (agent.fsutil.runtime_dir gives the same answer: ``$XDG_RUNTIME_DIR/showdesk`` on Linux)."""
    from pathlib import Path

    return Path(_runtime_dir_name())


def _runtime_dir_name() -> str:
    """:func:`_runtime_dir_at_hand` as text, without pathlib (see the imports above)."""
    # agent.fsutil (and logging, tempfile with it) loads only where the environment does not say:
    # the command line writes the bundle with it, and imports it while the agent captures.
    override = os.environ.get(RUNTIME_DIR_ENV)
    if override:
        return override
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if sys.platform.startswith("linux") and xdg.strip():
        return os.path.join(xdg, "showdesk")  # noqa: PTH118 - pathlib stays off this path (see the imports)
    from agent.fsutil import runtime_dir

    return str(runtime_dir())


def socket_path(directory: Path | None = None) -> Path:
    return (directory or agent_runtime_dir()) / SOCKET_NAME


def server_name(directory: Path | None = None) -> str:
    """What the agent listens on: a socket file in the runtime dir, or a per-user pipe name on Windows."""
    if sys.platform == "win32":  # pragma: no cover - named pipes take names, not paths
        import getpass
        import hashlib

        where = hashlib.sha256(str(directory or agent_runtime_dir()).encode()).hexdigest()[:12]
        return f"showdesk-agent-{getpass.getuser()}-{where}"
    return str(socket_path(directory))


def usable_output_path(value: object) -> str | None:
    """``value`` when the agent may write a capture's bundle there for the command line, else None.

    That is an absolute, normalised path (the command line resolves it in its own directory)
    naming an entry of a directory that exists, which is not itself a directory. What the file
    system then allows is the user's own rights: the agent runs as the same user (and checks the
    peer's credentials), and writes the way the command line would, never following a link to
    create its temporary file.
    """
    if not isinstance(value, str) or not 0 < len(value) <= MAX_OUTPUT_PATH_CHARS or "\0" in value:
        return None
    # os.path, not pathlib: the command line checks its path before the request goes out.
    if not os.path.isabs(value) or os.path.normpath(value) != value:  # noqa: PTH117
        return None
    parent, name = os.path.split(value)
    if name in ("", ".", "..") or not os.path.isdir(parent) or os.path.isdir(value):  # noqa: PTH112
        return None
    return value


def encode_message(command: str, args: dict[str, Any] | None = None) -> bytes:
    if command not in COMMANDS:
        raise ValueError(f"unknown agent command {command!r}; known: {', '.join(COMMANDS)}")
    import json

    return json.dumps({"command": command, "args": args or {}}, separators=(",", ":")).encode() + b"\n"


def _json_text(value: object) -> str:
    """``value`` (text, whole numbers, true/false, null, lists and objects with text keys) as
    compact JSON, without loading the json package; TypeError for anything else, as json.dumps."""
    if isinstance(value, str):
        return _quoted(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_text(item) for item in value) + "]"
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("object keys must be text")
        return "{" + ",".join(f"{_quoted(key)}:{_json_text(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"{type(value).__name__} is not part of a capture request")


try:
    from _json import encode_basestring_ascii as _quoted  # json's own C string encoder
except ImportError:  # pragma: no cover - an interpreter without json's C accelerator
    from json.encoder import py_encode_basestring_ascii as _quoted


def encode_capture_message(request: dict[str, Any]) -> bytes:
    """:func:`encode_message` of a capture request (the same JSON), before json is loaded."""
    return _json_text({"command": "capture", "args": request}).encode() + b"\n"


def decode_message(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(command, args) from one line; ValueError naming what is wrong with it."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ValueError("message too long")
    import json

    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict) or data.get("command") not in COMMANDS:
        raise ValueError("not an agent command")
    args = data.get("args") or {}
    if not isinstance(args, dict):
        raise ValueError("arguments must be an object")
    return str(data["command"]), args


ANSWER_TIMEOUT: Final = 5.0


def send_command(
    command: str, args: dict[str, Any] | None = None, *, directory: Path | None = None, timeout: float = 3.0
) -> bool:
    """Hand ``command`` to the running agent; True when it answered ``ok``.

    Retries connecting until ``timeout`` (the first instance may hold the lock but not listen
    yet); with 0, one attempt. Once connected, it waits up to ``ANSWER_TIMEOUT`` for the answer
    and never sends the command twice.
    """
    message = encode_message(command, args)
    name = server_name(directory)
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = _exchange(name, message)
        except OSError:
            return False  # connected, but the agent did not answer: it has the command or is hung
        if answer is not None:
            return answer.strip() == b"ok"
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)  # the first instance is starting: poll its socket until the deadline


def _exchange(name: str, message: bytes) -> bytes | None:
    """The agent's answer, or None when nothing listens (OSError: connected but no answer)."""
    if sys.platform == "win32":  # pragma: no cover - named pipes through Qt on Windows
        return _exchange_qt(name, message, ANSWER_TIMEOUT)
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(ANSWER_TIMEOUT)
        try:
            client.connect(name)
        except (FileNotFoundError, ConnectionRefusedError):
            return None
        client.sendall(message)
        answer = b""
        while not answer.endswith(b"\n") and len(answer) < 64:
            chunk = client.recv(64)
            if not chunk:
                break
            answer += chunk
        return answer


def _exchange_qt(name: str, message: bytes, timeout: float) -> bytes | None:  # pragma: no cover - Windows
    from PySide6.QtNetwork import QLocalSocket

    client = QLocalSocket()
    client.connectToServer(name)
    if not client.waitForConnected(int(timeout * 1000)):
        return None
    client.write(message)
    client.waitForBytesWritten(int(timeout * 1000))
    if not client.waitForReadyRead(int(timeout * 1000)):
        raise OSError("the agent took the command but did not answer")
    answer = bytes(client.readAll().data())
    client.disconnectFromServer()
    return answer


def request_capture(
    request: dict[str, Any],
    *,
    directory: Path | None = None,
    accept_timeout: float = HANDOFF_ACCEPT_SECONDS,
    answer_timeout: float = HANDOFF_ANSWER_SECONDS,
    while_waiting: Callable[[], object] | None = None,
) -> tuple[dict[str, Any], bytes] | None:
    """The running agent's capture for ``request``: (its header, the bundle's bytes), or None.

    With ``request[OUTPUT_ARG]`` (see :func:`usable_output_path`) the agent may write the bundle
    to that file itself: the header's status is then ``written`` and the bytes are empty.

    None whenever the command line should capture itself: no agent, a stale socket, an agent
    that declines (another display, another configuration, busy, the desktop portal), and any
    answer that is late, malformed or beyond its bounds. Never waits longer than
    ``accept_timeout`` for the agent to take the request, nor ``answer_timeout`` in all.
    ``while_waiting`` runs once the request is sent, on this thread (the caller's own
    preparation, such as the imports it writes the bundle with), while the agent captures.
    """
    if sys.platform == "win32":  # pragma: no cover - the hand-off speaks a Unix socket
        return None
    try:
        message = encode_capture_message(request)
    except (TypeError, ValueError):
        return None
    if len(message) > MAX_MESSAGE_BYTES:
        return None  # the agent would refuse it: capture here
    deadline = time.monotonic() + answer_timeout
    try:
        client = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            client.settimeout(accept_timeout)
            where = str(directory) if directory is not None else _runtime_dir_name()
            client.connect(os.path.join(where, SOCKET_NAME))  # noqa: PTH118 - as above
            client.sendall(message)
            if while_waiting is not None:
                _quietly(while_waiting)
            reader = _BoundedReader(client)
            accepted = _header(reader.line(min(deadline, time.monotonic() + accept_timeout)))
            if accepted.get("status") != "accepted":
                return None
            header = _header(reader.line(deadline))
            size = header.get("bytes")
            if header.get("status") == "written":
                # The agent wrote the file the request named (OUTPUT_ARG): there are no bytes to read.
                if request.get(OUTPUT_ARG) is None or header.get("file") != request.get(OUTPUT_ARG):
                    raise ValueError("the agent says it wrote a file that was not asked for")
                return header, b""
            if header.get("status") != "ok" or not isinstance(size, int) or not 0 < size <= MAX_HANDOFF_BUNDLE_BYTES:
                _debug("the agent did not capture: %s", header.get("reason", header.get("status")))
                return None
            return header, reader.exactly(size, deadline)
        finally:
            client.close()
    except (OSError, ValueError) as exc:  # refused, gone, late, or not speaking the protocol
        _debug("capturing here: the agent's socket gave no capture (%s)", exc)
        return None


def _debug(message: str, *args: object) -> None:
    # Before logging is loaded nothing can be listening for a debug message: the command line
    # asks the agent before it sets logging up, and loading logging to drop a message would put
    # its import before the capture made here when no agent runs.
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger(__name__).debug(message, *args)


def _quietly(job: Callable[[], object]) -> None:
    """A side job whose failure only means the caller does that work itself later."""
    try:
        job()
    except Exception as exc:  # noqa: BLE001 - the caller's main path redoes and reports it
        _debug("a job beside the hand-off failed: %s", exc)


def _header(line: bytes) -> dict[str, Any]:
    import json  # after the request went out: it loads while the agent captures

    data = json.loads(line.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("the agent's answer is not an object")
    return data


class _BoundedReader:
    """Reads a socket up to a deadline, a header line of at most ``MAX_HEADER_BYTES``."""

    def __init__(self, client: _socket.socket) -> None:
        self._client = client
        self._buffer = bytearray()

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the agent did not answer in time")
        self._client.settimeout(remaining)
        chunk = self._client.recv(1024 * 1024)
        if not chunk:
            raise ConnectionError("the agent closed the connection")
        self._buffer += chunk

    def line(self, deadline: float) -> bytes:
        while (end := self._buffer.find(b"\n", 0, MAX_HEADER_BYTES + 1)) < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise ValueError("the agent's header line is too long")
            self._fill(deadline)
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    def exactly(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            self._fill(deadline)
        if len(self._buffer) > size:
            raise ValueError("the agent sent more than it announced")
        return bytes(self._buffer)
