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
import os
import socket
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QLockFile, QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from agent.laptop.instance_client import (
    LOCK_NAME,
    MAX_HEADER_BYTES,
    MAX_MESSAGE_BYTES,
    OUTPUT_ARG,
    RESERVED_ARGS,
    agent_runtime_dir,
    decode_message,
    server_name,
    socket_path,
    usable_output_path,
)

log = logging.getLogger(__name__)


class _Written(QObject):
    """Carries a bundle file's written (or failed) state from the writing thread to ``callback`` on
    the GUI thread: a signal to one of its own slots is queued there.

    Owned by the application object, not by Python: the writing thread holds it and drops its
    references where it ends, and a Python-owned QObject would then be deleted on that thread,
    perhaps while the GUI thread is in :meth:`_deliver` (a crash). The thread asks for its
    ``deleteLater()`` as its last act instead (docs/architecture.md, worker threads).
    """

    done = Signal(object)  # OSError | None

    def __init__(self, callback: Callable[[OSError | None], None]) -> None:
        super().__init__(QCoreApplication.instance())
        self._callback = callback
        self.done.connect(self._deliver)

    @Slot(object)
    def _deliver(self, error: OSError | None) -> None:
        self._callback(error)


class HandoffReply:
    """Where the answer to one `showdesk capture` handed to this agent goes; used once.

    ``command_received("capture", args)`` carries it as ``args["reply"]``. The command line
    already heard that the request was taken; it gets either :meth:`send` or :meth:`decline`
    (it then captures itself). A command line that gave up waiting has closed its end: the
    answer is dropped.

    :meth:`send` answers with a header line and the bundle's bytes; or, when the command line
    named its file (``output``: an absolute path in an existing directory, checked by
    :func:`~agent.laptop.instance_client.usable_output_path`), it writes the file itself as the
    command line would (a new private temporary file beside it, synced, renamed over the name,
    the directory synced) on a thread of its own, and says "written": the bytes never cross the
    socket. If that write fails, the bytes go over the socket after all and the command line
    writes them and reports what goes wrong.
    """

    def __init__(self, connection: QLocalSocket, output: str | None = None) -> None:
        self._connection: QLocalSocket | None = connection
        self._output = output

    @property
    def answered(self) -> bool:
        return self._connection is None

    def send(self, data: bytes, *, report_id: str, steps: int) -> None:
        header: dict[str, Any] = {"status": "ok", "bytes": len(data), "report_id": report_id, "steps": steps}
        output = self._output
        if output is None or self._connection is None:
            self._answer(header, data)
            return

        def written(error: OSError | None) -> None:
            if error is None:
                self._answer({**header, "status": "written", "file": output}, b"")
            else:
                log.warning("the capture's file could not be written here (%s): the command line writes it", error)
                self._answer(header, data)

        # Made on this (the GUI) thread: the writing thread's signal is queued back here.
        messenger = _Written(written)
        threading.Thread(
            target=_write_and_let_go, args=(output, data, messenger), name="handoff-write", daemon=True
        ).start()

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


def _write_and_let_go(output: str, data: bytes, messenger: _Written) -> None:
    """The writing thread: the bundle's file, then the messenger handed to the GUI thread to delete
    (after its queued answer, which was posted first)."""
    try:
        _write_bundle(output, data, messenger.done)
    finally:
        with contextlib.suppress(RuntimeError):  # the application object is gone: the process ends
            messenger.deleteLater()  # thread-safe: posted to the GUI thread, which deletes it there


def _write_bundle(output: str, data: bytes, done: Any) -> None:
    """The command line's own atomic write of the bundle (agent.fsutil.atomic_write_bytes), then
    ``done.emit(None)``, or ``done.emit(error)`` with nothing left behind."""
    from agent.fsutil import atomic_write_bytes

    try:
        atomic_write_bytes(Path(output), data)
    except OSError as exc:
        done.emit(exc)
    else:
        done.emit(None)


def _same_user(connection: QLocalSocket) -> bool:
    """Whether the process at the other end runs as this user (Linux: the socket's peer credentials).

    The socket is this user's alone already (mode 0600 in a 0700 directory); a file is written
    for the peer only when the kernel says so too.
    """
    if not sys.platform.startswith("linux"):
        return False
    descriptor = int(connection.socketDescriptor())
    if descriptor < 0:
        return False
    try:
        with socket.socket(fileno=os.dup(descriptor)) as peer:
            credentials = peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return False
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return bool(uid == os.getuid())


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
                output = usable_output_path(args.pop(OUTPUT_ARG, None))
                args["reply"] = HandoffReply(connection, output if output and _same_user(connection) else None)
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
