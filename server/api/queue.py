"""The walk-up queue: a ticket's place, a site's board, calling the next person, marking a visit served."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Path

from server import models
from server import store as db
from server.api.dependencies import (
    AnyCaller,
    Context,
    Technician,
    TicketKey,
    api_router,
    error_responses,
    visible_ticket,
)
from server.api.views import at, queue_place_model, summary, when

router = api_router()


@router.get(
    "/tickets/{ticket_id}/queue",
    tags=["walk-up queue"],
    summary="A walk-up ticket's place in its site's queue",
    responses=error_responses(404),
)
def queue_place(ticket_id: TicketKey, context: Context, caller: AnyCaller) -> models.QueuePlace:
    visible_ticket(context, caller, ticket_id)
    return queue_place_model(context.store.queue_place(ticket_id))


@router.post(
    "/tickets/{ticket_id}/queue/served",
    tags=["walk-up queue"],
    summary="Mark a walk-up visit served (resolving the ticket does this too)",
    responses=error_responses(403, 404),
)
def mark_served(ticket_id: TicketKey, context: Context, caller: Technician) -> models.QueuePlace:
    return queue_place_model(context.store.mark_served(ticket_id, caller.name))


@router.get(
    "/queue/{site}",
    tags=["walk-up queue"],
    summary="A site's queue: technicians see everything; a submitter token of that site sees the public board",
    responses=error_responses(403, 404),
)
def queue_board(site: Annotated[str, Path(max_length=200)], context: Context, caller: AnyCaller) -> models.QueueBoard:
    if not caller.may("technician") and caller.site != site:
        detail = (
            f"this token may show the board of site {caller.site!r} only"
            if caller.site
            else "this submitter token belongs to no site; only a site's own token shows its board"
        )
        raise HTTPException(403, detail)
    return _board(context.store.queue_board(site), full=caller.may("technician"))


@router.post(
    "/queue/{site}/next",
    tags=["walk-up queue"],
    summary="Call the next person waiting at the site",
    responses=error_responses(403),
)
def call_next(site: Annotated[str, Path(max_length=200)], context: Context, caller: Technician) -> models.QueueCall:
    called = context.store.call_next(site, caller.name)
    return models.QueueCall(
        called=None if called is None else summary(context, called),
        board=_board(context.store.queue_board(site), full=True),
    )


def _board(board: db.QueueBoard, *, full: bool) -> models.QueueBoard:
    """The board as the caller may see it: a public board shows masked names and no ticket ids."""

    def entry(e: db.BoardEntry) -> models.BoardEntry:
        return models.BoardEntry(
            number=e.number,
            name=e.reporter_name if full else masked_name(e.reporter_name),
            position=e.position,
            state=e.state,
            waiting_since=at(e.enqueued_at),
            called_at=when(e.called_at),
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


def masked_name(name: str | None) -> str | None:
    """'Alice Baker' → 'Alice B.': enough to recognise oneself on a public board."""
    if not name or not name.strip():
        return None
    words = name.split()
    if len(words) == 1:
        return words[0]
    return f"{words[0]} {words[-1][0]}."
