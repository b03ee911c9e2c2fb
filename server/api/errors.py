"""Exceptions as responses: every error answers ``{"detail": "..."}`` with its status and headers."""

from __future__ import annotations

import errno
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from server.api.context import logged_path
from server.ingest import UploadError
from server.store import (
    InvalidTransitionError,
    NotFoundError,
    StorageFullError,
    StoreBusyError,
    StoreError,
    TokenNameTakenError,
)

log = logging.getLogger("showdesk.server")

RETRY_AFTER_SECONDS: Final = "1"
# A disk that is full stays full for a while; the outbox backs off on its own, this is a hint.
STORAGE_FULL_RETRY_AFTER_SECONDS: Final = "60"
_DISK_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL: Final = 13  # SQLITE_FULL: "database or disk is full"


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (401, 403, 413):  # refused tokens and bodies: what an admin is asked about
        log.warning(
            "%s %s refused (%d): %s", request.method, logged_path(request.url.path), exc.status_code, exc.detail
        )
    return _error(exc.status_code, str(exc.detail), dict(exc.headers or {}))


async def _on_disconnect(_request: Request, _exc: Exception) -> JSONResponse:
    # Nobody is listening any more; the status only shows in the log line.
    return _error(400, "the client went away before the body was complete")


async def _on_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for item in exc.errors()[:5]:
        loc = tuple(item.get("loc", ()))
        if len(loc) == 2 and loc[0] == "header":
            # "the Idempotency-Key header", as a person reading docs/api.md knows it
            where = "the " + "-".join(w.capitalize() for w in str(loc[1]).split("-")) + " header"
        else:
            where = ".".join(str(p) for p in loc if p != "body") or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return _error(422, "; ".join(parts) or "the request does not validate")


async def _on_upload(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UploadError)
    # The access line shows only the status; an admin asked "why was my report refused" needs the reason.
    who = request.scope.get("state", {}).get("token_name", "-")
    log.warning("upload from %s refused (%d): %s", who, exc.status, exc.message)
    return _error(exc.status, exc.message)


def _storage_full(request: Request, exc: BaseException) -> JSONResponse:
    who = request.scope.get("state", {}).get("token_name", "-")
    log.error("%s %s from %s: the disk is full: %s", request.method, logged_path(request.url.path), who, exc)
    return _error(
        507,
        "the server's disk is full, so nothing was stored; the report is kept by the client and "
        "retried later (an administrator needs to free space on the server)",
        {"Retry-After": STORAGE_FULL_RETRY_AFTER_SECONDS},
    )


async def _on_store(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, StorageFullError):
        return _storage_full(request, exc)
    if isinstance(exc, StoreBusyError):
        return _error(503, str(exc), {"Retry-After": RETRY_AFTER_SECONDS})
    if isinstance(exc, NotFoundError):
        return _error(404, str(exc))
    if isinstance(exc, InvalidTransitionError | TokenNameTakenError):
        return _error(409, str(exc))
    return _error(422, str(exc))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_disk_full(exc):
        return _storage_full(request, exc)
    log.error("internal error", exc_info=exc)
    return _error(500, f"internal error ({type(exc).__name__}); see the server log")


_HANDLERS: Final[dict[Any, Callable[[Request, Exception], Awaitable[JSONResponse]]]] = {
    StarletteHTTPException: _on_http,
    ClientDisconnect: _on_disconnect,
    RequestValidationError: _on_validation,
    UploadError: _on_upload,
    StoreError: _on_store,
    # Handled here, not only as Exception: Starlette re-raises what reaches its last-resort
    # handler (a traceback in the log), and a full disk is an operating condition, not a bug.
    OSError: _on_unexpected,
    sqlite3.Error: _on_unexpected,
    Exception: _on_unexpected,
}


def install_error_handlers(app: FastAPI) -> None:
    for kind, handler in _HANDLERS.items():
        app.add_exception_handler(kind, handler)


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT or SQLite's SQLITE_FULL, raised directly or as the cause of another error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        if isinstance(current, sqlite3.Error) and getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        current = current.__cause__ or current.__context__
    return False
