"""The technician window: sign-in screen, then the queue beside the viewer, and the figures.

It wires the session's signals to the widgets and the commands (``help.COMMANDS``) to the
session; it decides nothing about tickets itself. Commands the backend cannot do are hidden
(and their keys do nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QColor, QGuiApplication, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QSplitter,
    QStackedWidget,
    QSystemTrayIcon,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from technician.client import Caller, Feature, HistoryItem, TicketInfo
from technician.dashboard import Dashboard
from technician.help import COMMANDS, HelpOverlay, command_keys, is_character_key, is_text_input
from technician.model import STATUS_TRANSITIONS, TicketSummary, login_command
from technician.note_dialog import NoteDialog
from technician.queue_view import QueueView
from technician.session import TechSession
from technician.signin import SignInScreen
from technician.viewer import TAB_HISTORY, TAB_STEPS, TAB_SYSTEM, TAB_TIMELINE, TicketViewer

log = logging.getLogger(__name__)

STATUS_MESSAGE_MS: Final = 8000
# The size the window opens at; the queue shows its triage columns (flags among them) at it.
DEFAULT_SIZE: Final = (1600, 960)
NOTIFY_MS: Final = 6000
TAB_QUEUE, TAB_FIGURES = 0, 1
# Commands that need a backend feature; the rest need only reading.
NEEDS: Final[dict[str, Feature]] = {
    "claim": Feature.ASSIGN,
    "assign": Feature.ASSIGN,
    "status-open": Feature.STATUS,
    "status-waiting": Feature.STATUS,
    "status-resolved": Feature.STATUS,
    "status-closed": Feature.STATUS,
    "note": Feature.NOTES,
    "reply": Feature.NOTES,
    "call-next": Feature.WALK_UP,
    "show-dashboard": Feature.STATS,
    "show-history": Feature.HISTORY,
    "search": Feature.FILTERS,
    "revoke-link": Feature.LINK,
}
TICKET_COMMANDS: Final = frozenset(
    {"claim", "assign", "status-open", "status-waiting", "status-resolved", "status-closed", "note", "reply",
     "export", "copy-link", "revoke-link"}
)  # fmt: skip


SavePathChooser = Callable[[QWidget, str, Path, Callable[[Path], None]], None]


def ask_save_path(parent: QWidget, title: str, suggested: Path, chosen: Callable[[Path], None]) -> None:
    """Ask where to save a report bundle without blocking the window; ``chosen`` gets the path."""
    dialog = QFileDialog(parent, title, str(suggested))
    dialog.setObjectName("ExportDialog")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # its file-system watcher thread goes with it
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setNameFilter("ShowDesk report bundles (*.showdesk)")
    dialog.setDefaultSuffix("showdesk")
    dialog.fileSelected.connect(lambda path: chosen(Path(path)))
    dialog.open()


def app_icon() -> QIcon:
    """A simple drawn icon (no image file needed): a blue rounded square with a white screen."""
    pixmap = QPixmap(64, 64)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor("#1e88e5"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(2, 2, 60, 60, 12, 12)
    painter.setBrush(QColor("white"))
    painter.drawRoundedRect(14, 16, 36, 24, 3, 3)
    painter.drawRect(28, 40, 8, 8)
    painter.end()
    return QIcon(pixmap)


class TechWindow(QMainWindow):
    def __init__(self, session: TechSession, *, server: str, tray: bool = True) -> None:
        super().__init__()
        self.setObjectName("TechWindow")
        self.setWindowTitle("ShowDesk — technician")
        self.setWindowIcon(app_icon())
        self.session = session
        session.setParent(self)  # the queue model and its timers go when the window goes
        self.server = server
        self.caller: Caller | None = None
        self.notifications: list[tuple[str, str]] = []
        # Asks where to save and calls back with the path; tests put a fake here, not a real dialog.
        self.choose_save_path: SavePathChooser = ask_save_path

        self.banner = QLabel()
        self.banner.setObjectName("OfflineBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #b71c1c; color: white; padding: 6px 10px; font-weight: bold;")
        self.banner.hide()
        self.signin = SignInScreen(server)
        self.signin.retry.connect(self.session.sign_in)
        self.queue_view = QueueView(session.model)
        self.viewer = TicketViewer()
        self.dashboard = Dashboard()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.queue_view)
        self.splitter.addWidget(self.viewer)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 5)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("WorkspaceTabs")
        self.tabs.addTab(self.splitter, "Queue")
        self.tabs.addTab(self.dashboard, "Figures")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.signin)
        self.stack.addWidget(self.tabs)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.help_overlay = HelpOverlay(central)
        self.statusBar().setObjectName("TechStatus")

        self.actions_by_name: dict[str, QAction] = {}
        # The keys in force: a site's own ([tech.keys]), single keys dropped when switched off.
        self.command_keys, unknown_keys = command_keys(session.settings)
        self._typing = False  # focus is in a text field: character keys are text there, never commands
        self._make_actions()
        self.status_button = QToolButton()
        self.status_button.setObjectName("StatusMenuButton")
        self.status_button.setText("Status")
        self.status_button.setToolTip("Change the status (Alt+O open, Alt+W waiting, Alt+R resolved, Alt+C closed)")
        self.status_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        status_menu = QMenu(self.status_button)
        for name in ("status-open", "status-waiting", "status-resolved", "status-closed"):
            status_menu.addAction(self.actions_by_name[name])
        self.status_button.setMenu(status_menu)
        self._fill_toolbar()

        self.tray: QSystemTrayIcon | None = None
        if tray and QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip("ShowDesk technician")
            self.tray.activated.connect(self._raise_from_tray)
            self.tray.show()

        self._connect()
        self._update_actions()
        if unknown_keys:
            message = f"[tech.keys] names no command: {', '.join(unknown_keys)} (see F1 for the names)"
            log.warning(message)
            self.statusBar().showMessage(message, 30_000)
        self._watching_focus = False
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._focus_moved)
            self._watching_focus = True

    # ------------------------------------------------------------ commands
    def _make_actions(self) -> None:
        handlers: dict[str, Callable[[], None]] = {
            "search": self._focus_search,
            "next-ticket": lambda: self.queue_view.move_selection(1),
            "previous-ticket": lambda: self.queue_view.move_selection(-1),
            "reload": self._reload,
            "show-queue": lambda: self.tabs.setCurrentIndex(TAB_QUEUE),
            "show-dashboard": lambda: self.tabs.setCurrentIndex(TAB_FIGURES),
            "next-step": self.viewer.next_step,
            "previous-step": self.viewer.previous_step,
            "zoom-in": lambda: self.viewer.zoom("zoom-in"),
            "zoom-out": lambda: self.viewer.zoom("zoom-out"),
            "zoom-fit": lambda: self.viewer.zoom("zoom-fit"),
            "zoom-actual": lambda: self.viewer.zoom("zoom-actual"),
            "show-steps": lambda: self._viewer_tab(TAB_STEPS),
            "show-system": lambda: self._viewer_tab(TAB_SYSTEM),
            "show-history": lambda: self._viewer_tab(TAB_HISTORY),
            "show-timeline": lambda: self._viewer_tab(TAB_TIMELINE),
            "claim": self.claim,
            "assign": self.ask_assignee,
            "status-open": lambda: self.set_status("open"),
            "status-waiting": lambda: self.set_status("waiting"),
            "status-resolved": lambda: self.set_status("resolved"),
            "status-closed": lambda: self.set_status("closed"),
            "note": lambda: self._compose(internal=True),
            "reply": lambda: self._compose(internal=False),
            "call-next": self.call_next,
            "export": self.ask_export,
            "copy-link": self.copy_link,
            "revoke-link": self.viewer.confirm_revoke_link,
            "help": self.toggle_help,
        }
        for command in COMMANDS:
            action = QAction(command.short or command.label, self)
            action.setObjectName(f"tech-{command.name}")
            keys = self.command_keys[command.name]
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setToolTip(f"{command.label} ({' or '.join(keys)})" if keys else command.label)
            action.triggered.connect(handlers[command.name])
            self.addAction(action)
            self.actions_by_name[command.name] = action

    def _focus_moved(self, _old: QWidget | None, new: QWidget | None) -> None:
        """Character keys leave the commands while a text field has focus, and come back after.

        A field that takes a key itself wins over a shortcut anyway; this also covers what
        does not (a field that ignores a key, dictation typing into a combo box), so a word
        typed or spoken into any text field never claims a ticket or calls the next person.
        """
        if new is not None and new.window() is not self:
            return  # another window (a dialog of its own) is not this window's key map
        typing = is_text_input(new)
        if typing == self._typing:
            return
        self._typing = typing
        for name, action in self.actions_by_name.items():
            keys = [k for k in self.command_keys[name] if not (typing and is_character_key(k))]
            action.setShortcuts([QKeySequence(k) for k in keys])

    def _fill_toolbar(self) -> None:
        a = self.actions_by_name
        self.viewer.set_actions([a["claim"], a["assign"]])
        self.viewer.toolbar.addWidget(self.status_button)
        for name in ("note", "reply", "call-next", "export", "copy-link", "help"):
            self.viewer.toolbar.addAction(a[name])

    def _update_actions(self) -> None:
        features = self.session.features
        signed_in = self.caller is not None
        info = self.viewer.info
        for name, action in self.actions_by_name.items():
            needed = NEEDS.get(name)
            offered = signed_in and (needed is None or needed in features)
            action.setVisible(offered or name == "help")
            action.setEnabled((offered and (info is not None or name not in TICKET_COMMANDS)) or name == "help")
        if info is not None:
            allowed = STATUS_TRANSITIONS.get(info.summary.status, frozenset())
            for status in ("open", "waiting", "resolved", "closed"):
                action = self.actions_by_name[f"status-{status}"]
                action.setEnabled(action.isEnabled() and status in allowed)
            self.actions_by_name["claim"].setEnabled(
                self.actions_by_name["claim"].isEnabled()
                and info.summary.assignee != (self.caller.name if self.caller else None)
            )
        self.status_button.setVisible(Feature.STATUS in features and info is not None)
        self.queue_view.set_features(features)
        self.tabs.setTabVisible(TAB_FIGURES, Feature.STATS in features)

    def available_commands(self) -> set[str]:
        return {name for name, action in self.actions_by_name.items() if action.isVisible()}

    # ------------------------------------------------------------ session signals
    def _connect(self) -> None:
        s = self.session
        s.signing_in.connect(self._signing_in)
        s.signed_in.connect(self._signed_in)
        s.sign_in_failed.connect(self._sign_in_failed)
        s.waiting_for_token.connect(self._waiting_for_token)
        s.online_changed.connect(self._online_changed)
        s.new_tickets.connect(self._new_tickets)
        s.ticket_loaded.connect(self._ticket_loaded)
        s.ticket_changed.connect(self._ticket_changed)
        s.ticket_failed.connect(self.viewer.show_failed)
        s.history_loaded.connect(self._history_loaded)
        s.history_failed.connect(self.viewer.show_history_failed)
        s.image_ready.connect(self.viewer.image_ready)
        s.image_failed.connect(self.viewer.image_failed)
        s.action_done.connect(lambda text: self.statusBar().showMessage(text, STATUS_MESSAGE_MS))
        s.action_failed.connect(self._action_failed)
        s.stats_loaded.connect(self.dashboard.show_stats)
        s.stats_failed.connect(self.dashboard.show_failed)
        s.ticket_changed.connect(lambda _info: self.dashboard.note_change())
        s.model.rows_changed.connect(self._update_title)
        self.queue_view.filter_changed.connect(s.set_filter)
        self.queue_view.ticket_selected.connect(self.open_ticket)
        self.viewer.image_wanted.connect(lambda t, p, full: s.load_image(t, p, full=full))
        self.viewer.open_requested.connect(self.open_from_history)
        self.viewer.revoke_link_wanted.connect(s.revoke_link)
        self.dashboard.period_changed.connect(s.load_stats)

    def start(self) -> None:
        self.session.sign_in()

    def _signing_in(self) -> None:
        if self.caller is None:
            self.stack.setCurrentWidget(self.signin)
            self.signin.show_signing_in()

    def _signed_in(self, caller: Caller) -> None:
        self.caller = caller
        self.stack.setCurrentWidget(self.tabs)
        self.banner.hide()
        who = caller.name or "technician"
        self.statusBar().showMessage(f"Signed in as {who} at {self.server}", STATUS_MESSAGE_MS)
        self._update_actions()
        self.queue_view.table.setFocus()

    def _sign_in_failed(self, kind: str, message: str) -> None:
        self.caller = None
        self.stack.setCurrentWidget(self.signin)
        self.signin.show_problem(kind, message, signs_in_by_itself=self.session.watching_credentials)
        self._update_actions()

    def _waiting_for_token(self, _message: str) -> None:
        # The token went away while signed in, as it does while the local server restarts (it
        # hands over a new one when it starts): the queue stays, the session signs in again.
        self.banner.setText(
            "No technician token at the moment: the server may be restarting. Signing in again by itself "
            f"as soon as there is one — nothing is lost. (Or store one: {login_command(self.server)})"
        )
        self.banner.show()

    def _online_changed(self, online: bool, reason: str) -> None:
        if online:
            self.banner.hide()
            self.statusBar().showMessage("The server answers again; the queue is up to date.", STATUS_MESSAGE_MS)
        else:
            self.banner.setText(f"The server cannot be reached ({reason}). Trying again — nothing is lost.")
            self.banner.show()

    def _new_tickets(self, tickets: list[TicketSummary]) -> None:
        if not self.session.settings.notify or not tickets:
            return
        if len(tickets) == 1:
            t = tickets[0]
            title = f"New ticket {t.number}"
            text = f"{t.who or 'Someone'}: {t.subject or t.category}"
        else:
            title = f"{len(tickets)} new tickets"
            text = ", ".join(t.number for t in tickets[:6])
        self.notifications.append((title, text))
        if self.tray is not None and self.tray.supportsMessages():
            self.tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, NOTIFY_MS)
        self.statusBar().showMessage(f"{title} — {text}", NOTIFY_MS)
        QApplication.alert(self, NOTIFY_MS)
        if self.session.settings.sound:
            QApplication.beep()

    def _raise_from_tray(self, _reason: object) -> None:
        self.showNormal()
        self.activateWindow()

    def _update_title(self) -> None:
        unread = self.session.model.unread_count
        self.setWindowTitle(f"ShowDesk — technician ({unread} unread)" if unread else "ShowDesk — technician")

    # ------------------------------------------------------------ tickets
    def open_ticket(self, ticket_id: str) -> None:
        ticket = self.session.model.ticket(ticket_id)
        self.viewer.show_loading(ticket_id, ticket.number if ticket else "")
        self.session.open_ticket(ticket_id)

    def open_from_history(self, ticket_id: str) -> None:
        if not self.queue_view.select_ticket(ticket_id):
            self.open_ticket(ticket_id)  # not in the list under this filter: open it anyway

    def _ticket_loaded(self, info: TicketInfo) -> None:
        self.viewer.show_ticket(info)
        self._update_actions()
        self._update_title()

    def _ticket_changed(self, info: TicketInfo) -> None:
        if self.viewer.info is not None and self.viewer.info.summary.id == info.summary.id:
            self.viewer.show_ticket(info)
            self._update_actions()

    def _history_loaded(self, ticket_id: str, items: list[HistoryItem]) -> None:
        self.viewer.show_history(ticket_id, items)

    def _current(self) -> TicketSummary | None:
        return self.viewer.info.summary if self.viewer.info is not None else None

    def _action_failed(self, reason: str) -> None:
        self.statusBar().showMessage(f"That did not work: {reason}", STATUS_MESSAGE_MS * 2)

    # ------------------------------------------------------------ work
    def claim(self) -> None:
        ticket = self._current()
        if ticket is not None:
            self.session.assign(ticket.id, "me")

    def ask_assignee(self) -> None:
        ticket = self._current()
        if ticket is None:
            return
        dialog = QInputDialog(self)
        dialog.setObjectName("AssignDialog")
        dialog.setWindowTitle(f"Assign {ticket.number}")
        dialog.setLabelText("Technician's name (empty: nobody)")
        dialog.setTextValue(ticket.assignee or "")
        dialog.textValueSelected.connect(lambda name: self.session.assign(ticket.id, name.strip() or None))
        dialog.open()

    def set_status(self, status: str) -> None:
        ticket = self._current()
        if ticket is not None:
            self.session.set_status(ticket.id, status)

    def _compose(self, *, internal: bool) -> None:
        self.compose(internal=internal)

    def compose(self, *, internal: bool) -> NoteDialog | None:
        ticket = self._current()
        if ticket is None:
            return None
        dialog = NoteDialog(ticket, internal=internal, parent=self)
        dialog.submitted.connect(lambda text: self.session.add_note(ticket.id, text, internal=internal))
        dialog.open()
        return dialog

    def call_next(self) -> None:
        sites = self.session.sites
        site = self.session.site_to_call(self._current())
        if site is not None:
            self.session.call_next(site)
            return
        if not sites:
            self.statusBar().showMessage(
                "No walk-up site is known yet: set `site` under [tech] in the configuration.", STATUS_MESSAGE_MS
            )
            return
        dialog = QInputDialog(self)
        dialog.setObjectName("SiteDialog")
        dialog.setWindowTitle("Call the next person")
        dialog.setLabelText("Site")
        dialog.setComboBoxItems(sites)
        dialog.textValueSelected.connect(self.session.call_next)
        dialog.open()

    def ask_export(self) -> None:
        ticket = self._current()
        if ticket is None:
            return
        self.choose_save_path(
            self,
            f"Export {ticket.number}",
            Path.home() / f"{ticket.number}.showdesk",
            lambda path: self.session.export_bundle(ticket.id, path),
        )

    def copy_link(self) -> None:
        ticket = self._current()
        if ticket is None:
            return
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(ticket.url or ticket.number)
        self.statusBar().showMessage(f"Copied the link to {ticket.number}", STATUS_MESSAGE_MS)

    # ------------------------------------------------------------ navigation
    def _focus_search(self) -> None:
        self.tabs.setCurrentIndex(TAB_QUEUE)
        self.queue_view.focus_search()

    def _viewer_tab(self, index: int) -> None:
        self.tabs.setCurrentIndex(TAB_QUEUE)
        self.viewer.tabs.setCurrentIndex(index)

    def _reload(self) -> None:
        if self.caller is None:
            self.session.sign_in()
        elif self.tabs.currentIndex() == TAB_FIGURES:
            self.dashboard.refresh()
        else:
            self.session.reload()

    def _tab_changed(self, index: int) -> None:
        if index == TAB_FIGURES and self.dashboard.stats is None and self.caller is not None:
            self.dashboard.refresh()

    def toggle_help(self) -> None:
        if self.help_overlay.isVisible():
            self.help_overlay.dismiss()
        else:
            self.help_overlay.show_for(self.available_commands(), self.command_keys)

    # ------------------------------------------------------------ end
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        app = QApplication.instance()
        if self._watching_focus and isinstance(app, QApplication):
            app.focusChanged.disconnect(self._focus_moved)
            self._watching_focus = False
        if self.tray is not None:
            self.tray.hide()
        self.session.shutdown()
