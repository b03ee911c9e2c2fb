"""Shots the agent makes from other shots: a region cut from a frozen desktop, a portal's picture.

No Qt here; these run on worker threads.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from PIL import Image

from agent.capture import CaptureError, MonitorInfo, Rect, Shot, plan_region
from agent.schema import MAX_IMAGE_PIXELS


def monitor_at(point: tuple[int, int] | None, monitors: Sequence[MonitorInfo]) -> MonitorInfo:
    """The real monitor under ``point`` (desktop units); the primary, or the first, otherwise."""
    real = [m for m in monitors if m.index != 0]
    if not real:
        raise CaptureError("the desktop reports no monitors; is a screen connected and switched on?")
    if point is not None:
        x, y = point
        for monitor in real:
            rect = monitor.rect
            if rect.left <= x < rect.right and rect.top <= y < rect.bottom:
                return monitor
    return next((m for m in real if m.primary), real[0])


def crop_shot(desktop: Shot, region: Rect, monitors: Sequence[MonitorInfo]) -> Shot:
    """The part of a frozen desktop shot that ``region`` (desktop units) covers, as its own shot.

    The monitor and notes are what ``Capturer.capture_region`` would record for the same region
    (``plan_region``). Where the desktop counts in points (macOS), the shot's pixels per point
    are applied, so the cut holds every pixel of the region.
    """
    bounds = desktop.region
    inside = region.intersection(bounds)
    if inside is None:
        raise CaptureError(f"the region {region.describe()} is outside the captured desktop {bounds.describe()}")
    monitor, notes = plan_region(inside, monitors)
    scale_x = desktop.width / bounds.width
    scale_y = desktop.height / bounds.height
    box = (
        round((inside.left - bounds.left) * scale_x),
        round((inside.top - bounds.top) * scale_y),
        round((inside.right - bounds.left) * scale_x),
        round((inside.bottom - bounds.top) * scale_y),
    )
    image = desktop.image().crop(box)
    pixels = memoryview(image.tobytes("raw", "RGB")).toreadonly()
    return Shot(
        pixels=pixels,
        width=image.width,
        height=image.height,
        monitor_info=monitor,
        region=inside,
        captured_at=desktop.captured_at,
        pixel_format="RGB",
        capture_method=desktop.capture_method,
        notes=tuple(dict.fromkeys((*desktop.notes, *notes))),
    )


def shot_from_image_bytes(
    data: bytes,
    *,
    captured_at: datetime,
    capture_method: str,
    desktop: Rect | None = None,
    notes: Sequence[str] = (),
) -> Shot:
    """A shot from an image file another program made (the desktop portal's screenshot).

    ``desktop`` is where the picture lies on the desktop (default: at 0,0, its own size).
    """
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > MAX_IMAGE_PIXELS:
                raise CaptureError(
                    f"the screenshot is {opened.width}x{opened.height} pixels; the limit is {MAX_IMAGE_PIXELS}"
                )
            image = opened.convert("RGB")
    except (OSError, Image.DecompressionBombError) as exc:
        raise CaptureError(f"the screenshot file cannot be read as an image: {exc}") from exc
    rect = desktop or Rect(0, 0, image.width, image.height)
    monitor = MonitorInfo(index=0, rect=rect, name=None, scale=round(image.width / rect.width, 3) or 1.0)
    return Shot(
        pixels=memoryview(image.tobytes("raw", "RGB")).toreadonly(),
        width=image.width,
        height=image.height,
        monitor_info=monitor,
        region=rect,
        captured_at=captured_at,
        pixel_format="RGB",
        capture_method=capture_method,
        notes=tuple(notes),
    )


def with_notes(shot: Shot, *notes: str) -> Shot:
    return replace(shot, notes=tuple(dict.fromkeys((*shot.notes, *notes))))
