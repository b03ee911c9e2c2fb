"""Technician mode's plain data and rules: ticket rows, filters, sort keys, read state, step layout.

Nothing here imports Qt or talks to a backend, so the rules are tested on their own and the
widgets only show their results.
"""

from __future__ import annotations

import enum
import json
import logging
import math
import re
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from agent import schema
from agent.flags import Flag
from agent.schema import Report, Step, Ticket

log = logging.getLogger(__name__)

STATUSES: Final = ("new", "open", "waiting", "resolved", "closed")
OPEN_STATUSES: Final = frozenset({"new", "open", "waiting"})
# The built-in server's documented transitions (its OpenAPI summary of /status); a backend
# that refuses one anyway answers with its reason, which the UI shows.
STATUS_TRANSITIONS: Final[Mapping[str, frozenset[str]]] = {
    "new": frozenset({"open", "waiting", "resolved"}),
    "open": frozenset({"waiting", "resolved"}),
    "waiting": frozenset({"open", "resolved"}),
    "resolved": frozenset({"closed", "open"}),
    "closed": frozenset({"open"}),
}
SEVERITY_RANK: Final = {"critical": 0, "warning": 1, "info": 2}
# Steps captured this close together on different monitors were one "capture all screens".
SAME_CAPTURE_SECONDS: Final = 5.0
MAX_READ_ENTRIES: Final = 20_000
_WORD_RE: Final = re.compile(r"\w+", re.UNICODE)
_DIGITS_RE: Final = re.compile(r"(\d+)\s*$")


def login_command(server: str) -> str:
    """The command that stores a technician token for ``server``, as ``showdesk login --help`` spells it.

    One place for it, so every hint technician mode gives (sign-in screen, error messages) says
    a command the command line accepts; tests/technician parse it with the real parser.
    """
    return f"showdesk login {shlex.quote(server)} --role technician"


Scope = Literal["all", "mine", "unassigned"]


