"""Submitting a report: the multipart upload, idempotent on the report id, rate-limited per token."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any, Final

from fastapi import Header, Request, Response
from starlette.concurrency import run_in_threadpool

from agent.schema import Ticket
from server import models
from server.api.context import SUBMIT_LIMIT, AppContext, preferred_language
from server.api.dependencies import AnyCaller, Context, api_router, error_responses, take_permit
from server.ingest import IngestLimits, ingest, receive_upload
from server.store import TicketRow, TokenRecord

log = logging.getLogger("showdesk.server")

router = api_router()

# FastAPI cannot describe a body it does not parse; the upload is streamed by server.ingest.
_MULTIPART_SCHEMA: Final[dict[str, Any]] = {
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


@router.post(
    "/reports",
    tags=["reports"],
    summary="Submit a report (idempotent on the report id)",
    status_code=201,
    responses={
        200: {"model": models.SubmitResult, "description": "a replay: the ticket this report made before"},
        **error_responses(415, 429),
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _MULTIPART_SCHEMA}}}
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
            description="the report id (UUID); the same key with the same body is a replay. "
            "Accept-Language (en or de) sets the language of the person's link and page",
            min_length=1,
            max_length=64,
        ),
    ],
) -> models.SubmitResult:
    if not await run_in_threadpool(_is_own_replay, context, caller, idempotency_key):
        take_permit(context, SUBMIT_LIMIT, caller)
    upload = await receive_upload(request.headers.get("content-type", ""), request.stream(), context.blobs)
    limits = IngestLimits(max_image_pixels=context.settings.max_image_pixels)

    # The kiosk sends the language the person chose; their link, page and mails speak it.
    language = preferred_language(request.headers.get("accept-language", ""))

    def store_report() -> tuple[TicketRow, bool]:
        try:
            return ingest(
                context.store,
                context.blobs,
                upload,
                idempotency_key=idempotency_key,
                submitter=caller.name,
                limits=limits,
                language=language,
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


def _ticket_ref(context: AppContext, ticket: TicketRow) -> Ticket:
    return Ticket(
        id=ticket.id,
        number=ticket.number,
        status=ticket.status,
        url=context.ticket_url(ticket),
        report_id=uuid.UUID(ticket.id),
    )
