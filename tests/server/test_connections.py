"""Connection hygiene of the real server on loopback: timeouts, the connection cap, quiet accept errors.

Every server here runs with timeouts of a second or a few, so each test takes seconds. Closing
is observed on the client's sockets (EOF or reset) against a deadline; the lower bounds hold
because the server cannot close a connection before its own timeout has run out.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import requests

from server.connection_limits import RateLimitedLog
from tests.fixtures.server import ServerProcess
from tests.fixtures.waiting import wait_until
from tests.server.helpers import Upload, make_bundle, noisy_png, submit

if sys.platform == "win32":  # pragma: no cover - the server's hygiene is tested where it is deployed
    pytest.skip("resource limits and prlimit-style tests are POSIX only", allow_module_level=True)

import resource

CLOSE_SLACK_SECONDS = 15.0  # how late a close may come on a busy 2-core machine before the test fails
IDLE_FLOOD = 2000


# ---------------------------------------------------------------- client-side helpers
def open_idle(server: ServerProcess, count: int) -> list[tuple[socket.socket, float]]:
    """``count`` connections that send nothing, each with the moment it was established."""
    opened: list[tuple[socket.socket, float]] = []
    try:
        for _ in range(count):
            sock = socket.create_connection((server.host, server.port), timeout=10)
            opened.append((sock, time.monotonic()))
    except BaseException:
        close_all(sock for sock, _ in opened)
        raise
    return opened


def close_all(sockets: Iterator[socket.socket] | Sequence[socket.socket]) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.close()


def wait_closed(sockets: Sequence[socket.socket], deadline: float) -> dict[socket.socket, float]:
    """Wait until the server closed each socket (EOF or reset); returns when each was seen closed.

    Bytes the server sends before closing are read and dropped. Sockets still open at the
    deadline are missing from the result.
    """
    closed: dict[socket.socket, float] = {}
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        while len(closed) < len(sockets):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(timeout=remaining):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                try:
                    data = ready.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:  # a reset is a close too
                    data = b""
                if not data:
                    closed[ready] = time.monotonic()
                    selector.unregister(ready)
    return closed


def still_open(sockets: Sequence[socket.socket]) -> int:
    """How many of ``sockets`` the server has not closed (checked without waiting)."""
    return len(sockets) - len(wait_closed(sockets, time.monotonic()))


def read_until_closed(sock: socket.socket, deadline: float) -> tuple[bytes, float | None]:
    """Everything the server sends until it closes; (data, when closed) or (data, None) at the deadline."""
    received = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(received), None
        sock.settimeout(remaining)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return bytes(received), None
        except OSError:
            data = b""
        if not data:
            return bytes(received), time.monotonic()
        received += data


def upload_request(server: ServerProcess, token: str, upload: Upload) -> tuple[bytes, bytes]:
    """A report submission as raw HTTP: (request head, body)."""
    body, content_type = upload.encode()
    head = (
        f"POST /api/v1/reports HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
        f"Authorization: Bearer {token}\r\nIdempotency-Key: {upload.report_id}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


def big_upload(seed: int) -> Upload:
    # Random pixels barely compress: a file part of some 190 KB, so half a body reaches into it.
    return Upload.of(make_bundle(images=[noisy_png(256, 256, seed)]))


def upload_temps(server: ServerProcess) -> list[Path]:
    return sorted((server.data_dir / "tmp").glob("upload-*"))


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    wait_until(condition, what, timeout)


def start_stalled_upload(server: ServerProcess, token: str, seed: int) -> tuple[socket.socket, float]:
    """Send the head and half the body of a real report, then nothing; returns (socket, last byte sent)."""
    head, body = upload_request(server, token, big_upload(seed))
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.sendall(head + body[: len(body) // 2])
    return sock, time.monotonic()


@pytest.fixture
def open_file_room() -> Iterator[Callable[[int], None]]:
    """``need(n)``: raise this process's soft open-file limit to fit ``n`` more sockets, or skip."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def need(sockets: int) -> None:
        wanted = sockets + 256  # pytest, the requests sessions, the server's log file
        if wanted <= soft:
            return
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"the hard open-file limit {hard} is below the {wanted} this test needs")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))

    yield need
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ---------------------------------------------------------------- timeouts
def test_idle_connections_are_closed_after_the_header_and_keep_alive_timeouts(
    make_server: Callable[..., ServerProcess],
) -> None:
    header_timeout, keep_alive = 1.5, 1.0
    server = make_server(
        ["--header-timeout", str(header_timeout), "--keep-alive-timeout", str(keep_alive), "--max-connections", "77"]
    )
    assert "connections: header timeout 1.5 s" in server.log_text()
    assert "keep-alive 1 s, at most 77 connections" in server.log_text()
    assert "open-file limit:" in server.log_text()

    idle = open_idle(server, 40)
    kept_alive = socket.create_connection((server.host, server.port), timeout=10)
    try:
        kept_alive.sendall(f"GET /healthz HTTP/1.1\r\nHost: {server.host}\r\n\r\n".encode())
        kept_alive.settimeout(10)
        response = kept_alive.recv(65536)
        answered_at = time.monotonic()
        assert response.startswith(b"HTTP/1.1 200 ")

        closed = wait_closed(
            [sock for sock, _ in idle] + [kept_alive], time.monotonic() + header_timeout + CLOSE_SLACK_SECONDS
        )
        assert len(closed) == len(idle) + 1, "some idle connections were never closed"
        for sock, opened_at in idle:
            assert closed[sock] - opened_at >= header_timeout - 0.05
        assert closed[kept_alive] - answered_at >= keep_alive - 0.05
    finally:
        close_all([sock for sock, _ in idle] + [kept_alive])


