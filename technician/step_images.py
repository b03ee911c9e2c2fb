"""Step images decoded off the GUI thread, and the cache of the decoded ones.

Decoding a 4K screenshot takes tens of milliseconds: it runs on the session's workers and hands
the GUI thread a paint-ready image, with a thumbnail for the step strip.
"""

from __future__ import annotations

import collections
import io
import threading
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
from PySide6.QtGui import QImage, QImageReader

THUMBNAIL_SIZE: Final = QSize(200, 120)
IMAGE_CACHE_BYTES: Final = 320 * 1024 * 1024


@dataclass(frozen=True)
class DecodedImage:
    """A step image decoded off the GUI thread: the full picture (None when only a thumbnail was asked)."""

    ticket_id: str
    path: str
    image: QImage | None
    thumbnail: QImage


def decode_image(data: bytes, *, full: bool, thumbnail: QSize = THUMBNAIL_SIZE) -> tuple[QImage | None, QImage]:
    """Decode image bytes (PNG, JPEG, WebP) into a paint-ready image and a thumbnail; runs on a worker.

    Only the image's own first bytes decide the decoder (Qt sniffs them), never a name.
    """
    with _DECODE_LOCK:
        return _decode(data, full=full, thumbnail=thumbnail)


# One decode at a time: QImageReader holds a Qt lock while it calls back into Python (the
# buffer is a Python object), and some of its calls keep the GIL while they wait for that
# lock; two decoders at once can deadlock. Waiting for this lock releases the GIL.
_DECODE_LOCK: Final = threading.Lock()


def _decode(data: bytes, *, full: bool, thumbnail: QSize) -> tuple[QImage | None, QImage]:
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    reader.setDecideFormatFromContent(True)
    reader.setAutoTransform(True)
    if not full:
        size = reader.size()
        if size.isValid():
            reader.setScaledSize(size.scaled(thumbnail, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        raise ValueError(f"the image could not be decoded: {reader.errorString()}")
    # The screen's own formats paint without a conversion on every frame.
    wanted = QImage.Format.Format_ARGB32_Premultiplied if image.hasAlphaChannel() else QImage.Format.Format_RGB32
    if image.format() != wanted:
        image = image.convertToFormat(wanted)
    small = (
        image
        if image.width() <= thumbnail.width() and image.height() <= thumbnail.height()
        else image.scaled(thumbnail, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    )
    return (image if full else None), small


def warm_up_decoders() -> None:
    """Load Qt's image plugins now, not when the first 4K screenshot waits for them (~80 ms)."""
    from PIL import Image

    for kind in ("WEBP", "PNG", "JPEG"):
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buffer, kind)
        decode_image(buffer.getvalue(), full=True)


class ImageCache:
    """Decoded full-size step images, the most recently used kept up to a byte budget."""

    def __init__(self, budget: int = IMAGE_CACHE_BYTES) -> None:
        self.budget = budget
        self._images: collections.OrderedDict[tuple[str, str], QImage] = collections.OrderedDict()
        self._thumbnails: dict[tuple[str, str], QImage] = {}

    def get(self, ticket_id: str, path: str) -> QImage | None:
        key = (ticket_id, path)
        image = self._images.get(key)
        if image is not None:
            self._images.move_to_end(key)
        return image

    def thumbnail(self, ticket_id: str, path: str) -> QImage | None:
        return self._thumbnails.get((ticket_id, path))

    def put(self, decoded: DecodedImage) -> None:
        key = (decoded.ticket_id, decoded.path)
        self._thumbnails[key] = decoded.thumbnail
        if decoded.image is None:
            return
        self._images[key] = decoded.image
        self._images.move_to_end(key)
        while len(self._images) > 1 and sum(i.sizeInBytes() for i in self._images.values()) > self.budget:
            self._images.popitem(last=False)
