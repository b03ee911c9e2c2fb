"""The connection to the backend: the client, who is signed in, and whether the backend answers.

Every backend call of technician mode goes through :meth:`BackendConnection.run`, off the GUI
thread; its answer comes back on the GUI thread. A failure that says the backend is away marks
the connection offline (``online_changed(False, reason)``); a token refused or gone while signed
in signs out (``signed_out``). What brings the connection back online is the live follower's
business (:mod:`technician.live_feed`).

Tokens change under a running window: the local server hands over a fresh pair at each start
and revokes the old one, and ``showdesk login`` replaces a stored one. ``credentials`` looks
the token up now (as the connector does at each call); the connection remembers which token
values the backend refused (as digests, never the secrets), so signing in again is tried once
per new value and never loops on a token the backend keeps refusing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Final, TypeVar

from PySide6.QtCore import QObject, Signal

from agent.connectors.base import AuthError, ConnectorError, TransientError
from shared_qt.workers import BackgroundRunner
from technician.client import Caller, Feature, TechClient, is_connection_problem
from technician.workers import WORKER_NICENESS

Result = TypeVar("Result")

# Which waiting call starts first: what the person looks at now, then the queue, then row flags.
PRIORITY_OPEN: Final = 10
PRIORITY_IMAGE: Final = 8
PRIORITY_PAGE: Final = 5
PRIORITY_FLAGS: Final = 0

# Token values refused in one session: each new value is tried once. A handful covers every
# restart of a local server while the window is open; past the cap the oldest are forgotten.
MAX_REFUSED_TOKENS: Final = 32

Credentials = Callable[[], "str | None"]


def token_digest(token: str) -> str:
    """What the connection remembers of a token: enough to tell values apart, not the secret."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


class BackendConnection(QObject):
    """The signed-in client and the connection state; runs backend calls off the GUI thread."""

    online_changed = Signal(bool, str)  # online, reason when offline
    signed_out = Signal(str, str)  # kind, message: the backend no longer accepts the token

    def __init__(
        self,
        client_factory: Callable[[], TechClient],
        parent: QObject | None = None,
        *,
        credentials: Credentials | None = None,
    ) -> None:
        super().__init__(parent)
        self._client_factory = client_factory
        # The token the backend would get now, looked up at each call (blocking: keyring, file);
        # None when the connector's token cannot be looked at, and then nothing signs in by itself.
        self.credentials = credentials
        self.client: TechClient | None = None
        self.caller: Caller | None = None
        self.token_in_use: str | None = None  # digest of the token signed in with
        self._refused: dict[str, None] = {}  # digests, oldest first
        self.features: frozenset[Feature] = frozenset()
        self.online = True
        # Set when the window closes: answers still arriving are dropped, not shown.
        self.closed = False
        self.runner = BackgroundRunner(self, max_threads=4, niceness=WORKER_NICENESS)

    def has(self, feature: Feature) -> bool:
        return feature in self.features

    def require_client(self) -> TechClient:
        if self.client is None:
            raise RuntimeError("technician mode is not signed in")
        return self.client

    def open_client(self) -> TechClient:
        """A new client in place of the old one (closed first); raises what the factory raises."""
        if self.client is not None:
            self.client.close()
            self.client = None
        client = self._client_factory()
        self.client = client
        self.features = client.features
        return client

    def run(
        self,
        function: Callable[[], Result],
        on_result: Callable[[Result], None],
        on_error: Callable[[Exception], None],
        *,
        priority: int = 0,
    ) -> None:
        """``function()`` on a worker; ``on_result`` or ``on_error`` on the GUI thread, never after closing."""

        def failed(error: Exception) -> None:
            self.note_failure(error)
            on_error(error)

        def succeeded(result: Result) -> None:
            if not self.closed:
                on_result(result)

        self.runner.run(function, succeeded, failed, priority=priority)

    def note_failure(self, error: Exception) -> None:
        if is_connection_problem(error):
            self.set_online(False, reason(error))
        elif isinstance(error, AuthError) and error.status in (None, 401, 403):
            self.token_failed(error)

    def token_failed(self, error: AuthError) -> None:
        """The token was refused (401, 403) or there is none now (``status`` None): sign out once.

        Several calls in flight fail together; only the first one signed in signs out.
        """
        if self.caller is None:
            return
        if error.status is not None and self.token_in_use is not None:
            self.mark_refused(self.token_in_use)
        kind, message = sign_in_problem(error)
        self.sign_out(kind, message)

    def sign_out(self, kind: str, message: str) -> None:
        self.caller = None
        self.token_in_use = None
        self.signed_out.emit(kind, message)

    def mark_refused(self, digest: str) -> None:
        self._refused.pop(digest, None)
        self._refused[digest] = None
        while len(self._refused) > MAX_REFUSED_TOKENS:
            del self._refused[next(iter(self._refused))]

    def current_token(self) -> str | None:
        """Digest of the token the credentials give now, or None; blocking, so run it on a worker."""
        token = self.credentials() if self.credentials is not None else None
        return token_digest(token) if token else None

    def refused_tokens(self) -> frozenset[str]:
        """The digests refused so far (on the GUI thread, which alone changes them)."""
        return frozenset(self._refused)

    def untried_token(self, refused: frozenset[str]) -> str | None:
        """Digest of the token the credentials give now unless it is in ``refused``, else None.

        Blocking (the keyring, the hand-over file): run it on a worker, with a snapshot of
        :meth:`refused_tokens` taken before.
        """
        digest = self.current_token()
        return digest if digest is not None and digest not in refused else None

    def set_online(self, online: bool, reason: str = "") -> None:
        if online == self.online:
            return
        self.online = online
        self.online_changed.emit(online, reason)


def sign_in_problem(error: Exception) -> tuple[str, str]:
    """(kind, message) for the sign-in screen: no-token, refused, unreachable or error."""
    if isinstance(error, AuthError):
        reason = error.reason
        if error.status is not None and os.environ.get("SHOWDESK_TOKEN"):
            reason += " (the token in use is SHOWDESK_TOKEN from the environment, which wins over the keyring)"
        return ("no-token" if error.status is None else "refused"), reason
    if isinstance(error, TransientError):
        return "unreachable", error.reason
    if isinstance(error, ConnectorError):
        return "error", error.reason
    return "error", str(error) or type(error).__name__


def reason(error: BaseException) -> str:
    """Words for a person about a failed call: the connector's reason, else the exception's text."""
    if isinstance(error, ConnectorError):
        return error.reason
    return str(error) or type(error).__name__