def parse_time(value: object) -> datetime | None:
    """An aware datetime from an ISO 8601 string (or None for anything else)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class TicketSummary:
    """One row of the queue: what the list shows of a ticket."""

    id: str
    number: str
    status: str
    url: str = ""
    subject: str = ""
    description: str | None = None  # None: not known (ticket lists leave it out)
    category: str = ""
    source_kind: str = ""
    source_id: str = ""
    site: str | None = None
    reporter_name: str | None = None
    reporter_email: str | None = None
    assignee: str | None = None
    walk_up: bool = False
    step_count: int | None = None
    attachment_count: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    # When the person reported it on their own clock (the report's created_at), which can be long
    # before it arrived (a kiosk offline, an outbox on a laptop), and the code a kiosk printed for it.
    reported_at: datetime | None = None
    receipt_code: str = ""

    @classmethod
    def from_record(cls, record: Mapping[str, Any], ticket: Ticket | None = None) -> TicketSummary:
        """From the built-in server's ticket record (a list item or a detail); unknown fields are ignored."""
        source = record.get("source") if isinstance(record.get("source"), Mapping) else {}
        reporter = record.get("reporter") if isinstance(record.get("reporter"), Mapping) else {}
        assert isinstance(source, Mapping) and isinstance(reporter, Mapping)
        ticket_id = _text(record.get("id")) or (ticket.id if ticket else "")
        return cls(
            id=ticket_id,
            number=_text(record.get("number")) or (ticket.number if ticket else ticket_id),
            status=_text(record.get("status")) or (ticket.status if ticket else "new"),
            url=_text(record.get("url")) or (ticket.url if ticket else ""),
            subject=_text(record.get("subject")),
            description=record["description"] if isinstance(record.get("description"), str) else None,
            category=_text(record.get("category")),
            source_kind=_text(source.get("kind")),
            source_id=_text(source.get("id")),
            site=_optional_text(source.get("site")),
            reporter_name=_optional_text(reporter.get("name")),
            reporter_email=_optional_text(reporter.get("email")),
            assignee=_optional_text(record.get("assignee")),
            walk_up=record.get("walk_up") is True,
            step_count=_count(record.get("step_count")),
            attachment_count=_count(record.get("attachment_count")),
            created_at=parse_time(record.get("created_at")),
            updated_at=parse_time(record.get("updated_at")),
            first_response_at=parse_time(record.get("first_response_at")),
            resolved_at=parse_time(record.get("resolved_at")),
            reported_at=parse_time(record.get("reported_at")),
            receipt_code=_text(record.get("receipt_code")),
        )

    @classmethod
    def from_api(cls, summary: schema.TicketSummary) -> TicketSummary:
        """From the read model a connector answered with (the ticket "call next" called)."""
        return cls(
            id=summary.id,
            number=summary.number,
            status=summary.status,
            url=summary.url,
            subject=summary.subject,
            category=summary.category,
            source_kind=summary.source.kind,
            source_id=summary.source.id,
            site=summary.source.site or None,
            reporter_name=summary.reporter.name or None,
            reporter_email=summary.reporter.email or None,
            assignee=summary.assignee or None,
            walk_up=summary.walk_up,
            step_count=summary.step_count,
            attachment_count=summary.attachment_count,
            created_at=summary.created_at,
            updated_at=summary.updated_at,
            first_response_at=summary.first_response_at,
            resolved_at=summary.resolved_at,
        )

    @classmethod
    def from_report(cls, ticket: Ticket, report: Report | None) -> TicketSummary:
        """For a backend that gives back only the ticket and the report it came from."""
        if report is None:
            return cls(id=ticket.id, number=ticket.number, status=ticket.status, url=ticket.url)
        return cls(
            id=ticket.id,
            number=ticket.number,
            status=ticket.status,
            url=ticket.url,
            subject=report.subject(),
            description=report.description,
            category=report.category,
            source_kind=report.source.kind,
            source_id=report.source.id,
            site=report.source.site,
            reporter_name=report.reporter.name,
            reporter_email=report.reporter.email,
            walk_up=report.walk_up,
            step_count=len(report.steps),
            attachment_count=len(report.attachments),
            created_at=report.created_at,
            updated_at=report.created_at,
            reported_at=report.created_at,
        )

    @property
    def title(self) -> str:
        """The subject without the "Category: " the server puts in front (the category has its own column)."""
        prefix = f"{self.category}: "
        if self.category and self.subject.startswith(prefix):
            return self.subject[len(prefix) :]
        return self.subject

    @property
    def who(self) -> str:
        if self.reporter_name and self.reporter_email:
            return f"{self.reporter_name} <{self.reporter_email}>"
        return self.reporter_name or self.reporter_email or ""

    @property
    def sequence(self) -> int:
        """The number's digits (SD-1042 → 1042): arrival order on backends that number tickets."""
        found = _DIGITS_RE.search(self.number)
        return int(found.group(1)) if found else 0

    @property
    def order_key(self) -> tuple[float, int]:
        """Newest first sorts on this, descending."""
        created = self.created_at.timestamp() if self.created_at else 0.0
        return created, self.sequence

    def with_status(self, status: str) -> TicketSummary:
        return replace(self, status=status)


# ---------------------------------------------------------------- filters
@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows; the backend applies it, and live updates are checked against it here."""

    status: str | None = None
    category: str | None = None
    source: str | None = None
    scope: Scope = "all"
    text: str = ""

    def params(self) -> dict[str, str]:
        """Query parameters of the built-in server's ticket list."""
        params: dict[str, str] = {}
        if self.status:
            params["status"] = self.status
        if self.category:
            params["category"] = self.category
        if self.source:
            params["source"] = self.source
        if self.scope == "mine":
            params["assignee"] = "me"
        elif self.scope == "unassigned":
            params["assignee"] = "none"
        if self.text.strip():
            params["q"] = self.text.strip()[:200]
        return params

    @property
    def is_default(self) -> bool:
        return self == QueueFilter()

    def matches(self, ticket: TicketSummary, me: str | None) -> bool:
        """Whether the backend would list ``ticket`` under this filter (text: every word starts a word).

        Without the description (a list record), the text is not held against the ticket.
        """
        if self.status and ticket.status != self.status:
            return False
        if self.category and ticket.category != self.category:
            return False
        if self.source and ticket.source_id != self.source:
            return False
        if self.scope == "mine" and (me is None or ticket.assignee != me):
            return False
        if self.scope == "unassigned" and ticket.assignee is not None:
            return False
        if ticket.description is None:
            return True
        # The server's search also finds a ticket by the receipt code the kiosk printed.
        return text_matches(self.text, f"{ticket.subject} {ticket.description} {ticket.receipt_code}")


