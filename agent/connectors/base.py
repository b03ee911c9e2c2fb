"""The one small interface every connector implements, and the errors the outbox retries on.

A connector turns a report into a ticket in one ticket system and, where that system
allows it, reads tickets back. It declares what it supports in ``capabilities`` so a UI
hides what cannot work instead of failing; the optional methods raise
``UnsupportedError`` by default.

Errors are classified for the outbox's retry rules:

* ``TransientError``: try again later with the same idempotency key (network failures,
  timeouts, 408, 409, 425, 429, 5xx); ``retry_after`` carries the server's wish. A 409
  means "this idempotency key is still being processed" only for a submission; to any other
  call it is a refusal in the ticket's current state, a ``PermanentError`` with the reason.
* ``AuthError``: the token is missing or refused (401, 403). Retrying cannot help until
  a person fixes the token, so the outbox pauses that backend's reports (kept, not
  dead) and tries again on ``wake()`` or after a long pause.
* ``PermanentError``: the backend refused this report for good (other 4xx) with its
  reason; the outbox moves it to the dead letters, where a person can retry or purge.
* ``TooLargeError`` (413), a ``PermanentError``: a connector that can shrink a report
  does so once before raising it.
"""

from __future__ import annotations

import abc
import enum
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

from agent.bundle import ReportBundle

# The read side's answers are the models the built-in server publishes, defined once beside the
# report schema: every connector fills the same ones, and the apps read their attributes.
from agent.schema import Caller, Change, ChangePage, Figures, QueueBoard, QueueCall, QueuePlace, Report, Ticket

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes sent so far, total bytes) while a report uploads."""

# A hostile or broken server must not park a report for days with one header.
MAX_RETRY_AFTER_SECONDS: Final = 6 * 3600.0
MAX_REASON_CHARS: Final = 500


class Capability(enum.StrEnum):
    """What a connector can do; UIs show only what is declared."""

    SUBMIT = "submit"
    READ = "read"  # list_tickets, get_ticket, attachment
    STATUS = "status"  # set_status
    NOTES = "notes"  # add_note
    QUEUE = "queue"  # queue_place (walk-up queue)
    PROGRESS = "progress"  # submit reports upload progress
    IDEMPOTENT = "idempotent"  # a replayed submission returns the same ticket, never a second one
    CHANGES = "changes"  # changes(): what changed since a sequence number (live lists)
    FILTERS = "filters"  # list_tickets(filters=...) beyond status: category, source, assignee, reporter, text
    ASSIGN = "assign"  # assign()
    STATS = "stats"  # stats()
    WALK_UP = "walk-up"  # queue_board(), call_next()


# ---------------------------------------------------------------- errors
class ConnectorError(Exception):
    """A connector call failed; ``reason`` is the text to show, ``system`` names the backend."""

    def __init__(self, reason: str, *, system: str = "", status: int | None = None) -> None:
        self.reason = reason[:MAX_REASON_CHARS]
        self.system = system
        self.status = status
        super().__init__(self.reason)


class TransientError(ConnectorError):
    """Worth another try later, with the same idempotency key."""

    def __init__(
        self, reason: str, *, system: str = "", status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason, system=system, status=status)
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """The backend refused this report for good; retrying the same bytes cannot help."""


class TooLargeError(PermanentError):
    """The backend's size limit is below this report, even after any shrinking the connector does."""


class AuthError(ConnectorError):
    """The token is missing or refused; nothing will get through until a person fixes it."""


# A secret as a connector receives it: the value, or a function that looks it up at each call
# (so a `showdesk login` takes effect without a restart), or nothing.
TokenSource = str | Callable[[], str | None] | None


def secret_from(source: TokenSource, *, system: str, what: str = "token") -> str:
    """The secret ``source`` gives now; an ``AuthError`` saying how to store one if there is none."""
    secret = source() if callable(source) else source
    if not secret:
        raise AuthError(
            f"no {what} for {system}; store one with `showdesk login URL` or set SHOWDESK_TOKEN", system=system
        )
    return secret


class UnsupportedError(ConnectorError):
    """The connector does not offer this operation (see ``Connector.capabilities``)."""


