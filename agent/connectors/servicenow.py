"""The connector for ServiceNow: incidents through the Table API, files through the Attachment API.
Contract-tested, not run against a live instance.

Write: the caller is looked up by e-mail (``GET /api/now/table/sys_user?sysparm_query=email=…``);
the incident is made with ``POST /api/now/table/incident`` (short description, the readable body
as description, caller, category, urgency, ``correlation_id`` = the report id); then each file goes
up alone: ``POST /api/now/attachment/file?table_name=incident&table_sys_id=…&file_name=…`` with
the raw bytes and their content type.

Authentication: with ``user`` set, HTTP basic ``user:password`` (an integration user with the
itil role, or whatever the instance requires to create incidents and attachments); without, an
OAuth access token as ``Authorization: Bearer``.

Category and urgency: ``categories`` maps ShowDesk categories to incident category values
(unmapped ones send none, so the instance's default applies). ServiceNow wants an urgency
(1 high, 2 medium, 3 low): it comes from ``urgencies`` by the report's most severe flag
(default critical → 1, warning → 2, anything else → 3).

Idempotency: ``correlation_id`` holds the report id; an incident with it is looked up before every
create, straight from the database. A send that broke off between the files is finished on the
replay: files already attached (by name, ``GET /api/now/attachment``) are not sent again.

Size: ``com.glide.attachment.max_size`` bounds each file (1024 MB by default); ``max_attachment_size``
says what the instance allows.

Read side (technician mode): the incidents ShowDesk made (``correlation_display=ShowDesk``), newest
first, by state; an incident with its files (``GET /api/now/attachment``, each downloaded from
``/api/now/attachment/{sys_id}/file``), the report from its manifest, and its journal (work notes
and additional comments, ``sys_journal_field``); a state change (``PATCH`` the incident: resolving
sends ``close_code`` and ``close_notes``, putting on hold a ``hold_reason``, as the default
incident form requires); a work note (internal) or an additional comment (the caller sees it).
Assignment, filters beyond the state, live changes and figures are not offered.

The ticket link (what the person who reported opens) is the portal's standard ticket page,
``{url}/{requester_portal}?id=ticket&table=incident&sys_id=…`` (``requester_portal`` = "sp" by default).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import requests
from pydantic import ValidationError

from agent.bundle import ReportBundle
from agent.config import ConfigError
from agent.connectors.base import (
    MAX_REASON_CHARS,
    AuthError,
    Caller,
    Capability,
    ConnectorError,
    PermanentError,
    ProgressCallback,
    TicketDetail,
    TicketFilter,
    TicketPage,
    TokenSource,
    error_for_status,
    parse_retry_after,
    secret_from,
)
from agent.connectors.body import render
from agent.connectors.common import (
    MANIFEST_NAME_PREFIX,
    Options,
    attachment_name,
    manifest_name,
    showdesk_status,
    status_map,
)
from agent.connectors.fitting import SERVICENOW_MAX_ATTACHMENT_BYTES, FitResult, Limits, submit_fitted
from agent.connectors.httpclient import BasicAuthorization, HttpClient, HttpConnector
from agent.connectors.urgency import mapped
from agent.schema import MANIFEST_PATH, Report, Ticket, sha256_hex

if TYPE_CHECKING:
    from agent.config import BackendConfig

TABLE: Final = "incident"
DEFAULT_URGENCIES: Final = {"critical": "1", "warning": "2", "default": "3"}
# Incident states of a default instance: 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled.
DEFAULT_STATUSES: Final = {"new": "1", "open": "2", "waiting": "3", "resolved": "6", "closed": "7"}
NATIVE_EXTRA: Final = {"8": "closed"}
STATE_RESOLVED: Final = "6"
STATE_ON_HOLD: Final = "3"
HOLD_AWAITING_CALLER: Final = "1"
SOURCE_MARK: Final = "ShowDesk"  # correlation_display of the incidents ShowDesk makes
LIST_FIELDS: Final = "sys_id,number,state,short_description,sys_created_on,sys_updated_on,correlation_id,caller_id"
MAX_PAGE_SIZE: Final = 100
# The Service Portal ("sp"); sites whose callers use another portal (e.g. the Employee Center, "esc")
# set requester_portal. One URL path segment, so the setting cannot point the link elsewhere.
DEFAULT_REQUESTER_PORTAL: Final = "sp"
PORTAL_SUFFIX: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ServiceNowConnector(HttpConnector):
    """Client of a ServiceNow instance's Table and Attachment APIs."""

    capabilities = frozenset({Capability.SUBMIT, Capability.IDEMPOTENT, Capability.PROGRESS, Capability.READ,
                              Capability.STATUS, Capability.NOTES})

    def __init__(
        self,
        url: str,
        *,
        token: TokenSource,
        user: str | None = None,
        statuses: Mapping[str, str] | None = None,
        close_code: str = "Solved (Permanently)",
        close_notes: str = "Resolved with ShowDesk.",
        categories: Mapping[str, str] | None = None,
        urgencies: Mapping[str, str] | None = None,
        assignment_group: str | None = None,
        caller: str | None = None,
        max_attachment_size: int | None = SERVICENOW_MAX_ATTACHMENT_BYTES,
        requester_portal: str = DEFAULT_REQUESTER_PORTAL,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        proxy: str | None = None,
    ) -> None:
        if not PORTAL_SUFFIX.fullmatch(requester_portal):
            raise ConfigError(f"ServiceNow requester_portal is a portal's URL suffix such as \"sp\" or \"esc\", "
                              f"not {requester_portal!r}")
        self.url = url.rstrip("/")
        self._token = token
        self.user = user
        self.requester_portal = requester_portal
        self.categories = dict(categories or {})
        self.urgencies = {**DEFAULT_URGENCIES, **(urgencies or {})}
        self.assignment_group = assignment_group
        self.caller = caller
        self.statuses = status_map(DEFAULT_STATUSES, statuses or {}, "ServiceNow backend")
        self.close_code = close_code
        self.close_notes = close_notes
        self.http = HttpClient(self.url, system=self.system, kind="servicenow", ca_bundle=ca_bundle,
                               connect_timeout=connect_timeout, read_timeout=read_timeout, proxy=proxy,
                               classify=self._classify)
        self._basic = BasicAuthorization()
        self.limits = Limits(
            system=self.system,
            max_file_bytes=max_attachment_size,
            file_limit_name="the instance's com.glide.attachment.max_size (max_attachment_size)",
        )

    @property
    def system(self) -> str:
        return f"ServiceNow at {self.url}"

    # ------------------------------------------------------------ plumbing
    def _classify(self, response: requests.Response, reason: str) -> ConnectorError | None:
        reason = _servicenow_reason(response) or reason
        status = response.status_code
        if status in (401, 403):
            if self.user:
                fix = (f"check user = \"{self.user}\" in the backend's settings, store its password with "
                       f"`showdesk login {self.url}`")
            else:
                fix = f"store a valid OAuth access token with `showdesk login {self.url}` (or set user for basic auth)"
            if status == 403:
                fix += ", and give the user the roles to create incidents and attachments (itil)"
            return AuthError(f"{self.system} refused the credentials ({status})" + (f": {reason}" if reason else "")
                             + f"; {fix}", system=self.system, status=status)
        return error_for_status(status, system=self.system, reason=reason,
                                retry_after=parse_retry_after(response.headers.get("Retry-After")))

    def _headers(self) -> dict[str, str]:
        secret = secret_from(self._token, system=self.system, what="password" if self.user else "access token")
        if self.user:
            return {"Authorization": self._basic.value(self.user, secret)}
        return {"Authorization": f"Bearer {secret}"}

    def _result(self, answer: Any) -> Any:
        if not isinstance(answer, dict) or "result" not in answer:
            raise PermanentError(f"{self.system} sent an answer without a result", system=self.system)
        return answer["result"]

    def _ticket(self, record: Mapping[str, Any], report_id: uuid.UUID | None = None) -> Ticket:
        sys_id = str(record.get("sys_id", ""))
        if not sys_id:
            raise PermanentError(f"{self.system} sent an incident without a sys_id", system=self.system)
        if report_id is None:
            report_id = _uuid(record.get("correlation_id"))
        state = str(record.get("state") or "1")
        return Ticket(id=sys_id, number=str(record.get("number") or sys_id),
                      status=showdesk_status(state, self.statuses, NATIVE_EXTRA),
                      url=self.requester_link(sys_id), report_id=report_id)

    def requester_link(self, sys_id: str) -> str:
        """The incident's standard ticket page in the portal the caller uses.

        The link goes to the person who reported (kiosk QR code, "Open it"), and callers without the
        itil role cannot open the fulfiller form (``nav_to.do?uri=incident.do…``); the portal's
        ``?id=ticket&table=incident&sys_id=…`` page shows them their incident
        (https://www.servicenow.com/docs/r/australia/platform-user-interface/service-portal/standard-ticket-page.html).
        """
        return f"{self.url}/{self.requester_portal}?id=ticket&table={TABLE}&sys_id={_segment(sys_id)}"

    # ------------------------------------------------------------ submit
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        return submit_fitted(bundle, self.limits, lambda fitted: self._send(fitted, progress))

    def _send(self, fitted: FitResult, progress: ProgressCallback | None) -> Ticket:
        bundle = fitted.bundle
        report = bundle.report
        files = [(attachment_name(ref.path, report.id), ref.media_type, bundle.files[ref.path])
                 for ref in report.files()]
        files.append((manifest_name(report.id), "application/json", fitted.manifest_bytes()))
        record = self.find_incident(report.id)
        present: set[str] = set()
        if record is None:
            record = self._create(fitted)
        else:
            present = self._attachment_names(str(record["sys_id"]))
        ticket = self._ticket(record, report.id)
        total = sum(len(data) for _n, _m, data in files)
        sent = 0
        for name, media_type, data in files:
            if name not in present:
                self._json("POST", "/api/now/attachment/file", data=data, headers={"Content-Type": media_type},
                           params={"table_name": TABLE, "table_sys_id": ticket.id, "file_name": name})
            sent += len(data)
            if progress is not None:
                progress(sent, total)
        return ticket

    def _create(self, fitted: FitResult) -> dict[str, Any]:
        report = fitted.bundle.report
        body = render(fitted.bundle, notes=fitted.notes)
        incident: dict[str, Any] = {
            "short_description": report.subject()[:160],
            "description": body.text,
            "correlation_id": str(report.id),
            "correlation_display": "ShowDesk",
            "contact_type": "self-service",
            "urgency": mapped(body.system, self.urgencies, "3"),
        }
        caller = self._caller(report.reporter.email) or self.caller
        if caller:
            incident["caller_id"] = caller
        category = self.categories.get(report.category or "")
        if category:
            incident["category"] = category
        if self.assignment_group:
            incident["assignment_group"] = self.assignment_group
        record = self._result(self._json("POST", f"/api/now/table/{TABLE}", json=incident))
        if not isinstance(record, dict):
            raise PermanentError(f"{self.system} accepted the report but sent no incident", system=self.system)
        return record

    def _caller(self, email: str | None) -> str | None:
        """The sys_id of the user with ``email``, or None (the incident then names the configured caller)."""
        if not email or "^" in email:  # "^" joins encoded query terms; an address never has one
            return None
        records = self._result(self._json("GET", "/api/now/table/sys_user", params={
            "sysparm_query": f"email={email}", "sysparm_fields": "sys_id,email", "sysparm_limit": 1}))
        for record in records if isinstance(records, list) else []:
            if isinstance(record, dict) and record.get("sys_id"):
                return str(record["sys_id"])
        return None

    def find_incident(self, report_id: uuid.UUID) -> dict[str, Any] | None:
        """The incident an earlier attempt made of report ``report_id``, or None."""
        records = self._result(self._json("GET", f"/api/now/table/{TABLE}", params={
            "sysparm_query": f"correlation_id={report_id}^ORDERBYsys_created_on",
            "sysparm_fields": "sys_id,number,state,correlation_id", "sysparm_limit": 1}))
        for record in records if isinstance(records, list) else []:
            if isinstance(record, dict) and record.get("correlation_id") == str(report_id) and record.get("sys_id"):
                return record
        return None

    def _attachment_names(self, sys_id: str) -> set[str]:
        return {str(a.get("file_name")) for a in self._attachments(sys_id)}

    def _attachments(self, sys_id: str) -> list[dict[str, Any]]:
        records = self._result(self._json("GET", "/api/now/attachment", params={
            "sysparm_query": f"table_name={TABLE}^table_sys_id={sys_id}",
            "sysparm_fields": "sys_id,file_name,size_bytes,content_type"}))
        return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []

    # ------------------------------------------------------------ read side
    def whoami(self) -> Caller:
        """The integration user's name (basic auth); with an OAuth token, a read proves it and the name is ""."""
        if not self.user:
            self._json("GET", f"/api/now/table/{TABLE}", params={"sysparm_limit": 1, "sysparm_fields": "sys_id"})
            return Caller(name="", role="technician", site=None)
        records = self._result(self._json("GET", "/api/now/table/sys_user", params={
            "sysparm_query": f"user_name={self.user}", "sysparm_fields": "name,user_name", "sysparm_limit": 1}))
        found = records[0] if isinstance(records, list) and records and isinstance(records[0], dict) else {}
        return Caller(name=str(found.get("name") or self.user), role="technician", site=None)

    def list_tickets(
        self,
        *,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        filters: TicketFilter | None = None,
    ) -> TicketPage:
        status = self._status_only(status, filters)
        offset = int(cursor) if cursor and cursor.isdigit() else 0
        size = max(1, min(limit, MAX_PAGE_SIZE))
        query = f"correlation_display={SOURCE_MARK}"
        if status is not None:
            query += f"^state={self.statuses.get(status, status)}"
        records = self._result(self._json("GET", f"/api/now/table/{TABLE}", params={
            "sysparm_query": f"{query}^ORDERBYDESCsys_created_on", "sysparm_fields": LIST_FIELDS,
            "sysparm_limit": size, "sysparm_offset": offset}))
        rows = [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []
        tickets = [self._ticket(r) for r in rows]
        return TicketPage(
            tickets=tickets,
            next_cursor=str(offset + len(rows)) if len(rows) >= size else None,
            raw=[{**r, **_summary(r, t)} for r, t in zip(rows, tickets, strict=True)],
        )

    def _incident(self, sys_id: str) -> dict[str, Any]:
        record = self._result(self._json("GET", f"/api/now/table/{TABLE}/{_segment(sys_id)}"))
        if not isinstance(record, dict):
            raise PermanentError(f"{self.system} sent an incident ShowDesk cannot read", system=self.system)
        return record

    def _download(self, attachment: Mapping[str, Any]) -> bytes:
        response = self.http.request("GET", f"/api/now/attachment/{_segment(str(attachment.get('sys_id')))}/file",
                                     headers={**self._headers(), "Accept": "*/*"})
        return response.content

    def _manifest(self, files: list[dict[str, Any]]) -> Report | None:
        manifest = next((a for a in files if str(a.get("file_name", "")).startswith(MANIFEST_NAME_PREFIX)), None)
        if manifest is None:
            return None
        try:
            return Report.model_validate_json(self._download(manifest))
        except ValidationError:
            return None

    def get_ticket(self, ticket_id: str) -> TicketDetail:
        record = self._incident(ticket_id)
        files = self._attachments(ticket_id)
        report = self._manifest(files)
        journal = self._result(self._json("GET", "/api/now/table/sys_journal_field", params={
            "sysparm_query": f"element_id={ticket_id}^elementINwork_notes,comments^ORDERBYsys_created_on",
            "sysparm_fields": "element,value,sys_created_on,sys_created_by"}))
        timeline: list[dict[str, Any]] = [{
            "seq": 1, "kind": "created", "at": record.get("sys_created_on"), "actor": "", "internal": False,
            "data": {"files": [a.get("file_name") for a in files]}}]
        for entry in journal if isinstance(journal, list) else []:
            if isinstance(entry, dict):
                internal = entry.get("element") == "work_notes"
                timeline.append({"seq": len(timeline) + 1, "kind": "note" if internal else "reply",
                                 "at": entry.get("sys_created_on"), "actor": str(entry.get("sys_created_by") or ""),
                                 "internal": internal, "data": {"text": str(entry.get("value") or "")}})
        ticket = self._ticket(record, report.id if report is not None else None)
        return TicketDetail(ticket=ticket, report=report, timeline=timeline,
                            raw={**record, **_summary(record, ticket), "attachments": files})

    def attachment(self, ticket_id: str, path: str) -> bytes:
        files = self._attachments(ticket_id)
        report = self._manifest(files)
        if path == MANIFEST_PATH:
            wanted = next((a for a in files if str(a.get("file_name", "")).startswith(MANIFEST_NAME_PREFIX)), None)
        else:
            name = attachment_name(path, report.id if report is not None else None)
            wanted = next((a for a in files if a.get("file_name") == name), None)
        if wanted is None:
            raise PermanentError(f"incident {ticket_id} on {self.system} has no file {path}", system=self.system,
                                 status=404)
        data = self._download(wanted)
        expected = next((r for r in report.files() if r.path == path), None) if report is not None else None
        if expected is not None and sha256_hex(data) != expected.sha256:
            raise PermanentError(f"{path} on incident {ticket_id} is not the file that was sent", system=self.system)
        return data

    def set_status(self, ticket_id: str, status: str) -> Ticket:
        native = self.statuses.get(status, status)
        change: dict[str, Any] = {"state": native}
        if native == STATE_RESOLVED:  # the default incident form makes both mandatory when resolving
            change.update(close_code=self.close_code, close_notes=self.close_notes)
        elif native == STATE_ON_HOLD:
            change["hold_reason"] = HOLD_AWAITING_CALLER
        record = self._result(self._json("PATCH", f"/api/now/table/{TABLE}/{_segment(ticket_id)}", json=change))
        if not isinstance(record, dict):
            raise PermanentError(f"{self.system} sent an incident ShowDesk cannot read", system=self.system)
        return self._ticket(record)

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> None:
        """A work note (technicians only) or an additional comment (the caller sees it)."""
        self._json("PATCH", f"/api/now/table/{TABLE}/{_segment(ticket_id)}",
                   json={"work_notes" if internal else "comments": text})


def _summary(record: Mapping[str, Any], ticket: Ticket) -> dict[str, Any]:
    """The built-in server's summary keys for an incident, for lists that do not know ServiceNow."""
    return {"id": ticket.id, "number": ticket.number, "status": ticket.status, "url": ticket.url,
            "subject": record.get("short_description"), "created_at": record.get("sys_created_on"),
            "updated_at": record.get("sys_updated_on")}


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _segment(value: str) -> str:
    return quote(value, safe="")


def _servicenow_reason(response: requests.Response) -> str:
    """ServiceNow's refusal: ``{"error": {"message": …, "detail": …}, "status": "failure"}``."""
    try:
        data = response.json()
    except ValueError:
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return ""
    parts = [str(error.get(k)) for k in ("message", "detail") if error.get(k)]
    return ": ".join(parts)[:MAX_REASON_CHARS]


def create(backend: BackendConfig, *, role: str = "submitter") -> ServiceNowConnector:
    """The registry's entry point; the password or access token comes from ``token_for`` at each call."""
    from agent.credentials import token_for

    options = Options(backend)
    if not backend.url:
        raise ConfigError(f"{options.where} needs url = \"https://example.service-now.com\"")
    urgencies = options.table("urgencies")
    if any(value not in ("1", "2", "3") for value in urgencies.values()):
        raise ConfigError(f"{options.where} urgencies take ServiceNow's values 1 (high), 2 (medium) or 3 (low)")
    return ServiceNowConnector(
        backend.url,
        token=lambda: token_for(backend, role),
        user=options.text("user"),
        statuses=options.table("statuses"),
        close_code=options.text("close_code", "Solved (Permanently)") or "Solved (Permanently)",
        close_notes=options.text("close_notes", "Resolved with ShowDesk.") or "Resolved with ShowDesk.",
        categories=options.table("categories"),
        urgencies=urgencies,
        assignment_group=options.text("assignment_group"),
        caller=options.text("caller"),
        max_attachment_size=options.size("max_attachment_size", SERVICENOW_MAX_ATTACHMENT_BYTES),
        requester_portal=options.text("requester_portal", DEFAULT_REQUESTER_PORTAL) or DEFAULT_REQUESTER_PORTAL,
        ca_bundle=backend.ca_bundle,
        connect_timeout=backend.connect_timeout,
        read_timeout=backend.read_timeout,
        proxy=backend.proxy,
    )


__all__ = ["ServiceNowConnector", "create"]
