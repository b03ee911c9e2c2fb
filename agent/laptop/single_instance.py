"""One agent per user: the first instance holds a lock and listens; later launches hand it their command.

The lock (``agent.lock``) and the socket (``agent.sock``) live in the per-user runtime directory.
The lock decides who is first, so two launches at the same moment cannot both win, and it is
taken over when its holder died (Qt checks the process id). Later launches talk to the socket
through :mod:`agent.laptop.instance_client`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from agent.laptop.instance_client import (
    LOCK_NAME,
    MAX_HEADER_BYTES,
    MAX_MESSAGE_BYTES,
    RESERVED_ARGS,
    agent_runtime_dir,
    decode_message,
    server_name,
    socket_path,
)

log = logging.getLogger(__name__)


class HandoffReply:
    """Where the answer to one `showdesk capture` handed to this agent goes; used once.

    ``command_received("capture", args)`` carries it as ``args["reply"]``. The command line
    already heard that the request was taken; it gets either :meth:`send` (a header line and the
    bundle's bytes) or :meth:`decline` (it then captures itself). A command line that gave up
    waiting has closed its end: the answer is dropped.
    """

    def __init__(self, connection: QLocalSocket) -> None:
        self._connection: QLocalSocket | None = connection

    @property
    def answered(self) -> bool:
        return self._connection is None

    def send(self, data: bytes, *, report_id: str, steps: int) -> None:
        self._answer({"status": "ok", "bytes": len(data), "report_id": report_id, "steps": steps}, data)

    def decline(self, reason: str) -> None:
        self._answer({"status": "declined", "reason": reason[:200]}, b"")

    def _answer(self, header: dict[str, Any], data: bytes) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        line = json.dumps(header, separators=(",", ":")).encode() + b"\n"
        assert len(line) <= MAX_HEADER_BYTES
        try:
            connection.write(line + data)
            connection.flush()
            connection.disconnectFromServer()  # after every byte is written
        except RuntimeError:  # the command line went away and Qt deleted the connection
            log.debug("the command line stopped waiting for its capture")


class InstanceServer(QObject):
    """Claims the per-user agent lock and receives later launches' commands."""

    # (command, args); a "capture" carries its HandoffReply as args["reply"]. `object`, not
    # `dict`: Qt would convert a dict to a QVariantMap and lose the reply object.
    command_received = Signal(str, object)

    def __init__(self, directory: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.directory = directory or agent_runtime_dir()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = QLockFile(str(self.directory / LOCK_NAME))
        self._lock.setStaleLockTime(0)  # stale only when its process is gone
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._claimed = False

    @property
    def path(self) -> Path:
        return socket_path(self.directory)

    def claim(self) -> bool:
        """True when this process is the first agent of this user (and now listens)."""
        if self._claimed:
            return True
        if not self._lock.tryLock(0):
            return False
        # Whatever socket is there belongs to a dead instance: the lock is ours.
        name = server_name(self.directory)
        QLocalServer.removeServer(name)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if not self._server.listen(name):
            log.error("cannot listen on %s: %s", self.path, self._server.errorString())
            self._lock.unlock()
            return False
        with contextlib.suppress(OSError):
            self.path.chmod(0o600)
        self._claimed = True
        return True

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            connection = self._server.nextPendingConnection()
            connection.readyRead.connect(self._read)
            connection.disconnected.connect(connection.deleteLater)

    def _read(self) -> None:
        connection = self.sender()
        if not isinstance(connection, QLocalSocket):
            return
        if not connection.canReadLine() and connection.bytesAvailable() <= MAX_MESSAGE_BYTES:
            return  # wait for the whole line
        line = bytes(connection.readLine(MAX_MESSAGE_BYTES + 1).data()).rstrip(b"\n")
        try:
            command, args = decode_message(line)
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("ignoring a malformed message on the agent socket: %s", exc)
            connection.write(b"error\n")
        else:
            for name in RESERVED_ARGS:
                args.pop(name, None)
            if command == "capture":
                # The connection stays open for the capture's bytes; the command line learns
                # at once that it may wait for them.
                connection.write(b'{"status":"accepted"}\n')
                connection.flush()
                args["reply"] = HandoffReply(connection)
                self.command_received.emit(command, args)
                return
            connection.write(b"ok\n")
            self.command_received.emit(command, args)
        connection.flush()
        connection.disconnectFromServer()

    def release(self) -> None:
        """Stop listening and give the lock up (only what this object claimed)."""
        if not self._claimed:
            return
        self._claimed = False
        self._server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._lock.unlock()
