"""ASGI middleware: the request body limit, and one log line per request."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api.context import API_PREFIX, REPORTS_PATH, REQUESTER_PREFIX, logged_path
from server.settings import MAX_JSON_BODY_BYTES

log = logging.getLogger("showdesk.server")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the limit of {limit} bytes")


class BodyLimitMiddleware:
    """413 from Content-Length before any byte is read, and again if a stream passes the limit."""

    def __init__(self, app: ASGIApp, upload_limit: int) -> None:
        self.app = app
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if _takes_uploads(scope["path"]) else MAX_JSON_BODY_BYTES
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_json(send, 400, {"detail": "Content-Length is not a number"})
                return
            if int(declared) > limit:
                detail = f"the request body ({declared} bytes) is over the limit of {limit} bytes"
                log.warning("%s %s refused (413): %s", scope["method"], logged_path(scope["path"]), detail)
                await _send_json(send, 413, {"detail": detail})
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)


class RequestLogMiddleware:
    """One line per request: client, method, path, status, time, token name. Never a token or a link's secret."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            client = scope.get("client") or ("-", 0)
            who = scope.get("state", {}).get("token_name", "-")
            log.info(
                '%s "%s %s" %d %.1fms %s',
                client[0],
                scope["method"],
                logged_path(scope["path"]),
                status,
                (time.perf_counter() - started) * 1000,
                who,
            )


def _takes_uploads(path: str) -> bool:
    """Reports, and the person's answer with photos (from the requester's page or the agent)."""
    if path == REPORTS_PATH:
        return True
    return path.endswith("/answer") and path.startswith((REQUESTER_PREFIX + "/", API_PREFIX + "/tickets/"))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1").strip()
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
