"""Steps as pictures: photos turned into steps, and thumbnails made off the GUI thread."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Qt, Signal
from PySide6.QtGui import QImage

from agent.bundle import StepDraft
from agent.markup import MarkupError, open_image
from agent.steps import EditableStep
from shared_qt.markup_editor import qimage_from_pillow
from shared_qt.workers import BackgroundRunner

THUMBNAIL_SIZE = (400, 250)
# A phone-camera photo is far larger than a screen; a ticket needs no more than this.
MAX_PHOTO_EDGE = 2560
_KEEP = Qt.AspectRatioMode.KeepAspectRatio
_SMOOTH = Qt.TransformationMode.SmoothTransformation


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):  # type: ignore[call-overload]  # the stubs say bytes; only str works
        raise ValueError("the picture could not be encoded as PNG")
    buffer.close()
    return bytes(data.data())


def photo_step(image: QImage) -> StepDraft:
    """A step from a camera picture (run it in the background: encoding takes a while)."""
    if image.isNull():
        raise ValueError("the camera delivered no picture")
    if max(image.width(), image.height()) > MAX_PHOTO_EDGE:
        image = image.scaled(MAX_PHOTO_EDGE, MAX_PHOTO_EDGE, _KEEP, _SMOOTH)
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    return StepDraft(
        image=png_bytes(image),
        width=image.width(),
        height=image.height(),
        captured_at=datetime.now(UTC),
        capture_method="photo",
        capture_notes="photo taken with the kiosk's camera",
    )


def picture(step: EditableStep) -> bytes:
    """What the person sees of a step: its mark-up burnt in once saved, else the capture."""
    return step.flattened.image_bytes if step.flattened is not None else step.image


def thumbnail(image_bytes: bytes, size: tuple[int, int] = THUMBNAIL_SIZE) -> QImage:
    image = QImage.fromData(image_bytes)
    if image.isNull():
        # Qt's WebP reader refuses some files libwebp writes (a one-colour lossless shot, say).
        try:
            image = qimage_from_pillow(open_image(image_bytes))
        except MarkupError as error:
            raise ValueError(f"not an image: {error}") from error
    return image.scaled(size[0], size[1], _KEEP, _SMOOTH)


class ThumbnailCache(QObject):
    """Thumbnails by step id, decoded and scaled in the background; ``ready`` says when one is there."""

    ready = Signal(str)

    def __init__(self, runner: BackgroundRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._images: dict[str, QImage] = {}
        self._pending: set[str] = set()
        self._generation = 0

    def get(self, step_id: str, image_bytes: bytes) -> QImage | None:
        """The thumbnail if made; otherwise start making it and return None."""
        if step_id in self._images:
            return self._images[step_id]
        if step_id not in self._pending:
            self._pending.add(step_id)
            generation = self._generation

            def store(result: object) -> None:
                if generation != self._generation or not isinstance(result, QImage):
                    return  # the session was wiped meanwhile: drop it
                self._pending.discard(step_id)
                self._images[step_id] = result
                self.ready.emit(step_id)

            self._runner.run(lambda: thumbnail(image_bytes), store, lambda _exc: self._pending.discard(step_id))
        return None

    def invalidate(self, step_id: str) -> None:
        self._images.pop(step_id, None)

    def clear(self) -> None:
        """Forget every thumbnail (session wipe); late results from before are dropped."""
        self._generation += 1
        self._images.clear()
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._images)
