"""The store's vocabulary: roles, statuses, the records it takes and gives back, its errors.

Plain data and rules, no SQL: every other part of the store, and the server's HTTP layer,
speak in these. Times are Unix seconds (float); the API renders them as ISO 8601.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

NUMBER_PREFIX: Final = "SD-"
# Ticket numbers start at SD-1001: short, but never confused with a count.
NUMBER_OFFSET: Final = 1000

Role = Literal["submitter", "technician", "admin"]
ROLES: Final[tuple[Role, ...]] = ("submitter", "technician", "admin")
ROLE_RANK: Final[dict[str, int]] = {"submitter": 0, "technician": 1, "admin": 2}

Status = Literal["new", "open", "waiting", "resolved", "closed"]
STATUSES: Final[tuple[Status, ...]] = ("new", "open", "waiting", "resolved", "closed")
# new → open → waiting → resolved → closed; waiting goes back to open when the person
# answers; resolved or closed tickets reopen to open.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "new": frozenset({"open", "waiting", "resolved"}),
    "open": frozenset({"waiting", "resolved"}),
    "waiting": frozenset({"open", "resolved"}),
    "resolved": frozenset({"closed", "open"}),
    "closed": frozenset({"open"}),
}


QueueState = Literal["waiting", "called", "served"]


# ---------------------------------------------------------------- errors
class StoreError(Exception):
    """A request the store refused; the message names the cause."""


class StoreBusyError(StoreError):
    """The database stayed locked longer than the busy timeout."""


class DatabaseUnavailableError(StoreBusyError):
    """The database server cannot be reached (PostgreSQL down, the connection lost); a retry may succeed."""


class NotFoundError(StoreError):
    pass


class InvalidTransitionError(StoreError):
    pass


class IdempotencyConflictError(StoreError):
    pass


class TokenNameTakenError(StoreError):
    pass


class StorageFullError(StoreError):
    """The disk (or quota) under the database or the blobs is full: nothing was stored; retry later."""


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class TokenRecord:
    id: str
    name: str
    role: Role
    site: str | None
    created_at: float
    revoked_at: float | None

    def may(self, role: str) -> bool:
        """Whether this token's role includes ``role`` (admin ⊃ technician ⊃ submitter)."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


# "answer": a photo the person sent with an answer on the requester's page.
FileRole = Literal["step", "original", "attachment", "clip", "sysinfo", "answer"]


@dataclass(frozen=True)
class NewFile:
    path: str
    role: FileRole
    step_index: int | None
    sha256: str
    size: int
    media_type: str
    display_name: str | None = None


@dataclass(frozen=True)
class NewTicket:
    """Everything the database keeps of a validated report."""

    report_id: str
    fingerprint: str
    manifest: str
    subject: str
    description: str
    category: str
    source_kind: str
    source_id: str
    site: str | None
    reporter_name: str | None
    reporter_email: str | None
    walk_up: bool
    step_count: int
    attachment_count: int
    self_help_articles: Sequence[str]
    files: Sequence[NewFile]
    # The language the person reported in (the submission's Accept-Language), kept in the same
    # transaction so the first mail already speaks it.
    language: str | None = None


@dataclass(frozen=True)
class TicketRow:
    seq: int
    id: str
    number: str
    status: Status
    subject: str
    description: str
    category: str
    source_kind: str
    source_id: str
    site: str | None
    reporter_name: str | None
    reporter_email: str | None
    submitted_by: str
    assignee: str | None
    walk_up: bool
    step_count: int
    attachment_count: int
    created_at: float
    reported_at: str
    updated_at: float
    first_response_at: float | None
    resolved_at: float | None
    closed_at: float | None
    fingerprint: str
    manifest: str
    # The requester's link: its generation (a revocation bumps it) and the person's language.
    link_generation: int = 0
    language: str | None = None


@dataclass(frozen=True)
class FileRow:
    id: int
    ticket_seq: int
    path: str
    role: FileRole
    step_index: int | None
    sha256: str
    size: int
    media_type: str
    display_name: str | None


@dataclass(frozen=True)
class EventRow:
    seq: int
    ticket_seq: int
    kind: str
    actor: str
    at: float
    internal: bool
    data: dict[str, Any]


@dataclass(frozen=True)
class Change:
    seq: int
    ticket_id: str
    kind: str
    at: float


@dataclass(frozen=True)
class QueuePlace:
    site: str
    state: QueueState
    position: int
    ahead: int
    estimated_wait_seconds: float
    enqueued_at: float
    called_at: float | None
    served_at: float | None


@dataclass(frozen=True)
class BoardEntry:
    ticket_id: str
    number: str
    reporter_name: str | None
    state: QueueState
    position: int
    enqueued_at: float
    called_at: float | None
    called_by: str | None
    estimated_wait_seconds: float


@dataclass(frozen=True)
class QueueBoard:
    site: str
    waiting: list[BoardEntry]
    serving: list[BoardEntry]
    mean_service_seconds: float
    service_history: int
    estimated_wait_seconds: float


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None
    category: str | None = None
    source_id: str | None = None
    site: str | None = None
    text: str | None = None
    created_after: float | None = None
    assignee: str | None = None
    unassigned: bool = False
    reporter_email: str | None = None
    submitted_by: str | None = None


@dataclass
class Summary:
    count: int = 0
    mean_seconds: float | None = None
    median_seconds: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            return cls()
        return cls(len(values), statistics.fmean(values), statistics.median(values))


@dataclass(frozen=True)
class Satisfaction:
    """What people said of resolved tickets in a window: how many rated, how, and the trend."""

    since: float
    until: float
    resolved: int
    rated: int
    average: float | None
    distribution: dict[int, int]
    solved: int
    still_broken: int
    # Average rating per week (its first day, Unix seconds), oldest first; weeks without ratings left out.
    weekly: list[tuple[float, float, int]]

    @property
    def share_rated(self) -> float | None:
        return self.rated / self.resolved if self.resolved else None


@dataclass
class Stats:
    since: float
    until: float
    tickets_created: int
    first_response: Summary
    resolution: Summary
    walk_up_wait: Summary
    by_category: list[tuple[str, int]]
    solved_by_article: int
    reports_after_articles: int
    top_articles: list[tuple[str, int]]
    recurring_machines: list[tuple[str, int]]
    open_tickets: int = 0

    @property
    def share_solved_by_self_help(self) -> float | None:
        total = self.solved_by_article + self.tickets_created
        return self.solved_by_article / total if total else None


LINK_KEY_NAME: Final = "requester-link-key"


def link_secret(key: bytes, ticket_id: str, generation: int) -> str:
    """The secret of a ticket's requester link: 256 bits derived from the server's key.

    Derived, not stored, so a replayed report (or a listing) names the same working link
    without the database ever holding it; a revocation bumps ``generation``, which gives a
    new secret and leaves the old one matching nothing.
    """
    digest = hmac.new(key, f"requester-link:{ticket_id}:{generation}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def link_hash(secret: str) -> str:
    """What the database keeps of a link's secret (the same hash as an API token's)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def ticket_number(seq: int) -> str:
    return f"{NUMBER_PREFIX}{NUMBER_OFFSET + seq}"
