"""The connector for Zammad through its REST API (``/api/v1``). Contract-tested, not run against a live Zammad.

Write: ``POST /api/v1/tickets`` with the ticket (title, group, ``customer_id: "guess:<e-mail>"``
so Zammad finds or makes the customer) and its first article: the readable body as HTML and
every file (step images, ``sysinfo.json``, extra attachments, the manifest) as base64
attachments. Authentication is an access token: ``Authorization: Token token=<token>``.

Idempotency: Zammad has no idempotency key. With ``report_id_field`` (a ticket object
attribute an admin adds, e.g. ``showdesk_report_id``) the report id is stored on the ticket and
searched for (``GET /api/v1/tickets/search?query=<field>:<id>``) before every create; without
it the search looks for the id in the ticket text. Zammad's search runs on its search index,
which lags a create by seconds, so this protects against the common case (a retry minutes
later) but not against two sends within the index delay.

Size: Zammad's bundled nginx configuration allows 50 MB per request (``client_max_body_size``);
files travel base64-encoded inside the JSON, so the report is fitted to that at 4/3 the size.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from pydantic import ValidationError

from agent.bundle import ReportBundle
from agent.config import ConfigError
from agent.connectors.base import (
    Capability,
    PermanentError,
    ProgressCallback,
    TicketDetail,
    TicketFilter,
    TicketPage,
    TokenSource,
    secret_from,
)
from agent.connectors.body import marker_line, render
from agent.connectors.common import (
    MANIFEST_NAME_PREFIX,
    Options,
    attachment_name,
    format_size,
    manifest_name,
    showdesk_status,
    status_map,
)
from agent.connectors.fitting import FitResult, Limits, submit_fitted
from agent.connectors.httpclient import HttpClient, HttpConnector
from agent.schema import MANIFEST_PATH, Report, Ticket, sha256_hex

if TYPE_CHECKING:
    from agent.config import BackendConfig

API: Final = "/api/v1"
DEFAULT_MAX_REQUEST_SIZE: Final = 50 * 1024 * 1024  # client_max_body_size in Zammad's nginx configuration
JSON_WIRE_RATIO: Final = 4 / 3
DEFAULT_STATUSES: Final = {
    "new": "new",
    "open": "open",
    "waiting": "pending reminder",
    "resolved": "closed",
    "closed": "closed",
}
NATIVE_EXTRA: Final = {"pending close": "waiting", "merged": "closed", "removed": "closed"}
MAX_PAGE_SIZE: Final = 100


class ZammadConnector(HttpConnector):
    """Client of Zammad's REST API for one group."""

    json_prefix = API
    capabilities = frozenset({Capability.SUBMIT, Capability.READ, Capability.STATUS, Capability.NOTES})

    def __init__(
        self,
        url: str,
        *,
        group: str,
        token: TokenSource = None,
        customer: str | None = None,
        report_id_field: str | None = None,
        article_type: str = "web",
        max_request_size: int | None = DEFAULT_MAX_REQUEST_SIZE,
        max_attachment_size: int | None = None,
        statuses: Mapping[str, str] | None = None,
        pending_days: float = 1.0,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        proxy: str | None = None,
    ) -> None:
        base = url.rstrip("/")
        if base.endswith(API):
            base = base[: -len(API)]
        self.url = base
        self.group = group
        self.customer = customer
        self.report_id_field = report_id_field
        self.article_type = article_type
        self.statuses = status_map(DEFAULT_STATUSES, statuses or {}, "Zammad backend")
        self.pending_days = pending_days
        self._token = token
        self.http = HttpClient(base, system=self.system, kind="zammad", ca_bundle=ca_bundle,
                               connect_timeout=connect_timeout, read_timeout=read_timeout, proxy=proxy)
        self.limits = Limits(
            system=self.system,
            max_file_bytes=max_attachment_size,
            max_request_bytes=max_request_size,
            wire_ratio=JSON_WIRE_RATIO,
            file_limit_name="max_attachment_size",
            request_limit_name=(
                f"nginx's client_max_body_size in Zammad's configuration, {format_size(max_request_size)}; "
                "files travel base64-encoded" if max_request_size else "request size limit"
            ),
        )
        self._states: dict[str, str] | None = None
        if report_id_field:
            self.capabilities = type(self).capabilities | {Capability.IDEMPOTENT}

    @property
    def system(self) -> str:
        return f"Zammad at {self.url}"

    # ------------------------------------------------------------ plumbing
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Token token={secret_from(self._token, system=self.system)}"}

    def ticket_url(self, ticket_id: str) -> str:
        return f"{self.url}/#ticket/zoom/{ticket_id}"

    def _ticket(self, record: Mapping[str, Any], report_id: uuid.UUID | None = None) -> Ticket:
        ticket_id = str(record.get("id", ""))
        if not ticket_id:
            raise PermanentError(f"{self.system} sent a ticket without an id", system=self.system)
        state = record.get("state")
        native = state if isinstance(state, str) else self._state_names().get(str(record.get("state_id")), "new")
        if report_id is None and self.report_id_field:
            report_id = _uuid(record.get(self.report_id_field))
        return Ticket(
            id=ticket_id,
            number=f"Ticket#{record.get('number') or ticket_id}",
            status=showdesk_status(native, self.statuses, NATIVE_EXTRA),
            url=self.ticket_url(ticket_id),
            report_id=report_id,
        )

    def _state_names(self) -> dict[str, str]:
        """State id → name (``GET /api/v1/ticket_states``), read once: tickets carry only ``state_id``."""
        if self._states is None:
            answer = self._json("GET", "/ticket_states")
            self._states = {
                str(s.get("id")): str(s.get("name")) for s in answer if isinstance(s, dict)
            } if isinstance(answer, list) else {}
        return self._states

    # ------------------------------------------------------------ submit
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        existing = self.find_ticket(bundle.report)
        if existing is not None:
            return existing
        return submit_fitted(bundle, self.limits, lambda fitted: self._create(fitted, progress))

    def _create(self, fitted: FitResult, progress: ProgressCallback | None) -> Ticket:
        bundle = fitted.bundle
        report = bundle.report
        attachments = [
            {
                "filename": attachment_name(ref.path, report.id),
                "data": base64.b64encode(bundle.files[ref.path]).decode("ascii"),
                "mime-type": ref.media_type,
            }
            for ref in report.files()
        ]
        attachments.append({
            "filename": manifest_name(report.id),
            "data": base64.b64encode(bundle.manifest_json()).decode("ascii"),
            "mime-type": "application/json",
        })
        payload: dict[str, Any] = {
            "title": report.subject(),
            "group": self.group,
            "article": {
                "subject": report.subject(),
                "body": render(bundle, notes=fitted.notes).html,
                "content_type": "text/html",
                "type": self.article_type,
                "internal": False,
                "attachments": attachments,
            },
        }
        customer = report.reporter.email or self.customer
        if customer:
            payload["customer_id"] = f"guess:{customer}"
        if self.report_id_field:
            payload[self.report_id_field] = str(report.id)
        if progress is not None:
            progress(0, fitted.wire_bytes)
        record = self._json("POST", "/tickets", json=payload)
        if not isinstance(record, dict):
            raise PermanentError(f"{self.system} accepted the report but sent no ticket", system=self.system)
        if progress is not None:
            progress(fitted.wire_bytes, fitted.wire_bytes)
        return self._ticket(record, report.id)

    def find_ticket(self, report: Report) -> Ticket | None:
        """The ticket an earlier attempt made of ``report``, as far as Zammad's search index knows."""
        if self.report_id_field:
            for record in self._search(f'{self.report_id_field}:"{report.id}"', limit=5):
                if str(record.get(self.report_id_field)) == str(report.id):  # not a hit on something else
                    return self._ticket(record, report.id)
            return None
        marker = manifest_name(report.id)
        for record in self._search(f'"{marker_line(report)}"', limit=5):
            articles = self._articles(str(record.get("id")))
            attachments = articles[0].get("attachments") or [] if articles else []
            if marker in [str(a.get("filename")) for a in attachments if isinstance(a, dict)]:
                return self._ticket(record, report.id)
        return None

    def _search(self, query: str, *, limit: int, page: int = 1) -> list[dict[str, Any]]:
        answer = self._json("GET", "/tickets/search", params={
            "query": query, "limit": limit, "page": page, "sort_by": "created_at", "order_by": "desc",
        })
        return _ticket_records(answer)

    # ------------------------------------------------------------ read side
    def list_tickets(
        self,
        *,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        filters: TicketFilter | None = None,
    ) -> TicketPage:
        status = self._status_only(status, filters)
        page = int(cursor) if cursor and cursor.isdigit() else 1
        per_page = max(1, min(limit, MAX_PAGE_SIZE))
        if status is None:
            answer = self._json("GET", "/tickets", params={
                "page": page, "per_page": per_page, "sort_by": "created_at", "order_by": "desc",
            })
            records = _ticket_records(answer)
        else:
            state = self.statuses.get(status, status)
            records = self._search(f'state.name:"{state}"', limit=per_page, page=page)
        records.sort(key=lambda r: int(str(r.get("id", 0))) if str(r.get("id", "")).isdigit() else 0, reverse=True)
        return TicketPage(
            tickets=[self._ticket(r) for r in records],
            next_cursor=str(page + 1) if len(records) >= per_page else None,
            raw=records,
        )

    def _articles(self, ticket_id: str) -> list[dict[str, Any]]:
        answer = self._json("GET", f"/ticket_articles/by_ticket/{_segment(ticket_id)}")
        if not isinstance(answer, list):
            raise PermanentError(f"{self.system} sent articles ShowDesk cannot read", system=self.system)
        return [a for a in answer if isinstance(a, dict)]

    def _download(self, ticket_id: str, article_id: object, attachment_id: object) -> bytes:
        response = self.http.request(
            "GET", f"{API}/ticket_attachment/{_segment(ticket_id)}/{_segment(str(article_id))}/"
            f"{_segment(str(attachment_id))}", headers={**self._headers(), "Accept": "*/*"},
        )
        return response.content

    def _find_file(self, ticket_id: str, articles: Sequence[Mapping[str, Any]],
                   match: Callable[[str], bool]) -> bytes | None:
        for article in articles:
            for attachment in article.get("attachments") or []:
                if isinstance(attachment, dict) and match(str(attachment.get("filename", ""))):
                    return self._download(ticket_id, article.get("id"), attachment.get("id"))
        return None

    def _manifest(self, ticket_id: str, articles: Sequence[Mapping[str, Any]]) -> Report | None:
        data = self._find_file(ticket_id, articles[:1], lambda name: name.startswith(MANIFEST_NAME_PREFIX))
        if data is None:
            return None
        try:
            return Report.model_validate_json(data)
        except ValidationError:
            return None

    def get_ticket(self, ticket_id: str) -> TicketDetail:
        record = self._json("GET", f"/tickets/{_segment(ticket_id)}")
        if not isinstance(record, dict):
            raise PermanentError(f"{self.system} sent a ticket ShowDesk cannot read", system=self.system)
        articles = self._articles(ticket_id)
        report = self._manifest(ticket_id, articles)
        ticket = self._ticket(record, report.id if report is not None else None)
        timeline = [
            {
                "seq": number,
                "kind": "created" if number == 1 else ("note" if article.get("internal") else "reply"),
                "at": article.get("created_at"),
                "actor": str(article.get("from") or article.get("created_by") or ""),
                "internal": bool(article.get("internal")),
                "data": {"text": article.get("body", "")} if number > 1 else {
                    "files": [a.get("filename") for a in article.get("attachments") or [] if isinstance(a, dict)]},
            }
            for number, article in enumerate(articles, start=1)
        ]
        return TicketDetail(ticket=ticket, report=report, timeline=timeline, raw={**record, "articles": articles})

    def attachment(self, ticket_id: str, path: str) -> bytes:
        articles = self._articles(ticket_id)
        report = self._manifest(ticket_id, articles)
        if path == MANIFEST_PATH:
            data = self._find_file(ticket_id, articles, lambda name: name.startswith(MANIFEST_NAME_PREFIX))
        else:
            name = attachment_name(path, report.id if report is not None else None)
            data = self._find_file(ticket_id, articles, lambda candidate: candidate == name)
        if data is None:
            raise PermanentError(f"ticket {ticket_id} on {self.system} has no file {path}", system=self.system,
                                 status=404)
        expected = next((r for r in report.files() if r.path == path), None) if report is not None else None
        if expected is not None and sha256_hex(data) != expected.sha256:
            raise PermanentError(f"{path} on ticket {ticket_id} is not the file that was sent", system=self.system)
        return data

    def set_status(self, ticket_id: str, status: str) -> Ticket:
        native = self.statuses.get(status, status)
        change: dict[str, Any] = {"state": native}
        if native.startswith("pending"):
            # Zammad's pending states need the time the ticket wakes up again.
            until = datetime.now(UTC) + timedelta(days=self.pending_days)
            change["pending_time"] = until.isoformat(timespec="seconds").replace("+00:00", "Z")
        record = self._json("PUT", f"/tickets/{_segment(ticket_id)}", json=change)
        if not isinstance(record, dict):
            raise PermanentError(f"{self.system} sent a ticket ShowDesk cannot read", system=self.system)
        return self._ticket(record)

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> None:
        self._json("POST", "/ticket_articles", json={
            "ticket_id": int(ticket_id) if ticket_id.isdigit() else ticket_id,
            "body": text,
            "content_type": "text/plain",
            "type": "note",
            "internal": internal,
        })


