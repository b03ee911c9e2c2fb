"""The read side's models: who a token is, the changes feed, the walk-up queue, the figures, the person's conversation.

The built-in server answers with these (they are its response models, so /openapi.json
describes them), the connectors read a backend's answers into them, and the kiosk's board
and technician mode use their attributes: one definition from the server's JSON to the
screen, and no hand parsing of the JSON anywhere.

Like ``agent.schema``, which re-exports every name here, this module imports only pydantic,
the standard library and nothing else of ``agent``, so the server may use it. The models
ignore fields they do not know (unlike the report's, which refuse them): a newer server may
add a field to an answer without breaking an older kiosk or technician mode.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

StatusName = Literal["new", "open", "waiting", "resolved", "closed"]
RoleName = Literal["submitter", "technician", "admin"]
QueueState = Literal["waiting", "called", "served"]


class _ReadModel(BaseModel):
    # Frozen: an answer read from a backend is a value; the UI never edits it in place.
    model_config = ConfigDict(frozen=True)


# ---------------------------------------------------------------- who is calling
class Caller(_ReadModel):
    """Who a token belongs to; a backend that cannot say gives the name as ""."""

    name: str
    role: RoleName
    site: str | None


# ---------------------------------------------------------------- a ticket in a list
class SourceInfo(_ReadModel):
    kind: str
    id: str
    site: str | None


class ReporterInfo(_ReadModel):
    name: str | None
    email: str | None


class TicketSummary(_ReadModel):
    id: str = Field(description="the ticket id: the report's UUID")
    number: str = Field(description="the human number, SD-1001 and up")
    status: StatusName
    url: str
    report_id: uuid.UUID
    subject: str
    category: str
    source: SourceInfo
    reporter: ReporterInfo
    submitted_by: str = Field(description="name of the token that submitted the report")
    assignee: str | None
    walk_up: bool
    step_count: int
    attachment_count: int
    created_at: datetime = Field(description="when the server received the report")
    reported_at: str = Field(description="when the client made the report (its own clock)")
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None


# ---------------------------------------------------------------- the changes feed
class Change(_ReadModel):
    """Something happened to a ticket (kind: created, status, assigned, note, reply, queue)."""

    seq: int
    ticket_id: str
    kind: str
    at: datetime


class ChangePage(_ReadModel):
    """Changes after a sequence number."""

    changes: list[Change]
    last_seq: int = Field(description="pass as `after` in the next call")


# ---------------------------------------------------------------- the person's conversation
# The kinds of timeline event the person sees in the agent's My requests: the help desk's public
# replies and the person's own answers. Internal notes are "note" events, never listed here.
CONVERSATION_KINDS: frozenset[str] = frozenset({"reply", "answer"})


class ConversationPhoto(_ReadModel):
    """A photo or screenshot the person attached to an answer."""

    id: str
    path: str = ""
    media_type: str = ""
    width: int | None = None
    height: int | None = None


class ConversationEntry(_ReadModel):
    """One message of a ticket's public conversation: a reply of the help desk or an answer of the person."""

    seq: int = Field(description="the timeline event's sequence number: the order, and what was seen")
    kind: Literal["reply", "answer"]
    at: datetime
    actor: str = Field(description="the technician's name for a reply; 'requester' for an answer")
    text: str = ""
    photos: list[ConversationPhoto] = Field(default_factory=list)


class Conversation(_ReadModel):
    """A ticket's status and its public conversation, oldest first."""

    ticket_id: str
    number: str
    status: StatusName
    entries: list[ConversationEntry]

    def replies(self) -> list[ConversationEntry]:
        return [entry for entry in self.entries if entry.kind == "reply"]


# ---------------------------------------------------------------- the walk-up queue
class QueuePlace(_ReadModel):
    """Where a walk-up ticket stands in its site's queue."""

    site: str
    position: int = Field(description="1 for the next person to be called; 0 once called or served")
    ahead: int
    estimated_wait_seconds: float
    state: QueueState


class BoardEntry(_ReadModel):
    """One person on a site's walk-up board."""

    number: str
    name: str | None = Field(description="technicians see the full name; a site's board shows 'Alice B.'")
    position: int
    state: QueueState
    waiting_since: datetime
    called_at: datetime | None
    called_by: str | None
    estimated_wait_seconds: float
    ticket_id: str | None = Field(description="for technicians only")


