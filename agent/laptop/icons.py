"""The agent's icons: the application icon from resources/agent, and the tray's badge drawn on it."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap

RESOURCES: Final = Path(__file__).resolve().parents[2] / "resources" / "agent"
APP_ICON_FILE: Final = RESOURCES / "showdesk-agent.svg"
_SIZE: Final = 64
_WAITING: Final = QColor("#f59e0b")
_PROBLEM: Final = QColor("#e5484d")


@functools.cache
def _base_pixmap() -> QPixmap:
    icon = QIcon(str(APP_ICON_FILE)) if APP_ICON_FILE.exists() else QIcon()
    pixmap = icon.pixmap(_SIZE, _SIZE)
    if pixmap.isNull():
        # Installed without the resources: a plain blue tile still says "ShowDesk is here".
        pixmap = QPixmap(_SIZE, _SIZE)
        pixmap.fill(QColor("#1f6feb"))
    return pixmap


def app_icon() -> QIcon:
    return QIcon(_base_pixmap())


_REPLAY: Final = QColor("#e5484d")
_REPLAY_PAUSED: Final = QColor("#9ca3af")


def tray_icon(waiting: int, problem: bool = False, replay: str = "") -> QIcon:
    """The icon with a badge counting the reports waiting to be sent (red when one is stuck).

    ``replay`` "on" or "paused": the instant replay runs, shown as a ring around the icon and a
    dot in its top-left corner (red; grey while paused on a locked screen), so it is never on
    unnoticed.
    """
    if waiting <= 0 and not replay:
        return app_icon()
    pixmap = QPixmap(_base_pixmap())
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if replay:
        colour = _REPLAY_PAUSED if replay == "paused" else _REPLAY
        ring = QPen(colour, _SIZE * 0.08)
        painter.setPen(ring)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        inset = _SIZE * 0.04
        painter.drawRoundedRect(QRectF(inset, inset, _SIZE - 2 * inset, _SIZE - 2 * inset), 8, 8)
        painter.setPen(QPen(QColor("white"), _SIZE * 0.04))
        painter.setBrush(colour)
        painter.drawEllipse(QRectF(0, 0, _SIZE * 0.4, _SIZE * 0.4))
    if waiting <= 0:
        painter.end()
        return QIcon(pixmap)
    diameter = _SIZE * 0.55
    badge = QRectF(_SIZE - diameter, _SIZE - diameter, diameter, diameter)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(_PROBLEM if problem else _WAITING)
    painter.drawEllipse(badge)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(diameter * 0.7))
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(waiting) if waiting < 10 else "9+")
    painter.end()
    return QIcon(pixmap)
