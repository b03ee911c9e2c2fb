"""Backend tokens: the OS keyring, ``SHOWDESK_TOKEN`` for scripts, or the local server's hand-over file.

Tokens never go into a plain configuration file or a log line. When no keyring
backend exists, we say so instead of silently falling back to a file.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from agent.connectors.base import AuthError, TransientError
from agent.fsutil import runtime_dir

if TYPE_CHECKING:
    from agent.config import BackendConfig

KEYRING_SERVICE: Final = "showdesk"
ROLES: Final = ("submitter", "technician", "admin", "glpi-app")
_LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost", "::1", "[::1]")
# How long the "is anything listening?" probe of a local server waits. On loopback a stopped
# server refuses at once; the timeout only bounds a port that swallows connection attempts.
LOCAL_PROBE_SECONDS: Final = 0.5
LOCAL_SERVER_NOT_RUNNING: Final = "the help desk server on this machine is not running"

log = logging.getLogger(__name__)


class CredentialError(Exception):
    """No usable token store, or no token where one is needed; the message says what to do."""


def _account(url: str, role: str) -> str:
    # One keyring entry per backend address and role: a technician's laptop can hold a
    # submitter token for its agent and a technician token for technician mode.
    return f"{role}@{url.rstrip('/')}"


class LocalServerDownError(TransientError):
    """A backend on this machine with no token and nothing listening: the server is stopped, not the sign-in missing.

    A clean stop removes the server's hand-over file, so without a keyring token this looks
    like "no credentials"; it is an outage, worth retrying. ``handover`` is the file a
    restarted server writes: its appearance is the sign to try again at once.
    """

    def __init__(self, url: str, handover: Path, *, system: str = "") -> None:
        super().__init__(LOCAL_SERVER_NOT_RUNNING, system=system)
        self.url = url
        self.handover = handover


class LocalServerNoTokenError(AuthError):
    """The server on this machine is listening but left no hand-over token for this user: a sign-in problem.

    ``handover`` is the file the server writes; when it appears (the server was just
    starting), the token is there and the report can go at once.
    """

    def __init__(self, reason: str, handover: Path, *, system: str = "") -> None:
        super().__init__(reason, system=system)
        self.handover = handover


def handover_path(port: int) -> Path:
    return runtime_dir() / f"server-{port}.json"


def _is_loopback(url: str) -> tuple[bool, int | None]:
    parts = urlsplit(url)
    if parts.hostname not in _LOOPBACK_HOSTS and f"[{parts.hostname}]" not in _LOOPBACK_HOSTS:
        return False, None
    return True, parts.port or (443 if parts.scheme == "https" else 80)


def local_handover_path(url: str) -> Path | None:
    """The hand-over file a server at ``url`` writes, when ``url`` is on this machine; None otherwise."""
    loopback, port = _is_loopback(url)
    return handover_path(port) if loopback and port is not None else None


def is_listening(url: str, timeout: float = LOCAL_PROBE_SECONDS) -> bool:
    """Whether anything accepts a TCP connection at ``url``'s host and port (nothing is sent)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def check_local_server(url: str, *, system: str) -> None:
    """For a backend with no token: raise what the missing token means when ``url`` is on this machine.

    Nothing listening: ``LocalServerDownError`` (an outage; the report waits on the normal
    backoff). Listening: ``LocalServerNoTokenError`` (the sign-in is missing). Returns for a
    backend elsewhere, whose missing token the caller reports as it always has.
    """
    handover = local_handover_path(url)
    if handover is None:
        return
    if not is_listening(url):
        raise LocalServerDownError(url, handover, system=system)
    raise LocalServerNoTokenError(
        f"no token for {system}; store one with `showdesk login {url}` or set SHOWDESK_TOKEN",
        handover,
        system=system,
    )


def _handover_token(url: str, role: str) -> str | None:
    """The token the embedded server on this machine left for this user, if it is ours."""
    loopback, port = _is_loopback(url)
    if not loopback or port is None:
        return None
    path = handover_path(port)
    try:
        stat = path.stat()
        if os.name == "posix" and (stat.st_mode & 0o077 or stat.st_uid != os.getuid()):
            log.warning("ignoring %s: it must belong to this user and be readable by no one else", path)
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    tokens = data.get("tokens") if isinstance(data, dict) else None
    token = tokens.get(role) if isinstance(tokens, dict) else None
    return token if isinstance(token, str) and token else None


def _keyring_get(url: str, role: str) -> str | None:
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        token = keyring.get_password(KEYRING_SERVICE, _account(url, role))
        return token if isinstance(token, str) else None
    except NoKeyringError:
        return None
    except KeyringError as exc:
        log.warning("the OS keyring could not be read: %s", exc)
        return None


def token_for(backend: BackendConfig, role: str = "submitter") -> str | None:
    """The token for ``backend``: SHOWDESK_TOKEN > OS keyring > local server hand-over file."""
    from_env = os.environ.get("SHOWDESK_TOKEN")
    if from_env:
        return from_env
    return _keyring_get(backend.url, role) or _handover_token(backend.url, role)


def store_token(url: str, token: str, role: str = "submitter") -> str:
    """Keep ``token`` in the OS keyring; returns the keyring's name for where it went."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    if role not in ROLES:
        raise CredentialError(f"role must be one of {', '.join(ROLES)}")
    try:
        keyring.set_password(KEYRING_SERVICE, _account(url, role), token)
    except NoKeyringError as exc:
        raise CredentialError(
            "no OS keyring is available on this machine (no Secret Service, KWallet, Keychain or "
            "Credential Manager), so the token was not stored. ShowDesk does not fall back to a plain "
            "file. Start a keyring service, or give scripts the token in SHOWDESK_TOKEN."
        ) from exc
    except KeyringError as exc:
        raise CredentialError(f"the OS keyring refused the token: {exc}") from exc
    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__name__}"


def forget_token(url: str, role: str = "submitter") -> bool:
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        keyring.delete_password(KEYRING_SERVICE, _account(url, role))
    except PasswordDeleteError:
        return False
    except KeyringError as exc:
        raise CredentialError(f"the OS keyring could not delete the token: {exc}") from exc
    return True
