"""The local hand-over file: how clients on this machine find the embedded server's tokens.

``<runtime dir>/server-<port>.json``, mode 0600, written atomically after the server
listens, removed on a clean shutdown (docs/api.md, "The local hand-over file").
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from agent.fsutil import atomic_write_bytes, make_private_dir, runtime_dir
from server.settings import Settings

_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names the wildcard, binds nothing


def handover_path(port: int, directory: Path | None = None) -> Path:
    return (directory or runtime_dir()) / f"server-{port}.json"


def loopback_url(settings: Settings) -> str:
    """The URL a client on this machine uses: the listen address, or loopback for a wildcard bind."""
    if settings.host in _WILDCARD_HOSTS:
        return f"http://127.0.0.1:{settings.port}"
    return settings.listen_url


def write_handover(settings: Settings, tokens: dict[str, str], directory: Path | None = None) -> Path:
    path = handover_path(settings.port, directory)
    make_private_dir(path.parent)
    body = {"url": loopback_url(settings), "pid": os.getpid(), "tokens": tokens}
    atomic_write_bytes(path, json.dumps(body, indent=2).encode("utf-8") + b"\n", mode=0o600)
    return path


def remove_handover(path: Path) -> None:
    """Remove the file if it is still ours (a newer server on the same port may have replaced it)."""
    with contextlib.suppress(FileNotFoundError, ValueError, OSError):
        if json.loads(path.read_bytes()).get("pid") == os.getpid():
            path.unlink()
