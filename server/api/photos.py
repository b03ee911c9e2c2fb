"""Photos a person sends with an answer (the requester's page, the agent): checked like report images.

A phone's camera sends JPEG (Safari converts HEIC on upload), galleries PNG or WebP; each
photo is copied into the blob store's temporary directory while its sha256 is computed,
checked by ``server.images.inspect_image`` (type by content, pixel cap, structure; no
decoding) exactly as a report's images are, and only then moved into the store.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Final

from starlette.datastructures import UploadFile

from agent.schema import IMAGE_MEDIA_TYPES, MAX_FILE_BYTES, sniff_image_type
from server.blobs import BlobBackend, discard, storage_full_as_error
from server.images import ImageRejectedError, inspect_image
from server.store import AnswerPhoto

_COPY_CHUNK: Final = 256 * 1024
# Photos one answer may carry (each bounded by the report format's MAX_FILE_BYTES).
MAX_ANSWER_PHOTOS: Final = 5


class PhotoRefusedError(ValueError):
    """A photo is not an acceptable image; the message says why, for the person."""


async def receive_photos(files: list[UploadFile], blobs: BlobBackend, max_pixels: int) -> list[AnswerPhoto]:
    """Check and store the photos; on any refusal nothing is stored and ``PhotoRefusedError`` says why."""
    received: list[tuple[Path, AnswerPhoto]] = []
    try:
        for number, upload in enumerate(files, start=1):
            received.append(await _receive(upload, number, blobs, max_pixels))
        blobs.commit([(temp, photo.sha256) for temp, photo in received])
    finally:
        for temp, _photo in received:
            discard(temp)
    return [photo for _temp, photo in received]


async def _receive(upload: UploadFile, number: int, blobs: BlobBackend, max_pixels: int) -> tuple[Path, AnswerPhoto]:
    label = f"photo {number}"
    fd, temp = blobs.new_temp()
    hasher = hashlib.sha256()
    size = 0
    head = b""
    try:
        with os.fdopen(fd, "wb") as stream, storage_full_as_error(f"receiving {label}"):
            while chunk := await upload.read(_COPY_CHUNK):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise PhotoRefusedError(f"{label} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                hasher.update(chunk)
                stream.write(chunk)
        claimed = upload.content_type if upload.content_type in IMAGE_MEDIA_TYPES else sniff_image_type(head)
        if claimed is None:
            raise PhotoRefusedError(f"{label} is not a PNG, JPEG or WebP image")
        try:
            width, height = inspect_image(temp, label, claimed, max_pixels)
        except ImageRejectedError as exc:
            raise PhotoRefusedError(str(exc)) from None
    except BaseException:
        discard(temp)
        raise
    return temp, AnswerPhoto(sha256=hasher.hexdigest(), size=size, media_type=claimed, width=width, height=height)
