"""Tickets: the list, one ticket in full, and the technician's work on it (status, assignee, notes)."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import HTTPException, Query

from server import models
from server.api.context import NOTE_LIMIT, AppContext
from server.api.dependencies import (
    AnyCaller,
    Context,
    Technician,
    TicketKey,
    api_router,
    bounded_id,
    check_owner,
    epoch,
    error_responses,
    take_permit,
    visible_ticket,
)
from server.api.views import at, queue_place_model, summary, summary_fields, when
from server.store import EventRow, FileRow, NotFoundError, TicketFilter, TicketRow, event_files

router = api_router()


@router.get(
    "/tickets",
    tags=["tickets"],
    summary="List tickets, newest first (a submitter sees only its own)",
    responses=error_responses(422),
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
        before = bounded_id(cursor, "cursor")
        if before is None:
            raise HTTPException(422, "cursor must be a next_cursor this server returned")
    filters = TicketFilter(
        status=status,
        category=category,
        source_id=source,
        site=site,
        text=q,
        created_after=epoch(since) if since is not None else None,
        assignee=None if assignee in (None, "none") else caller.name if assignee == "me" else assignee,
        unassigned=assignee == "none",
        reporter_email=reporter,
        submitted_by=None if caller.may("technician") else caller.name,
    )
    tickets, next_seq = context.store.list_tickets(
        filters, before_seq=before, limit=limit, oldest_first=order == "oldest"
    )
    return models.TicketList(
        tickets=[summary(context, t) for t in tickets],
        next_cursor=None if next_seq is None else str(next_seq),
    )


@router.get(
    "/tickets/{ticket_id}",
    tags=["tickets"],
    summary="One ticket: report, steps, files, system information, timeline, queue place",
    responses=error_responses(404),
)
def get_ticket(ticket_id: TicketKey, context: Context, caller: AnyCaller) -> models.TicketDetail:
    technician = caller.may("technician")
    ticket, files, events = context.store.ticket_detail(ticket_id, include_internal=technician)
    check_owner(caller, ticket, ticket_id)
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
        loaded = json.loads(context.blobs.read_bytes(sysinfo_file.sha256))
        sysinfo = loaded if isinstance(loaded, dict) else None
    queue = None
    if ticket.walk_up and ticket.site:
        with contextlib.suppress(NotFoundError):
            queue = queue_place_model(context.store.queue_place(ticket.id))
    return models.TicketDetail(
        **summary_fields(context, ticket),
        description=ticket.description,
        report=report,
        steps=steps,
        attachments=attachments,
        sysinfo=sysinfo,
        timeline=[_timeline_event(e, context) for e in events],
        queue=queue,
        receipt_code=ticket.id.replace("-", "")[:8].upper(),
    )


@router.post(
    "/tickets/{ticket_id}/status",
    tags=["tickets"],
    summary="Change the status: new → open → waiting → resolved → closed; resolved/closed reopen to open",
    responses=error_responses(403, 404, 409),
)
def set_status(
    ticket_id: TicketKey, body: models.StatusChange, context: Context, caller: Technician
) -> models.TicketSummary:
    return summary(context, context.store.set_status(ticket_id, body.status, caller.name))


@router.post(
    "/tickets/{ticket_id}/assign",
    tags=["tickets"],
    summary="Assign to a technician ('me' for the caller) or unassign (null)",
    responses=error_responses(403, 404),
)
def assign(ticket_id: TicketKey, body: models.Assignment, context: Context, caller: Technician) -> models.TicketSummary:
    assignee = caller.name if body.assignee == "me" else body.assignee
    return summary(context, context.store.assign(ticket_id, assignee, caller.name))


@router.post(
    "/tickets/{ticket_id}/notes",
    tags=["tickets"],
    summary="Add an internal note, or a reply the submitter sees (internal=false)",
    status_code=201,
    responses=error_responses(403, 404, 429),
)
def add_note(
    ticket_id: TicketKey, body: models.NoteCreate, context: Context, caller: Technician
) -> models.TimelineEvent:
    take_permit(context, NOTE_LIMIT, caller)
    event = context.store.add_note(ticket_id, body.text, internal=body.internal, actor=caller.name)
    return _timeline_event(event, context)


@router.get(
    "/tickets/{ticket_id}/link",
    tags=["tickets"],
    summary="The person's link to the ticket's page (technicians, and the submitter of the ticket)",
    responses=error_responses(404),
)
def requester_link(ticket_id: TicketKey, context: Context, caller: AnyCaller) -> models.RequesterLink:
    return _link(context, visible_ticket(context, caller, ticket_id))


@router.post(
    "/tickets/{ticket_id}/link/revoke",
    tags=["tickets"],
    summary="Revoke the person's link: the old one shows the not-found page at once; answers the new one",
    responses=error_responses(403, 404),
)
def revoke_requester_link(ticket_id: TicketKey, context: Context, caller: Technician) -> models.RequesterLink:
    return _link(context, context.store.revoke_link(ticket_id, caller.name))


def _link(context: AppContext, ticket: TicketRow) -> models.RequesterLink:
    return models.RequesterLink(
        url=context.ticket_url(ticket),
        generation=ticket.link_generation,
        expires_at=when(context.link_expires_at(ticket)),
    )


# ---------------------------------------------------------------- conversions
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


def _timeline_event(event: EventRow, context: AppContext) -> models.TimelineEvent:
    data = event.data
    photos = event_files(event)
    if photos:
        # The person's photos are downloaded like a report's files, by id.
        data = {**data, "files": [{**f, "url": context.file_url(int(f["id"]))} for f in photos]}
    return models.TimelineEvent(
        seq=event.seq,
        kind=event.kind,  # type: ignore[arg-type]  # the store writes only the kinds the model lists
        at=at(event.at),
        actor=event.actor,
        internal=event.internal,
        data=data,
    )
