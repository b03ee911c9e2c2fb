"""Talking to the running agent from another process: no Qt here, so it starts fast.

The lock (``agent.lock``) and the socket (``agent.sock``) live in the per-user runtime directory.
The lock decides who is first, so two launches at the same moment cannot both win, and it is
taken over when its holder died (Qt checks the process id). A later launch sends one line of
JSON (``{"command": "report"}``) over the socket, waits for ``ok``, and exits: that is how a
second launch brings the first forward, and how ``showdesk capture --gui`` reaches a resident
agent fast (on POSIX the sender needs no Qt at all, only a Unix socket).
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import time
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

SOCKET_NAME: Final = "agent.sock"
LOCK_NAME: Final = "agent.lock"
MAX_MESSAGE_BYTES: Final = 4096
COMMANDS: Final = ("show", "report", "record", "requests", "outbox", "settings", "wake", "quit")


def agent_runtime_dir() -> Path:
    from agent.fsutil import runtime_dir

    directory = runtime_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


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


def encode_message(command: str, args: dict[str, Any] | None = None) -> bytes:
    if command not in COMMANDS:
        raise ValueError(f"unknown agent command {command!r}; known: {', '.join(COMMANDS)}")
    return json.dumps({"command": command, "args": args or {}}, separators=(",", ":")).encode() + b"\n"


def decode_message(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(command, args) from one line; ValueError naming what is wrong with it."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ValueError("message too long")
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
