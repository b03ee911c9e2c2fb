"""Capture for the agent's windows: the agent's own windows step aside, the screen is grabbed, they come back.

One :class:`CaptureService` per agent. A request names a mode (all monitors, the monitor under
the mouse or a given point, a region dragged over the frozen desktop) and an optional delay. The
service hides every visible window of this process (the report window, the step recorder's
tool bar, an open menu), waits for the window system to repaint what they covered, and grabs:

* through ``agent.capture.Capturer`` on a dedicated capture thread, which owns the one Capturer
  (capture handles are bound to the thread that opened them) and encodes there too;
* or through the desktop portal (:mod:`agent.laptop.portal`) on Wayland, or when configured.

Then it hands over the steps (``captured``) and shows the windows it hid again. Nothing slow
runs on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from agent.bundle import StepDraft
from agent.capture import CaptureError, Capturer, MonitorInfo, Rect, Shot
from agent.encoding import DEFAULT, ImageFormat, encode, encode_all, step_draft
from agent.laptop.portal import PORTAL_NOTE, PortalScreenshot, read_portal_file, wayland_session
from agent.laptop.region_overlay import RegionOverlay, RegionSelector
from agent.laptop.screens import (
    floating_window_flags,
    has_window_stacking,
    native_geometry,
    scale_lookup,
    screen_scales,
)
from agent.laptop.shots import crop_shot, monitor_at, shot_from_image_bytes
from shared_qt.grab_thread import GrabThread
from shared_qt.workers import BackgroundRunner

log = logging.getLogger(__name__)

Mode = Literal["all", "monitor", "region"]
_Result = TypeVar("_Result")
# Time for the window system to unmap our windows and repaint what they covered.
SETTLE_MS: Final = 200
MAX_DELAY_SECONDS: Final = 60


@dataclass(frozen=True)
class Captured:
    """A captured step and where on the desktop its pixels came from (desktop units)."""

    draft: StepDraft
    region: Rect


@dataclass(frozen=True)
class _GrabJob:
    mode: Literal["all", "monitor", "desktop"]
    point: tuple[int, int] | None
    encode: bool
    refresh: bool


@dataclass(frozen=True)
class _GrabResult:
    shots: list[Shot]
    drafts: list[StepDraft]
    monitors: list[MonitorInfo]


def _grab(capturer: Capturer, job: _GrabJob, fmt: ImageFormat) -> _GrabResult:
    """One capture job, on the capture thread with its one Capturer."""
    if job.refresh:
        capturer.refresh()
    monitors = capturer.monitors()
    if job.mode == "all":
        shots = capturer.capture_all()
    elif job.mode == "monitor":
        shots = [capturer.capture_monitor(monitor_at(job.point, monitors).index)]
    else:
        shots = [capturer.capture_desktop()]
    drafts = []
    if job.encode:
        drafts = [step_draft(s, e) for s, e in zip(shots, encode_all(shots, fmt), strict=True)]
    return _GrabResult(shots, drafts, monitors)


def qimage_of(shot: Shot) -> QImage:
    """The shot as a QImage with its own copy of the pixels."""
    data = shot.pixels.tobytes()
    if shot.pixel_format == "BGRX":
        image = QImage(data, shot.width, shot.height, shot.stride, QImage.Format.Format_RGB32)
    else:
        image = QImage(data, shot.width, shot.height, shot.stride, QImage.Format.Format_RGB888)
    return image.copy()


def choose_backend(setting: str, environ: dict[str, str] | None = None) -> Literal["x11", "portal"]:
    """``auto`` takes the portal in a Wayland session and the screen grabber (mss) elsewhere."""
    if setting in ("x11", "portal"):
        return "x11" if setting == "x11" else "portal"
    return "portal" if wayland_session(environ) else "x11"


class CountdownBadge(QWidget):
    """ "Capturing in 3 s" in a corner while a delayed capture waits; hidden before the grab."""

    def __init__(self) -> None:
        super().__init__(None, floating_window_flags())
        self.setObjectName("capture-countdown")
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, True)
        self.label = QLabel(self)
        font = self.label.font()
        font.setPointSize(font.pointSize() + 4)
        font.setBold(True)
        self.label.setFont(font)
        self.label.setContentsMargins(16, 10, 16, 10)
        self.setStyleSheet("background: #1f2933; color: white;")

    def show_seconds(self, seconds: int) -> None:
        self.label.setText(f"Capturing in {seconds} s…")
        self.label.adjustSize()
        self.resize(self.label.size())
        area = QGuiApplication.primaryScreen().availableGeometry()
        self.move(area.right() - self.width() - 24, area.top() + 24)
        self.show()


class CaptureService(QObject):
    """Captures steps for the agent's windows; see the module's description."""

    captured = Signal(object, object)  # list[Captured], the request's tag
    failed = Signal(str, object)  # reason, tag
    cancelled = Signal(object)  # tag (the region drag was cancelled)
    countdown = Signal(int)  # seconds until a delayed capture
    busy_changed = Signal(bool)

    def __init__(
        self,
        *,
        backend: Literal["x11", "portal"] = "x11",
        display: str | None = None,
        fmt: ImageFormat = DEFAULT,
        portal: PortalScreenshot | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.backend = backend
        self._fmt = fmt
        self._runner = BackgroundRunner(self)
        self._busy = False
        self._tag: object = None
        self._mode: Mode = "all"
        self._point: tuple[int, int] | None = None
        self._hidden: list[QWidget] = []
        self._keep_hidden: set[int] = set()
        self._remaining = 0
        self._layout_changed = False
        # Read by the capture thread's Capturer; refreshed in place when screens change.
        self._scales: dict[Rect, float] = screen_scales()
        self._desktop_shot: Shot | None = None
        self._monitors: list[MonitorInfo] = []
        self.selector = RegionSelector(self)
        self.selector.selected.connect(self._region_chosen)
        self.selector.cancelled.connect(self._region_cancelled)
        self.badge: CountdownBadge | None = None
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._count_down)
        scales = self._scales

        def open_capturer() -> Capturer:
            return Capturer(display, scale_of=scale_lookup(scales))

        self._grab_thread = GrabThread(open_capturer, close_tool=Capturer.close, parent=self)
        self._portal: PortalScreenshot | None = None
        if portal is not None:
            self._use_portal(portal)
        self.set_backend(backend)
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.screenAdded.connect(self._screens_changed)
            app.screenRemoved.connect(self._screens_changed)

    # ------------------------------------------------------------ public
    @property
    def busy(self) -> bool:
        return self._busy

    def set_backend(self, backend: Literal["x11", "portal"]) -> None:
        """Capture through the screen grabber ("x11") or the desktop portal from the next request on."""
        self.backend = backend
        if backend == "portal" and self._portal is None:
            self._use_portal(PortalScreenshot(parent=self))

    def _use_portal(self, portal: PortalScreenshot) -> None:
        self._portal = portal
        portal.finished.connect(self._portal_finished)
        portal.failed.connect(self._grab_failed)

    def request(
        self,
        mode: Mode,
        *,
        delay_s: int = 0,
        point: tuple[int, int] | None = None,
        tag: object = None,
        keep_hidden: Sequence[QWidget] = (),
    ) -> bool:
        """Start a capture; False when one is already under way.

        ``point`` picks the monitor in "monitor" mode (default: the one under the mouse).
        ``keep_hidden`` are windows that stay hidden afterwards (the caller shows them itself).
        """
        if self._busy:
            return False
        if not 0 <= delay_s <= MAX_DELAY_SECONDS:
            raise ValueError(f"a capture delay is 0 to {MAX_DELAY_SECONDS} seconds")
        self._set_busy(True)
        self._tag = tag
        self._mode = mode
        self._point = point
        if mode == "monitor" and point is None:
            from agent.laptop.screens import cursor_native_point

            self._point = cursor_native_point()
        self._keep_hidden = {id(w) for w in keep_hidden}
        self._hidden = self._hide_own_windows()
        self._remaining = delay_s
        if delay_s > 0:
            self._show_badge(delay_s)
            self.countdown.emit(delay_s)
            self._tick.start()
        else:
            QTimer.singleShot(SETTLE_MS if self._hidden else 0, self._grab)
        return True

    def run_with_capturer(
        self,
        job: Callable[[Capturer], _Result],
        on_result: Callable[[_Result], None],
        on_error: Callable[[Exception], None],
    ) -> bool:
        """``job(capturer)`` on the capture thread with its warm capturer, the result back on the
        GUI thread; queued behind a capture under way. Nothing steps aside: the job sees the
        screen as it is (what `showdesk capture` handed to the agent grabs). False when capture
        goes through the desktop portal, which has no capturer."""
        if self.backend != "x11":
            return False
        refresh, self._layout_changed = self._layout_changed, False

        def with_current_layout(capturer: Capturer) -> _Result:
            if refresh:
                capturer.refresh()
            return job(capturer)

        self._grab_thread.run(with_current_layout, on_result, on_error)
        return True

    def shutdown(self) -> None:
        self._tick.stop()
        if self.badge is not None:
            self.badge.close()
            self.badge.deleteLater()
            self.badge = None
        self.selector.close_overlays()
        if self._portal is not None:
            self._portal.cancel()
        self._grab_thread.shutdown()
        self._runner.wait_idle()

    # ------------------------------------------------------------ windows stepping aside
    def _hide_own_windows(self) -> list[QWidget]:
        hidden = []
        for widget in QApplication.topLevelWidgets():
            if widget.isVisible() and not isinstance(widget, RegionOverlay | CountdownBadge):
                widget.hide()
                hidden.append(widget)
        return hidden

    def _restore_windows(self) -> None:
        hidden, self._hidden = self._hidden, []
        for widget in hidden:
            if id(widget) in self._keep_hidden:
                continue
            widget.show()
            if has_window_stacking():
                widget.raise_()
        self._keep_hidden = set()

    def _show_badge(self, seconds: int) -> None:
        if self.badge is None:
            self.badge = CountdownBadge()
        self.badge.show_seconds(seconds)

    def _count_down(self) -> None:
        self._remaining -= 1
        if self._remaining > 0:
            self._show_badge(self._remaining)
            self.countdown.emit(self._remaining)
            return
        self._tick.stop()
        badge_was_up = self.badge is not None and self.badge.isVisible()
        if self.badge is not None:
            self.badge.hide()  # never in the shot
        self.countdown.emit(0)
        # Let the screen repaint where the badge was.
        QTimer.singleShot(SETTLE_MS if badge_was_up else 0, self._grab)

    # ------------------------------------------------------------ grabbing
    def _grab(self) -> None:
        if self.backend == "portal":
            assert self._portal is not None
            try:
                self._portal.request()
            except (RuntimeError, ValueError, TypeError) as exc:  # a D-Bus binding refusing the call
                log.exception("asking the desktop portal failed")
                self._grab_failed(f"the desktop portal could not be asked for a screenshot ({exc})")
            return
        job_mode: Literal["all", "monitor", "desktop"] = "desktop" if self._mode == "region" else self._mode
        refresh, self._layout_changed = self._layout_changed, False
        job = _GrabJob(job_mode, self._point, self._mode != "region", refresh)
        fmt = self._fmt
        self._grab_thread.run(lambda capturer: _grab(capturer, job, fmt), self._grabbed, self._capture_failed)

    def _grabbed(self, result: _GrabResult) -> None:
        if self._mode == "region":
            self._monitors = result.monitors
            self._start_region(result.shots[0])
            return
        steps = [Captured(d, s.region) for d, s in zip(result.drafts, result.shots, strict=True)]
        self._finish(steps)

    def _portal_finished(self, path: str) -> None:
        assert self._portal is not None
        requested_at = self._portal.requested_at
        desktop = self._desktop_rect()
        mode = self._mode
        fmt = self._fmt

        def load() -> tuple[Shot, StepDraft | None]:
            from datetime import UTC, datetime

            data = read_portal_file(path, requested_at)
            shot = shot_from_image_bytes(
                data,
                captured_at=datetime.now(UTC),
                capture_method="portal",
                desktop=desktop,
                notes=(PORTAL_NOTE,),
            )
            return shot, (None if mode == "region" else step_draft(shot, encode(shot, fmt)))

        def loaded(result: tuple[Shot, StepDraft | None]) -> None:
            shot, draft = result
            if draft is None:
                self._monitors = self._portal_monitors(shot)
                self._start_region(shot)
            else:
                self._finish([Captured(draft, shot.region)])

        self._runner.run(load, loaded, lambda exc: self._grab_failed(str(exc)))

    def _desktop_rect(self) -> Rect:
        rects = [native_geometry(s) for s in QGuiApplication.screens()]
        if not rects:
            return Rect(0, 0, 1, 1)
        left, top = min(r.left for r in rects), min(r.top for r in rects)
        right, bottom = max(r.right for r in rects), max(r.bottom for r in rects)
        return Rect(left, top, right - left, bottom - top)

    def _portal_monitors(self, shot: Shot) -> list[MonitorInfo]:
        screens = QGuiApplication.screens()
        monitors = [MonitorInfo(0, shot.region, scale=shot.monitor_info.scale)]
        for index, screen in enumerate(screens, start=1):
            monitors.append(
                MonitorInfo(index, native_geometry(screen), name=screen.name() or None, scale=screen.devicePixelRatio())
            )
        return monitors

    # ------------------------------------------------------------ region
    def _start_region(self, desktop: Shot) -> None:
        self._desktop_shot = desktop
        self.selector.start(qimage_of(desktop), desktop.region)

    def _region_chosen(self, rect: Rect) -> None:
        desktop = self._desktop_shot
        monitors = self._monitors
        fmt = self._fmt
        self._desktop_shot = None
        if desktop is None:
            return

        def cut() -> Captured:
            shot = crop_shot(desktop, rect, monitors)
            return Captured(step_draft(shot, encode(shot, fmt)), shot.region)

        self._runner.run(cut, lambda captured: self._finish([captured]), lambda exc: self._grab_failed(str(exc)))

    def _region_cancelled(self) -> None:
        self._desktop_shot = None
        tag = self._tag
        self._restore_windows()
        self._set_busy(False)
        self.cancelled.emit(tag)

    # ------------------------------------------------------------ finishing
    def _finish(self, steps: list[Captured]) -> None:
        tag = self._tag
        self._set_busy(False)
        self.captured.emit(steps, tag)
        self._restore_windows()

    def _capture_failed(self, exc: Exception) -> None:
        # Any failure reaches the person as words, never a crash.
        if isinstance(exc, CaptureError):
            self._grab_failed(str(exc))
            return
        log.error("capture failed", exc_info=exc)
        self._grab_failed(f"the screen could not be captured ({type(exc).__name__}: {exc})")

    def _grab_failed(self, reason: str) -> None:
        tag = self._tag
        self.selector.close_overlays()
        self._desktop_shot = None
        self._set_busy(False)
        self.failed.emit(reason, tag)
        self._restore_windows()

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    def _screens_changed(self, *_args: Any) -> None:
        self._layout_changed = True
        self._scales.clear()
        self._scales.update(screen_scales())
