"""Who: name and e-mail, a badge scan, or "continue as guest" where the site allows it.

Nobody is looked up: the kiosk has no directory, so a badge number travels as it was read.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLineEdit, QVBoxLayout

from kiosk.accessibility import announce, set_field_error
from kiosk.badge import BadgeReader
from kiosk.session import KioskSession, SessionError
from kiosk.settings import KioskSettings
from kiosk.widgets import KioskScreen, make_button, make_label, set_role, set_text


class WhoScreen(KioskScreen):
    checked_in = Signal()

    def __init__(self, settings: KioskSettings, session: KioskSession) -> None:
        super().__init__()
        self.settings = settings
        self.session = session
        # Scans come from the reader's own device only: whatever is typed (by a person, the
        # on-screen keyboard, dictation) stays text, however fast it arrives.
        self.badge_reader = BadgeReader(settings.badge_reader, settings.badge_min_length, parent=self)
        self.badge_reader.scanned.connect(self._badge_scanned)

        row = QHBoxLayout()
        row.setSpacing(48)
        form_card = QFrame()
        set_role(form_card, "card")
        form = QGridLayout(form_card)
        form.setContentsMargins(40, 32, 40, 32)
        form.setHorizontalSpacing(24)
        form.setVerticalSpacing(16)
        self.form_heading = make_label("title")
        form.addWidget(self.form_heading, 0, 0, 1, 2)
        self.name_label = make_label(wrap=False)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("name")
        self.name_edit.setMaxLength(200)
        self.name_label.setBuddy(self.name_edit)
        form.addWidget(self.name_label, 1, 0)
        form.addWidget(self.name_edit, 1, 1)
        self.email_label = make_label(wrap=False)
        self.email_edit = QLineEdit()
        self.email_edit.setObjectName("email")
        self.email_edit.setMaxLength(254)
        self.email_edit.setInputMethodHints(Qt.InputMethodHint.ImhEmailCharactersOnly)
        self.email_label.setBuddy(self.email_edit)
        form.addWidget(self.email_label, 2, 0)
        form.addWidget(self.email_edit, 2, 1)
        self.error_label = make_label("error")
        self.error_label.setObjectName("who-error")
        form.addWidget(self.error_label, 3, 0, 1, 2)
        form.setColumnStretch(1, 1)
        self.name_edit.returnPressed.connect(self.email_edit.setFocus)
        self.email_edit.returnPressed.connect(self.submit_form)
        self.name_edit.textEdited.connect(self._clear_error)
        self.email_edit.textEdited.connect(self._clear_error)
        row.addWidget(form_card, 3)

        side = QVBoxLayout()
        side.setSpacing(24)
        badge_card = QFrame()
        set_role(badge_card, "card")
        badge_layout = QVBoxLayout(badge_card)
        badge_layout.setContentsMargins(40, 32, 40, 32)
        self.badge_heading = make_label("title")
        self.badge_hint = make_label("hint")
        badge_layout.addWidget(self.badge_heading)
        badge_layout.addWidget(self.badge_hint)
        badge_layout.addStretch(1)
        side.addWidget(badge_card, 1)
        # No reader, no offer to scan: a card held to nothing would leave the person waiting.
        badge_card.setVisible(bool(settings.badge_reader))
        self.badge_card = badge_card
        self.guest_button = make_button(object_name="guest")
        self.guest_button.clicked.connect(self.continue_as_guest)
        if not settings.guest_allowed:
            self.guest_button.hide()
        side.addWidget(self.guest_button)
        row.addLayout(side, 2)
        # As tall as their content, at the top: the lower half stays free for an on-screen keyboard.
        self.content_layout.addLayout(row)
        self.content_layout.addStretch(1)

        self.footer_layout.addStretch(1)
        self.continue_button = make_button("primary", object_name="continue")
        self.continue_button.clicked.connect(self.submit_form)
        self.footer_layout.addWidget(self.continue_button)
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        self.title_label.setText(self.tr("Who are you?"))
        self.form_heading.setText(self.tr("Your name and e-mail"))
        self.name_label.setText(self.tr("Name"))
        self.name_edit.setAccessibleName(self.tr("Name"))
        self.name_edit.setPlaceholderText(self.tr("First and last name"))
        self.email_label.setText(self.tr("E-mail"))
        self.email_edit.setAccessibleName(self.tr("E-mail"))
        self.email_edit.setPlaceholderText(self.tr("name@example.org"))
        self.badge_heading.setText(self.tr("Or scan your badge"))
        self.badge_hint.setText(self.tr("Hold your badge to the reader. We only keep its number with your request."))
        set_text(self.guest_button, self.tr("Continue as guest"))
        set_text(self.continue_button, self.tr("Continue ›"), self.tr("Continue"))
        self._show_error(getattr(self, "_error_field", ""), say_it=False)

    def reset(self) -> None:
        self.name_edit.clear()
        self.email_edit.clear()
        self._clear_error()

    def entered(self) -> None:
        super().entered()
        self.name_edit.setFocus(Qt.FocusReason.OtherFocusReason)

    # ------------------------------------------------------------ actions
    def submit_form(self) -> None:
        try:
            self.session.identify(self.name_edit.text(), self.email_edit.text())
        except SessionError as exc:
            self._show_error(exc.field)
            return
        self.checked_in.emit()

    def continue_as_guest(self) -> None:
        if not self.settings.guest_allowed:
            return
        self.session.identify_guest()
        self.checked_in.emit()

    def _badge_scanned(self, badge: str) -> None:
        if not self.isVisible():
            return  # a card held to the reader on another screen: read and dropped, never typed anywhere
        try:
            self.session.identify_badge(badge)
        except SessionError as exc:
            self._show_error(exc.field)
            return
        self.checked_in.emit()

    def _show_error(self, field: str, *, say_it: bool = True) -> None:
        """Show the error for ``field`` ("" clears it): beside the form, and as the field's own
        accessible description, announced when ``say_it`` (a new attempt, not a language change)."""
        self._error_field = field
        messages = {
            "name": self.tr("Please enter your name."),
            "email": self.tr("Please check your e-mail address, e.g. name@example.org."),
            "badge": self.tr("The badge could not be read. Please try again or type your name."),
        }
        text = messages.get(field, "")
        self.error_label.setText(text)
        self.error_label.setAccessibleName(text)
        for edit, name in ((self.name_edit, "name"), (self.email_edit, "email")):
            set_field_error(edit, text if field == name else "", say_it=say_it)
            edit.setProperty("invalid", "true" if field == name else "false")
            edit.style().unpolish(edit)
            edit.style().polish(edit)
        if field == "badge" and say_it:
            announce(self.error_label, text)  # no field of its own: said on behalf of the message
        if field == "name":
            self.name_edit.setFocus()
        elif field == "email":
            self.email_edit.setFocus()

    def _clear_error(self) -> None:
        self._show_error("")
