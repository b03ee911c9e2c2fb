"""A small always-on-top note, "● Instant replay on", for desktops without a system tray.

Where there is a tray, its icon shows the instant replay (a red ring and dot, and the tooltip).
Where there is none (many Linux desktops), nothing else would tell the person that the last
seconds of their screen are being kept in memory, so this note stays in a corner while the replay
runs. Its own rectangle is kept out of the replay's and the clips' frames, and capture hides it
like every window of the agent, so it never appears in what is sent.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from agent.capture import Rect
from agent.laptop.screens import floating_window_flags
from agent.laptop.step_recorder import native_geometry_of

_MARGIN: Final = 12


class ReplayBadge(QWidget):
    """The note; :meth:`show_state` shows it with the replay's words, ``hide()`` when it is off."""

    def __init__(self) -> None:
        super().__init__(None, floating_window_flags())
        self.setObjectName("replay-badge")
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, True)
        self.setAccessibleName(self.tr("Instant replay"))
        frame = QFrame(self)
        frame.setStyleSheet("QFrame { background: #1f2328; border-radius: 6px; } QLabel { color: white; }")
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(frame)
        layout = QHBoxLayout(frame)
        layout.setContentsMargins(8, 4, 10, 4)
        self.dot = QLabel("●")
        self.text = QLabel()
        self.text.setObjectName("replay-badge-text")
        layout.addWidget(self.dot)
        layout.addWidget(self.text)

    def show_state(self, paused: bool, tooltip: str) -> None:
        self.dot.setStyleSheet(f"color: {'#9ca3af' if paused else '#e5484d'}; font-size: 14px;")
        self.text.setText(self.tr("Instant replay paused") if paused else self.tr("Instant replay on"))
        self.setToolTip(tooltip)
        self.adjustSize()
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            area = screen.availableGeometry()
            self.move(area.right() - self.width() - _MARGIN, area.top() + _MARGIN)
        self.show()

    def native_rect(self) -> Rect:
        return native_geometry_of(self)
