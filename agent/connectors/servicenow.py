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
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import requests

from agent.bundle import ReportBundle
from agent.config import ConfigError
from agent.connectors.base import (
    MAX_REASON_CHARS,
    AuthError,
    Capability,
    Connector,
    ConnectorError,
    PermanentError,
    ProgressCallback,
    TokenSource,
    error_for_status,
    parse_retry_after,
    secret_from,
)
from agent.connectors.body import render
from agent.connectors.common import Options, attachment_name, manifest_name
from agent.connectors.fitting import SERVICENOW_MAX_ATTACHMENT_BYTES, FitResult, Limits, submit_fitted
from agent.connectors.httpclient import HttpClient
from agent.connectors.urgency import mapped
from agent.schema import Ticket

if TYPE_CHECKING:
    from agent.config import BackendConfig

TABLE: Final = "incident"
DEFAULT_URGENCIES: Final = {"critical": "1", "warning": "2", "default": "3"}


class ServiceNowConnector(Connector):
    """Client of a ServiceNow instance's Table and Attachment APIs."""

    capabilities = frozenset({Capability.SUBMIT, Capability.IDEMPOTENT, Capability.PROGRESS})

    def __init__(
        self,
        url: str,
        *,
        token: TokenSource,
        user: str | None = None,
        categories: Mapping[str, str] | None = None,
        urgencies: Mapping[str, str] | None = None,
        assignment_group: str | None = None,
        caller: str | None = None,
        max_attachment_size: int | None = SERVICENOW_MAX_ATTACHMENT_BYTES,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        proxy: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.user = user
        self.categories = dict(categories or {})
        self.urgencies = {**DEFAULT_URGENCIES, **(urgencies or {})}
        self.assignment_group = assignment_group
        self.caller = caller
        self.http = HttpClient(self.url, system=self.system, kind="servicenow", ca_bundle=ca_bundle,
                               connect_timeout=connect_timeout, read_timeout=read_timeout, proxy=proxy,
                               classify=self._classify)
        self.limits = Limits(
            system=self.system,
            max_file_bytes=max_attachment_size,
            file_limit_name="the instance's com.glide.attachment.max_size (max_attachment_size)",
        )

    @property
    def system(self) -> str:
        return f"ServiceNow at {self.url}"

    def close(self) -> None:
        self.http.close()

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
            return {"Authorization": "Basic " + base64.b64encode(f"{self.user}:{secret}".encode()).decode("ascii")}
        return {"Authorization": f"Bearer {secret}"}

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        return self.http.json(method, path, headers=headers, **kwargs)

    def _result(self, answer: Any) -> Any:
        if not isinstance(answer, dict) or "result" not in answer:
            raise PermanentError(f"{self.system} sent an answer without a result", system=self.system)
        return answer["result"]

    def _ticket(self, record: Mapping[str, Any], report_id: uuid.UUID) -> Ticket:
        sys_id = str(record.get("sys_id", ""))
        if not sys_id:
            raise PermanentError(f"{self.system} sent an incident without a sys_id", system=self.system)
        return Ticket(id=sys_id, number=str(record.get("number") or sys_id), status="new",
                      url=f"{self.url}/nav_to.do?uri={TABLE}.do%3Fsys_id%3D{sys_id}", report_id=report_id)

    # ------------------------------------------------------------ submit
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        return submit_fitted(bundle, self.limits, lambda fitted: self._send(fitted, progress))

    def _send(self, fitted: FitResult, progress: ProgressCallback | None) -> Ticket:
        bundle = fitted.bundle
        report = bundle.report
        files = [(attachment_name(ref.path, report.id), ref.media_type, bundle.files[ref.path])
                 for ref in report.files()]
        files.append((manifest_name(report.id), "application/json", report.canonical_json()))
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
        incident: dict[str, Any] = {
            "short_description": report.subject()[:160],
            "description": render(fitted.bundle, notes=fitted.notes).text,
            "correlation_id": str(report.id),
            "correlation_display": "ShowDesk",
            "contact_type": "self-service",
            "urgency": mapped(fitted.bundle, self.urgencies, "3"),
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
        records = self._result(self._json("GET", "/api/now/attachment", params={
            "sysparm_query": f"table_name={TABLE}^table_sys_id={sys_id}", "sysparm_fields": "file_name"}))
        return {str(r.get("file_name")) for r in records if isinstance(r, dict)} if isinstance(records, list) else set()


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
        categories=options.table("categories"),
        urgencies=urgencies,
        assignment_group=options.text("assignment_group"),
        caller=options.text("caller"),
        max_attachment_size=options.size("max_attachment_size", SERVICENOW_MAX_ATTACHMENT_BYTES),
        ca_bundle=backend.ca_bundle,
        connect_timeout=backend.connect_timeout,
        read_timeout=backend.read_timeout,
        proxy=backend.proxy,
    )


__all__ = ["ServiceNowConnector", "create"]
