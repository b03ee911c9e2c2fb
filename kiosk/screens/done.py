"""Done: the ticket number in large type, a QR code to follow it, the place in the queue; then back to Welcome."""

from __future__ import annotations

import math

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QVBoxLayout

from kiosk.session import KioskSession, Outcome
from kiosk.settings import KioskSettings
from kiosk.widgets import KioskScreen, QrLabel, fill, make_button, make_label, set_role, set_text


class DoneScreen(KioskScreen):
    finished = Signal()

    def __init__(self, settings: KioskSettings, session: KioskSession) -> None:
        super().__init__()
        self.settings = settings
        self.session = session
        self.language = settings.language
        self.remaining = 0
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        self._deadline = QTimer(self)
        self._deadline.setSingleShot(True)
        self._deadline.timeout.connect(self._time_up)

        row = QHBoxLayout()
        row.setSpacing(64)
        # The card is as tall as what it says; the space below stays free instead of inside it.
        row.setAlignment(Qt.AlignmentFlag.AlignTop)
        card = QFrame()
        set_role(card, "card")
        card_layout = QVBoxLayout(card)
        card_layout.setContentsMargins(56, 32, 56, 36)
        card_layout.setSpacing(8)
        self.headline = make_label("title")
        card_layout.addWidget(self.headline)
        self.number_caption = make_label("hint")
        card_layout.addWidget(self.number_caption)
        self.number_label = make_label("number", wrap=False)
        self.number_label.setObjectName("ticket-number")
        self.number_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        card_layout.addWidget(self.number_label)
        self.queue_label = make_label("title")
        self.queue_label.setObjectName("queue-place")
        card_layout.addWidget(self.queue_label)
        self.wait_label = make_label()
        self.wait_label.setObjectName("queue-wait")
        card_layout.addWidget(self.wait_label)
        self.message_label = make_label("hint")
        card_layout.addWidget(self.message_label)
        row.addWidget(card, 3, Qt.AlignmentFlag.AlignTop)
        qr_column = QVBoxLayout()
        self.qr = QrLabel(320)
        self.qr.setObjectName("ticket-qr")
        qr_column.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        self.qr_hint = make_label("hint")
        self.qr_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        qr_column.addWidget(self.qr_hint, 0, Qt.AlignmentFlag.AlignTop)
        qr_column.setSpacing(12)
        qr_column.setAlignment(Qt.AlignmentFlag.AlignTop)  # the caption right under its code
        row.addLayout(qr_column, 2)
        self.content_layout.addLayout(row)
        self.content_layout.addStretch(1)
        # Beside Finish: what happens if the person just walks away.
        self.countdown_label = make_label("hint", wrap=False)
        self.countdown_label.setObjectName("done-countdown")
        self.footer_layout.addWidget(self.countdown_label)
        self.footer_layout.addStretch(1)
        self.finish_button = make_button("primary", object_name="finish")
        self.finish_button.clicked.connect(self.finished)
        self.footer_layout.addWidget(self.finish_button)
        self.retranslate()

    def set_language(self, language: str) -> None:
        self.language = language
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        set_text(self.back_button, self.tr("‹ Start over"), self.tr("Start over"))
        outcome = self.session.outcome
        self.title_label.setText(self.tr("Thank you"))
        set_text(self.finish_button, self.tr("Finish"))
        self.qr_hint.setText(self.tr("Scan to follow your request on your phone."))
        self._show_outcome(outcome)
        self._update_countdown()

    def _show_outcome(self, outcome: Outcome | None) -> None:
        if outcome is None:
            for label in (self.number_label, self.queue_label, self.wait_label, self.message_label, self.headline):
                label.clear()
            self.qr.hide()
            self.qr_hint.hide()
            return
        if outcome.ticket is not None:
            ticket = outcome.ticket
            self.headline.setText(self.tr("We have your request."))
            self.number_caption.setText(self.tr("Your ticket number"))
            self.number_label.setText(ticket.number)
            self.number_label.setAccessibleName(self.tr("Ticket number %1").replace("%1", ticket.number))
            if outcome.queue_position is not None:
                self.queue_label.setText(fill(self.tr("You are number %1 in the queue."), outcome.queue_position))
            else:
                self.queue_label.setText("")
            self.wait_label.setText(self._wait_text(outcome.estimated_wait_seconds))
            self.message_label.setText(
                self.settings.done_message.resolve(self.language, QCoreApplication.translate)
                or self.tr("Please take a seat. We will call your number.")
            )
            if ticket.url:
                self.qr.set_data(ticket.url, self.tr("QR code to follow ticket %1").replace("%1", ticket.number))
            self.qr.setVisible(bool(ticket.url))
            self.qr_hint.setVisible(bool(ticket.url))
        else:
            self.headline.setText(self.tr("Saved on this kiosk. It will be sent automatically."))
            self.number_caption.setText(self.tr("Your receipt code"))
            self.number_label.setText(outcome.receipt_code)
            self.number_label.setAccessibleName(self.tr("Receipt code %1").replace("%1", outcome.receipt_code))
            self.queue_label.setText("")
            self.wait_label.setText("")
            self.message_label.setText(
                self.tr("The help desk cannot be reached right now. Please mention this code at the desk.")
            )
            self.qr.hide()
            self.qr_hint.hide()

    def _wait_text(self, seconds: float | None) -> str:
        if seconds is None:
            return ""
        minutes = max(1, math.ceil(seconds / 60))
        if seconds < 60:
            return self.tr("Estimated wait: less than a minute.")
        return self.tr("Estimated wait: about %n minute(s).", "", minutes)

    # ------------------------------------------------------------ countdown
    def entered(self) -> None:
        super().entered()
        self.remaining = max(1, math.ceil(self.settings.done_seconds))
        self._deadline.start(int(self.settings.done_seconds * 1000))
        self._timer.start()
        self._update_countdown()
        self.finish_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def _tick(self) -> None:
        self.remaining = max(0, self.remaining - 1)
        self._update_countdown()

    def _update_countdown(self) -> None:
        self.countdown_label.setText(self.tr("Back to the start in %n second(s).", "", self.remaining))

    def _time_up(self) -> None:
        self._timer.stop()
        if self.isVisible():
            self.finished.emit()

    def reset(self) -> None:
        self._timer.stop()
        self._deadline.stop()
        self._show_outcome(None)

    def go_back(self) -> None:
        self.reset()
        self.finished.emit()
