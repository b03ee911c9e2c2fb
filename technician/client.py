"""The technician's client: every call technician mode makes to a backend goes through here.

It talks to the backend through the connector interface (``agent.connectors``) only, so
technician mode works with any ticket system that has a connector with the read side (the
built-in server, Request Tracker, …). ``features`` is worked out from the connector's declared
capabilities alone, and the UI shows only those: a backend without a changes feed is polled,
one without walk-up queues shows no queue board, one without figures no figures tab.

Calls block; technician mode runs them off the GUI thread. Each thread gets its own connector
(and so its own HTTP session), made by the factory it was given.
"""

from __future__ import annotations

import enum
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final, Protocol, cast

from agent.bundle import BundleError, ReportBundle
from agent.connectors.base import (
    AuthError,
    Caller,
    Capability,
    Change,
    ChangePage,
    Connector,
    ConnectorError,
    Figures,
    PermanentError,
    QueueBoard,
    QueuePlace,
    TicketFilter,
    TransientError,
    UnsupportedError,
)
from agent.flags import Flag, compute_flags
from agent.read_models import RequesterLink, Satisfaction
from agent.schema import MAX_SYSINFO_BYTES, SYSINFO_PATH, Report, Ticket
from technician.model import QueueFilter, TicketSummary

PAGE_SIZE: Final = 200  # the built-in server's largest page
HISTORY_LIMIT: Final = 25
MAX_CHANGES_WAIT: Final = 30.0
MAX_CHANGES_PER_CALL: Final = 1000


class Feature(enum.StrEnum):
    """What technician mode can do with this backend; the UI hides the rest."""

    READ = "read"  # list, open, download files, export the bundle
    STATUS = "status"
    NOTES = "notes"  # internal notes and replies to the reporter
    ASSIGN = "assign"
    LIVE = "live"  # the changes feed: updates without polling
    FILTERS = "filters"  # category, source, mine/unassigned, text search
    HISTORY = "history"  # earlier tickets of the same person or machine
    STATS = "stats"
    WALK_UP = "walk-up"  # the walk-up queue: places and "call next"
    LINK = "link"  # the person's link to the ticket's page: read it, revoke it
    SATISFACTION = "satisfaction"  # how the people helped rated it


@dataclass(frozen=True)
class TicketPage:
    tickets: Sequence[TicketSummary]
    next_cursor: str | None


@dataclass(frozen=True)
class TicketInfo:
    """A ticket opened in the viewer: summary, report, system information and its flags, timeline."""

    summary: TicketSummary
    report: Report | None
    sysinfo: Mapping[str, object] | None
    flags: tuple[Flag, ...]
    timeline: tuple[Mapping[str, Any], ...] = ()
    queue: QueuePlace | None = None
    link_revocable: bool = False  # the backend can revoke the person's link (Feature.LINK)


class LinkCalls(Protocol):
    """A connector that manages the person's link (the built-in server's)."""

    def requester_link(self, ticket_id: str) -> RequesterLink: ...
    def revoke_requester_link(self, ticket_id: str) -> RequesterLink: ...


class SatisfactionCalls(Protocol):
    """A connector that says how the people helped rated it."""

    def satisfaction(self, since: datetime, until: datetime) -> Satisfaction: ...


@dataclass(frozen=True)
class DeskFigures:
    """What Figures shows: the help desk's figures and, where the backend has them, the ratings."""

    figures: Figures
    satisfaction: Satisfaction | None


@dataclass(frozen=True)
class HistoryItem:
    ticket: TicketSummary
    same_person: bool
    same_machine: bool


@dataclass(frozen=True)
class CallResult:
    """After "call next": the ticket called, as a queue row (None: nobody was waiting), and the board."""

    called: TicketSummary | None
    board: QueueBoard


def is_connection_problem(error: BaseException) -> bool:
    """The backend is away or failing (no answer, 5xx): worth a banner and a retry, not a dialog."""
    return isinstance(error, TransientError) and (error.status is None or error.status >= 500)


