"""The connector for Zendesk Support: uploads, then a ticket whose first comment carries them.
Contract-tested, not run against a live Zendesk.

Write: each file goes up alone (``POST /api/v2/uploads?filename=…``, the raw bytes with their
content type); the first answer's upload token is passed to the following uploads (``&token=…``)
so they all join one upload, as Zendesk documents for several files. Then ``POST /api/v2/tickets``
with the subject, the requester (name and e-mail: Zendesk finds or makes the end user), the
``external_id`` = the report id, the tag ``showdesk``, a mapped priority where configured, and the
first comment: the readable body as HTML, public, with ``uploads: [token]``.

Authentication: with ``email`` set, an API token as HTTP basic ``{email}/token:{api_token}``;
without, an OAuth access token as ``Authorization: Bearer``.

Idempotency: ``GET /api/v2/tickets?external_id=<report id>`` before every create (a database
lookup, not the search index). Uploads whose answer was lost are left unattached; Zendesk
deletes them when their token expires (60 minutes).

Size: Zendesk takes files up to 50 MB each (``max_attachment_size``).
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
from agent.connectors.body import render
from agent.connectors.common import Options, attachment_name, manifest_name
from agent.connectors.fitting import ZENDESK_MAX_ATTACHMENT_BYTES, FitResult, Limits, submit_fitted
from agent.connectors.httpclient import BasicAuthorization, HttpClient, HttpConnector
from agent.connectors.urgency import mapped
from agent.schema import Ticket

if TYPE_CHECKING:
    from agent.config import BackendConfig

PRIORITIES: Final = ("urgent", "high", "normal", "low")
TAG: Final = "showdesk"


class ZendeskConnector(HttpConnector):
    """Client of Zendesk Support's REST API (``/api/v2``)."""

    capabilities = frozenset({Capability.SUBMIT, Capability.IDEMPOTENT, Capability.PROGRESS})

    def __init__(
        self,
        url: str,
        *,
        token: TokenSource,
        email: str | None = None,
        requester_email: str | None = None,
        priorities: Mapping[str, str] | None = None,
        group_id: int | None = None,
        max_attachment_size: int | None = ZENDESK_MAX_ATTACHMENT_BYTES,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        proxy: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.email = email
        self.requester_email = requester_email
        self.priorities = dict(priorities or {})
        self.group_id = group_id
        self._basic = BasicAuthorization()
        self.http = HttpClient(self.url, system=self.system, kind="zendesk", ca_bundle=ca_bundle,
                               connect_timeout=connect_timeout, read_timeout=read_timeout, proxy=proxy,
                               classify=self._classify)
        self.limits = Limits(
            system=self.system,
            max_file_bytes=max_attachment_size,
            file_limit_name="Zendesk's attachment limit (max_attachment_size)",
        )

    @property
    def system(self) -> str:
        return f"Zendesk at {self.url}"

    # ------------------------------------------------------------ plumbing
    def _classify(self, response: requests.Response, reason: str) -> ConnectorError | None:
        reason = _zendesk_reason(response) or reason
        status = response.status_code
        if status in (401, 403):
            if self.email:
                fix = (f"check email = \"{self.email}\" in the backend's settings, store an API token of that agent "
                       f"with `showdesk login {self.url}`, and check that token access is enabled (Admin Center → "
                       "Apps and integrations → Zendesk API)")
            else:
                fix = (f"store a valid OAuth access token with `showdesk login {self.url}` "
                       "(or set email for an API token)")
            return AuthError(f"{self.system} refused the credentials ({status})" + (f": {reason}" if reason else "")
                             + f"; {fix}", system=self.system, status=status)
        return error_for_status(status, system=self.system, reason=reason,
                                retry_after=parse_retry_after(response.headers.get("Retry-After")))

    def _headers(self) -> dict[str, str]:
        secret = secret_from(self._token, system=self.system, what="API token" if self.email else "access token")
        if self.email:
            return {"Authorization": self._basic.value(f"{self.email}/token", secret)}
        return {"Authorization": f"Bearer {secret}"}

    def _ticket(self, record: Mapping[str, Any], report_id: uuid.UUID) -> Ticket:
        ticket_id = str(record.get("id", ""))
        if not ticket_id:
            raise PermanentError(f"{self.system} sent a ticket without an id", system=self.system)
        # The link goes to the person who reported (kiosk QR code, "Open it"), so it is the Help Center's
        # request page, where end users see their own requests, not the agents' workspace
        # (https://developer.zendesk.com/api-reference/help_center/help-center-templates/request_page/;
        # without a locale the Help Center picks the person's or the default one).
        return Ticket(id=ticket_id, number=f"#{ticket_id}", status="new",
                      url=f"{self.url}/hc/requests/{ticket_id}", report_id=report_id)

    # ------------------------------------------------------------ submit
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        existing = self.find_ticket(bundle.report.id)
        if existing is not None:
            return self._ticket(existing, bundle.report.id)
        return submit_fitted(bundle, self.limits, lambda fitted: self._create(fitted, progress))

    def _create(self, fitted: FitResult, progress: ProgressCallback | None) -> Ticket:
        bundle = fitted.bundle
        report = bundle.report
        files = [(attachment_name(ref.path, report.id), ref.media_type, bundle.files[ref.path])
                 for ref in report.files()]
        files.append((manifest_name(report.id), "application/json", fitted.manifest_bytes()))
        total = sum(len(data) for _n, _m, data in files)
        token: str | None = None
        sent = 0
        for name, media_type, data in files:
            params = {"filename": name, **({"token": token} if token else {})}
            answer = self._json("POST", "/api/v2/uploads", params=params, data=data,
                                headers={"Content-Type": media_type})
            upload = answer.get("upload") if isinstance(answer, dict) else None
            given = upload.get("token") if isinstance(upload, dict) else None
            if not isinstance(given, str) or not given:
                raise PermanentError(f"{self.system} kept {name} but answered no upload token", system=self.system)
            token = token or given
            sent += len(data)
            if progress is not None:
                progress(sent, total)
        body = render(bundle, notes=fitted.notes)
        ticket: dict[str, Any] = {
            "subject": report.subject(),
            "comment": {"html_body": body.html, "public": True,
                        "uploads": [token] if token else []},
            "external_id": str(report.id),
            "tags": [TAG],
        }
        requester = report.reporter.email or self.requester_email
        if requester:
            ticket["requester"] = {"email": requester, "name": report.reporter.name or requester}
        priority = mapped(body.system, self.priorities)
        if priority:
            ticket["priority"] = priority
        if self.group_id is not None:
            ticket["group_id"] = self.group_id
        answer = self._json("POST", "/api/v2/tickets", json={"ticket": ticket})
        record = answer.get("ticket") if isinstance(answer, dict) else None
        if not isinstance(record, dict):
            raise PermanentError(f"{self.system} accepted the report but sent no ticket", system=self.system)
        return self._ticket(record, report.id)

    def find_ticket(self, report_id: uuid.UUID) -> dict[str, Any] | None:
        """The ticket an earlier attempt made of report ``report_id`` (by ``external_id``), or None."""
        answer = self._json("GET", "/api/v2/tickets", params={"external_id": str(report_id)})
        tickets = answer.get("tickets") if isinstance(answer, dict) else None
        found = [t for t in tickets or [] if isinstance(t, dict) and t.get("external_id") == str(report_id)]
        return min(found, key=lambda t: int(t.get("id") or 0)) if found else None


def _zendesk_reason(response: requests.Response) -> str:
    """Zendesk's refusal: ``{"error": …, "description": …, "details": {field: [{"description"}]}}``."""
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    parts = [error.get("title", "") if isinstance(error, dict) else str(error or "")]
    parts.append(str(data.get("description") or (error.get("message", "") if isinstance(error, dict) else "")))
    details = data.get("details")
    if isinstance(details, dict):
        parts += [f"{field}: {item.get('description', '')}" for field, items in details.items()
                  if isinstance(items, list) for item in items if isinstance(item, dict)]
    return "; ".join(p for p in parts if p)[:MAX_REASON_CHARS]


def create(backend: BackendConfig, *, role: str = "submitter") -> ZendeskConnector:
    """The registry's entry point; the API token or access token comes from ``token_for`` at each call."""
    from agent.credentials import token_for

    options = Options(backend)
    if not backend.url:
        raise ConfigError(f"{options.where} needs url = \"https://example.zendesk.com\"")
    priorities = options.table("priorities")
    wrong = sorted(set(priorities.values()) - set(PRIORITIES))
    if wrong:
        raise ConfigError(f"{options.where} priorities take Zendesk's {', '.join(PRIORITIES)}, not {wrong[0]!r}")
    group = backend.options.get("group_id")
    if group is not None and not str(group).isdigit():
        raise ConfigError(f"{options.where} group_id takes Zendesk's numeric group id")
    return ZendeskConnector(
        backend.url,
        token=lambda: token_for(backend, role),
        email=options.text("email"),
        requester_email=options.text("requester_email"),
        priorities=priorities,
        group_id=int(str(group)) if group is not None else None,
        max_attachment_size=options.size("max_attachment_size", ZENDESK_MAX_ATTACHMENT_BYTES),
        ca_bundle=backend.ca_bundle,
        connect_timeout=backend.connect_timeout,
        read_timeout=backend.read_timeout,
        proxy=backend.proxy,
    )


__all__ = ["ZendeskConnector", "create"]
