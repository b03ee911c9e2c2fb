"""The large step view: zoom, pan, fit and 1:1; several monitors shown as the screens stood.

A scene holds one pixmap per monitor of the capture at its desktop position (one pixmap for
an ordinary step); the current step is framed. "Fit" follows the window until the person
zooms; wheel with Ctrl zooms at the pointer, dragging pans.

Pictures arrive at display size (every repaint scales them, so a 4K pixmap would cost four
times as much per frame); once the zoom shows more pixels than that copy has, the tile's
full-size picture takes its place (made a pixmap once, when first needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap, QResizeEvent, QTransform, QWheelEvent
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from technician.model import Placement

ZOOM_STEP: Final = 1.25
MIN_ZOOM: Final = 0.02
MAX_ZOOM: Final = 16.0
FRAME_COLOUR: Final = "#1e88e5"


@dataclass
class Tile:
    """One picture in the scene: a step's image (None while it loads) at its place, and the
    full-size picture when the image is a smaller display copy."""

    placement: Placement
    image: QImage | None
    current: bool = False
    full: QImage | None = None


class ImageView(QGraphicsView):
    """Shows one step, or the monitors of one multi-monitor capture in their arrangement."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("StepImage")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setBackgroundBrush(QBrush(QColor("#2b2f36")))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.fitting = True
        self.tiles: list[Tile] = []
        self._pictures: list[tuple[QGraphicsPixmapItem, Tile]] = []  # tiles with a picture, and its item
        self._message: QGraphicsSimpleTextItem | None = None

    # ------------------------------------------------------------ content
    def show_message(self, text: str) -> None:
        self._scene.clear()
        self.tiles = []
        self._pictures = []
        item = self._scene.addSimpleText(text)
        item.setBrush(QBrush(QColor("#e0e0e0")))
        self._message = item
        self._scene.setSceneRect(item.boundingRect().adjusted(-20, -20, 20, 20))
        self.resetTransform()

    def show_tiles(self, tiles: Sequence[Tile]) -> None:
        """Lay out ``tiles`` (desktop coordinates); keeps the zoom unless fitting."""
        self._scene.clear()
        self._message = None
        self.tiles = list(tiles)
        self._pictures = []
        for tile in self.tiles:
            p = tile.placement
            target = QRectF(p.left, p.top, p.width, p.height)
            if tile.image is not None and not tile.image.isNull():
                item = QGraphicsPixmapItem()
                item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
                item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
                self._set_picture(item, tile, QPixmap.fromImage(tile.image))
                item.setPos(p.left, p.top)
                self._scene.addItem(item)
                self._pictures.append((item, tile))
            else:
                placeholder = QGraphicsRectItem(target)
                placeholder.setBrush(QBrush(QColor("#3a3f47")))
                placeholder.setPen(QPen(QColor("#5a606b")))
                self._scene.addItem(placeholder)
            if len(self.tiles) > 1:
                frame = QGraphicsRectItem(target)
                pen = QPen(QColor(FRAME_COLOUR if tile.current else "#8a8f98"))
                pen.setCosmetic(True)
                pen.setWidth(4 if tile.current else 1)
                frame.setPen(pen)
                frame.setZValue(1)
                self._scene.addItem(frame)
        if self.tiles:
            left = min(t.placement.left for t in self.tiles)
            top = min(t.placement.top for t in self.tiles)
            right = max(t.placement.left + t.placement.width for t in self.tiles)
            bottom = max(t.placement.top + t.placement.height for t in self.tiles)
            self._scene.setSceneRect(QRectF(left, top, right - left, bottom - top))
        if self.fitting:
            self.fit()
        self._sharpen()

    @staticmethod
    def _set_picture(item: QGraphicsPixmapItem, tile: Tile, pixmap: QPixmap) -> None:
        # A display copy, a downscaled or a HiDPI shot still covers its monitor's rectangle.
        item.setPixmap(pixmap)
        p = tile.placement
        if pixmap.width() and pixmap.height():
            item.setTransform(QTransform.fromScale(p.width / pixmap.width(), p.height / pixmap.height()))

    def _sharpen(self) -> None:
        """Paint from the full-size picture where the zoom shows more pixels than the display copy has."""
        scale = self.zoom * self.devicePixelRatioF()
        for item, tile in self._pictures:
            full = tile.full
            if full is None or item.pixmap().width() >= full.width():
                continue
            if tile.placement.width * scale > item.pixmap().width():
                self._set_picture(item, tile, QPixmap.fromImage(full))

    # ------------------------------------------------------------ zoom
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def _set_zoom(self, factor: float) -> None:
        factor = max(MIN_ZOOM, min(MAX_ZOOM, factor))
        self.setTransform(QTransform.fromScale(factor, factor))
        self._sharpen()

    def fit(self) -> None:
        self.fitting = True
        rect = self._scene.sceneRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._sharpen()

    def actual_size(self) -> None:
        self.fitting = False
        self._set_zoom(1.0)

    def zoom_in(self) -> None:
        self.fitting = False
        self._set_zoom(self.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.fitting = False
        self._set_zoom(self.zoom / ZOOM_STEP)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            if steps:
                self.fitting = False
                self._set_zoom(self.zoom * (ZOOM_STEP**steps))
            event.accept()
            return
        super().wheelEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.fitting:
            self.fit()
