"""Checks on uploaded images before they are trusted: type by content, pixel count, completeness.

Nothing here decodes a pixel. A request that carries an image costs a walk over its
container structure: for PNG every chunk (length, type and CRC) from the IHDR to the
IEND; for JPEG every marker segment from SOI to EOI, skipping the entropy-coded data of
each scan by looking for its next marker; for WebP the RIFF container, every chunk in
it, and the few header bytes of the VP8, VP8L or VP8X chunk that give the size. That is
linear in the file's bytes, in C for the bulk of them (``zlib.crc32``, a regular
expression), and takes constant memory: the file is mapped, not read into a buffer.

Decoding on the request path would let a 34-byte lossless WebP that announces 7000×7000
pixels (under any sensible pixel cap) cost ~200 MB of memory and most of a second of CPU,
per request: the cost would follow the header, not the bytes received. The server never
needs pixels (it stores and serves the files as they are; viewers decode them), so it
never decodes.

Clips (animated WebP, ``inspect_clip``) are checked the same way: every ANMF frame's header is
read (its rectangle inside the canvas, its duration) and its one bitstream's header, never its
pixels, so the frame count × canvas pixels and the total duration are known without decoding a
frame. Any animated WebP, a step's too, is held to the bound on frames × pixels.

What a structural walk cannot see is image data that is well framed but wrong inside
(a PNG whose IDAT passes its CRC but does not inflate, a WebP bitstream that ends early
inside its own chunk). Such a file can only come from a client that wrote it so: transfer
damage and truncation break a CRC, a length or the container size, and are refused.
"""

from __future__ import annotations

import mmap
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from agent.schema import (
    MAX_CLIP_DURATION_MS,
    MAX_CLIP_FRAME_PIXELS,
    MAX_CLIP_FRAMES,
    AnimationFacts,
    sniff_image_type,
)

T = TypeVar("T")

# Real files have tens of chunks or segments, a few thousand at most (libpng's 8 KB IDAT chunks
# of a large image, the frames of a long animation).
_MAX_STRUCTURES: Final = 20_000


class ImageRejectedError(ValueError):
    """The file is not an acceptable image; the message names the file and the cause."""


class _MalformedError(Exception):
    """A structural fault, described for a person; ``inspect_image`` adds the file and format."""


def inspect_clip(path: Path, label: str, max_pixels: int) -> AnimationFacts:
    """Check the WebP clip at ``path`` without decoding a frame and return its facts.

    A clip is an animated WebP, or a still one (a screen that never changed: one frame, whose
    duration only the manifest gives; ``animated`` is False). Raises ``ImageRejectedError`` as
    :func:`inspect_image` does, and when the frames × canvas pixels pass the bound on clips.
    """
    _sniff(path, label, "image/webp")
    facts = _inspect(path, label, "image/webp", max_pixels, _webp_facts)
    if facts.frames > MAX_CLIP_FRAMES:
        raise ImageRejectedError(f"{label} has {facts.frames:,} frames; a clip has at most {MAX_CLIP_FRAMES:,}")
    if facts.duration_ms > MAX_CLIP_DURATION_MS:
        raise ImageRejectedError(
            f"{label} lasts {facts.duration_ms:,} ms; a clip lasts at most {MAX_CLIP_DURATION_MS:,} ms"
        )
    return facts


def inspect_image(path: Path, label: str, claimed_type: str, max_pixels: int) -> tuple[int, int]:
    """Check the image at ``path`` without decoding it and return its (width, height).

    ``label`` names the file in errors (its path in the report). Raises ``ImageRejectedError``
    when the content is not the claimed PNG/JPEG/WebP, its header announces more than
    ``max_pixels`` pixels, or its structure is truncated or corrupt.
    """
    sniffed = _sniff(path, label, claimed_type)
    return _inspect(path, label, sniffed, max_pixels, _WALKERS[sniffed])


def _sniff(path: Path, label: str, claimed_type: str) -> str:
    with path.open("rb") as stream:
        sniffed = sniff_image_type(stream.read(16))
    if sniffed is None:
        raise ImageRejectedError(f"{label} claims {claimed_type} but its content is not a PNG, JPEG or WebP image")
    if sniffed != claimed_type:
        raise ImageRejectedError(f"{label} claims {claimed_type} but its content is {sniffed}")
    return sniffed


