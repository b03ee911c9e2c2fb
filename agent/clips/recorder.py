"""Recording the screen at a low frame rate on a thread of its own: a clip, or the instant replay.

Both run the same capture loop (:class:`_CaptureLoop`) on a dedicated thread that owns its
``agent.capture.Capturer`` (capture handles are bound to the thread that opened them): grab,
black out the excluded rectangles, compress against the previous frame, hand the frame to a
:class:`~agent.clips.frames.FrameStore`, wait for the next tick. Frames are never written to disk.

The capture bar (or any window of ShowDesk's own) is kept out of the frames by the caller passing
its rectangle: the pixels under it are made black right after each grab, before they are
compressed or kept, so they never exist in a frame. Hiding the window for every grab instead would
flicker five times a second and race the window manager. The rectangles may change while recording
(:meth:`set_excluded`: the bar moved); each grab uses the latest.

Callbacks (``on_frame``, ``on_stopped``) are called on the capture thread: a Qt caller turns them
into signals. :meth:`ClipRecorder.stop` and :meth:`ReplayBuffer.stop` wait at most one grab.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from agent.capture import CaptureError, Capturer, MonitorInfo, Rect, Shot
from agent.clips.frames import BYTES_PER_PIXEL, Frame, FrameCompressor, FrameStore, MemoryCapError
from agent.clips.recording import ClipError, Origin, Recording, StopReason

DEFAULT_FPS: Final = 5.0
DEFAULT_MAX_SECONDS: Final = 30.0
# A clip's frames in memory: a busy 1080p desktop that changes completely in every frame needs
# about 2.3 MB a frame, so the cap ends such a recording after ~11 s; typical screens (a window
# that moves, a dialog that flashes) stay far below it for the whole 30 s.
DEFAULT_CLIP_MAX_BYTES: Final = 256 * 1024 * 1024
DEFAULT_REPLAY_SECONDS: Final = 30.0
# The instant replay's cap: bench/clips.py measures what it costs on top of the idle agent.
DEFAULT_REPLAY_MAX_BYTES: Final = 40 * 1024 * 1024
MAX_FPS: Final = 10.0
MAX_SECONDS: Final = 120.0

FrameCallback = Callable[["Progress"], None]
StoppedCallback = Callable[[StopReason, str], None]


@dataclass(frozen=True)
class Progress:
    """How a running recording stands: frames grabbed, seconds recorded, bytes held in memory."""

    frames: int
    seconds: float
    bytes_held: int


@dataclass(frozen=True)
class CaptureTarget:
    """What to record: the monitor with mss index ``monitor`` (1.. real monitors, 0 all of them),
    or ``region`` (virtual-desktop coordinates), which wins when given. ``display``: the X display."""

    monitor: int = 1
    region: Rect | None = None
    display: str | None = None


def black_out(pixels: bytearray, width: int, height: int, origin: Rect, excluded: Sequence[Rect]) -> None:
    """Make every pixel of ``pixels`` (a frame taken at ``origin``) that lies in ``excluded`` black."""
    stride = width * BYTES_PER_PIXEL
    frame_rect = Rect(origin.left, origin.top, width, height)
    for rect in excluded:
        part = frame_rect.intersection(rect)
        if part is None:
            continue
        left = (part.left - origin.left) * BYTES_PER_PIXEL
        run = part.width * BYTES_PER_PIXEL
        zeros = bytes(run)
        for row in range(part.top - origin.top, part.bottom - origin.top):
            start = row * stride + left
            pixels[start : start + run] = zeros


def _own_pixels(shot: Shot) -> bytearray:
    """The shot's pixels as a buffer this loop may black out and keep.

    mss hands each grab out as a fresh bytearray, and the loop is the shot's only holder: that
    buffer is taken as it is, which saves a copy of the whole frame (a third of an idle frame's
    cost). Any other buffer is copied.
    """
    source = shot.pixels.obj
    if isinstance(source, bytearray) and len(source) == shot.pixels.nbytes:
        return source
    return bytearray(shot.pixels)


def _check_rate(fps: float) -> float:
    if not 0 < fps <= MAX_FPS:
        raise ClipError(f"a frame rate of {fps:g} per second is not between 0 and {MAX_FPS:g}")
    return fps


class _CaptureLoop:
    """The thread that grabs, excludes, compresses and stores; shared by recorder and replay."""

    def __init__(
        self,
        target: CaptureTarget,
        fps: float,
        store: FrameStore,
        *,
        max_seconds: float | None,
        keep_seconds: float | None,
        excluded: Sequence[Rect],
        on_frame: FrameCallback | None,
        on_stopped: StoppedCallback | None,
        name: str,
    ) -> None:
        self.target = target
        self.interval = 1.0 / _check_rate(fps)
        self.store = store
        self.max_seconds = max_seconds
        self.keep_seconds = keep_seconds
        self._excluded: tuple[Rect, ...] = tuple(excluded)
        self._on_frame = on_frame
        self._on_stopped = on_stopped
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._lock = threading.Lock()
        self._compressor = FrameCompressor()
        self._ready = threading.Event()
        self.error = ""
        self.stop_reason: StopReason = "stopped"
        self.monitor: MonitorInfo | None = None
        self.region: Rect | None = None
        self.notes: tuple[str, ...] = ()
        self.t0 = 0.0
        self.wall0 = datetime.now(UTC)
        self.ended_at: float | None = None
        self.frames_grabbed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # ------------------------------------------------------------ control (any thread)
    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self.error and self.frames_grabbed == 0:
            self._thread.join()
            raise ClipError(self.error)

    def set_excluded(self, rects: Sequence[Rect]) -> None:
        with self._lock:
            self._excluded = tuple(rects)

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def wait(self, timeout: float | None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def now(self) -> float:
        """Seconds since the loop started (the frames' clock)."""
        return time.monotonic() - self.t0

    # ------------------------------------------------------------ the thread
    def _run(self) -> None:
        reason: StopReason = "stopped"
        try:
            with Capturer(self.target.display) as capturer:
                reason = self._loop(capturer)
        except (CaptureError, ClipError) as exc:
            self.error = str(exc)
            reason = "error"
        except Exception as exc:  # noqa: BLE001 - a failing callback or encoder ends the recording, not the process
            self.error = f"the recording stopped on an error ({type(exc).__name__}: {exc})"
            reason = "error"
        finally:
            if self.ended_at is None:
                self.ended_at = self.now()
            self.stop_reason = reason
            self._ready.set()
        if reason != "stopped" and self._on_stopped is not None:
            self._on_stopped(reason, self.error)

    def _grab(self, capturer: Capturer) -> Shot:
        if self.target.region is not None:
            return capturer.capture_region(self.target.region)
        return capturer.capture_monitor(self.target.monitor)

    def _loop(self, capturer: Capturer) -> StopReason:
        self.t0 = time.monotonic()
        self.wall0 = datetime.now(UTC)
        next_tick = 0.0
        while not self._stop.is_set():
            if not self._running.is_set():
                self._running.wait()
                # After a pause the screen may be anything: the next frame is stored whole.
                self._compressor.reset()
                next_tick = self.now()
                continue
            at = self.now()  # when the grab began: what the frame shows
            if self.monitor is None:
                self.t0 += at  # the clock starts with the first frame: it is at exactly 0.0
                self.wall0 = datetime.now(UTC)
                at = 0.0
            shot = self._grab(capturer)
            if self.monitor is None:
                self.monitor, self.region, self.notes = shot.monitor_info, shot.region, shot.notes
                self._ready.set()
            elif self.region is not None and (shot.width, shot.height) != (self.region.width, self.region.height):
                if self.keep_seconds is None:
                    self.ended_at = at
                    self.error = "the screen changed size while recording"
                    return "screen"
                self.store.clear()  # the replay starts over at the new size
                self._compressor.reset()
                self.region = shot.region
            pixels = _own_pixels(shot)
            with self._lock:
                excluded = self._excluded
            black_out(pixels, shot.width, shot.height, shot.region, excluded)
            frame = self._compressor.compress(pixels, shot.width, shot.height, at)
            if self.max_seconds is not None and at >= self.max_seconds:
                self.ended_at = self.max_seconds
                return "length"
            try:
                self.store.append(frame)
            except MemoryCapError as exc:
                self.ended_at = at
                self.error = str(exc)
                return "memory"
            self.frames_grabbed += 1
            if self.keep_seconds is not None:
                self.store.drop_before(at - self.keep_seconds)
            if self._on_frame is not None:
                self._on_frame(Progress(len(self.store), at, self.store.bytes_held))
            next_tick += self.interval
            if self.max_seconds is not None:
                next_tick = min(next_tick, self.max_seconds)
            late = self.now() - next_tick
            if late > self.interval:
                next_tick = self.now()  # fell behind (a slow grab): skip frames rather than burst
            self._stop.wait(max(0.0, next_tick - self.now()))
        return "stopped"

    def recording(self, frames: Sequence[Frame], end: float, origin: Origin) -> Recording:
        """``frames`` (on this loop's clock) up to ``end`` as a Recording starting at 0.0."""
        if not frames or self.monitor is None or self.region is None:
            raise ClipError(self.error or "nothing was recorded")
        start = frames[0].at
        moved = tuple(replace(frame, at=frame.at - start) for frame in frames)
        duration = max(end - start, moved[-1].at + 1e-3)
        return Recording(
            frames=moved,
            duration=duration,
            monitor=self.monitor,
            region=self.region,
            started_at=self.wall0 + timedelta(seconds=start),
            origin=origin,
            stop_reason=self.stop_reason,
            notes=self.notes,
        )


class ClipRecorder:
    """Records one clip: up to ``max_seconds`` at ``fps``, frames held in at most ``max_bytes``.

    ``start()`` begins at once on a thread of its own (raises :class:`ClipError` if the screen
    cannot be captured); ``stop()`` ends it and returns the :class:`Recording`; ``cancel()``
    ends it and drops every frame. The recording also ends by itself at its length or memory cap
    (``on_stopped(reason, message)`` says which, on the capture thread); ``stop()`` then returns
    what was recorded. ``on_frame(Progress)`` follows each frame, on the capture thread.
    """

    def __init__(
        self,
        target: CaptureTarget | None = None,
        *,
        fps: float = DEFAULT_FPS,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        max_bytes: int = DEFAULT_CLIP_MAX_BYTES,
        excluded: Sequence[Rect] = (),
        on_frame: FrameCallback | None = None,
        on_stopped: StoppedCallback | None = None,
    ) -> None:
        if not 0 < max_seconds <= MAX_SECONDS:
            raise ClipError(f"a clip lasts more than 0 and at most {MAX_SECONDS:g} seconds, not {max_seconds:g}")
        self._store = FrameStore(max_bytes)
        self._loop = _CaptureLoop(
            target or CaptureTarget(),
            fps,
            self._store,
            max_seconds=max_seconds,
            keep_seconds=None,
            excluded=excluded,
            on_frame=on_frame,
            on_stopped=on_stopped,
            name="showdesk-clip",
        )
        self._result: Recording | None = None

    def start(self) -> None:
        self._loop.start()

    def set_excluded(self, rects: Sequence[Rect]) -> None:
        """Rectangles (desktop coordinates) to black out from the next frame on."""
        self._loop.set_excluded(rects)

    @property
    def is_recording(self) -> bool:
        return self._loop.alive

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the recording ends by itself (a cap) or is stopped; False on ``timeout``."""
        return self._loop.wait(timeout)

    @property
    def progress(self) -> Progress:
        return Progress(len(self._store), self._loop.now(), self._store.bytes_held)

    def stop(self) -> Recording:
        """End the recording (if it still runs) and return it."""
        if self._result is None:
            self._loop.stop()
            end = self._loop.ended_at if self._loop.ended_at is not None else self._loop.now()
            self._result = self._loop.recording(self._store.frames(), end, "recording")
            self._store.clear()
        return self._result

    def cancel(self) -> None:
        """End the recording and forget every frame."""
        self._loop.stop()
        self._store.clear()
        self._result = None


class ReplayBuffer:
    """The instant replay: the last ``seconds`` of the screen, compressed in memory, never on disk.

    Off until :meth:`start`. Holds at most ``max_bytes`` of frames (the oldest go first when a busy
    screen would pass it, so it may then hold less than ``seconds``). :meth:`pause` stops grabbing
    (a locked screen); :meth:`resume` goes on. :meth:`snapshot` gives the last ``seconds`` as a
    :class:`Recording` (``origin="replay"``) while the buffer runs on; :meth:`stop` ends it and
    forgets every frame.
    """

    def __init__(
        self,
        target: CaptureTarget | None = None,
        *,
        seconds: float = DEFAULT_REPLAY_SECONDS,
        fps: float = DEFAULT_FPS,
        max_bytes: int = DEFAULT_REPLAY_MAX_BYTES,
        excluded: Sequence[Rect] = (),
        on_stopped: StoppedCallback | None = None,
    ) -> None:
        if not 0 < seconds <= MAX_SECONDS:
            raise ClipError(f"the replay keeps more than 0 and at most {MAX_SECONDS:g} seconds, not {seconds:g}")
        self.seconds = seconds
        self._store = FrameStore(max_bytes, drop_oldest=True)
        self._loop = _CaptureLoop(
            target or CaptureTarget(),
            fps,
            self._store,
            max_seconds=None,
            keep_seconds=seconds,
            excluded=excluded,
            on_frame=None,
            on_stopped=on_stopped,
            name="showdesk-replay",
        )

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
        self._store.clear()

    def pause(self) -> None:
        """Stop grabbing (the screen is locked); what is held stays until it ages out."""
        self._loop.pause()

    def resume(self) -> None:
        self._loop.resume()

    @property
    def is_paused(self) -> bool:
        return self._loop.paused

    @property
    def is_running(self) -> bool:
        return self._loop.alive

    @property
    def bytes_held(self) -> int:
        return self._store.bytes_held

    @property
    def frames_grabbed(self) -> int:
        """Frames grabbed since start (a counter for status displays and tests; none while paused)."""
        return self._loop.frames_grabbed

    def clock(self) -> float:
        """Seconds on the replay's clock (since it started): the time base of its frames."""
        return self._loop.now()

    @property
    def max_bytes(self) -> int:
        return self._store.max_bytes

    def set_excluded(self, rects: Sequence[Rect]) -> None:
        self._loop.set_excluded(rects)

    def snapshot(self) -> Recording:
        """The last ``seconds`` seconds as a recording (raises :class:`ClipError` if nothing is held)."""
        now = self._loop.now()
        cut = now - self.seconds
        frames = list(self._store.frames())
        while len(frames) > 1 and frames[1].at <= cut:
            frames.pop(0)
        if frames and frames[0].at < cut:
            frames[0] = replace(frames[0], at=cut)  # shown from the cut on
        return self._loop.recording(frames, now, "replay")
