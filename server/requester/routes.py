"""The requester's page over HTTP: /t/{secret} and what hangs under it.

* ``GET /t/{secret}``: the page (``?lang=en|de``);
* ``GET /t/{secret}/events``: live updates as Server-Sent Events;
* ``GET /t/{secret}/files/{id}``: a screenshot, clip or photo of this ticket, inline;
* ``GET /t/{secret}/thumbs/{id}``: its thumbnail (WebP, 480 px on the longest side) once made;
* ``POST /t/{secret}/answer`` (multipart: text, photos), ``/feedback`` (solved yes/no),
  ``/rating`` (score, comment): each answers 303 back to the page (post, redirect, get);
* ``GET /static/requester.css|js``, ``/static/clips.js`` (frame-by-frame stepping of clips).

A link that opens nothing (wrong, revoked, expired, another ticket's) gets the same 404 page,
and costs the client address a permit of the guessing limit; out of permits, every link
answers 429 for that address until the bucket refills.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Final

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from agent.schema import IMAGE_MEDIA_TYPES, MAX_DESCRIPTION_CHARS
from server.api.context import ANSWER_LIMIT, LINK_GUESS_LIMIT, MAIL_STOP_PATH, REQUESTER_PREFIX, AppContext
from server.api.photos import MAX_ANSWER_PHOTOS, PhotoRefusedError, receive_photos
from server.blob_response import blob_response
from server.outgoing.mail import MAIL_CHANNEL
from server.ratelimit import retry_after_header
from server.requester.pages import PageInput, Pages, choose_language
from server.requester.security import IMAGE_HEADERS, PAGE_HEADERS, check_form_token, is_cross_site
from server.requester.texts import texts
from server.store import MAX_RATING_COMMENT_CHARS, FileRow, InvalidTransitionError, NotFoundError, TicketRow

log = logging.getLogger("showdesk.server")

STATIC: Final = Path(__file__).resolve().parent / "static"
_STATIC_TYPES: Final = {
    "requester.css": "text/css; charset=utf-8",
    "requester.js": "text/javascript; charset=utf-8",
    "clips.js": "text/javascript; charset=utf-8",
}
# What the page may show of a ticket's files: screenshots, clips (animated WebP) and the person's photos.
_SHOWN_ROLES: Final = frozenset({"step", "clip", "answer"})
# How often a live stream looks again without a wake-up: a change made by another process
# (the command line) and the estimated wait, which moves with the clock.
STREAM_RECHECK_SECONDS: Final = 5.0
STREAM_REFRESH_SECONDS: Final = 30.0
# What a browser waits before reconnecting a stream that ended (its lifetime, a restart).
STREAM_RETRY_MILLISECONDS: Final = 5000
# Two streams that started at once may find the last slot both; the second ends at once and
# its browser tries again after this.
STREAM_FULL_RETRY_MILLISECONDS: Final = 60_000
# Text fields of the forms are small; the answer's photos are bounded by count and size.
MAX_FORM_FIELD_BYTES: Final = MAX_DESCRIPTION_CHARS * 4 + 1024

Language = Annotated[str | None, Query(max_length=8, description="en or de")]


class PageRefusedError(Exception):
    """Answered with an HTML page: 404 (the one not-found page for every miss) or 429."""

    def __init__(self, status: int, language: str, retry_after: float = 0.0) -> None:
        super().__init__(status)
        self.status = status
        self.language = language
        self.retry_after = retry_after


class StreamSlots:
    """Open live streams: a cap in all and per client address (the event loop's own counters)."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.open = 0
        self._by_client: dict[str, int] = {}

    def has_room(self, client: str) -> bool:
        return self.open < self.total and self._by_client.get(client, 0) < self.per_client

    def take(self, client: str) -> bool:
        if not self.has_room(client):
            return False
        self.open += 1
        self._by_client[client] = self._by_client.get(client, 0) + 1
        return True

    def give_back(self, client: str) -> None:
        self.open -= 1
        left = self._by_client.get(client, 1) - 1
        if left:
            self._by_client[client] = left
        else:
            self._by_client.pop(client, None)


class Requester:
    """What the routes share, kept in ``app.state.requester``."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.pages = Pages(context)
        settings = context.settings
        self.streams = StreamSlots(settings.max_event_streams, settings.max_event_streams_per_client)
        self.static = {name: (STATIC / name).read_bytes() for name in _STATIC_TYPES}


def _requester(request: Request) -> Requester:
    requester: Requester = request.app.state.requester
    return requester


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


async def _open(request: Request, secret: str, lang: str | None) -> tuple[Requester, TicketRow, str]:
    """The ticket this link opens and the page's language; a miss raises the 404 page."""
    requester = _requester(request)
    context = requester.context
    accept = request.headers.get("accept-language", "")
    client = _client(request)
    wait = context.limiter.wait_for(LINK_GUESS_LIMIT, client)
    if wait > 0:
        raise PageRefusedError(429, choose_language(lang, None, accept), wait)
    ticket = await run_in_threadpool(context.store.ticket_by_link, secret)
    if ticket is not None:
        expires = context.link_expires_at(ticket)
        if expires is not None and expires <= time.time():
            ticket = None
    if ticket is None:
        context.limiter.acquire(LINK_GUESS_LIMIT, client)
        log.info("requester link from %s opens nothing (404)", client)
        raise PageRefusedError(404, choose_language(lang, None, accept))
    return requester, ticket, choose_language(lang, ticket, accept)


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


def _back(secret: str, language: str, notice: str) -> RedirectResponse:
    # Relative to /t/{secret}/<form>: back to the page, behind any path prefix a proxy adds.
    response = RedirectResponse(f"../{secret}?lang={language}&sent={notice}", status_code=303)
    response.headers.update(PAGE_HEADERS)
    return response


router = APIRouter(include_in_schema=False)


@router.get(REQUESTER_PREFIX + "/{secret}")
async def page(
    request: Request,
    secret: str,
    lang: Language = None,
    sent: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    requester, ticket, language = await _open(request, secret, lang)
    notice = texts(language).get(f"notice.{sent}", "") if sent else ""
    body = await run_in_threadpool(requester.pages.page, ticket.id, secret, PageInput(language, notice=notice))
    return _html(body)


async def _ticket_image(request: Request, secret: str, file_id: str, lang: str | None) -> tuple[Requester, FileRow]:
    """A screenshot or photo of the ticket this link opens; anything else raises the 404 page."""
    requester, ticket, language = await _open(request, secret, lang)
    if not file_id.isascii() or not file_id.isdigit() or len(file_id) > 18:
        raise PageRefusedError(404, language)
    try:
        file, owner = await run_in_threadpool(requester.context.store.get_file, int(file_id))
    except NotFoundError:
        raise PageRefusedError(404, language) from None
    # Screenshots, clips and the person's photos of this ticket; never another ticket's, never an original.
    if owner.seq != ticket.seq or file.role not in _SHOWN_ROLES or file.media_type not in IMAGE_MEDIA_TYPES:
        raise PageRefusedError(404, language)
    return requester, file


@router.get(REQUESTER_PREFIX + "/{secret}/files/{file_id}")
async def image(request: Request, secret: str, file_id: str, lang: Language = None) -> Response:
    requester, file = await _ticket_image(request, secret, file_id, lang)
    # An object store's HEAD is network I/O: off the event loop.
    response = await run_in_threadpool(
        blob_response,
        requester.context.blobs,
        file.sha256,
        media_type=file.media_type,
        headers=dict(IMAGE_HEADERS),
        disposition="inline",
    )
    if response is None:
        raise PageRefusedError(404, choose_language(lang, None, ""))
    return response


@router.get(REQUESTER_PREFIX + "/{secret}/thumbs/{file_id}")
async def thumbnail(request: Request, secret: str, file_id: str, lang: Language = None) -> FileResponse:
    """The small WebP of a screenshot or photo (made by the thumbnail worker; 404 until it exists)."""
    requester, file = await _ticket_image(request, secret, file_id, lang)
    thumb = requester.context.thumbnails.existing(file.sha256)
    if thumb is None:
        raise PageRefusedError(404, choose_language(lang, None, ""))
    return FileResponse(thumb, media_type="image/webp", headers=IMAGE_HEADERS, content_disposition_type="inline")


@router.get(REQUESTER_PREFIX + "/{secret}/events")
async def events(request: Request, secret: str, lang: Language = None) -> Response:
    requester, ticket, language = await _open(request, secret, lang)
    client = _client(request)
    if not requester.streams.has_room(client):
        # A browser's EventSource gives up on a refusal: the page stays usable, just not live.
        return Response(status_code=503, headers={**PAGE_HEADERS, "Retry-After": "30"})
    return StreamingResponse(
        _stream(requester, ticket, secret, language, client),
        media_type="text/event-stream",
        headers={**PAGE_HEADERS, "X-Accel-Buffering": "no"},
    )


async def _stream(
    requester: Requester, ticket: TicketRow, secret: str, language: str, client: str
) -> AsyncIterator[str]:
    """Updates when a commit touches anything, bounded by a lifetime; a comment line as heartbeat."""
    context = requester.context
    settings = context.settings
    loop = asyncio.get_running_loop()
    ends = loop.time() + settings.event_stream_seconds
    next_heartbeat = loop.time() + settings.heartbeat_seconds
    sent: dict[str, str] = {}
    seen_seq = -1
    rendered_at = -math.inf
    # The slot is taken here, not in the route: a generator that never starts (the client left
    # before the first byte) runs no ``finally``, and a slot taken outside it would leak.
    if not requester.streams.take(client):
        yield f"retry: {STREAM_FULL_RETRY_MILLISECONDS}\n\n"
        return
    try:
        yield f"retry: {STREAM_RETRY_MILLISECONDS}\n\n"
        while not context.notifier.closing and loop.time() < ends:
            wake = context.notifier.current()
            newest = await run_in_threadpool(context.store.newest_change_seq)
            # Rendered again on a change anywhere (a queue place moves with other tickets) and
            # now and then for the estimated wait, which moves with the clock.
            if newest != seen_seq or loop.time() - rendered_at >= STREAM_REFRESH_SECONDS:
                seen_seq, rendered_at = newest, loop.time()
                if not await run_in_threadpool(_still_open, context, secret):
                    yield "event: gone\ndata: {}\n\n"
                    return
                parts = await run_in_threadpool(requester.pages.live_parts, ticket.id, secret, language)
                if parts["versions"] != sent:
                    sent = parts["versions"]
                    yield f"event: update\ndata: {json.dumps(parts, separators=(',', ':'))}\n\n"
            now = loop.time()
            timeout = min(next_heartbeat, ends, now + STREAM_RECHECK_SECONDS) - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=max(0.0, timeout))
            if loop.time() >= next_heartbeat:
                next_heartbeat = loop.time() + settings.heartbeat_seconds
                yield ": keep-alive\n\n"
    finally:
        requester.streams.give_back(client)


def _still_open(context: AppContext, secret: str) -> bool:
    """A revoked or expired link ends its stream too."""
    ticket = context.store.ticket_by_link(secret)
    if ticket is None:
        return False
    expires = context.link_expires_at(ticket)
    return expires is None or expires > time.time()


# ---------------------------------------------------------------- what the person sends
async def _checked_form(
    request: Request, secret: str, ticket: TicketRow, language: str, *, files: int
) -> tuple[dict[str, str], list[UploadFile], str | None]:
    """The form's fields, its files and its nonce (None: the token is not valid, or the form is malformed)."""
    if is_cross_site(request.headers.get("sec-fetch-site")):
        raise PageRefusedError(404, language)
    requester = _requester(request)
    wait = requester.context.limiter.acquire(ANSWER_LIMIT, ticket.id)
    if wait > 0:
        raise PageRefusedError(429, language, wait)
    try:
        form = await request.form(max_files=files, max_fields=8, max_part_size=MAX_FORM_FIELD_BYTES)
    except MultiPartException as exc:
        # Too many files or fields, a field over its size, a malformed body: the page says so.
        log.info("%s: a form from the requester's page was refused: %s", ticket.number, exc.message)
        return {}, [], None
    fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    uploads = [
        value
        for key, value in form.multi_items()
        if key == "photo" and isinstance(value, UploadFile) and (value.filename or value.size)
    ]
    return fields, uploads, check_form_token(secret, fields.get("form", ""))


@router.post(REQUESTER_PREFIX + "/{secret}/answer")
async def answer(request: Request, secret: str, lang: Language = None) -> Response:
    requester, ticket, language = await _open(request, secret, lang)
    t = texts(language)
    fields, uploads, nonce = await _checked_form(request, secret, ticket, language, files=MAX_ANSWER_PHOTOS + 1)
    text = fields.get("text", "").replace("\r\n", "\n").strip()

    async def again(error: str, status: int = 422) -> HTMLResponse:
        given = PageInput(language, error=error, answer_text=text)
        return _html(await run_in_threadpool(requester.pages.page, ticket.id, secret, given), status)

    if nonce is None:
        return await again(t["error.form"], 400)
    if len(text) > MAX_DESCRIPTION_CHARS:
        return await again(t["error.too_long"].format(limit=MAX_DESCRIPTION_CHARS))
    if len(uploads) > MAX_ANSWER_PHOTOS:
        return await again(t["error.too_many_photos"].format(count=MAX_ANSWER_PHOTOS))
    if not text and not uploads:
        return await again(t["error.empty"])
    try:
        photos = await receive_photos(uploads, requester.context.blobs, requester.context.settings.max_image_pixels)
    except PhotoRefusedError as exc:
        log.info("%s: a photo from the requester's page was refused: %s", ticket.number, exc)
        return await again(t["error.photos"].format(reason=str(exc)))
    finally:
        for upload in uploads:
            await upload.close()
    event = await run_in_threadpool(requester.context.store.add_answer, ticket.id, text, photos, nonce)
    if event is not None:
        log.info("%s: the person answered (%d photos)", ticket.number, len(photos))
    return _back(secret, language, "answer" if event is not None else "already")


@router.post(REQUESTER_PREFIX + "/{secret}/feedback")
async def feedback(request: Request, secret: str, lang: Language = None) -> Response:
    requester, ticket, language = await _open(request, secret, lang)
    fields, _uploads, nonce = await _checked_form(request, secret, ticket, language, files=0)
    solved = fields.get("solved")
    if nonce is None or solved not in ("yes", "no"):
        given = PageInput(language, error=texts(language)["error.form"])
        return _html(await run_in_threadpool(requester.pages.page, ticket.id, secret, given), 400)
    try:
        event = await run_in_threadpool(requester.context.store.add_feedback, ticket.id, solved == "yes", nonce)
    except InvalidTransitionError:
        given = PageInput(language, error=texts(language)["error.state"])
        return _html(await run_in_threadpool(requester.pages.page, ticket.id, secret, given), 409)
    return _back(secret, language, "solved" if event is not None else "already")


@router.post(REQUESTER_PREFIX + "/{secret}/rating")
async def rating(request: Request, secret: str, lang: Language = None) -> Response:
    requester, ticket, language = await _open(request, secret, lang)
    t = texts(language)
    fields, _uploads, nonce = await _checked_form(request, secret, ticket, language, files=0)
    score_text = fields.get("score", "")
    comment = fields.get("comment", "").replace("\r\n", "\n").strip()
    error = ""
    if nonce is None:
        error, status = t["error.form"], 400
    elif score_text not in ("1", "2", "3", "4", "5"):
        error, status = t["error.rating"], 422
    elif len(comment) > MAX_RATING_COMMENT_CHARS:
        error, status = t["error.too_long"].format(limit=MAX_RATING_COMMENT_CHARS), 422
    if error or nonce is None:
        given = PageInput(language, error=error)
        return _html(await run_in_threadpool(requester.pages.page, ticket.id, secret, given), status)
    try:
        event = await run_in_threadpool(requester.context.store.add_rating, ticket.id, int(score_text), comment, nonce)
    except InvalidTransitionError:
        given = PageInput(language, error=t["error.state"])
        return _html(await run_in_threadpool(requester.pages.page, ticket.id, secret, given), 409)
    return _back(secret, language, "rating" if event is not None else "already")


# ---------------------------------------------------------------- static files and misses
# ---------------------------------------------------------------- stopping mails for the ticket
# GET only shows the question: mail scanners and link previews open links, and must not stop
# anything. The POST is the page's form (its token is signed with the link's secret), or a mail
# program's one-click unsubscribe (RFC 8058: "List-Unsubscribe=One-Click"), which carries no token;
# the link itself is the capability either way, and stopping twice changes nothing.
@router.get(REQUESTER_PREFIX + "/{secret}/" + MAIL_STOP_PATH)
async def mail_stop_page(request: Request, secret: str, lang: Language = None) -> HTMLResponse:
    requester, ticket, language = await _open(request, secret, lang)
    stopped = await run_in_threadpool(requester.context.store.outgoing.is_stopped, ticket.id, MAIL_CHANNEL)
    return _html(requester.pages.mail_stop(language, ticket.number, secret, stopped=stopped))


@router.post(REQUESTER_PREFIX + "/{secret}/" + MAIL_STOP_PATH)
async def mail_stop(request: Request, secret: str, lang: Language = None) -> HTMLResponse:
    requester, ticket, language = await _open(request, secret, lang)
    if is_cross_site(request.headers.get("sec-fetch-site")):
        raise PageRefusedError(404, language)
    try:
        form = await request.form(max_files=0, max_fields=4, max_part_size=MAX_FORM_FIELD_BYTES)
    except MultiPartException:
        form = None
    fields = {} if form is None else {k: v for k, v in form.multi_items() if isinstance(v, str)}
    one_click = fields.get("List-Unsubscribe") == "One-Click"
    if not one_click and check_form_token(secret, fields.get("form", "")) is None:
        return _html(requester.pages.mail_stop(language, ticket.number, secret, stopped=False), 400)
    if await run_in_threadpool(requester.context.store.outgoing.stop, ticket.id, MAIL_CHANNEL):
        log.info("%s: the person stopped e-mails for this ticket%s", ticket.number, " (one-click)" if one_click else "")
    return _html(requester.pages.mail_stop(language, ticket.number, secret, stopped=True))


@router.get("/static/{name}")
async def static(request: Request, name: str) -> Response:
    body = _requester(request).static.get(name)
    if body is None:
        return _html(_requester(request).pages.not_found("en"), 404)
    headers = {
        **PAGE_HEADERS,
        "Cache-Control": "public, max-age=3600",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    return Response(body, media_type=_STATIC_TYPES[name], headers=headers)


@router.api_route(REQUESTER_PREFIX + "/{rest:path}", methods=["GET", "POST", "HEAD"])
async def anything_else(request: Request, rest: str, lang: Language = None) -> Response:
    """Any other path under /t/: the same not-found page as a wrong link."""
    raise PageRefusedError(404, choose_language(lang, None, request.headers.get("accept-language", "")))


async def _on_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefusedError)
    pages = _requester(request).pages
    if exc.status == 429:
        seconds = retry_after_header(exc.retry_after)
        response = _html(await run_in_threadpool(pages.too_many, exc.language, int(seconds)), 429)
        response.headers["Retry-After"] = seconds
        return response
    return _html(pages.not_found(exc.language), 404)


def install(app: FastAPI, context: AppContext) -> None:
    """Mount the requester's page on the app."""
    app.state.requester = Requester(context)
    app.add_exception_handler(PageRefusedError, _on_refused)
    app.include_router(router)


__all__ = ["PageRefusedError", "install"]
