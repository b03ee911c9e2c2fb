"""The HTTP API (FastAPI): reports in, tickets out, the walk-up queue, figures, tokens.

docs/api.md is the contract for submitting and reading back; /openapi.json describes
every call. Blocking work (SQLite, fsync, image checks) runs in the thread pool; the
event loop only streams bodies and waits on long polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import re
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.schema import MAX_JSON_DEPTH, MAX_JSON_INTEGER, JSONFormatError, Ticket, load_json_object
from server import models
from server import store as db
from server.blobs import BlobStore
from server.ingest import IngestLimits, UploadError, ingest, receive_upload
from server.ratelimit import RateLimit, RateLimiter, retry_after_header
from server.settings import MAX_JSON_BODY_BYTES, Settings, version
from server.store import (
    EventRow,
    FileRow,
    InvalidTransitionError,
    NotFoundError,
    StorageFullError,
    Store,
    StoreBusyError,
    StoreError,
    Summary,
    TicketFilter,
    TicketRow,
    TokenNameTakenError,
    TokenRecord,
)

log = logging.getLogger("showdesk.server")

REPORTS_PATH: Final = "/api/v1/reports"
MAX_WAIT_SECONDS: Final = 30.0
# A long poll re-reads the database at least this often, in case a change was committed
# by another process (the notifier only hears this one).
POLL_FALLBACK_SECONDS: Final = 1.0
RETRY_AFTER_SECONDS: Final = "1"
# A disk that is full stays full for a while; the outbox backs off on its own, this is a hint.
STORAGE_FULL_RETRY_AFTER_SECONDS: Final = "60"
SUBMIT_LIMIT: Final = "submit"
NOTE_LIMIT: Final = "note"
# Moments the API accepts: what fits a Unix timestamp and a four-digit year.
MIN_EPOCH_SECONDS: Final = 0.0
MAX_EPOCH_SECONDS: Final = datetime(9999, 12, 30, tzinfo=UTC).timestamp()
# The store reads ticket numbers of up to 12 digits (SD-999999999999).
_TICKET_NUMBER = re.compile(r"^SD-([0-9]+)$", re.IGNORECASE)
MAX_TICKET_NUMBER_DIGITS: Final = 12
_ASCII_DIGITS = re.compile(r"^[0-9]+$")

_ERROR_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "the request is malformed (Content-Length, an incomplete body)",
    401: "missing, unknown or revoked token",
    403: "the token's role may not make this call",
    404: "no such ticket, file or token (or not one this token may see)",
    409: "the change is not allowed in the ticket's current state",
    413: "the request body is over the limit",
    415: "the body is not multipart/form-data",
    422: "the input does not validate; the detail names the field or bound",
    429: "this token is over its rate limit; retry after Retry-After seconds",
    503: "the database is busy; retry after Retry-After seconds",
    507: "the server's disk is full; nothing was stored; retry later",
}
# What any /api/v1 call may answer: refused before the handler runs (400, 401, 413, 422) or by
# the store (503, 507). Each route adds its own (403, 404, 409, 415, 429).
_API_ERRORS: Final = (400, 401, 413, 422, 503, 507)
# A download is served with the type ingest settled on (server.ingest): an image type, one of the
# safe attachment types, or application/octet-stream for anything else.
_DOWNLOAD_CONTENT: Final[dict[str, Any]] = {
    "description": "the file's bytes, always as an attachment",
    "content": {
        media_type: ({} if media_type == "application/json" else {"schema": {"type": "string", "format": "binary"}})
        for media_type in (
            "image/png",
            "image/jpeg",
            "image/webp",
            "text/plain",
            "application/json",
            "application/pdf",
            "application/octet-stream",
        )
    },
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": models.ErrorBody, "description": _ERROR_DESCRIPTIONS[code]} for code in codes}


# ---------------------------------------------------------------- change notification
class ChangeNotifier:
    """Wakes long polls when a commit adds timeline events; commits happen on worker threads."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event = asyncio.Event()
        self.closing = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def notify_threadsafe(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
                loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    def current(self) -> asyncio.Event:
        """Take this before reading the database; it is set by any later commit."""
        return self._event

    def close(self) -> None:
        self.closing = True
        self._fire()

    def close_threadsafe(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.close)


# ---------------------------------------------------------------- ASGI middleware
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
        limit = self.upload_limit if scope["path"] == REPORTS_PATH else MAX_JSON_BODY_BYTES
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_json(send, 400, {"detail": "Content-Length is not a number"})
                return
            if int(declared) > limit:
                detail = f"the request body ({declared} bytes) is over the limit of {limit} bytes"
                log.warning("%s %s refused (413): %s", scope["method"], scope["path"], detail)
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
    """One line per request: client, method, path, status, time, token name. Never a token."""

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
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
                who,
            )


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


