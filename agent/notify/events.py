"""What happened that IT should hear of: a new report, a walk-up waiting too long, a critical flag.

Pure: the standard library and ``agent.schema``/``agent.read_models`` only, so the built-in
server builds the same events from its own tickets and queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from agent.read_models import QueueBoard
from agent.schema import Report

EventKind = Literal["new_report", "walkup_waiting", "critical_flag"]
EVENT_KINDS: Final[tuple[EventKind, ...]] = ("new_report", "walkup_waiting", "critical_flag")
# Bounds on what one event carries: a notification is a pointer to the ticket, not the ticket.
MAX_SUBJECT_CHARS: Final = 200
MAX_LABEL_CHARS: Final = 80
MAX_FLAG_MESSAGE_CHARS: Final = 300
MAX_FLAGS: Final = 5


def clip(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters (an ellipsis marks a cut)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class FlagFact:
    """A system-information flag as plain data (``agent.flags.Flag`` on the agent, the same fields on the server)."""

    code: str
    severity: str
    message: str

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FlagFact:
        return cls(
            code=clip(str(data.get("code", "")), MAX_LABEL_CHARS),
            severity=str(data.get("severity", "")),
            message=clip(str(data.get("message", "")), MAX_FLAG_MESSAGE_CHARS),
        )


@dataclass(frozen=True)
class ReportFacts:
    """What a notification may say of a report: no description beyond its subject, no pictures, no e-mail."""

    report_id: str
    subject: str
    category: str
    site: str
    source_kind: str
    walk_up: bool
    flags: tuple[FlagFact, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportFacts:
        return cls(
            report_id=str(data["report_id"]),
            subject=str(data.get("subject", "")),
            category=str(data.get("category", "")),
            site=str(data.get("site", "")),
            source_kind=str(data.get("source_kind", "")),
            walk_up=bool(data.get("walk_up", False)),
            flags=tuple(FlagFact.from_mapping(f) for f in data.get("flags", ()) if isinstance(f, Mapping)),
        )


def facts_from_report(report: Report, flags: Iterable[FlagFact | Mapping[str, Any]] = ()) -> ReportFacts:
    """The facts of ``report``; ``flags`` as computed from its system information (most severe first)."""
    kept = [f if isinstance(f, FlagFact) else FlagFact.from_mapping(f) for f in flags]
    return ReportFacts(
        report_id=str(report.id),
        subject=clip(report.subject(), MAX_SUBJECT_CHARS),
        category=clip(report.category, MAX_LABEL_CHARS),
        site=clip(report.source.site or "", MAX_LABEL_CHARS),
        source_kind=report.source.kind,
        walk_up=report.walk_up,
        flags=tuple(kept[:MAX_FLAGS]),
    )


@dataclass(frozen=True)
class NotifyEvent:
    """One thing to tell; ``key`` is the same for the same happening, whoever sees it and how often."""

    kind: EventKind
    key: str
    occurred_at: float  # seconds since the epoch
    site: str = ""
    category: str = ""
    subject: str = ""
    report_id: str = ""
    ticket_number: str = ""
    ticket_url: str = ""
    source_kind: str = ""
    walk_up: bool = False
    flags: tuple[FlagFact, ...] = ()
    waiting_minutes: int = 0
    queue_number: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def critical_flags(self) -> tuple[FlagFact, ...]:
        return tuple(f for f in self.flags if f.severity == "critical")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["flags"] = [asdict(f) for f in self.flags]
        data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NotifyEvent:
        kind = str(data["kind"])
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        return cls(
            kind=kind,  # narrowed to EventKind by the membership test above
            key=str(data["key"]),
            occurred_at=float(data["occurred_at"]),
            site=str(data.get("site", "")),
            category=str(data.get("category", "")),
            subject=str(data.get("subject", "")),
            report_id=str(data.get("report_id", "")),
            ticket_number=str(data.get("ticket_number", "")),
            ticket_url=str(data.get("ticket_url", "")),
            source_kind=str(data.get("source_kind", "")),
            walk_up=bool(data.get("walk_up", False)),
            flags=tuple(FlagFact.from_mapping(f) for f in data.get("flags", ()) if isinstance(f, Mapping)),
            waiting_minutes=int(data.get("waiting_minutes", 0)),
            queue_number=str(data.get("queue_number", "")),
            extra={str(k): str(v) for k, v in dict(data.get("extra", {})).items()},
        )


def report_events(facts: ReportFacts, *, ticket_number: str, ticket_url: str, now: float) -> list[NotifyEvent]:
    """A delivered report: always "new_report", and "critical_flag" when a flag is critical."""
    common: dict[str, Any] = {
        "occurred_at": now,
        "site": facts.site,
        "category": facts.category,
        "subject": facts.subject,
        "report_id": facts.report_id,
        "ticket_number": clip(ticket_number, MAX_LABEL_CHARS),
        "ticket_url": ticket_url,
        "source_kind": facts.source_kind,
        "walk_up": facts.walk_up,
        "flags": facts.flags,
    }
    events = [NotifyEvent(kind="new_report", key=f"new_report:{facts.report_id}", **common)]
    if any(f.severity == "critical" for f in facts.flags):
        events.append(NotifyEvent(kind="critical_flag", key=f"critical_flag:{facts.report_id}", **common))
    return events


def walkup_events(
    board: QueueBoard, *, minutes: int, now: datetime, ticket_urls: Mapping[str, str] | None = None
) -> list[NotifyEvent]:
    """People on ``board`` still waiting (not called) for at least ``minutes``; one event per person and threshold."""
    events: list[NotifyEvent] = []
    for entry in board.waiting:
        if entry.state != "waiting":
            continue
        waited = (now - entry.waiting_since).total_seconds() / 60
        if waited < minutes:
            continue
        events.append(
            NotifyEvent(
                kind="walkup_waiting",
                key=f"walkup_waiting:{board.site}:{entry.number}:{minutes}",
                occurred_at=now.timestamp(),
                site=clip(board.site, MAX_LABEL_CHARS),
                subject=clip(f"Walk-up {entry.number} waiting {int(waited)} min", MAX_SUBJECT_CHARS),
                ticket_number=clip(entry.number, MAX_LABEL_CHARS),
                ticket_url=(ticket_urls or {}).get(entry.ticket_id or "", ""),
                source_kind="kiosk",
                walk_up=True,
                waiting_minutes=int(waited),
                queue_number=clip(entry.number, MAX_LABEL_CHARS),
            )
        )
    return events

