"""Turning shots into image files: PNG, WebP or JPEG (the formats a step image may have).

The default is lossless WebP at libwebp's fastest setting. It was chosen by measurement
(``bench/capture.py``, figures in ``bench/README.md``): on a busy 1080p desktop it encodes about
five times faster than Pillow's default PNG (compress_level 6) and is about a fifth smaller,
and it is faster than every Pillow PNG level while smaller than all of them. Lossy WebP and JPEG are
there for slow links.

Encoding runs off the caller's path: :func:`encode_async` hands the work to a thread pool and
returns a ``Future`` at once, so a window can show the frozen frame while it is encoded. Threads
(not processes) because Pillow's encoders release the GIL, so encoding still uses another core
and the pixels are shared instead of being copied into a worker process.

A process that captures again and again (the agent, the kiosk) should call
:func:`keep_working_memory` once: without it every encode spends about a third of its time
faulting in fresh memory.

Importing this module loads neither Pillow, Qt nor pydantic: Pillow comes with the first image
(``Shot.image()``), so a command-line capture chooses its format before the grab and loads the
encoder after it; the report schema is imported only by :func:`step_draft`.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Final, Literal

from agent.capture import Shot

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future, ThreadPoolExecutor

    from PIL import Image

    from agent.bundle import StepDraft

MediaType = Literal["image/png", "image/jpeg", "image/webp"]
_EXTENSIONS: Final[Mapping[str, str]] = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
# libwebp refuses larger images; a wider desktop falls back to PNG (or JPEG when lossy).
WEBP_MAX_DIMENSION: Final = 16383


class _NamedBuffer(io.BytesIO):
    """An in-memory file with a name, whose extension tells ``Image.save()`` the format.

    Pillow then imports only that format's plugin; given the format by name, it first imports
    five others (BMP, GIF, JPEG, PPM, PNG: about 10 ms of a command-line capture), and with
    neither it imports every plugin (about 40 ms).
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


@dataclass(frozen=True)
class ImageFormat:
    """How to encode: a Pillow format name and its save options."""

    name: str
    media_type: MediaType
    pillow_format: Literal["PNG", "WEBP", "JPEG"]
    lossless: bool
    options: Mapping[str, object] = field(default_factory=dict)

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.media_type]

    @classmethod
    def parse(cls, name: str) -> ImageFormat:
        """The format called ``name``: ``default``, ``webp-lossless``, ``png``, ``webp`` or ``jpeg``."""
        if name == "default":
            return DEFAULT
        try:
            return FORMATS[name]
        except KeyError:
            choices = ", ".join(["default", *FORMATS])
            raise ValueError(f"unknown image format {name!r}; choose one of {choices}") from None


WEBP_LOSSLESS: Final = ImageFormat(
    "webp-lossless",
    "image/webp",
    "WEBP",
    True,
    # method 0 / quality 0 is libwebp's fastest lossless preset; exact keeps the colour under
    # transparent pixels, so an RGBA mark-up layer round-trips exactly too.
    {"lossless": True, "method": 0, "quality": 0, "exact": True},
)
PNG: Final = ImageFormat("png", "image/png", "PNG", True, {"compress_level": 1})
WEBP_LOSSY: Final = ImageFormat("webp", "image/webp", "WEBP", False, {"quality": 80, "method": 2})
JPEG: Final = ImageFormat("jpeg", "image/jpeg", "JPEG", False, {"quality": 85})
DEFAULT: Final = WEBP_LOSSLESS
# A walk-up kiosk must stay within a memory bound at every moment of a visit (issue 24), and its
# captures are decoded again and again (the bar's and the screen's thumbnails, the mark-up
# editor, the flatten). On a 1080p screen lossless WebP's encoder passes 30-40 MB of working
# memory and each decode of its file 20 MB (Qt) or 33 MB (Pillow); PNG at level 1 needs about
# 1-4 MB to encode and one copy of the picture to decode, at similar speed, in larger files
# (about the same on a plain desktop, up to 1.6 times on photo-like pixels). Both are lossless.
KIOSK_CAPTURE_FORMAT: Final = PNG
FORMATS: Final[Mapping[str, ImageFormat]] = {f.name: f for f in (WEBP_LOSSLESS, PNG, WEBP_LOSSY, JPEG)}
_FORMAT_BY_SUFFIX: Final[Mapping[str, ImageFormat]] = {
    ".webp": WEBP_LOSSLESS,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
}


def format_for_path(path: str | os.PathLike[str]) -> ImageFormat:
    """The format a file name asks for by its suffix (.webp lossless, .png, .jpg/.jpeg)."""
    suffix = PurePath(path).suffix.lower()
    try:
        return _FORMAT_BY_SUFFIX[suffix]
    except KeyError:
        choices = ", ".join(_FORMAT_BY_SUFFIX)
        raise ValueError(f"cannot tell the image format of {str(path)!r}; end the name with {choices}") from None


@dataclass(frozen=True, eq=False)
class EncodedImage:
    """An encoded image: its bytes, media type and size in pixels."""

    data: bytes
    media_type: MediaType
    width: int
    height: int

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.media_type]


