"""The connector for GitLab issues: project uploads, then the issue with the screenshots inline.
Contract-tested, not run against a live GitLab.

Write: each file goes up alone (``POST /api/v4/projects/:id/uploads``, multipart part ``file``),
which answers its Markdown (``![name](/uploads/…/name)``); then ``POST /api/v4/projects/:id/issues``
with the title, the description in Markdown (the report's text, each step's image inline under its
caption, links to the other files), the labels (``showdesk`` by default) and ``confidential``
(on by default: a report names a person and their machine).

Authentication: a personal, project or group access token with the ``api`` scope in
``PRIVATE-TOKEN``.

Idempotency: the description ends with the report's marker line; ``GET /api/v4/projects/:id/issues
?search=<report id>&in=description&state=all`` runs before every create, and a hit counts only
when its description holds that line. GitLab searches issues in its database, so a replay finds
the first issue at once. Uploads whose answer was lost stay unreferenced in the project.

Size: GitLab bounds each upload by its "Maximum attachment size" (100 MiB by default,
``max_attachment_size``).
"""

from __future__ import annotations

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
from agent.connectors.fitting import GITLAB_MAX_ATTACHMENT_BYTES, FitResult, Limits, submit_fitted
from agent.connectors.httpclient import HttpClient, HttpConnector, MultipartForm, Part
from agent.schema import Report, Ticket

if TYPE_CHECKING:
    from agent.config import BackendConfig

API: Final = "/api/v4"
DEFAULT_LABELS: Final = ("showdesk",)
MAX_SEARCH_RESULTS: Final = 20


def markdown_description(text: str, step_images: Sequence[tuple[str, str]], others: Sequence[tuple[str, str]]) -> str:
    """The issue's Markdown: the screenshots inline first (each under its caption), the report's text
    as a preformatted block (it is laid out in columns), links to the other files after it."""
    lines = ["### Screenshots", ""]
    for caption, markdown in step_images:
        lines += [f"**{_escape(caption)}**" if caption else "", "", markdown, ""]
    if others:
        lines += ["### Files", ""] + [f"- {markdown}" for _name, markdown in others] + [""]
    fence = "````" if "```" in text else "```"
    body, _, last = text.rstrip("\n").rpartition("\n")
    # The marker line stays plain text outside the block, so a search and a person both find it.
    return "\n".join([*lines, "### Report", "", f"{fence}text", body, fence, "", last]) + "\n"


def _escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "\\`*_[]<>#|" else c for c in text)


