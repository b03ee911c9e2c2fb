"""Step images decoded off the GUI thread, and the cache of the decoded ones.

Decoding a 4K screenshot takes a hundred milliseconds and more: it runs on a worker and hands
the GUI thread a paint-ready picture at display size (no larger than the screen: a 4K shot on
a 1080p screen is painted from a quarter of its pixels, on every frame) and a thumbnail for
the step strip, both downscaled while they are decoded (``QImageReader.setScaledSize``); the
full-size picture, for zooming in, is decoded after. Images larger than a report may hold are
refused before they are decoded.
"""

from __future__ import annotations

import collections
import io
import threading
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
from PySide6.QtGui import QGuiApplication, QImage, QImageReader

from agent.report_format import MAX_CLIP_FRAME_PIXELS, MAX_CLIP_FRAMES, MAX_IMAGE_PIXELS

THUMBNAIL_SIZE: Final = QSize(200, 120)
IMAGE_CACHE_BYTES: Final = 320 * 1024 * 1024
DEFAULT_DISPLAY_SIZE: Final = QSize(1920, 1080)  # without a screen to ask (tests, offscreen)
# A clip's frames are all held decoded while it plays: 30 s of 4K at 5 fps would be 5 GB, so the
# frames are scaled down until the whole clip fits this budget (and never beyond the display).
CLIP_DECODED_BYTES: Final = 384 * 1024 * 1024
CLIP_PREFIX: Final = "clips/"  # a report's clips are stored as clips/NNN.webp


@dataclass(frozen=True)
class DecodedClip:
    """A clip's frames decoded off the GUI thread, each composed on the whole canvas.

    ``delays_ms[n]`` is how long frame ``n`` stays on screen; ``size`` the clip's own canvas
    (the frames may be smaller when they were scaled down to fit the display or the budget).
    """

    frames: tuple[QImage, ...]
    delays_ms: tuple[int, ...]
    size: QSize

    @property
    def starts_ms(self) -> tuple[int, ...]:
        """When each frame appears, from the clip's start."""
        starts, at = [], 0
        for delay in self.delays_ms:
            starts.append(at)
            at += delay
        return tuple(starts)

    @property
    def duration_ms(self) -> int:
        return sum(self.delays_ms)


@dataclass(frozen=True)
class DecodedImage:
    """A step image decoded off the GUI thread.

    ``image`` is the picture to paint at display size (None when only a thumbnail was asked);
    ``full`` the picture at its own size when that is larger (for zooming in), else None.
    """

    ticket_id: str
    path: str
    image: QImage | None
    thumbnail: QImage
    full: QImage | None = None
    clip: DecodedClip | None = None  # a clip's frames; ``image`` is then its first frame

    @property
    def sharpest(self) -> QImage | None:
        return self.full if self.full is not None else self.image


def display_size() -> QSize:
    """The largest screen's size in device pixels: no fitted picture is painted larger. GUI thread only."""
    app = QGuiApplication.instance()
    screens = QGuiApplication.screens() if isinstance(app, QGuiApplication) else []
    best = QSize(0, 0)
    for screen in screens:
        size = screen.size() * screen.devicePixelRatio()
        if size.width() * size.height() > best.width() * best.height():
            best = size
    return best if not best.isEmpty() else DEFAULT_DISPLAY_SIZE


def decode_image(data: bytes, *, full: bool, thumbnail: QSize = THUMBNAIL_SIZE) -> tuple[QImage | None, QImage]:
    """Decode image bytes (PNG, JPEG, WebP) into a paint-ready image and a thumbnail; runs on a worker.

    Only the image's own first bytes decide the decoder (Qt sniffs them), never a name. With
    ``full`` the image is the whole picture; see :func:`decode_step` for the display-size one.
    """
    with _DECODE_LOCK:
        image, small = _decode(data, full=full, thumbnail=thumbnail)
    return image, small


def decode_step(data: bytes, *, display: QSize, thumbnail: QSize = THUMBNAIL_SIZE) -> tuple[QImage, QImage, bool]:
    """(picture at display size, thumbnail, whether the picture is larger than shown); runs on a worker.

    The picture is downscaled while it is decoded (``QImageReader.setScaledSize``): Qt does that
    scaling with the GIL released, so the GUI thread keeps painting (a ``QImage.scaled`` of a
    4K picture keeps the GIL for tens of milliseconds). A larger picture's full size is a
    second decode, :func:`decode_image` with ``full``, asked when the first is on screen.
    """
    with _DECODE_LOCK:
        shown, _small = _decode(data, full=True, thumbnail=thumbnail, make_thumbnail=False, fit=display)
        whole = _image_size(data)
    assert shown is not None
    return shown, _thumbnail_of(shown, thumbnail), shown.size() != whole


