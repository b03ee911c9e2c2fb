"""Store rows as API models, where more than one route module answers with them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server import models
from server import store as db
from server.api.context import AppContext
from server.store import TicketRow


def when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def summary_fields(context: AppContext, ticket: TicketRow) -> dict[str, Any]:
    """A ticket's summary as keyword arguments: the detail model extends the summary."""
    return {
        "id": ticket.id,
        "number": ticket.number,
        "status": ticket.status,
        "url": context.ticket_url(ticket),
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
        "created_at": at(ticket.created_at),
        "reported_at": ticket.reported_at,
        "updated_at": at(ticket.updated_at),
        "first_response_at": when(ticket.first_response_at),
        "resolved_at": when(ticket.resolved_at),
    }


def summary(context: AppContext, ticket: TicketRow) -> models.TicketSummary:
    return models.TicketSummary(**summary_fields(context, ticket))


def queue_place_model(place: db.QueuePlace) -> models.QueuePlace:
    return models.QueuePlace(
        site=place.site,
        position=place.position,
        ahead=place.ahead,
        estimated_wait_seconds=place.estimated_wait_seconds,
        state=place.state,
    )
