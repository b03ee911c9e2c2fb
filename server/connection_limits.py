"""Connection hygiene for the built-in server: timeouts, a connection cap, quiet accept errors.

The server is meant to be reachable from a site's network, where a buggy or hostile client
can open sockets and never use them. uvicorn bounds the idle time between two requests on
a kept-alive connection (``timeout_keep_alive``) and the size of a request head
(``h11_max_incomplete_event_size``), but it has no timeout for a request head that never
completes (a fresh connection that sends nothing, or a head dribbled a byte at a time), none
for a body that stops arriving, and its ``limit_concurrency`` answers 503 to every request
once there are that many *connections*, so idle sockets would starve real clients. This
module closes those gaps with a subclass of uvicorn's h11 protocol:

* header timeout: a request head must be complete within ``header_timeout`` of the
  connection's start (or of the first byte of a next request on a kept-alive connection);
  bytes arriving do not extend it, so dribbling does not help;
* body timeout: while a request body is expected, at most ``body_timeout`` may pass without a
  byte arriving (time during which the server itself paused reading does not count). The
  connection is then closed, which the application sees as a client disconnect, so an
  upload's clean-up runs as for any client that went away;
* connection cap: at ``max_connections`` open connections, a new one first displaces the
  connection that has been waiting longest for a request head; only when every connection
  is busy with a request is the new one answered 503 at once and closed.

Accept errors (EMFILE and friends) and each kind of closing are logged through
``RateLimitedLog``: at most one line per interval, carrying a count of the lines it held back,
so a flood cannot fill the disk with the log.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

log = logging.getLogger("showdesk.server")

# Descriptors kept free for what is not a connection: the database and its WAL, the lock and
# log files, image files being checked, the thread pool's work.
RESERVED_FILE_DESCRIPTORS: Final = 64
# An upload holds its socket and one temporary file at a time.
FILE_DESCRIPTORS_PER_CONNECTION: Final = 2
LOG_INTERVAL_SECONDS: Final = 10.0
ACCEPT_ERROR_MESSAGE: Final = "socket.accept() out of system resource"
_REFUSAL_BODY: Final = b"the server has too many open connections; try again shortly\n"
REFUSAL_RESPONSE: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"retry-after: 5\r\n"
    b"connection: close\r\n"
    b"content-length: " + str(len(_REFUSAL_BODY)).encode() + b"\r\n\r\n" + _REFUSAL_BODY
)
# asyncio may run a timer up to its clock resolution early; a deadline that close has passed.
_DEADLINE_SLACK_SECONDS: Final = 0.001


@dataclass(frozen=True)
class ConnectionLimits:
    """The bounds the protocol enforces (seconds, counts and bytes)."""

    header_timeout: float
    body_timeout: float
    keep_alive_timeout: float
    max_connections: int
    max_header_bytes: int
    backlog: int

    def describe(self) -> str:
        return (
            f"header timeout {self.header_timeout:g} s, body timeout {self.body_timeout:g} s between bytes, "
            f"keep-alive {self.keep_alive_timeout:g} s, at most {self.max_connections} connections, "
            f"request head at most {self.max_header_bytes} bytes, listen backlog {self.backlog}"
        )


class RateLimitedLog:
    """Log lines of one kind at most once per ``interval``; the next line tells how many were held back."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = LOG_INTERVAL_SECONDS,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.level = level
        self.clock = clock
        self.suppressed = 0
        self._last: float | None = None

    def __call__(self, message: str, *args: object) -> None:
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            self.suppressed += 1
            return
        if self.suppressed:
            message += " (and %d more like it in the last %.0f s)"
            args = (*args, self.suppressed, now - self._last if self._last is not None else 0.0)
        self.logger.log(self.level, message, *args)
        self.suppressed = 0
        self._last = now