class GitLabConnector(HttpConnector):
    """Client of GitLab's REST API (``/api/v4``) for one project's issues."""

    capabilities = frozenset({Capability.SUBMIT, Capability.IDEMPOTENT, Capability.PROGRESS})

    def __init__(
        self,
        url: str,
        *,
        project: str,
        token: TokenSource,
        labels: Sequence[str] = DEFAULT_LABELS,
        confidential: bool = True,
        max_attachment_size: int | None = GITLAB_MAX_ATTACHMENT_BYTES,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        proxy: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.project = project
        self._project_path = f"{API}/projects/{quote(project, safe='')}"
        self._token = token
        self.labels = list(labels)
        self.confidential = confidential
        self.http = HttpClient(self.url, system=self.system, kind="gitlab", ca_bundle=ca_bundle,
                               connect_timeout=connect_timeout, read_timeout=read_timeout, proxy=proxy,
                               classify=self._classify)
        self.limits = Limits(
            system=self.system,
            max_file_bytes=max_attachment_size,
            file_limit_name="GitLab's maximum attachment size (max_attachment_size)",
        )

    @property
    def system(self) -> str:
        return f"GitLab at {self.url}"

    # ------------------------------------------------------------ plumbing
    def _classify(self, response: requests.Response, reason: str) -> ConnectorError | None:
        reason = _gitlab_reason(response) or reason
        status = response.status_code
        if status in (401, 403):
            return AuthError(
                f"{self.system} refused the access token ({status})" + (f": {reason}" if reason else "")
                + f"; store a token with the api scope and at least the Reporter role on project {self.project} "
                f"with `showdesk login {self.url}`", system=self.system, status=status)
        if status == 400 and "too large" in reason.lower():  # an upload over the instance's limit
            return TooLargeError(f"{self.system} refused a file: {reason}", system=self.system, status=status)
        return error_for_status(status, system=self.system, reason=reason,
                                retry_after=parse_retry_after(response.headers.get("Retry-After")))

    def _headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": secret_from(self._token, system=self.system, what="access token")}

    def _ticket(self, record: Mapping[str, Any], report_id: uuid.UUID) -> Ticket:
        iid = str(record.get("iid", ""))
        if not iid:
            raise PermanentError(f"{self.system} sent an issue without an iid", system=self.system)
        url = str(record.get("web_url") or f"{self.url}/{self.project}/-/issues/{iid}")
        return Ticket(id=iid, number=f"#{iid}", status="new", url=url, report_id=report_id)

    # ------------------------------------------------------------ submit
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        existing = self.find_issue(bundle.report)
        if existing is not None:
            return self._ticket(existing, bundle.report.id)
        return submit_fitted(bundle, self.limits, lambda fitted: self._create(fitted, progress))

    def _create(self, fitted: FitResult, progress: ProgressCallback | None) -> Ticket:
        bundle = fitted.bundle
        report = bundle.report
        files = [(ref.path, attachment_name(ref.path, report.id), ref.media_type, bundle.files[ref.path])
                 for ref in report.files()]
        files.append(("", manifest_name(report.id), "application/json", bundle.manifest_json()))
        total = sum(len(f[3]) for f in files)
        sent = 0
        markdown: dict[str, str] = {}
        for _path, name, media_type, data in files:
            form = MultipartForm([Part("file", data, filename=name, content_type=media_type)])
            answer = self._json("POST", f"{self._project_path}/uploads", data=form,
                                headers={"Content-Type": form.content_type})
            link = answer.get("markdown") if isinstance(answer, dict) else None
            if not isinstance(link, str) or not link:
                raise PermanentError(f"{self.system} kept {name} but answered no Markdown for it", system=self.system)
            markdown[name] = link
            sent += len(data)
            if progress is not None:
                progress(sent, total)
        images = [(step.caption, markdown[attachment_name(step.image.path)]) for step in report.steps]
        inline = {attachment_name(step.image.path) for step in report.steps}
        others = [(name, markdown[name]) for _p, name, _m, _d in files if name not in inline]
        issue = {
            "title": report.subject()[:255],
            "description": markdown_description(render(bundle, notes=fitted.notes).text, images, others),
            "labels": ",".join(self.labels),
            "confidential": self.confidential,
        }
        record = self._json("POST", f"{self._project_path}/issues", json=issue)
        if not isinstance(record, dict):
            raise PermanentError(f"{self.system} accepted the report but sent no issue", system=self.system)
        return self._ticket(record, report.id)

    def find_issue(self, report: Report) -> dict[str, Any] | None:
        """The issue an earlier attempt made of ``report`` (its description holds the marker line), or None."""
        answer = self._json("GET", f"{self._project_path}/issues", params={
            "search": str(report.id), "in": "description", "state": "all", "order_by": "created_at", "sort": "asc",
            "per_page": MAX_SEARCH_RESULTS})
        line = marker_line(report)
        for record in answer if isinstance(answer, list) else []:
            if isinstance(record, dict) and line in str(record.get("description") or ""):
                return record
        return None


def _gitlab_reason(response: requests.Response) -> str:
    """GitLab's refusal: ``{"message": "…" | {field: [..]}}`` or ``{"error": "…"}``."""
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    message = data.get("message", data.get("error", ""))
    if isinstance(message, dict):
        message = "; ".join(f"{field}: {' '.join(map(str, items)) if isinstance(items, list) else items}"
                            for field, items in message.items())
    return str(message)[:MAX_REASON_CHARS]


def create(backend: BackendConfig, *, role: str = "submitter") -> GitLabConnector:
    """The registry's entry point; the access token comes from ``token_for`` at each call."""
    from agent.credentials import token_for

    options = Options(backend)
    if not backend.url:
        raise ConfigError(f"{options.where} needs url = \"https://gitlab.example.org\"")
    project = backend.options.get("project")
    if isinstance(project, int) and not isinstance(project, bool):
        project = str(project)
    if not isinstance(project, str) or not project:
        raise ConfigError(f"{options.where} needs project = \"group/helpdesk\" (its path or numeric id)")
    labels = options.strings("labels") if "labels" in backend.options else list(DEFAULT_LABELS)
    if any("," in label for label in labels):
        raise ConfigError(f"{options.where} labels cannot contain commas")
    return GitLabConnector(
        backend.url,
        project=project,
        token=lambda: token_for(backend, role),
        labels=labels,
        confidential=options.flag("confidential", True),
        max_attachment_size=options.size("max_attachment_size", GITLAB_MAX_ATTACHMENT_BYTES),
        ca_bundle=backend.ca_bundle,
        connect_timeout=backend.connect_timeout,
        read_timeout=backend.read_timeout,
        proxy=backend.proxy,
    )


__all__ = ["GitLabConnector", "create", "markdown_description"]
