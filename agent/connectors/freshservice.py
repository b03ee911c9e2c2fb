"""The connector for Freshservice: one multipart request makes the ticket with every file attached.
Contract-tested, not run against a live Freshservice.

Write: ``POST /api/v2/tickets`` as multipart/form-data: the requester's ``email`` (Freshservice
finds or makes the requester), ``subject``, ``description`` (the readable body as HTML),
``status`` 2 (open), ``priority`` (1 low … 4 urgent, mapped from the report's most severe flag),
``source`` 2 (portal), ``tags[]`` ``showdesk``, the report id in a custom field when configured
(``custom_fields[<name>]``), and every file as an ``attachments[]`` part.

Authentication: the agent's API key as HTTP basic ``<api key>:X``.

Idempotency, two ways:

* ``report_id_field`` (recommended): a ticket custom field (single-line text, name as the API
  shows it, e.g. ``showdesk_report_id``) holds the report id, and a filter query
  (``GET /api/v2/tickets/filter?query="<field>:'<id>'"``) runs before every create.
* without it: the requester's recent tickets (``GET /api/v2/tickets?email=…``, newest first, the
  last 30 days, as Freshservice lists them) are read and a ticket whose description holds the
  report's marker line counts as the earlier attempt.

Size: Freshservice documents at most 40 MB for all of a ticket's attachments together
(``max_request_size``); the files go as they are (no base64), so the request is fitted to that.
"""

from __future__ import annotations

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
    ConnectorError,
    PermanentError,
    ProgressCallback,
    TokenSource,
    error_for_status,
    parse_retry_after,
    secret_from,
)
from agent.connectors.body import marker_line, render
from agent.connectors.common import Options, attachment_name, manifest_name
from agent.connectors.fitting import FRESHSERVICE_MAX_ATTACHMENTS_BYTES, FitResult, Limits, submit_fitted
from agent.connectors.httpclient import BasicAuthorization, HttpClient, HttpConnector, MultipartForm, Part
from agent.connectors.urgency import mapped
from agent.schema import Report, Ticket

if TYPE_CHECKING:
    from agent.config import BackendConfig

STATUS_OPEN: Final = "2"
SOURCE_PORTAL: Final = "2"
DEFAULT_PRIORITIES: Final = {"critical": "3", "warning": "2", "default": "1"}  # 1 low, 2 medium, 3 high, 4 urgent
TAG: Final = "showdesk"
RECENT_TICKETS: Final = 100