def _ticket_records(answer: Any) -> list[dict[str, Any]]:
    """Tickets from a list answer, or from a search answer (ticket ids plus their records under ``assets``)."""
    if isinstance(answer, list):
        return [r for r in answer if isinstance(r, dict)]
    if isinstance(answer, dict):
        all_assets = answer.get("assets")
        tickets = all_assets.get("Ticket") if isinstance(all_assets, dict) else None
        ids = answer.get("tickets")
        if not isinstance(tickets, dict) or not isinstance(ids, list):
            return []
        return [tickets[str(i)] for i in ids if isinstance(tickets.get(str(i)), dict)]
    return []


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def create(backend: BackendConfig, *, role: str = "submitter") -> ZammadConnector:
    """The registry's entry point; the access token comes from ``token_for`` at each call."""
    from agent.credentials import token_for

    options = Options(backend)
    if not backend.url:
        raise ConfigError(f"{options.where} needs url = \"https://zammad.example.org\"")
    return ZammadConnector(
        backend.url,
        group=options.required_text("group"),
        token=lambda: token_for(backend, role),
        customer=options.text("customer"),
        report_id_field=options.text("report_id_field"),
        article_type=options.text("article_type", "web") or "web",
        max_request_size=options.size("max_request_size", DEFAULT_MAX_REQUEST_SIZE),
        max_attachment_size=options.size("max_attachment_size", None),
        statuses=options.table("statuses"),
        pending_days=options.number("pending_days", 1.0),
        ca_bundle=backend.ca_bundle,
        connect_timeout=backend.connect_timeout,
        read_timeout=backend.read_timeout,
        proxy=backend.proxy,
    )


__all__ = ["ZammadConnector", "create"]
