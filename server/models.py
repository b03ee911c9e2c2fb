"""Request and response bodies of the HTTP API; FastAPI turns them into /openapi.json."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.schema import MAX_DESCRIPTION_CHARS, MAX_SHORT_TEXT_CHARS, Ticket

StatusName = Literal["new", "open", "waiting", "resolved", "closed"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    detail: str = Field(description="what was wrong, naming the bound or the cause")


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Caller(BaseModel):
    name: str
    role: Literal["submitter", "technician", "admin"]
    site: str | None


class SubmitResult(BaseModel):
    ticket: Ticket
    replayed: bool = Field(description="true when this report was submitted before: the same ticket, not a new one")


class SourceInfo(BaseModel):
    kind: str
    id: str
    site: str | None


class ReporterInfo(BaseModel):
    name: str | None
    email: str | None


class TicketSummary(BaseModel):
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


class TicketList(BaseModel):
    tickets: list[TicketSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null on the last page")


class FileInfo(BaseModel):
    id: str = Field(description="download with GET /api/v1/files/{id}")
    path: str = Field(description="the file's path in the report bundle")
    role: Literal["step", "original", "attachment", "sysinfo"]
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
    kind: Literal["created", "status", "assigned", "note", "reply", "queue"]
    at: datetime
    actor: str = Field(description="name of the token that made the change")
    internal: bool = Field(description="internal notes are shown to technicians only")
    data: dict[str, Any]


class QueuePlace(BaseModel):
    site: str
    position: int = Field(description="1 for the next person to be called; 0 once called or served")
    ahead: int
    estimated_wait_seconds: float
    state: Literal["waiting", "called", "served"]


class TicketDetail(TicketSummary):
    description: str
    report: dict[str, Any] = Field(description="the report manifest as submitted (agent.schema.Report)")
    steps: list[StepInfo]
    attachments: list[AttachmentInfo]
    sysinfo: dict[str, Any] | None
    timeline: list[TimelineEvent]
    queue: QueuePlace | None


class StatusChange(_Body):
    status: StatusName


class Assignment(_Body):
    assignee: str | None = Field(
        max_length=MAX_SHORT_TEXT_CHARS, description="a technician's token name, 'me', or null to unassign"
    )


class NoteCreate(_Body):
    text: str = Field(min_length=1, max_length=MAX_DESCRIPTION_CHARS)
    internal: bool = Field(default=True, description="true: a note for technicians; false: a reply the submitter sees")


class ChangeItem(BaseModel):
    seq: int
    ticket_id: str
    kind: str
    at: datetime


class ChangesPage(BaseModel):
    changes: list[ChangeItem]
    last_seq: int = Field(description="pass as `after` in the next call")


class BoardEntry(BaseModel):
    number: str
    name: str | None = Field(description="technicians see the full name; a site's board shows 'Alice B.'")
    position: int
    state: Literal["waiting", "called", "served"]
    waiting_since: datetime
    called_at: datetime | None
    called_by: str | None
    estimated_wait_seconds: float
    ticket_id: str | None = Field(description="for technicians only")


class QueueBoard(BaseModel):
    site: str
    waiting: list[BoardEntry]
    serving: list[BoardEntry]
    mean_service_seconds: float = Field(description="mean time from called to served over recent visits")
    service_history: int = Field(description="how many recent visits the mean is based on (0: a default)")
    estimated_wait_seconds: float = Field(description="for a person joining the queue now")


class QueueCall(BaseModel):
    called: TicketSummary | None = Field(description="the ticket now called; null when nobody is waiting")
    board: QueueBoard


class DurationSummary(BaseModel):
    count: int
    mean_seconds: float | None
    median_seconds: float | None


class CategoryCount(BaseModel):
    category: str
    count: int


class ArticleCount(BaseModel):
    article: str
    count: int


class MachineCount(BaseModel):
    source_id: str
    tickets: int


class SelfHelpFigures(BaseModel):
    solved_by_article: int = Field(description="'solved by this article' events recorded by kiosks")
    reports_after_articles: int = Field(description="reports filed although articles were shown")
    share_solved: float | None = Field(description="solved by article / (solved by article + tickets created)")
    top_articles: list[ArticleCount]


class StatsReport(BaseModel):
    since: datetime
    until: datetime
    tickets_created: int
    open_tickets: int = Field(description="new, open or waiting now")
    time_to_first_response: DurationSummary
    time_to_resolution: DurationSummary
    walk_up_wait: DurationSummary = Field(description="from joining the walk-up queue to being called")
    by_category: list[CategoryCount]
    self_help: SelfHelpFigures
    recurring_machines: list[MachineCount] = Field(description="machines (source ids) with two or more tickets")


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
