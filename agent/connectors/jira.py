"""The connector for Jira: Jira Service Management customer requests, or issues in a plain Jira project.
Contract-tested, not run against a live Jira (Cloud or Data Center).

Service desk (``service_desk_id`` and ``request_type_id`` set): ``POST /rest/servicedeskapi/request``
with the summary, the readable body as the description and, where the reporter's e-mail belongs to
a Jira user (``GET /rest/api/{3|2}/user/search``), ``raiseOnBehalfOf`` that user's account id
(Cloud) or name (Data Center). Files then go up as temporary files
(``POST /rest/servicedeskapi/servicedesk/{id}/attachTemporaryFile``, multipart part ``file``) and
are attached to the request in one call (``POST /rest/servicedeskapi/request/{key}/attachment``).

Plain project (``project`` set): ``POST /rest/api/{3|2}/issue`` (description as Atlassian Document
Format on API 3, as text on API 2), then ``POST /rest/api/{3|2}/issue/{key}/attachments``.
Every multipart call carries ``X-Atlassian-Token: no-check`` (Jira's XSRF guard asks for it).

Authentication: with ``email`` set, an API token (Cloud) as HTTP basic ``email:token``; without,
a personal access token (Data Center) as ``Authorization: Bearer``.

Idempotency: the issue carries the label ``showdesk-<report id>`` and a JQL search for it runs
before every create. A send that broke off between the files is finished on the replay: the
files already on the issue (by name) are not sent again. Jira's search index follows a create
within a second or so on Data Center and within seconds on Cloud; a retry comes much later.
A request type without the Labels field cannot take the label (``request_labels = false``):
the search then looks for the report id in the text, and ``IDEMPOTENT`` is not declared.

Size: Jira bounds each file (Data Center: ``jira.attachment.size``, 10 MB by default; Cloud:
the site's attachment setting); ``max_attachment_size`` says what the site allows.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

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
from agent.connectors.body import REPORT_MARKER, render
from agent.connectors.common import Options, attachment_name, manifest_name
from agent.connectors.fitting import JIRA_MAX_ATTACHMENT_BYTES, FitResult, Limits, submit_fitted
from agent.connectors.httpclient import HttpClient, MultipartForm, Part
from agent.connectors.urgency import mapped
from agent.schema import Ticket

if TYPE_CHECKING:
    from agent.config import BackendConfig

LABEL_PREFIX: Final = "showdesk-"
NO_CHECK: Final = {"X-Atlassian-Token": "no-check"}
MAX_SEARCH_RESULTS: Final = 5


def report_label(report_id: uuid.UUID) -> str:
    return f"{LABEL_PREFIX}{report_id}"


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format document: one paragraph per block, lines kept."""
    paragraphs: list[dict[str, Any]] = []
    for block in text.split("\n\n"):
        content: list[dict[str, Any]] = []
        for number, line in enumerate(block.split("\n")):
            if number:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        if content:
            paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