def test_a_slowloris_request_head_is_cut_at_the_header_timeout(make_server: Callable[..., ServerProcess]) -> None:
    header_timeout = 1.5
    server = make_server(["--header-timeout", str(header_timeout)])
    sock = socket.create_connection((server.host, server.port), timeout=10)
    try:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        deadline = started + header_timeout + CLOSE_SLACK_SECONDS
        closed_at: float | None = None
        sent_headers = 0
        # One header line every 0.1 s: the head keeps growing but never ends.
        while closed_at is None and time.monotonic() < deadline:
            try:
                sock.sendall(f"X-Dribble-{sent_headers}: a\r\n".encode())
                sent_headers += 1
            except OSError:
                closed_at = time.monotonic()
                break
            data, closed_at = read_until_closed(sock, time.monotonic() + 0.1)
            assert data == b"", "the server answered a request whose head never ended"
        assert closed_at is not None, f"a head dribbled for {CLOSE_SLACK_SECONDS} s more than the timeout was not cut"
        assert closed_at - started >= header_timeout - 0.05
        assert sent_headers >= 5, "the head was not dribbled over the timeout"
        # The server itself is fine.
        assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
    finally:
        sock.close()


def test_a_stalled_upload_is_cut_and_its_temp_file_removed(make_server: Callable[..., ServerProcess]) -> None:
    body_timeout = 1.5
    server = make_server(["--body-timeout", str(body_timeout)])
    token = server.token("submitter")
    sock, last_sent = start_stalled_upload(server, token, seed=1)
    try:
        wait_for(lambda: bool(upload_temps(server)), 10, "the upload's temporary file")
        data, closed_at = read_until_closed(sock, time.monotonic() + body_timeout + CLOSE_SLACK_SECONDS)
        assert closed_at is not None, "a stalled upload was not cut"
        assert closed_at - last_sent >= body_timeout - 0.05
        assert data == b"", "nobody listens to an answer on a cut connection"
        wait_for(lambda: not upload_temps(server), 10, "the stalled upload's temporary file to be removed")
        assert "request body stalled" in server.log_text()
    finally:
        sock.close()


