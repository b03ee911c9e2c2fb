"""The kept connection on the wire (agent.connectors.transport): the bytes it sends, the answers it reads.

A socket server on 127.0.0.1 records every request byte for byte and answers from a script, so the
kept connection's request is compared with the request requests sends for the same call, whole, and
its reading is held to answers http.client reads its own way: an answer that ends the connection,
a chunked one, a 100 Continue first. Around them: the read timeout bounds the answer, a header that
cannot be written fails before anything is sent, and the answer is a whole ``requests.Response``.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from agent.connectors.base import TransientError
from agent.connectors.httpclient import GuardedSession, MultipartForm, Part, user_agent
from agent.connectors.transport import ONE_WRITE_BYTES
from tests.connectors.helpers import http_client
from tests.fixtures.waiting import wait_until

# No proxy of the machine's environment: every call goes straight to the local server.
pytestmark = pytest.mark.usefixtures("no_environment_proxy")

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"ok\": true}"


@dataclass
class Received:
    data: bytes  # the request, head and body, as it came
    port: int  # the client's port: the same one means the same connection


class RawServer:
    """Reads each request whole (Content-Length or chunked), records it, and sends the next scripted answer."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: list[bytes] = []
        self.hold = threading.Event()  # while clear, an answer scripted as b"HOLD" waits
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        self._connections: list[socket.socket] = []
        self._closing = False
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RawServer:
        self._accepting.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.hold.set()
        self._closing = True
        socket.create_connection(self._listener.getsockname()).close()  # wakes the accepting thread
        self._accepting.join(10)
        for connection in self._connections:  # a client that kept its connection: its reader ends
            with contextlib.suppress(OSError):  # closed already
                connection.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for thread in self._threads:
            thread.join(10)

    def _accept(self) -> None:
        while True:
            connection, address = self._listener.accept()
            if self._closing:
                connection.close()
                return
            self._connections.append(connection)
            thread = threading.Thread(target=self._serve, args=(connection, address[1]), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket, port: int) -> None:
        reader = connection.makefile("rb")
        with connection, reader:
            while request := _read_request(reader):
                self.received.append(Received(request, port))
                answer = self.script.pop(0) if self.script else OK
                if answer == b"HOLD":
                    self.hold.wait(60)
                    return
                connection.sendall(answer)
                if b"Connection: close" in answer or answer.startswith(b"HTTP/1.0"):
                    return


def _read_request(reader: io.BufferedReader) -> bytes:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = reader.readline()
        if not line:
            return b""
        head += line
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    if length:
        return head + reader.read(int(length.group(1)))
    if re.search(rb"(?i)\r\ntransfer-encoding: *chunked", head):
        body = b""
        while True:
            size_line = reader.readline()
            body += size_line
            size = int(size_line.strip(), 16)
            body += reader.read(size + 2)
            if size == 0:
                return head + body
    return head


@pytest.fixture
def server() -> Iterator[RawServer]:
    with RawServer() as running:
        yield running


def _through_requests(url: str, method: str, path: str, **kwargs: Any) -> None:
    """The call as a requests session like HttpClient's own sends it (its pool, urllib3's writing)."""
    with GuardedSession() as session:
        session.headers["User-Agent"] = user_agent("test")
        session.headers["Accept"] = "application/json"
        session.request(method, f"{url}{path}", timeout=(5, 60), verify=True, allow_redirects=False,
                        **kwargs).close()


