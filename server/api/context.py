"""What every request handler shares: settings, store, blobs, rate limiter and change notifier."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from server.blobs import BlobStore
from server.ratelimit import RateLimit, RateLimiter
from server.settings import Settings
from server.store import Store

API_PREFIX: Final = "/api/v1"
REPORTS_PATH: Final = f"{API_PREFIX}/reports"
# The rate limiter's kinds, each limited per token by its own settings.
SUBMIT_LIMIT: Final = "submit"
NOTE_LIMIT: Final = "note"


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
        return f"{self.settings.base_url}{API_PREFIX}/files/{file_id}"