def test_a_slow_but_steady_upload_is_not_cut(make_server: Callable[..., ServerProcess]) -> None:
    body_timeout = 1.0
    server = make_server(["--body-timeout", str(body_timeout)])
    token = server.token("submitter")
    upload = big_upload(seed=2)
    head, body = upload_request(server, token, upload)
    sock = socket.create_connection((server.host, server.port), timeout=10)
    try:
        sock.sendall(head)
        started = time.monotonic()
        chunk = len(body) // 8 + 1
        for offset in range(0, len(body), chunk):
            sock.sendall(body[offset : offset + chunk])
            # Pacing, not a measurement: each pause is well under the body timeout, their sum above it.
            time.sleep(body_timeout * 0.4)
        assert time.monotonic() - started > 2 * body_timeout
        sock.settimeout(30)
        response = sock.recv(65536)
        assert response.startswith(b"HTTP/1.1 201 "), response[:200]
    finally:
        sock.close()
    assert not upload_temps(server)


# ---------------------------------------------------------------- the cap
@pytest.mark.parametrize("max_connections", [None, 1000], ids=["default-cap", "cap-1000"])
def test_two_thousand_idle_connections_do_not_starve_other_clients(
    make_server: Callable[..., ServerProcess], open_file_room: Callable[[int], None], max_connections: int | None
) -> None:
    open_file_room(IDLE_FLOOD)
    header_timeout = 5.0
    args = ["--header-timeout", str(header_timeout)]
    if max_connections is not None:
        args += ["--max-connections", str(max_connections)]
    server = make_server(args)
    token = server.token("submitter")
    idle = open_idle(server, IDLE_FLOOD)
    sockets = [sock for sock, _ in idle]
    try:
        flood_ready = time.monotonic()
        with requests.Session() as other_client:
            health = other_client.get(f"{server.url}/healthz", timeout=15)
            submitted = submit(server, token, make_bundle(seed=3), session=other_client, timeout=15)
        answered = time.monotonic()
        assert health.status_code == 200
        assert submitted.status_code == 201, submitted.text
        if answered - flood_ready < header_timeout - 1:
            # The flood still stood while the other client was served: everything the cap allowed
            # was open, less the few connections made room for.
            expected = min(IDLE_FLOOD, max_connections or IDLE_FLOOD) - 3
            assert still_open(sockets) >= expected
        closed = wait_closed(sockets, time.monotonic() + header_timeout + CLOSE_SLACK_SECONDS)
        assert len(closed) == IDLE_FLOOD, f"{IDLE_FLOOD - len(closed)} idle connections were never closed"
        if max_connections is not None:
            assert "connection limit 1000 reached: closed the connection idle the longest" in server.log_text()
        assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
    finally:
        close_all(sockets)


def test_at_the_cap_with_every_connection_busy_a_new_one_gets_503(make_server: Callable[..., ServerProcess]) -> None:
    cap, body_timeout = 3, 2.0
    server = make_server(["--max-connections", str(cap), "--body-timeout", str(body_timeout)])
    token = server.token("submitter")
    stalled = [start_stalled_upload(server, token, seed=10 + i)[0] for i in range(cap)]
    try:
        wait_for(lambda: len(upload_temps(server)) == cap, 10, "every stalled upload to be streaming")
        newcomer = socket.create_connection((server.host, server.port), timeout=10)
        try:
            data, closed_at = read_until_closed(newcomer, time.monotonic() + 10)
        finally:
            newcomer.close()
        assert closed_at is not None, "the connection over the cap was left hanging"
        assert data.startswith(b"HTTP/1.1 503 "), data[:200]
        assert b"retry-after: 5" in data.lower()
        assert "every connection busy: answered 503" in server.log_text()

        # Once the body timeout frees the stalled ones, the server serves again and nothing is left over.
        closed = wait_closed(stalled, time.monotonic() + body_timeout + CLOSE_SLACK_SECONDS)
        assert len(closed) == cap
        assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
        wait_for(lambda: not upload_temps(server), 10, "the stalled uploads' temporary files to be removed")
    finally:
        close_all(stalled)


