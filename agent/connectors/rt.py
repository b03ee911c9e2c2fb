"""The connector for Request Tracker 5 through its REST2 API: full read and write.

Write: a report becomes one ticket in the configured queue, made by one multipart request
(``POST /REST/2.0/ticket``, a ``JSON`` field plus one ``Attachments`` part per file): subject,
a readable body (``body.render``), the requestor, configured custom fields, every step image,
``sysinfo.json``, extra attachments and the manifest (``showdesk-report-<id>.json``).

Idempotency: RT has no idempotency key, so the report id is recorded on the ticket and
looked up before every create. With ``report_id_field`` set (recommended) it is a custom
field, found with one indexed TicketSQL query. Without it, the manifest attachment's name
carries the id: tickets with the report's subject created since shortly before the report
are candidates, and the one holding that attachment is the match. Either way a replay
after a lost answer returns the first ticket instead of making a second.

Size: RT stores every file in the database, base64-encoded where the database cannot keep
binary data (SQLite, PostgreSQL), which cuts ``$MaxAttachmentSize`` by a quarter; with
``$DropLongAttachments`` or ``$TruncateLongAttachments`` set it then drops or cuts a larger
file and still answers "created". So the connector fits each file to 3/4 of the configured
``max_attachment_size`` before sending, and afterwards checks that RT kept every file whole
(a configured limit above RT's own would otherwise lose files quietly). RT keeps every file
below its limit, so once it kept a file of some size, reports whose files are no larger skip
that check (one request fewer per ticket).

Read: TicketSQL lists the queue and filters it (status, category, owner, requestor, words
of the subject; the source where a custom field holds it); a ticket's files are its
attachments by their ShowDesk names (RT's MIME containers, the text body and the mail RT
sends itself, auto-replies included, are left out); status, owner, comments (internal notes)
and correspondence (replies). RT has no walk-up queue, changes feed or figures, so the
connector does not declare them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from pydantic import ValidationError

from agent.bundle import ReportBundle
from agent.config import ConfigError
from agent.connectors.base import (
    AuthError,
    Caller,
    Capability,
    PermanentError,
    ProgressCallback,
    TicketDetail,
    TicketFilter,
    TicketPage,
    TokenSource,
    TransientError,
    UnsupportedError,
    secret_from,
)
from agent.connectors.body import render
from agent.connectors.common import (
    MANIFEST_NAME_PREFIX,
    NeedsAttentionError,
    Options,
    attachment_name,
    bundle_path,
    format_size,
    manifest_name,
    showdesk_status,
    status_map,
)
from agent.connectors.fitting import FitResult, Limits, submit_fitted
from agent.connectors.httpclient import HttpClient, HttpConnector, MultipartForm, Part
from agent.schema import MANIFEST_PATH, MAX_FILE_BYTES, Report, Ticket, sha256_hex

if TYPE_CHECKING:
    from agent.config import BackendConfig

REST2: Final = "/REST/2.0"
DEFAULT_MAX_ATTACHMENT_SIZE: Final = 10 * 1024 * 1024  # RT's own default for $MaxAttachmentSize
MAX_PAGE_SIZE: Final = 100  # REST2 answers at most this many items per page
MANIFEST_CACHE_SIZE: Final = 256
# A replay is looked for among tickets created since this long before the report (clock skew,
# time zones of TicketSQL dates).
LOOKUP_MARGIN: Final = timedelta(days=2)
DEFAULT_STATUSES: Final = {
    "new": "new",
    "open": "open",
    "waiting": "stalled",
    "resolved": "resolved",
    "closed": "resolved",
}
NATIVE_EXTRA: Final = {"rejected": "closed", "deleted": "closed"}
# Where a custom field's value can come from (``custom_fields = {"Site" = "site"}``).
FIELD_SOURCES: Final[Mapping[str, Callable[[Report], str | None]]] = {
    "report_id": lambda r: str(r.id),
    "category": lambda r: r.category or None,
    "site": lambda r: r.source.site,
    "source": lambda r: r.source.id,
    "source_kind": lambda r: r.source.kind,
    "app_version": lambda r: r.source.app_version or None,
    "reporter_name": lambda r: r.reporter.name,
    "reporter_email": lambda r: r.reporter.email,
    "badge_id": lambda r: r.reporter.badge_id,
    "walk_up": lambda r: "yes" if r.walk_up else "no",
}
# Transactions whose attachments are the ticket's content; EmailRecord and CommentEmailRecord
# are the mail RT sent itself (auto-replies, notifications) and are left out.
CONTENT_TRANSACTIONS: Final = frozenset({"Create", "Comment", "Correspond"})
NOBODY: Final = "Nobody"  # RT's owner of unowned tickets
LIST_FIELDS: Final = "Subject,Status,Created,LastUpdated,Requestor,Owner"
MAX_TEXT_WORDS: Final = 8


@dataclass(frozen=True)
class RTFile:
    """One attachment of a ticket that is a file (not a MIME container, not a mail body)."""

    attachment_id: str
    name: str
    content_type: str
    size: int
    transaction_id: str
    transaction_type: str

    @property
    def path(self) -> str | None:
        return bundle_path(self.name)


def tql_quote(value: str) -> str:
    """A TicketSQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class RTConnector(HttpConnector):
    """Client of Request Tracker 5's REST2 API for one queue."""

    json_prefix = REST2
    capabilities = frozenset(
        {Capability.SUBMIT, Capability.READ, Capability.STATUS, Capability.NOTES, Capability.PROGRESS,
         Capability.IDEMPOTENT, Capability.FILTERS, Capability.ASSIGN}
    )

    def __init__(
        self,
        url: str,
        *,
        queue: str,
        token: TokenSource = None,
        report_id_field: str | None = None,
        custom_fields: Mapping[str, str] | None = None,
        requestor: str | None = None,
        max_attachment_size: int | None = DEFAULT_MAX_ATTACHMENT_SIZE,
        max_request_size: int | None = None,
        statuses: Mapping[str, str] | None = None,
        verify_files: bool = True,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        proxy: str | None = None,
        user: str | None = None,
    ) -> None:
        """``user``: the RT user the token belongs to (RT's API cannot say), shown as who is signed in."""
        base = url.rstrip("/")
        if base.endswith(REST2):
            base = base[: -len(REST2)]
        self.url = base
        self.queue = queue
        self.report_id_field = report_id_field
        self.custom_fields = dict(custom_fields or {})
        unknown = sorted(set(self.custom_fields.values()) - set(FIELD_SOURCES))
        if unknown:
            raise ConfigError(
                f"custom_fields: {', '.join(unknown)} is not a report field; use one of {', '.join(FIELD_SOURCES)}"
            )
        self.requestor = requestor
        self.statuses = status_map(DEFAULT_STATUSES, statuses or {}, "RT backend")
        self.verify_files = verify_files
        self.user = user
        self._token = token
        self.http = HttpClient(
            base,
            system=self.system,
            kind="rt",
            ca_bundle=ca_bundle,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            proxy=proxy,
        )
        # RT base64-encodes binary files where the database cannot keep them as they are, and
        # takes that quarter off $MaxAttachmentSize: fit to 3/4 of it, for every database.
        self.max_attachment_size = max_attachment_size
        self.limits = Limits(
            system=self.system,
            max_file_bytes=None if not max_attachment_size else max_attachment_size * 3 // 4,
            max_request_bytes=max_request_size,
            file_limit_name=(
                f"3/4 of RT's $MaxAttachmentSize of {format_size(max_attachment_size)}, as RT stores binary "
                "files base64-encoded" if max_attachment_size else "attachment limit"
            ),
            request_limit_name="max_request_size",
        )
        self._queue_checked = False
        self._kept_up_to = 0  # the largest file RT was seen to keep whole (see _verify_kept)
        self._manifests: dict[str, Report | None] = {}

    @property
    def system(self) -> str:
        return f"Request Tracker at {self.url}"

    # ------------------------------------------------------------ plumbing
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"token {secret_from(self._token, system=self.system)}"}

    def _items(self, path: str, params: Mapping[str, str | int], *, limit: int | None = None) -> list[dict[str, Any]]:
        """Every item of a REST2 collection, following its pages (up to ``limit`` items)."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self._json("GET", path, params={**params, "per_page": MAX_PAGE_SIZE, "page": page})
            batch = answer.get("items") if isinstance(answer, dict) else None
            if not isinstance(batch, list):
                raise PermanentError(f"{self.system} sent a list ShowDesk cannot read", system=self.system)
            items.extend(item for item in batch if isinstance(item, dict))
            pages = _int(answer.get("pages")) or 1
            if page >= pages or not batch or (limit is not None and len(items) >= limit):
                return items
            page += 1

    def ticket_url(self, ticket_id: str) -> str:
        """The ticket in RT's self-service interface, the one requestors (unprivileged users) get.

        The link goes to the person who reported (kiosk QR code, "Open it"), an unprivileged user
        (the SelfService portal of unprivileged requestors:
        https://metacpan.org/pod/RT::Extension::SelfServiceSimpleSearch). Linking the staff page
        ``/Ticket/Display.html`` relies on RT redirecting such users to this page; staff can open it too.
        The person sees it once the site lets requestors sign in and grants the Requestor role
        ShowTicket (RT's self-service set-up).
        """
        return f"{self.url}/SelfService/Display.html?id={quote(ticket_id, safe='')}"

    def _ticket(self, ticket_id: str, status: str = "new", report_id: uuid.UUID | None = None) -> Ticket:
        return Ticket(
            id=str(ticket_id),
            number=f"RT #{ticket_id}",
            status=showdesk_status(status, self.statuses, NATIVE_EXTRA),
            url=self.ticket_url(str(ticket_id)),
            report_id=report_id,
        )

    def check_queue(self) -> None:
        """Once per connector: the queue exists and carries every custom field the configuration names."""
        if self._queue_checked:
            return
        try:
            queue = self._json("GET", f"/queue/{quote(self.queue, safe='')}")
        except PermanentError as exc:
            if exc.status == 404:
                raise NeedsAttentionError(
                    f"{self.system} has no queue {self.queue!r} (or this token may not see it); "
                    "fix `queue` in the configuration or the queue's rights",
                    system=self.system,
                    status=404,
                ) from exc
            raise
        fields = queue.get("TicketCustomFields") if isinstance(queue, dict) else None
        names = {str(f.get("name")) for f in fields or [] if isinstance(f, dict)}
        wanted = [name for name in [self.report_id_field, *self.custom_fields] if name]
        missing = [name for name in wanted if name not in names]
        if missing:
            # RT ignores values for fields a queue does not have: a missing report-id field
            # would silently disable replay detection.
            raise NeedsAttentionError(
                f"queue {self.queue!r} on {self.system} has no ticket custom field "
                + ", ".join(repr(m) for m in missing)
                + " (or this token may not see it); create it and apply it to the queue, or fix the configuration",
                system=self.system,
            )
        self._queue_checked = True

    # ------------------------------------------------------------ submit
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        self.check_queue()
        report = bundle.report
        existing = self.find_ticket(report)
        if existing is not None:
            if progress is not None:
                progress(1, 1)
            return existing
        return submit_fitted(bundle, self.limits, lambda fitted: self._create(fitted, progress))

    def create_request(self, fitted: FitResult) -> tuple[dict[str, Any], list[tuple[str, str, bytes]]]:
        """What creating the ticket sends: the ``JSON`` field and the files (name, media type, bytes)."""
        bundle = fitted.bundle
        report = bundle.report
        payload: dict[str, Any] = {
            "Queue": self.queue,
            "Subject": report.subject(),
            "Content": render(bundle, notes=fitted.notes).text,
            "ContentType": "text/plain",
        }
        requestor = report.reporter.email or self.requestor
        if requestor:
            payload["Requestor"] = requestor
        fields = {name: FIELD_SOURCES[source](report) for name, source in self.custom_fields.items()}
        if self.report_id_field:
            fields[self.report_id_field] = str(report.id)
        fields = {name: value for name, value in fields.items() if value}
        if fields:
            payload["CustomFields"] = fields
        return payload, self._files(bundle)

    def _create(self, fitted: FitResult, progress: ProgressCallback | None) -> Ticket:
        report = fitted.bundle.report
        payload, sent = self.create_request(fitted)
        parts = [Part("JSON", json.dumps(payload, ensure_ascii=False).encode(), content_type="application/json")]
        parts += [Part("Attachments", data, filename=name, content_type=media) for name, media, data in sent]
        form = MultipartForm(parts, progress)
        if progress is not None:
            progress(0, len(form))
        answer = self._json("POST", "/ticket", data=form, headers={"Content-Type": form.content_type})
        ticket_id = str(answer.get("id", "")) if isinstance(answer, dict) else ""
        if not ticket_id.isdigit():
            raise PermanentError(f"{self.system} accepted the report but sent no ticket id", system=self.system)
        ticket = self._ticket(ticket_id, "new", report.id)
        largest = max(len(data) for _name, _media, data in sent)
        if self.verify_files and largest > self._kept_up_to:
            self._verify_kept(ticket, sent)
            # RT keeps whatever is below its limit: files no larger than these need no check again.
            self._kept_up_to = largest
        return ticket

    def _files(self, bundle: ReportBundle) -> list[tuple[str, str, bytes]]:
        """(attachment name, media type, bytes) of every file sent, the manifest last."""
        report = bundle.report
        files = [
            (attachment_name(ref.path, report.id), ref.media_type, bundle.files[ref.path]) for ref in report.files()
        ]
        files.append((manifest_name(report.id), "application/json", bundle.manifest_json()))
        return files

    def _verify_kept(self, ticket: Ticket, sent: Sequence[tuple[str, str, bytes]]) -> None:
        """RT answers "created" even when it dropped or cut a file over its limit: check each one."""
        kept = {f.name: f for f in self._created_files(ticket.id)}
        lost = [
            f"{name} ({format_size(len(data))})"
            for name, _media, data in sent
            if name not in kept or kept[name].size != len(data)
        ]
        if not lost:
            return
        reason = (
            f"ticket {ticket.number} was created on {self.system}, but RT did not keep "
            + ", ".join(lost)
            + " whole (dropped or truncated over its $MaxAttachmentSize?). Set max_attachment_size to RT's "
            "$MaxAttachmentSize; the report stays in the outbox's dead letters"
        )
        # The refusal below says it all; the note is a courtesy to the technician.
        with contextlib.suppress(TransientError, PermanentError, AuthError):
            self.add_note(ticket.id, f"ShowDesk: {reason}.", internal=True)
        raise PermanentError(reason, system=self.system)

    def find_ticket(self, report: Report) -> Ticket | None:
        """The ticket an earlier attempt made of ``report``, if any (the replay check)."""
        if self.report_id_field:
            query = f"{tql_quote('CF.{' + self.report_id_field + '}')} = {tql_quote(str(report.id))}"
            items = self._json(
                "GET",
                "/tickets",
                params={"query": query, "orderby": "id", "order": "ASC", "per_page": 1, "fields": "Status"},
            )
            found = items.get("items") if isinstance(items, dict) else None
            if isinstance(found, list) and found and isinstance(found[0], dict):
                return self._ticket(str(found[0].get("id")), str(found[0].get("Status", "new")), report.id)
            return None
        since = (report.created_at - LOOKUP_MARGIN).strftime("%Y-%m-%d %H:%M:%S")
        query = f"Subject = {tql_quote(report.subject())} AND Created > {tql_quote(since)}"
        candidates = self._items(
            "/tickets", {"query": query, "orderby": "id", "order": "ASC", "fields": "Status"}, limit=200
        )
        marker = manifest_name(report.id)
        for candidate in candidates:
            ticket_id = str(candidate.get("id"))
            if any(f.name == marker for f in self.files(ticket_id)):
                return self._ticket(ticket_id, str(candidate.get("Status", "new")), report.id)
        return None

    # ------------------------------------------------------------ read side
    def files(self, ticket_id: str) -> list[RTFile]:
        """The ticket's files: named attachments of its create, comment and reply transactions."""
        types = {
            str(t.get("id")): str(t.get("Type"))
            for t in self._items(f"/ticket/{_segment(ticket_id)}/history", {"fields": "Type"})
        }
        files = []
        for item in self._items(
            f"/ticket/{_segment(ticket_id)}/attachments",
            {"fields": "Filename,ContentType,ContentLength,TransactionId"},
        ):
            name = str(item.get("Filename") or "")
            content_type = str(item.get("ContentType") or "")
            transaction = str(item.get("TransactionId") or "")
            kind = types.get(transaction, "")
            if not name or content_type.startswith("multipart/") or kind not in CONTENT_TRANSACTIONS:
                continue
            files.append(
                RTFile(str(item.get("id")), name, content_type, _int(item.get("ContentLength")), transaction, kind)
            )
        return files

    def _created_files(self, ticket_id: str) -> list[RTFile]:
        """The files of a ticket's first transaction (its creation), with one request: for checks right after create."""
        items = self._items(
            f"/ticket/{_segment(ticket_id)}/attachments",
            {"fields": "Filename,ContentType,ContentLength,TransactionId"},
        )
        first = min((_int(item.get("TransactionId")) for item in items), default=0)
        return [
            RTFile(str(item.get("id")), str(item.get("Filename")), str(item.get("ContentType") or ""),
                   _int(item.get("ContentLength")), str(first), "Create")
            for item in items
            if item.get("Filename") and _int(item.get("TransactionId")) == first
        ]

    def _download(self, attachment_id: str) -> bytes:
        answer = self._json("GET", f"/attachment/{_segment(attachment_id)}")
        content = answer.get("Content") if isinstance(answer, dict) else None
        if not isinstance(content, str):
            raise PermanentError(f"{self.system} sent attachment {attachment_id} without content", system=self.system)
        if len(content) > MAX_FILE_BYTES * 4 // 3 + 1024:
            raise PermanentError(
                f"attachment {attachment_id} is larger than {MAX_FILE_BYTES} bytes", system=self.system
            )
        try:
            return base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise PermanentError(f"{self.system} sent attachment {attachment_id} in a form ShowDesk cannot read",
                                 system=self.system) from exc

    def _manifest(self, ticket_id: str, files: Sequence[RTFile]) -> Report | None:
        if ticket_id in self._manifests:
            return self._manifests[ticket_id]
        found = next((f for f in files if f.name.startswith(MANIFEST_NAME_PREFIX) and f.transaction_type == "Create"),
                     None)
        report: Report | None = None
        if found is not None:
            try:
                report = Report.model_validate_json(self._download(found.attachment_id))
            except ValidationError:
                report = None  # not a manifest this version reads; the ticket is still readable
        if len(self._manifests) >= MANIFEST_CACHE_SIZE:
            self._manifests.clear()  # manifests never change; the cache only saves downloads
        self._manifests[ticket_id] = report
        return report

    def list_tickets(
        self,
        *,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        filters: TicketFilter | None = None,
    ) -> TicketPage:
        query = self.ticket_sql(filters or TicketFilter(status=status), status=status)
        fields = LIST_FIELDS
        if self.report_id_field:
            fields += ",CustomFields"
        page = int(cursor) if cursor and cursor.isdigit() else 1
        answer = self._json(
            "GET",
            "/tickets",
            params={
                "query": query,
                "orderby": "id",  # ids grow with creation; Created has whole seconds and ties
                "order": "DESC",
                "per_page": max(1, min(limit, MAX_PAGE_SIZE)),
                "page": page,
                "fields": fields,
            },
        )
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise PermanentError(f"{self.system} sent a ticket list ShowDesk cannot read", system=self.system)
        records = [{**item, **_summary_keys(item)} for item in items if isinstance(item, dict)]
        tickets = [
            self._ticket(str(item.get("id")), str(item.get("Status", "")), self._report_id_of(item))
            for item in records
        ]
        pages = _int(answer.get("pages")) or 1
        return TicketPage(tickets=tickets, next_cursor=str(page + 1) if page < pages else None, raw=records)

    def ticket_sql(self, filters: TicketFilter, *, status: str | None = None) -> str:
        """The TicketSQL query listing this queue under ``filters``."""
        clauses = [f"Queue = {tql_quote(self.queue)}"]
        wanted_status = filters.status or status
        if wanted_status:
            clauses.append(f"Status = {tql_quote(self.statuses.get(wanted_status, wanted_status))}")
        if filters.category:
            field = self._field_for("category")
            clauses.append(
                f"{tql_quote('CF.{' + field + '}')} = {tql_quote(filters.category)}" if field
                else f"Subject STARTSWITH {tql_quote(filters.category + ':')}"
            )
        if filters.source:
            field = self._field_for("source")
            if field is None:
                # RT cannot search the ticket's text without full-text indexing; a custom field can hold it.
                raise UnsupportedError(
                    f"{self.system} can list tickets by source only with a custom field for it "
                    '(custom_fields = {"ShowDesk Source" = "source"})',
                    system=self.system,
                )
            clauses.append(f"{tql_quote('CF.{' + field + '}')} = {tql_quote(filters.source)}")
        if filters.assignee:
            owner = {"me": "__CurrentUser__", "none": NOBODY}.get(filters.assignee, filters.assignee)
            clauses.append(f"Owner = {tql_quote(owner)}")
        if filters.reporter:
            clauses.append(f"Requestor.EmailAddress = {tql_quote(filters.reporter)}")
        if filters.text:
            words = filters.text.split()[:MAX_TEXT_WORDS]
            clauses += [f"Subject LIKE {tql_quote(word)}" for word in words]
        if filters.since is not None:
            since = filters.since.astimezone(UTC) if filters.since.tzinfo else filters.since
            clauses.append(f"Created >= {tql_quote(since.strftime('%Y-%m-%d %H:%M:%S'))}")
        return " AND ".join(clauses)

    def _field_for(self, source: str) -> str | None:
        """The custom field the configuration fills from a report field (``custom_fields``), if any."""
        return next((name for name, given in self.custom_fields.items() if given == source), None)

    def _report_id_of(self, record: Mapping[str, Any]) -> uuid.UUID | None:
        for field in record.get("CustomFields") or []:
            if isinstance(field, dict) and field.get("name") == self.report_id_field:
                for value in field.get("values") or []:
                    try:
                        return uuid.UUID(str(value))
                    except ValueError:
                        return None
        return None

    def get_ticket(self, ticket_id: str) -> TicketDetail:
        record = self._json("GET", f"/ticket/{_segment(ticket_id)}")
        if not isinstance(record, dict):
            raise PermanentError(f"{self.system} sent a ticket ShowDesk cannot read", system=self.system)
        history = self._items(
            f"/ticket/{_segment(ticket_id)}/history", {"fields": "Type,Created,Creator,Field,OldValue,NewValue"}
        )
        files = self.files(ticket_id)
        report = self._manifest(ticket_id, files)
        report_id = self._report_id_of(record) or (report.id if report is not None else None)
        ticket = self._ticket(str(record.get("id", ticket_id)), str(record.get("Status", "")), report_id)
        return TicketDetail(
            ticket=ticket,
            report=report,
            timeline=self._timeline(history, files),
            raw={
                **record,
                **_summary_keys(record),
                "files": [
                    {"path": f.path, "name": f.name, "content_type": f.content_type, "size": f.size,
                     "attachment_id": f.attachment_id, "transaction": f.transaction_type}
                    for f in files
                ],
            },
        )

    def _timeline(self, history: Sequence[Mapping[str, Any]], files: Sequence[RTFile]) -> list[dict[str, Any]]:
        """RT's transactions in the built-in server's timeline shape (kind, at, actor, internal, data)."""
        texts = self._note_texts(history)
        events: list[dict[str, Any]] = []
        for seq, item in enumerate(history, start=1):
            kind_rt = str(item.get("Type", ""))
            field = str(item.get("Field") or "")
            creator = item.get("Creator")
            actor = str(creator.get("id")) if isinstance(creator, dict) else str(creator or "")
            event: dict[str, Any] = {"seq": seq, "at": item.get("Created"), "actor": actor, "internal": False}
            if kind_rt == "Create":
                event.update(kind="created", data={"files": [f.name for f in files if f.transaction_type == "Create"]})
            elif kind_rt == "Status" or (kind_rt == "Set" and field == "Status"):
                event.update(kind="status", data={
                    "from": showdesk_status(str(item.get("OldValue") or ""), self.statuses, NATIVE_EXTRA),
                    "to": showdesk_status(str(item.get("NewValue") or ""), self.statuses, NATIVE_EXTRA),
                })
            elif kind_rt in ("Give", "Take", "Steal", "Untake") or (kind_rt == "Set" and field == "Owner"):
                event.update(kind="assigned", data={"from": item.get("OldValue"), "to": item.get("NewValue")})
            elif kind_rt in ("Comment", "Correspond"):
                internal = kind_rt == "Comment"
                event.update(kind="note" if internal else "reply", internal=internal,
                             data={"text": texts.get(str(item.get("id")), "")})
            else:
                continue  # mail RT sent itself, custom-field and watcher changes
            events.append(event)
        return events

    def _note_texts(self, history: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """The text of each comment and reply (one attachment list per transaction; notes are few)."""
        texts: dict[str, str] = {}
        for item in history:
            if item.get("Type") not in ("Comment", "Correspond"):
                continue
            transaction = str(item.get("id"))
            for attachment in self._items(
                f"/transaction/{_segment(transaction)}/attachments", {"fields": "ContentType,Filename"}
            ):
                if attachment.get("ContentType") == "text/plain" and not attachment.get("Filename"):
                    texts[transaction] = self._download(str(attachment.get("id"))).decode("utf-8", "replace")[:20000]
                    break
        return texts

    def attachment(self, ticket_id: str, path: str) -> bytes:
        files = self.files(ticket_id)
        report = self._manifest(ticket_id, files)
        name = attachment_name(path, report.id if report is not None else None) if path != MANIFEST_PATH else None
        if path == MANIFEST_PATH:
            found = next((f for f in files if f.name.startswith(MANIFEST_NAME_PREFIX)), None)
        else:
            # RT renames a file it dropped over its limit to NAME.txt (content "Large attachment dropped").
            names = (name, f"{name}.txt")
            found = next((f for f in files if f.name in names and f.transaction_type == "Create"), None)
            found = found or next((f for f in files if f.name in names), None)
        if found is None:
            raise PermanentError(f"ticket {ticket_id} on {self.system} has no file {path}", system=self.system,
                                 status=404)
        data = self._download(found.attachment_id)
        expected = next((ref for ref in report.files() if ref.path == path), None) if report is not None else None
        if expected is not None and sha256_hex(data) != expected.sha256:
            raise PermanentError(
                f"{found.name} on ticket {ticket_id} is not the file that was sent ({format_size(len(data))}, "
                f"expected {format_size(expected.size)}): RT dropped or truncated it",
                system=self.system,
            )
        return data

    def set_status(self, ticket_id: str, status: str) -> Ticket:
        native = self.statuses.get(status, status)
        messages = self._json("PUT", f"/ticket/{_segment(ticket_id)}", json={"Status": native})
        record = self._json("GET", f"/ticket/{_segment(ticket_id)}")
        current = str(record.get("Status", "")) if isinstance(record, dict) else ""
        if current != native:
            said = "; ".join(str(m) for m in messages) if isinstance(messages, list) else ""
            raise PermanentError(
                f"{self.system} did not set ticket {ticket_id} to {native!r}" + (f": {said}" if said else ""),
                system=self.system,
            )
        return self._ticket(str(ticket_id), current, self._report_id_of(record) if isinstance(record, dict) else None)

    def whoami(self) -> Caller:
        """RT's API cannot say whose token it is: reading the queue proves the token; the name is configured."""
        try:
            self._json("GET", f"/queue/{quote(self.queue, safe='')}")
        except PermanentError as exc:
            if exc.status == 404:
                raise NeedsAttentionError(
                    f"{self.system} has no queue {self.queue!r} (or this token may not see it)",
                    system=self.system,
                    status=404,
                ) from exc
            raise
        return Caller(name=self.user or "", role="technician", site=None)

    def assign(self, ticket_id: str, assignee: str | None) -> Ticket:
        """``"me"`` takes the ticket (steals it from another owner), None gives it back to Nobody."""
        path = f"/ticket/{_segment(ticket_id)}"
        if assignee == "me":
            record = self._json("GET", path)
            owner = _owner(record) if isinstance(record, dict) else None
            # REST2 wants a JSON body even where there is nothing to say.
            messages = self._json("PUT", f"{path}/{'steal' if owner else 'take'}", json={})
        else:
            messages = self._json("PUT", path, json={"Owner": assignee or NOBODY})
        record = self._json("GET", path)
        if not isinstance(record, dict):
            raise PermanentError(f"{self.system} sent a ticket ShowDesk cannot read", system=self.system)
        owner = _owner(record)
        if (assignee in (None, "") and owner is not None) or (
            assignee not in (None, "", "me") and owner != assignee
        ) or (assignee == "me" and owner is None):
            said = "; ".join(str(m) for m in messages) if isinstance(messages, list) else ""
            raise PermanentError(
                f"{self.system} did not give ticket {ticket_id} to {assignee or NOBODY}"
                + (f": {said}" if said else ""),
                system=self.system,
            )
        return self._ticket(str(ticket_id), str(record.get("Status", "")), self._report_id_of(record))

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> None:
        action = "comment" if internal else "correspond"
        self._json(
            "POST", f"/ticket/{_segment(ticket_id)}/{action}", json={"Content": text, "ContentType": "text/plain"}
        )


def create(backend: BackendConfig, *, role: str = "submitter") -> RTConnector:
    """The registry's entry point; the token is looked up at each call (``showdesk login`` takes effect at once)."""
    from agent.credentials import token_for

    options = Options(backend)
    if not backend.url:
        raise ConfigError(f"{options.where} needs url = \"https://rt.example.org\" (RT's web address)")
    return RTConnector(
        backend.url,
        queue=options.required_text("queue"),
        token=lambda: token_for(backend, role),
        report_id_field=options.text("report_id_field"),
        custom_fields=options.table("custom_fields"),
        requestor=options.text("requestor"),
        max_attachment_size=options.size("max_attachment_size", DEFAULT_MAX_ATTACHMENT_SIZE),
        max_request_size=options.size("max_request_size", None),
        statuses=options.table("statuses"),
        verify_files=options.flag("verify_files", True),
        ca_bundle=backend.ca_bundle,
        connect_timeout=backend.connect_timeout,
        read_timeout=backend.read_timeout,
        proxy=backend.proxy,
        user=options.text("user"),
    )


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _owner(record: Mapping[str, Any]) -> str | None:
    """The ticket's owner's name; None for RT's Nobody."""
    owner = record.get("Owner")
    name = str(owner.get("id") or "") if isinstance(owner, dict) else str(owner or "")
    return None if not name or name == NOBODY else name


def _summary_keys(record: Mapping[str, Any]) -> dict[str, Any]:
    """The built-in server's summary keys for an RT record (see ``TicketPage``), from what RT sent."""
    keys: dict[str, Any] = {"assignee": _owner(record)}
    if isinstance(record.get("Subject"), str):
        keys["subject"] = record["Subject"]
    for ours, theirs in (("created_at", "Created"), ("updated_at", "LastUpdated")):
        if isinstance(record.get(theirs), str) and not record[theirs].startswith("1970"):
            keys[ours] = record[theirs]  # RT's "not set" is the epoch
    requestors = [r.get("id") for r in record.get("Requestor") or [] if isinstance(r, dict)]
    if requestors and isinstance(requestors[0], str):
        keys["reporter"] = {"email": requestors[0]}
    return keys


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


__all__ = ["RTConnector", "RTFile", "create", "tql_quote"]
