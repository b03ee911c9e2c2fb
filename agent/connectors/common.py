"""Pieces every connector to an outside ticket system shares: option parsing, file names, statuses.

Outside systems name files and statuses their own way. ShowDesk gives every file of a
report one fixed attachment name derived from its bundle path (``steps/001.webp`` →
``step-001.webp``), so a connector can find a file again by its path without keeping any
state, and it speaks one status vocabulary (new, open, waiting, resolved, closed) that each
connector maps to its system's own.
"""

from __future__ import annotations

import enum
import functools
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from agent.config import ConfigError
from agent.connectors.base import AuthError, TransientError
from agent.schema import MANIFEST_PATH, SYSINFO_PATH

if TYPE_CHECKING:
    from agent.config import BackendConfig
    from agent.connectors.tls_facts import TlsFailure

STATUSES: Final = ("new", "open", "waiting", "resolved", "closed")
MANIFEST_NAME_PREFIX: Final = "showdesk-report-"
ORIGINAL_OFFSET: Final = 500  # bundle.build_bundle stores step N's original as steps/(N+500)
_STEP_PATH: Final = re.compile(r"^steps/([0-9]{3})\.([a-z]+)$")
_ATTACHMENT_PATH: Final = re.compile(r"^attachments/([0-9]{3})\.([a-z]+)$")
_STEP_NAME: Final = re.compile(r"^step-([0-9]{3})(-original)?\.([a-z]+)$")
_ATTACHMENT_NAME: Final = re.compile(r"^attachment-([0-9]{3})\.([a-z]+)$")
_CLIP_PATH: Final = re.compile(r"^clips/([0-9]{3})\.webp$")
_CLIP_NAME: Final = re.compile(r"^clip-([0-9]{3})\.webp$")
_SIZE: Final = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS: Final = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "ki": 1024, "kib": 1024,
    "m": 1000**2, "mb": 1000**2, "mi": 1024**2, "mib": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gi": 1024**3, "gib": 1024**3,
}


class NeedsAttentionError(AuthError):
    """The backend refuses everything until a person fixes something there (a queue, a field, a share).

    It is an ``AuthError`` on purpose: the outbox pauses the backend's reports, keeps them,
    and tries again on ``wake()`` or after a long pause, exactly as for a refused token.
    """


# ---------------------------------------------------------------- the network in between
# Defined here, not beside the HTTP client, so the outbox can tell them apart without loading requests.
# What the person is told when the network, not the backend, answered (the apps show an entry's reason).
SIGN_IN_FIRST: Final = (
    "This network wants you to sign in first — open a browser, sign in, and ShowDesk will send your report by itself."
)
PROXY_SIGN_IN: Final = (
    "A proxy on this network asks ShowDesk to sign in to it first (407). Ask your IT department for the proxy "
    "setting; your report is kept and sent by itself once ShowDesk gets through."
)
PROXY_ERROR: Final = (
    "A proxy on this network answered instead of the help desk: it could not reach it right now. Your report is "
    "kept and sent by itself when the proxy gets through."
)


class NetworkCondition(enum.StrEnum):
    """Who answered in the backend's place."""

    CAPTIVE_PORTAL = "captive-portal"  # a sign-in page: a redirect elsewhere, a web page, 511
    PROXY_SIGN_IN = "proxy-sign-in"  # 407
    PROXY_ERROR = "proxy-error"  # a proxy's own 502/503/504


class NetworkConditionError(TransientError):
    """The network between this computer and the backend answered in its place; the backend saw nothing.

    ``reason`` is for the person (what to do); ``detail`` is the fact for a log (where the
    redirect went, the page's title). Retrying is right, and it is never the report's fault.
    """

    def __init__(
        self,
        reason: str,
        *,
        system: str,
        condition: NetworkCondition,
        detail: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason, system=system, status=status, retry_after=retry_after)
        self.condition = condition
        self.detail = detail


class TlsError(TransientError):
    """The TLS connection failed; ``failure`` holds the facts, ``reason`` says them in plain words."""

    def __init__(self, failure: TlsFailure) -> None:
        super().__init__(failure.message(), system=failure.system)
        self.failure = failure


# ---------------------------------------------------------------- file names
def manifest_name(report_id: uuid.UUID) -> str:
    """The manifest's attachment name; it carries the report id so a ticket can be matched to its report."""
    return f"{MANIFEST_NAME_PREFIX}{report_id}.json"


def attachment_name(path: str, report_id: uuid.UUID | None = None) -> str:
    """The file name a report file gets in a ticket system, from its bundle path alone.

    ``steps/001.webp`` → ``step-001.webp``; the original of step 1 (``steps/501.png``) →
    ``step-001-original.png``; ``attachments/002.txt`` → ``attachment-002.txt``;
    ``clips/001.webp`` → ``clip-001.webp``; ``sysinfo.json`` stays; the manifest becomes ``showdesk-report-<id>.json``.
    """
    if path == MANIFEST_PATH:
        if report_id is None:
            raise ValueError("the manifest's name needs the report id")
        return manifest_name(report_id)
    return _file_name(path)