def _inspect(
    path: Path, label: str, media_type: str, max_pixels: int, walker: Callable[[memoryview, str, int], T]
) -> T:
    """Map the file (whose type was sniffed) and walk it with ``walker``."""
    with path.open("rb") as stream:
        # The sniffed signature is at least 3 bytes, so the file is not empty and can be mapped.
        mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        outcome = _walk(mapped, media_type, label, max_pixels, walker)
    finally:
        mapped.close()
    if isinstance(outcome, str):
        raise ImageRejectedError(outcome)
    return outcome


def _walk(
    mapped: mmap.mmap, media_type: str, label: str, max_pixels: int, walker: Callable[[memoryview, str, int], T]
) -> T | str:
    """What ``walker`` finds, or why the file is refused.

    A refusal comes back as a message, not an exception, so that no traceback keeps a view
    of the map alive past this call: the map could not be closed while one exists.
    """
    view = memoryview(mapped)
    try:
        return walker(view, label, max_pixels)
    except _MalformedError as exc:
        return f"{label} is truncated or corrupt ({media_type}): {exc}"
    except ImageRejectedError as exc:
        return str(exc)
    finally:
        view.release()


def _count_structure(count: int, what: str) -> None:
    """Refuse a file made of more chunks or segments than any image has.

    Each one costs a few microseconds of Python; without a bound, 40 MB of empty chunks
    would cost seconds of CPU per request while staying well-formed.
    """
    if count > _MAX_STRUCTURES:
        raise _MalformedError(f"more than {_MAX_STRUCTURES:,} {what}; no image needs that many")


def _check_pixels(label: str, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageRejectedError(
            f"{label} is {width}×{height} = {width * height:,} pixels; the limit is {max_pixels:,} pixels"
        )


# ---------------------------------------------------------------- PNG
_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_PNG_MAX_LENGTH: Final = 2**31 - 1  # the spec's bound on a chunk length and on each dimension
# Colour type → the bit depths it allows (PNG spec, 11.2.2).
_PNG_DEPTHS: Final = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}


def _walk_png(data: memoryview, label: str, max_pixels: int) -> tuple[int, int]:
    size = len(data)
    position = len(_PNG_SIGNATURE)
    width = height = colour_type = 0
    seen_palette = seen_data = data_ended = False
    first = True
    chunks = 0
    while True:
        chunks += 1
        _count_structure(chunks, "chunks")
        if position + 8 > size:
            raise _MalformedError(f"the file ends at byte {size} inside a chunk header, before IEND")
        length, kind = struct.unpack_from(">I4s", data, position)
        name = kind.decode("latin-1")
        if length > _PNG_MAX_LENGTH:
            raise _MalformedError(f"chunk {name!r} at byte {position} claims {length} bytes")
        if not kind.isalpha():
            raise _MalformedError(f"chunk type {kind!r} at byte {position} is not four letters")
        body_start = position + 8
        end = body_start + length + 4
        if end > size:
            raise _MalformedError(f"chunk {name} at byte {position} needs {length + 12} bytes; the file ends at {size}")
        (crc,) = struct.unpack_from(">I", data, body_start + length)
        if zlib.crc32(data[position + 4 : body_start + length]) != crc:
            raise _MalformedError(f"chunk {name} at byte {position} fails its CRC")
        if first:
            if kind != b"IHDR":
                raise _MalformedError(f"the first chunk is {name}, not IHDR")
            width, height, colour_type = _png_header(data[body_start : body_start + length])
            # Refused at the header: nothing past it is worth reading.
            _check_pixels(label, width, height, max_pixels)
            first = False
        elif kind == b"IHDR":
            raise _MalformedError("a second IHDR chunk")
        elif kind == b"PLTE":
            if seen_data or colour_type in (0, 4) or length == 0 or length % 3 or length > 256 * 3:
                raise _MalformedError(f"a PLTE chunk of {length} bytes is not valid here (colour type {colour_type})")
            seen_palette = True
        elif kind == b"IDAT":
            if data_ended:
                raise _MalformedError("IDAT chunks are not consecutive")
            if colour_type == 3 and not seen_palette:
                raise _MalformedError("an indexed-colour image has no PLTE before its IDAT")
            seen_data = True
        elif kind == b"IEND":
            if length:
                raise _MalformedError(f"IEND carries {length} bytes")
            if not seen_data:
                raise _MalformedError("there is no IDAT chunk (no image data)")
            if end != size:
                raise _MalformedError(f"{size - end} bytes follow IEND")
            return width, height
        elif seen_data:
            data_ended = True
        position = end


