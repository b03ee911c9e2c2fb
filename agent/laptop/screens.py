"""Where Qt's screens are in the capture layer's coordinates (the desktop's own pixels).

Qt places each screen at its native top-left corner and divides only its size by the screen's
device-pixel ratio, so on a mixed-DPI desktop a point in a window maps back to desktop pixels
with *its* screen's origin and ratio. ``agent.capture`` counts in the desktop's own units:
physical pixels on X11 and Windows, points on macOS (where Qt's logical units are points too).
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QCursor, QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

from agent.capture import MonitorInfo, Rect, ScaleLookup


def _counts_in_points() -> bool:
    # On macOS both Qt and the capture layer count in points: no conversion.
    return QGuiApplication.platformName() == "cocoa"


def native_geometry(screen: QScreen) -> Rect:
    """The screen's rectangle in desktop units."""
    geometry = screen.geometry()
    if _counts_in_points():
        return Rect(geometry.x(), geometry.y(), geometry.width(), geometry.height())
    ratio = screen.devicePixelRatio()
    return Rect(geometry.x(), geometry.y(), round(geometry.width() * ratio), round(geometry.height() * ratio))


def native_point(screen: QScreen, local: QPointF | QPoint) -> tuple[float, float]:
    """A point given relative to the screen's top-left corner (Qt units), in desktop units."""
    ratio = 1.0 if _counts_in_points() else screen.devicePixelRatio()
    origin = screen.geometry().topLeft()
    return origin.x() + local.x() * ratio, origin.y() + local.y() * ratio


def local_rect(screen: QScreen, rect: Rect) -> QRect:
    """A desktop rectangle in Qt units relative to the screen's top-left corner."""
    ratio = 1.0 if _counts_in_points() else screen.devicePixelRatio()
    origin = screen.geometry().topLeft()
    return QRect(
        round((rect.left - origin.x()) / ratio),
        round((rect.top - origin.y()) / ratio),
        max(1, round(rect.width / ratio)),
        max(1, round(rect.height / ratio)),
    )


def cursor_native_point() -> tuple[int, int] | None:
    """Where the mouse is, in desktop units (None when no screen is under it)."""
    position = QCursor.pos()
    screen = QGuiApplication.screenAt(position)
    if screen is None:
        return None
    x, y = native_point(screen, QPointF(position - screen.geometry().topLeft()))
    return round(x), round(y)


def screen_scales() -> dict[Rect, float]:
    """Each screen's device-pixel ratio by its desktop rectangle (for ``Capturer(scale_of=…)``)."""
    return {native_geometry(screen): screen.devicePixelRatio() for screen in QGuiApplication.screens()}


def scale_lookup(scales: dict[Rect, float]) -> ScaleLookup:
    """A ``scale_of`` function for the capture thread, reading a table made on the GUI thread."""

    def scale_of(monitor: MonitorInfo) -> float | None:
        return scales.get(monitor.rect)

    return scale_of


def has_window_stacking() -> bool:
    """False on Qt's test platforms (offscreen, minimal), which have no stacking order to change."""
    return QGuiApplication.platformName() not in ("offscreen", "minimal")


def bring_forward(widget: QWidget) -> None:
    """Show ``widget`` above the other windows and give it the keyboard."""
    widget.show()
    if has_window_stacking():
        widget.raise_()
        widget.activateWindow()


def floating_window_flags() -> Qt.WindowType:
    """Flags of a frameless window that floats over the others (the tool bar, the overlays, a toast).

    Qt raises tool windows as they show; its test platforms cannot, so there it is a plain window.
    """
    if has_window_stacking():
        return Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
    return Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint
