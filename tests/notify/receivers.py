"""Loopback stand-ins for Teams Workflows, Slack and a webhook receiver, each answering as its documentation says.

Each ``Receiver`` is a real HTTP server on 127.0.0.1; a test gives it a function from the
request to the answer (status, headers, body) and reads back every request it got.
Requests that break the documented shape are answered with the documented error, so a
wrong payload fails the delivery and the test.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from agent.notify.payloads import ADAPTIVE_CARD_CONTENT_TYPE, SIGNATURE_HEADER, verify_signature


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, dict[str, str], bytes]
Responder = Callable[[Request], Answer]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Receiver:
    """An HTTP server on 127.0.0.1 (``port`` 0: any free one) that answers with ``respond``."""

    def __init__(self, respond: Responder, port: int = 0) -> None:
        self.respond = respond
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                                  self.rfile.read(length))
                with receiver._lock:
                    receiver.requests.append(request)
                status, headers, body = receiver.respond(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        # A short poll: close() returns within it instead of serve_forever's default half second.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


# ---------------------------------------------------------------- Teams: a Workflows webhook
def teams_workflows(request: Request) -> Answer:
    """"When a Teams webhook request is received": a message with Adaptive Card attachments; 202 Accepted.

    The flow reads ``attachments[*].content`` as the card; a legacy MessageCard (``@type``) or
    a body without attachments is refused with 400, as the flow's trigger schema does.
    """
    try:
        message = request.json()
    except ValueError:
        return 400, {"Content-Type": "application/json"}, b'{"error":{"code":"InvalidRequestContent"}}'
    attachments = message.get("attachments") if isinstance(message, dict) else None
    valid = (
        isinstance(message, dict)
        and message.get("type") == "message"
        and "@type" not in message
        and isinstance(attachments, list)
        and attachments
        and all(
            isinstance(a, dict)
            and a.get("contentType") == ADAPTIVE_CARD_CONTENT_TYPE
            and isinstance(a.get("content"), dict)
            and a["content"].get("type") == "AdaptiveCard"
            and isinstance(a["content"].get("version"), str)
            and isinstance(a["content"].get("body"), list)
            for a in attachments
        )
    )
    if not valid:
        return 400, {"Content-Type": "application/json"}, b'{"error":{"code":"TriggerInputSchemaMismatch"}}'
    return 202, {}, b""


# ---------------------------------------------------------------- Slack: an incoming webhook
def slack_incoming_webhook(request: Request) -> Answer:
    """Slack's incoming webhook: 200 "ok"; 400 "invalid_payload" for bad JSON, "no_text" without text or blocks."""
    try:
        message = request.json()
    except ValueError:
        return 400, {"Content-Type": "text/plain"}, b"invalid_payload"
    if not isinstance(message, dict):
        return 400, {"Content-Type": "text/plain"}, b"invalid_payload"
    if not message.get("text") and not message.get("blocks"):
        return 400, {"Content-Type": "text/plain"}, b"no_text"
    if "blocks" in message and not isinstance(message["blocks"], list):
        return 400, {"Content-Type": "text/plain"}, b"invalid_blocks"
    return 200, {"Content-Type": "text/plain"}, b"ok"


# ---------------------------------------------------------------- a signed webhook's receiver
class SignedReceiver:
    """What docs/notifications.md tells a receiver to do: verify, reject replays, drop repeats by id."""

    def __init__(self, secret: str, clock: Callable[[], float]) -> None:
        self.secret = secret
        self.clock = clock
        self.accepted: list[dict[str, Any]] = []
        self.seen_ids: set[str] = set()

    def __call__(self, request: Request) -> Answer:
        header = request.headers.get(SIGNATURE_HEADER.lower(), "")
        if not verify_signature(self.secret, header, request.body, now=self.clock()):
            return 401, {}, b"bad signature"
        body = request.json()
        if body["id"] not in self.seen_ids:
            self.seen_ids.add(body["id"])
            self.accepted.append(body)
        return 204, {}, b""
