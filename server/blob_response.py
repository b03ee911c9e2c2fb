"""An HTTP response carrying one stored file, whichever store holds it.

The directory store answers with ``FileResponse`` (sendfile, ranges handled by Starlette); an
object store with a ``StreamingResponse`` over ``read_chunks`` whose Content-Length comes from the
store's ``size``, so a browser still sees the length and the server never holds a whole file.
The headers are the same either way.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi.responses import FileResponse, StreamingResponse
from starlette.responses import Response

from server.blobs import BlobBackend, BlobStore


def blob_response(
    blobs: BlobBackend,
    sha256: str,
    *,
    media_type: str,
    headers: dict[str, str],
    disposition: Literal["attachment", "inline"],
    filename: str | None = None,
) -> Response | None:
    """The response for the file with ``sha256``; None when the store does not hold it."""
    if isinstance(blobs, BlobStore):
        path = blobs.path_for(sha256)
        if not path.is_file():
            return None
        return FileResponse(
            path, media_type=media_type, filename=filename, content_disposition_type=disposition, headers=headers
        )
    size = blobs.size(sha256)
    if size is None:
        return None
    streamed = dict(headers)
    streamed["Content-Length"] = str(size)
    streamed["Content-Disposition"] = _content_disposition(disposition, filename)
    return StreamingResponse(blobs.read_chunks(sha256), media_type=media_type, headers=streamed)


def _content_disposition(disposition: str, filename: str | None) -> str:
    """The header as Starlette's FileResponse writes it, so both stores answer alike."""
    if filename is None:
        return disposition
    quoted = quote(filename)
    if quoted != filename:
        return f"{disposition}; filename*=utf-8''{quoted}"
    return f'{disposition}; filename="{filename}"'