def raise_open_file_limit() -> tuple[int, int] | None:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; returns (soft, hard), or None where unknown.

    The soft limit is often 1,024 while the hard one allows far more; every connection costs a
    descriptor, so the server takes what it is allowed.
    """
    if sys.platform == "win32":
        return None
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:
        # macOS refuses an unlimited soft limit; this is its per-process ceiling.
        target = 10240 if sys.platform == "darwin" else soft
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, exc)
    return soft, hard


def connection_budget(open_file_limit: int) -> int:
    """How many connections fit in ``open_file_limit`` descriptors next to what the server itself uses."""
    return max(1, (open_file_limit - RESERVED_FILE_DESCRIPTORS) // FILE_DESCRIPTORS_PER_CONNECTION)


def effective_max_connections(configured: int | None, default: int, open_file_limit: int | None) -> int:
    """The cap to enforce: ``configured`` as given, else ``default`` shrunk to fit the open-file limit."""
    if configured is not None:
        if open_file_limit is not None and configured > connection_budget(open_file_limit):
            log.warning(
                "at most %d connections allowed, but the open-file limit %d fits about %d: accepting may fail "
                "with 'too many open files' under load",
                configured,
                open_file_limit,
                connection_budget(open_file_limit),
            )
        return configured
    if open_file_limit is None:
        return default
    return min(default, connection_budget(open_file_limit))


class ConnectionGuard:
    """What every connection of one server shares: the limits and the rate-limited log lines."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.log_refused = RateLimitedLog(log)
        self.log_displaced = RateLimitedLog(log, level=logging.INFO)
        self.log_header_timeout = RateLimitedLog(log, level=logging.INFO)
        self.log_body_timeout = RateLimitedLog(log, level=logging.INFO)
        self.log_accept_error = RateLimitedLog(log)

    def protocol_class(self) -> type[GuardedH11Protocol]:
        """uvicorn's ``http`` protocol class for this guard (uvicorn builds it with its own arguments)."""
        return type("BoundGuardedH11Protocol", (GuardedH11Protocol,), {"guard": self})

    def install_accept_error_handler(self, loop: asyncio.AbstractEventLoop) -> None:
        """Log accept errors rate-limited instead of asyncio's traceback per failed accept().

        At the open-file limit asyncio retries accept() up to the listen backlog times per
        wake-up and reports every failure with a traceback: megabytes of log a second.
        """
        previous = loop.get_exception_handler()

        def handle(event_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            if context.get("message") == ACCEPT_ERROR_MESSAGE:
                exc = context.get("exception")
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self.log_accept_error("cannot accept new connections: %s", reason)
                return
            if previous is not None:
                previous(event_loop, context)
            else:
                event_loop.default_exception_handler(context)

        loop.set_exception_handler(handle)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header timeout, a body timeout and a connection cap.

    One timer per connection watches the current phase; it fires at the phase's deadline and
    re-arms itself when progress moved the deadline (cheaper than a new timer per chunk).
    """

    guard: ClassVar[ConnectionGuard]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # uvicorn annotates this as whole seconds, but it only reaches loop.call_later.
        self.timeout_keep_alive = self.guard.limits.keep_alive_timeout  # type: ignore[assignment]
        self._watchdog: asyncio.TimerHandle | None = None
        # When the request head now awaited began (None: no head in progress, or kept alive idle).
        self._head_started: float | None = None
        # When the connection last became free of requests; the longest waiting one is displaced first.
        self._idle_since = 0.0
        self._watched_cycle: object | None = None
        self._body_progress = 0.0

    # ------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        at_cap = len(self.connections) >= self.guard.limits.max_connections
        super().connection_made(transport)  # type: ignore[arg-type]
        now = self.loop.time()
        self._head_started = now
        self._idle_since = now
        if at_cap and not self._displace_an_idle_connection():
            self._refuse()
            return
        self._update_watchdog(now)

    def data_received(self, data: bytes) -> None:
        now = self.loop.time()
        if self._head_started is None and self._awaiting_request():
            self._head_started = now  # the first byte of a next request on a kept-alive connection
        self._body_progress = now
        super().data_received(data)
        self._update_watchdog(now)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        now = self.loop.time()
        self._head_started = None  # uvicorn's keep-alive timer bounds the idle time from here
        self._idle_since = now
        super().on_response_complete()
        self._update_watchdog(now)

    # ------------------------------------------------------------ the cap
    def _awaiting_request(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _displace_an_idle_connection(self) -> bool:
        """Close the connection waiting longest for a request head; False when every one is busy."""
        oldest: GuardedH11Protocol | None = None
        for connection in self.connections:
            if (
                isinstance(connection, GuardedH11Protocol)
                and connection is not self
                and connection._awaiting_request()
                and not connection.transport.is_closing()
                and (oldest is None or connection._idle_since < oldest._idle_since)
            ):
                oldest = connection
        if oldest is None:
            return False
        oldest.transport.close()
        # Counted out now, not when asyncio reports the loss, so a burst does not displace twice.
        self.connections.discard(oldest)
        self.guard.log_displaced(
            "connection limit %d reached: closed the connection idle the longest", self.guard.limits.max_connections
        )
        return True

    def _refuse(self) -> None:
        self.transport.write(REFUSAL_RESPONSE)
        self.transport.close()
        self.connections.discard(self)
        self.guard.log_refused(
            "connection limit %d reached with every connection busy: answered 503 to a new one",
            self.guard.limits.max_connections,
        )

    # ------------------------------------------------------------ the timeouts
    def _update_watchdog(self, now: float) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            self._head_started = None
            if cycle is not self._watched_cycle:
                self._watched_cycle = cycle
                self._body_progress = now
            if cycle.more_body:
                self._schedule(self._body_progress + self.guard.limits.body_timeout)
        elif self._head_started is not None:
            self._schedule(self._head_started + self.guard.limits.header_timeout)

    def _schedule(self, deadline: float) -> None:
        if self._watchdog is not None:
            if self._watchdog.when() <= deadline:
                return  # it fires first and re-arms for the later deadline
            self._watchdog.cancel()
        self._watchdog = self.loop.call_at(deadline, self._on_watchdog)

    def _on_watchdog(self) -> None:
        self._watchdog = None
        if self.transport is None or self.transport.is_closing():
            return
        now = self.loop.time()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if not cycle.more_body:
                return  # the request is read; the application takes the time it needs
            if self.flow.read_paused:
                # The server stopped reading (the application is behind), not the client.
                self._body_progress = now
            deadline = self._body_progress + self.guard.limits.body_timeout
            if now + _DEADLINE_SLACK_SECONDS >= deadline:
                self.guard.log_body_timeout(
                    "closed a connection whose request body stalled for %g s", self.guard.limits.body_timeout
                )
                # The application's next receive() reports a disconnect: its clean-up runs.
                self.transport.close()
                return
            self._schedule(deadline)
        elif self._head_started is not None:
            deadline = self._head_started + self.guard.limits.header_timeout
            if now + _DEADLINE_SLACK_SECONDS >= deadline:
                self.guard.log_header_timeout(
                    "closed a connection that sent no complete request head within %g s",
                    self.guard.limits.header_timeout,
                )
                self.transport.close()
                return
            self._schedule(deadline)
