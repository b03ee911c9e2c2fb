"""The outgoing messages (mail to the person): the recent ones and their state; an admin sends a failed one again."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Path, Query

from server import models
from server.api.dependencies import Admin, Context, Technician, api_router, error_responses
from server.api.views import at, when
from server.store import OutgoingRow

log = logging.getLogger("showdesk.server")

router = api_router()


@router.get(
    "/outgoing",
    tags=["outgoing"],
    summary="Recent outgoing messages (mail to the person) and their state, newest first",
    responses=error_responses(403, 422),
)
def list_outgoing(
    context: Context,
    _caller: Technician,
    state: Annotated[models.OutgoingStateName | None, Query(description="only messages in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[models.OutgoingMessage]:
    return [outgoing_model(r) for r in context.store.outgoing.list_rows(state=state, limit=limit)]


@router.post(
    "/outgoing/{message_id}/retry",
    tags=["outgoing"],
    summary="Send a failed (or dropped) message again, from its first attempt (admin)",
    responses=error_responses(403, 404, 422),
)
def retry_outgoing(message_id: Annotated[int, Path(ge=1)], context: Context, caller: Admin) -> models.OutgoingMessage:
    row = context.store.outgoing.retry(message_id)
    log.info("%s asked to send message %d (%s for %s) again", caller.name, row.id, row.kind, row.ticket_number)
    return outgoing_model(row)


def outgoing_model(row: OutgoingRow) -> models.OutgoingMessage:
    return models.OutgoingMessage(
        id=row.id,
        channel=row.channel,
        ticket=row.ticket_number,
        ticket_id=row.ticket_id,
        kind=row.kind,
        recipient=row.recipient,
        state=row.state,
        attempts=row.attempts,
        created_at=at(row.created_at),
        due_at=at(row.due_at),
        sent_at=when(row.sent_at),
        last_error=row.last_error,
        message_id=row.message_id,
    )
