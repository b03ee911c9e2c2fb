"""The sign-in screen: what is wrong (no token, token refused, server unreachable) and what to do, with a retry."""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from technician.model import login_command

AUTO_RETRY_SECONDS: Final = 5


class SignInScreen(QWidget):
    """Shows the sign-in state; ``retry`` asks the window to try again."""

    retry = Signal()

    def __init__(self, server: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SignInScreen")
        self.server = server
        self.kind = "signing-in"
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        card = QFrame(self)
        card.setObjectName("SignInCard")
        card.setMaximumWidth(720)
        card.setStyleSheet(
            "#SignInCard { background: palette(base); border: 1px solid palette(mid); border-radius: 10px; }"
        )
        layout = QVBoxLayout(card)
        layout.setContentsMargins(32, 28, 32, 28)
        layout.setSpacing(12)
        title = QLabel("ShowDesk — technician mode")
        title.setStyleSheet("font-size: 18pt; font-weight: bold;")
        self.server_label = QLabel(server)
        self.server_label.setStyleSheet("color: palette(dark);")
        self.server_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.headline = QLabel()
        self.headline.setObjectName("SignInHeadline")
        self.headline.setWordWrap(True)
        self.headline.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.detail = QLabel()
        self.detail.setObjectName("SignInDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setTextFormat(Qt.TextFormat.RichText)
        self.detail.installEventFilter(self)
        self.countdown = QLabel()
        self.countdown.setStyleSheet("color: palette(dark);")
        self.retry_button = QPushButton("Try again")
        self.retry_button.setDefault(True)
        self.retry_button.setAutoDefault(True)
        self.retry_button.clicked.connect(self._retry_now)
        row = QHBoxLayout()
        row.addWidget(self.countdown, 1)
        row.addWidget(self.retry_button)
        for widget in (title, self.server_label, self.headline, self.detail):
            layout.addWidget(widget)
        layout.addLayout(row)
        centre = QHBoxLayout()
        centre.addStretch(1)
        centre.addWidget(card, 3)
        centre.addStretch(1)
        outer.addLayout(centre)
        outer.addStretch(2)
        self._remaining = 0
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._count_down)
        self.show_signing_in()

    def show_signing_in(self) -> None:
        self.kind = "signing-in"
        self._tick.stop()
        self.headline.setText("Signing in…")
        self.detail.setText("Checking the technician token with the server.")
        self.countdown.clear()
        self.retry_button.setEnabled(False)

    def show_problem(self, kind: str, message: str, *, signs_in_by_itself: bool = False) -> None:
        """``kind``: no-token, refused, unreachable or error (from ``session.sign_in_problem``).

        ``signs_in_by_itself``: the session watches the credentials and signs in once a new
        token is there (stored with the command shown, or handed over by a local server).
        """
        self.kind = kind
        self.retry_button.setEnabled(True)
        command = f"<code>{_escape(self.login_command())}</code>"
        then = (
            "technician mode signs in by itself as soon as there is a new one (or click Try again)"
            if signs_in_by_itself
            else "then try again"
        )
        if kind == "no-token":
            headline = "No technician token is stored for this server."
            detail = (
                f"Store one in the OS keyring with {command} in a terminal (the server's administrator makes "
                "technician tokens with <code>showdesk server token create --role technician</code>); "
                f"{then}.<br><br>A ShowDesk server on this machine hands its token over while it runs: "
                "if it is stopped, start it."
            )
        elif kind == "refused":
            headline = "The server refused the technician token."
            detail = f"{_escape(message)}<br><br>Store a valid technician token with {command}; {then}."
        elif kind == "unreachable":
            headline = "The server cannot be reached."
            detail = (
                f"{_escape(message)}<br><br>Check that the ShowDesk server is running and that "
                "<code>backend.url</code> in the configuration points to it. Trying again by itself."
            )
        else:
            headline = "Technician mode cannot start."
            detail = _escape(message)
        self.headline.setText(headline)
        self.detail.setText(detail)
        self._fit_detail()
        if kind == "unreachable":
            self._remaining = AUTO_RETRY_SECONDS
            self._show_countdown()
            self._tick.start()
        else:
            self._tick.stop()
            self.countdown.clear()
        self.retry_button.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.detail and event.type() == QEvent.Type.Resize:
            self._fit_detail()
        return super().eventFilter(watched, event)

    def _fit_detail(self) -> None:
        # A word-wrapped label inside the centred card is laid out at its one-line height (the
        # nested layouts do not ask it for its height at the card's width): the longer hints
        # were cut off. Its height at the width it has now is its minimum, again at each new
        # width (a new height does not change the width, so this settles at once).
        self.detail.setMinimumHeight(self.detail.heightForWidth(max(1, self.detail.width())))

    def login_command(self) -> str:
        """The command, as typed in a terminal, that stores a technician token for this server."""
        return login_command(self.server)

    def _show_countdown(self) -> None:
        self.countdown.setText(f"Trying again in {self._remaining} s")

    def _count_down(self) -> None:
        self._remaining -= 1
        if self._remaining <= 0:
            self._retry_now()
        else:
            self._show_countdown()

    def _retry_now(self) -> None:
        self._tick.stop()
        self.show_signing_in()
        self.retry.emit()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
