"""The resident agent: tray, capture, report windows, the outbox's sender, and the commands of later launches.

:class:`AgentApp` wires the parts together and holds no business logic itself: capture is the
``CaptureService``, reports are frozen and queued by ``Submission`` through the core's outbox,
whose ``Sender`` thread delivers them; this object decides which window shows what, and when.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QWidget

from agent import encoding
from agent.capture import Capturer, Rect
from agent.clips.screen_lock import ScreenLockWatcher, default_watcher
from agent.connectors.base import Connector
from agent.laptop.capture_service import Captured, CaptureService, Mode, choose_backend, qimage_of
from agent.laptop.click_hook import X11ClickListener, click_listener_problem
from agent.laptop.clip_recording import ClipRecordingSession, screen_under_cursor_rect
from agent.laptop.hotkey import GlobalHotkey, HotkeyError
from agent.laptop.portal import PortalScreenshot
from agent.laptop.queue_windows import OutboxWindow, RepliesBridge, RequestsWindow
from agent.laptop.region_overlay import RegionSelector
from agent.laptop.replay_badge import ReplayBadge
from agent.laptop.replay_control import MB, InstantReplay, ReplayOptions
from agent.laptop.replies import ReplyPoller, default_seen_file
from agent.laptop.report_draft import default_contact
from agent.laptop.report_window import ReportWindow, SysinfoCollector
from agent.laptop.screens import bring_forward, native_geometry
from agent.laptop.settings_dialog import SettingsDialog
from agent.laptop.settings_store import (
    AgentSettings,
    SettingsError,
    load_agent_settings,
    load_remembered_contact,
    migrate_agent_proxy,
    remember_contact,
)
from agent.laptop.single_instance import HandoffReply
from agent.laptop.step_recorder import ClickListener, ClickListenerFactory, StepRecorder, native_geometry_of
from agent.laptop.submission import Submission
from agent.laptop.tray import AgentTray
from agent.notify.outbox_hook import attach_notifications
from agent.outbox import EntryState, Outbox, OutboxEntry, Receipt, Sender, waits_for_local_server
from agent.sysinfo.collect import SnapshotCache, SysinfoOptions
from shared_qt.clip_trim import ClipTrimDialog
from shared_qt.outbox_bridge import OutboxBridge

if TYPE_CHECKING:
    from agent.clips import Recording
    from agent.config import Config
    from agent.notify.notifier import Notifier

log = logging.getLogger(__name__)

# After a capture handed over by the command line, the agent keeps the encoder's working memory
# this long (captures from scripts come in bursts: each then encodes about a third faster), and
# gives it back when none came for so long.
HANDOFF_WARM_SECONDS = 60
# A capture handed over by the command line takes the system information the agent collected at
# most this long ago (with the same options and monitors) instead of collecting beside the encoder
# (about 45 ms of the two cores). The agent refreshes it in the background, after a hand-off, once
# it is half that old, so a burst of captures finds it fresh; a longer pause costs one collection.
HANDOFF_SYSINFO_MAX_AGE_SECONDS = 20.0
# The refresh waits this long after a hand-off, so it does not compete with the command line
# writing the bundle it was just sent.
HANDOFF_SYSINFO_REFRESH_DELAY_MS = 500
# What a hand-off collected its system information with: the options and the monitors' facts.
_SysinfoRecipe = tuple[SysinfoOptions, list[dict[str, object]]]


@dataclass
class AgentServices:
    """What the agent runs on. Defaults come from the configuration; tests pass their own."""

    outbox: Outbox
    settings: AgentSettings
    backend_name: str = "default"
    backend_type: str = "builtin"
    display: str | None = None  # the X display to capture (None: the session's own)
    collect_sysinfo: SysinfoCollector | None = None
    connector_factory: Callable[[], Connector] | None = None
    capture_backend: Literal["x11", "portal"] | None = None  # None: from the settings
    portal: PortalScreenshot | None = None
    use_tray: bool | None = None  # None: whenever the desktop has a system tray
    click_listener: ClickListenerFactory | None = None  # None: XRecord where X11 allows it
    global_hotkey: bool = True  # take settings.hotkey as a global shortcut where the desktop allows one
    sender_idle_seconds: float = 60.0
    contact_file: Path | None = None  # where the last sent name and e-mail are kept (None: the user data dir)
    quit_application: bool = True  # Quit ends the Qt application (tests keep theirs running)
    replies_seen_file: Path | None = None  # the replies already announced (None: the user data dir)
    replies_interval: float = 60.0  # seconds between readings of the person's tickets' replies
    config: Config | None = None  # for the [[notify]] targets told of deliveries (None: no notifications)
    screen_lock: Callable[[], ScreenLockWatcher] | None = None  # None: the desktop's (D-Bus on Linux)
    clip_max_bytes: int = 256 * 1024 * 1024  # a recorded clip's frames in memory (the core's default)


def release_memory() -> None:
    """Hand memory freed by a closed report (tens of MB of pictures) back to the system.

    glibc keeps freed memory in per-thread arenas for reuse; a resident agent that made one report
    would keep it for hours. Elsewhere this does nothing.
    """
    import gc

    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
            pass


def primary_screen_rect() -> Rect | None:
    """The primary monitor in desktop units: what the instant replay keeps."""
    from PySide6.QtGui import QGuiApplication

    screen = QGuiApplication.primaryScreen()
    return native_geometry(screen) if screen is not None else None


def as_mode(text: str) -> Mode:
    """A capture mode from a command or a menu; anything unknown means all monitors."""
    if text == "monitor":
        return "monitor"
    return "region" if text == "region" else "all"


def default_services() -> AgentServices:
    """Services from the layered configuration (raises ``ConfigError`` naming a mistake)."""
    from agent.config import load_config

    try:
        if migrate_agent_proxy():
            log.info("moved the proxy setting from [agent] to [backend] in the user configuration")
    except SettingsError as exc:
        log.warning("the proxy setting stays where it was: %s", exc)
    config = load_config()
    backend_name = config.backend().name
    settings = load_agent_settings()

    def collect(monitors: list[dict[str, Any]]) -> dict[str, object]:
        from agent import sysinfo
        from agent.config import load_config

        options = sysinfo.SysinfoOptions.from_config(load_config(), monitors=monitors, backend=backend_name)
        return sysinfo.collect(options)

    def connector() -> Connector:
        from agent.config import load_config
        from agent.connectors import make_connector

        return make_connector(load_config().backend(backend_name))

    return AgentServices(
        outbox=Outbox(config.outbox_dir),
        settings=settings,
        backend_name=backend_name,
        backend_type=config.backend().type,
        collect_sysinfo=collect,
        connector_factory=connector,
        config=config,
    )


class AgentApp(QObject):
    """The running agent. ``handle_command`` takes what the tray, a hotkey or a later launch asks for."""

    report_shown = Signal(object)  # ReportWindow, each time one is shown with new captures
    quitting = Signal()
    delivered = Signal(object)  # Receipt of any report this agent's outbox delivered

    def __init__(self, services: AgentServices, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.settings = services.settings
        self.outbox = services.outbox
        self.bridge = OutboxBridge(self.outbox, self)
        self.tray = AgentTray(self, use_tray=services.use_tray)
        backend = services.capture_backend or choose_backend(self.settings.capture_backend)
        self.capture = CaptureService(backend=backend, display=services.display, portal=services.portal, parent=self)
        self.capture.captured.connect(self._captured)
        self.capture.failed.connect(self._capture_failed)
        self.capture.countdown.connect(self.tray.set_countdown)
        self.outbox_sender = Sender(self.outbox, max_idle=services.sender_idle_seconds)
        # The help desk's replies to the person's tickets: read on a thread of their own, told in the tray.
        self.reply_poller: ReplyPoller | None = None
        self.replies: RepliesBridge | None = None
        if services.connector_factory is not None:
            self.reply_poller = ReplyPoller(
                self.outbox.receipts,
                services.connector_factory,
                backend_name=services.backend_name,
                seen_file=services.replies_seen_file or default_seen_file(),
                interval=services.replies_interval,
            )
            self.replies = RepliesBridge(self.reply_poller, self)
            self.replies.replies_arrived.connect(self.tray.notify_replies)
        self.tray.notification_clicked.connect(self._notification_clicked)
        self.notifier = self._attach_notifications(services.config)
        self.report_window: ReportWindow | None = None
        self.requests_window: RequestsWindow | None = None
        self.outbox_window: OutboxWindow | None = None
        self._shut_down = False
        self.recorder = self._make_recorder()
        # Clips and the instant replay (in memory only; see agent/clips and docs/clips.md).
        self.clip_session: ClipRecordingSession | None = None
        self._clip_for_recorder = False
        self._clip_hidden: list[QWidget] = []
        self.clip_selector = RegionSelector(self)
        self.clip_selector.selected.connect(lambda rect: self._record_clip(rect))
        self.clip_selector.cancelled.connect(self._restore_after_clip)
        self.recorder_trim: ClipTrimDialog | None = None
        self.replay = InstantReplay(
            self._replay_options(self.settings),
            display=services.display,
            region=primary_screen_rect,
            lock_watcher=services.screen_lock or default_watcher,
            parent=self,
        )
        self.replay_badge: ReplayBadge | None = None  # shown while the replay runs where there is no tray
        self.replay.state_changed.connect(self._replay_changed)
        self.replay.paused_changed.connect(self._replay_changed)
        self.replay.failed.connect(lambda reason: self.tray.notify(self.tr("Instant replay"), reason))
        self.tray.replay_toggled.connect(lambda on: self.set_instant_replay(on, remember=True))
        self.tray.report_requested.connect(lambda: self.start_report())
        self.tray.requests_requested.connect(self.open_requests)
        self.tray.outbox_requested.connect(self.open_outbox)
        self.tray.record_requested.connect(self.start_recording)
        self.tray.settings_requested.connect(self.open_settings)
        self.settings_dialog: SettingsDialog | None = None
        self.tray.quit_requested.connect(self.quit)
        self.bridge.changed.connect(self.update_waiting)
        self.bridge.delivered_signal.connect(self._delivered)
        self.update_waiting()
        self._warm_encoder = QTimer(self)
        self._warm_encoder.setSingleShot(True)
        self._warm_encoder.setInterval(HANDOFF_WARM_SECONDS * 1000)
        self._warm_encoder.timeout.connect(encoding.release_working_memory)
        self.handoff_sysinfo = SnapshotCache(HANDOFF_SYSINFO_MAX_AGE_SECONDS)
        self._sysinfo_refresh: threading.Thread | None = None
        self._sysinfo_refresh_timer = QTimer(self)
        self._sysinfo_refresh_timer.setSingleShot(True)
        self._sysinfo_refresh_timer.setInterval(HANDOFF_SYSINFO_REFRESH_DELAY_MS)
        self._sysinfo_refresh_timer.timeout.connect(self._refresh_handoff_sysinfo)
        self._last_handoff: _SysinfoRecipe | None = None
        self.hotkey = GlobalHotkey(services.display, self)
        self.hotkey.activated.connect(lambda: self.start_report())  # as Report a problem
        if services.global_hotkey:
            self._take_hotkey(self.settings.hotkey)

    def _attach_notifications(self, config: Config | None) -> Notifier | None:
        """The configured [[notify]] targets hear of every report this agent's outbox delivers.
        Their folder or configuration failing costs the notifications, never the agent: the person
        can still report (and `showdesk notify list` says what is wrong)."""
        if config is None:
            return None
        from agent.config import ConfigError

        try:
            return attach_notifications(self.outbox, config)
        except (ConfigError, OSError) as exc:
            log.warning("no notifications to the configured targets: %s", exc)
            return None

    def start(self) -> None:
        """Start delivering queued reports in the background, and following the replies to delivered ones."""
        self.outbox_sender.start()
        if self.reply_poller is not None:
            self.reply_poller.start()
        if self.settings.instant_replay:
            self.set_instant_replay(True)

    # ------------------------------------------------------------ commands
    def handle_command(self, command: str, args: dict[str, Any] | None = None) -> None:
        """Do what a later launch, a hotkey or the command line asked for (see ``instance_client.COMMANDS``)."""
        args = args or {}
        if command == "capture":
            self.capture_for_command_line(args)
            return
        if command == "report":
            mode, delay = args.get("mode"), args.get("delay", 0)
            self.start_report(
                as_mode(mode) if isinstance(mode, str) else None,
                delay=int(delay) if isinstance(delay, int | float) and 0 <= delay <= 60 else 0,
            )
            return
        actions: dict[str, Callable[[], object]] = {
            "show": self.open_requests,
            "requests": self.open_requests,
            "outbox": self.open_outbox,
            "record": self.start_recording,
            "settings": self.open_settings,
            "wake": self.outbox.wake,
            "quit": self.quit,
        }
        action = actions.get(command)
        if action is None:
            log.warning("ignoring the unknown command %r", command)
        else:
            action()

    def capture_for_command_line(self, args: dict[str, Any]) -> None:
        """`showdesk capture` handed over: the core's own recipe (``agent.cli.capture_bundle``) run
        on the capture thread with the warm capturer, the bundle's bytes back to the command line.
        Declined, so that the command line captures itself, when it would not be the same capture:
        another display or configuration, or capture through the desktop portal."""
        reply = args.get("reply")
        if not isinstance(reply, HandoffReply):
            return  # only the agent's socket server makes these
        from agent.cli import CaptureRequest, CommandError, capture_bundle, capture_environment, capture_sysinfo_options
        from agent.config import ConfigError, load_config

        try:
            request = CaptureRequest.from_wire(args)
        except ValueError as exc:
            reply.decline(f"malformed request: {exc}")
            return
        here = capture_environment(os.environ, self.services.display or os.environ.get("DISPLAY"))
        if request.environment != tuple(here.items()):
            reply.decline("another display or configuration")
            return

        warm = self.handoff_sysinfo

        def capture(capturer: Capturer) -> tuple[bytes, str, int, _SysinfoRecipe | None]:
            config = load_config()
            bundle, steps = capture_bundle(request, config, lambda: contextlib.nullcontext(capturer), warm=warm)
            options = capture_sysinfo_options(config, request) if request.sysinfo else None
            recipe = None if options is None else (options, [m.facts() for m in capturer.monitors()[1:]])
            return bundle.data, str(bundle.report_id), steps, recipe

        def captured(result: tuple[bytes, str, int, _SysinfoRecipe | None]) -> None:
            data, report_id, steps, recipe = result
            reply.send(data, report_id=report_id, steps=steps)
            if recipe is None:
                return
            self._last_handoff = recipe
            age = warm.age()
            if age is None or age > warm.max_age / 2:
                self._sysinfo_refresh_timer.start()

        def failed(exc: Exception) -> None:
            if not isinstance(exc, CommandError | ConfigError):
                log.error("a capture for the command line failed", exc_info=exc)
            reply.decline(str(exc))

        encoding.keep_working_memory()
        self._warm_encoder.start()  # (again): released once the burst is over
        if not self.capture.run_with_capturer(capture, captured, failed):
            reply.decline("capture goes through the desktop portal")

    def _refresh_handoff_sysinfo(self) -> None:
        """Collect the last hand-off's system information again on a side thread (one at a time)."""
        last = self._last_handoff
        if last is None or self._shut_down or (self._sysinfo_refresh is not None and self._sysinfo_refresh.is_alive()):
            return
        options, monitors = last
        cache = self.handoff_sysinfo

        def refresh() -> None:
            try:
                cache.refresh(options, monitors)
            except Exception:  # a failed refresh only means the next hand-off collects its own
                log.exception("refreshing the system information for captures failed")

        self._sysinfo_refresh = threading.Thread(target=refresh, name="sysinfo-refresh", daemon=True)
        self._sysinfo_refresh.start()

    def wait_sysinfo_refresh(self, timeout: float = 5.0) -> None:
        """Wait (bounded) for a background refresh of the hand-off's system information."""
        self._sysinfo_refresh_timer.stop()
        if self._sysinfo_refresh is not None:
            self._sysinfo_refresh.join(timeout)

    # ------------------------------------------------------------ the global shortcut
    def _take_hotkey(self, text: str) -> None:
        """Hold ``text`` as the global shortcut; where the desktop refuses it, say why once."""
        if self.hotkey.backend == "none":
            return  # the settings dialog explains what to bind instead; nothing went wrong
        try:
            self.hotkey.register(text)
        except HotkeyError as exc:
            log.warning("no global shortcut: %s", exc)
            self.tray.notify("Keyboard shortcut", f"{exc}.")

    # ------------------------------------------------------------ recording steps
    def _make_recorder(self) -> StepRecorder:
        factory = self.services.click_listener
        problem = None
        if factory is None:
            problem = click_listener_problem({"DISPLAY": self.services.display} if self.services.display else None)
            if problem is None:
                display = self.services.display

                def factory(callback: Callable[[int, int, int], None]) -> ClickListener:
                    return X11ClickListener(callback, display)

        recorder = StepRecorder(self.capture, click_listener=factory, click_problem=problem, parent=self)
        recorder.finished.connect(self._recorded)
        recorder.clip_requested.connect(lambda: self.start_clip("monitor", for_recorder=True))
        recorder.problem.connect(lambda text: self.tray.notify("Step recorder", text))
        return recorder

    def start_recording(self) -> None:
        self.recorder.start()

    def _recorded(self, steps: list[Captured]) -> None:
        clips = self.recorder.take_clips()
        if not steps and not clips:
            return
        window = self.report_window or self._new_report_window()
        if steps:
            window.add_captures(steps)
        else:
            window.start_sysinfo()
        for clip in clips:
            window.add_clip(clip)
        self._present(window)
        self.report_shown.emit(window)

    # ------------------------------------------------------------ clips
    def start_clip(self, mode: str = "monitor", *, for_recorder: bool = False, region: Rect | None = None) -> bool:
        """Record a clip of the monitor under the mouse, a region the person drags, or ``region``.

        The report window steps aside while recording; the step recorder's bar stays (kept out of
        the frames). False when a clip is being recorded already.
        """
        if self.clip_session is not None or self.clip_selector.active:
            return False
        self._clip_for_recorder = for_recorder
        window = self.report_window
        if window is not None and window.isVisible():
            window.hide()
            self._clip_hidden = [window]
        if region is not None:
            return self._record_clip(region)
        if mode != "region":
            return self._record_clip(screen_under_cursor_rect())

        def grab(capturer: Any) -> Any:
            return capturer.capture_monitor(0)

        def failed(exc: Exception) -> None:
            self._clip_failed(str(exc))

        started = self.capture.run_with_capturer(
            grab, lambda shot: self.clip_selector.start(qimage_of(shot), shot.region), failed
        )
        if not started:
            self._clip_failed(self.tr("recording a region needs capture through X11"))
        return started

    def _record_clip(self, region: Rect) -> bool:
        recorder_bar = self.recorder.bar

        def also_excluded() -> list[Rect]:
            ours = [widget for widget in (recorder_bar, self.replay_badge) if widget is not None and widget.isVisible()]
            return [native_geometry_of(widget) for widget in ours]

        session = ClipRecordingSession(
            region,
            display=self.services.display,
            fps=self.settings.clip_fps,
            max_seconds=self.settings.clip_max_seconds,
            max_bytes=self.services.clip_max_bytes,
            also_excluded=also_excluded,
            parent=self,
        )
        session.finished.connect(self._clip_recorded)
        session.failed.connect(self._clip_failed)
        self.clip_session = session
        session.start()
        return self.clip_session is session  # a failed start has already ended it

    def _clip_recorded(self, recording: Recording) -> None:
        self._end_clip_session()
        if self._clip_for_recorder and self.recorder.recording:
            self._restore_after_clip()
            dialog = ClipTrimDialog(recording)
            dialog.finished.connect(lambda result, d=dialog: self._recorder_clip_trimmed(d, result))
            self.recorder_trim = dialog
            dialog.open()
            return
        self._clip_hidden = []
        window = self.report_window or self._new_report_window()
        window.start_sysinfo()
        self._present(window)
        self.report_shown.emit(window)
        window.review_recording(recording)

    def _recorder_clip_trimmed(self, dialog: ClipTrimDialog, result: int) -> None:
        if self.recorder_trim is dialog:
            self.recorder_trim = None
        dialog.deleteLater()
        if result == ClipTrimDialog.DialogCode.Accepted:
            self.recorder.add_clip(dialog.trimmed())

    def _clip_failed(self, reason: str) -> None:
        self._end_clip_session()
        self._restore_after_clip()
        window = self.report_window
        text = self.tr("The clip could not be recorded: %1").replace("%1", reason)
        if window is not None and not self._clip_for_recorder:
            window.show_problem(text)
        else:
            self.tray.notify(self.tr("Record a clip"), text)

    def _end_clip_session(self) -> None:
        session, self.clip_session = self.clip_session, None
        if session is not None:
            session.deleteLater()

    def _restore_after_clip(self) -> None:
        hidden, self._clip_hidden = self._clip_hidden, []
        for widget in hidden:
            self._present(widget)

    # ------------------------------------------------------------ the instant replay
    @staticmethod
    def _replay_options(settings: AgentSettings) -> ReplayOptions:
        return ReplayOptions(
            seconds=settings.replay_seconds, fps=settings.clip_fps, max_bytes=settings.replay_max_mb * MB
        )

    def set_instant_replay(self, on: bool, *, remember: bool = False) -> None:
        """Switch the instant replay; ``remember`` keeps the choice for the next start (the tray)."""
        self.replay.set_enabled(on)
        if remember and self.replay.enabled == on and self.settings.instant_replay != on:
            from dataclasses import replace

            from agent.laptop.settings_store import save_agent_settings

            changed = replace(self.settings, instant_replay=on)
            try:
                save_agent_settings(changed)
            except SettingsError as exc:
                log.warning("the instant replay's switch is not kept for the next start: %s", exc)
            self.settings = changed

    def _replay_changed(self, *_args: object) -> None:
        replay = self.replay
        state = ("paused" if replay.paused else "on") if replay.enabled else ""
        self.tray.set_replay(state, replay.status_text() if state else "")
        if not self.tray.has_tray:
            self._show_replay_badge(state, replay.status_text())
        if self.report_window is not None:
            self.report_window.set_replay_available(replay.enabled)

    def _show_replay_badge(self, state: str, text: str) -> None:
        if not state:
            if self.replay_badge is not None:
                self.replay_badge.hide()
            return
        if self.replay_badge is None:
            self.replay_badge = ReplayBadge()
        self.replay_badge.show_state(state == "paused", text)
        self.replay.set_excluded([self.replay_badge.native_rect()])

    def add_replay_to_report(self) -> None:
        """ "Add what just happened": the replay's last seconds (up to Report a problem) to trim."""
        window = self.report_window
        if window is None:
            return
        from agent.clips import ClipError

        try:
            recording = self.replay.snapshot()
        except ClipError as exc:
            window.show_problem(self.tr("Nothing to add from the instant replay: %1").replace("%1", str(exc)))
            return
        window.review_recording(recording)

    # ------------------------------------------------------------ reporting
    def start_report(self, mode: Mode | None = None, *, delay: int = 0) -> bool:
        """Capture first (nothing of ours on screen), then show the report window with the captures."""
        chosen: Mode = mode or self.settings.capture_mode
        if self.report_window is None:
            self.replay.mark()  # "what just happened" ends before our windows appear
        return self.capture.request(chosen, delay_s=delay, tag=("report",))

    def _new_report_window(self) -> ReportWindow:
        submission = Submission(self.outbox, self.bridge, backend_name=self.services.backend_name)
        window = ReportWindow(
            submission,
            categories=self.settings.categories,
            contact=default_contact(self.settings.email_domain, load_remembered_contact(self.services.contact_file)),
            collect_sysinfo=self.services.collect_sysinfo,
        )
        window.capture_requested.connect(lambda mode, delay: self.start_report(as_mode(mode), delay=delay))
        window.record_requested.connect(lambda mode: self.start_clip(mode))
        window.replay_requested.connect(self.add_replay_to_report)
        window.set_replay_available(self.replay.enabled)
        window.sent.connect(lambda _report_id, w=window: self._remember_contact(w))
        window.closed.connect(lambda w=window: self._report_closed(w))
        self.report_window = window
        return window

    def _remember_contact(self, window: ReportWindow) -> None:
        """The name and e-mail of a queued report prefill the next one (what was sent, not what is typed now)."""
        form = window.draft.form
        try:
            remember_contact(form.name, form.email, self.services.contact_file)
        except SettingsError as exc:
            log.warning("the name and e-mail will not be prefilled next time: %s", exc)

    def _report_closed(self, window: ReportWindow) -> None:
        if self.report_window is window:
            self.report_window = None
        window.deleteLater()
        # Once the window and its pictures are gone, give their memory back: the agent stays resident.
        QTimer.singleShot(1000, release_memory)

    def _captured(self, steps: list[Captured], tag: object) -> None:
        # The step recorder takes its own captures (tag "recorder"); these are the report's.
        if not (isinstance(tag, tuple) and tag and tag[0] == "report"):
            return
        window = self.report_window or self._new_report_window()
        window.add_captures(steps)
        self._present(window)
        self.report_shown.emit(window)

    def _capture_failed(self, reason: str, tag: object) -> None:
        if not (isinstance(tag, tuple) and tag and tag[0] == "report"):
            return  # the recorder tells the person itself
        # The person still gets the window: a report without a picture beats none.
        window = self.report_window or self._new_report_window()
        window.show_capture_problem(reason)
        window.start_sysinfo()
        self._present(window)
        self.report_shown.emit(window)

    @staticmethod
    def _present(window: QWidget) -> None:
        bring_forward(window)

    # ------------------------------------------------------------ outbox
    def waiting_entries(self) -> list[OutboxEntry]:
        return [e for e in self.outbox.list() if not e.needs_attention]

    def update_waiting(self) -> None:
        entries = self.outbox.list()
        waiting = [e for e in entries if not e.needs_attention]
        # A stopped local server is worth a word too: nothing else tells the person why nothing goes.
        stuck = next(
            (
                e
                for e in entries
                # A network that wants a sign-in first (a captive portal) is stuck until the person acts.
                if (e.state is not EntryState.PENDING or waits_for_local_server(e) or e.waits_for_network)
                and e.last_error
            ),
            None,
        )
        self.tray.set_waiting(len(waiting), stuck.last_error if stuck else None)

    def _notification_clicked(self, kind: str) -> None:
        if kind == "replies":
            self.open_requests()

    def _delivered(self, _entry: OutboxEntry, receipt: Receipt) -> None:
        self.tray.notify(
            f"Ticket {receipt.number}: your report was delivered",
            "The help desk has your report" + (f": {receipt.url}" if receipt.url else "."),
        )
        self.delivered.emit(receipt)

    def open_requests(self) -> None:
        if self.requests_window is None:
            window = RequestsWindow(
                self.outbox, self.bridge, self.services.connector_factory, replies=self.replies, capture=self.capture
            )
            window.report_requested.connect(lambda: self.start_report())
            window.outbox_requested.connect(self.open_outbox)
            self._connect_requests_window(window)
            self.requests_window = window
        self.requests_window.refresh()
        self._present(self.requests_window)

    def _connect_requests_window(self, window: RequestsWindow) -> None:
        window.record_requested.connect(self.start_recording)
        window.settings_requested.connect(self.open_settings)

    # ------------------------------------------------------------ settings
    def open_settings(self) -> None:
        if self.settings_dialog is None:
            dialog = SettingsDialog(
                self.settings, backend_type=self.services.backend_type, hotkey_status=self.hotkey.status()
            )
            dialog.saved.connect(self._settings_saved)
            dialog.signed_in.connect(lambda _url: self.outbox.wake())
            dialog.finished.connect(lambda _result, d=dialog: self._settings_closed(d))
            self.settings_dialog = dialog
        self._present(self.settings_dialog)

    def _settings_closed(self, dialog: SettingsDialog) -> None:
        if self.settings_dialog is dialog:
            self.settings_dialog = None
        dialog.wait_idle()
        dialog.deleteLater()

    def _settings_saved(self, settings: AgentSettings) -> None:
        self.settings = settings
        if self.services.capture_backend is None:
            self.capture.set_backend(choose_backend(settings.capture_backend))
        if self.services.global_hotkey and settings.hotkey != str(self.hotkey.combination or ""):
            self._take_hotkey(settings.hotkey)
        if settings.instant_replay != self.replay.enabled:
            self.replay.options = self._replay_options(settings)
            self.set_instant_replay(settings.instant_replay)
        # A new address, proxy or token: reports waiting get another try at once.
        self.outbox.wake()

    def open_outbox(self) -> None:
        if self.outbox_window is None:
            self.outbox_window = OutboxWindow(self.outbox, self.bridge)
        self.outbox_window.refresh()
        self._present(self.outbox_window)

    # ------------------------------------------------------------ ending
    def quit(self) -> None:
        """Quit, after asking about a report that was started but not sent (nothing is lost silently)."""
        window = self.report_window
        if window is not None and window.isVisible() and window.has_unsent_work():
            bring_forward(window)
            if not window.close():  # the person chose to keep the report
                return
        self.shutdown()
        self.quitting.emit()
        app = QApplication.instance()
        if app is not None and self.services.quit_application:
            QTimer.singleShot(0, app.quit)

    def shutdown(self) -> None:
        """Stop the sender (after the attempt under way), the capture thread, and close every window."""
        if self._shut_down:
            return
        self._shut_down = True
        self.hotkey.unregister()
        self._warm_encoder.stop()
        self.wait_sysinfo_refresh()
        self.outbox_sender.stop(timeout=30)
        if self.reply_poller is not None:
            self.reply_poller.stop()
        if self.replies is not None:
            self.replies.detach()
        if self.notifier is not None:
            self.notifier.stop()
        self.recorder.shutdown()
        if self.clip_session is not None:
            self.clip_session.cancel()
            self.clip_session = None
        self.clip_selector.close_overlays()
        if self.recorder_trim is not None:
            self.recorder_trim.reject()
        self.replay.shutdown()  # every frame of the instant replay is let go here
        if self.replay_badge is not None:
            self.replay_badge.close()
            self.replay_badge.deleteLater()
            self.replay_badge = None
        self.capture.shutdown()
        if self.settings_dialog is not None:
            self.settings_dialog.wait_idle()
        for window in (self.report_window, self.requests_window, self.outbox_window, self.settings_dialog):
            if window is not None:
                window.hide()
                window.deleteLater()
        if self.report_window is not None:
            self.report_window.submission.wait_idle()
        self.report_window = self.requests_window = self.outbox_window = None
        self.settings_dialog = None
        self.bridge.detach()
        self.tray.shutdown()
        self.outbox.close()