class BoundedJSONRoute(APIRoute):
    """Checks a JSON body's nesting depth and integers (agent.schema bounds) before FastAPI parses it.

    FastAPI's parser recurses once per level, and Python refuses integers over 4,300 digits only
    after reading them; both end in FastAPI's catch-all 400 "error parsing the body" (or, deeper
    down, a RecursionError). Every JSON body here is one small object, so the bounds that the
    report manifest has apply as they are: 422 naming the bound.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def bounded(request: Request) -> Response:
            body = await request.body()  # Starlette keeps it: FastAPI's own read gets the same bytes
            if body:
                try:
                    load_json_object(body, what="the JSON body", max_depth=MAX_JSON_DEPTH)
                except JSONFormatError as exc:
                    raise HTTPException(422, str(exc)) from None
            return await handler(request)

        return bounded


# ---------------------------------------------------------------- context and auth
class AppContext:
    def __init__(self, settings: Settings, store: Store, blobs: BlobStore) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.limiter = RateLimiter(
            {
                SUBMIT_LIMIT: RateLimit(settings.submit_per_minute, settings.submit_burst),
                NOTE_LIMIT: RateLimit(settings.note_per_minute, settings.note_burst),
            }
        )
        self.notifier = ChangeNotifier()
        store.add_listener(self.notifier.notify_threadsafe)

    def ticket_url(self, ticket_id: str) -> str:
        return f"{self.settings.base_url}/tickets/{ticket_id}"

    def file_url(self, file_id: int) -> str:
        return f"{self.settings.base_url}/api/v1/files/{file_id}"


# Dependencies are ``async def`` on purpose: FastAPI runs plain ``def`` dependencies in the
# thread pool, a thread hop each. These only read memory or make one indexed SQLite read
# (WAL readers never wait for writers), which is cheaper than the hop.
async def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]
_bearer = HTTPBearer(auto_error=False, description="a ShowDesk token: `showdesk server token create`")


async def authenticated(
    request: Request,
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> TokenRecord:
    if credentials is None:
        raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)", {"WWW-Authenticate": "Bearer"})
    record = context.store.authenticate(credentials.credentials)
    if record is None:
        raise HTTPException(401, "unknown or revoked token", {"WWW-Authenticate": "Bearer"})
    request.state.token_name = record.name
    return record


def _role(role: str) -> Callable[[TokenRecord], Awaitable[TokenRecord]]:
    async def check(caller: Annotated[TokenRecord, Depends(authenticated)]) -> TokenRecord:
        if not caller.may(role):
            raise HTTPException(403, f"this call needs a {role} token; this one is a {caller.role} token")
        return caller

    return check


AnyCaller = Annotated[TokenRecord, Depends(authenticated)]
Technician = Annotated[TokenRecord, Depends(_role("technician"))]
Admin = Annotated[TokenRecord, Depends(_role("admin"))]


def _check_ticket_key(key: str) -> str:
    number = _TICKET_NUMBER.match(key)
    if number and len(number.group(1)) > MAX_TICKET_NUMBER_DIGITS:
        highest = "9" * MAX_TICKET_NUMBER_DIGITS
        raise ValueError(f"a ticket number has at most {MAX_TICKET_NUMBER_DIGITS} digits (SD-{highest})")
    return key


TicketKey = Annotated[
    str,
    Path(description="ticket id (report UUID) or number (SD-1001)", max_length=64),
    AfterValidator(_check_ticket_key),
]


def _bounded_id(value: str, what: str) -> int | None:
    """A decimal id within SQLite's integer range; None when it is not a decimal number at all.

    ``str.isdigit`` is not enough: it is true for "²" and other digits ``int`` refuses, and SQLite
    overflows past 64 bits; both used to end in a 500.
    """
    if not _ASCII_DIGITS.match(value):
        return None
    if len(value.lstrip("0")) > len(str(MAX_JSON_INTEGER)) or int(value) > MAX_JSON_INTEGER:
        raise HTTPException(422, f"{what} is beyond the bound of {MAX_JSON_INTEGER}")
    return int(value)


def _take_permit(context: AppContext, kind: str, caller: TokenRecord) -> None:
    """Spend one of the caller's permits for ``kind``, or refuse with 429 and when to come back."""
    wait = context.limiter.acquire(kind, caller.id)
    if wait > 0:
        limit = context.limiter.limit(kind)
        raise HTTPException(
            429,
            f"token {caller.name!r} is over its rate limit of {limit.per_minute:g} per minute "
            f"(bursts of {limit.burst}); retry in {retry_after_header(wait)} s",
            {"Retry-After": retry_after_header(wait)},
        )


