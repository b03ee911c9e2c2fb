"""The agent's icons: the application icon from resources/agent, and the tray's badge drawn on it."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

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


def tray_icon(waiting: int, problem: bool = False) -> QIcon:
    """The icon with a badge counting the reports waiting to be sent (red when one is stuck)."""
    if waiting <= 0:
        return app_icon()
    pixmap = QPixmap(_base_pixmap())
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
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
