"""The changes feed: timeline events after a sequence number, as a long poll.

The wake-up comes from ``server.api.context.ChangeNotifier``, which the app context owns (it
lives below the routes because the context and the runner hold it, not this module).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Final

from fastapi import Query
from starlette.concurrency import run_in_threadpool

from agent.schema import MAX_JSON_INTEGER
from server import models
from server.api.dependencies import AnyCaller, Context, api_router, error_responses
from server.api.views import at

log = logging.getLogger("showdesk.server")

MAX_WAIT_SECONDS: Final = 30.0
# A long poll re-reads the database at least this often, in case a change was committed
# by another process (the notifier only hears this one).
POLL_FALLBACK_SECONDS: Final = 1.0

router = api_router()


@router.get(
    "/changes",
    tags=["tickets"],
    summary="Changes feed (long poll): timeline events after a sequence number",
    description=(
        "Returns at once when there are changes after `after`, else waits up to `wait` seconds for one. "
        "A submitter token sees only changes of the tickets it submitted, and no internal notes."
    ),
    responses=error_responses(422),
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
) -> models.ChangePage:
    if after is None:
        # A client that has just loaded its list follows from now on, without the history.
        newest = await run_in_threadpool(context.store.newest_change_seq)
        return models.ChangePage(changes=[], last_seq=newest)
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
            items = [models.Change(seq=c.seq, ticket_id=c.ticket_id, kind=c.kind, at=at(c.at)) for c in found]
            return models.ChangePage(changes=items, last_seq=last_seq)
        if not waiting:
            waiting = True
            log.debug("long poll by %s waits up to %.1f s for changes after %d", caller.name, remaining, last_seq)
        after = last_seq
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=min(remaining, POLL_FALLBACK_SECONDS))
