"""The shared HTTP client's kept connection to its backend (agent.connectors.transport).

Calls to the backend's own origin go out on one kept-alive connection instead of through
``requests.Session.request``. What the backend receives must be what requests would have sent, and
everything requests does around a call must still happen: the environment's proxies, ~/.netrc,
cookies, timeouts, a connection the server closed, an answer that breaks off. A real server on
127.0.0.1 records each request with the client port it came from.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from agent.connectors import httpclient
from agent.connectors.base import ConnectorError, TransientError
from agent.connectors.httpclient import GuardedSession, HttpClient, MultipartForm, Part, user_agent
from tests.connectors.helpers import ForwardProxy, http_client
from tests.fixtures.waiting import wait_until

# No proxy of the machine's environment: every call goes straight to the local server.
pytestmark = pytest.mark.usefixtures("no_environment_proxy")

JSON = {"Content-Type": "application/json"}


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    port: int  # the client's port: the same one means the same connection


@dataclass
class Behaviour:
    """How the server answers one request (the default: 200 with a small JSON body)."""

    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    close: bool = False  # close the connection after answering (without saying so)
    cut_short: bool = False  # announce more body than is sent, then close
    stall: threading.Event | None = None  # hold the answer until set


class Backend:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.script: list[Behaviour] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._stalls: list[threading.Event] = []

    def __enter__(self) -> Backend:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        for event in self._stalls:
            event.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def answer(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self.script.extend(behaviours)
            self._stalls.extend(b.stall for b in behaviours if b.stall is not None)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while size := int(self.rfile.readline().strip(), 16):
                        data += self.rfile.read(size)
                        self.rfile.readline()
                    self.rfile.readline()
                    return data
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self) -> None:
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, self._body(),
                            self.client_address[1])
                with backend._lock:
                    backend.seen.append(seen)
                    behaviour = backend.script.pop(0) if backend.script else Behaviour()
                if behaviour.stall is not None:
                    behaviour.stall.wait(30)
                self.send_response(behaviour.status)
                for name, value in behaviour.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(behaviour.body) + (100 if behaviour.cut_short else 0)))
                self.end_headers()
                self.wfile.write(behaviour.body)
                if behaviour.close or behaviour.cut_short:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True

            do_GET = _handle  # noqa: N815 - http.server's naming
            do_POST = _handle  # noqa: N815 - http.server's naming
            do_PUT = _handle  # noqa: N815 - http.server's naming
            do_DELETE = _handle  # noqa: N815 - http.server's naming

        return Handler


@pytest.fixture
def backend() -> Iterator[Backend]:
    with Backend() as server:
        yield server


def _as_requests_sends(url: str, method: str, path: str, **kwargs: Any) -> None:
    """The call as HttpClient made it before it kept a connection: through a requests session like its own."""
    session = GuardedSession()
    session.headers["User-Agent"] = user_agent("test")
    session.headers["Accept"] = "application/json"
    with session:
        session.request(method, f"{url}{path}", timeout=(5, 60), verify=True, allow_redirects=False, **kwargs).close()


def _form() -> MultipartForm:
    return MultipartForm([Part("note", "déjà vu".encode()),
                          Part("file", bytes(range(256)) * 300, filename="shot 1.png", content_type="image/png")])


CALLS: dict[str, Callable[[], dict[str, Any]]] = {
    "get with params": lambda: {"method": "GET", "path": "/api/items",
                                "params": {"q": "printer & queue", "skip": None, "id": [1, 2], "é": "ü"}},
    "get with a query already": lambda: {"method": "GET", "path": "/api/items?page=2", "params": {"size": 5}},
    "post json": lambda: {"method": "POST", "path": "/api/tickets", "json": {"subject": "Printer", "n": [1, 2.5]},
                          "headers": {"Authorization": "Bearer secret-token"}},
    "post bytes": lambda: {"method": "POST", "path": "/api/upload", "data": b"\x00\x01" * 5000,
                           "headers": {"Content-Type": "application/octet-stream", "X-Token": "t"}},
    "post a multipart form": lambda: {"method": "POST", "path": "/api/form", "data": _form()},
    "put without a body": lambda: {"method": "PUT", "path": "/api/items/7"},
    "delete": lambda: {"method": "DELETE", "path": "/api/items/7", "headers": {"Accept": "*/*"}},
    "a header set to None is left out": lambda: {"method": "GET", "path": "/x", "headers": {"Accept": None}},
}


def _comparable(seen: Seen) -> tuple[str, str, dict[str, str], bytes]:
    """The request without its multipart boundary (random per form)."""
    boundary = re.search(rb"--(showdesk-[0-9a-f]+)\r\n", seen.body)
    headers, body = dict(seen.headers), seen.body
    if boundary:
        body = body.replace(boundary.group(1), b"BOUNDARY")
    return seen.method, seen.target, headers, body


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_backend_receives_what_requests_would_have_sent(name: str, backend: Backend) -> None:
    call = CALLS[name]()
    client = http_client(backend.url)
    client.request(call.pop("method"), call.pop("path"), **call).close()
    client.close()
    call = CALLS[name]()
    _as_requests_sends(backend.url, call.pop("method"), call.pop("path"), **call)
    ours, theirs = backend.seen
    assert _comparable(ours) == _comparable(theirs)


def test_a_session_header_changed_between_calls_is_what_the_next_call_sends(backend: Backend) -> None:
    client = http_client(backend.url)
    client.session.headers["X-Site"] = "north"
    client.request("GET", "/a", headers={"Authorization": "Bearer one"}).close()
    client.session.headers["X-Site"] = "south"  # changed in place: the merged headers kept for the first are stale
    client.request("GET", "/b", headers={"Authorization": "Bearer one"}).close()
    del client.session.headers["X-Site"]
    client.request("GET", "/c", headers={"Authorization": "Bearer two"}).close()
    client.close()
    sent = [(seen.headers.get("x-site"), seen.headers["authorization"]) for seen in backend.seen]
    assert sent == [("north", "Bearer one"), ("south", "Bearer one"), (None, "Bearer two")]
    assert len({seen.port for seen in backend.seen}) == 1  # all three on the kept connection


def test_calls_share_one_connection_and_a_closed_one_is_replaced(backend: Backend) -> None:
    client = http_client(backend.url)
    backend.answer(Behaviour(), Behaviour(), Behaviour(close=True), Behaviour(headers={**JSON, "Connection": "close"}))
    answers = [client.json("GET", f"/call/{n}") for n in range(6)]
    client.close()
    assert answers == [{"ok": True}] * 6
    ports = [seen.port for seen in backend.seen]
    # 0-2 on the first connection (2 closed by the server unannounced), 3 on a new one (closed as announced),
    # 4 and 5 on a third.
    assert ports[0] == ports[1] == ports[2] != ports[3] != ports[4] == ports[5]
    assert len(set(ports)) == 3


def test_an_environment_proxy_is_still_used_and_no_proxy_still_heeded(backend: Backend,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        client = http_client(backend.url)
        assert client.json("GET", "/through", params={"a": "1"}) == {"ok": True}
        client.close()
        assert proxy.targets == [f"GET {backend.url}/through?a=1"]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        client = http_client(backend.url)
        assert client.json("GET", "/direct") == {"ok": True}
        client.close()
        assert len(proxy.targets) == 1
    assert [seen.target for seen in backend.seen] == ["/through?a=1", "/direct"]


def test_a_configured_proxy_is_used(backend: Backend) -> None:
    with ForwardProxy() as proxy:
        client = http_client(backend.url, proxy=proxy.url)
        client.json("POST", "/tickets", json={"subject": "x"})
        client.close()
        assert proxy.targets == [f"POST {backend.url}/tickets"]


def test_netrc_credentials_are_added_where_requests_adds_them(backend: Backend, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = http_client(backend.url)
    client.request("GET", "/a", headers={"X-Token": "own"}).close()
    client.close()
    _as_requests_sends(backend.url, "GET", "/a", headers={"X-Token": "own"})
    ours, theirs = backend.seen
    assert ours.headers["authorization"] == theirs.headers["authorization"] == requests.auth._basic_auth_str(
        "someone", "netrc-password")


def test_cookies_the_backend_sets_go_back_to_it(backend: Backend) -> None:
    backend.answer(Behaviour(headers={**JSON, "Set-Cookie": "session=abc; Path=/"}))
    client = http_client(backend.url)
    first = client.request("GET", "/login")
    client.request("GET", "/next").close()
    client.close()
    assert first.cookies.get("session") == "abc" and client.session.cookies.get("session") == "abc"
    assert "cookie" not in backend.seen[0].headers and backend.seen[1].headers["cookie"] == "session=abc"


def test_a_stalled_answer_times_out_and_the_next_call_gets_through(backend: Backend) -> None:
    release = threading.Event()
    backend.answer(Behaviour(stall=release))
    client = http_client(backend.url, read_timeout=0.3)
    with pytest.raises(TransientError, match="cannot reach the backend"):
        client.json("GET", "/slow")
    release.set()
    assert client.json("GET", "/after") == {"ok": True}
    client.close()
    assert backend.seen[0].port != backend.seen[1].port  # the timed-out connection was given up


def test_an_answer_cut_short_fails_and_the_next_call_gets_through(backend: Backend) -> None:
    backend.answer(Behaviour(cut_short=True))
    client = http_client(backend.url)
    with pytest.raises(TransientError, match="the backend"):
        client.json("GET", "/short")
    assert client.json("GET", "/after") == {"ok": True}
    client.close()


def test_nothing_listening_is_a_transient_error() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    client = http_client(f"http://127.0.0.1:{port}", connect_timeout=2)
    with pytest.raises(TransientError, match=r"cannot reach the backend: .*refused"):
        client.json("GET", "/")
    client.close()


def test_a_redirect_is_answered_not_followed(backend: Backend) -> None:
    backend.answer(Behaviour(status=302, body=b"", headers={"Location": "/elsewhere"}))
    client = http_client(backend.url)
    with pytest.raises(ConnectorError, match="302"):
        client.json("GET", "/moved")
    client.close()
    assert [seen.target for seen in backend.seen] == ["/moved"]


def test_a_caller_wrapping_the_session_sees_every_call(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    client = http_client(backend.url)
    client.json("GET", "/direct")
    watched: list[str] = []
    real = client.session.request

    def watch(method: str, url: str, **kwargs: Any) -> requests.Response:
        watched.append(f"{method} {url}")
        return real(method, url, **kwargs)

    monkeypatch.setattr(client.session, "request", watch)
    client.json("POST", "/watched", json={"a": 1})
    client.close()
    assert watched == [f"POST {backend.url}/watched"]
    assert [seen.target for seen in backend.seen] == ["/direct", "/watched"]


def test_a_compressed_answer_is_decoded(backend: Backend) -> None:
    answer = json.dumps({"items": ["printer"] * 200}).encode()
    backend.answer(Behaviour(body=gzip.compress(answer), headers={**JSON, "Content-Encoding": "gzip"}))
    client = http_client(backend.url)
    assert client.json("GET", "/compressed") == {"items": ["printer"] * 200}
    assert client.json("GET", "/after") == {"ok": True}  # the connection is still in step
    client.close()
    assert "gzip" in backend.seen[0].headers["accept-encoding"]
    assert backend.seen[0].port == backend.seen[1].port


def test_a_call_from_another_thread_meanwhile_gets_a_connection_of_its_own(backend: Backend) -> None:
    release = threading.Event()
    backend.answer(Behaviour(body=b'{"slow": true}', stall=release))
    client = http_client(backend.url)
    answers: list[Any] = []
    slow = threading.Thread(target=lambda: answers.append(client.json("GET", "/slow")))
    slow.start()
    wait_until(lambda: len(backend.seen) == 1, "the slow call reaches the server", 10)
    assert client.json("GET", "/meanwhile") == {"ok": True}  # not queued behind the slow one, not mixed into it
    release.set()
    slow.join(10)
    assert client.json("GET", "/after") == {"ok": True}
    client.close()
    assert answers == [{"slow": True}]
    ports = {seen.target: seen.port for seen in backend.seen}
    assert ports["/meanwhile"] != ports["/slow"] == ports["/after"]


# What a JSON call answers on the kept connection, where a successful answer is decoded without building a
# response, must be what it answers through the session: the value, or the same error with the same words.
JSON_ANSWERS: dict[str, Behaviour] = {
    "an object": Behaviour(body=b'{"id": 7, "name": "d\\u00e9j\\u00e0"}'),
    "an empty body": Behaviour(status=201, body=b""),
    "a blank body": Behaviour(body=b" \r\n"),
    "a sign-in page in the API's place": Behaviour(
        body=b"<!doctype html><html><title>Guest Wi-Fi</title></html>", headers={"Content-Type": "text/html"}),
    "text that is not JSON": Behaviour(body=b"OK", headers={"Content-Type": "text/plain"}),
    "a refusal": Behaviour(status=422, body=b'{"message": "summary is required"}'),
    "a value with a cookie": Behaviour(body=b"[1, 2]", headers={**JSON, "Set-Cookie": "session=abc; Path=/"}),
}


def _outcome(client: HttpClient) -> tuple[str, Any]:
    try:
        return "value", client.json("POST", "/tickets", json={"subject": "Printer"})
    except ConnectorError as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("name", sorted(JSON_ANSWERS))
def test_a_json_call_answers_on_the_kept_connection_as_through_the_session(name: str, backend: Backend,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    backend.answer(JSON_ANSWERS[name], Behaviour(), JSON_ANSWERS[name])
    direct = http_client(backend.url)
    ours = _outcome(direct)
    assert direct.json("GET", "/after") == {"ok": True}  # the connection is still in step
    through = http_client(backend.url)
    monkeypatch.setattr(through.session, "request", through.session.request)  # a wrapped session sends every call
    theirs = _outcome(through)
    direct.close()
    through.close()
    assert ours == theirs
    assert direct.session.cookies.get("session") == through.session.cookies.get("session")
    assert backend.seen[0].port == backend.seen[1].port != backend.seen[2].port


def test_a_json_answer_over_the_bound_is_refused_on_either_way(backend: Backend,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpclient, "MAX_JSON_ANSWER_BYTES", 8)
    backend.answer(Behaviour(body=b'{"id": 123456}'), Behaviour(body=b'{"id": 123456}'))
    direct = http_client(backend.url)
    through = http_client(backend.url)
    monkeypatch.setattr(through.session, "request", through.session.request)
    outcomes = [_outcome(direct), _outcome(through)]
    direct.close()
    through.close()
    assert outcomes == [("PermanentError", "the backend sent an answer larger than expected")] * 2