def _png_header(header: memoryview) -> tuple[int, int, int]:
    if len(header) != 13:
        raise _MalformedError(f"IHDR is {len(header)} bytes, not 13")
    width, height, depth, colour_type, compression, filtering, interlace = struct.unpack(">IIBBBBB", header)
    if not (0 < width <= _PNG_MAX_LENGTH and 0 < height <= _PNG_MAX_LENGTH):
        raise _MalformedError(f"IHDR gives a size of {width}×{height}")
    if depth not in _PNG_DEPTHS.get(colour_type, ()):
        raise _MalformedError(f"IHDR gives colour type {colour_type} with bit depth {depth}")
    if compression or filtering or interlace > 1:
        raise _MalformedError(
            f"IHDR gives compression {compression}, filter {filtering}, interlace {interlace} (unknown methods)"
        )
    return width, height, colour_type


# ---------------------------------------------------------------- JPEG
# Start-of-frame markers: every SOFn except DHT (C4), JPG (C8) and DAC (CC), which share the range.
_JPEG_FRAME_MARKERS: Final = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_SOS: Final = 0xDA
_JPEG_EOI: Final = 0xD9
_JPEG_SOI: Final = 0xD8
# Markers with no length: TEM and the restart markers (the latter only inside scans).
_JPEG_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})
# Inside a scan, 0xFF is followed by 0x00 (a stuffed data byte), a restart marker, or more 0xFF
# (fill); anything else is the marker that ends the scan. No repetition in the pattern: a search
# over a long run of 0xFF must stay linear (``\xff+`` there would backtrack quadratically).
_JPEG_SCAN_END: Final = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JPEG_FILL: Final = re.compile(rb"\xff+")


def _walk_jpeg(data: memoryview, label: str, max_pixels: int) -> tuple[int, int]:
    size = len(data)
    position = 2  # past SOI
    frame: tuple[int, int] | None = None
    scans = segments = 0
    while True:
        segments += 1
        _count_structure(segments, "segments")
        if position >= size:
            raise _MalformedError(f"the file ends at byte {size} before the EOI marker")
        # Fill bytes (0xFF) may precede any marker: skipped in C, however many.
        fill = _JPEG_FILL.match(data, position)
        if fill is None:
            raise _MalformedError(f"byte {position} should start a marker (0xFF) but is 0x{data[position]:02X}")
        position = fill.end()
        if position >= size:
            raise _MalformedError(f"the file ends at byte {size} before the EOI marker")
        marker = data[position]
        position += 1
        if marker == _JPEG_EOI:
            if frame is None or not scans:
                raise _MalformedError(
                    "EOI comes before any " + ("frame header (SOFn)" if frame is None else "scan (SOS)")
                )
            # Bytes after EOI are allowed: cameras append further images (MPF, gain maps) and padding.
            return frame
        if marker == _JPEG_SOI:
            raise _MalformedError(f"a second SOI marker at byte {position - 2}")
        if marker in _JPEG_STANDALONE:
            raise _MalformedError(f"marker 0x{marker:02X} at byte {position - 2} outside a scan")
        if position + 2 > size:
            raise _MalformedError(f"the file ends at byte {size} inside a segment")
        (length,) = struct.unpack_from(">H", data, position)
        if length < 2 or position + length > size:
            raise _MalformedError(f"segment 0x{marker:02X} at byte {position - 2} claims {length} bytes; the file ends")
        segment = data[position + 2 : position + length]
        position += length
        if marker in _JPEG_FRAME_MARKERS:
            if frame is not None:
                raise _MalformedError("a second frame header (SOFn)")
            frame = _jpeg_frame(segment)
            _check_pixels(label, frame[0], frame[1], max_pixels)
        elif marker == _JPEG_SOS:
            if frame is None:
                raise _MalformedError("a scan (SOS) before the frame header (SOFn)")
            if not segment or len(segment) != 4 + 2 * segment[0]:
                raise _MalformedError(f"the scan header at byte {position - length - 2} is {len(segment)} bytes")
            scans += 1
            found = _JPEG_SCAN_END.search(data, position)
            if found is None:
                raise _MalformedError(f"the file ends at byte {size} inside the image data of scan {scans}")
            position = found.start()  # the 0xFF just before the marker that ends the scan


def _jpeg_frame(segment: memoryview) -> tuple[int, int]:
    if len(segment) < 6:
        raise _MalformedError(f"the frame header (SOFn) is {len(segment)} bytes")
    precision, height, width, components = struct.unpack_from(">BHHB", segment)
    if len(segment) != 6 + 3 * components or not 1 <= components <= 4:
        raise _MalformedError(f"the frame header (SOFn) gives {components} components in {len(segment)} bytes")
    if precision not in (8, 12, 16):
        raise _MalformedError(f"the frame header (SOFn) gives a precision of {precision} bits")
    if not width or not height:
        # Height 0 (set later by a DNL marker) is legal in theory and written by nothing in use.
        raise _MalformedError(f"the frame header (SOFn) gives a size of {width}×{height}")
    return width, height


