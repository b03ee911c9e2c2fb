"""The report format's plain facts: version, file names, limits, canonical JSON, digests, image types.

Standard library only, so a capture can be written without importing pydantic
(``agent.bundle.shot_bundle``); ``agent.schema`` builds its models on these same values and
re-exports them, so the server, which imports the schema, enforces exactly these.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Final

# Version 2 added clips (short screen recordings) and the person's language. A report is written
# in the OLDEST version that holds it (``schema_version_for``): one with neither stays version 1,
# so a reader one version behind still reads it, and refuses only a report that needs version 2,
# naming the version it reads.
SCHEMA_VERSION: Final = 2  # the newest version this ShowDesk reads and writes
FIRST_SCHEMA_VERSION: Final = 1
CLIPS_SCHEMA_VERSION: Final = 2
SCHEMA_VERSIONS: Final = (1, 2)
MANIFEST_PATH: Final = "manifest.json"
SYSINFO_PATH: Final = "sysinfo.json"
IMAGE_MEDIA_TYPES: Final = ("image/png", "image/jpeg", "image/webp")
IMAGE_EXTENSIONS: Final = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}

# Limits a report must stay within; the server and the bundle loader enforce them.
MAX_STEPS: Final = 50
MAX_ATTACHMENTS: Final = 20
MAX_CAPTION_CHARS: Final = 500
MAX_DESCRIPTION_CHARS: Final = 4000
MAX_SHORT_TEXT_CHARS: Final = 200
MAX_MARKUP_ITEMS: Final = 200
MAX_SYSINFO_BYTES: Final = 2 * 1024 * 1024
MAX_FILE_BYTES: Final = 40 * 1024 * 1024
MAX_IMAGE_PIXELS: Final = 50_000_000
MAX_EMAIL_CHARS: Final = 254
# The person's language as a short BCP 47 tag ("de", "en", "pt-BR"): the ticket page and mails
# speak it when they can.
LANGUAGE_PATTERN: Final = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"
EMAIL_PATTERN: Final = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
MAX_COORDINATE: Final = 100_000  # pixels from the virtual desktop's origin, either way
MAX_MONITOR_INDEX: Final = 64
MAX_SCALE: Final = 8.0
# Clips: animated WebP (every browser and Qt play it, Pillow writes it). The bounds are what a
# viewer pays to play one: bytes to fetch, frames to decode, each a whole canvas of pixels.
CLIP_MEDIA_TYPE: Final = "image/webp"
MAX_CLIPS: Final = 5
MAX_CLIP_BYTES: Final = 32 * 1024 * 1024
MAX_CLIP_FRAMES: Final = 1200  # two minutes at 10 frames per second
MAX_CLIP_DURATION_MS: Final = 120_000
# Frames × canvas pixels: 30 s at 5 fps of a 4K screen, or two minutes at 5 fps of a 1080p one.
MAX_CLIP_FRAME_PIXELS: Final = 1_300_000_000
# Deeper JSON than any report or system-information snapshot needs. Python's parser recurses
# per level, so a few kilobytes of "[[[[…" would otherwise end in RecursionError (a crash,
# not a refusal); system information nests about six levels.
MAX_JSON_DEPTH: Final = 32
# Integers beyond 64 bits fit no database column and no other client's parser.
MAX_JSON_INTEGER: Final = 2**63 - 1


def schema_version_for(*, clips: int, language: bool = False) -> int:
    """The version a report is written in: the oldest that holds what it carries."""
    return CLIPS_SCHEMA_VERSION if clips or language else FIRST_SCHEMA_VERSION


def canonical_json_bytes(data: object) -> bytes:
    """JSON with sorted keys, no insignificant white space, UTF-8: the same data, the same bytes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sniff_image_type(data: bytes) -> str | None:
    """The image type from its first bytes, never from a name or a header a client sent."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class AnimationFacts:
    """What a clip's WebP container says of it: canvas, frame count, total duration.

    ``animated`` is False for a still WebP: libwebp writes a recording whose frames were all the
    same as one still image, which is then a clip of one frame whose duration only the manifest
    states (``duration_ms`` is 0 here).
    """

    width: int
    height: int
    frames: int
    duration_ms: int
    animated: bool = True

    @property
    def frame_pixels(self) -> int:
        """Frames × canvas pixels: what decoding every frame costs (each frame is a whole canvas)."""
        return self.frames * self.width * self.height


def animation_facts(data: bytes) -> AnimationFacts | None:
    """The facts of a WebP clip from its RIFF chunks, or None if ``data`` is no WebP.

    A quick read of the container for the writer and the bundle loader (a manifest states these
    facts, and they must agree with the file); it checks no bitstream. The server walks the whole
    structure instead (``server.images``).
    """
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    first = data[12:16]
    if first == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return AnimationFacts((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 1, 0, animated=False)
    if first == b"VP8 ":
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
        return AnimationFacts(width, height, 1, 0, animated=False) if width and height else None
    if first != b"VP8X":
        return None
    width = int.from_bytes(data[24:27], "little") + 1
    height = int.from_bytes(data[27:30], "little") + 1
    if not data[20] & 0x02:  # the VP8X animation flag
        return AnimationFacts(width, height, 1, 0, animated=False)
    end = min(len(data), int.from_bytes(data[4:8], "little") + 8)
    position = 12
    frames = duration = 0
    while position + 8 <= end:
        kind = data[position : position + 4]
        length = int.from_bytes(data[position + 4 : position + 8], "little")
        if kind == b"ANMF":
            if length < 16 or position + 8 + length > end:
                return None
            frames += 1
            duration += int.from_bytes(data[position + 20 : position + 23], "little")
        position += 8 + length + (length & 1)
    if position != end or not frames:
        return None
    return AnimationFacts(width, height, frames, duration)


class JSONFormatError(ValueError):
    """JSON that is malformed or over a bound; the message names which, for a person to read."""


# A string token (escapes included) or a bracket: brackets inside strings are skipped whole.
_JSON_NESTING_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth(text: str) -> int:
    """The deepest nesting of objects and arrays in ``text``, found without parsing it."""
    depth = deepest = 0
    for match in _JSON_NESTING_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def _bounded_int(literal: str) -> int:
    # Checked on the literal, before int() spends time on a 4,000-digit number.
    if len(literal.lstrip("-")) > 19 or abs(value := int(literal)) > MAX_JSON_INTEGER:
        raise JSONFormatError(f"an integer is beyond the bound of {MAX_JSON_INTEGER}")
    return value


def load_json_object(data: bytes, *, what: str, max_depth: int = MAX_JSON_DEPTH) -> dict[str, object]:
    """Parse ``data`` as one JSON object within the nesting and integer bounds, or raise JSONFormatError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONFormatError(f"{what} is not UTF-8: {exc}") from None
    if (depth := json_depth(text)) > max_depth:
        raise JSONFormatError(f"{what} nests {depth} levels deep; the bound is {max_depth}")
    try:
        loaded = json.loads(text, parse_int=_bounded_int)
    except JSONFormatError as exc:
        raise JSONFormatError(f"{what}: {exc}") from None
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise JSONFormatError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise JSONFormatError(f"{what} must hold a JSON object")
    return loaded
