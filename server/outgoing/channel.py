"""The interface of an outgoing channel (mail now; webhooks and chat notifications later).

A channel has a name (the queue keeps rows, a cursor and the person's stops per name), a pure
rule that says which messages a timeline event calls for, and ``send``, which delivers one
claimed row or raises ``SendError`` (try again later) or ``PermanentSendError`` (never will
work: the row is marked failed at once). The worker does the rest: deriving, claiming,
retries with backoff, recovery after a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.store import Claimed, Derived, EventRow, TicketRow


class SendError(Exception):
    """This attempt failed; a later one may work (the server is down, busy, a timeout)."""


class RetryLaterError(SendError):
    """The receiver asked to be tried again no sooner than ``retry_after`` seconds (HTTP 429 Retry-After)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """This message will never go (the address is refused, not an address at all)."""


class Channel(Protocol):
    @property
    def name(self) -> str:
        """The channel's name in the queue (e.g. "mail"); never changes once rows exist."""
        ...

    @property
    def message_domain(self) -> str:
        """The domain of the channel's stable message ids (a mail's Message-ID)."""
        ...

    def derive(self, event: EventRow, ticket: TicketRow) -> Sequence[Derived]:
        """The messages this event calls for; pure, no I/O (it runs inside the queue's transaction)."""
        ...

    def send(self, claimed: Claimed) -> None:
        """Deliver one message; raise ``SendError`` or ``PermanentSendError`` when it did not go."""
        ...

    def close(self) -> None:
        """Let go of anything held between sends."""
        ...