def _visible_ticket(context: AppContext, caller: TokenRecord, key: str) -> TicketRow:
    """The ticket, if this caller may see it; a submitter sees only its own (others are 404, not 403)."""
    ticket = context.store.get_ticket(key)
    _check_owner(caller, ticket, key)
    return ticket


def _check_owner(caller: TokenRecord, ticket: TicketRow, key: str) -> None:
    if not caller.may("technician") and ticket.submitted_by != caller.name:
        raise NotFoundError(f"no ticket {key!r}")


# ---------------------------------------------------------------- conversions
def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _summary_fields(context: AppContext, ticket: TicketRow) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "number": ticket.number,
        "status": ticket.status,
        "url": context.ticket_url(ticket.id),
        "report_id": ticket.id,
        "subject": ticket.subject,
        "category": ticket.category,
        "source": models.SourceInfo(kind=ticket.source_kind, id=ticket.source_id, site=ticket.site),
        "reporter": models.ReporterInfo(name=ticket.reporter_name, email=ticket.reporter_email),
        "submitted_by": ticket.submitted_by,
        "assignee": ticket.assignee,
        "walk_up": ticket.walk_up,
        "step_count": ticket.step_count,
        "attachment_count": ticket.attachment_count,
        "created_at": _at(ticket.created_at),
        "reported_at": ticket.reported_at,
        "updated_at": _at(ticket.updated_at),
        "first_response_at": _when(ticket.first_response_at),
        "resolved_at": _when(ticket.resolved_at),
    }


def _summary(context: AppContext, ticket: TicketRow) -> models.TicketSummary:
    return models.TicketSummary(**_summary_fields(context, ticket))


def _ticket_ref(context: AppContext, ticket: TicketRow) -> Ticket:
    return Ticket(
        id=ticket.id,
        number=ticket.number,
        status=ticket.status,
        url=context.ticket_url(ticket.id),
        report_id=uuid.UUID(ticket.id),
    )


def _token_info(record: TokenRecord) -> models.TokenInfo:
    return models.TokenInfo(
        id=record.id,
        name=record.name,
        role=record.role,
        site=record.site,
        created_at=_at(record.created_at),
        revoked_at=_when(record.revoked_at),
    )


def masked_name(name: str | None) -> str | None:
    """'Alice Baker' → 'Alice B.': enough to recognise oneself on a public board."""
    if not name or not name.strip():
        return None
    words = name.split()
    if len(words) == 1:
        return words[0]
    return f"{words[0]} {words[-1][0]}."


# ---------------------------------------------------------------- the app
def create_app(settings: Settings, store: Store, blobs: BlobStore) -> FastAPI:
    context = AppContext(settings, store, blobs)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        context.notifier.bind(asyncio.get_running_loop())
        yield
        context.notifier.close()

    app = FastAPI(
        title="ShowDesk built-in ticket server",
        version=version(),
        description=(
            "Reports in, tickets out. Every `/api/v1/` call needs `Authorization: Bearer <token>`; "
            "roles: submitter (submit, read back its own tickets), technician (all tickets, the walk-up queue, "
            'figures), admin (technician + tokens). Errors are `{"detail": "..."}`.'
        ),
        lifespan=lifespan,
        # The interactive pages load scripts from a CDN; the JSON document is what clients need.
        docs_url=None,
        redoc_url=None,
        responses={500: {"model": models.ErrorBody, "description": "internal error"}},
    )
    app.state.context = context
    app.add_middleware(BodyLimitMiddleware, upload_limit=settings.max_body_bytes)
    app.add_middleware(RequestLogMiddleware)
    _install_error_handlers(app)

    @app.get("/healthz", tags=["health"], summary="Liveness (no token needed)")
    async def healthz() -> models.Health:
        return models.Health(status="ok", version=version())

    api = APIRouter(prefix="/api/v1", responses=_errors(*_API_ERRORS), route_class=BoundedJSONRoute)
    _submit_routes(api)
    _ticket_routes(api)
    _queue_routes(api)
    _admin_routes(api)
    app.include_router(api)
    return app