class QueueBoard(_ReadModel):
    """A site's walk-up queue: who waits, who is being served, the wait for a newcomer."""

    site: str
    waiting: list[BoardEntry]
    serving: list[BoardEntry]
    mean_service_seconds: float = Field(description="mean time from called to served over recent visits")
    service_history: int = Field(description="how many recent visits the mean is based on (0: a default)")
    estimated_wait_seconds: float = Field(description="for a person joining the queue now")

    @classmethod
    def empty(cls, site: str) -> QueueBoard:
        """A board with nobody on it: a site known before its board is read."""
        return cls(
            site=site, waiting=[], serving=[], mean_service_seconds=0.0, service_history=0, estimated_wait_seconds=0.0
        )

    def positions(self) -> dict[str, int]:
        """Queue positions by ticket id (a public board carries no ticket ids, so it gives none)."""
        return {entry.ticket_id: entry.position for entry in self.waiting if entry.ticket_id}


class QueueCall(_ReadModel):
    """The answer to "call next": the ticket now called, and the board after the call."""

    called: TicketSummary | None = Field(description="the ticket now called; null when nobody is waiting")
    board: QueueBoard


# ---------------------------------------------------------------- the figures
class DurationSummary(_ReadModel):
    count: int
    mean_seconds: float | None
    median_seconds: float | None


class CategoryCount(_ReadModel):
    category: str
    count: int


class ArticleCount(_ReadModel):
    article: str
    count: int


class MachineCount(_ReadModel):
    source_id: str
    tickets: int


class SelfHelpFigures(_ReadModel):
    solved_by_article: int = Field(description="'solved by this article' events recorded by kiosks")
    reports_after_articles: int = Field(description="reports filed although articles were shown")
    share_solved: float | None = Field(description="solved by article / (solved by article + tickets created)")
    top_articles: list[ArticleCount]


class Figures(_ReadModel):
    """The help desk's figures for tickets created in [since, until)."""

    since: datetime
    until: datetime
    tickets_created: int
    open_tickets: int = Field(description="new, open or waiting now")
    time_to_first_response: DurationSummary
    time_to_resolution: DurationSummary
    walk_up_wait: DurationSummary = Field(
        description="from joining the walk-up queue to being called (or served, for a visit never called)"
    )
    by_category: list[CategoryCount]
    self_help: SelfHelpFigures
    recurring_machines: list[MachineCount] = Field(description="machines (source ids) with two or more tickets")


# ---------------------------------------------------------------- the person's link and satisfaction
class RequesterLink(_ReadModel):
    """The person's link to their ticket's page (a capability: whoever holds it sees the page)."""

    url: str
    generation: int = Field(description="how many times the link was revoked")
    expires_at: datetime | None = Field(default=None, description="when it stops working (once the ticket is closed)")


class RatingCount(_ReadModel):
    score: int
    count: int


class WeeklyRating(_ReadModel):
    week: datetime = Field(description="the week's first moment")
    average: float
    count: int


class Satisfaction(_ReadModel):
    """How the people helped rated it, for tickets resolved in [since, until)."""

    since: datetime
    until: datetime
    resolved: int
    rated: int
    share_rated: float | None = Field(description="rated / resolved; null when nothing was resolved")
    average: float | None = Field(description="the mean rating, 1-5; null without ratings")
    distribution: list[RatingCount]
    solved: int = Field(default=0, description='"this is solved" answers after a resolve')
    still_broken: int = Field(default=0, description='"still broken" answers after a resolve')
    trend: list[WeeklyRating] = Field(default_factory=list, description="the mean rating per week, oldest first")


__all__ = [
    "CONVERSATION_KINDS",
    "ArticleCount",
    "BoardEntry",
    "Caller",
    "CategoryCount",
    "Change",
    "ChangePage",
    "Conversation",
    "ConversationEntry",
    "ConversationPhoto",
    "DurationSummary",
    "Figures",
    "MachineCount",
    "QueueBoard",
    "QueueCall",
    "QueuePlace",
    "QueueState",
    "RatingCount",
    "ReporterInfo",
    "RequesterLink",
    "RoleName",
    "Satisfaction",
    "SelfHelpFigures",
    "SourceInfo",
    "StatusName",
    "TicketSummary",
    "WeeklyRating",
]