class TechClient:
    """Blocking calls to one backend for technician mode; safe to call from several threads."""

    def __init__(self, connector_factory: Callable[[], Connector]) -> None:
        self._factory = connector_factory
        self._local = threading.local()
        self._made: list[Connector] = []
        self._lock = threading.Lock()
        self._closed = False
        probe = self._connector()
        self.system = probe.system
        self.capabilities = probe.capabilities
        self.features = features_of(probe.capabilities) | _optional_features(probe)

    # ------------------------------------------------------------ plumbing
    def _connector(self) -> Connector:
        connector: Connector | None = getattr(self._local, "connector", None)
        if connector is None:
            with self._lock:
                if self._closed:
                    raise TransientError("technician mode is shutting down", system="showdesk")
                connector = self._factory()
                self._made.append(connector)
            self._local.connector = connector
        return connector

    def _needs(self, feature: Feature) -> Connector:
        """This thread's connector, for a call that needs ``feature`` (refused clearly when it is missing)."""
        connector = self._connector()
        if feature not in self.features:
            raise UnsupportedError(f"{connector.system} does not offer {feature.value}", system=connector.system)
        return connector

    def close(self) -> None:
        """Close every connector made; later calls fail as transient."""
        with self._lock:
            self._closed = True
            made, self._made = self._made, []
        for connector in made:
            connector.close()

    # ------------------------------------------------------------ sign-in
    def sign_in(self) -> Caller:
        """Check the token; raises AuthError (refused, or not a technician's) or TransientError (unreachable)."""
        connector = self._connector()
        try:
            caller = connector.whoami()
        except UnsupportedError:
            connector.list_tickets(limit=1)  # the token works if it may list tickets
            return Caller(name="", role="technician", site=None)
        if caller.role not in ("technician", "admin"):
            raise AuthError(
                # The sign-in screen follows this with the command for this server's address.
                f"the stored token ({caller.name}) is a {caller.role} token; technician mode needs a technician token",
                system=self.system,
                status=403,
            )
        return caller

    # ------------------------------------------------------------ reading
    def list_page(self, filters: QueueFilter, cursor: str | None = None, limit: int = PAGE_SIZE) -> TicketPage:
        """One page of tickets under ``filters``, newest first."""
        limit = max(1, min(limit, PAGE_SIZE))
        connector = self._connector()
        if Feature.FILTERS in self.features:
            page = connector.list_tickets(limit=limit, cursor=cursor, filters=ticket_filter(filters))
        else:
            page = connector.list_tickets(status=filters.status, limit=limit, cursor=cursor)
        return TicketPage(_summaries(page.tickets, page.raw), page.next_cursor)

    def ticket(self, ticket_id: str) -> TicketInfo:
        """Everything the viewer shows of one ticket; flags are computed here from its system information."""
        connector = self._connector()
        detail = connector.get_ticket(ticket_id)
        raw = detail.raw
        if "number" in raw:  # the built-in server's record: the summary fields and more
            summary = TicketSummary.from_record(raw, detail.ticket)
        else:  # the report it came from, and what the record adds (its assignee, its last change)
            summary = TicketSummary.from_report(detail.ticket, detail.report)
            known = TicketSummary.from_record(raw, detail.ticket)
            summary = replace(
                summary,
                assignee=known.assignee,
                subject=summary.subject or known.subject,
                created_at=summary.created_at or known.created_at,
                updated_at=known.updated_at or summary.updated_at,
            )
        sysinfo = self._sysinfo(ticket_id, raw, detail.report)
        flags = tuple(compute_flags(sysinfo)) if sysinfo is not None else ()
        return TicketInfo(
            summary=summary,
            report=detail.report,
            sysinfo=sysinfo,
            flags=flags,
            timeline=tuple(e for e in detail.timeline if isinstance(e, Mapping)),
            queue=detail.queue,
            link_revocable=Feature.LINK in self.features,
        )

    def _sysinfo(self, ticket_id: str, raw: Mapping[str, Any], report: Report | None) -> Mapping[str, object] | None:
        given = raw.get("sysinfo")
        if isinstance(given, dict):
            return given
        if report is None or report.sysinfo is None or "sysinfo" in raw:
            return None  # a backend that sends it inline said there is none
        data = self.file(ticket_id, SYSINFO_PATH)
        if len(data) > MAX_SYSINFO_BYTES:
            return None
        try:
            loaded = json.loads(data)
        except ValueError:
            return None
        return loaded if isinstance(loaded, dict) else None

    def file(self, ticket_id: str, path: str) -> bytes:
        """One file of the ticket's report by its path in the bundle (steps/001.webp, sysinfo.json)."""
        return self._connector().attachment(ticket_id, path)

    def history(self, ticket: TicketSummary, limit: int = HISTORY_LIMIT) -> list[HistoryItem]:
        """Earlier tickets from the same person or the same machine, newest first, this one left out."""
        if Feature.HISTORY not in self.features:
            return []
        found: dict[str, TicketSummary] = {}
        by_person: set[str] = set()
        by_machine: set[str] = set()
        for key, value, marks in (
            ("reporter", ticket.reporter_email, by_person),
            ("source", ticket.source_id, by_machine),
        ):
            if not value:
                continue
            wanted = TicketFilter(reporter=value) if key == "reporter" else TicketFilter(source=value)
            try:
                page = self._needs(Feature.HISTORY).list_tickets(limit=limit + 1, filters=wanted)
            except UnsupportedError:
                continue  # a backend that cannot look a machine up still finds the person's tickets
            for other in _summaries(page.tickets, page.raw):
                if other.id == ticket.id:
                    continue
                found[other.id] = other
                marks.add(other.id)
        ordered = sorted(found.values(), key=lambda t: t.order_key, reverse=True)
        return [HistoryItem(t, t.id in by_person, t.id in by_machine) for t in ordered[: limit * 2]]

    # ------------------------------------------------------------ live changes
    def current_change_seq(self) -> int:
        """The newest change's sequence number, so the feed starts from now."""
        return self._needs(Feature.LIVE).changes(None).last_seq

    def changes(self, after: int, wait: float = 0.0, limit: int = MAX_CHANGES_PER_CALL) -> ChangePage:
        """Changes after ``after`` (a long poll: waits up to ``wait`` s for one)."""
        return self._needs(Feature.LIVE).changes(
            max(0, after), wait=max(0.0, min(wait, MAX_CHANGES_WAIT)), limit=max(1, min(limit, MAX_CHANGES_PER_CALL))
        )

    # ------------------------------------------------------------ work
    def set_status(self, ticket_id: str, status: str) -> TicketSummary:
        """Change the status; the answer is the ticket as it is now (read back: the row shows all of it)."""
        self._needs(Feature.STATUS).set_status(ticket_id, status)
        return self.ticket(ticket_id).summary

    def assign(self, ticket_id: str, assignee: str | None) -> TicketSummary:
        """Assign to a technician by name, ``"me"``, or nobody (None)."""
        self._needs(Feature.ASSIGN).assign(ticket_id, assignee)
        return self.ticket(ticket_id).summary

    def add_note(self, ticket_id: str, text: str, *, internal: bool) -> None:
        """An internal note for technicians, or (``internal=False``) a reply the reporter sees."""
        if not text.strip():
            raise PermanentError("the note is empty", system=self.system)
        self._connector().add_note(ticket_id, text, internal=internal)

    def export_bundle(self, ticket_id: str) -> tuple[str, bytes]:
        """The ticket's report as a ShowDesk bundle (the same bytes the reporter's bundle had)."""
        detail = self._connector().get_ticket(ticket_id)
        if detail.report is None:
            raise PermanentError(f"{self.system} did not give back the report of {ticket_id}", system=self.system)
        files = {ref.path: self.file(ticket_id, ref.path) for ref in detail.report.files()}
        try:
            data = ReportBundle(detail.report, files).to_bytes()
        except BundleError as exc:
            raise PermanentError(f"the files of {detail.ticket.number} do not match its report: {exc}") from exc
        return detail.ticket.number, data

    # ------------------------------------------------------------ walk-up queue
    def board(self, site: str) -> QueueBoard:
        return self._needs(Feature.WALK_UP).queue_board(site)

    def call_next(self, site: str) -> CallResult:
        call = self._needs(Feature.WALK_UP).call_next(site)
        return CallResult(None if call.called is None else TicketSummary.from_api(call.called), call.board)

    # ------------------------------------------------------------ the person's link
    def requester_link(self, ticket_id: str) -> RequesterLink:
        return cast(LinkCalls, self._needs(Feature.LINK)).requester_link(ticket_id)

    def revoke_link(self, ticket_id: str) -> RequesterLink:
        """Revoke the person's link: the old one is a 404 at once; answers the new one."""
        return cast(LinkCalls, self._needs(Feature.LINK)).revoke_requester_link(ticket_id)

    # ------------------------------------------------------------ figures
    def stats(self, since: datetime, until: datetime) -> Figures:
        return self._needs(Feature.STATS).stats(since.astimezone(UTC), until.astimezone(UTC))

    def satisfaction(self, since: datetime, until: datetime) -> Satisfaction:
        connector = cast(SatisfactionCalls, self._needs(Feature.SATISFACTION))
        return connector.satisfaction(since.astimezone(UTC), until.astimezone(UTC))

    def desk_figures(self, since: datetime, until: datetime) -> DeskFigures:
        """The figures and, where the backend rates tickets, satisfaction (None: it cannot say)."""
        figures = self.stats(since, until)
        rated = self.satisfaction(since, until) if Feature.SATISFACTION in self.features else None
        return DeskFigures(figures, rated)


