"""The HTTP API (FastAPI): reports in, tickets out, the walk-up queue, figures, tokens.

docs/api.md is the contract for submitting and reading back; /openapi.json describes
every call. Blocking work (SQLite, fsync, image checks) runs in the thread pool; the
event loop only streams bodies and waits on long polls.

This module assembles the app from ``server.api``: one route module per resource, the shared
dependencies, the error handlers and the middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI

from server import models
from server.api import answers, changes, figures, files, health, outgoing, queue, reports, tickets, tokens
from server.api.context import API_PREFIX, AppContext, ChangeNotifier
from server.api.dependencies import API_ERRORS, BoundedJSONRoute, error_responses
from server.api.errors import install_error_handlers
from server.api.middleware import BodyLimitMiddleware, RequestLogMiddleware
from server.blobs import BlobBackend
from server.outgoing import OutgoingWorker
from server.outgoing.channel import Channel
from server.outgoing.mail import MailChannel
from server.outgoing.notify_targets import notify_channels
from server.outgoing.worker import RetryPolicy
from server.requester import install as install_requester_page
from server.settings import Settings, version
from server.store import Store

# ChangeNotifier is re-exported: the runner closes it on shutdown (server.runner imports it from here).
__all__ = ["ChangeNotifier", "create_app"]

# The order the calls appear in /openapi.json.
_API_ROUTERS = (
    reports.router,
    tickets.router,
    answers.router,
    files.router,
    changes.router,
    queue.router,
    figures.router,
    tokens.router,
    outgoing.router,
)


def outgoing_worker(context: AppContext) -> OutgoingWorker | None:
    """The worker that mails the person ([server.mail]) and notifies IT ([[server.notify]]); None: neither set."""
    mail, notify = context.settings.mail, context.settings.notify
    channels: list[Channel] = []
    if mail.enabled:
        channels.append(MailChannel(mail, context.ticket_url, context.mail_stop_url))
    notifying = notify_channels(notify, context.settings.base_url, context.blobs.read_bytes)
    channels.extend(notifying)
    if not channels:
        return None
    retry = RetryPolicy(first=mail.retry_seconds, longest=mail.max_retry_seconds, attempts=mail.attempts)
    notify_retry = RetryPolicy(first=notify.retry_seconds, longest=notify.max_retry_seconds, attempts=notify.attempts)
    return OutgoingWorker(
        context.store,
        channels,
        retry,
        max_age=mail.max_age_seconds,
        retries={c.name: notify_retry for c in notifying},
        max_ages={c.name: notify.max_age_seconds for c in notifying},
        walkup_check_seconds=notify.check_seconds,
    )


def create_app(settings: Settings, store: Store, blobs: BlobBackend) -> FastAPI:
    context = AppContext(settings, store, blobs)
    worker = outgoing_worker(context)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        context.notifier.bind(asyncio.get_running_loop())
        await asyncio.to_thread(context.new_images.start)
        if worker is not None:
            # Before the first request: the mail channel's cursor starts at the newest event, so
            # every ticket submitted from now on is mailed.
            await asyncio.to_thread(worker.start)
        yield
        context.notifier.close()
        await asyncio.to_thread(context.new_images.stop)
        await asyncio.to_thread(context.thumbnails.close)
        if worker is not None:
            await asyncio.to_thread(worker.stop)

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
    install_error_handlers(app)

    app.include_router(health.router)
    api = APIRouter(prefix=API_PREFIX, responses=error_responses(*API_ERRORS), route_class=BoundedJSONRoute)
    for router in _API_ROUTERS:
        api.include_router(router)
    app.include_router(api)
    # The person's page at the link they were given (/t/{secret}): HTML, outside the API.
    install_requester_page(app, context)
    return app