# ---------------------------------------------------------------- WebP
_VP8_START_CODE: Final = b"\x9d\x01\x2a"
_VP8L_SIGNATURE: Final = 0x2F
_WEBP_IMAGE_CHUNKS: Final = (b"VP8 ", b"VP8L")
# The RIFF size field is 32 bits; libwebp also bounds the canvas product to 32 bits.
_WEBP_MAX_CANVAS: Final = 2**32 - 1


def _walk_webp(data: memoryview, label: str, max_pixels: int) -> tuple[int, int]:
    facts = _webp_facts(data, label, max_pixels)
    return facts.width, facts.height


def _webp_facts(data: memoryview, label: str, max_pixels: int) -> AnimationFacts:
    """Canvas, frames and duration of a WebP (a still one: 1 frame, 0 ms, not animated)."""
    size = len(data)
    if size < 12:
        raise _MalformedError(f"the file is {size} bytes, shorter than a RIFF header")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    if riff_size + 8 != size:
        raise _MalformedError(f"the RIFF header gives {riff_size + 8} bytes; the file has {size}")
    chunks = _riff_chunks(data, 12, size, "the file")
    if not chunks:
        raise _MalformedError("the RIFF container holds no chunk")
    kind, start, length = chunks[0]
    body = data[start : start + length]
    if kind in _WEBP_IMAGE_CHUNKS:
        width, height = _webp_bitstream_size(kind, body)
        _check_pixels(label, width, height, max_pixels)
        return AnimationFacts(width, height, 1, 0, animated=False)
    if kind != b"VP8X":
        raise _MalformedError(f"the first chunk is {kind!r}, not VP8, VP8L or VP8X")
    return _walk_webp_extended(data, body, chunks[1:], label, max_pixels)


# A RIFF chunk as (fourcc, offset of its payload, payload length): slices are made only for
# the few chunks read, since making one for each of thousands would double the walk's cost.
_RiffChunk = tuple[bytes, int, int]


def _riff_chunks(data: memoryview, start: int, end: int, where: str, counted: int = 0) -> list[_RiffChunk]:
    """The chunks between ``start`` and ``end`` of ``data``, which they must fill exactly.

    ``counted`` is how many chunks of the file were walked before: the bound is on the file.
    """
    chunks: list[_RiffChunk] = []
    position = start
    while position < end:
        _count_structure(counted + len(chunks) + 1, "chunks")
        if position + 8 > end:
            raise _MalformedError(f"{end - position} stray bytes at byte {position} of {where}")
        kind, length = struct.unpack_from("<4sI", data, position)
        body_start = position + 8
        # An odd-sized payload is followed by one padding byte.
        next_chunk = body_start + length + (length & 1)
        if next_chunk > end:
            raise _MalformedError(
                f"chunk {kind!r} at byte {position} claims {length} bytes; {where} ends at byte {end}"
            )
        chunks.append((kind, body_start, length))
        position = next_chunk
    return chunks


def _webp_bitstream_size(kind: bytes, body: memoryview) -> tuple[int, int]:
    if kind == b"VP8L":
        # Lossless: signature byte, then 14 bits width-1, 14 bits height-1, 1 bit alpha, 3 bits version.
        if len(body) < 5:
            raise _MalformedError(f"the VP8L chunk is {len(body)} bytes, shorter than its header")
        if body[0] != _VP8L_SIGNATURE:
            raise _MalformedError(f"the VP8L chunk starts with 0x{body[0]:02X}, not the signature 0x2F")
        (bits,) = struct.unpack_from("<I", body, 1)
        if bits >> 29:
            raise _MalformedError(f"the VP8L header gives version {bits >> 29}; only 0 exists")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    # Lossy: a 3-byte frame tag, and for a key frame the start code and two 14-bit dimensions.
    if len(body) < 10:
        raise _MalformedError(f"the VP8 chunk is {len(body)} bytes, shorter than its header")
    tag = body[0] | body[1] << 8 | body[2] << 16
    if tag & 1:
        raise _MalformedError("the VP8 frame is not a key frame")
    if (tag >> 1) & 7 > 3:
        raise _MalformedError(f"the VP8 frame gives profile {(tag >> 1) & 7}; 0 to 3 exist")
    if not (tag >> 4) & 1:
        raise _MalformedError("the VP8 frame is marked invisible")
    if bytes(body[3:6]) != _VP8_START_CODE:
        raise _MalformedError("the VP8 key frame lacks its start code")
    first_partition = tag >> 5
    if first_partition > len(body) - 10:
        raise _MalformedError(f"the VP8 frame's first partition claims {first_partition} bytes; the chunk has fewer")
    width, height = struct.unpack_from("<HH", body, 6)
    width, height = width & 0x3FFF, height & 0x3FFF  # the top 2 bits are an upscaling hint
    if not width or not height:
        raise _MalformedError(f"the VP8 frame gives a size of {width}×{height}")
    return width, height