class FreshserviceConnector(HttpConnector):
    """Client of Freshservice's REST API v2."""

    capabilities = frozenset({Capability.SUBMIT, Capability.IDEMPOTENT, Capability.PROGRESS})

    def __init__(
        self,
        url: str,
        *,
        token: TokenSource,
        requester_email: str | None = None,
        report_id_field: str | None = None,
        priorities: Mapping[str, str] | None = None,
        group_id: int | None = None,
        category: str | None = None,
        max_request_size: int | None = FRESHSERVICE_MAX_ATTACHMENTS_BYTES,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        proxy: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.requester_email = requester_email
        self.report_id_field = report_id_field
        self.priorities = {**DEFAULT_PRIORITIES, **(priorities or {})}
        self.group_id = group_id
        self.category = category
        self._basic = BasicAuthorization()
        self.http = HttpClient(self.url, system=self.system, kind="freshservice", ca_bundle=ca_bundle,
                               connect_timeout=connect_timeout, read_timeout=read_timeout, proxy=proxy,
                               classify=self._classify)
        self.limits = Limits(
            system=self.system,
            max_request_bytes=max_request_size,
            request_limit_name="Freshservice's limit for a ticket's attachments together (max_request_size)",
        )

    @property
    def system(self) -> str:
        return f"Freshservice at {self.url}"

    # ------------------------------------------------------------ plumbing
    def _classify(self, response: requests.Response, reason: str) -> ConnectorError | None:
        reason = _freshservice_reason(response) or reason
        status = response.status_code
        if status in (401, 403):
            return AuthError(
                f"{self.system} refused the API key ({status})" + (f": {reason}" if reason else "")
                + f"; store the API key from the agent's profile settings with `showdesk login {self.url}`"
                + (" and check that the agent may create tickets" if status == 403 else ""),
                system=self.system, status=status)
        return error_for_status(status, system=self.system, reason=reason,
                                retry_after=parse_retry_after(response.headers.get("Retry-After")))

    def _headers(self) -> dict[str, str]:
        key = secret_from(self._token, system=self.system, what="API key")
        return {"Authorization": self._basic.value(key, "X")}

    def _ticket(self, record: Mapping[str, Any], report_id: uuid.UUID) -> Ticket:
        ticket_id = str(record.get("id", ""))
        if not ticket_id:
            raise PermanentError(f"{self.system} sent a ticket without an id", system=self.system)
        # The link goes to the person who reported, so it is the self-service portal's ticket page that
        # requesters log in to, not the agents' ``/a/`` interface
        # (https://support.freshservice.com/en/support/solutions/articles/232990-general-settings).
        return Ticket(id=ticket_id, number=f"#SR-{ticket_id}" if record.get("type") == "Service Request"
                      else f"#INC-{ticket_id}", status="new", url=f"{self.url}/support/tickets/{ticket_id}",
                      report_id=report_id)

    # ------------------------------------------------------------ submit
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        requester = bundle.report.reporter.email or self.requester_email
        if not requester:
            raise PermanentError(f"{self.system} needs a requester e-mail: the report has none and the backend sets "
                                 "no requester_email", system=self.system)
        existing = self.find_ticket(bundle.report, requester)
        if existing is not None:
            return self._ticket(existing, bundle.report.id)
        return submit_fitted(bundle, self.limits, lambda fitted: self._create(fitted, requester, progress))

    def _create(self, fitted: FitResult, requester: str, progress: ProgressCallback | None) -> Ticket:
        bundle = fitted.bundle
        report = bundle.report
        body = render(bundle, notes=fitted.notes)
        fields = [
            ("email", requester),
            ("subject", report.subject()),
            ("description", body.html),
            ("status", STATUS_OPEN),
            ("priority", mapped(body.system, self.priorities, "1") or "1"),
            ("source", SOURCE_PORTAL),
            ("tags[]", TAG),
        ]
        if self.report_id_field:
            fields.append((f"custom_fields[{self.report_id_field}]", str(report.id)))
        if self.group_id is not None:
            fields.append(("group_id", str(self.group_id)))
        if self.category:
            fields.append(("category", self.category))
        parts = [Part(name, value.encode()) for name, value in fields]
        parts += [Part("attachments[]", bundle.files[ref.path], filename=attachment_name(ref.path, report.id),
                       content_type=ref.media_type) for ref in report.files()]
        parts.append(Part("attachments[]", bundle.manifest_json(), filename=manifest_name(report.id),
                          content_type="application/json"))
        form = MultipartForm(parts, progress)
        answer = self._json("POST", "/api/v2/tickets", data=form, headers={"Content-Type": form.content_type})
        record = answer.get("ticket") if isinstance(answer, dict) else None
        if not isinstance(record, dict):
            raise PermanentError(f"{self.system} accepted the report but sent no ticket", system=self.system)
        return self._ticket(record, report.id)

    def find_ticket(self, report: Report, requester: str) -> dict[str, Any] | None:
        """The ticket an earlier attempt made of ``report``, or None."""
        if self.report_id_field:
            answer = self._json("GET", "/api/v2/tickets/filter",
                                params={"query": f"\"{self.report_id_field}:'{report.id}'\""})
            tickets = answer.get("tickets") if isinstance(answer, dict) else None
            found = [t for t in tickets or [] if isinstance(t, dict)
                     and str((t.get("custom_fields") or {}).get(self.report_id_field)) == str(report.id)]
        else:
            answer = self._json("GET", "/api/v2/tickets", params={
                "email": requester, "order_type": "desc", "per_page": RECENT_TICKETS})
            tickets = answer.get("tickets") if isinstance(answer, dict) else None
            line = marker_line(report)
            found = [t for t in tickets or [] if isinstance(t, dict)
                     and line in str(t.get("description_text") or t.get("description") or "")]
        return min(found, key=lambda t: int(t.get("id") or 0)) if found else None


def _freshservice_reason(response: requests.Response) -> str:
    """Freshservice's refusal: ``{"description": …, "errors": [{"field", "message"}]}`` or ``{"message": …}``."""
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    parts = [str(data.get("description") or data.get("message") or "")]
    parts += [f"{e.get('field')}: {e.get('message')}" for e in data.get("errors") or [] if isinstance(e, dict)]
    return "; ".join(p for p in parts if p)[:MAX_REASON_CHARS]


def create(backend: BackendConfig, *, role: str = "submitter") -> FreshserviceConnector:
    """The registry's entry point; the API key comes from ``token_for`` at each call."""
    from agent.credentials import token_for

    options = Options(backend)
    if not backend.url:
        raise ConfigError(f"{options.where} needs url = \"https://example.freshservice.com\"")
    priorities = options.table("priorities")
    if any(value not in ("1", "2", "3", "4") for value in priorities.values()):
        raise ConfigError(f"{options.where} priorities take Freshservice's 1 (low), 2 (medium), 3 (high), 4 (urgent)")
    group = backend.options.get("group_id")
    if group is not None and not str(group).isdigit():
        raise ConfigError(f"{options.where} group_id takes Freshservice's numeric group id")
    return FreshserviceConnector(
        backend.url,
        token=lambda: token_for(backend, role),
        requester_email=options.text("requester_email"),
        report_id_field=options.text("report_id_field"),
        priorities=priorities,
        group_id=int(str(group)) if group is not None else None,
        category=options.text("category"),
        max_request_size=options.size("max_request_size", FRESHSERVICE_MAX_ATTACHMENTS_BYTES),
        ca_bundle=backend.ca_bundle,
        connect_timeout=backend.connect_timeout,
        read_timeout=backend.read_timeout,
        proxy=backend.proxy,
    )


__all__ = ["FreshserviceConnector", "create"]
