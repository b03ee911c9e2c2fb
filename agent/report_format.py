"""The report format's plain facts: version, file names, limits, canonical JSON, digests, image types.

Standard library only, so a capture can be written without importing pydantic
(``agent.bundle.shot_bundle``); ``agent.schema`` builds its models on these same values and
re-exports them, so the server, which imports the schema, enforces exactly these.
"""

from __future__ import annotations

import hashlib
import json
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
