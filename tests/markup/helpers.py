"""Test images whose every pixel is known, and ways to compare them."""

from __future__ import annotations

import io

from PIL import Image

from agent.markup import FlattenResult

BLUE = 200


def source_pixel(x: int, y: int) -> tuple[int, int, int]:
    """The gradient's colour at (x, y): unique for every pixel of images up to 256 x 256 tiles."""
    return x % 256, y % 256, BLUE - (x // 256 + y // 256) % 8


def gradient(width: int = 240, height: int = 160) -> Image.Image:
    image = Image.new("RGB", (width, height))
    image.putdata([source_pixel(x, y) for y in range(height) for x in range(width)])
    return image


def png_bytes(image: Image.Image, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **params)
    return buffer.getvalue()


def decoded(result: FlattenResult) -> Image.Image:
    image = Image.open(io.BytesIO(result.image_bytes))
    image.load()
    return image


def changed_pixels(after: Image.Image, before: Image.Image, offset: tuple[int, int] = (0, 0)) -> set[tuple[int, int]]:
    """Pixels of ``after`` that differ from ``before`` (``after`` may be a crop starting at ``offset``)."""
    after_px, before_px = after.convert("RGB").load(), before.convert("RGB").load()
    assert after_px is not None and before_px is not None
    dx, dy = offset
    return {
        (x + dx, y + dy)
        for y in range(after.height)
        for x in range(after.width)
        if after_px[x, y] != before_px[x + dx, y + dy]
    }


def box_pixels(left: int, top: int, right: int, bottom: int) -> set[tuple[int, int]]:
    return {(x, y) for y in range(top, bottom) for x in range(left, right)}
