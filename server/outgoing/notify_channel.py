"""Notifications to where IT works (Teams, Slack, a signed webhook), one outgoing channel per target.

Each ``[[server.notify]]`` target is its own channel in the queue, named ``notify:<name>``, with
the target's name as the row's recipient: the queue's unique key (channel, ticket, event, kind,
recipient) then makes each (event, target) one row, told once, and ``showdesk server mail list``
shows the target's name, never its URL. The rules, events and payloads are the agent's own
(``agent.notify``), so a target configured on the server behaves as on the outbox path.

Events come from the timeline (a new ticket, a critical flag in its system information) and
from a bounded periodic look at the walk-up queue (someone still waiting past the threshold).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Final, Protocol

from agent.flags import compute_flags
from agent.notify.events import FlagFact, NotifyEvent, ReportFacts, report_events
from agent.notify.transport import post
from server.outgoing.channel import PermanentSendError, RetryLaterError, SendError
from server.settings import NotifyTargetSettings
from server.store import Claimed, Derived, EventRow, TicketRow

log = logging.getLogger("showdesk.server.notify")

CHANNEL_PREFIX: Final = "notify:"
MESSAGE_DOMAIN: Final = "notify.showdesk.invalid"
WALKUP_KIND: Final = "walkup_waiting"
# The sysinfo of one report is small (agent.schema bounds it); a bigger read is not a snapshot.
MAX_SYSINFO_READ: Final = 2 * 1024 * 1024

TicketUrl = Callable[[TicketRow], str]
# The system information of a ticket as stored (None when it has none or it cannot be read).
SysinfoReader = Callable[[TicketRow], Mapping[str, object] | None]


class Format(Protocol):
    """What one kind of target is sent: the body and headers of the POST for one event."""

    def __call__(
        self, event: NotifyEvent, delivery_id: str, secret: str, now: float
    ) -> tuple[bytes, dict[str, str]]: ...


def channel_name(target_name: str) -> str:
    return f"{CHANNEL_PREFIX}{target_name}"


def ticket_flags(ticket: TicketRow, read_sysinfo: SysinfoReader) -> tuple[FlagFact, ...]:
    snapshot = read_sysinfo(ticket)
    if not snapshot:
        return ()
    return tuple(FlagFact(code=f.code, severity=f.severity, message=f.message) for f in compute_flags(snapshot))


def ticket_facts(ticket: TicketRow, flags: tuple[FlagFact, ...]) -> ReportFacts:
    return ReportFacts(
        report_id=ticket.id,
        subject=ticket.subject,
        category=ticket.category,
        site=ticket.site or "",
        source_kind=ticket.source_kind,
        walk_up=ticket.walk_up,
        flags=flags,
    )


class NotifyChannel:
    """One notification target as a channel of the outgoing queue."""

    def __init__(
        self,
        settings: NotifyTargetSettings,
        format_message: Format,
        *,
        ticket_url: TicketUrl,
        read_sysinfo: SysinfoReader,
        timeout: float,
        clock: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._format = format_message
        self._ticket_url = ticket_url
        self._read_sysinfo = read_sysinfo
        self._timeout = timeout
        self._clock = clock

    @property
    def name(self) -> str:
        return channel_name(self._settings.target.name)

    @property
    def target_name(self) -> str:
        return self._settings.target.name

    @property
    def message_domain(self) -> str:
        return MESSAGE_DOMAIN

    @property
    def walkup_seconds(self) -> float | None:
        """The walk-up threshold the worker checks the queue against; None when this target does not want it."""
        target = self._settings.target
        if not target.enabled or WALKUP_KIND not in target.events:
            return None
        return self._settings.walkup_threshold_seconds

    def wants_walkup(self, site: str, category: str) -> bool:
        target = self._settings.target
        if target.sites and site.casefold() not in {s.casefold() for s in target.sites}:
            return False
        return not (target.categories and category.casefold() not in {c.casefold() for c in target.categories})

    # ------------------------------------------------------------ deriving
    def derive(self, event: EventRow, ticket: TicketRow) -> Sequence[Derived]:
        if event.kind != "created":
            return []
        target = self._settings.target
        # The sysinfo is read only when a critical flag would be told: a new-ticket-only target reads nothing.
        flags = ticket_flags(ticket, self._read_sysinfo) if "critical_flag" in target.events else ()
        events = report_events(ticket_facts(ticket, flags), ticket_number=ticket.number, ticket_url="", now=event.at)
        return [Derived(e.kind, self.target_name) for e in events if target.wants(e)]

    # ------------------------------------------------------------ sending
    def notify_event(self, claimed: Claimed) -> NotifyEvent:
        ticket, row = claimed.ticket, claimed.row
        url = self._ticket_url(ticket)
        if row.kind == WALKUP_KIND:
            waited = max(0.0, self._clock() - claimed.event.at)
            return NotifyEvent(
                kind="walkup_waiting",
                key=f"walkup_waiting:{ticket.id}",
                occurred_at=self._clock(),
                site=ticket.site or "",
                category=ticket.category,
                subject=f"Walk-up {ticket.number} waiting {int(waited // 60)} min",
                report_id=ticket.id,
                ticket_number=ticket.number,
                ticket_url=url,
                source_kind=ticket.source_kind,
                walk_up=True,
                waiting_minutes=int(waited // 60),
                queue_number=ticket.number,
            )
        flags = ticket_flags(ticket, self._read_sysinfo) if row.kind == "critical_flag" else ()
        events = report_events(
            ticket_facts(ticket, flags), ticket_number=ticket.number, ticket_url=url, now=claimed.event.at
        )
        for event in events:
            if event.kind == row.kind:
                return event
        raise PermanentSendError(f"ticket {ticket.number} no longer calls for a {row.kind} notification")

    def send(self, claimed: Claimed) -> None:
        if not self._settings.url:
            ref = self._settings.target.url
            raise SendError(f"no URL for target {self.target_name!r}: set {ref.describe()}")
        event = self.notify_event(claimed)
        # The row's stable id: the same on every retry, so a receiver drops a repeat after a lost answer.
        delivery_id = claimed.row.message_id.strip("<>").partition("@")[0]
        body, headers = self._format(event, delivery_id, self._settings.secret, self._clock())
        answer = post(self._settings.url, body, headers, self._timeout)
        if answer.ok:
            return
        words = f"{self._settings.target.kind} target {self.target_name!r}: {answer.describe()}"
        if answer.status == 429 and answer.retry_after is not None:
            raise RetryLaterError(words, answer.retry_after)
        if answer.permanent:
            raise PermanentSendError(words)
        raise SendError(words)

    def close(self) -> None:
        """Nothing is held between sends: each POST opens its own connection."""


def sysinfo_from_manifest(read_blob: Callable[[str], bytes]) -> SysinfoReader:
    """A reader of a ticket's sysinfo through the digest its stored manifest names."""

    def read(ticket: TicketRow) -> Mapping[str, object] | None:
        try:
            manifest = json.loads(ticket.manifest)
            digest = manifest.get("sysinfo", {}).get("sha256") if isinstance(manifest, dict) else None
            if not isinstance(digest, str):
                return None
            data = read_blob(digest)[:MAX_SYSINFO_READ]
            loaded = json.loads(data)
        except (ValueError, OSError, AttributeError, KeyError) as exc:
            log.warning("the system information of %s could not be read: %s", ticket.number, type(exc).__name__)
            return None
        return loaded if isinstance(loaded, dict) else None

    return read
