"""The report format's plain facts: version, file names, limits, canonical JSON, digests, image types.

Standard library only, so a capture can be written without importing pydantic
(``agent.bundle.shot_bundle``); ``agent.schema`` builds its models on these same values and
re-exports them, so the server, which imports the schema, enforces exactly these.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Final

SCHEMA_VERSION: Final = 1
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
EMAIL_PATTERN: Final = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
MAX_COORDINATE: Final = 100_000  # pixels from the virtual desktop's origin, either way
MAX_MONITOR_INDEX: Final = 64
MAX_SCALE: Final = 8.0
# Deeper JSON than any report or system-information snapshot needs. Python's parser recurses
# per level, so a few kilobytes of "[[[[…" would otherwise end in RecursionError (a crash,
# not a refusal); system information nests about six levels.
MAX_JSON_DEPTH: Final = 32
# Integers beyond 64 bits fit no database column and no other client's parser.
MAX_JSON_INTEGER: Final = 2**63 - 1


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
