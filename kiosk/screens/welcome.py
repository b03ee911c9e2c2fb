"""Welcome: the attract screen. Touch anywhere or press a key to start; choose a language."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QAccessible, QKeyEvent, QMouseEvent, QPixmap
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QPushButton

from kiosk.accessibility import set_accessible_role
from kiosk.admin import in_admin_corner
from kiosk.i18n import LANGUAGE_NAMES
from kiosk.settings import KioskSettings
from kiosk.widgets import KioskScreen, make_button, make_label, set_role, set_text

# Keys that move focus or press the focused button; every other key starts.
_NAVIGATION_KEYS = frozenset({Qt.Key.Key_Tab, Qt.Key.Key_Backtab, Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Space})


class WelcomeScreen(KioskScreen):
    start_requested = Signal()
    language_requested = Signal(str)
    contrast_requested = Signal()

    def __init__(self, settings: KioskSettings) -> None:
        super().__init__(with_back=False)
        self.settings = settings
        self.language = settings.language
        self.bar.hide()
        layout = self.content_layout
        layout.setContentsMargins(120, 80, 120, 64)
        layout.addStretch(1)
        self.logo = QLabel()
        self.logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if settings.logo is not None:
            pixmap = QPixmap(str(settings.logo))
            if not pixmap.isNull():
                self.logo.setPixmap(
                    pixmap.scaled(
                        480, 200, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                    )
                )
        self.logo.setVisible(self.logo.pixmap() is not None and not self.logo.pixmap().isNull())
        layout.addWidget(self.logo)
        self.site_label = make_label("stage")
        self.site_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.site_label.setVisible(bool(settings.site))
        layout.addWidget(self.site_label)
        self.headline = make_label("hero")
        self.headline.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.headline)
        self.message = make_label("title")
        set_role(self.message, "hint")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.message)
        layout.addSpacing(48)
        start_row = QHBoxLayout()
        start_row.addStretch(1)
        self.start_button = make_button("hero", object_name="start")
        self.start_button.clicked.connect(self.start_requested)
        start_row.addWidget(self.start_button)
        start_row.addStretch(1)
        layout.addLayout(start_row)
        layout.addStretch(2)

        self.footer_layout.addStretch(1)
        self.language_buttons: dict[str, QPushButton] = {}
        # One choice of several: exclusive, and said as radio buttons (checked or not), not as
        # independent toggles.
        self.language_group = QButtonGroup(self)
        self.language_group.setExclusive(True)
        for code in settings.languages:
            button = make_button(object_name=f"language-{code}")
            button.setCheckable(True)
            set_accessible_role(button, QAccessible.Role.RadioButton)
            self.language_group.addButton(button)
            button.clicked.connect(lambda _checked=False, c=code: self.language_requested.emit(c))
            self.footer_layout.addWidget(button)
            self.language_buttons[code] = button
        self.footer_layout.addSpacing(48)
        self.contrast_button = make_button(object_name="contrast")
        # A toggle: assistive technology reads "on" or "off" (the window keeps it in step with the look).
        self.contrast_button.setCheckable(True)
        self.contrast_button.clicked.connect(self.contrast_requested)
        self.footer_layout.addWidget(self.contrast_button)
        self.footer_layout.addStretch(1)
        self.retranslate()

    def set_contrast(self, on: bool) -> None:
        """Show (and expose) whether high contrast is on."""
        self.contrast_button.setChecked(on)

    def set_language(self, language: str) -> None:
        self.language = language
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        translate = QCoreApplication.translate
        self.site_label.setText(self.settings.site)
        self.headline.setText(self.settings.welcome_title.resolve(self.language, translate))
        self.message.setText(self.settings.welcome_message.resolve(self.language, translate))
        set_text(self.start_button, self.tr("Touch to start"), self.tr("Start"))
        for code, button in self.language_buttons.items():
            button.setText(LANGUAGE_NAMES[code])
            button.setAccessibleName(self.tr("Language: %1").replace("%1", LANGUAGE_NAMES[code]))
            button.setChecked(code == self.language)
        set_text(self.contrast_button, self.tr("High contrast"))

    def entered(self) -> None:
        super().entered()
        self.start_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        # A touch on the background starts; touches on the buttons never reach here. Touches in
        # the administrator's corner are the exit gesture, never a visit.
        event.accept()
        if in_admin_corner(self.window().mapFromGlobal(event.globalPosition().toPoint())):
            return
        self.start_requested.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if self.press_focused_button(event):
            return
        if event.key() in _NAVIGATION_KEYS or event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        ):
            super().keyPressEvent(event)
            return
        self.start_requested.emit()
        event.accept()