# ---------------------------------------------------------------- helpers
# What technician mode offers, from what the connector declares (and nothing else).
FEATURE_NEEDS: Final[Mapping[Feature, frozenset[Capability]]] = {
    Feature.READ: frozenset({Capability.READ}),
    Feature.STATUS: frozenset({Capability.READ, Capability.STATUS}),
    Feature.NOTES: frozenset({Capability.READ, Capability.NOTES}),
    Feature.ASSIGN: frozenset({Capability.READ, Capability.ASSIGN}),
    Feature.LIVE: frozenset({Capability.READ, Capability.CHANGES}),
    Feature.FILTERS: frozenset({Capability.READ, Capability.FILTERS}),
    Feature.HISTORY: frozenset({Capability.READ, Capability.FILTERS}),
    Feature.STATS: frozenset({Capability.READ, Capability.STATS, Capability.FILTERS}),
    Feature.WALK_UP: frozenset({Capability.READ, Capability.WALK_UP}),
}


def features_of(capabilities: frozenset[Capability]) -> frozenset[Feature]:
    return frozenset(feature for feature, needed in FEATURE_NEEDS.items() if needed <= capabilities)


# Optional calls a connector offers beyond the base interface; named here until the connector
# interface declares them as capabilities of their own.
_OPTIONAL_CALLS: Final[Mapping[Feature, tuple[Capability, tuple[str, ...]]]] = {
    Feature.LINK: (Capability.READ, ("requester_link", "revoke_requester_link")),
    Feature.SATISFACTION: (Capability.STATS, ("satisfaction",)),
}


