"""Recordings made from known pixels, without a screen: for the tests of trimming, storing and encoding."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from PIL import Image, ImageDraw

from agent.capture import MonitorInfo, Rect
from agent.clips import Recording
from agent.clips.frames import Frame, FrameCompressor

WIDTH, HEIGHT = 160, 120
MONITOR = MonitorInfo(index=1, rect=Rect(0, 0, WIDTH, HEIGHT), name="TEST")


def bgrx(image: Image.Image) -> bytes:
    return image.convert("RGB").tobytes("raw", "BGRX")


def marked_frame(number: int, width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    """A grey picture with a red square whose place tells which frame it is (10 pixels a frame)."""
    image = Image.new("RGB", (width, height), (90, 90, 90))
    ImageDraw.Draw(image).rectangle((number * 10, 40, number * 10 + 9, 49), fill=(230, 20, 20))
    return image


def square_at(image: Image.Image) -> int | None:
    """Which frame's square ``image`` shows (the inverse of ``marked_frame``), or None."""
    for number in range(image.width // 10):
        if image.getpixel((number * 10 + 5, 45)) == (230, 20, 20):
            return number
    return None


def recording(
    pictures: Sequence[Image.Image], times: Sequence[float], duration: float, *, origin: str = "recording"
) -> Recording:
    compressor = FrameCompressor()
    frames: list[Frame] = [
        compressor.compress(bgrx(picture), picture.width, picture.height, at)
        for picture, at in zip(pictures, times, strict=True)
    ]
    width, height = pictures[0].size
    return Recording(
        frames=tuple(frames),
        duration=duration,
        monitor=MonitorInfo(index=1, rect=Rect(0, 0, width, height), name="TEST"),
        region=Rect(0, 0, width, height),
        started_at=datetime(2026, 12, 6, 12, 0, tzinfo=UTC),
        origin=origin,  # type: ignore[arg-type]
    )


def marked_recording(count: int = 10, interval: float = 0.2) -> Recording:
    """Frame n shows square n, at n × ``interval`` seconds; the recording lasts ``count`` intervals."""
    return recording(
        [marked_frame(n) for n in range(count)], [n * interval for n in range(count)], count * interval
    )