class _Pieces:
    """A body whose len is 0: requests takes it for no body (``data or {}``), and so must the kept connection."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._pieces)

    def __len__(self) -> int:
        return 0


CALLS: dict[str, Any] = {
    "get with quoted params": lambda: {"method": "GET", "path": "/api/now/table/sys_user", "params": {
        "sysparm_query": "email=ann@example.org^ORDERBYsys_created_on", "sysparm_limit": 1, "q": "a b/c"}},
    "post json": lambda: {"method": "POST", "path": "/api/tickets", "json": {"subject": "Printer", "n": [1, 2.5]},
                          "headers": {"Authorization": "Bearer secret-token"}},
    "post a small body": lambda: {"method": "POST", "path": "/api/upload", "params": {"file_name": "step-001.webp"},
                                  "data": b"\x00\x01" * 100, "headers": {"Content-Type": "image/webp"}},
    "post a body past one write": lambda: {"method": "POST", "path": "/api/upload",
                                           "data": bytes(range(256)) * (ONE_WRITE_BYTES // 256 + 1),
                                           "headers": {"Content-Type": "application/octet-stream"}},
    "post a multipart form": lambda: {"method": "POST", "path": "/api/form", "data": MultipartForm(
        [Part("note", "déjà vu".encode()), Part("file", bytes(range(256)) * 600, filename="shot 1.png",
                                                    content_type="image/png")])},
    "post pieces of no length": lambda: {"method": "POST", "path": "/api/pieces",
                                         "data": _Pieces([b"abc", b"", b"defghi"])},  # requests sends none
    "put without a body": lambda: {"method": "PUT", "path": "/api/items/7"},
    "a header set to None is left out": lambda: {"method": "GET", "path": "/x", "headers": {"Accept": None}},
}


def _without_boundary(data: bytes) -> bytes:
    boundary = re.search(rb"--(showdesk-[0-9a-f]+)\r\n", data)
    return data.replace(boundary.group(1), b"BOUNDARY") if boundary else data


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_request_is_byte_for_byte_what_requests_sends(name: str, server: RawServer) -> None:
    call = CALLS[name]()
    client = http_client(server.url)
    client.request(call.pop("method"), call.pop("path"), **call).close()
    client.close()
    call = CALLS[name]()
    _through_requests(server.url, call.pop("method"), call.pop("path"), **call)
    ours, theirs = (_without_boundary(received.data) for received in server.received)
    assert ours == theirs


def test_the_read_timeout_bounds_the_answer_not_the_connect_timeout(server: RawServer) -> None:
    server.script.append(b"HOLD")
    client = http_client(server.url, connect_timeout=30, read_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(TransientError, match="cannot reach the backend"):
        client.json("GET", "/slow")
    assert time.monotonic() - started < 10  # far below the connect timeout: the read timeout ended it
    assert client.json("GET", "/after") == {"ok": True}
    client.close()


def test_a_header_that_cannot_be_written_fails_before_anything_is_sent(server: RawServer) -> None:
    client = http_client(server.url)
    assert client.json("GET", "/first") == {"ok": True}
    with pytest.raises(UnicodeEncodeError):  # what requests raises for it too
        client.json("GET", "/never", headers={"X-Price": "10 \u20ac"})
    assert client.json("GET", "/next") == {"ok": True}
    client.close()
    assert [received.data.split(b" ")[1] for received in server.received] == [b"/first", b"/next"]
    assert server.received[0].port == server.received[1].port  # the connection was not spoilt


def test_an_answer_that_ends_the_connection_is_read_and_the_next_call_opens_another(server: RawServer) -> None:
    server.script += [b"HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\n{\"a\": 1}",
                      b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"b\r\n5\r\n\": 2}\r\n0\r\n\r\n",
                      b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 8\r\n\r\n{\"c\": 3}",
                      b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"d\": 4}",
                      OK]
    client = http_client(server.url)
    answers = [client.json("GET", f"/{n}") for n in range(5)]
    client.close()
    assert answers == [{"a": 1}, {"b": 2}, {"c": 3}, {"d": 4}, {"ok": True}]
    ports = [received.port for received in server.received]
    assert ports[0] != ports[1] == ports[2] == ports[3] != ports[4]


def test_the_answer_is_a_whole_requests_response(server: RawServer) -> None:
    server.script.append(b"HTTP/1.1 201 Created\r\nContent-Type: application/json; charset=latin-1\r\n"
                         b"Set-Cookie: session=abc; Path=/\r\nX-Seen: one\r\nX-Seen: two\r\n"
                         b"Content-Length: 13\r\n\r\n{\"n\": \"caf\xe9\"}")
    client = http_client(server.url)
    response = client.request("POST", "/tickets", json={"subject": "x"}, headers={"X-Call": "1"})
    client.close()
    assert isinstance(response, requests.Response)
    assert (response.status_code, response.reason, response.ok) == (201, "Created", True)
    assert response.headers["x-seen"] == "one, two" and response.headers["Content-Length"] == "13"
    assert response.encoding == "latin-1" and response.json() == {"n": "café"}
    assert response.cookies.get("session") == "abc" and client.session.cookies.get("session") == "abc"
    sent = response.request.headers
    assert sent["X-Call"] == "1" and sent["Content-Type"] == "application/json" and sent["Content-Length"] == "16"
    assert response.url == f"{server.url}/tickets" and response.elapsed.total_seconds() > 0
    copy = pickle.loads(pickle.dumps(response))  # noqa: S301 - our own object, pickled as requests allows
    assert (copy.status_code, copy.content, dict(copy.headers), copy.encoding, copy.cookies.get("session")) == (
        201, response.content, dict(response.headers), "latin-1", "abc")


def test_calls_from_two_clients_at_once_stay_apart(server: RawServer) -> None:
    clients = [http_client(server.url) for _ in range(2)]
    answers: list[Any] = []
    threads = [threading.Thread(target=lambda c=client: answers.extend(c.json("GET", "/x") for _ in range(20)))
               for client in clients]
    for thread in threads:
        thread.start()
    wait_until(lambda: not any(thread.is_alive() for thread in threads), "both clients finish", 30)
    for client in clients:
        client.close()
    assert answers == [{"ok": True}] * 40
    assert len({received.port for received in server.received}) == 2
