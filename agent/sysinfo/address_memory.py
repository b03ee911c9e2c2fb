"""The help desk's last known addresses, so a broken name lookup can still be told from a broken network.

When the backend's name resolves, the address that answered is kept (per host name, a few
bytes in the user's cache directory). When the name later fails to resolve, the connection
check tries that address directly: "the help desk answers at 10.1.2.3, only its name cannot
be looked up" ends the question whether "the network" works.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Final

from agent.fsutil import atomic_write_bytes

MAX_HOSTS: Final = 16  # a few backends at most; an ever-growing file would be a leak


def default_path() -> Path:
    import platformdirs  # only when an address is read or kept: not on every import

    return platformdirs.user_cache_path("showdesk", appauthor=False) / "backend-addresses.json"


def _load(path: Path) -> dict[str, str]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}
    return {}


def recall(host: str, path: Path | None = None) -> str | None:
    """The address ``host`` last answered at, if it ever did here."""
    return _load(path or default_path()).get(host.lower())


def remember(host: str, address: str, path: Path | None = None) -> None:
    """Keep ``address`` for ``host``; written only when it changed, and never raising."""
    target = path or default_path()
    known = _load(target)
    if known.get(host.lower()) == address:
        return
    known.pop(host.lower(), None)
    known[host.lower()] = address
    kept = dict(list(known.items())[-MAX_HOSTS:])
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, json.dumps(kept, indent=1).encode("utf-8"))