def _walk_webp_extended(
    data: memoryview, header: memoryview, chunks: list[_RiffChunk], label: str, max_pixels: int
) -> AnimationFacts:
    if len(header) < 10:
        raise _MalformedError(f"the VP8X chunk is {len(header)} bytes, not 10")
    flags = header[0]
    width = (header[4] | header[5] << 8 | header[6] << 16) + 1
    height = (header[7] | header[8] << 8 | header[9] << 16) + 1
    if width * height > _WEBP_MAX_CANVAS:
        raise _MalformedError(f"the VP8X canvas of {width}×{height} is over libwebp's bound")
    _check_pixels(label, width, height, max_pixels)
    if flags & 0x02:  # the animation flag
        # Every frame must lie inside the canvas, so the cap on the canvas bounds each frame too.
        frames, duration = _check_webp_frames(data, chunks, width, height)
        if frames * width * height > MAX_CLIP_FRAME_PIXELS:
            raise ImageRejectedError(
                f"{label} is {frames:,} frames of {width}×{height} = {frames * width * height:,} frame pixels; "
                f"the limit is {MAX_CLIP_FRAME_PIXELS:,}"
            )
        return AnimationFacts(width, height, frames, duration)
    frame = _one_bitstream_size(data, chunks, "a still extended WebP")
    if frame != (width, height):
        raise _MalformedError(f"the image is {frame[0]}×{frame[1]} but the VP8X canvas is {width}×{height}")
    return AnimationFacts(width, height, 1, 0, animated=False)


def _one_bitstream_size(data: memoryview, chunks: list[_RiffChunk], where: str) -> tuple[int, int]:
    images = [(kind, start, length) for kind, start, length in chunks if kind in _WEBP_IMAGE_CHUNKS]
    if len(images) != 1:
        raise _MalformedError(f"{where} needs one VP8 or VP8L chunk; it has {len(images)}")
    kind, start, length = images[0]
    return _webp_bitstream_size(kind, data[start : start + length])


def _check_webp_frames(data: memoryview, chunks: list[_RiffChunk], width: int, height: int) -> tuple[int, int]:
    """Every ANMF frame lies inside the canvas and holds one well-formed VP8/VP8L bitstream of its size.

    Returns the number of frames and the sum of their durations (milliseconds).
    """
    if not any(kind == b"ANIM" for kind, _, _ in chunks):
        raise _MalformedError("an animated WebP has no ANIM chunk")
    frames = [data[start : start + length] for kind, start, length in chunks if kind == b"ANMF"]
    if not frames:
        raise _MalformedError("an animated WebP has no frame (ANMF)")
    counted = len(chunks)
    duration = 0
    for number, frame in enumerate(frames, start=1):
        if len(frame) < 16:
            raise _MalformedError(f"frame {number} is {len(frame)} bytes, shorter than its header")
        x = (frame[0] | frame[1] << 8 | frame[2] << 16) * 2
        y = (frame[3] | frame[4] << 8 | frame[5] << 16) * 2
        frame_width = (frame[6] | frame[7] << 8 | frame[8] << 16) + 1
        frame_height = (frame[9] | frame[10] << 8 | frame[11] << 16) + 1
        if x + frame_width > width or y + frame_height > height:
            raise _MalformedError(f"frame {number} ({frame_width}×{frame_height} at {x},{y}) leaves the canvas")
        duration += frame[12] | frame[13] << 8 | frame[14] << 16
        inner = _riff_chunks(frame, 16, len(frame), f"frame {number}", counted)
        counted += len(inner)
        if _one_bitstream_size(frame, inner, f"frame {number}") != (frame_width, frame_height):
            raise _MalformedError(f"frame {number}'s image is not the {frame_width}×{frame_height} its header gives")
    return len(frames), duration


_WALKERS: Final[dict[str, Callable[[memoryview, str, int], tuple[int, int]]]] = {
    "image/png": _walk_png,
    "image/jpeg": _walk_jpeg,
    "image/webp": _walk_webp,
}
