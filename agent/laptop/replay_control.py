"""The instant replay in the agent: on and off, paused while the screen is locked, and its snapshot.

Opt-in and off by default (``[clips] instant_replay``). While on, the core's ``ReplayBuffer``
keeps the last ``replay_seconds`` of the primary monitor as compressed frames **in memory only**,
under a fixed cap; nothing is written to disk and nothing is sent unless the person adds "what just
happened" to a report, trims it and sends that report. Switching it off, or quitting, drops every
frame. While the session's screen is locked (``agent.clips.screen_lock``) no frame is grabbed.

The tray and the settings dialog show and switch it; this object holds the buffer and tells them
its state through signals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QObject, Signal

from agent.capture import Rect
from agent.clips import (
    DEFAULT_FPS,
    DEFAULT_REPLAY_MAX_BYTES,
    DEFAULT_REPLAY_SECONDS,
    CaptureTarget,
    ClipError,
    Recording,
    ReplayBuffer,
)
from agent.clips.screen_lock import ScreenLockWatcher, default_watcher

log = logging.getLogger(__name__)

MB: Final = 1024 * 1024


@dataclass(frozen=True)
class ReplayOptions:
    """How the replay runs (``[clips]`` keys): its length, frame rate and memory cap."""

    seconds: float = DEFAULT_REPLAY_SECONDS
    fps: float = DEFAULT_FPS
    max_bytes: int = DEFAULT_REPLAY_MAX_BYTES


class _LockRelay(QObject):
    # Emitted on the watcher's thread, delivered on the GUI thread.
    changed = Signal(bool)


class InstantReplay(QObject):
    """The replay's switch. ``state_changed(on)`` and ``paused_changed(paused)`` follow it."""

    state_changed = Signal(bool)
    paused_changed = Signal(bool)
    failed = Signal(str)

    def __init__(
        self,
        options: ReplayOptions,
        *,
        display: str | None = None,
        region: Callable[[], Rect | None] = lambda: None,
        lock_watcher: Callable[[], ScreenLockWatcher] = default_watcher,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.options = options
        self._display = display
        self._region = region
        self._make_watcher = lock_watcher
        self._watcher: ScreenLockWatcher | None = None
        self.buffer: ReplayBuffer | None = None
        self._relay = _LockRelay(self)
        self._relay.changed.connect(self._lock_changed)
        self._locked = False
        self._mark: float | None = None
        self._excluded: list[Rect] = []

    @property
    def enabled(self) -> bool:
        return self.buffer is not None

    @property
    def paused(self) -> bool:
        return self.buffer is not None and self.buffer.is_paused

    def status_text(self) -> str:
        """What the tray's tooltip says while the replay is on."""
        if self.paused:
            return self.tr("Instant replay paused while the screen is locked")
        return self.tr("Instant replay on: keeping the last %1 s in memory").replace("%1", f"{self.options.seconds:g}")

    def set_enabled(self, on: bool) -> None:
        if on == self.enabled:
            return
        if on:
            self._start()
        else:
            self._stop()
        self.state_changed.emit(self.enabled)

    def _start(self) -> None:
        region = self._region()
        target = CaptureTarget(region=region, display=self._display) if region else CaptureTarget(display=self._display)
        buffer = ReplayBuffer(
            target,
            seconds=self.options.seconds,
            fps=self.options.fps,
            max_bytes=self.options.max_bytes,
            excluded=self._excluded,
        )
        try:
            buffer.start()
        except ClipError as exc:
            log.warning("the instant replay cannot run: %s", exc)
            self.failed.emit(str(exc))
            return
        self.buffer = buffer
        self._locked = False
        watcher = self._make_watcher()
        self._watcher = watcher
        watcher.start(self._relay.changed.emit)

    def _stop(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()
        buffer, self.buffer = self.buffer, None
        if buffer is not None:
            buffer.stop()  # every frame is let go here
        self._mark = None

    def set_excluded(self, rects: list[Rect]) -> None:
        """Rectangles of our own windows that stay on screen (the badge), kept out of every frame."""
        self._excluded = list(rects)
        if self.buffer is not None:
            self.buffer.set_excluded(self._excluded)

    def _lock_changed(self, locked: bool) -> None:
        buffer = self.buffer
        if buffer is None or locked == self._locked:
            return
        self._locked = locked
        if locked:
            buffer.pause()
        else:
            buffer.resume()
        self.paused_changed.emit(locked)

    # ------------------------------------------------------------ what just happened
    def mark(self) -> None:
        """The person asked to report: "what just happened" ends here, before our windows appear."""
        self._mark = self.buffer.clock() if self.buffer is not None else None

    def snapshot(self) -> Recording:
        """The last seconds up to the mark (or now), as a recording; raises ``ClipError`` if none."""
        buffer = self.buffer
        if buffer is None:
            raise ClipError("the instant replay is off")
        recording = buffer.snapshot()
        now = buffer.clock()
        mark, self._mark = self._mark, None
        if mark is not None:
            # The snapshot's 0.0 is (about) ``now - duration`` on the replay's clock.
            end = mark - (now - recording.duration)
            if 0 < end < recording.duration:
                recording = recording.trimmed(0.0, end)
        return recording

    def shutdown(self) -> None:
        """Drop every frame and stop following the lock (the agent quits)."""
        was_on = self.enabled
        self._stop()
        if was_on:
            self.state_changed.emit(False)