def _submit_routes(api: APIRouter) -> None:
    manifest_schema = {
        "type": "object",
        "required": ["manifest"],
        "properties": {
            "manifest": {"type": "string", "format": "binary", "description": "manifest.json (Report, canonical JSON)"},
            "file": {
                "type": "array",
                "items": {"type": "string", "format": "binary"},
                "description": "one part per file of the report; the part's filename is its path in the bundle",
            },
        },
    }

    @api.post(
        "/reports",
        tags=["reports"],
        summary="Submit a report (idempotent on the report id)",
        status_code=201,
        responses={
            200: {"model": models.SubmitResult, "description": "a replay: the ticket this report made before"},
            **_errors(415, 429),
        },
        openapi_extra={
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": manifest_schema}}}
        },
    )
    async def submit_report(
        request: Request,
        response: Response,
        context: Context,
        caller: AnyCaller,
        idempotency_key: Annotated[
            str,
            Header(
                description="the report id (UUID); the same key with the same body is a replay",
                min_length=1,
                max_length=64,
            ),
        ],
    ) -> models.SubmitResult:
        if not await run_in_threadpool(_is_own_replay, context, caller, idempotency_key):
            _take_permit(context, SUBMIT_LIMIT, caller)
        upload = await receive_upload(request.headers.get("content-type", ""), request.stream(), context.blobs)
        limits = IngestLimits(max_image_pixels=context.settings.max_image_pixels)

        def store_report() -> tuple[TicketRow, bool]:
            try:
                return ingest(
                    context.store,
                    context.blobs,
                    upload,
                    idempotency_key=idempotency_key,
                    submitter=caller.name,
                    limits=limits,
                )
            finally:
                upload.discard()

        # If the client goes away now, the worker thread still finishes (or refuses) the
        # report on its own and removes its temporary files.
        ticket, created = await run_in_threadpool(store_report)
        if created:
            log.info("%s created from report %s by %s", ticket.number, ticket.id, caller.name)
        else:
            response.status_code = 200
        return models.SubmitResult(ticket=_ticket_ref(context, ticket), replayed=not created)

    @api.post(
        "/self-help",
        tags=["reports"],
        summary="Record that a self-help article solved a problem (no ticket made)",
        status_code=201,
        responses=_errors(422),
    )
    def record_self_help(body: models.SelfHelpEvent, context: Context, caller: AnyCaller) -> models.SelfHelpRecorded:
        site = body.site if body.site is not None else caller.site
        recorded = context.store.record_self_help(site, body.category, body.article, caller.name)
        return models.SelfHelpRecorded(id=recorded)

    @api.get("/whoami", tags=["tokens"], summary="The calling token's name, role and site")
    def whoami(caller: AnyCaller) -> models.Caller:
        return models.Caller(name=caller.name, role=caller.role, site=caller.site)


def _is_own_replay(context: AppContext, caller: TokenRecord, idempotency_key: str) -> bool:
    """Whether this token already stored the report this key names: re-sending it costs no permit.

    A client whose answer was lost retries with the same key; it must get its ticket back, not a
    429. One indexed read decides; ingest still checks the body is the same, and a different body
    stores nothing, so a token gains no storage by skipping the limiter this way.
    """
    try:
        report_id = str(uuid.UUID(idempotency_key))
    except ValueError:
        return False
    existing = context.store.find_by_report(report_id)
    return existing is not None and existing.submitted_by == caller.name


