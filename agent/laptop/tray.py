"""The tray icon and its menu: Report a problem, Record steps, Instant replay, My requests, Outbox, Settings, Quit.

The menu is an ordinary ``QMenu`` owned here whether or not the desktop has a system tray: with
a tray it is the icon's context menu, without one (many Linux desktops, and Xvfb) the agent still
works through the same actions (the command line and a second launch trigger them), and the menu
can be shown from the agent's main window. Notifications go to the tray where there is one and
to a small corner toast where there is not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QLabel, QMenu, QSystemTrayIcon, QVBoxLayout, QWidget

from agent.laptop.icons import app_icon, tray_icon
from agent.laptop.screens import floating_window_flags

if TYPE_CHECKING:
    from agent.laptop.replies import NewReply

TOAST_MS: Final = 8000
MAX_NUMBERS_NAMED: Final = 3
ACTION_NAMES: Final = ("report", "record", "replay", "requests", "outbox", "settings", "quit")


class Toast(QWidget):
    """A small note in the corner of the primary screen, for desktops without a tray."""

    clicked = Signal()  # as a tray's message click: the note was clicked (it hides itself too)

    def __init__(self) -> None:
        super().__init__(None, floating_window_flags())
        self.setObjectName("toast")
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        # Notifications may quote what others wrote: never rendered as mark-up.
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.body = QLabel()
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setWordWrap(True)
        self.body.setMaximumWidth(420)
        layout.addWidget(self.title)
        layout.addWidget(self.body)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)

    def show_message(self, title: str, body: str) -> None:
        self.title.setText(title)
        self.body.setText(body)
        self.adjustSize()
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            area = screen.availableGeometry()
            self.move(area.right() - self.width() - 24, area.bottom() - self.height() - 24)
        self.show()
        self._timer.start(TOAST_MS)

    def mousePressEvent(self, _event: object) -> None:  # noqa: N802 - Qt's name
        self.hide()
        self.clicked.emit()


class AgentTray(QObject):
    """The menu, the tray icon where the desktop has a tray, and notifications."""

    report_requested = Signal()
    record_requested = Signal()
    requests_requested = Signal()
    outbox_requested = Signal()
    settings_requested = Signal()
    quit_requested = Signal()
    replay_toggled = Signal(bool)  # the person switched the instant replay on or off in the menu
    notified = Signal(str, str)  # title, text: every notification, whichever way it was shown
    # The person clicked the last notification; its kind ("replies", or "" for any other) says
    # what it was about, so a click on "New reply" can open My requests.
    notification_clicked = Signal(str)

    def __init__(self, parent: QObject | None = None, *, use_tray: bool | None = None) -> None:
        super().__init__(parent)
        self.menu = QMenu()
        self.menu.setObjectName("tray-menu")
        self.status_action = QAction("Nothing waiting to be sent", self.menu)
        self.status_action.setObjectName("action-status")
        self.status_action.setEnabled(False)
        self.actions: dict[str, QAction] = {}
        specs = (
            ("report", "Report a problem…", self.report_requested),
            ("record", "Record steps…", self.record_requested),
            ("requests", "My requests", self.requests_requested),
            ("outbox", "Outbox", self.outbox_requested),
            ("settings", "Settings…", self.settings_requested),
            ("quit", "Quit", self.quit_requested),
        )
        for name, text, signal in specs:
            if name == "requests":
                self.menu.addSeparator()
            if name == "quit":
                self.menu.addSeparator()
            action = QAction(text, self.menu)
            action.setObjectName(f"action-{name}")
            action.triggered.connect(signal.emit)
            self.menu.addAction(action)
            self.actions[name] = action
            if name == "outbox":
                self.menu.insertAction(action, self.status_action)
            if name == "record":
                self._add_replay_action()
        self.menu.setDefaultAction(self.actions["report"])
        available = QSystemTrayIcon.isSystemTrayAvailable() if use_tray is None else use_tray
        self.icon: QSystemTrayIcon | None = None
        if available:
            self.icon = QSystemTrayIcon(app_icon(), self)
            self.icon.setContextMenu(self.menu)
            self.icon.setToolTip("ShowDesk: report a problem")
            self.icon.activated.connect(self._activated)
            self.icon.messageClicked.connect(self._message_clicked)
            self.icon.show()
        self.toast: Toast | None = None
        self.last_notification_kind = ""
        self.waiting = 0
        self.problem: str | None = None
        self.replay_state = ""  # "", "on" or "paused"
        self.replay_text = ""

    def _add_replay_action(self) -> None:
        action = QAction(self.tr("Instant replay (keep the last seconds in memory)"), self.menu)
        action.setObjectName("action-replay")
        action.setCheckable(True)
        action.toggled.connect(self._replay_toggled)
        self.menu.addAction(action)
        self.actions["replay"] = action

    def _replay_toggled(self, on: bool) -> None:
        if on != bool(self.replay_state):
            self.replay_toggled.emit(on)

    def set_replay(self, state: str, text: str = "") -> None:
        """Show the instant replay's state: "" (off), "on" or "paused", with ``text`` as the tooltip."""
        self.replay_state = state
        self.replay_text = text if state else ""
        action = self.actions["replay"]
        action.blockSignals(True)
        action.setChecked(bool(state))
        action.blockSignals(False)
        self._show_state()

    @property
    def has_tray(self) -> bool:
        return self.icon is not None

    def action(self, name: str) -> QAction:
        return self.actions[name]

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.report_requested.emit()

    def set_waiting(self, waiting: int, problem: str | None = None) -> None:
        """Show how many reports wait to be sent, and why the oldest one is stuck, if it is."""
        self.waiting = waiting
        self.problem = problem
        if waiting <= 0:
            text = "Nothing waiting to be sent"
        else:
            text = f"{waiting} report{'s' if waiting != 1 else ''} waiting to be sent"
            if problem:
                text += f" ({problem})"
        self.status_action.setText(text if len(text) <= 120 else text[:117] + "…")
        self.actions["outbox"].setText(f"Outbox ({waiting})" if waiting else "Outbox")
        self._show_state()

    def tooltip(self) -> str:
        """The icon's tooltip: what waits to be sent, and the instant replay while it runs."""
        text = "ShowDesk: " + self.status_action.text()
        return f"{text}\n{self.replay_text}" if self.replay_text else text

    def _show_state(self) -> None:
        if self.icon is not None:
            self.icon.setIcon(tray_icon(self.waiting, self.problem is not None, self.replay_state))
            self.icon.setToolTip(self.tooltip())

    def set_countdown(self, seconds: int) -> None:
        if self.icon is not None:
            self.icon.setToolTip(f"ShowDesk: capturing in {seconds} s" if seconds > 0 else self.tooltip())

    def notify(self, title: str, text: str, *, kind: str = "") -> None:
        """Show a notification; ``kind`` is handed back by :attr:`notification_clicked` if it is clicked."""
        # A tray shows one message at a time and tells of a click without saying which: the
        # last one shown is the one clicked.
        self.last_notification_kind = kind
        if self.icon is not None and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage(title, text, app_icon(), TOAST_MS)
        else:
            if self.toast is None:
                self.toast = Toast()
                self.toast.clicked.connect(self._message_clicked)
            self.toast.show_message(title, text)
        self.notified.emit(title, text)

    def _message_clicked(self) -> None:
        self.notification_clicked.emit(self.last_notification_kind)

    def notify_replies(self, replies: list[NewReply]) -> None:
        """Tell the person the help desk replied. The reply's text is not quoted: a desktop's
        notification server may render mark-up, and the text belongs in My requests anyway."""
        numbers = list(dict.fromkeys(reply.number for reply in replies))
        if not numbers:
            return
        if len(numbers) == 1:
            title = self.tr("New reply on {number}").format(number=numbers[0])
        else:
            named = ", ".join(numbers[:MAX_NUMBERS_NAMED]) + (", …" if len(numbers) > MAX_NUMBERS_NAMED else "")
            title = self.tr("New replies on {numbers}").format(numbers=named)
        self.notify(title, self.tr("The help desk replied. Open My requests to read it and answer."), kind="replies")

    def popup_menu(self, at: QPoint) -> None:
        self.menu.popup(at)

    def shutdown(self) -> None:
        if self.icon is not None:
            self.icon.hide()
        if self.toast is not None:
            self.toast.close()
            self.toast.deleteLater()
        self.menu.deleteLater()
