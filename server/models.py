"""Request and response bodies of the HTTP API; FastAPI turns them into /openapi.json.

The read side's answers come from ``agent.read_models`` (through ``agent.schema``); this module
adds what only the server speaks of: the ticket detail, request bodies, tokens, errors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The read side's answers (caller, ticket summary, changes, walk-up queue, figures) are defined once
# beside the report schema, where the connectors read them back with the same models.
from agent.schema import (
    MAX_DESCRIPTION_CHARS,
    MAX_SHORT_TEXT_CHARS,
    ArticleCount,
    BoardEntry,
    Caller,
    CategoryCount,
    Change,
    ChangePage,
    DurationSummary,
    Figures,
    MachineCount,
    QueueBoard,
    QueueCall,
    QueuePlace,
    ReporterInfo,
    SelfHelpFigures,
    SourceInfo,
    StatusName,
    Ticket,
    TicketSummary,
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    detail: str = Field(description="what was wrong, naming the bound or the cause")


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class SubmitResult(BaseModel):
    ticket: Ticket
    replayed: bool = Field(description="true when this report was submitted before: the same ticket, not a new one")


class TicketList(BaseModel):
    tickets: list[TicketSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null on the last page")


class FileInfo(BaseModel):
    id: str = Field(description="download with GET /api/v1/files/{id}")
    path: str = Field(description="the file's path in the report bundle")
    role: Literal["step", "original", "attachment", "clip", "sysinfo", "answer"] = Field(
        description="clip: a recorded clip (animated WebP); answer: a photo the person sent from the requester's page"
    )
    media_type: str = Field(description="the content type the download is served with")
    size: int
    sha256: str
    display_name: str | None
    url: str


class StepInfo(BaseModel):
    index: int
    caption: str
    width: int
    height: int
    image: FileInfo
    original: FileInfo | None


class AttachmentInfo(BaseModel):
    display_name: str
    file: FileInfo


class TimelineEvent(BaseModel):
    seq: int
    kind: Literal["created", "status", "assigned", "note", "reply", "queue", "answer", "solved", "rating", "link"] = (
        Field(
            description="answer: the person wrote (data.text, data.files: photos with id, url, width, height); "
            "solved: the person's verdict after a resolve (data.solved); rating: data.score 1-5 and data.comment; "
            "link: the requester link was revoked (internal; data.generation)"
        )
    )
    at: datetime
    actor: str = Field(description="name of the token that made the change")
    internal: bool = Field(description="internal notes are shown to technicians only")
    data: dict[str, Any]


class TicketDetail(TicketSummary):
    description: str
    report: dict[str, Any] = Field(description="the report manifest as submitted (agent.schema.Report)")
    steps: list[StepInfo]
    attachments: list[AttachmentInfo]
    sysinfo: dict[str, Any] | None
    timeline: list[TimelineEvent]
    queue: QueuePlace | None
    receipt_code: str = Field(description="the offline receipt code a kiosk prints: the report id's first 8 hex digits")


class AnswerResult(BaseModel):
    replayed: bool = Field(description="true when this Idempotency-Key answered before: nothing new was recorded")
    event: TimelineEvent | None = Field(description="the answer's timeline event; null on a replay")


class RequesterLink(BaseModel):
    url: str = Field(description="the person's link to the ticket's page (a capability: whoever has it sees the page)")
    generation: int = Field(description="how many times the link was revoked; each revocation makes a new one")
    expires_at: datetime | None = Field(description="when the link stops working (set once the ticket is closed)")


class RatingCount(BaseModel):
    score: int
    count: int


class WeeklyRating(BaseModel):
    week: datetime = Field(description="the week's first moment (weeks start on Thursday 00:00 UTC, Unix weeks)")
    average: float
    count: int


class Satisfaction(BaseModel):
    since: datetime
    until: datetime
    resolved: int = Field(description="tickets resolved in the window")
    rated: int = Field(description="tickets rated in the window (each ticket's latest rating)")
    share_rated: float | None = Field(description="rated / resolved; null when nothing was resolved")
    average: float | None = Field(description="the mean rating, 1-5; null without ratings")
    distribution: list[RatingCount]
    solved: int = Field(description='"this is solved" answers after a resolve')
    still_broken: int = Field(description='"still broken" answers after a resolve (each reopened the ticket)')
    trend: list[WeeklyRating] = Field(description="the mean rating per week, oldest first")


class StatusChange(_Body):
    status: StatusName


class Assignment(_Body):
    assignee: str | None = Field(
        max_length=MAX_SHORT_TEXT_CHARS, description="a technician's token name, 'me', or null to unassign"
    )


class NoteCreate(_Body):
    text: str = Field(min_length=1, max_length=MAX_DESCRIPTION_CHARS)
    internal: bool = Field(default=True, description="true: a note for technicians; false: a reply the submitter sees")


class SelfHelpEvent(_Body):
    site: str | None = Field(default=None, max_length=MAX_SHORT_TEXT_CHARS)
    category: str = Field(default="", max_length=MAX_SHORT_TEXT_CHARS)
    article: str = Field(min_length=1, max_length=MAX_SHORT_TEXT_CHARS)


class SelfHelpRecorded(BaseModel):
    id: int


class TokenInfo(BaseModel):
    id: str
    name: str
    role: Literal["submitter", "technician", "admin"]
    site: str | None
    created_at: datetime
    revoked_at: datetime | None


class TokenCreate(_Body):
    name: str = Field(min_length=1, max_length=64)
    role: Literal["submitter", "technician", "admin"]
    site: str | None = Field(default=None, max_length=MAX_SHORT_TEXT_CHARS)


class TokenCreated(TokenInfo):
    token: str = Field(description="the secret; shown once, the server keeps only its hash")


__all__ = [
    "AnswerResult",
    "ArticleCount",
    "Assignment",
    "AttachmentInfo",
    "BoardEntry",
    "Caller",
    "CategoryCount",
    "Change",
    "ChangePage",
    "DurationSummary",
    "ErrorBody",
    "Figures",
    "FileInfo",
    "Health",
    "MachineCount",
    "NoteCreate",
    "QueueBoard",
    "QueueCall",
    "QueuePlace",
    "RatingCount",
    "ReporterInfo",
    "RequesterLink",
    "Satisfaction",
    "SelfHelpEvent",
    "SelfHelpFigures",
    "SelfHelpRecorded",
    "SourceInfo",
    "StatusChange",
    "StatusName",
    "StepInfo",
    "SubmitResult",
    "TicketDetail",
    "TicketList",
    "TicketSummary",
    "TimelineEvent",
    "TokenCreate",
    "TokenCreated",
    "TokenInfo",
    "WeeklyRating",
]


OutgoingStateName = Literal["pending", "sending", "sent", "failed", "dropped"]


class OutgoingMessage(BaseModel):
    id: int = Field(description="the message's number (`showdesk server mail retry ID`)")
    channel: str = Field(description="how it goes out: mail")
    ticket: str = Field(description="the ticket's number, e.g. SD-1001")
    ticket_id: str
    kind: str = Field(description="received, reply, resolved or next (a walk-up's turn)")
    recipient: str
    state: OutgoingStateName = Field(
        description="pending (due at due_at), sending, sent, failed (after its last attempt or a refusal), "
        "dropped (the person stopped mails for the ticket)"
    )
    attempts: int
    created_at: datetime
    due_at: datetime
    sent_at: datetime | None
    last_error: str | None = Field(description="why the latest attempt failed, in one line")
    message_id: str = Field(description="the Message-ID, the same on every attempt")