def text_matches(query: str, text: str) -> bool:
    """Every word of ``query`` begins a word of ``text``, ignoring case (the server's full-text rule)."""
    wanted = [w.casefold() for w in _WORD_RE.findall(query)]
    if not wanted:
        return True
    words = [w.casefold() for w in _WORD_RE.findall(text)]
    return all(any(word.startswith(w) for word in words) for w in wanted)


# ---------------------------------------------------------------- columns
class Column(enum.IntEnum):
    NUMBER = 0
    AGE = 1
    WHO = 2
    CATEGORY = 3
    SUBJECT = 4
    SOURCE = 5
    POSITION = 6
    STATUS = 7
    ASSIGNEE = 8
    STEPS = 9
    FLAGS = 10


COLUMN_TITLES: Final[Mapping[Column, str]] = {
    Column.NUMBER: "Number",
    Column.AGE: "Age",
    Column.WHO: "Who",
    Column.CATEGORY: "Category",
    Column.SUBJECT: "Subject",
    Column.SOURCE: "Source",
    Column.POSITION: "Walk-up",
    Column.STATUS: "Status",
    Column.ASSIGNEE: "Assignee",
    Column.STEPS: "Steps",
    Column.FLAGS: "Flags",
}


@dataclass
class Row:
    """A queue row: the summary plus what the client learns about it later (flags, queue place)."""

    ticket: TicketSummary
    flags: tuple[Flag, ...] | None = None  # None: not computed yet
    position: int | None = None  # place in the walk-up queue (1 = next); None: not waiting
    unread: bool = False
    texts: tuple[str, ...] | None = None  # the columns' texts, kept while nothing above changes


def sort_key(column: Column, row: Row) -> tuple[Any, ...]:
    """A key that sorts ``row`` by ``column`` ascending; blanks sort last either way round is fine."""
    t = row.ticket
    if column == Column.NUMBER:
        return t.order_key
    if column == Column.AGE:  # youngest first when ascending, as ages read
        created, sequence = t.order_key
        return (-created, -sequence)
    if column == Column.WHO:
        return (t.who.casefold(),)
    if column == Column.CATEGORY:
        return (t.category.casefold(),)
    if column == Column.SUBJECT:
        return (t.title.casefold(),)
    if column == Column.SOURCE:
        return (t.source_id.casefold(),)
    if column == Column.POSITION:
        return (row.position is None, row.position or 0)
    if column == Column.STATUS:
        return (STATUSES.index(t.status) if t.status in STATUSES else len(STATUSES),)
    if column == Column.ASSIGNEE:
        return ((t.assignee or "").casefold(),)
    if column == Column.STEPS:
        return (t.step_count or 0,)
    if column == Column.FLAGS:
        flags = row.flags or ()
        worst = min((SEVERITY_RANK.get(f.severity, 3) for f in flags), default=3)
        return (-worst, len(flags))
    raise ValueError(f"unknown column {column!r}")


def format_age(moment: datetime | None, now: float | None = None) -> str:
    if moment is None:
        return ""
    seconds = max(0.0, (now if now is not None else time.time()) - moment.timestamp())
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def format_seconds(seconds: float | None) -> str:
    """A duration for the figures: 45 s, 12 min, 3.5 h, 2.1 d; a dash when there is none."""
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def flags_text(flags: Sequence[Flag] | None) -> str:
    if flags is None:
        return "…"
    if not flags:
        return ""
    worst = min(flags, key=lambda f: SEVERITY_RANK.get(f.severity, 3))
    label = worst.code.replace("_", " ")
    return label if len(flags) == 1 else f"{label} +{len(flags) - 1}"


# ---------------------------------------------------------------- read state
def _event_time(event: Mapping[str, Any]) -> float:
    """A timeline event's time as Unix seconds; an event without a readable one counts as new."""
    value = event.get("at")
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    return math.inf


