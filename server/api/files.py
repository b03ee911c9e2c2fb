"""Downloading a ticket's files: by their path in the report, or by id; always as an attachment."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final

from fastapi import HTTPException, Path
from fastapi.responses import FileResponse
from starlette.responses import Response

from server.api.context import AppContext
from server.api.dependencies import AnyCaller, Context, TicketKey, api_router, bounded_id, check_owner, error_responses
from server.blob_response import blob_response
from server.store import FileRow, NotFoundError, TicketRow

log = logging.getLogger("showdesk.server")

router = api_router()

# A download is served with the type ingest settled on (server.ingest): an image type, one of the
# safe attachment types, or application/octet-stream for anything else.
_DOWNLOAD_CONTENT: Final[dict[str, Any]] = {
    "description": "the file's bytes, always as an attachment",
    "content": {
        media_type: ({} if media_type == "application/json" else {"schema": {"type": "string", "format": "binary"}})
        for media_type in (
            "image/png",
            "image/jpeg",
            "image/webp",
            "text/plain",
            "application/json",
            "application/pdf",
            "application/octet-stream",
        )
    },
}


@router.get(
    "/tickets/{ticket_id}/files/{path:path}",
    tags=["tickets"],
    summary="Download one file of a ticket by its path in the report (steps/001.png)",
    response_class=FileResponse,
    responses={200: _DOWNLOAD_CONTENT, **error_responses(404)},
)
def download_by_path(
    ticket_id: TicketKey, path: Annotated[str, Path(max_length=64)], context: Context, caller: AnyCaller
) -> Response:
    file, ticket = context.store.get_file_by_path(ticket_id, path)
    check_owner(caller, ticket, ticket_id)
    return _file_response(context, file, ticket)


@router.get(
    "/files/{file_id}",
    tags=["tickets"],
    summary="Download one file by its id (always as an attachment, never shown inline)",
    response_class=FileResponse,
    responses={200: _DOWNLOAD_CONTENT, **error_responses(404)},
)
def download(file_id: Annotated[str, Path(max_length=20)], context: Context, caller: AnyCaller) -> Response:
    number = bounded_id(file_id, "file id")
    if number is None:
        raise NotFoundError(f"no file with id {file_id!r}")
    file, ticket = context.store.get_file(number)
    if not caller.may("technician") and ticket.submitted_by != caller.name:
        raise NotFoundError(f"no file with id {file_id!r}")
    return _file_response(context, file, ticket)


def _file_response(context: AppContext, file: FileRow, ticket: TicketRow) -> Response:
    # The download name is ours (number + bundle path), never the client's display name.
    filename = f"{ticket.number}-{file.path.replace('/', '-')}"
    response = blob_response(
        context.blobs,
        file.sha256,
        media_type=file.media_type,
        filename=filename,
        disposition="attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )
    if response is None:
        log.error("%s: blob %s of %s is missing from the store", ticket.number, file.sha256, file.path)
        raise HTTPException(500, f"the stored file {file.path} of {ticket.number} is missing; restore from a backup")
    return response
