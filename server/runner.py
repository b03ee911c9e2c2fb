"""Running the server: lock the data directory, open the store, serve with uvicorn.

One process, one uvicorn worker: the event loop only streams bodies while the thread pool
does the blocking work. A second server on the same data directory is refused (a lock file),
because start-up clears leftover upload files and rotates the hand-over tokens.

The lock guards the data directory, not the database: on SQLite the database is in it, so one
server per database follows; on PostgreSQL (``--database postgresql://…``) several servers
share the database, each with a data directory of its own. The lock is still taken then,
because the data directory keeps files of one process: the upload spool that start-up clears
(a sibling's uploads in flight would go), thumbnails, and with local blobs the blob directory
whose temporary files start-up clears too. Several processes on one PostgreSQL therefore keep
their attachment files in an S3-compatible store (``--blobs s3://…``), which all of them
share; with a local blob directory only the one process that owns it can serve its files.

Connections are bounded by server.connection_limits (header, body and keep-alive timeouts,
a connection cap); the open-file limit is raised to the hard limit first, and the cap shrinks
to fit it unless set explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Final

import uvicorn

from agent.fsutil import PRIVATE_FILE_MODE, make_private_dir
from server.app import ChangeNotifier, create_app
from server.blob_location import open_blobs
from server.blobs import BlobStoreUnavailableError
from server.connection_limits import (
    ConnectionGuard,
    ConnectionLimits,
    effective_max_connections,
    raise_open_file_limit,
)
from server.handover import remove_handover, write_handover
from server.settings import DEFAULT_MAX_CONNECTIONS, Settings, version
from server.store import Store, StoreError

log = logging.getLogger("showdesk.server")
LOCK_FILENAME: Final = "server.lock"
GRACEFUL_SHUTDOWN_SECONDS: Final = 10


class DataDirInUseError(RuntimeError):
    pass


class DataDirLock:
    """An exclusive lock on the data directory, held while the server runs (released by the OS on a crash)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILENAME
        self._stream: IO[str] | None = None

    def __enter__(self) -> DataDirLock:
        # Private like everything in the data directory, whatever the umask (it holds a pid).
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        if hasattr(os, "fchmod"):  # not on Windows, where the mode bits mean little
            with contextlib.suppress(OSError):
                os.fchmod(fd, PRIVATE_FILE_MODE)
        stream = os.fdopen(fd, "r+", encoding="utf-8")
        try:
            _lock_file(stream)
        except OSError:
            stream.close()
            raise DataDirInUseError(f"another ShowDesk server is using {self.path.parent}") from None
        stream.seek(0)
        stream.truncate()
        stream.write(f"{os.getpid()}\n")
        stream.flush()
        self._stream = stream
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _lock_file(stream: IO[str]) -> None:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(stream.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


class _Server(uvicorn.Server):
    """uvicorn's server, plus: quiet accept errors, the hand-over file once listening, clean-up before exit."""

    def __init__(
        self,
        config: uvicorn.Config,
        settings: Settings,
        store: Store,
        notifier: ChangeNotifier,
        guard: ConnectionGuard,
        *,
        handover: bool,
    ) -> None:
        super().__init__(config)
        self.settings = settings
        self.guard = guard
        self.store = store
        self.notifier = notifier
        self.handover = handover
        self.handover_file: Path | None = None
        self.handover_tokens: dict[str, str] = {}

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # Before listening: the first accept() may already fail for want of descriptors.
        self.guard.install_accept_error_handler(asyncio.get_running_loop())
        await super().startup(sockets=sockets)
        if not self.started:
            return
        log.info("ShowDesk server %s listening on %s", version(), self.settings.listen_url)
        log.info("data directory: %s", self.settings.data_dir)
        log.info("connections: %s", self.guard.limits.describe())
        if self.settings.public_url:
            log.info("public URL: %s", self.settings.base_url)
        if self.settings.trusted_proxies:
            log.info("client addresses from X-Forwarded-For of: %s", ", ".join(self.settings.trusted_proxies))
        if self.handover:
            self.handover_tokens = self.store.rotate_handover_tokens()
            self.handover_file = write_handover(self.settings, self.handover_tokens)
            log.info("hand-over file for local clients: %s", self.handover_file)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # Long polls answer now instead of holding the shutdown for up to 30 s.
        self.notifier.close_threadsafe()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets=sockets)
        self.clean_up()
        # A signal that asked for this shutdown has been honoured: exit normally (status 0)
        # instead of uvicorn re-raising it once serving ends.
        self._captured_signals.clear()

    def clean_up(self) -> None:
        if self.handover_file is not None:
            remove_handover(self.handover_file)
            self.handover_file = None
        if self.handover_tokens:
            try:
                self.store.revoke_handover_tokens(self.handover_tokens)
            finally:
                self.handover_tokens = {}
        log.info("stopped cleanly")


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def connection_limits(settings: Settings, open_file_limit: int | None) -> ConnectionLimits:
    return ConnectionLimits(
        header_timeout=settings.header_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        keep_alive_timeout=settings.keep_alive_timeout_seconds,
        max_connections=effective_max_connections(settings.max_connections, DEFAULT_MAX_CONNECTIONS, open_file_limit),
        max_header_bytes=settings.max_header_bytes,
        backlog=settings.listen_backlog,
    )


def serve(settings: Settings, *, handover: bool = True, log_level: str = "info") -> int:
    """Run until SIGINT or SIGTERM; returns the process exit status."""
    configure_logging(log_level)
    open_files = raise_open_file_limit()
    if open_files is not None:
        log.info("open-file limit: %d (hard limit %d)", *open_files)
    limits = connection_limits(settings, None if open_files is None else open_files[0])
    try:
        make_private_dir(settings.data_dir)
        with DataDirLock(settings.data_dir):
            store = Store(
                settings.data_dir,
                busy_timeout=settings.busy_timeout_seconds,
                database=settings.database,
                connect_timeout=settings.database_connect_timeout_seconds,
                statement_timeout=settings.database_statement_timeout_seconds,
            )
            log.info("database: %s", store.describe())
            try:
                blobs = open_blobs(settings.data_dir, settings.blobs)
                # Refuse to start rather than accept reports whose files could not be stored.
                blobs.check()
            except (ValueError, BlobStoreUnavailableError) as exc:
                store.close()
                log.error("cannot start: the files' store: %s", exc)
                return 1
            log.info("attachment files in %s", blobs.describe())
            stale = blobs.remove_stale_temps()
            if stale:
                log.info("removed %d unfinished upload(s) left by an earlier stop", stale)
            app = create_app(settings, store, blobs)
            guard = ConnectionGuard(limits)
            config = uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                http=guard.protocol_class(),
                backlog=limits.backlog,
                h11_max_incomplete_event_size=limits.max_header_bytes,
                log_config=None,
                access_log=False,
                lifespan="on",
                server_header=False,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
                # Set here, not left to uvicorn's default, which a FORWARDED_ALLOW_IPS variable
                # in the environment would silently widen.
                proxy_headers=True,
                forwarded_allow_ips=settings.forwarded_allow_ips,
            )
            server = _Server(config, settings, store, app.state.context.notifier, guard, handover=handover)
            try:
                server.run()
            finally:
                if server.handover_file is not None:  # serving failed half way
                    server.clean_up()
                store.close()
                blobs.close()
            return 0 if server.started else 1
    except DataDirInUseError as exc:
        log.error("%s; stop it first or use another --data directory", exc)
        return 1
    except (StoreError, OSError, ValueError) as exc:
        log.error("cannot start with data directory %s: %s", settings.data_dir, exc)
        return 1
