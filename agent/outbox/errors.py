"""What can go wrong when a caller asks the outbox for something; each message says what is kept."""

from __future__ import annotations

import errno
from pathlib import Path


class OutboxError(Exception):
    """An outbox operation could not be done; the message says why and what is kept."""


class OutboxStorageError(OutboxError):
    """The outbox's disk cannot keep a new report (full, read-only, not permitted): it was not queued."""


class OutboxFullError(OutboxStorageError, OSError):
    """No space left for a report: it was not queued, nothing partial is left, earlier reports stay."""

    def __init__(self, message: str, directory: Path) -> None:
        OSError.__init__(self, errno.ENOSPC, message, str(directory))
        self.message = message

    def __str__(self) -> str:
        return self.message


class OutboxBusyError(OutboxError):
    """A sender is delivering this entry right now."""


class UnknownEntryError(OutboxError, KeyError):
    """No queued report matches the id given."""

    def __str__(self) -> str:
        return str(self.args[0])
