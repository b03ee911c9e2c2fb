"""The kiosk window: the seven screens on one stack, driven by ``KioskFlow``.

This is the composition root of the walk-up flow: it wires screens to the session, the
flow, the outbox submission, the idle watcher, "show me" and the admin exit. It holds
no rules of its own; those live in the flow, the session and the core.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import QEvent, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeyEvent, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import QApplication, QLayout, QStackedWidget, QVBoxLayout, QWidget

from agent.notify.notifier import Notifier
from agent.outbox import Outbox
from kiosk.admin import AdminPinOverlay, CornerTapFilter
from kiosk.flow import ORDER, KioskFlow, Stage
from kiosk.i18n import Translations
from kiosk.idle import IdleOverlay, IdleWatcher
from kiosk.image_source import ImageSource
from kiosk.keyboard import dock_keyboard
from kiosk.memory import SETTLE_DELAY_MS, keep_big_blocks_apart, release_free_memory
from kiosk.screens.clip_review import ClipReviewScreen
from kiosk.screens.done import DoneScreen
from kiosk.screens.review import EditorFactory, ReviewScreen
from kiosk.screens.send import SendScreen
from kiosk.screens.show import ShowScreen
from kiosk.screens.welcome import WelcomeScreen
from kiosk.screens.what import WhatScreen
from kiosk.screens.who import WhoScreen
from kiosk.session import KioskSession, Outcome, SessionError
from kiosk.settings import KioskSettings
from kiosk.showme import GrabFunction, ScreenGrabber, ShowMeController, clip_target_of
from kiosk.stats import KioskStats
from kiosk.steps import ThumbnailCache
from kiosk.submit import DEFAULT_PATIENCE_SECONDS, ConnectorFactory, Submission
from kiosk.theme import colours_for, style_sheet
from kiosk.widgets import KioskScreen, bring_to_front
from shared_qt.workers import BackgroundRunner

log = logging.getLogger(__name__)


@dataclass
class KioskServices:
    """What the window needs from outside; tests hand in their own (a loopback server, a test image)."""

    outbox: Outbox
    temp_root: Path
    backend_name: str = "default"
    queue_connector: ConnectorFactory | None = None
    sysinfo: Callable[[], dict[str, Any]] | None = None
    grab_factory: Callable[[], GrabFunction] | None = None
    image_source: ImageSource | None = None
    editor_factory: EditorFactory | None = None
    stats_path: Path | None = None
    patience_seconds: float = DEFAULT_PATIENCE_SECONDS
    # Tells the [[notify]] targets of delivered walk-ups; its thread is stopped by whoever quits the kiosk.
    notifier: Notifier | None = None


class KioskWindow(QWidget):
    """The walk-up kiosk. ``windowed`` is for development: a normal window that may be closed."""

    exit_requested = Signal()
    # The kiosk's theme is the application's style sheet (the capture bar is a window of its own).
    # The windows that set it, oldest first, and the sheet from before the first: whichever closes
    # last puts that back, in whatever order they close.
    _themed: ClassVar[list[KioskWindow]] = []
    _sheet_before_kiosk: ClassVar[str] = ""

    def __init__(
        self,
        settings: KioskSettings,
        services: KioskServices,
        translations: Translations | None = None,
        *,
        windowed: bool = True,
    ) -> None:
        self.windowed = windowed
        self.showme: ShowMeController | None = None
        self._shut_down = False
        self._sheet = ""
        super().__init__()
        self.setObjectName("KioskRoot")
        self.setWindowTitle("ShowDesk")
        self.settings = settings
        self.services = services
        self.translations = translations
        self.allow_close = windowed
        self.language = settings.language
        self.theme = settings.theme
        self.runner = BackgroundRunner(parent=self)
        self.session = KioskSession(services.temp_root, settings.language)
        self.flow = KioskFlow(self.session)
        self.thumbnails = ThumbnailCache(self.runner, self)
        self.stats = KioskStats(services.stats_path)
        # Memory after N visits stays flat whatever the visits did (kiosk.memory): big blocks are
        # returned when freed, and after each visit, once its widgets are gone, the rest.
        keep_big_blocks_apart()
        self._memory_settle = QTimer(self)
        self._memory_settle.setSingleShot(True)
        self._memory_settle.setInterval(SETTLE_DELAY_MS)
        self._memory_settle.timeout.connect(release_free_memory)
        self.submission = Submission(
            services.outbox,
            self.runner,
            backend_name=services.backend_name,
            queue_connector=services.queue_connector,
            patience_seconds=services.patience_seconds,
            parent=self,
        )

        self.stack = QStackedWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # The window's size is the screen's; content never sets a minimum size on it.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.addWidget(self.stack)
        self.keyboard = dock_keyboard(self, layout, self.stack)  # opens itself on a text field's focus
        self.welcome = WelcomeScreen(settings)
        self.who = WhoScreen(settings, self.session)
        self.what = WhatScreen(settings, self.session)
        self.show_screen = ShowScreen(settings, self.session, self.runner, self.thumbnails, services.image_source)
        self.review = ReviewScreen(self.session, self.runner, self.thumbnails, services.editor_factory)
        self.send = SendScreen(settings, self.session)
        self.done = DoneScreen(settings, self.session)
        self.screens: dict[Stage, KioskScreen] = {
            Stage.WELCOME: self.welcome,
            Stage.WHO: self.who,
            Stage.WHAT: self.what,
            Stage.SHOW: self.show_screen,
            Stage.REVIEW: self.review,
            Stage.SEND: self.send,
            Stage.DONE: self.done,
        }
        for number, stage in enumerate(ORDER):
            screen = self.screens[stage]
            screen.setObjectName(f"screen-{stage.value}")
            if stage not in (Stage.WELCOME, Stage.DONE):
                screen.set_stage_number(number, len(ORDER) - 2)
            screen.back_requested.connect(self._back)
            self.stack.addWidget(screen)
        # Not a stage of the flow: shown over "show me" after a recording's Stop.
        self.clip_review = ClipReviewScreen()
        self.clip_review.setObjectName("screen-clip-review")
        self.stack.addWidget(self.clip_review)

        self.idle = IdleWatcher(settings.idle_seconds, settings.countdown_seconds)
        self.idle_overlay = IdleOverlay(self)
        self.admin_overlay = AdminPinOverlay(self, settings.admin_pin_hash, self.runner, outbox=services.outbox)

        self.grabber: ScreenGrabber | None = None
        if services.grab_factory is not None and settings.allowed_apps:
            self.grabber = ScreenGrabber(services.grab_factory, self)
            self.showme = ShowMeController(
                self.grabber,
                self._screen_rect,
                self,
                language=lambda: self.language,
                clip_target=clip_target_of(services.grab_factory),
                clip_seconds=settings.clip_seconds,
                clip_room=lambda: self.session.clip_room,
            )
        # The Show hint names Record only where the capture bar can offer it; the screen itself
        # follows the session's clip room (a full report drops Record from the hint, as from the bar).
        self.show_screen.set_record_offered(self.showme is not None and self.showme.clip_target is not None)
        self._wire()
        self.apply_theme(self.theme)
        self.stack.setCurrentWidget(self.welcome)
        self.welcome.entered()

    # ------------------------------------------------------------ wiring
    def _wire(self) -> None:
        flow = self.flow
        self.welcome.start_requested.connect(self._start)
        self.welcome.language_requested.connect(self.set_language)
        self.welcome.contrast_requested.connect(self.toggle_contrast)
        self.who.checked_in.connect(self._advance)
        self.what.chosen.connect(self._advance)
        self.what.solved_by_article.connect(self._solved_by_article)
        self.show_screen.finished.connect(self._advance)
        self.show_screen.app_requested.connect(self._show_me)
        self.review.confirmed.connect(self._advance)
        self.send.send_requested.connect(lambda: self.submission.submit(self.session, self.settings))
        self.submission.progress.connect(self.send.set_progress)
        self.submission.finished.connect(self._submitted)
        self.submission.refused.connect(self.send.set_refused)
        self.done.finished.connect(lambda: flow.reset("done"))
        flow.on_stage(self._stage_changed)
        flow.on_reset(self._after_reset)
        self.idle.countdown_started.connect(self.idle_overlay.show_countdown)
        self.idle.countdown_tick.connect(self.idle_overlay.set_remaining)
        self.idle.countdown_cancelled.connect(self.idle_overlay.hide)
        self.idle.expired.connect(self._idle_expired)
        self.idle_overlay.still_here.connect(self.idle.poke)
        self.admin_overlay.unlocked.connect(self._admin_exit)
        self.corner_taps = CornerTapFilter(self)
        self.corner_taps.gesture.connect(self.admin_overlay.open_pad)
        shortcut = QShortcut(QKeySequence("Ctrl+Alt+Shift+Q"), self)
        shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        shortcut.activated.connect(self.admin_overlay.open_pad)
        if self.showme is not None:
            self.showme.handing_over.connect(self._hand_over)
            self.showme.taking_back.connect(self._take_back)
            self.showme.step_captured.connect(self._step_captured)
            self.showme.launch_failed.connect(lambda _reason: self.show_screen.app_failed())
            self.showme.watch_idle(self.idle)
            self.showme.clip_recorded.connect(self._review_clip)
        self.clip_review.kept.connect(self._clip_kept)
        self.clip_review.removed.connect(self._back_to_app)
        self.clip_review.record_again.connect(self._record_again)

    # ------------------------------------------------------------ flow
    def _start(self) -> None:
        if self.flow.stage is Stage.WELCOME:
            self._advance()

    def _advance(self) -> None:
        if self.flow.can_advance():
            self.flow.advance()

    def _back(self) -> None:
        try:
            self.flow.back()
        except RuntimeError as exc:
            log.debug("back refused: %s", exc)

    def _solved_by_article(self, category_id: str) -> None:
        self.stats.count_self_help(category_id)
        self.flow.reset("self-help")

    def _submitted(self, outcome: object) -> None:
        current = isinstance(outcome, Outcome) and outcome.report_id == self.session.report_id
        if current and isinstance(outcome, Outcome) and self.flow.stage is Stage.SEND:
            self.session.finish(outcome)
            self._advance()

    def _stage_changed(self, old: Stage, new: Stage) -> None:
        screen = self.screens[new]
        self.stack.setCurrentWidget(screen)
        screen.entered()
        if new is Stage.WELCOME:
            self.idle.disarm()
        else:
            self.idle.arm()
        if new is Stage.WHAT:
            # Ready by Review, collected while the person chooses and shows.
            self._collect_sysinfo()

    def _after_reset(self, reason: str) -> None:
        log.info("session wiped (%s)", reason)
        if self.showme is not None:
            self.showme.finish()
        self.submission.end_session()
        self.thumbnails.clear()
        self.clip_review.reset()
        for screen in self.screens.values():
            screen.reset()
        self.idle_overlay.hide()
        self.idle.disarm()
        # The next person starts in the site's language and look, not the previous one's.
        self.set_language(self.settings.language)
        self.apply_theme(self.settings.theme)
        self.welcome.entered()
        self._memory_settle.start()

    def _idle_expired(self) -> None:
        self.idle_overlay.hide()
        if self.flow.stage is not Stage.WELCOME:
            self.flow.reset("idle")

    def _collect_sysinfo(self) -> None:
        provider = self.services.sysinfo
        if provider is None or self.session.sysinfo is not None:
            return
        report_id = self.session.report_id

        def store(snapshot: object) -> None:
            # Only for the person who was here when it started.
            if isinstance(snapshot, dict) and report_id == self.session.report_id:
                self.session.set_sysinfo(snapshot)

        self.runner.run(provider, store, lambda exc: log.warning("system information failed: %s", exc))

    # ------------------------------------------------------------ show me
    def _show_me(self, app_id: str) -> None:
        if self.showme is None:
            return
        app = next((a for a in self.settings.allowed_apps if a.id == app_id), None)
        if app is not None:
            self.showme.start(app, len(self.session.steps), len(self.session.clips))

    def _step_captured(self, draft: object) -> None:
        from agent.bundle import StepDraft

        if isinstance(draft, StepDraft) and self.flow.stage is Stage.SHOW:
            self.session.add_step(draft)

    def _review_clip(self, recording: object) -> None:
        from agent.clips import Recording

        showme = self.showme
        if not isinstance(recording, Recording) or showme is None or not showme.active:
            return
        showme.step_aside()
        self.idle.set_handed_over(False)
        self.show_kiosk()
        self.stack.setCurrentWidget(self.clip_review)
        self.clip_review.load(recording)

    def _clip_kept(self, draft: object) -> None:
        from agent.bundle import ClipDraft

        if isinstance(draft, ClipDraft) and self.flow.stage is Stage.SHOW:
            try:
                self.session.add_clip(draft)
            except SessionError as exc:
                log.info("clip not kept: %s", exc)
        self._back_to_app()

    def _record_again(self) -> None:
        self._back_to_app()
        if self.showme is not None:
            self.showme.start_recording()

    def _back_to_app(self) -> None:
        self.stack.setCurrentWidget(self.screens[self.flow.stage])
        if self.showme is None or not self.showme.active:
            return
        self._hand_over()
        self.showme.come_back(len(self.session.clips))

    def _hand_over(self) -> None:
        self.idle.set_handed_over(True)
        if not self.windowed:
            # Stay-on-top would cover the app the person is about to use.
            self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, False)
        self.hide()

    def _take_back(self) -> None:
        self.idle.set_handed_over(False)
        self.show_kiosk()
        self.show_screen.refresh_steps()

    def _screen_rect(self) -> QRect:
        screens = QGuiApplication.screens()
        index = min(self.settings.screen, len(screens) - 1)
        return screens[index].geometry() if screens else QRect(0, 0, 1920, 1080)

    # ------------------------------------------------------------ look and language
    def set_language(self, language: str) -> None:
        if language not in self.settings.languages:
            return
        self.language = language
        self.session.choose_language(language)
        if self.translations is not None:
            self.translations.set_language(language)
        for screen in self.screens.values():
            setter = getattr(screen, "set_language", None)
            if callable(setter):
                setter(language)

    def toggle_contrast(self) -> None:
        self.apply_theme("default" if self.theme == "high-contrast" else "high-contrast")

    def apply_theme(self, theme: str) -> None:
        self.theme = theme
        self.welcome.set_contrast(theme == "high-contrast")
        sheet = style_sheet(colours_for(theme, self.settings.colours))
        app = QApplication.instance()
        if isinstance(app, QApplication):
            # Application-wide, so the capture bar (a window of its own) gets the look too.
            if not KioskWindow._themed:
                KioskWindow._sheet_before_kiosk = app.styleSheet()
            if self not in KioskWindow._themed:
                KioskWindow._themed.append(self)
            self._sheet = sheet
            app.setStyleSheet(sheet)
        else:
            self.setStyleSheet(sheet)

    # ------------------------------------------------------------ the window itself
    def show_kiosk(self) -> None:
        """Full screen, frameless, on top, on the configured screen (or a plain window when windowed)."""
        if self.windowed:
            self.resize(1920, 1080)
            self.show()
            return
        self.setWindowFlags(
            Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
        )
        self.winId()
        handle = self.windowHandle()
        screens = QGuiApplication.screens()
        if handle is not None and screens:
            screen = screens[min(self.settings.screen, len(screens) - 1)]
            handle.setScreen(screen)
            self.setGeometry(screen.geometry())
        self.showFullScreen()
        bring_to_front(self)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        # Keys nobody took: Escape is Back, Enter on the start screen starts.
        screen = self.screens[self.flow.stage]
        if event.key() == Qt.Key.Key_Escape and screen.back_button.isVisible() and screen.back_button.isEnabled():
            screen.go_back()
            return
        if self.flow.stage is Stage.WELCOME and event.key() not in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
            self._start()
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        for overlay in (self.idle_overlay, self.admin_overlay):
            if overlay.isVisible():
                overlay.setGeometry(self.rect())
        super().resizeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        # Alt+F4 and the window manager's close land here; only the admin exit passes.
        if not self.allow_close:
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        # A kiosk that is minimised or loses full screen puts itself back.
        if (
            not self.windowed
            and event.type() == QEvent.Type.WindowStateChange
            and self.isVisible()
            and not self.isFullScreen()
            and not (self.showme is not None and self.showme.active)
        ):
            self.showFullScreen()
        super().changeEvent(event)

    def _admin_exit(self) -> None:
        log.warning("kiosk closed by the administrator PIN")
        self.allow_close = True
        self.exit_requested.emit()
        self.close()

    def shutdown(self) -> None:
        """Stop what runs in the background; the current person's data is wiped. Safe to call twice."""
        if self._shut_down:
            return
        self._shut_down = True
        if self.showme is not None:
            self.showme.finish()
        self.idle.disarm()
        self.who.badge_reader.close()
        self.clip_review.reset()  # an encode under way is cancelled, the recording dropped
        self.session.wipe()
        self.submission.close()
        if self.grabber is not None:
            self.grabber.shutdown()
        self.runner.wait_idle()
        app = QApplication.instance()
        if isinstance(app, QApplication) and self in KioskWindow._themed:
            KioskWindow._themed.remove(self)
            remaining = KioskWindow._themed
            app.setStyleSheet(remaining[-1]._sheet if remaining else KioskWindow._sheet_before_kiosk)