@functools.lru_cache(maxsize=512)
def _file_name(path: str) -> str:
    """``attachment_name`` of every path but the manifest's: a function of the path alone, so kept.

    Every report names the same few paths (steps/001.webp, sysinfo.json…); a connector names each of
    them several times per report (the upload, the body, the check of what a ticket holds).
    """
    if path == SYSINFO_PATH:
        return SYSINFO_PATH
    if match := _STEP_PATH.match(path):
        number, extension = int(match.group(1)), match.group(2)
        if number > ORIGINAL_OFFSET:
            return f"step-{number - ORIGINAL_OFFSET:03d}-original.{extension}"
        return f"step-{number:03d}.{extension}"
    if match := _ATTACHMENT_PATH.match(path):
        return f"attachment-{match.group(1)}.{match.group(2)}"
    if match := _CLIP_PATH.match(path):
        return f"clip-{match.group(1)}.webp"
    raise ValueError(f"{path!r} is not a path ShowDesk writes into a bundle")


def bundle_path(name: str) -> str | None:
    """The bundle path an attachment name came from (the reverse of ``attachment_name``); None if none."""
    if name == SYSINFO_PATH:
        return SYSINFO_PATH
    if name.startswith(MANIFEST_NAME_PREFIX) and name.endswith(".json"):
        return MANIFEST_PATH
    if match := _STEP_NAME.match(name):
        number = int(match.group(1)) + (ORIGINAL_OFFSET if match.group(2) else 0)
        return f"steps/{number:03d}.{match.group(3)}"
    if match := _ATTACHMENT_NAME.match(name):
        return f"attachments/{match.group(1)}.{match.group(2)}"
    if match := _CLIP_NAME.match(name):
        return f"clips/{match.group(1)}.webp"
    return None


# ---------------------------------------------------------------- options
class Options:
    """Typed access to a backend's type-specific keys; every mistake names the table and the key."""

    def __init__(self, backend: BackendConfig) -> None:
        self._values: Mapping[str, Any] = backend.options
        self.where = "[backend]" if backend.name == "default" else f"[backends.{backend.name}]"

    def _get(self, key: str) -> Any:
        return self._values.get(key)

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._get(key)
        if value is None or value == "":
            if required:
                raise ConfigError(f"{self.where} needs {key} = \"…\"")
            return default
        if not isinstance(value, str):
            raise ConfigError(f"{self.where} {key} must be a string, not {value!r}")
        return value

    def required_text(self, key: str) -> str:
        value = self.text(key, required=True)
        assert value is not None
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where} {key} must be true or false, not {value!r}")
        return value

    def number(self, key: str, default: float) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{self.where} {key} must be a number ≥ 0, not {value!r}")
        return float(value)

    def size(self, key: str, default: int | None) -> int | None:
        """A byte count: an integer, or text with a unit ("10 MiB", "25MB"); 0 means no limit."""
        value = self._get(key)
        if value is None:
            return default
        parsed = parse_size(value)
        if parsed is None:
            raise ConfigError(f"{self.where} {key} must be a size in bytes (or like \"10 MiB\"), not {value!r}")
        return parsed or None

    def strings(self, key: str) -> list[str]:
        value = self._get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.where} {key} must be a string or a list of strings")
        return list(value)

    def table(self, key: str) -> dict[str, str]:
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int) and not isinstance(v, bool) for k, v in value.items()
        ):
            raise ConfigError(f"{self.where} {key} must be a table of names to strings")
        return {k: str(v) for k, v in value.items()}


def parse_size(value: object) -> int | None:
    """Bytes from an int or a string with a unit; None if it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _SIZE.match(value)
    if not match:
        return None
    unit = (match.group(2) or "").lower()
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def format_size(size: int) -> str:
    """A size for people: "7.5 MB", "300 KB", "512 bytes" (binary units, written the common way)."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


# ---------------------------------------------------------------- statuses
def status_map(defaults: Mapping[str, str], overrides: Mapping[str, str], where: str) -> dict[str, str]:
    """ShowDesk status → the system's status, with the site's overrides (``statuses = {waiting = "stalled"}``)."""
    unknown = sorted(set(overrides) - set(STATUSES))
    if unknown:
        raise ConfigError(f"{where} statuses: {', '.join(unknown)} is not one of {', '.join(STATUSES)}")
    return {**defaults, **overrides}


def showdesk_status(native: str, mapping: Mapping[str, str], extra: Mapping[str, str] | None = None) -> str:
    """The ShowDesk word for a system's status; an unmapped status passes through unchanged."""
    for ours, theirs in mapping.items():
        if theirs.lower() == native.lower():
            return ours
    if extra and native.lower() in extra:
        return extra[native.lower()]
    return native


__all__ = [
    "MANIFEST_NAME_PREFIX",
    "PROXY_ERROR",
    "PROXY_SIGN_IN",
    "SIGN_IN_FIRST",
    "STATUSES",
    "NeedsAttentionError",
    "NetworkCondition",
    "NetworkConditionError",
    "Options",
    "TlsError",
    "attachment_name",
    "bundle_path",
    "format_size",
    "manifest_name",
    "parse_size",
    "showdesk_status",
    "status_map",
]
