"""Show: the point of the product. Reproduce the problem on this kiosk and capture each step, or take a photo.

"Show me" hands over to ``ShowMeController`` (the allowed app under a floating capture
bar); the photo panel uses an ``ImageSource``. Steps can be skipped. Where the capture bar
offers Record (the kiosk can record its screen and the report has room for a clip), the
kiosk card's hint says so; the window tells the screen with ``set_record_offered``.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QMargins, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from agent.bundle import StepDraft
from kiosk.accessibility import announce
from kiosk.image_source import ImageSource
from kiosk.session import KioskSession, SessionError
from kiosk.settings import KioskSettings
from kiosk.steps import ThumbnailCache, photo_step, picture
from kiosk.widgets import KioskScreen, make_button, make_label, set_role, set_text
from shared_qt.workers import BackgroundRunner

_STRIP_THUMBNAILS = 6


class ShowScreen(KioskScreen):
    app_requested = Signal(str)  # allowed app id
    finished = Signal()

    def __init__(
        self,
        settings: KioskSettings,
        session: KioskSession,
        runner: BackgroundRunner,
        thumbnails: ThumbnailCache,
        image_source: ImageSource | None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.session = session
        self.runner = runner
        self.thumbnails = thumbnails
        self.image_source = image_source
        self.language = settings.language
        # Whether "show me" can record this kiosk's screen; the window knows (the grabber decides).
        self._record_offered = False
        self.pages = QStackedWidget()
        self.content_layout.addWidget(self.pages, 1)

        # ---- the choice page
        choice = QWidget()
        choice_layout = QVBoxLayout(choice)
        choice_layout.setContentsMargins(0, 0, 0, 0)
        choice_layout.setSpacing(24)
        self.intro = make_label("hint")
        choice_layout.addWidget(self.intro)
        self.notice = make_label("error")
        self.notice.setObjectName("show-notice")
        choice_layout.addWidget(self.notice)
        self.notice.hide()
        cards = QHBoxLayout()
        cards.setSpacing(48)
        self.kiosk_card = QFrame()
        set_role(self.kiosk_card, "card")
        kiosk_layout = QVBoxLayout(self.kiosk_card)
        kiosk_layout.setContentsMargins(32, 24, 32, 24)
        kiosk_layout.setSpacing(16)
        self.kiosk_heading = make_label("title")
        self.kiosk_hint = make_label("hint")
        kiosk_layout.addWidget(self.kiosk_heading)
        kiosk_layout.addWidget(self.kiosk_hint)
        self.app_buttons: dict[str, QPushButton] = {}
        for app in settings.allowed_apps:
            button = make_button("tile", object_name=f"app-{app.id}")
            button.clicked.connect(lambda _checked=False, a=app.id: self.app_requested.emit(a))
            kiosk_layout.addWidget(button)
            self.app_buttons[app.id] = button
        kiosk_layout.addStretch(1)
        if not settings.allowed_apps:
            self.kiosk_card.hide()
        cards.addWidget(self.kiosk_card, 1)

        self.photo_card = QFrame()
        set_role(self.photo_card, "card")
        photo_layout = QVBoxLayout(self.photo_card)
        photo_layout.setContentsMargins(32, 24, 32, 24)
        photo_layout.setSpacing(16)
        self.photo_heading = make_label("title")
        self.photo_hint = make_label("hint")
        photo_layout.addWidget(self.photo_heading)
        photo_layout.addWidget(self.photo_hint)
        self.photo_button = make_button("tile", object_name="photo")
        self.photo_button.clicked.connect(self.open_photo)
        photo_layout.addWidget(self.photo_button)
        photo_layout.addStretch(1)
        cards.addWidget(self.photo_card, 1)
        choice_layout.addLayout(cards)

        self.steps_heading = make_label()
        choice_layout.addWidget(self.steps_heading)
        strip = QHBoxLayout()
        strip.setSpacing(16)
        self.strip_labels: list[QLabel] = []
        for _ in range(_STRIP_THUMBNAILS):
            label = QLabel()
            label.setFixedSize(240, 150)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            # A framed tile of one size: a tall photo and a wide screenshot read as equals.
            set_role(label, "thumb")
            strip.addWidget(label)
            self.strip_labels.append(label)
        strip.addStretch(1)
        choice_layout.addLayout(strip)
        choice_layout.addStretch(1)
        self.pages.addWidget(choice)

        # ---- the photo page
        photo_page = QWidget()
        photo_page_layout = QVBoxLayout(photo_page)
        photo_page_layout.setContentsMargins(0, 0, 0, 0)
        self.photo_status = make_label("hint")
        photo_page_layout.addWidget(self.photo_status)
        self.preview_holder = QVBoxLayout()
        photo_page_layout.addLayout(self.preview_holder, 1)
        self.pages.addWidget(photo_page)
        self._preview: QWidget | None = None
        self._photo_available: bool | None = None

        self.footer_layout.addStretch(1)
        self.take_photo_button = make_button("primary", object_name="take-photo")
        self.take_photo_button.clicked.connect(self.take_photo)
        self.take_photo_button.hide()
        self.footer_layout.addWidget(self.take_photo_button)
        self.continue_button = make_button("primary", object_name="continue")
        self.continue_button.clicked.connect(self.finished)
        self.footer_layout.addWidget(self.continue_button)

        thumbnails.ready.connect(lambda _step_id: self.refresh_steps())
        session.on_change(self._session_changed)
        if image_source is not None:
            image_source.captured.connect(self._photo_captured)
            image_source.failed.connect(self._photo_failed)
        self.retranslate()

    # ------------------------------------------------------------ texts
    def set_language(self, language: str) -> None:
        self.language = language
        self.retranslate()

    def retranslate(self) -> None:
        super().retranslate()
        translate = QCoreApplication.translate
        self.title_label.setText(self.tr("Show us the problem"))
        self.intro.setText(
            self.tr(
                "A picture says more than a paragraph. Capture each step, or skip this if there is nothing to show."
            )
        )
        self.kiosk_heading.setText(self.tr("Show me on this kiosk"))
        self._retranslate_kiosk_hint()
        for app in self.settings.allowed_apps:
            label = app.label.resolve(self.language, translate)
            set_text(self.app_buttons[app.id], self.tr("Open %1").replace("%1", label))
        self.photo_heading.setText(self.tr("Take a photo"))
        self.photo_hint.setText(self.tr("An error on your phone or a broken screen? Hold it up to the camera."))
        set_text(self.photo_button, self.tr("Use the camera"))
        set_text(self.take_photo_button, self.tr("Take photo"))
        if self._photo_available is False:
            self.photo_hint.setText(self.tr("This kiosk has no camera."))
        self.refresh_steps()

    def set_record_offered(self, offered: bool) -> None:
        """Say whether the capture bar offers Record on this kiosk, so the hint mentions it only then."""
        self._record_offered = offered
        self._retranslate_kiosk_hint()

    @property
    def record_offered(self) -> bool:
        """Record is on the capture bar now: this kiosk records, and the report has room for a clip."""
        return self._record_offered and self.session.clip_room

    def _retranslate_kiosk_hint(self) -> None:
        with_record = self.tr(
            "Open an app, do what goes wrong and tap Capture at each step, or Record to film it. Tap Done to come back."
        )
        without_record = self.tr("Open an app, do what goes wrong and tap Capture at each step. Tap Done to come back.")
        self.kiosk_hint.setText(with_record if self.record_offered else without_record)

    def _update_photo_availability(self) -> None:
        # Asked when the screen is first shown, not at start-up: looking for a camera loads
        # the multimedia stack, which the Welcome screen does not need.
        if self._photo_available is None:
            self._photo_available = self.image_source is not None and self.image_source.available()
        # No camera: the card says so, and offers no button that cannot work.
        self.photo_button.setVisible(self._photo_available)
        self.photo_button.setEnabled(self._photo_available)

    def app_failed(self) -> None:
        """An allowed app could not be started: say so; the photo and Skip still work."""
        self.notice.setText(self.tr("That app could not be opened. Please take a photo or tell us at the desk."))
        self.notice.show()
        announce(self.notice, self.notice.text())

    # ------------------------------------------------------------ steps
    def _session_changed(self) -> None:
        # A fifth clip fills the report: the bar stops offering Record, and the hint stops saying it.
        self._retranslate_kiosk_hint()
        if self.isVisible():
            self.refresh_steps()

    def refresh_steps(self) -> None:
        count = len(self.session.steps)
        if count == 0:
            self.steps_heading.setText(self.tr("No steps yet."))
        else:
            self.steps_heading.setText(self.tr("Your steps so far: %n", "", count))
        recent = self.session.steps[-_STRIP_THUMBNAILS:]
        for index, label in enumerate(self.strip_labels):
            if index < len(recent):
                step = recent[index]
                image = self.thumbnails.get(step.id, picture(step))
                pixmap = QPixmap.fromImage(image) if image is not None else QPixmap()
                if not pixmap.isNull():
                    inner = label.size().shrunkBy(QMargins(6, 6, 6, 6))  # inside the tile's frame
                    pixmap = pixmap.scaled(
                        inner, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                    )
                label.setPixmap(pixmap)
                number = self.session.steps.index(step) + 1
                label.setAccessibleName(self.tr("Step %1").replace("%1", str(number)))
                label.show()
            else:
                label.clear()
                label.hide()
        if count:
            set_text(self.continue_button, self.tr("Continue ›"), self.tr("Continue"))
        else:
            set_text(self.continue_button, self.tr("Skip ›"), self.tr("Skip this step"))

    # ------------------------------------------------------------ photo
    def open_photo(self) -> None:
        source = self.image_source
        if source is None or not source.available():
            return
        source.start()
        self._preview = source.preview()
        self.preview_holder.addWidget(self._preview, 1)
        self._preview.show()
        self.photo_status.setText(self.tr("Hold it steady, then tap Take photo."))
        self.pages.setCurrentIndex(1)
        self.continue_button.hide()
        self.take_photo_button.show()
        self.take_photo_button.setEnabled(True)
        self.take_photo_button.setFocus()

    def take_photo(self) -> None:
        if self.image_source is not None:
            self.take_photo_button.setEnabled(False)
            self.photo_status.setText(self.tr("Taking the photo…"))
            self.image_source.capture()

    def _photo_captured(self, image: QImage) -> None:
        self.photo_status.setText(self.tr("Saving the photo…"))
        self.runner.run(lambda: photo_step(image), self._photo_ready, lambda _exc: self._photo_failed(""))

    def _photo_ready(self, draft: object) -> None:
        if not isinstance(draft, StepDraft):
            return
        try:
            self.session.add_step(draft)
        except SessionError:
            self._photo_failed("")
            return
        self.close_photo()

    def _photo_failed(self, _reason: str) -> None:
        self.photo_status.setText(self.tr("The photo did not work. Please try again."))
        self.take_photo_button.setEnabled(True)

    def close_photo(self) -> None:
        if self.pages.currentIndex() != 1:
            return
        if self.image_source is not None:
            self.image_source.stop()
        if self._preview is not None:
            self.preview_holder.removeWidget(self._preview)
            self._preview.hide()
            self._preview = None
        self.pages.setCurrentIndex(0)
        self.take_photo_button.hide()
        self.continue_button.show()
        self.refresh_steps()
        self.continue_button.setFocus()

    # ------------------------------------------------------------ flow
    def go_back(self) -> None:
        if self.pages.currentIndex() == 1:
            self.close_photo()
        else:
            super().go_back()

    def reset(self) -> None:
        self.close_photo()
        self.notice.hide()
        self.refresh_steps()

    def entered(self) -> None:
        self._update_photo_availability()
        super().entered()
        first = next(iter(self.app_buttons.values()), None)
        (first if first is not None and first.isEnabled() else self.continue_button).setFocus()
