"""Where the Photo button gets a picture: a camera through QtMultimedia, or a file.

``ImageSource`` is the small interface the Show screen uses: is a source there, a live
preview widget, "take a picture now", and a ``captured``/``failed`` signal back. The
camera implementation imports QtMultimedia only when a kiosk actually takes a photo;
the file implementation serves machines without a camera (tests, demos, a document
scanner that drops files).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QWidget


class ImageSource(QObject):
    """A source of still pictures. Subclasses emit ``captured`` or ``failed`` after ``capture``."""

    captured = Signal(QImage)
    failed = Signal(str)

    def available(self) -> bool:
        raise NotImplementedError

    def preview(self) -> QWidget:
        """A widget showing what ``capture`` would take; valid between ``start`` and ``stop``."""
        raise NotImplementedError

    def start(self) -> None:
        """Open the device (camera light on)."""

    def capture(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Close the device (camera light off)."""


class FileImageSource(ImageSource):
    """Pictures from an image file: what a camera would have delivered, without a camera."""

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self._preview: QLabel | None = None

    def available(self) -> bool:
        return self.path.is_file()

    def preview(self) -> QWidget:
        if self._preview is None:
            self._preview = QLabel()
            self._preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        pixmap = QPixmap(str(self.path))
        if not pixmap.isNull():
            self._preview.setPixmap(
                pixmap.scaled(960, 600, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            )
        return self._preview

    def capture(self) -> None:
        image = QImage(str(self.path))
        # Report asynchronously, as a camera does, so callers cannot come to rely on a
        # synchronous answer.
        if image.isNull():
            QTimer.singleShot(0, lambda: self.failed.emit(f"{self.path} is not a readable image"))
        else:
            QTimer.singleShot(0, lambda: self.captured.emit(image))


class CameraImageSource(ImageSource):
    """The system's default camera through QtMultimedia (QCamera + QImageCapture)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session: QObject | None = None
        self._camera: QObject | None = None
        self._capture: QObject | None = None
        self._preview: QWidget | None = None

    def available(self) -> bool:
        from PySide6.QtMultimedia import QMediaDevices

        return not QMediaDevices.defaultVideoInput().isNull()

    def preview(self) -> QWidget:
        if self._preview is None:
            from PySide6.QtMultimediaWidgets import QVideoWidget

            self._preview = QVideoWidget()
        return self._preview

    def start(self) -> None:
        from PySide6.QtMultimedia import QCamera, QImageCapture, QMediaCaptureSession, QMediaDevices
        from PySide6.QtMultimediaWidgets import QVideoWidget

        device = QMediaDevices.defaultVideoInput()
        if device.isNull():
            self.failed.emit("no camera is connected")
            return
        camera = QCamera(device, self)
        capture = QImageCapture(self)
        session = QMediaCaptureSession(self)
        session.setCamera(camera)
        session.setImageCapture(capture)
        preview = self.preview()
        assert isinstance(preview, QVideoWidget)
        session.setVideoOutput(preview)
        capture.imageCaptured.connect(lambda _id, image: self.captured.emit(image))
        capture.errorOccurred.connect(lambda _id, _error, text: self.failed.emit(text))
        camera.errorOccurred.connect(lambda _error, text: self.failed.emit(text))
        self._camera, self._capture, self._session = camera, capture, session
        camera.start()

    def capture(self) -> None:
        from PySide6.QtMultimedia import QImageCapture

        if not isinstance(self._capture, QImageCapture) or not self._capture.isReadyForCapture():
            self.failed.emit("the camera is not ready")
            return
        self._capture.capture()

    def stop(self) -> None:
        from PySide6.QtMultimedia import QCamera

        if isinstance(self._camera, QCamera):
            self._camera.stop()
        for thing in (self._capture, self._camera, self._session):
            if thing is not None:
                thing.deleteLater()
        self._camera = self._capture = self._session = None
