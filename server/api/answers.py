"""The person's answer through the API: the laptop agent's "My requests" answers its own tickets.

The same answer as the requester's page records (text and photos, an ``answer`` event that moves a
waiting ticket back to open), for the submitter token that filed the ticket. The request's
Idempotency-Key is the answer's one-time nonce: a client that resends after a lost reply records
nothing twice (within a day, as long as the store remembers spent nonces).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Header, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from agent.schema import MAX_DESCRIPTION_CHARS
from server import models
from server.api.context import ANSWER_LIMIT
from server.api.dependencies import AnyCaller, Context, TicketKey, api_router, error_responses, visible_ticket
from server.api.photos import MAX_ANSWER_PHOTOS, PhotoRefusedError, receive_photos
from server.api.views import at
from server.ratelimit import retry_after_header
from server.store import REQUESTER_ACTOR

router = api_router()

# Text fields are small; photos are bounded by count here and by size in server.api.photos.
MAX_FIELD_BYTES: Final = MAX_DESCRIPTION_CHARS * 4 + 1024
_MULTIPART_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "maxLength": MAX_DESCRIPTION_CHARS, "description": "the person's message"},
        "photo": {
            "type": "array",
            "maxItems": MAX_ANSWER_PHOTOS,
            "items": {"type": "string", "format": "binary"},
            "description": "PNG, JPEG or WebP photos or screenshots, checked like a report's images",
        },
    },
}


@router.post(
    "/tickets/{ticket_id}/answer",
    tags=["tickets"],
    summary="The person answers their own ticket (the submitter token that filed it): text and photos",
    status_code=201,
    responses={
        200: {"model": models.AnswerResult, "description": "a replay: this Idempotency-Key answered before"},
        **error_responses(403, 404, 415, 429),
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _MULTIPART_SCHEMA}}}
    },
)
async def answer(
    ticket_id: TicketKey,
    request: Request,
    response: Response,
    context: Context,
    caller: AnyCaller,
    idempotency_key: Annotated[
        str, Header(min_length=8, max_length=64, description="a new random key per answer; the same on a resend")
    ],
) -> models.AnswerResult:
    if caller.may("technician"):
        raise HTTPException(403, "technicians reply with POST /tickets/{id}/notes (internal=false)")
    ticket = await run_in_threadpool(visible_ticket, context, caller, ticket_id)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise HTTPException(415, "an answer is sent as multipart/form-data (parts 'text' and 'photo')")
    wait = context.limiter.acquire(ANSWER_LIMIT, ticket.id)
    if wait > 0:
        raise HTTPException(
            429,
            f"too many answers to {ticket.number}; retry in {retry_after_header(wait)} s",
            {"Retry-After": retry_after_header(wait)},
        )
    try:
        form = await request.form(max_files=MAX_ANSWER_PHOTOS, max_fields=4, max_part_size=MAX_FIELD_BYTES)
    except MultiPartException as exc:
        raise HTTPException(422, f"the multipart body is refused: {exc.message}") from None
    try:
        texts = [value for key, value in form.multi_items() if key == "text" and isinstance(value, str)]
        photos_in = [value for key, value in form.multi_items() if key == "photo" and isinstance(value, UploadFile)]
        text = (texts[0] if texts else "").replace("\r\n", "\n").strip()
        if len(text) > MAX_DESCRIPTION_CHARS:
            raise HTTPException(422, f"text: at most {MAX_DESCRIPTION_CHARS} characters")
        if not text and not photos_in:
            raise HTTPException(422, "an answer needs a text or a photo")
        try:
            photos = await receive_photos(photos_in, context.blobs, context.settings.max_image_pixels)
        except PhotoRefusedError as exc:
            raise HTTPException(422, str(exc)) from None
    finally:
        await form.close()
    nonce = f"api:{caller.id}:{idempotency_key}"
    event = await run_in_threadpool(context.store.add_answer, ticket.id, text, photos, nonce)
    if event is None:
        response.status_code = 200
        return models.AnswerResult(replayed=True, event=None)
    return models.AnswerResult(
        replayed=False,
        event=models.TimelineEvent(
            seq=event.seq,
            kind="answer",
            at=at(event.at),
            actor=REQUESTER_ACTOR,
            internal=False,
            data={**event.data, "files": [{**f, "url": context.file_url(int(f["id"]))} for f in event.data["files"]]},
        ),
    )