# ---------------------------------------------------------------- read-side data
@dataclass(frozen=True)
class TicketFilter:
    """Which tickets a list shows; every field left None does not filter."""

    status: str | None = None
    category: str | None = None
    source: str | None = None  # a kiosk's id or a machine's host name
    assignee: str | None = None  # a technician's name, "me" or "none"
    reporter: str | None = None  # an e-mail address
    text: str | None = None  # words in the subject or description
    since: datetime | None = None  # created at or after


@dataclass(frozen=True)
class TicketPage:
    """One page of a ticket list; pass ``next_cursor`` back for the next page (None: the last).

    ``raw`` holds the backend's own records. Connectors to other ticket systems add the
    built-in server's summary keys next to their own where they know them (``subject``,
    ``created_at``, ``updated_at``, ``assignee``, ``reporter``: {``name``, ``email``}), so a
    list can show rows without knowing each system.
    """

    tickets: Sequence[Ticket]
    next_cursor: str | None = None
    raw: Sequence[Mapping[str, Any]] = ()  # the backend's own records, for UIs that show more


@dataclass(frozen=True)
class TicketDetail:
    """A ticket as read back: its summary, the report it came from, and what happened since."""

    ticket: Ticket
    report: Report | None = None
    timeline: Sequence[Mapping[str, Any]] = ()
    queue: QueuePlace | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- the interface
