"""A recording in memory: its frames, where and when they were taken, and trimming it.

A :class:`Recording` is what :class:`agent.clips.ClipRecorder` returns on stop and what
:meth:`agent.clips.ReplayBuffer.snapshot` returns: frames compressed in memory (see
``agent.clips.frames``), their times in seconds from the first frame, and how long the
recording lasts (the last frame stays on screen until then). It is a value: trimming makes
a new one that shares the frames, so undoing a trim costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from agent.capture import MonitorInfo, Rect
from agent.clips.frames import Frame, FrameDecoder

if TYPE_CHECKING:
    from PIL import Image

Origin = Literal["recording", "replay"]
# Why a recording ended: asked to, its length cap, its memory cap, the screen changed size, an error.
StopReason = Literal["stopped", "length", "memory", "screen", "error"]


class ClipError(RuntimeError):
    """A recording cannot be made or used; the message says why, for a person to read."""


@dataclass(frozen=True)
class Recording:
    """Frames of one monitor or region, oldest first, the first at time 0.0.

    ``duration`` (seconds) runs from the first frame to the end of the last one. ``started_at``
    is the wall-clock time of the first frame. ``region`` is where on the virtual desktop the
    frames were taken; ``monitor`` the screen they came from.
    """

    frames: tuple[Frame, ...]
    duration: float
    monitor: MonitorInfo
    region: Rect
    started_at: datetime
    origin: Origin = "recording"
    stop_reason: StopReason = "stopped"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.frames:
            raise ClipError("a recording needs at least one frame")
        if self.frames[0].at != 0.0:
            raise ValueError("a recording's first frame is at time 0.0")
        if self.duration <= self.frames[-1].at:
            raise ValueError("a recording lasts past its last frame's start")

    @property
    def width(self) -> int:
        return self.frames[0].width

    @property
    def height(self) -> int:
        return self.frames[0].height

    @property
    def frame_times(self) -> tuple[float, ...]:
        """Each frame's time in seconds from the start: for a trim slider's ticks."""
        return tuple(frame.at for frame in self.frames)

    def frame_index_at(self, seconds: float) -> int:
        """The frame on screen at ``seconds`` (the last one that started at or before it)."""
        index = 0
        for number, frame in enumerate(self.frames):
            if frame.at <= seconds:
                index = number
        return index

    def images(self) -> Iterator[Image.Image]:
        """Every frame as a Pillow RGB image, decoded one at a time in order."""
        decoder = FrameDecoder()
        for frame in self.frames:
            yield decoder.image(frame)

    def image(self, index: int) -> Image.Image:
        """One frame as a Pillow RGB image (a thumbnail for the trim view)."""
        return FrameDecoder().image(self.frames[index])

    def trimmed(self, start: float, end: float) -> Recording:
        """What was on screen from ``start`` to ``end`` seconds, as a recording of its own.

        Keeps the frame on screen at ``start`` (it is shown from ``start`` on) and every frame that
        starts before ``end``; times move so the kept part starts at 0.0. Both ends are clamped to
        the recording; ``end`` must lie after ``start``.
        """
        start = max(0.0, start)
        end = min(self.duration, end)
        if end <= start:
            raise ClipError(f"a trim must end after it starts (from {start:.2f} s to {end:.2f} s)")
        first = self.frame_index_at(start)
        kept = [frame for frame in self.frames[first:] if frame is self.frames[first] or frame.at < end]
        moved = tuple(replace(frame, at=max(0.0, frame.at - start)) for frame in kept)
        return replace(
            self,
            frames=moved,
            duration=end - start,
            started_at=self.started_at + timedelta(seconds=start),
        )