class ReadState:
    """Which tickets this technician has seen since their last change, kept across sessions.

    Tickets last changed before the first sign-in on this machine count as read, so a new
    technician's queue is not a wall of bold rows.
    """

    def __init__(self, path: Path | None, *, now: float | None = None) -> None:
        self.path = path
        self.baseline = now if now is not None else time.time()
        self.seen: dict[str, float] = {}
        self._dirty = False
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self._dirty = True
            return
        except (OSError, ValueError) as exc:
            log.warning("ignoring the read state in %s: %s", path, exc)
            return
        if isinstance(data, dict):
            baseline = data.get("baseline")
            if isinstance(baseline, int | float) and not isinstance(baseline, bool):
                self.baseline = float(baseline)
            seen = data.get("seen")
            if isinstance(seen, dict):
                self.seen = {
                    str(k): float(v) for k, v in seen.items() if isinstance(v, int | float) and not isinstance(v, bool)
                }

    def is_unread(self, ticket: TicketSummary) -> bool:
        changed = ticket.updated_at or ticket.created_at
        if changed is None:
            return False
        stamp = changed.timestamp()
        if stamp <= self.baseline:
            return False
        seen = self.seen.get(ticket.id)
        return seen is None or seen < stamp

    def acknowledge_own_changes(self, ticket: TicketSummary, timeline: Sequence[Mapping[str, Any]], me: str) -> None:
        """Keep ``ticket`` read when everything on its timeline since it was last seen was done by ``me``.

        Unread means something new from someone else: a technician's own note, reply, claim or
        call moves the ticket's ``updated_at`` but tells them nothing they do not know. A ticket
        that was unread before stays unread (the other person's change is still unseen).
        """
        if not me or not self.is_unread(ticket):
            return
        seen = self.seen.get(ticket.id, self.baseline)
        newer = [event for event in timeline if _event_time(event) > seen]
        if newer and all(event.get("actor") == me for event in newer):
            self.mark_read(ticket)

    def mark_read(self, ticket: TicketSummary) -> None:
        changed = ticket.updated_at or ticket.created_at
        stamp = changed.timestamp() if changed else time.time()
        if self.seen.get(ticket.id, -1.0) < stamp:
            self.seen[ticket.id] = stamp
            self._dirty = True

    def snapshot(self) -> bytes | None:
        """What to write now (None: nothing changed); cheap, so the caller can write it elsewhere."""
        if self.path is None or not self._dirty:
            return None
        if len(self.seen) > MAX_READ_ENTRIES:
            newest = sorted(self.seen.items(), key=lambda item: item[1])[-MAX_READ_ENTRIES:]
            self.seen = dict(newest)
        self._dirty = False
        return json.dumps({"baseline": self.baseline, "seen": self.seen}, separators=(",", ":")).encode()

    def write(self, data: bytes) -> None:
        """Write a snapshot durably (it may take a disk's flush: off the GUI thread)."""
        from agent.fsutil import atomic_write_bytes

        if self.path is None:
            return
        try:
            atomic_write_bytes(self.path, data)
        except OSError as exc:
            self._dirty = True  # try again next time
            log.warning("could not keep the read state in %s: %s", self.path, exc)

    def save(self) -> None:
        data = self.snapshot()
        if data is not None:
            self.write(data)


# ---------------------------------------------------------------- steps and screens
@dataclass(frozen=True)
class Placement:
    """Where a step's image sits on the reporter's virtual desktop (physical pixels)."""

    step_index: int
    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True)
class Arrangement:
    """Steps that were one capture of several monitors, placed as the screens stood."""

    placements: tuple[Placement, ...] = field(default_factory=tuple)

    @property
    def step_indexes(self) -> tuple[int, ...]:
        return tuple(p.step_index for p in self.placements)

    def bounds(self) -> tuple[int, int, int, int]:
        left = min(p.left for p in self.placements)
        top = min(p.top for p in self.placements)
        right = max(p.left + p.width for p in self.placements)
        bottom = max(p.top + p.height for p in self.placements)
        return left, top, right - left, bottom - top


def _placement(index: int, step: Step) -> Placement | None:
    monitor = step.monitor
    if monitor is None or monitor.index == 0:  # 0: the whole desktop in one shot, nothing to arrange
        return None
    g = monitor.geometry
    return Placement(index, g.left, g.top, g.width, g.height)


def _overlaps(a: Placement, b: Placement) -> bool:
    return (
        a.left < b.left + b.width
        and b.left < a.left + a.width
        and a.top < b.top + b.height
        and b.top < a.top + a.height
    )


