"""Send: a last look at what goes, then the upload with a progress bar."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import QFrame, QProgressBar, QVBoxLayout

from kiosk.session import KioskSession
from kiosk.settings import KioskSettings
from kiosk.widgets import KioskScreen, make_button, make_label, set_role, set_text

# The summary shows the start of a long description (all of it is sent), so the card fits the screen.
_DESCRIPTION_SHOWN_CHARS = 400


class SendScreen(KioskScreen):
    send_requested = Signal()

    def __init__(self, settings: KioskSettings, session: KioskSession) -> None:
        super().__init__()
        self.settings = settings
        self.session = session
        self.language = settings.language
        self.sending = False
        self.failed_reason = ""
        card = QFrame()
        set_role(card, "card")
        card_layout = QVBoxLayout(card)
        card_layout.setContentsMargins(48, 32, 48, 32)
        card_layout.setSpacing(16)
        self.summary_heading = make_label("title")
        card_layout.addWidget(self.summary_heading)
        self.who_label = make_label()
        self.who_label.setObjectName("summary-who")
        self.what_label = make_label()
        self.what_label.setObjectName("summary-what")
        self.description_label = make_label()
        self.description_label.setObjectName("summary-description")
        self.steps_label = make_label()
        # Shown only when clips go with the report: most reports have none, and "0 clips" is noise.
        self.clips_label = make_label()
        self.clips_label.setObjectName("summary-clips")
        self.sysinfo_label = make_label()
        summary = (
            self.who_label,
            self.what_label,
            self.description_label,
            self.steps_label,
            self.clips_label,
            self.sysinfo_label,
        )
        for label in summary:
            card_layout.addWidget(label)
        self.content_layout.addWidget(card)
        self.status_label = make_label("hint")
        self.status_label.setObjectName("send-status")
        self.content_layout.addWidget(self.status_label)
        self.progress = QProgressBar()
        self.progress.setObjectName("progress")
        self.progress.setRange(0, 0)
        self.progress.hide()
        self.content_layout.addWidget(self.progress)
        self.content_layout.addStretch(1)
        self.footer_layout.addStretch(1)
        self.send_button = make_button("primary", object_name="send-now")
        self.send_button.clicked.connect(self._send)
        self.footer_layout.addWidget(self.send_button)
        self.retranslate()

    def set_language(self, language: str) -> None:
        self.language = language
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        self.title_label.setText(self.tr("Send your request"))
        self.summary_heading.setText(self.tr("You are sending"))
        session = self.session
        if session.guest:
            who = self.tr("As a guest")
        elif session.badge_id:
            who = self.tr("With your badge")
        else:
            who = self.tr("As %1 (%2)").replace("%1", session.name).replace("%2", session.email)
        self.who_label.setText(who)
        category = self.settings.category(session.category_id)
        label = category.label.resolve(self.language, QCoreApplication.translate) if category else ""
        self.what_label.setText(self.tr("Problem: %1").replace("%1", label))
        description = " ".join(session.description.split())
        if len(description) > _DESCRIPTION_SHOWN_CHARS:
            description = description[: _DESCRIPTION_SHOWN_CHARS - 1].rstrip() + "…"
        self.description_label.setText(self.tr("In your words: “%1”").replace("%1", description))
        self.description_label.setVisible(bool(description))
        self.steps_label.setText(self.tr("%n picture(s) of the problem", "", len(session.steps)))
        self.clips_label.setText(self.tr("%n clip(s) of the screen", "", len(session.clips)))
        self.clips_label.setVisible(bool(session.clips))
        groups = 0 if session.sysinfo is None else len(set(session.sysinfo) - session.excluded_groups)
        self.sysinfo_label.setText(self.tr("%n group(s) of technical information", "", groups))
        set_text(self.send_button, self.tr("Send now"))
        if self.failed_reason:
            self.status_label.setText(self.tr("Your request could not be saved. Please ask at the desk."))
        elif self.sending:
            self.status_label.setText(self.tr("Sending… you can stay on this screen."))
        else:
            self.status_label.setText("")
        self.progress.setAccessibleName(self.tr("Upload progress"))

    def _send(self) -> None:
        if self.sending:
            return
        self.sending = True
        self.failed_reason = ""
        self.send_button.setEnabled(False)
        self.back_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.retranslate()
        self.send_requested.emit()

    def set_progress(self, sent: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(sent, total) / total))
        else:
            self.progress.setRange(0, 0)

    def set_refused(self, reason: str) -> None:
        """The report could not even be saved locally: say so, keep everything, allow another try."""
        self.sending = False
        self.failed_reason = reason or "?"
        self.send_button.setEnabled(True)
        self.back_button.setEnabled(True)
        self.progress.hide()
        self.retranslate()

    def reset(self) -> None:
        self.sending = False
        self.failed_reason = ""
        self.send_button.setEnabled(True)
        self.back_button.setEnabled(True)
        self.progress.hide()

    def entered(self) -> None:
        self.reset()
        super().entered()
        self.send_button.setFocus(Qt.FocusReason.OtherFocusReason)
