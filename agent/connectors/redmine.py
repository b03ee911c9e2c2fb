"""The connector for Redmine through its REST API. Tested live against Debian's Redmine 5.0.

Write: each file goes up alone (``POST /uploads.json?filename=…``, the raw bytes as
``application/octet-stream``), which answers a token; then ``POST /issues.json`` makes the issue
with the readable body as its description and every token in ``uploads`` (filename and content
type each). Authentication: the user's API key in ``X-Redmine-API-Key`` (the REST API must be
enabled in Administration → Settings → API).

Idempotency: with ``report_id_field`` (the id of an issue custom field of format text that is
"used as a filter") the report id is stored there and looked up before every create
(``GET /issues.json?cf_<id>=<report id>&status_id=*``), straight from the database. Without it
the search API looks for the report id in the descriptions (``GET /search.json``), equally
immediate but across every project the key can see; the hit is checked by its marker line.

Size: Redmine refuses a file over ``attachment_max_size`` (5120 KB by default) with 422 and
"exceeds the maximum allowed file size"; ``max_attachment_size`` says what the site allows.
An upload whose answer was lost leaves an unattached file Redmine deletes after a day.
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
    TooLargeError,
    error_for_status,
    parse_retry_after,
    secret_from,
)
from agent.connectors.body import marker_line, render
from agent.connectors.common import Options, attachment_name, manifest_name
from agent.connectors.fitting import REDMINE_MAX_ATTACHMENT_BYTES, FitResult, Limits, submit_fitted
from agent.connectors.httpclient import HttpClient, HttpConnector
from agent.connectors.urgency import mapped
from agent.schema import Report, Ticket

if TYPE_CHECKING:
    from agent.config import BackendConfig

TOO_LARGE_WORDS: Final = "exceeds the maximum allowed file size"
MAX_SEARCH_RESULTS: Final = 10


class RedmineConnector(HttpConnector):
    """Client of Redmine's REST API for one project."""

    capabilities = frozenset({Capability.SUBMIT, Capability.IDEMPOTENT, Capability.PROGRESS})

    def __init__(
        self,
        url: str,
        *,
        project: str,
        token: TokenSource,
        tracker_id: int | None = None,
        report_id_field: int | None = None,
        priorities: Mapping[str, str] | None = None,
        max_attachment_size: int | None = REDMINE_MAX_ATTACHMENT_BYTES,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        proxy: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.project = project
        self._token = token
        self.tracker_id = tracker_id
        self.report_id_field = report_id_field
        self.priorities = dict(priorities or {})
        self.http = HttpClient(self.url, system=self.system, kind="redmine", ca_bundle=ca_bundle,
                               connect_timeout=connect_timeout, read_timeout=read_timeout, proxy=proxy,
                               classify=self._classify)
        self.limits = Limits(
            system=self.system,
            max_file_bytes=max_attachment_size,
            file_limit_name="Redmine's attachment_max_size setting (max_attachment_size)",
        )

    @property
    def system(self) -> str:
        return f"Redmine at {self.url}"

    # ------------------------------------------------------------ plumbing
    def _classify(self, response: requests.Response, reason: str) -> ConnectorError | None:
        reason = _redmine_reason(response) or reason
        status = response.status_code
        if status in (401, 403):
            return AuthError(
                f"{self.system} refused the API key ({status}); store the key from your Redmine account page "
                f"(My account → API access key) with `showdesk login {self.url}`, and check that the REST API is "
                "enabled (Administration → Settings → API)" + (f" and that the key's user may add issues to "
                f"project {self.project}" if status == 403 else ""),
                system=self.system, status=status,
            )
        if status == 422 and TOO_LARGE_WORDS in reason:
            return TooLargeError(f"{self.system} refused a file as too large: {reason}", system=self.system,
                                 status=status)
        return error_for_status(status, system=self.system, reason=reason,
                                retry_after=parse_retry_after(response.headers.get("Retry-After")))

    def _headers(self) -> dict[str, str]:
        return {"X-Redmine-API-Key": secret_from(self._token, system=self.system, what="API key")}

    def _ticket(self, issue_id: str, report_id: uuid.UUID) -> Ticket:
        return Ticket(id=issue_id, number=f"#{issue_id}", status="new", url=f"{self.url}/issues/{issue_id}",
                      report_id=report_id)

    # ------------------------------------------------------------ submit
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        existing = self.find_issue(bundle.report)
        if existing is not None:
            return self._ticket(existing, bundle.report.id)
        return submit_fitted(bundle, self.limits, lambda fitted: self._create(fitted, progress))

    def _create(self, fitted: FitResult, progress: ProgressCallback | None) -> Ticket:
        bundle = fitted.bundle
        report = bundle.report
        files = [(attachment_name(ref.path, report.id), ref.media_type, bundle.files[ref.path])
                 for ref in report.files()]
        files.append((manifest_name(report.id), "application/json", bundle.manifest_json()))
        total = sum(len(data) for _n, _m, data in files)
        sent = 0
        uploads = []
        for name, media_type, data in files:
            answer = self._json("POST", "/uploads.json", params={"filename": name}, data=data,
                                headers={"Content-Type": "application/octet-stream"})
            upload = answer.get("upload") if isinstance(answer, dict) else None
            token = upload.get("token") if isinstance(upload, dict) else None
            if not isinstance(token, str) or not token:
                raise PermanentError(f"{self.system} kept {name} but answered no upload token", system=self.system)
            uploads.append({"token": token, "filename": name, "content_type": media_type})
            sent += len(data)
            if progress is not None:
                progress(sent, total)
        body = render(bundle, notes=fitted.notes)
        issue: dict[str, Any] = {
            "project_id": self.project,
            "subject": report.subject()[:255],
            "description": body.text,
            "uploads": uploads,
        }
        if self.tracker_id is not None:
            issue["tracker_id"] = self.tracker_id
        priority = mapped(body.system, self.priorities)
        if priority is not None:
            issue["priority_id"] = int(priority)
        if self.report_id_field is not None:
            issue["custom_fields"] = [{"id": self.report_id_field, "value": str(report.id)}]
        answer = self._json("POST", "/issues.json", json={"issue": issue})
        created = answer.get("issue") if isinstance(answer, dict) else None
        if not isinstance(created, dict) or not created.get("id"):
            raise PermanentError(f"{self.system} accepted the report but named no issue", system=self.system)
        return self._ticket(str(created["id"]), report.id)

    def find_issue(self, report: Report) -> str | None:
        """The id of the issue an earlier attempt made of ``report``, or None."""
        if self.report_id_field is not None:
            answer = self._json("GET", "/issues.json", params={
                "project_id": self.project, "status_id": "*", f"cf_{self.report_id_field}": str(report.id),
                "sort": "id", "limit": MAX_SEARCH_RESULTS,
            })
            issues = answer.get("issues") if isinstance(answer, dict) else None
            ids = [int(i["id"]) for i in issues or [] if isinstance(i, dict) and str(i.get("id", "")).isdigit()]
            return str(min(ids)) if ids else None
        # Redmine reads titles_only and open_issues as on when present at all, so neither is sent.
        answer = self._json("GET", "/search.json", params={"q": str(report.id), "issues": 1,
                                                            "limit": MAX_SEARCH_RESULTS})
        results = answer.get("results") if isinstance(answer, dict) else None
        line = marker_line(report)
        ids = [int(r["id"]) for r in results or [] if isinstance(r, dict) and r.get("type", "").startswith("issue")
               and line in str(r.get("description", "")) and str(r.get("id", "")).isdigit()]
        return str(min(ids)) if ids else None


def _redmine_reason(response: requests.Response) -> str:
    """Redmine's refusal: ``{"errors": ["…", …]}``."""
    try:
        data = response.json()
    except ValueError:
        return ""
    errors = data.get("errors") if isinstance(data, dict) else None
    return "; ".join(str(e) for e in errors or [])[:MAX_REASON_CHARS] if isinstance(errors, list) else ""


def create(backend: BackendConfig, *, role: str = "submitter") -> RedmineConnector:
    """The registry's entry point; the API key comes from ``token_for`` at each call."""
    from agent.credentials import token_for

    options = Options(backend)
    if not backend.url:
        raise ConfigError(f"{options.where} needs url = \"https://redmine.example.org\"")
    numbers = {}
    for key in ("tracker_id", "report_id_field"):
        value = options.text(key) if isinstance(backend.options.get(key), str) else backend.options.get(key)
        if value is not None and not str(value).isdigit():
            raise ConfigError(f"{options.where} {key} takes Redmine's numeric id, e.g. {key} = 3")
        numbers[key] = int(str(value)) if value is not None else None
    priorities = options.table("priorities")
    if any(not value.isdigit() for value in priorities.values()):
        raise ConfigError(f"{options.where} priorities take Redmine priority ids, e.g. critical = \"5\"")
    return RedmineConnector(
        backend.url,
        project=options.required_text("project"),
        token=lambda: token_for(backend, role),
        tracker_id=numbers["tracker_id"],
        report_id_field=numbers["report_id_field"],
        priorities=priorities,
        max_attachment_size=options.size("max_attachment_size", REDMINE_MAX_ATTACHMENT_BYTES),
        ca_bundle=backend.ca_bundle,
        connect_timeout=backend.connect_timeout,
        read_timeout=backend.read_timeout,
        proxy=backend.proxy,
    )


__all__ = ["RedmineConnector", "create"]