def arrangements(steps: Sequence[Step]) -> dict[int, Arrangement]:
    """For each step that belongs to a multi-monitor capture, that capture's arrangement.

    A multi-monitor capture is a run of consecutive steps taken within ``SAME_CAPTURE_SECONDS``
    on different monitors whose rectangles do not overlap; anything else (one monitor, a
    region, missing geometry) stays a single picture.
    """
    result: dict[int, Arrangement] = {}
    run: list[Placement] = []
    run_start: datetime | None = None

    def close_run() -> None:
        if len(run) >= 2:
            arrangement = Arrangement(tuple(run))
            for placement in run:
                result[placement.step_index] = arrangement

    for index, step in enumerate(steps):
        placement = _placement(index, step)
        fits = (
            placement is not None
            and run
            and run_start is not None
            and abs((step.captured_at - run_start).total_seconds()) <= SAME_CAPTURE_SECONDS
            and step.monitor is not None
            and all(not _overlaps(placement, other) for other in run)
        )
        if fits:
            assert placement is not None
            run.append(placement)
            continue
        close_run()
        run = [placement] if placement is not None else []
        run_start = step.captured_at if placement is not None else None
    close_run()
    return result


def monitor_label(step: Step) -> str:
    """Which screen a step came from, for the caption line."""
    monitor = step.monitor
    if monitor is None:
        return {"photo": "a photo taken at the kiosk", "file": "an image file"}.get(
            step.capture_method, "no screen recorded"
        )
    g = monitor.geometry
    where = f"{g.width}×{g.height} at {g.left},{g.top}"
    if monitor.index == 0:
        return f"all screens ({where})"
    name = f" “{monitor.name}”" if monitor.name else ""
    scale = f", scale {monitor.scale:g}" if monitor.scale != 1 else ""
    return f"monitor {monitor.index}{name} ({where}{scale})"


# ---------------------------------------------------------------- the person's texts and clock
# Bidirectional controls and marks: shown as marks, so a right-to-left override in a person's
# text cannot reorder what the technician reads (the same set the requester's page shows).
_BIDI_CONTROLS: Final = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")
# Below this the reporter's clock is as good as the help desk's (the Date header counts whole
# seconds, and the request takes its time): the header says nothing about it.
CLOCK_IN_STEP_SECONDS: Final = 60.0


def visible_controls(text: str) -> str:
    """``text`` with each bidirectional control shown as a mark ("[U+202E]")."""
    return _BIDI_CONTROLS.sub(lambda match: f"[U+{ord(match.group(0)):04X}]", text)


@dataclass(frozen=True)
class ReporterClock:
    """The reporter's clock as the system information recorded it."""

    local_time: str | None  # the reporter's own time when the report was made, ISO 8601
    offset_seconds: float | None  # positive: the reporter's clock is ahead of the help desk's

    @classmethod
    def from_sysinfo(cls, sysinfo: Mapping[str, object] | None) -> ReporterClock | None:
        clock = sysinfo.get("clock") if sysinfo else None
        if not isinstance(clock, Mapping):
            return None
        local = clock.get("local_time")
        offset = clock.get("offset_seconds")
        number = float(offset) if isinstance(offset, int | float) and not isinstance(offset, bool) else None
        if number is not None and not math.isfinite(number):
            number = None
        return cls(local if isinstance(local, str) and local else None, number)

    @property
    def off(self) -> bool:
        """Far enough from the help desk's time to be worth saying."""
        return self.offset_seconds is not None and abs(self.offset_seconds) >= CLOCK_IN_STEP_SECONDS

    @property
    def ahead(self) -> bool:
        return self.offset_seconds is not None and self.offset_seconds > 0

    @property
    def amount(self) -> str:
        """How far off, in the largest unit that reads well: "3 d", "5 h", "12 min", "40 s"."""
        seconds = abs(self.offset_seconds or 0.0)
        if seconds >= 86400:
            return f"{round(seconds / 86400, 1):g} d"
        if seconds >= 3600:
            return f"{seconds / 3600:.0f} h"
        if seconds >= 60:
            return f"{seconds / 60:.0f} min"
        return f"{seconds:.0f} s"