def _optional_features(connector: Connector) -> frozenset[Feature]:
    return frozenset(
        feature
        for feature, (needed, calls) in _OPTIONAL_CALLS.items()
        if needed in connector.capabilities and all(callable(getattr(connector, call, None)) for call in calls)
    )


def ticket_filter(filters: QueueFilter) -> TicketFilter:
    """The connector's filter for what the queue shows."""
    assignee = {"mine": "me", "unassigned": "none"}.get(filters.scope)
    text = filters.text.strip()[:200]
    return TicketFilter(
        status=filters.status or None,
        category=filters.category or None,
        source=filters.source or None,
        assignee=assignee,
        text=text or None,
    )


def _summaries(tickets: Sequence[Ticket], raw: Sequence[Mapping[str, Any]]) -> list[TicketSummary]:
    """Rows from a connector's page: its records where it sent one per ticket, else the tickets alone."""
    records = list(raw) if len(raw) == len(tickets) else [{}] * len(tickets)
    return [TicketSummary.from_record(record, ticket) for ticket, record in zip(tickets, records, strict=True)]


__all__ = [
    "CallResult",
    "Caller",
    "Change",
    "ChangePage",
    "ConnectorError",
    "DeskFigures",
    "Feature",
    "Figures",
    "HistoryItem",
    "QueueBoard",
    "TechClient",
    "TicketInfo",
    "TicketPage",
    "features_of",
    "is_connection_problem",
    "ticket_filter",
]