def _fitting_format(fmt: ImageFormat, width: int, height: int) -> ImageFormat:
    if fmt.pillow_format == "WEBP" and max(width, height) > WEBP_MAX_DIMENSION:
        return PNG if fmt.lossless else JPEG
    return fmt


def encode(source: Shot | Image.Image, fmt: ImageFormat = DEFAULT) -> EncodedImage:
    """Encode a shot (or a Pillow image, such as a marked-up step) in ``fmt``.

    A WebP request for an image wider or taller than WebP allows (16383 pixels) is written as
    PNG (lossless) or JPEG (lossy) instead; the result's ``media_type`` says which.
    """
    image = source.image() if isinstance(source, Shot) else source
    fmt = _fitting_format(fmt, image.width, image.height)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    if image.mode == "RGBA" and fmt.pillow_format == "JPEG":
        image = image.convert("RGB")
    buffer = _NamedBuffer(f"image.{fmt.extension}")
    image.save(buffer, None, **fmt.options)
    return EncodedImage(buffer.getvalue(), fmt.media_type, image.width, image.height)


# glibc's mallopt parameters (malloc.h) and the largest mmap threshold it accepts on 64-bit.
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
_MMAP_THRESHOLD_BYTES: Final = 32 * 1024 * 1024
_TRIM_THRESHOLD_BYTES: Final = 128 * 1024 * 1024


def keep_working_memory() -> bool:
    """Let encodes reuse their working memory in this process (Linux with glibc); True if applied.

    Each encode allocates several buffers of 4 bytes per pixel (Pillow's image, libwebp's ARGB
    copy, its hash chain...). glibc hands blocks that large back to the system when they are
    freed, so the next encode touches fresh memory again: about 10,000 page faults and a third
    of a 1080p encode (bench/capture.py). This raises glibc's mmap and trim thresholds for the
    process, so such blocks (up to 32 MB each) stay in its heap: a 1080p encode then takes about
    two thirds of the time, and the process keeps about 50 MB it would otherwise give back
    (more for larger screens, up to 128 MB of free heap).

    For long-running processes that capture again and again (the agent, the kiosk); a one-shot
    command gains nothing. It affects every allocation of the process, which is why it is a
    call and not a side effect of importing this module.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)
    )


# glibc's own defaults for the two thresholds (malloc.h: DEFAULT_MMAP_THRESHOLD, DEFAULT_TRIM_THRESHOLD).
_DEFAULT_MMAP_THRESHOLD_BYTES: Final = 128 * 1024
_DEFAULT_TRIM_THRESHOLD_BYTES: Final = 128 * 1024


def release_working_memory() -> bool:
    """Undo :func:`keep_working_memory` and hand the kept memory back to the system; True if applied.

    For a process that keeps the encoder's memory only while captures come in bursts (the agent
    after a capture handed over by the command line) and gives it back once they stop. glibc's
    thresholds go back to their defaults (fixed, no longer adapting) and ``malloc_trim`` returns
    every free page.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        mallopt, malloc_trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    malloc_trim.argtypes = [ctypes.c_size_t]
    applied = bool(mallopt(_M_MMAP_THRESHOLD, _DEFAULT_MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD_BYTES)
    )
    malloc_trim(0)
    return applied


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _shared_executor() -> Executor:
    global _executor  # one pool for the process, made on first use
    with _executor_lock:
        if _executor is None:
            # Imported here: a one-monitor command-line capture never needs the pool.
            from concurrent.futures import ThreadPoolExecutor

            _executor = ThreadPoolExecutor(
                max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="showdesk-encode"
            )
        return _executor


def encode_async(
    source: Shot | Image.Image, fmt: ImageFormat = DEFAULT, *, executor: Executor | None = None
) -> Future[EncodedImage]:
    """Start encoding on a worker thread and return at once; the shot stays usable meanwhile.

    ``executor`` defaults to a process-wide pool sized to the CPU count (at most 4).
    """
    return (executor or _shared_executor()).submit(encode, source, fmt)


def encode_all(sources: Iterable[Shot | Image.Image], fmt: ImageFormat = DEFAULT) -> list[EncodedImage]:
    """Encode several shots (one per monitor, say) in parallel; results in the same order."""
    items = list(sources)
    if len(items) == 1:
        return [encode(items[0], fmt)]
    futures = [encode_async(item, fmt) for item in items]
    return [future.result() for future in futures]


def step_draft(
    shot: Shot, encoded: EncodedImage | None = None, *, fmt: ImageFormat = DEFAULT, caption: str = ""
) -> StepDraft:
    """A report step from a shot: its image (``encoded``, or encoded now in ``fmt``) and its facts."""
    from agent.bundle import StepDraft
    from agent.schema import MAX_SHORT_TEXT_CHARS

    image = encoded if encoded is not None else encode(shot, fmt)
    return StepDraft(
        image=image.data,
        width=image.width,
        height=image.height,
        captured_at=shot.captured_at,
        caption=caption,
        monitor=shot.monitor,
        capture_method=shot.capture_method,
        capture_notes=shot.notes_text[:MAX_SHORT_TEXT_CHARS],
    )
