"""Checks on uploaded images before they are trusted: type by content, pixel count, completeness.

Pillow's own decompression-bomb guard is switched off for the server process
(``configure_pillow``) because the server enforces its own configurable cap, right after
the header is read and before any pixel is decoded. Where Pillow's guard is still on
(a caller that did not configure it), its error, or its warning when warnings are
errors, is read as "over the cap".
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from PIL import Image

from agent.schema import sniff_image_type

_PILLOW_FORMATS: Final = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
# Decoding a JPEG at 1/8 scale still reads every byte (so truncation shows) at a fraction of the cost.
_JPEG_DRAFT_SCALE: Final = 8


class ImageRejectedError(ValueError):
    """The file is not an acceptable image; the message names the file and the cause."""


def configure_pillow() -> None:
    """Leave pixel limits to ``inspect_image`` (called once at server start)."""
    Image.MAX_IMAGE_PIXELS = None


def inspect_image(path: Path, label: str, claimed_type: str, max_pixels: int) -> tuple[int, int]:
    """Check the image at ``path`` and return its (width, height).

    ``label`` names the file in errors (its path in the report). Raises ``ImageRejectedError``
    when the content is not the claimed PNG/JPEG/WebP, the header announces more than
    ``max_pixels`` pixels, or the file is truncated or corrupt.
    """
    with path.open("rb") as stream:
        sniffed = sniff_image_type(stream.read(16))
    if sniffed is None:
        raise ImageRejectedError(f"{label} claims {claimed_type} but its content is not a PNG, JPEG or WebP image")
    if sniffed != claimed_type:
        raise ImageRejectedError(f"{label} claims {claimed_type} but its content is {sniffed}")
    try:
        image = Image.open(path, formats=[_PILLOW_FORMATS[sniffed]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejectedError(f"{label} has more pixels than the limit of {max_pixels:,} pixels") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejectedError(f"{label} is not a readable {sniffed} image: {exc}") from None
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejectedError(
                f"{label} is {width}×{height} = {width * height:,} pixels; the limit is {max_pixels:,} pixels"
            )
        try:
            _check_complete(image, sniffed)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageRejectedError(f"{label} is truncated or corrupt ({sniffed}): {exc}") from None
    return width, height


def _check_complete(image: Image.Image, media_type: str) -> None:
    """Read the whole file once, bounded by the pixel cap already checked."""
    if media_type == "image/png":
        # Walks every chunk and checks its CRC up to IEND without inflating pixels.
        image.verify()
    elif media_type == "image/jpeg":
        image.draft("RGB", (max(1, image.width // _JPEG_DRAFT_SCALE), max(1, image.height // _JPEG_DRAFT_SCALE)))
        image.load()
    else:
        image.load()