# ---------------------------------------------------------------- the open-file limit
class LowFileLimitServer(ServerProcess):
    """The server started with soft and hard RLIMIT_NOFILE at ``limit`` (so it cannot raise it)."""

    limit = 128

    def command(self) -> list[str]:
        command = super().command()
        bootstrap = (
            "import resource, runpy, sys; "
            f"resource.setrlimit(resource.RLIMIT_NOFILE, ({self.limit}, {self.limit})); "
            "sys.argv = ['server', *sys.argv[1:]]; "
            "runpy.run_module('server', run_name='__main__', alter_sys=True)"
        )
        return [command[0], "-c", bootstrap, *command[3:]]


def test_accept_errors_at_the_open_file_limit_do_not_flood_the_log(
    tmp_path: Path, open_file_room: Callable[[int], None]
) -> None:
    flood = 400
    open_file_room(flood)
    # A cap above what 128 descriptors hold, so accept() itself runs out of descriptors.
    server = LowFileLimitServer(
        tmp_path / "data", extra_args=["--max-connections", "1000", "--header-timeout", "1", "--no-handover"]
    )
    server.start()
    try:
        assert f"open-file limit: {LowFileLimitServer.limit} (hard limit {LowFileLimitServer.limit})" in (
            server.log_text()
        )
        size_before = len(server.log_text().encode())
        idle = open_idle(server, flood)
        sockets = [sock for sock, _ in idle]
        try:
            wait_for(lambda: "cannot accept new connections" in server.log_text(), 20, "an accept error in the log")
            # The server works through the flood as its header timeout frees descriptors.
            closed = wait_closed(sockets, time.monotonic() + 60)
            assert len(closed) == flood, f"{flood - len(closed)} connections were never closed"
        finally:
            close_all(sockets)
        assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
        grown = server.log_text().encode()[size_before:].decode()
        accept_lines = [line for line in grown.splitlines() if "cannot accept new connections" in line]
        assert 1 <= len(accept_lines) <= 3, accept_lines
        assert "Traceback" not in grown
        assert len(grown.splitlines()) <= 30, grown[-3000:]
        assert len(grown) < 8 * 1024
    finally:
        server.stop()


def test_the_default_cap_fits_a_low_open_file_limit_and_keeps_serving(tmp_path: Path) -> None:
    server = LowFileLimitServer(tmp_path / "data", extra_args=["--header-timeout", "30", "--no-handover"])
    server.start()
    try:
        # (128 - 64 reserved) / 2 per connection
        assert "at most 32 connections" in server.log_text()
        idle = open_idle(server, 200)
        try:
            # Idle connections are displaced for a real request long before their header timeout.
            assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
        finally:
            close_all(sock for sock, _ in idle)
        # asyncio accepts a burst before the protocol sees the cap, so a flood may still touch
        # the limit for a moment: that costs a line, not a log file.
        accept_lines = [line for line in server.log_text().splitlines() if "cannot accept" in line]
        assert len(accept_lines) <= 2, accept_lines
    finally:
        server.stop()


def test_rate_limited_log_holds_lines_back_and_counts_them(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    logger = logging.getLogger("showdesk.test.ratelimited")
    limited = RateLimitedLog(logger, interval=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger=logger.name):
        for _ in range(25):  # one call every 0.5 s for 12.5 s
            limited("cannot accept new connections: %s", "Too many open files")
            now[0] += 0.5
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "cannot accept new connections: Too many open files",
        "cannot accept new connections: Too many open files (and 19 more like it in the last 10 s)",
    ]
    assert limited.suppressed == 4
