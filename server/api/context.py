"""What every request handler shares: settings, store, blobs, rate limiter, change notifier, thumbnails."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from typing import Final

from server.blobs import BlobBackend
from server.ratelimit import DatabaseRateLimiter, RateLimit, RateLimiter
from server.settings import Settings
from server.store import SECONDS_PER_DAY, Store, TicketRow
from server.thumbnails import NewImages, Thumbnailer, ThumbnailLimits

API_PREFIX: Final = "/api/v1"
REPORTS_PATH: Final = f"{API_PREFIX}/reports"
# The rate limiter's kinds, each limited per token by its own settings.
SUBMIT_LIMIT: Final = "submit"
NOTE_LIMIT: Final = "note"
# Kinds limited per client address (a missed link) and per ticket (what the person sends).
LINK_GUESS_LIMIT: Final = "link-guess"
ANSWER_LIMIT: Final = "answer"
# The requester's page lives beside the API, under its own prefix: /t/{secret}.
REQUESTER_PREFIX: Final = "/t"
SUPPORTED_LANGUAGES: Final = ("en", "de")
# Under the person's link: the page that stops mails for the ticket (/t/{secret}/mail-stop).
MAIL_STOP_PATH: Final = "mail-stop"
_REQUESTER_SECRET_RE: Final = re.compile(r"^(" + re.escape(REQUESTER_PREFIX) + r"/)([^/]+)")


def logged_path(path: str) -> str:
    """A request path fit for the log: a requester link's secret is the capability itself.

    It becomes ``~`` and 8 hex digits of its hash: lines of one link still read together,
    and nothing in the log opens the page.
    """
    return _REQUESTER_SECRET_RE.sub(
        lambda m: m.group(1) + "~" + hashlib.sha256(m.group(2).encode("utf-8", "replace")).hexdigest()[:8], path
    )


def preferred_language(accept_language: str) -> str | None:
    """The first supported language an Accept-Language header names, by its order and weights."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _sep, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary in SUPPORTED_LANGUAGES and weight > 0:
            choices.append((-weight, index, primary))
    return min(choices)[2] if choices else None


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


class AppContext:
    """One per app, kept in ``app.state.context``; route functions get it as a dependency."""

    def __init__(self, settings: Settings, store: Store, blobs: BlobBackend) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        limits = {
            SUBMIT_LIMIT: RateLimit(settings.submit_per_minute, settings.submit_burst),
            NOTE_LIMIT: RateLimit(settings.note_per_minute, settings.note_burst),
            LINK_GUESS_LIMIT: RateLimit(settings.link_guess_per_minute, settings.link_guess_burst),
            ANSWER_LIMIT: RateLimit(settings.answer_per_minute, settings.answer_burst),
        }
        # On PostgreSQL several processes serve one installation: a token's buckets live in the
        # database so its limit holds whichever process a request reaches. On SQLite (one process)
        # memory is enough and costs no write per call.
        self.limiter: RateLimiter | DatabaseRateLimiter = (
            DatabaseRateLimiter(limits, store.database) if store.engine == "postgresql" else RateLimiter(limits)
        )
        # Woken after this process's commits and, on PostgreSQL, other processes' too (LISTEN/NOTIFY).
        self.notifier = ChangeNotifier()
        # Thumbnails for the requester's page, made by a bounded child process (never decoded here).
        self.thumbnails = Thumbnailer(settings.data_dir, ThumbnailLimits(max_pixels=settings.max_image_pixels))
        self.new_images = NewImages(store, blobs, self.thumbnails)
        store.add_listener(self.new_images.wake)
        store.add_listener(self.notifier.notify_threadsafe)

    def ticket_url(self, ticket: TicketRow) -> str:
        """The person's link to the ticket's page: the capability, in the language they reported in."""
        url = f"{self.settings.base_url}{REQUESTER_PREFIX}/{self.store.link_secret(ticket)}"
        if ticket.language in SUPPORTED_LANGUAGES:
            url += f"?lang={ticket.language}"
        return url

    def mail_stop_url(self, ticket: TicketRow) -> str:
        """The page under the person's link that stops mails for this ticket (a capability too)."""
        url = f"{self.settings.base_url}{REQUESTER_PREFIX}/{self.store.link_secret(ticket)}/{MAIL_STOP_PATH}"
        if ticket.language in SUPPORTED_LANGUAGES:
            url += f"?lang={ticket.language}"
        return url

    def link_expires_at(self, ticket: TicketRow) -> float | None:
        """When the ticket's link stops working: ``link_days`` after the close; None while it is not closed."""
        if ticket.closed_at is None:
            return None
        return ticket.closed_at + self.settings.link_days * SECONDS_PER_DAY

    def file_url(self, file_id: int) -> str:
        return f"{self.settings.base_url}{API_PREFIX}/files/{file_id}"
