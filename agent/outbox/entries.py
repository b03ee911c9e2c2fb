"""The outbox's records: a queued report's state, the receipt of a delivered one, what one try came to.

Plain data with their JSON forms and their one-line descriptions for people; no disk, no policy.
"""

from __future__ import annotations

import enum
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from agent.schema import Ticket

STATE_VERSION: Final = 1  # written into every state.json, for a later format to recognise this one


class EntryState(enum.StrEnum):
    PENDING = "pending"
    PAUSED = "paused"
    DEAD = "dead"
    ATTENTION = "attention"


# States the outbox never leaves on its own: only ``retry`` (or ``purge``) by a person.
HELD_STATES: Final = frozenset({EntryState.DEAD, EntryState.ATTENTION})


@dataclass(frozen=True)
class OutboxEntry:
    """A queued report's state. Times are seconds since the epoch (the outbox's clock)."""

    id: str
    backend: str
    state: EntryState
    created_at: float
    attempts: int
    next_attempt_at: float
    last_error: str | None
    size: int
    subject: str
    # The run of tries the backend answered with the same error: its kind ("HTTP 500"), length
    # and when it began. A try with no answer at all neither extends nor breaks it.
    failure_kind: str | None = None
    failure_streak: int = 0
    failing_since: float | None = None
    # Who answered instead of the backend on the last try, when the network in between did
    # ("captive-portal", "proxy-sign-in", "proxy-error", "tls"): the report waits for the network,
    # and the apps can say so instead of a next-try time. None after any other outcome.
    network: str | None = None
    sending: bool = False  # another sender holds its lock right now (filled in by ``list``)

    @property
    def needs_attention(self) -> bool:
        """Kept, but sent again only when a person says so (``showdesk outbox retry``)."""
        return self.state in HELD_STATES

    @property
    def waits_for_network(self) -> bool:
        """Pending because the network in between (a sign-in page, a proxy, TLS) answered on the last try."""
        return self.state is EntryState.PENDING and self.network is not None

    def what_to_do(self) -> str | None:
        """For a report that needs attention, what a person can do about it."""
        if self.state is EntryState.ATTENTION:
            return (
                f"the backend failed this report the same way ({self.failure_kind}) on {self.failure_streak} tries "
                f"since {iso_time(self.failing_since or self.created_at)}; "
                "it is kept but no longer retried on its own. "
                "Ask the help desk's administrator to look at the server (its log names the error), then "
                f"run `showdesk outbox retry {self.id}`"
            )
        if self.state is EntryState.DEAD:
            return (
                "the backend refused this report; it is kept. Fix what the reason says if you can, then run "
                f"`showdesk outbox retry {self.id}`, or give it up with `showdesk outbox purge {self.id}`"
            )
        return None

    def to_json(self) -> bytes:
        data = asdict(self)
        data.pop("sending")
        data["state"] = self.state.value
        data["version"] = STATE_VERSION
        return json.dumps(data, sort_keys=True, indent=1).encode("utf-8")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for ``showdesk outbox list --json`` and UIs."""
        data = asdict(self)
        data["state"] = self.state.value
        data["created"] = iso_time(self.created_at)
        data["next_attempt"] = None if self.needs_attention else iso_time(self.next_attempt_at)
        data["needs_attention"] = self.needs_attention
        data["waits_for_network"] = self.waits_for_network
        data["what_to_do"] = self.what_to_do()
        return data

    def describe(self, now: float | None = None) -> str:
        """One line for a person: id, state, when it is tried next, why it waits."""
        now = time.time() if now is None else now
        if self.sending:
            when = "sending now"
        elif self.needs_attention:
            when = "NEEDS ATTENTION: not retried unless you run `showdesk outbox retry`"
        elif self.next_attempt_at <= now:
            when = "due now"
        else:
            when = f"next try in {_duration(self.next_attempt_at - now)}"
        if self.waits_for_network and not self.sending:
            when = f"waiting for the network: {when}, or at once when the network changes"
        line = f"{self.id}  {self.state.value:<9}  {self.backend}  {self.subject!r}  {_size(self.size)}  "
        line += f"{self.attempts} tries, {when}"
        line += f"  ({self.last_error})" if self.last_error else ""
        advice = self.what_to_do()
        return line + (f"\n    what to do: {advice}" if advice else "")

    @classmethod
    def from_json(cls, raw: bytes) -> OutboxEntry:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("state is not a JSON object")
        return cls(
            id=str(data["id"]),
            backend=str(data["backend"]),
            state=EntryState(data["state"]),
            created_at=float(data["created_at"]),
            attempts=int(data["attempts"]),
            next_attempt_at=float(data["next_attempt_at"]),
            last_error=None if data.get("last_error") is None else str(data["last_error"]),
            size=int(data["size"]),
            subject=str(data.get("subject", "")),
            # Absent from state files written before the run of failures was kept.
            failure_kind=None if data.get("failure_kind") is None else str(data["failure_kind"]),
            failure_streak=int(data.get("failure_streak", 0)),
            failing_since=None if data.get("failing_since") is None else float(data["failing_since"]),
            network=None if data.get("network") is None else str(data["network"]),
        )


@dataclass(frozen=True)
class Receipt:
    """What is kept of a delivered report."""

    report_id: str
    backend: str
    ticket_id: str
    number: str
    url: str
    status: str
    delivered_at: float
    attempts: int

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, indent=1).encode("utf-8")

    @property
    def ticket(self) -> Ticket:
        return Ticket(
            id=self.ticket_id, number=self.number, status=self.status, url=self.url, report_id=uuid.UUID(self.report_id)
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "delivered": iso_time(self.delivered_at)}

    def describe(self) -> str:
        return (
            f"{self.report_id}  delivered  {self.backend}  ticket {self.number}  {self.url}  "
            f"at {iso_time(self.delivered_at)}"
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Receipt:
        data = json.loads(raw)
        return cls(
            report_id=str(data["report_id"]),
            backend=str(data["backend"]),
            ticket_id=str(data["ticket_id"]),
            number=str(data["number"]),
            url=str(data["url"]),
            status=str(data["status"]),
            delivered_at=float(data["delivered_at"]),
            attempts=int(data["attempts"]),
        )


@dataclass(frozen=True)
class Attempt:
    """What one try at one report came to."""

    report_id: str
    state: str  # "delivered", or the entry's state afterwards: "pending", "paused", "dead"
    reason: str | None = None  # why it was not delivered
    receipt: Receipt | None = None
    next_attempt_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "state": self.state,
            "reason": self.reason,
            "receipt": None if self.receipt is None else self.receipt.as_dict(),
            "next_attempt": None if self.next_attempt_at is None else iso_time(self.next_attempt_at),
        }

    def describe(self) -> str:
        if self.receipt is not None:
            return self.receipt.describe()
        if self.state == EntryState.DEAD:
            return f"{self.report_id}  refused for good: {self.reason}"
        if self.state == EntryState.ATTENTION:
            return f"{self.report_id}  needs attention (no longer retried on its own): {self.reason}"
        if self.state == EntryState.PAUSED:
            return f"{self.report_id}  waits until this is fixed: {self.reason}"
        when = "" if self.next_attempt_at is None else f"; next try at {iso_time(self.next_attempt_at)}"
        return f"{self.report_id}  not delivered yet: {self.reason}{when}"


@dataclass
class FlushResult:
    """What one pass over the outbox did; iterating gives each ``Attempt`` in order."""

    attempts: list[Attempt] = field(default_factory=list)
    delivered: list[Receipt] = field(default_factory=list)
    retrying: list[OutboxEntry] = field(default_factory=list)  # failed for now; next attempt scheduled
    paused: list[OutboxEntry] = field(default_factory=list)
    dead: list[OutboxEntry] = field(default_factory=list)
    attention: list[OutboxEntry] = field(default_factory=list)  # moved to "needs attention" by this pass
    busy: int = 0  # entries another sender was working on
    remaining: int = 0  # entries still queued (neither dead nor needing attention) after the pass

    def __iter__(self) -> Iterator[Attempt]:
        return iter(self.attempts)


def iso_time(seconds: float) -> str:
    """A time for people and JSON: ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _size(size: int) -> str:
    return f"{size / 1024:.0f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MiB"
