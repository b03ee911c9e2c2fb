"""Drag a rectangle over the frozen desktop: one full-screen overlay per monitor.

The desktop is captured first and shown frozen under the overlays, so menus that close on focus
loss and the agent's own windows never matter. Each overlay covers one screen and maps its mouse
positions with that screen's origin and device-pixel ratio, so the rectangle is exact in desktop
pixels on mixed-DPI setups, also when it is dragged from one monitor onto another (the window
that got the press keeps receiving the moves, in its own coordinates).

A press and release without a drag picks the whole monitor clicked on. Escape cancels; Enter
keeps the rectangle drawn so far.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QCursor,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QScreen,
)
from PySide6.QtWidgets import QWidget

from agent.capture import Rect
from agent.laptop.screens import floating_window_flags, has_window_stacking, local_rect, native_geometry, native_point

MIN_DRAG_PX: Final = 4  # desktop pixels; less is a click (the whole monitor)
_SHADE: Final = QColor(0, 0, 0, 110)
_EDGE: Final = QColor("#0a84ff")


def rect_between(a: tuple[float, float], b: tuple[float, float]) -> Rect:
    """The desktop pixels between two corner points, both corners' pixels included."""
    left, right = sorted((a[0], b[0]))
    top, bottom = sorted((a[1], b[1]))
    x0, y0 = int(left), int(top)
    return Rect(x0, y0, max(1, int(right) - x0 + 1), max(1, int(bottom) - y0 + 1))


class RegionOverlay(QWidget):
    """The overlay on one screen; the selector it belongs to holds the rectangle."""

    def __init__(self, selector: RegionSelector, screen: QScreen) -> None:
        super().__init__(None, floating_window_flags())
        self.setObjectName("region-overlay")
        self.setAccessibleName("Drag to choose the part of the screen to capture; Escape cancels")
        self._selector = selector
        self._screen = screen
        self._native = native_geometry(screen)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMouseTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setGeometry(screen.geometry())

    @property
    def screen_rect(self) -> Rect:
        return self._native

    def place(self) -> None:
        self.create()
        handle = self.windowHandle()
        if handle is not None:
            handle.setScreen(self._screen)
        self.setGeometry(self._screen.geometry())

    def to_native(self, position: QPointF) -> tuple[float, float]:
        return native_point(self._screen, position)

    # -- drawing
    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        image = self._selector.image
        desktop = self._selector.desktop
        scale_x, scale_y = self._selector.image_scale
        source = QRectF(
            (self._native.left - desktop.left) * scale_x,
            (self._native.top - desktop.top) * scale_y,
            self._native.width * scale_x,
            self._native.height * scale_y,
        )
        target = QRectF(0, 0, self.width(), self.height())
        if image is not None:
            painter.drawImage(target, image, source)
        selection = self._selector.selection
        part = selection.intersection(self._native) if selection is not None else None
        if part is None:
            painter.fillRect(target, _SHADE)
        else:
            kept = QRectF(local_rect(self._screen, part))
            # Shade around the kept rectangle: four bands, the rectangle itself untouched.
            painter.fillRect(QRectF(0, 0, target.width(), kept.top()), _SHADE)
            painter.fillRect(QRectF(0, kept.bottom(), target.width(), target.height() - kept.bottom()), _SHADE)
            painter.fillRect(QRectF(0, kept.top(), kept.left(), kept.height()), _SHADE)
            painter.fillRect(QRectF(kept.right(), kept.top(), target.width() - kept.right(), kept.height()), _SHADE)
            pen = QPen(_EDGE, 2)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawRect(kept.adjusted(-1, -1, 1, 1))
            if selection is not None and part == selection.intersection(self._native):
                painter.setPen(QColor("white"))
                label = f"{selection.width} × {selection.height}"
                painter.drawText(kept.topLeft() + QPointF(4, -6 if kept.top() > 20 else 16), label)
        painter.end()

    # -- input
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton:
            self._selector.press(self, self.to_native(event.position()))
        elif event.button() == Qt.MouseButton.RightButton:
            self._selector.cancel()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._selector.drag(self.to_native(event.position()))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton:
            self._selector.release(self, self.to_native(event.position()))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Escape:
            self._selector.cancel()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._selector.accept()
        else:
            super().keyPressEvent(event)


class RegionSelector(QObject):
    """Shows the overlays over a frozen desktop image and reports the chosen desktop rectangle."""

    selected = Signal(object)  # agent.capture.Rect, desktop units
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.desktop = Rect(0, 0, 1, 1)
        self.image_scale = (1.0, 1.0)  # image pixels per desktop unit, across and down
        self.selection: Rect | None = None
        self._anchor: tuple[float, float] | None = None
        self._overlays: list[RegionOverlay] = []

    @property
    def active(self) -> bool:
        return bool(self._overlays)

    def overlays(self) -> list[RegionOverlay]:
        return list(self._overlays)

    def start(self, image: QImage, desktop: Rect) -> None:
        """Show ``image`` (the frozen desktop, covering ``desktop``) on every screen and wait for a drag."""
        self.close_overlays()
        self.image = image
        self.desktop = desktop
        self.image_scale = (image.width() / max(1, desktop.width), image.height() / max(1, desktop.height))
        self.selection = None
        self._anchor = None
        for screen in QGuiApplication.screens():
            overlay = RegionOverlay(self, screen)
            overlay.place()
            self._overlays.append(overlay)
            overlay.show()
            if has_window_stacking():
                overlay.raise_()
        under_mouse = QGuiApplication.screenAt(QCursor.pos())
        focus = next((o for o in self._overlays if o.screen_rect == _rect_of(under_mouse)), self._overlays[0])
        if has_window_stacking():
            focus.activateWindow()
        focus.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- driven by the overlays
    def press(self, _overlay: RegionOverlay, point: tuple[float, float]) -> None:
        self._anchor = point
        self.selection = None
        self._repaint()

    def drag(self, point: tuple[float, float]) -> None:
        if self._anchor is None:
            return
        self.selection = self._clamped(rect_between(self._anchor, point))
        self._repaint()

    def release(self, overlay: RegionOverlay, point: tuple[float, float]) -> None:
        if self._anchor is None:
            return
        anchor, self._anchor = self._anchor, None
        if max(abs(point[0] - anchor[0]), abs(point[1] - anchor[1])) < MIN_DRAG_PX:
            # A click: the whole monitor it landed on.
            self.selection = overlay.screen_rect
        else:
            self.selection = self._clamped(rect_between(anchor, point))
        self.accept()

    def accept(self) -> None:
        if self.selection is None:
            return
        chosen = self.selection
        self.close_overlays()
        self.selected.emit(chosen)

    def cancel(self) -> None:
        self.close_overlays()
        self.cancelled.emit()

    def _clamped(self, rect: Rect) -> Rect | None:
        return rect.intersection(self.desktop)

    def _repaint(self) -> None:
        for overlay in self._overlays:
            overlay.update()

    def close_overlays(self) -> None:
        overlays, self._overlays = self._overlays, []
        for overlay in overlays:
            overlay.hide()
            overlay.deleteLater()


def _rect_of(screen: QScreen | None) -> Rect | None:
    return native_geometry(screen) if screen is not None else None
