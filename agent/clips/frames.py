"""Frames kept compressed in memory: bands that did not change are shared, not stored again.

A screen at 5 frames per second mostly shows what it showed 200 ms before. Each grabbed frame
is cut into horizontal bands of :data:`BAND_ROWS` rows; a band equal to the same band of the
previous frame is the *same bytes object* (no copy, no compression, no memory), and a changed
band is compressed with zlib at level 1 (the fastest; a changed 1080p band of a busy desktop
takes about 2 ms). An idle desktop therefore costs one grab and one ``memcmp`` per frame.

:class:`FrameStore` holds frames and counts the bytes they hold, each shared band once. It has a
hard cap in bytes: a recording stops at it, an instant replay drops its oldest frames to stay
under it. Nothing here touches the disk.

Pixels are BGRX (four bytes a pixel, as screens hand them out and ``agent.capture.Shot`` keeps
them); :meth:`FrameStore.image` and :class:`FrameDecoder` give Pillow RGB images back.
"""

from __future__ import annotations

import threading
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from PIL import Image

BAND_ROWS: Final = 32
BYTES_PER_PIXEL: Final = 4
_ZLIB_LEVEL: Final = 1


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame: when it was grabbed (seconds from the recording's start) and its bands.

    ``bands`` are zlib-compressed runs of :data:`BAND_ROWS` rows (the last may be shorter);
    equal bands of consecutive frames are one shared object.
    """

    at: float
    width: int
    height: int
    bands: tuple[bytes, ...]

    @property
    def raw_size(self) -> int:
        return self.width * self.height * BYTES_PER_PIXEL


class FrameCompressor:
    """Turns grabbed BGRX frames into :class:`Frame` objects, sharing bands with the previous frame.

    It keeps the previous frame's raw pixels (one uncompressed frame: 8 MB at 1080p) to compare
    against. Used by one thread at a time (the capture loop's).
    """

    def __init__(self) -> None:
        self._previous_raw: bytes | bytearray | None = None
        self._previous: Frame | None = None

    def reset(self) -> None:
        """Forget the previous frame: the next one is stored whole (after a pause or a resize)."""
        self._previous_raw = None
        self._previous = None

    def compress(self, pixels: bytes | bytearray, width: int, height: int, at: float) -> Frame:
        """The frame of ``pixels`` (``height`` rows of ``width`` BGRX pixels) grabbed at ``at``."""
        stride = width * BYTES_PER_PIXEL
        if len(pixels) != stride * height:
            raise ValueError(f"{width}x{height} BGRX needs {stride * height} bytes, got {len(pixels)}")
        previous = self._previous
        same_size = previous is not None and (previous.width, previous.height) == (width, height)
        if same_size and previous is not None and pixels == self._previous_raw:
            frame = Frame(at, width, height, previous.bands)  # nothing changed: one memcmp, no copy
        else:
            band_bytes = stride * BAND_ROWS
            old = self._previous_raw if same_size else None
            bands: list[bytes] = []
            for index, start in enumerate(range(0, len(pixels), band_bytes)):
                band = pixels[start : start + band_bytes]
                if old is not None and previous is not None and old[start : start + band_bytes] == band:
                    bands.append(previous.bands[index])
                else:
                    bands.append(zlib.compress(band, _ZLIB_LEVEL))
            frame = Frame(at, width, height, tuple(bands))
        self._previous_raw = pixels
        self._previous = frame
        return frame


class FrameDecoder:
    """Decodes frames in order, decompressing only the bands that changed since the last one.

    Used by encoders and viewers that walk a recording from start to end.
    """

    def __init__(self) -> None:
        self._bands: tuple[bytes, ...] = ()
        self._raw: list[bytes] = []

    def pixels(self, frame: Frame) -> bytes:
        """The frame's BGRX pixels."""
        raw = [
            self._raw[i] if i < len(self._bands) and self._bands[i] is band else zlib.decompress(band)
            for i, band in enumerate(frame.bands)
        ]
        self._bands, self._raw = frame.bands, raw
        return b"".join(raw)

    def image(self, frame: Frame) -> Image.Image:
        """The frame as a Pillow RGB image."""
        from PIL import Image

        return Image.frombuffer("RGB", (frame.width, frame.height), self.pixels(frame), "raw", "BGRX", 0, 1)


class MemoryCapError(RuntimeError):
    """A frame does not fit under the store's cap (a recording ends here)."""


class FrameStore:
    """Frames in time order with the bytes they hold counted, each shared band once.

    ``max_bytes`` is a hard cap on those bytes. :meth:`append` refuses a frame that would pass it
    (``drop_oldest=False``, a recording) or drops the oldest frames until it fits (``drop_oldest=True``,
    the instant replay). Safe to use from several threads: the capture loop appends while the
    GUI reads a snapshot.
    """

    def __init__(self, max_bytes: int, *, drop_oldest: bool = False) -> None:
        if max_bytes <= 0:
            raise ValueError("the memory cap must be positive")
        self.max_bytes = max_bytes
        self._drop_oldest = drop_oldest
        self._frames: deque[Frame] = deque()
        # id(band) -> (band, how many held frames use it): a shared band counts once.
        self._bands: dict[int, tuple[bytes, int]] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------ reading
    @property
    def bytes_held(self) -> int:
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def frames(self) -> tuple[Frame, ...]:
        """The frames held now, oldest first (a snapshot: later appends do not change it)."""
        with self._lock:
            return tuple(self._frames)

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.frames())

    # ------------------------------------------------------------ writing
    def append(self, frame: Frame) -> None:
        """Hold ``frame``; raises :class:`MemoryCapError` if it cannot fit (see the class)."""
        with self._lock:
            added = sum(len(band) for band in _unique(frame.bands) if id(band) not in self._bands)
            if added > self.max_bytes:
                raise MemoryCapError(f"one frame needs {added} bytes; the cap is {self.max_bytes}")
            if self._bytes + added > self.max_bytes:
                if not self._drop_oldest:
                    raise MemoryCapError(f"the memory cap of {self.max_bytes} bytes is reached")
                while self._frames and self._bytes + self._added(frame) > self.max_bytes:
                    self._release(self._frames.popleft())
            for band in frame.bands:
                held = self._bands.get(id(band))
                if held is None:
                    self._bands[id(band)] = (band, 1)
                    self._bytes += len(band)
                else:
                    self._bands[id(band)] = (band, held[1] + 1)
            self._frames.append(frame)

    def drop_before(self, at: float) -> None:
        """Let go of every frame grabbed before ``at``, but keep the one on screen at ``at``."""
        with self._lock:
            while len(self._frames) > 1 and self._frames[1].at <= at:
                self._release(self._frames.popleft())

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._bands.clear()
            self._bytes = 0

    def _added(self, frame: Frame) -> int:
        return sum(len(band) for band in _unique(frame.bands) if id(band) not in self._bands)

    def _release(self, frame: Frame) -> None:
        for band in frame.bands:
            held_band, count = self._bands[id(band)]
            if count == 1:
                del self._bands[id(band)]
                self._bytes -= len(held_band)
            else:
                self._bands[id(band)] = (held_band, count - 1)


def _unique(bands: Sequence[bytes]) -> list[bytes]:
    seen: set[int] = set()
    unique = []
    for band in bands:
        if id(band) not in seen:
            seen.add(id(band))
            unique.append(band)
    return unique