def _ticket_routes(api: APIRouter) -> None:
    @api.get(
        "/tickets",
        tags=["tickets"],
        summary="List tickets, newest first (a submitter sees only its own)",
        responses=_errors(422),
    )
    def list_tickets(
        context: Context,
        caller: AnyCaller,
        status: Annotated[models.StatusName | None, Query()] = None,
        category: Annotated[str | None, Query(max_length=200)] = None,
        source: Annotated[str | None, Query(max_length=200, description="source id: a kiosk id or hostname")] = None,
        site: Annotated[str | None, Query(max_length=200)] = None,
        q: Annotated[str | None, Query(max_length=200, description="words in the subject or description")] = None,
        since: Annotated[datetime | None, Query(description="created after this moment (ISO 8601)")] = None,
        assignee: Annotated[str | None, Query(max_length=200, description="a name, 'me' or 'none'")] = None,
        reporter: Annotated[str | None, Query(max_length=254, description="the reporter's e-mail address")] = None,
        cursor: Annotated[str | None, Query(max_length=20, description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        order: Annotated[
            Literal["newest", "oldest"], Query(description="newest first (the default) or oldest first")
        ] = "newest",
    ) -> models.TicketList:
        before: int | None = None
        if cursor is not None:
            before = _bounded_id(cursor, "cursor")
            if before is None:
                raise HTTPException(422, "cursor must be a next_cursor this server returned")
        filters = TicketFilter(
            status=status,
            category=category,
            source_id=source,
            site=site,
            text=q,
            created_after=_epoch(since) if since is not None else None,
            assignee=None if assignee in (None, "none") else caller.name if assignee == "me" else assignee,
            unassigned=assignee == "none",
            reporter_email=reporter,
            submitted_by=None if caller.may("technician") else caller.name,
        )
        tickets, next_seq = context.store.list_tickets(
            filters, before_seq=before, limit=limit, oldest_first=order == "oldest"
        )
        return models.TicketList(
            tickets=[_summary(context, t) for t in tickets],
            next_cursor=None if next_seq is None else str(next_seq),
        )

    @api.get(
        "/tickets/{ticket_id}",
        tags=["tickets"],
        summary="One ticket: report, steps, files, system information, timeline, queue place",
        responses=_errors(404),
    )
    def get_ticket(ticket_id: TicketKey, context: Context, caller: AnyCaller) -> models.TicketDetail:
        technician = caller.may("technician")
        ticket, files, events = context.store.ticket_detail(ticket_id, include_internal=technician)
        _check_owner(caller, ticket, ticket_id)
        infos = {f.path: _file_info(context, f) for f in files}
        report = json.loads(ticket.manifest)
        steps = []
        for index, step in enumerate(report.get("steps", []), start=1):
            original = step.get("original")
            steps.append(
                models.StepInfo(
                    index=index,
                    caption=step.get("caption", ""),
                    width=step["width"],
                    height=step["height"],
                    image=infos[step["image"]["path"]],
                    original=infos[original["path"]] if original else None,
                )
            )
        attachments = [
            models.AttachmentInfo(display_name=a["display_name"], file=infos[a["file"]["path"]])
            for a in report.get("attachments", [])
        ]
        sysinfo = None
        sysinfo_file = next((f for f in files if f.role == "sysinfo"), None)
        if sysinfo_file is not None:
            loaded = json.loads(context.blobs.path_for(sysinfo_file.sha256).read_bytes())
            sysinfo = loaded if isinstance(loaded, dict) else None
        queue = None
        if ticket.walk_up and ticket.site:
            with contextlib.suppress(NotFoundError):
                queue = _queue_place(context.store.queue_place(ticket.id))
        return models.TicketDetail(
            **_summary_fields(context, ticket),
            description=ticket.description,
            report=report,
            steps=steps,
            attachments=attachments,
            sysinfo=sysinfo,
            timeline=[_timeline_event(e) for e in events],
            queue=queue,
        )

    @api.get(
        "/tickets/{ticket_id}/files/{path:path}",
        tags=["tickets"],
        summary="Download one file of a ticket by its path in the report (steps/001.png)",
        response_class=FileResponse,
        responses={200: _DOWNLOAD_CONTENT, **_errors(404)},
    )
    def download_by_path(
        ticket_id: TicketKey, path: Annotated[str, Path(max_length=64)], context: Context, caller: AnyCaller
    ) -> FileResponse:
        file, ticket = context.store.get_file_by_path(ticket_id, path)
        _check_owner(caller, ticket, ticket_id)
        return _file_response(context, file, ticket)

    @api.get(
        "/files/{file_id}",
        tags=["tickets"],
        summary="Download one file by its id (always as an attachment, never shown inline)",
        response_class=FileResponse,
        responses={200: _DOWNLOAD_CONTENT, **_errors(404)},
    )
    def download(file_id: Annotated[str, Path(max_length=20)], context: Context, caller: AnyCaller) -> FileResponse:
        number = _bounded_id(file_id, "file id")
        if number is None:
            raise NotFoundError(f"no file with id {file_id!r}")
        file, ticket = context.store.get_file(number)
        if not caller.may("technician") and ticket.submitted_by != caller.name:
            raise NotFoundError(f"no file with id {file_id!r}")
        return _file_response(context, file, ticket)

    @api.post(
        "/tickets/{ticket_id}/status",
        tags=["tickets"],
        summary="Change the status: new → open → waiting → resolved → closed; resolved/closed reopen to open",
        responses=_errors(403, 404, 409),
    )
    def set_status(
        ticket_id: TicketKey, body: models.StatusChange, context: Context, caller: Technician
    ) -> models.TicketSummary:
        return _summary(context, context.store.set_status(ticket_id, body.status, caller.name))

    @api.post(
        "/tickets/{ticket_id}/assign",
        tags=["tickets"],
        summary="Assign to a technician ('me' for the caller) or unassign (null)",
        responses=_errors(403, 404),
    )
    def assign(
        ticket_id: TicketKey, body: models.Assignment, context: Context, caller: Technician
    ) -> models.TicketSummary:
        assignee = caller.name if body.assignee == "me" else body.assignee
        return _summary(context, context.store.assign(ticket_id, assignee, caller.name))

    @api.post(
        "/tickets/{ticket_id}/notes",
        tags=["tickets"],
        summary="Add an internal note, or a reply the submitter sees (internal=false)",
        status_code=201,
        responses=_errors(403, 404, 429),
    )
    def add_note(
        ticket_id: TicketKey, body: models.NoteCreate, context: Context, caller: Technician
    ) -> models.TimelineEvent:
        _take_permit(context, NOTE_LIMIT, caller)
        event = context.store.add_note(ticket_id, body.text, internal=body.internal, actor=caller.name)
        return _timeline_event(event)

    @api.get(
        "/changes",
        tags=["tickets"],
        summary="Changes feed (long poll): timeline events after a sequence number",
        description=(
            "Returns at once when there are changes after `after`, else waits up to `wait` seconds for one. "
            "A submitter token sees only changes of the tickets it submitted, and no internal notes."
        ),
        responses=_errors(422),
    )
    async def changes(
        context: Context,
        caller: AnyCaller,
        after: Annotated[
            int | None,
            Query(
                ge=0,
                le=MAX_JSON_INTEGER,
                description="last_seq of the previous call; 0 for everything; absent: from now on",
            ),
        ] = None,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS, description="seconds to wait for a change")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> models.ChangesPage:
        if after is None:
            # A client that has just loaded its list follows from now on, without the history.
            newest = await run_in_threadpool(context.store.newest_change_seq)
            return models.ChangesPage(changes=[], last_seq=newest)
        submitted_by = None if caller.may("technician") else caller.name
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        waiting = False
        while True:
            wake = context.notifier.current()
            found, last_seq = await run_in_threadpool(
                context.store.changes_after, after, limit=limit, submitted_by=submitted_by
            )
            remaining = deadline - loop.time()
            if found or remaining <= 0 or context.notifier.closing:
                items = [models.ChangeItem(seq=c.seq, ticket_id=c.ticket_id, kind=c.kind, at=_at(c.at)) for c in found]
                return models.ChangesPage(changes=items, last_seq=last_seq)
            if not waiting:
                waiting = True
                log.debug("long poll by %s waits up to %.1f s for changes after %d", caller.name, remaining, last_seq)
            after = last_seq
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=min(remaining, POLL_FALLBACK_SECONDS))

    @api.get(
        "/stats",
        tags=["figures"],
        summary="Dashboard figures: response and resolution times, categories, walk-up wait, self-help",
        responses=_errors(403),
    )
    def stats(
        context: Context,
        _caller: Technician,
        since: Annotated[datetime | None, Query(description="default: 30 days before `until`")] = None,
        until: Annotated[datetime | None, Query(description="default: now")] = None,
    ) -> models.StatsReport:
        end = _epoch(until) if until is not None else time.time()
        start = _epoch(since) if since is not None else end - timedelta(days=30).total_seconds()
        if start >= end:
            raise HTTPException(422, "since must be before until")
        figures = context.store.stats(start, end)

        def duration(summary: Summary) -> models.DurationSummary:
            return models.DurationSummary(
                count=summary.count, mean_seconds=summary.mean_seconds, median_seconds=summary.median_seconds
            )

        return models.StatsReport(
            since=_at(start),
            until=_at(end),
            tickets_created=figures.tickets_created,
            open_tickets=figures.open_tickets,
            time_to_first_response=duration(figures.first_response),
            time_to_resolution=duration(figures.resolution),
            walk_up_wait=duration(figures.walk_up_wait),
            by_category=[models.CategoryCount(category=c, count=n) for c, n in figures.by_category],
            self_help=models.SelfHelpFigures(
                solved_by_article=figures.solved_by_article,
                reports_after_articles=figures.reports_after_articles,
                share_solved=figures.share_solved_by_self_help,
                top_articles=[models.ArticleCount(article=a, count=n) for a, n in figures.top_articles],
            ),
            recurring_machines=[models.MachineCount(source_id=s, tickets=n) for s, n in figures.recurring_machines],
        )


def _queue_routes(api: APIRouter) -> None:
    @api.get(
        "/tickets/{ticket_id}/queue",
        tags=["walk-up queue"],
        summary="A walk-up ticket's place in its site's queue",
        responses=_errors(404),
    )
    def queue_place(ticket_id: TicketKey, context: Context, caller: AnyCaller) -> models.QueuePlace:
        _visible_ticket(context, caller, ticket_id)
        return _queue_place(context.store.queue_place(ticket_id))

    @api.post(
        "/tickets/{ticket_id}/queue/served",
        tags=["walk-up queue"],
        summary="Mark a walk-up visit served (resolving the ticket does this too)",
        responses=_errors(403, 404),
    )
    def mark_served(ticket_id: TicketKey, context: Context, caller: Technician) -> models.QueuePlace:
        return _queue_place(context.store.mark_served(ticket_id, caller.name))

    @api.get(
        "/queue/{site}",
        tags=["walk-up queue"],
        summary="A site's queue: technicians see everything; a submitter token of that site sees the public board",
        responses=_errors(403, 404),
    )
    def queue_board(
        site: Annotated[str, Path(max_length=200)], context: Context, caller: AnyCaller
    ) -> models.QueueBoard:
        if not caller.may("technician") and caller.site != site:
            detail = (
                f"this token may show the board of site {caller.site!r} only"
                if caller.site
                else "this submitter token belongs to no site; only a site's own token shows its board"
            )
            raise HTTPException(403, detail)
        return _board(context.store.queue_board(site), full=caller.may("technician"))

    @api.post(
        "/queue/{site}/next",
        tags=["walk-up queue"],
        summary="Call the next person waiting at the site",
        responses=_errors(403),
    )
    def call_next(site: Annotated[str, Path(max_length=200)], context: Context, caller: Technician) -> models.QueueCall:
        called = context.store.call_next(site, caller.name)
        return models.QueueCall(
            called=None if called is None else _summary(context, called),
            board=_board(context.store.queue_board(site), full=True),
        )


def _admin_routes(api: APIRouter) -> None:
    @api.get("/tokens", tags=["tokens"], summary="List tokens (never their secrets)", responses=_errors(403))
    def list_tokens(
        context: Context, _caller: Admin, include_revoked: Annotated[bool, Query()] = False
    ) -> list[models.TokenInfo]:
        return [_token_info(t) for t in context.store.list_tokens(include_revoked=include_revoked)]

    @api.post(
        "/tokens",
        tags=["tokens"],
        summary="Create a token; its secret is shown once",
        status_code=201,
        responses=_errors(403, 409),
    )
    def create_token(body: models.TokenCreate, context: Context, caller: Admin) -> models.TokenCreated:
        record, secret = context.store.create_token(body.name, body.role, body.site)
        log.info("%s token %r (%s) created by %s", record.role, record.name, record.id, caller.name)
        return models.TokenCreated(**_token_info(record).model_dump(), token=secret)

    @api.delete(
        "/tokens/{name_or_id}",
        tags=["tokens"],
        summary="Revoke a token (effective on its next request)",
        responses=_errors(403, 404),
    )
    def revoke_token(
        name_or_id: Annotated[str, Path(max_length=64)], context: Context, caller: Admin
    ) -> models.TokenInfo:
        record = context.store.revoke_token(name_or_id)
        log.info("token %r (%s) revoked by %s", record.name, record.id, caller.name)
        return _token_info(record)


# ---------------------------------------------------------------- helpers
def _epoch(moment: datetime) -> float:
    """Seconds since 1970 for a query's moment, refusing (422) what later arithmetic cannot hold."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        seconds = moment.timestamp()
    except (OverflowError, ValueError):
        seconds = float("nan")
    if not MIN_EPOCH_SECONDS <= seconds <= MAX_EPOCH_SECONDS:
        raise HTTPException(422, f"{moment.isoformat()} is outside 1970-01-01 to 9999-12-30 (UTC)")
    return seconds


def _timeline_event(event: EventRow) -> models.TimelineEvent:
    return models.TimelineEvent(
        seq=event.seq,
        kind=event.kind,  # type: ignore[arg-type]  # the store writes only the kinds the model lists
        at=_at(event.at),
        actor=event.actor,
        internal=event.internal,
        data=event.data,
    )


def _file_info(context: AppContext, file: FileRow) -> models.FileInfo:
    return models.FileInfo(
        id=str(file.id),
        path=file.path,
        role=file.role,
        media_type=file.media_type,
        size=file.size,
        sha256=file.sha256,
        display_name=file.display_name,
        url=context.file_url(file.id),
    )


def _file_response(context: AppContext, file: FileRow, ticket: TicketRow) -> FileResponse:
    blob = context.blobs.path_for(file.sha256)
    if not blob.is_file():
        log.error("%s: blob %s of %s is missing from the store", ticket.number, file.sha256, file.path)
        raise HTTPException(500, f"the stored file {file.path} of {ticket.number} is missing; restore from a backup")
    # The download name is ours (number + bundle path), never the client's display name.
    filename = f"{ticket.number}-{file.path.replace('/', '-')}"
    return FileResponse(
        blob,
        media_type=file.media_type,
        filename=filename,
        content_disposition_type="attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


def _queue_place(place: db.QueuePlace) -> models.QueuePlace:
    return models.QueuePlace(
        site=place.site,
        position=place.position,
        ahead=place.ahead,
        estimated_wait_seconds=place.estimated_wait_seconds,
        state=place.state,
    )


def _board(board: db.QueueBoard, *, full: bool) -> models.QueueBoard:
    def entry(e: db.BoardEntry) -> models.BoardEntry:
        return models.BoardEntry(
            number=e.number,
            name=e.reporter_name if full else masked_name(e.reporter_name),
            position=e.position,
            state=e.state,
            waiting_since=_at(e.enqueued_at),
            called_at=_when(e.called_at),
            called_by=e.called_by if full else None,
            estimated_wait_seconds=e.estimated_wait_seconds,
            ticket_id=e.ticket_id if full else None,
        )

    return models.QueueBoard(
        site=board.site,
        waiting=[entry(e) for e in board.waiting],
        serving=[entry(e) for e in board.serving],
        mean_service_seconds=board.mean_service_seconds,
        service_history=board.service_history,
        estimated_wait_seconds=board.estimated_wait_seconds,
    )


def _install_error_handlers(app: FastAPI) -> None:
    def error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code in (401, 403, 413):  # refused tokens and bodies: what an admin is asked about
            log.warning("%s %s refused (%d): %s", request.method, request.url.path, exc.status_code, exc.detail)
        return error(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    async def on_disconnect(_request: Request, _exc: Exception) -> JSONResponse:
        # Nobody is listening any more; the status only shows in the log line.
        return error(400, "the client went away before the body was complete")

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
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
        return error(422, "; ".join(parts) or "the request does not validate")

    async def on_upload(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, UploadError)
        # The access line shows only the status; an admin asked "why was my report refused" needs the reason.
        who = request.scope.get("state", {}).get("token_name", "-")
        log.warning("upload from %s refused (%d): %s", who, exc.status, exc.message)
        return error(exc.status, exc.message)

    def storage_full(request: Request, exc: BaseException) -> JSONResponse:
        who = request.scope.get("state", {}).get("token_name", "-")
        log.error("%s %s from %s: the disk is full: %s", request.method, request.url.path, who, exc)
        return error(
            507,
            "the server's disk is full, so nothing was stored; the report is kept by the client and "
            "retried later (an administrator needs to free space on the server)",
            {"Retry-After": STORAGE_FULL_RETRY_AFTER_SECONDS},
        )

    async def on_store(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, StorageFullError):
            return storage_full(request, exc)
        if isinstance(exc, StoreBusyError):
            return error(503, str(exc), {"Retry-After": RETRY_AFTER_SECONDS})
        if isinstance(exc, NotFoundError):
            return error(404, str(exc))
        if isinstance(exc, InvalidTransitionError | TokenNameTakenError):
            return error(409, str(exc))
        return error(422, str(exc))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if _is_disk_full(exc):
            return storage_full(request, exc)
        log.error("internal error", exc_info=exc)
        return error(500, f"internal error ({type(exc).__name__}); see the server log")

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[JSONResponse]]] = {
        StarletteHTTPException: on_http,
        ClientDisconnect: on_disconnect,
        RequestValidationError: on_validation,
        UploadError: on_upload,
        StoreError: on_store,
        # Handled here, not only as Exception: Starlette re-raises what reaches its last-resort
        # handler (a traceback in the log), and a full disk is an operating condition, not a bug.
        OSError: on_unexpected,
        sqlite3.Error: on_unexpected,
        Exception: on_unexpected,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)


_DISK_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL: Final = 13  # SQLITE_FULL: "database or disk is full"


def _is_disk_full(exc: BaseException) -> bool:
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
