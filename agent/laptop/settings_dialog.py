"""Settings: the help desk's address, proxy and CA bundle, signing in, capture defaults, the global
shortcut, start at login.

"Test connection" runs the connectivity check the system information uses
(``agent.sysinfo.check_connectivity``), then asks the help desk whether the stored token is
accepted, and says what is wrong in plain words. Both run on a worker thread and both use the
address, CA bundle and proxy as edited, before they are saved; nothing changes the process's
environment.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import replace
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from agent.config import BackendConfig, ConfigError
from agent.connectors.base import AuthError, Capability, ConnectorError
from agent.credentials import CredentialError, forget_token, store_token, token_for
from agent.laptop.hotkey import HotkeyStatus, detected_status
from agent.laptop.settings_store import (
    CAPTURE_MODE_LABELS,
    CAPTURE_MODES,
    AgentSettings,
    SettingsError,
    autostart_enabled,
    explain_connectivity,
    parse_enrolment,
    save_agent_settings,
    set_autostart,
)
from shared_qt.workers import BackgroundRunner

log = logging.getLogger(__name__)

HOTKEY_COMMAND: Final = "showdesk capture --gui"
CHECK_SECONDS: Final = 8.0
PROXY_ADVICE: Final = "Check the proxy address, or clear it if you do not need one here."
_CAPTURE_BACKEND_LABELS: Final = {
    "auto": "Automatic",
    "x11": "Read the screen directly (X11, Windows, macOS)",
    "portal": "Ask the desktop (Wayland portal)",
}


def hotkey_help(platform: str = sys.platform) -> str:
    """How to bind the report window to a key on this kind of desktop."""
    if platform == "darwin":
        where = (
            "In Shortcuts, make a shortcut that runs it as a shell script and give the shortcut a key, "
            "or use your launcher's hotkey feature."
        )
    elif platform == "win32":
        where = (
            "Make a desktop or Start menu shortcut to it, right-click the shortcut, choose Properties, "
            "and set its Shortcut key."
        )
    else:
        where = (
            "GNOME: Settings › Keyboard › Custom Shortcuts. KDE Plasma: System Settings › Shortcuts › "
            "Custom Shortcuts. Xfce: Keyboard › Application Shortcuts. Add a shortcut that runs it "
            "(Ctrl+Print Screen, say)."
        )
    command = f'<code style="white-space: nowrap">{HOTKEY_COMMAND}</code>'  # never broken across lines
    return f"Let the desktop start this command with a key instead: {command}. {where}"


class SettingsDialog(QDialog):
    """Edits ``AgentSettings``; ``saved`` carries them once written."""

    saved = Signal(object)  # AgentSettings
    signed_in = Signal(str)  # the help desk's address

    def __init__(
        self,
        settings: AgentSettings,
        *,
        backend_type: str = "builtin",
        hotkey_status: HotkeyStatus | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settings-dialog")
        self.setWindowTitle("Settings — ShowDesk")
        self.settings = settings
        self._backend_type = backend_type
        self._runner = BackgroundRunner(self, max_threads=1)
        status = hotkey_status or detected_status()

        # -- connection
        self.url_edit = QLineEdit(settings.backend_url)
        self.url_edit.setObjectName("backend-url")
        self.url_edit.setPlaceholderText("https://helpdesk.example.org")
        self.proxy_edit = QLineEdit(settings.proxy)
        self.proxy_edit.setObjectName("proxy")
        self.proxy_edit.setPlaceholderText("empty: the system's proxy settings; e.g. http://proxy.example.org:3128")
        self.ca_edit = QLineEdit(settings.ca_bundle)
        self.ca_edit.setObjectName("ca-bundle")
        self.ca_edit.setPlaceholderText("empty: the system's certificates")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_ca_bundle)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(browse)
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("test-connection")
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = QLabel("")
        self.test_result.setObjectName("test-result")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        connection = QFormLayout()
        connection.addRow("Help desk address", self.url_edit)
        connection.addRow("Proxy", self.proxy_edit)
        connection.addRow("CA bundle", ca_row)
        connection.addRow(self.test_button, self.test_result)
        connection_box = QGroupBox("Connection")
        connection_box.setLayout(connection)

        # -- signing in
        self.sign_in_state = QLabel()
        self.sign_in_state.setObjectName("sign-in-state")
        self.sign_in_state.setWordWrap(True)
        self.enrolment_edit = QLineEdit()
        self.enrolment_edit.setObjectName("enrolment")
        self.enrolment_edit.setPlaceholderText("Paste the enrolment link or code from your help desk")
        self.enrolment_edit.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setObjectName("sign-in")
        self.sign_in_button.clicked.connect(self.sign_in)
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.setObjectName("sign-out")
        self.sign_out_button.clicked.connect(self.sign_out)
        enrol_row = QHBoxLayout()
        enrol_row.addWidget(self.enrolment_edit, 1)
        enrol_row.addWidget(self.sign_in_button)
        enrol_row.addWidget(self.sign_out_button)
        sign_in_layout = QVBoxLayout()
        sign_in_layout.addWidget(self.sign_in_state)
        sign_in_layout.addLayout(enrol_row)
        sign_in_box = QGroupBox("Sign in")
        sign_in_box.setLayout(sign_in_layout)

        # -- capture and start-up
        self.mode_combo = QComboBox()
        self.mode_combo.setObjectName("capture-mode")
        for mode in CAPTURE_MODES:
            self.mode_combo.addItem(CAPTURE_MODE_LABELS[mode], mode)
        self.mode_combo.setCurrentIndex(CAPTURE_MODES.index(settings.capture_mode))
        self.backend_combo = QComboBox()
        self.backend_combo.setObjectName("capture-backend")
        for name, label in _CAPTURE_BACKEND_LABELS.items():
            self.backend_combo.addItem(label, name)
        self.backend_combo.setCurrentIndex(list(_CAPTURE_BACKEND_LABELS).index(settings.capture_backend))
        self.replay_box = QCheckBox(
            self.tr("Instant replay: keep the last %1 s of the screen in memory").replace(
                "%1", f"{settings.replay_seconds:g}"
            )
        )
        self.replay_box.setObjectName("instant-replay")
        self.replay_box.setChecked(settings.instant_replay)
        self.replay_box.setToolTip(
            self.tr(
                "Off by default. While on, the tray icon shows it. The frames stay in memory only, are "
                "paused while the screen is locked, and are sent only if you add them to a report."
            )
        )
        self.autostart_box = QCheckBox("Start ShowDesk when I log in")
        self.autostart_box.setObjectName("autostart")
        self.autostart_box.setChecked(autostart_enabled())
        self.hotkey_edit = QKeySequenceEdit(QKeySequence(settings.hotkey))
        self.hotkey_edit.setObjectName("hotkey")
        self.hotkey_edit.setMaximumSequenceLength(1)
        self.hotkey_edit.setClearButtonEnabled(True)
        self.hotkey_edit.setToolTip("Click, then press the keys; clear it for no shortcut.")
        self.hotkey_state = QLabel(status.text)
        self.hotkey_state.setObjectName("hotkey-state")
        self.hotkey_state.setWordWrap(True)
        self.hotkey_label = QLabel(hotkey_help())
        self.hotkey_label.setObjectName("hotkey-help")
        self.hotkey_label.setWordWrap(True)
        self.hotkey_label.setTextFormat(Qt.TextFormat.RichText)
        for wrapped in (self.hotkey_label, self.hotkey_state):
            # A wrapped label's preferred size is narrow and tall, and the form sizes its row by
            # that height: asking for most of the field's width keeps the rows as tall as the text.
            wrapped.setMinimumWidth(520)
        copy_button = QPushButton("Copy the command")
        copy_button.setObjectName("copy-hotkey-command")
        copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(HOTKEY_COMMAND))
        capture = QFormLayout()
        capture.addRow("Capture at first", self.mode_combo)
        capture.addRow("How to capture", self.backend_combo)
        capture.addRow(self.autostart_box)
        capture.addRow(self.replay_box)
        if status.available:
            shortcut = QWidget()  # the field and what it does now, stacked in one row
            shortcut_layout = QVBoxLayout(shortcut)
            shortcut_layout.setContentsMargins(0, 0, 0, 0)
            shortcut_layout.addWidget(self.hotkey_edit)
            shortcut_layout.addWidget(self.hotkey_state)
            capture.addRow("Keyboard shortcut", shortcut)
        else:
            # Where no program may take a key (Wayland, macOS), the desktop binds the command instead.
            self.hotkey_edit.setEnabled(False)
            self.hotkey_edit.hide()
            self.hotkey_state.setWordWrap(False)  # one short line, level with its label
            how = QWidget()
            how_layout = QVBoxLayout(how)
            how_layout.setContentsMargins(0, 0, 0, 0)
            how_layout.addWidget(self.hotkey_label)
            how_layout.addWidget(copy_button, 0, Qt.AlignmentFlag.AlignLeft)
            capture.addRow("Keyboard shortcut", self.hotkey_state)
            capture.addRow("", how)
        capture_box = QGroupBox("Capture")
        capture_box.setLayout(capture)

        self.problem_label = QLabel("")
        self.problem_label.setObjectName("settings-problem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #c62828")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (connection_box, sign_in_box, capture_box, self.problem_label, self.buttons):
            layout.addWidget(widget)
        self.setMinimumWidth(720)  # the height follows from the wrapped texts at this width when shown
        self._show_sign_in_state()

    # ------------------------------------------------------------ reading the form
    def edited(self) -> AgentSettings:
        return replace(
            self.settings,
            backend_url=self.url_edit.text().strip().rstrip("/"),
            proxy=self.proxy_edit.text().strip(),
            ca_bundle=self.ca_edit.text().strip(),
            capture_mode=CAPTURE_MODES[self.mode_combo.currentIndex()],
            capture_backend=self.backend_combo.currentData(),
            hotkey=self.hotkey_edit.keySequence().toString(QKeySequence.SequenceFormat.PortableText),
            instant_replay=self.replay_box.isChecked(),
        )

    def _backend(self) -> BackendConfig:
        edited = self.edited()
        return BackendConfig(
            name="default",
            type=self._backend_type,
            url=edited.backend_url,
            ca_bundle=edited.ca_bundle or None,
            proxy=edited.proxy or None,
        )

    # ------------------------------------------------------------ test connection
    def test_connection(self) -> None:
        edited = self.edited()
        problems = [p for p in edited.problems() if "address" in p or "CA bundle" in p]
        if problems:
            self.test_result.setText("; ".join(problems))
            return
        self.test_button.setEnabled(False)
        self.test_result.setText("Testing…")
        backend = self._backend()
        self._runner.run(lambda: check_backend(backend), self._tested, self._test_failed)

    def _tested(self, result: tuple[bool, str]) -> None:
        self.test_button.setEnabled(True)
        ok, text = result
        self.test_result.setText(("✔ " if ok else "✘ ") + text)
        self.test_result.setProperty("ok", ok)

    def _test_failed(self, exc: Exception) -> None:
        self.test_button.setEnabled(True)
        self.test_result.setText(f"✘ The test itself failed: {exc}")

    # ------------------------------------------------------------ signing in
    def _show_sign_in_state(self) -> None:
        url = self.url_edit.text().strip().rstrip("/")
        try:
            token = token_for(BackendConfig(name="default", type=self._backend_type, url=url)) if url else None
        except CredentialError:
            token = None
        self.sign_in_state.setText(
            f"Signed in to {url}." if token else "Not signed in: paste the enrolment link or code your help desk sent."
        )
        self.sign_out_button.setEnabled(bool(token))

    def sign_in(self) -> None:
        try:
            enrolment = parse_enrolment(self.enrolment_edit.text())
            where = store_token(enrolment.url, enrolment.token)
        except (SettingsError, CredentialError) as exc:
            self.problem_label.setText(str(exc))
            return
        log.info("stored the token for %s in %s", enrolment.url, where)
        self.enrolment_edit.clear()
        self.url_edit.setText(enrolment.url)
        self.problem_label.setText("")
        self._show_sign_in_state()
        self.signed_in.emit(enrolment.url)

    def sign_out(self) -> None:
        try:
            forget_token(self.url_edit.text().strip().rstrip("/"))
        except CredentialError as exc:
            self.problem_label.setText(str(exc))
        self._show_sign_in_state()

    # ------------------------------------------------------------ saving
    def _choose_ca_bundle(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "CA bundle", "", "Certificates (*.pem *.crt *.cer);;All (*)")
        if path:
            self.ca_edit.setText(path)

    def save(self) -> None:
        edited = self.edited()
        try:
            save_agent_settings(edited)
            if self.autostart_box.isChecked() != autostart_enabled():
                set_autostart(self.autostart_box.isChecked())
        except (SettingsError, OSError) as exc:
            self.problem_label.setText(f"Not saved: {exc}")
            return
        self.settings = edited
        self.saved.emit(edited)
        self.accept()

    def wait_idle(self) -> None:
        self._runner.wait_idle()


def check_backend(backend: BackendConfig, seconds: float = CHECK_SECONDS) -> tuple[bool, str]:
    """Reachability (the system information's own check), then whether the token is accepted.

    Both go through ``backend.proxy`` when it is set, the route the reports take.
    """
    from agent.connectors import make_connector

    reachable, text = explain_connectivity(check_reachability(backend, time.monotonic() + seconds))
    if not reachable:
        return False, f"{text} {PROXY_ADVICE}" if backend.proxy else text
    try:
        token = token_for(backend)
    except CredentialError as exc:
        return False, f"{text} But the token cannot be read: {exc}"
    if not token:
        return False, f"{text} But you are not signed in: paste the enrolment link or code from your help desk."
    try:
        with make_connector(backend) as connector:
            if Capability.READ not in connector.capabilities:
                return True, text
            connector.list_tickets(limit=1)
    except AuthError:
        return False, f"{text} But the help desk refused the sign-in: ask it for a new enrolment link."
    except ConnectorError as exc:
        return False, f"{text} But the help desk answered with an error: {exc.reason}"
    except ConfigError as exc:  # a connector that cannot even be made (an unknown backend type)
        return False, f"{text} But it cannot be used: {exc}"
    return True, f"{text} You are signed in."


def check_reachability(backend: BackendConfig, deadline: float) -> dict[str, object]:
    """``agent.sysinfo.check_connectivity`` for ``backend``, through its own proxy when it has one."""
    from agent.sysinfo import check_connectivity

    return check_connectivity(backend.url, deadline, backend.ca_bundle, proxy=backend.proxy or None)