class Connector(abc.ABC):
    """The adapter between reports and one ticket system."""

    #: What this connector supports; ``Capability.SUBMIT`` at least.
    capabilities: frozenset[Capability] = frozenset({Capability.SUBMIT})

    @property
    @abc.abstractmethod
    def system(self) -> str:
        """A short name for messages: "ShowDesk server at https://help.example.org"."""

    @abc.abstractmethod
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        """Make a ticket of ``bundle``; replaying the same report returns the same ticket.

        The report id is the idempotency key. Raises a ``ConnectorError`` subclass.
        """

    def list_tickets(
        self,
        *,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        filters: TicketFilter | None = None,
    ) -> TicketPage:
        """Tickets newest first, one page; a submitter's token sees only its own.

        ``filters`` beyond their status need ``Capability.FILTERS``; ``status`` is the same as
        ``filters.status`` (the filter's wins when both are given).
        """
        raise self._unsupported(Capability.READ)

    def whoami(self) -> Caller:
        """Who the token in use belongs to (a name may be "" where the backend cannot say)."""
        raise self._unsupported(Capability.READ)

    def iter_tickets(self, *, status: str | None = None, page_size: int = 100) -> Iterator[Ticket]:
        """Every ticket, following the pages."""
        cursor: str | None = None
        while True:
            page = self.list_tickets(status=status, limit=page_size, cursor=cursor)
            yield from page.tickets
            if page.next_cursor is None or not page.tickets:
                return
            cursor = page.next_cursor

    def get_ticket(self, ticket_id: str) -> TicketDetail:
        raise self._unsupported(Capability.READ)

    def attachment(self, ticket_id: str, path: str) -> bytes:
        """The bytes of one file of the ticket's report, by its path in the bundle."""
        raise self._unsupported(Capability.READ)

    def set_status(self, ticket_id: str, status: str) -> Ticket:
        raise self._unsupported(Capability.STATUS)

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> None:
        """A note for technicians, or (``internal=False``) a reply the reporter sees."""
        raise self._unsupported(Capability.NOTES)

    def queue_place(self, ticket_id: str) -> QueuePlace:
        raise self._unsupported(Capability.QUEUE)

    def changes(self, after: int | None, *, wait: float = 0.0, limit: int = 500) -> ChangePage:
        """Changes after sequence number ``after``, waiting up to ``wait`` seconds for the first one.

        ``after=None``: none, at once, with ``last_seq`` the newest change's number, to follow from now on.
        """
        raise self._unsupported(Capability.CHANGES)

    def assign(self, ticket_id: str, assignee: str | None) -> Ticket:
        """Assign to a technician by name, ``"me"`` (the token's owner), or nobody (None)."""
        raise self._unsupported(Capability.ASSIGN)

    def stats(self, since: datetime, until: datetime) -> Figures:
        """The help desk's figures for tickets created in [since, until)."""
        raise self._unsupported(Capability.STATS)

    def queue_board(self, site: str) -> QueueBoard:
        """The walk-up queue of ``site``: who waits, who is served, the estimated wait."""
        raise self._unsupported(Capability.WALK_UP)

    def call_next(self, site: str) -> QueueCall:
        """Call the longest-waiting walk-up person at ``site``: the ticket called (None: nobody waits), the board."""
        raise self._unsupported(Capability.WALK_UP)

    def network_clear(self) -> bool | None:
        """Whether the network in between lets requests through to the backend now, asked cheaply.

        The outbox asks this on a short cadence while a report waits for a captive portal or a
        proxy, instead of uploading the whole report through it again: True when nothing answers
        in the backend's place any more, False when something still does (or nothing gets
        through). None, the default, means this connector cannot tell without a full try: the
        outbox's normal backoff and full sends apply. It never sends a credential and never raises.
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook; connectors without connections keep it
        """Release connections; the connector must not be used afterwards."""

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _status_only(self, status: str | None, filters: TicketFilter | None) -> str | None:
        """The status to list for a connector without ``Capability.FILTERS``; any other filter is refused."""
        if filters is None:
            return status
        others = {k: v for k, v in vars(filters).items() if k != "status" and v is not None}
        if others:
            raise self._unsupported(Capability.FILTERS)
        return filters.status or status

    def _unsupported(self, capability: Capability) -> UnsupportedError:
        return UnsupportedError(f"{self.system} does not support {capability.value}", system=self.system)


# ---------------------------------------------------------------- classification
def error_for_status(
    status: int, *, system: str, reason: str = "", retry_after: float | None = None
) -> ConnectorError:
    """The error class the outbox's retry rules expect for an HTTP status that is not success."""
    detail = f"{system} answered {status}" + (f": {reason}" if reason else "")
    if status in (401, 403):
        return AuthError(
            f"token refused by {system} ({status})" + (f": {reason}" if reason else ""),
            system=system,
            status=status,
        )
    if status == 413:
        return TooLargeError(
            f"the report is larger than {system} accepts" + (f": {reason}" if reason else ""),
            system=system,
            status=status,
        )
    # 409: another request with this idempotency key is still being processed; 425: too early.
    if status in (408, 409, 425, 429) or 500 <= status <= 599:
        # The statuses whose Retry-After means "this long until there is room": rate limited,
        # overloaded, the server's disk full.
        keeps_retry_after = status in (429, 503, 507)
        return TransientError(
            detail, system=system, status=status, retry_after=retry_after if keeps_retry_after else None
        )
    if 300 <= status <= 399:
        return PermanentError(
            f"{system} answered with a redirect ({status}); check the backend URL", system=system, status=status
        )
    if 400 <= status <= 499:
        return PermanentError(detail, system=system, status=status)
    # 1xx or an unexpected 2xx: the request may not have been handled; safe to repeat.
    return TransientError(f"{system} gave an unexpected answer ({status})", system=system, status=status)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), bounded."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    seconds: float
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def check_ticket_matches(ticket: Ticket, report_id: uuid.UUID, *, system: str) -> Ticket:
    """A ticket that claims another report's id means the backend mixed things up: refuse it."""
    if ticket.report_id is not None and ticket.report_id != report_id:
        raise PermanentError(
            f"{system} answered with a ticket for report {ticket.report_id}, not {report_id}", system=system
        )
    return ticket


__all__ = [
    "MAX_REASON_CHARS",
    "MAX_RETRY_AFTER_SECONDS",
    "AuthError",
    "Caller",
    "Capability",
    "Change",
    "ChangePage",
    "Connector",
    "ConnectorError",
    "Figures",
    "PermanentError",
    "ProgressCallback",
    "QueueBoard",
    "QueueCall",
    "QueuePlace",
    "TicketDetail",
    "TicketFilter",
    "TicketPage",
    "TokenSource",
    "TooLargeError",
    "TransientError",
    "UnsupportedError",
    "check_ticket_matches",
    "error_for_status",
    "parse_retry_after",
    "secret_from",
]