def decode_clip(data: bytes, *, display: QSize, budget: int = CLIP_DECODED_BYTES) -> DecodedClip:
    """Every frame of an animated WebP, bounded like the report's clips; runs on a worker.

    The frame count and the canvas are checked before a frame is decoded (the file's own header
    says them), so a file beyond the schema's bounds costs nothing but the refusal.
    """
    with _DECODE_LOCK:
        buffer = QBuffer()
        buffer.setData(QByteArray(data))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        reader = QImageReader(buffer)
        reader.setDecideFormatFromContent(True)
        size = reader.size()
        count = max(reader.imageCount(), 1)
        if not size.isValid():
            raise ValueError(f"the clip could not be read: {reader.errorString()}")
        pixels = size.width() * size.height()
        if pixels > MAX_IMAGE_PIXELS or count > MAX_CLIP_FRAMES or count * pixels > MAX_CLIP_FRAME_PIXELS:
            raise ValueError(f"the clip ({count} frames of {size.width()}×{size.height()}) is beyond a report's bounds")
        fits = size.width() <= display.width() and size.height() <= display.height()
        target = size if fits else size.scaled(display, Qt.AspectRatioMode.KeepAspectRatio)
        scale = min(1.0, (budget / (4 * count * target.width() * target.height())) ** 0.5)
        target = QSize(max(1, int(target.width() * scale)), max(1, int(target.height() * scale)))
        frames: list[QImage] = []
        delays: list[int] = []
        while len(frames) < min(count, MAX_CLIP_FRAMES):
            image = reader.read()
            if image.isNull():
                break
            delays.append(max(reader.nextImageDelay(), 1))
            if image.size() != target:
                image = image.scaled(
                    target, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            frames.append(image.convertToFormat(QImage.Format.Format_RGB32))
    if not frames:
        raise ValueError(f"the clip could not be decoded: {reader.errorString()}")
    return DecodedClip(tuple(frames), tuple(delays), size)


def _image_size(data: bytes) -> QSize:
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    reader.setDecideFormatFromContent(True)
    reader.setAutoTransform(True)
    return reader.size()


# One decode at a time: QImageReader holds a Qt lock while it calls back into Python (the
# buffer is a Python object), and some of its calls keep the GIL while they wait for that
# lock; two decoders at once can deadlock. Waiting for this lock releases the GIL.
_DECODE_LOCK: Final = threading.Lock()


def _decode(
    data: bytes, *, full: bool, thumbnail: QSize, make_thumbnail: bool = True, fit: QSize | None = None
) -> tuple[QImage | None, QImage]:
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    reader.setDecideFormatFromContent(True)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and size.width() * size.height() > MAX_IMAGE_PIXELS:
        raise ValueError(f"the image is {size.width()}×{size.height()} pixels, more than a report may hold")
    if size.isValid():
        bound = fit if full else thumbnail
        if bound is not None and (size.width() > bound.width() or size.height() > bound.height()):
            reader.setScaledSize(size.scaled(bound, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        raise ValueError(f"the image could not be decoded: {reader.errorString()}")
    # The screen's own formats paint without a conversion on every frame.
    wanted = QImage.Format.Format_ARGB32_Premultiplied if image.hasAlphaChannel() else QImage.Format.Format_RGB32
    if image.format() != wanted:
        image = image.convertToFormat(wanted)
    small = _thumbnail_of(image, thumbnail) if make_thumbnail or not full else image
    return (image if full else None), small


def thumbnail_of(image: QImage, thumbnail: QSize = THUMBNAIL_SIZE) -> QImage:
    """``image`` fitted into a filmstrip thumbnail (itself when it is small enough)."""
    return _thumbnail_of(image, thumbnail)


def _thumbnail_of(image: QImage, thumbnail: QSize) -> QImage:
    if image.width() <= thumbnail.width() and image.height() <= thumbnail.height():
        return image
    return image.scaled(thumbnail, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


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
        self._images: collections.OrderedDict[tuple[str, str], DecodedImage] = collections.OrderedDict()
        self._thumbnails: dict[tuple[str, str], QImage] = {}

    def get(self, ticket_id: str, path: str) -> QImage | None:
        """The cached picture at display size, or None."""
        found = self.decoded(ticket_id, path)
        return found.image if found is not None else None

    def thumbnail(self, ticket_id: str, path: str) -> QImage | None:
        return self._thumbnails.get((ticket_id, path))

    def put(self, decoded: DecodedImage) -> None:
        key = (decoded.ticket_id, decoded.path)
        self._thumbnails[key] = decoded.thumbnail
        if decoded.image is None:
            return
        self._images[key] = decoded
        self._images.move_to_end(key)
        while len(self._images) > 1 and sum(_bytes(d) for d in self._images.values()) > self.budget:
            self._images.popitem(last=False)

    def decoded(self, ticket_id: str, path: str) -> DecodedImage | None:
        """The cached picture with its full-size one, or None."""
        key = (ticket_id, path)
        found = self._images.get(key)
        if found is not None:
            self._images.move_to_end(key)
        return found


def _bytes(decoded: DecodedImage) -> int:
    frames = decoded.clip.frames if decoded.clip is not None else ()
    return sum(i.sizeInBytes() for i in (decoded.image, decoded.full, *frames) if i is not None)
