"""Real HTTP peers on 127.0.0.1 for the connector tests.

``Peer`` answers scripted replies first and then forwards every request to an upstream
server (the real built-in server in the end-to-end tests) or answers 404 when it has
none. It records what it received, so tests can check what went over the wire.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Hold the answer until this event is set (a stalled server, for timeouts).
    stall: threading.Event | None = None
    # Forward the request upstream first and drop the upstream's answer: the server did
    # the work, but the client never hears of it (a lost response).
    forward_first: bool = False


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Peer:
    def __init__(
        self,
        *,
        upstream: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        reply_when: Callable[[Received], bool] | None = None,
        transform: Callable[[Received], Received] | None = None,
    ) -> None:
        """``reply_when`` picks which requests consume the script (default: all);
        ``transform`` rewrites a request before it is forwarded (to mangle it)."""
        self.script: list[Reply] = []
        self.received: list[Received] = []
        self.forwarded = 0
        self._upstream = urlsplit(upstream) if upstream else None
        self._reply_when = reply_when or (lambda _r: True)
        self._transform = transform
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="test-peer", daemon=True
        )
        self._released: list[threading.Event] = []

    def __enter__(self) -> Peer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for event in self._released:
            event.set()
        for reply in self.script:
            if reply.stall is not None:
                reply.stall.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def answer(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)
            self._released.extend(r.stall for r in replies if r.stall is not None)

    def _next_reply(self, received: Received) -> Reply | None:
        with self._lock:
            self.received.append(received)
            if self.script and self._reply_when(received):
                return self.script.pop(0)
            return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received = Received(self.command, self.path, dict(self.headers.items()), body)
                reply = peer._next_reply(received)
                if reply is not None:
                    if reply.stall is not None:
                        reply.stall.wait(30)
                    if reply.forward_first:
                        self._forward(received, answer=False)
                    self._send(reply.status, reply.headers, reply.body)
                elif peer._upstream is not None:
                    self._forward(received)
                else:
                    self._send(404, {"Content-Type": "application/json"}, b'{"detail": "nothing here"}')

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forward(self, received: Received, *, answer: bool = True) -> None:
                upstream = peer._upstream
                assert upstream is not None and upstream.hostname is not None
                if peer._transform is not None:
                    received = peer._transform(received)
                connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
                try:
                    headers = {
                        k: v for k, v in received.headers.items()
                        if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"
                    }
                    headers["Content-Length"] = str(len(received.body))
                    connection.request(received.method, received.path, body=received.body or None, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                    out = {k: v for k, v in response.getheaders()
                           if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"}
                finally:
                    connection.close()
                with peer._lock:
                    peer.forwarded += 1
                if answer:
                    self._send(response.status, out, data)

            do_GET = _handle  # noqa: N815 - http.server's naming
            do_POST = _handle  # noqa: N815 - http.server's naming
            do_PUT = _handle  # noqa: N815 - http.server's naming
            do_PATCH = _handle  # noqa: N815 - http.server's naming
            do_DELETE = _handle  # noqa: N815 - http.server's naming

        return Handler