class JiraConnector(Connector):
    """Client of Jira's REST APIs: a service desk's customer requests, or a project's issues."""

    capabilities = frozenset({Capability.SUBMIT, Capability.IDEMPOTENT})

    def __init__(
        self,
        url: str,
        *,
        token: TokenSource,
        email: str | None = None,
        service_desk_id: str | None = None,
        request_type_id: str | None = None,
        project: str | None = None,
        issue_type: str = "Task",
        api_version: str = "3",
        request_labels: bool = True,
        raise_on_behalf: bool = True,
        priorities: Mapping[str, str] | None = None,
        max_attachment_size: int | None = JIRA_MAX_ATTACHMENT_BYTES,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        proxy: str | None = None,
    ) -> None:
        if bool(service_desk_id) == bool(project):
            raise ConfigError("a Jira backend needs either service_desk_id (with request_type_id) or project")
        if service_desk_id and not request_type_id:
            raise ConfigError("a Jira Service Management backend needs request_type_id next to service_desk_id")
        if api_version not in ("2", "3"):
            raise ConfigError(f"Jira api_version is 3 (Cloud) or 2 (Data Center), not {api_version!r}")
        self.url = url.rstrip("/")
        self._token = token
        self.email = email
        self.service_desk_id = service_desk_id
        self.request_type_id = request_type_id
        self.project = project
        self.issue_type = issue_type
        self.api = f"/rest/api/{api_version}"
        self.api_version = api_version
        self.request_labels = request_labels
        self.raise_on_behalf = raise_on_behalf
        self.priorities = dict(priorities or {})
        self.http = HttpClient(
            self.url,
            system=self.system,
            kind="jira",
            ca_bundle=ca_bundle,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            proxy=proxy,
            classify=self._classify,
        )
        self.limits = Limits(
            system=self.system,
            max_file_bytes=max_attachment_size,
            file_limit_name="Jira's attachment size setting (max_attachment_size)",
        )
        if service_desk_id and not request_labels:
            self.capabilities = frozenset({Capability.SUBMIT})

    @property
    def system(self) -> str:
        kind = "Jira Service Management" if getattr(self, "service_desk_id", None) else "Jira"
        return f"{kind} at {self.url}"

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------ plumbing
    def _classify(self, response: requests.Response, reason: str) -> ConnectorError | None:
        reason = _jira_reason(response) or reason
        if response.status_code not in (401, 403):
            return error_for_status(
                response.status_code,
                system=self.system,
                reason=reason,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if self.email:
            fix = (
                f"check email = \"{self.email}\" in the backend's settings and store that account's API token "
                f"with `showdesk login {self.url}`"
            )
        else:
            fix = (
                f"store a valid personal access token with `showdesk login {self.url}` "
                "(or set email for a Cloud API token)"
            )
        return AuthError(
            f"{self.system} refused the credentials ({response.status_code})"
            + (f": {reason}" if reason else "")
            + f"; {fix}",
            system=self.system,
            status=response.status_code,
        )

    def _headers(self) -> dict[str, str]:
        secret = secret_from(self._token, system=self.system, what="API token" if self.email else "access token")
        if self.email:
            basic = base64.b64encode(f"{self.email}:{secret}".encode()).decode("ascii")
            return {"Authorization": f"Basic {basic}"}
        return {"Authorization": f"Bearer {secret}"}

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        return self.http.json(method, path, headers=headers, **kwargs)

    def _ticket(self, key: str, report_id: uuid.UUID, status: str = "new") -> Ticket:
        return Ticket(id=key, number=key, status=status, url=f"{self.url}/browse/{key}", report_id=report_id)

    # ------------------------------------------------------------ submit
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        return submit_fitted(bundle, self.limits, lambda fitted: self._send(fitted, progress))

    def _send(self, fitted: FitResult, progress: ProgressCallback | None) -> Ticket:
        bundle = fitted.bundle
        report = bundle.report
        files = [
            (attachment_name(ref.path, report.id), ref.media_type, bundle.files[ref.path]) for ref in report.files()
        ]
        files.append((manifest_name(report.id), "application/json", report.canonical_json()))
        key = self.find_issue(report.id)
        present: set[str] = set()
        if key is None:
            key = self._create(fitted)
        else:
            present = self._attachment_names(key)
        missing = [f for f in files if f[0] not in present]
        total = sum(len(data) for _n, _m, data in files)
        if progress is not None:
            progress(total - sum(len(d) for _n, _m, d in missing), total)
        if missing:
            if self.service_desk_id:
                self._attach_to_request(key, missing)
            else:
                self._attach_to_issue(key, missing)
        if progress is not None:
            progress(total, total)
        return self._ticket(key, report.id)

    def _create(self, fitted: FitResult) -> str:
        report = fitted.bundle.report
        text = render(fitted.bundle, notes=fitted.notes).text
        label = report_label(report.id)
        priority = mapped(fitted.bundle, self.priorities)
        if self.service_desk_id:
            values: dict[str, Any] = {"summary": report.subject(), "description": text}
            if self.request_labels:
                values["labels"] = [label]
            if priority:
                values["priority"] = {"name": priority}
            payload: dict[str, Any] = {
                "serviceDeskId": self.service_desk_id,
                "requestTypeId": self.request_type_id,
                "requestFieldValues": values,
            }
            on_behalf = self._customer(report.reporter.email) if self.raise_on_behalf else None
            if on_behalf:
                payload["raiseOnBehalfOf"] = on_behalf
            answer = self._json("POST", "/rest/servicedeskapi/request", json=payload)
            key = answer.get("issueKey") if isinstance(answer, dict) else None
        else:
            fields: dict[str, Any] = {
                "project": {"key": self.project},
                "issuetype": {"name": self.issue_type},
                "summary": report.subject(),
                "description": adf(text) if self.api_version == "3" else text,
                "labels": [label],
            }
            if priority:
                fields["priority"] = {"name": priority}
            answer = self._json("POST", f"{self.api}/issue", json={"fields": fields})
            key = answer.get("key") if isinstance(answer, dict) else None
        if not isinstance(key, str) or not key:
            raise PermanentError(f"{self.system} accepted the report but named no issue", system=self.system)
        return key

    def _customer(self, email: str | None) -> str | None:
        """The Jira user behind ``email`` as ``raiseOnBehalfOf`` wants it (account id, or name on Data Center)."""
        if not email:
            return None
        params = {"query": email} if self.api_version == "3" else {"username": email}
        answer = self._json("GET", f"{self.api}/user/search", params=params)
        for user in answer if isinstance(answer, list) else []:
            if isinstance(user, dict) and str(user.get("emailAddress", "")).lower() == email.lower():
                found = user.get("accountId") if self.api_version == "3" else user.get("name")
                return str(found) if found else None
        return None

    def _upload_form(self, files: Sequence[tuple[str, str, bytes]]) -> tuple[MultipartForm, dict[str, str]]:
        form = MultipartForm(
            [Part("file", data, filename=name, content_type=media_type) for name, media_type, data in files]
        )
        return form, {**NO_CHECK, "Content-Type": form.content_type}

    def _attach_to_request(self, key: str, files: Sequence[tuple[str, str, bytes]]) -> None:
        temporary: list[str] = []
        for file in files:  # one file per request: each stays within a proxy's body limit
            form, headers = self._upload_form([file])
            answer = self._json(
                "POST",
                f"/rest/servicedeskapi/servicedesk/{_segment(self.service_desk_id or '')}/attachTemporaryFile",
                headers=headers,
                data=form,
            )
            items = answer.get("temporaryAttachments") if isinstance(answer, dict) else None
            ids = [str(i.get("temporaryAttachmentId")) for i in items or [] if isinstance(i, dict)]
            if len(ids) != 1:
                raise PermanentError(f"{self.system} kept no temporary file for {file[0]}", system=self.system)
            temporary += ids
        self._json(
            "POST",
            f"/rest/servicedeskapi/request/{_segment(key)}/attachment",
            json={"temporaryAttachmentIds": temporary, "public": True},
        )

    def _attach_to_issue(self, key: str, files: Sequence[tuple[str, str, bytes]]) -> None:
        for file in files:
            form, headers = self._upload_form([file])
            answer = self._json("POST", f"{self.api}/issue/{_segment(key)}/attachments", headers=headers, data=form)
            if not isinstance(answer, list) or not answer:
                raise PermanentError(f"{self.system} did not keep {file[0]}", system=self.system)

    def find_issue(self, report_id: uuid.UUID) -> str | None:
        """The key of the issue an earlier attempt made of report ``report_id``, or None."""
        label = report_label(report_id)
        if self.project or self.request_labels:
            jql = f'labels = "{label}"'
        else:
            jql = f'text ~ "\\"{REPORT_MARKER} {report_id}\\""'
        params = {"jql": jql, "fields": "labels,description", "maxResults": MAX_SEARCH_RESULTS}
        path = f"{self.api}/search/jql" if self.api_version == "3" else f"{self.api}/search"
        answer = self._json("GET", path, params=params)
        issues = answer.get("issues") if isinstance(answer, dict) else None
        keys = [str(i["key"]) for i in issues or [] if isinstance(i, dict) and i.get("key")]
        return min(keys, key=_issue_number) if keys else None

    def _attachment_names(self, key: str) -> set[str]:
        answer = self._json("GET", f"{self.api}/issue/{_segment(key)}", params={"fields": "attachment"})
        fields = answer.get("fields") if isinstance(answer, dict) else None
        attachments = fields.get("attachment") if isinstance(fields, dict) else None
        return {str(a.get("filename")) for a in attachments or [] if isinstance(a, dict)}


def _jira_reason(response: requests.Response) -> str:
    """Jira's own words: ``errorMessages`` and ``errors`` (platform), ``errorMessage`` (service desk)."""
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    messages = [str(m) for m in data.get("errorMessages") or [] if m]
    if isinstance(data.get("errors"), dict):
        messages += [f"{field}: {message}" for field, message in data["errors"].items()]
    if isinstance(data.get("errorMessage"), str):
        messages.append(data["errorMessage"])
    return "; ".join(messages)[:MAX_REASON_CHARS]


def _issue_number(key: str) -> int:
    number = key.rsplit("-", 1)[-1]
    return int(number) if number.isdigit() else 0


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def create(backend: BackendConfig, *, role: str = "submitter") -> JiraConnector:
    """The registry's entry point; the API token or personal access token comes from ``token_for``."""
    from agent.credentials import token_for

    options = Options(backend)
    if not backend.url:
        raise ConfigError(f'{options.where} needs url = "https://example.atlassian.net"')
    try:
        return JiraConnector(
            backend.url,
            token=lambda: token_for(backend, role),
            email=options.text("email"),
            service_desk_id=options.text("service_desk_id"),
            request_type_id=options.text("request_type_id"),
            project=options.text("project"),
            issue_type=options.text("issue_type", "Task") or "Task",
            api_version=options.text("api_version", "3") or "3",
            request_labels=options.flag("request_labels", True),
            raise_on_behalf=options.flag("raise_on_behalf", True),
            priorities=options.table("priorities"),
            max_attachment_size=options.size("max_attachment_size", JIRA_MAX_ATTACHMENT_BYTES),
            ca_bundle=backend.ca_bundle,
            connect_timeout=backend.connect_timeout,
            read_timeout=backend.read_timeout,
            proxy=backend.proxy,
        )
    except ConfigError as exc:
        raise ConfigError(f"{options.where}: {exc}") from exc


__all__ = ["JiraConnector", "adf", "create", "report_label"]
