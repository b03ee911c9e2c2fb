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

Ticket link (what the person who reported opens): a customer request's portal page, as the create
answer's ``_links.web`` gives it, else ``{url}/servicedesk/customer/portal/{service_desk_id}/{key}``;
a plain project's issue, ``{url}/browse/{key}``.

Size: Jira bounds each file (Data Center: ``jira.attachment.size``, 10 MB by default; Cloud:
the site's attachment setting); ``max_attachment_size`` says what the site allows.

Read side (technician mode): the issues labelled ``showdesk`` (every issue ShowDesk makes carries
it next to its report label), newest first, by status (JQL); an issue with its attachments (each
downloaded: ``/rest/api/3/attachment/content/{id}?redirect=false`` on Cloud, the attachment's
``content`` address on Data Center), the report from its manifest, and its comments (service desk:
``/rest/servicedeskapi/request/{key}/comment`` with their ``public`` flag; a plain project's
comments are notes). Statuses are workflow names (``statuses``; defaults for the IT service
management template or a basic project), changed through the issue's transitions to that
status. Notes: a service desk comment (internal or public), or a plain issue comment.
Assignment, other filters, live changes and figures are not offered.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
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
from agent.connectors.body import REPORT_MARKER, render
from agent.connectors.common import (
    MANIFEST_NAME_PREFIX,
    Options,
    attachment_name,
    manifest_name,
    showdesk_status,
    status_map,
)
from agent.connectors.fitting import JIRA_MAX_ATTACHMENT_BYTES, FitResult, Limits, submit_fitted
from agent.connectors.httpclient import BasicAuthorization, HttpClient, HttpConnector, MultipartForm, Part
from agent.connectors.urgency import mapped
from agent.schema import MANIFEST_PATH, Report, Ticket, sha256_hex

if TYPE_CHECKING:
    from agent.config import BackendConfig

LABEL_PREFIX: Final = "showdesk-"
SOURCE_LABEL: Final = "showdesk"  # on every issue ShowDesk makes: what the technician's list shows
# Workflow status names: Jira Service Management's IT service management template, a basic project.
DEFAULT_SERVICE_DESK_STATUSES: Final = {"new": "Waiting for support", "open": "In Progress",
                                        "waiting": "Waiting for customer", "resolved": "Resolved", "closed": "Closed"}
DEFAULT_PROJECT_STATUSES: Final = {"new": "To Do", "open": "In Progress", "waiting": "Waiting", "resolved": "Done",
                                   "closed": "Done"}
CATEGORY_STATUSES: Final = {"new": "new", "indeterminate": "open", "done": "resolved"}  # statusCategory.key
DETAIL_FIELDS: Final = "summary,status,created,updated,labels,attachment,comment,reporter"
MAX_PAGE_SIZE: Final = 100
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


class JiraConnector(HttpConnector):
    """Client of Jira's REST APIs: a service desk's customer requests, or a project's issues."""

    capabilities = frozenset({Capability.SUBMIT, Capability.IDEMPOTENT, Capability.READ, Capability.STATUS,
                              Capability.NOTES})

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
        statuses: Mapping[str, str] | None = None,
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
        defaults = DEFAULT_SERVICE_DESK_STATUSES if service_desk_id else DEFAULT_PROJECT_STATUSES
        self.statuses = status_map(defaults, statuses or {}, "Jira backend")
        self._basic = BasicAuthorization()
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
            # Without labels neither the replay check nor the technician's list can rely on Jira's index.
            self.capabilities = frozenset({Capability.SUBMIT})

    @property
    def system(self) -> str:
        kind = "Jira Service Management" if getattr(self, "service_desk_id", None) else "Jira"
        return f"{kind} at {self.url}"

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
            return {"Authorization": self._basic.value(self.email, secret)}
        return {"Authorization": f"Bearer {secret}"}

    def _ticket(self, key: str, report_id: uuid.UUID | None, status: str = "new", web: str | None = None) -> Ticket:
        return Ticket(id=key, number=key, status=status, url=web or self.requester_link(key), report_id=report_id)

    def requester_link(self, key: str) -> str:
        """Where the person who reported follows the issue (kiosk QR code, "Open it").

        A service desk's customers cannot open ``/browse/{key}`` (the agents' view); their request lives in
        the customer portal, ``/servicedesk/customer/portal/{serviceDeskId}/{key}`` (the create-request
        answer's ``_links.web``, used instead when Jira sends it, names the same page:
        https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/#api-rest-servicedeskapi-request-post).
        A plain project has no portal: everyone opens the issue itself.
        """
        if self.service_desk_id:
            return f"{self.url}/servicedesk/customer/portal/{_segment(self.service_desk_id)}/{_segment(key)}"
        return f"{self.url}/browse/{_segment(key)}"

    def _status(self, status: object) -> str:
        """The ShowDesk word for an issue's ``status`` field: by name, else by the status's category."""
        if not isinstance(status, dict):
            return "new"
        name = str(status.get("name") or "")
        ours = showdesk_status(name, self.statuses)
        if ours != name or ours in self.statuses:
            return ours
        category = status.get("statusCategory")
        key = category.get("key") if isinstance(category, dict) else None
        return CATEGORY_STATUSES.get(str(key), name or "new")

    def _issue_ticket(self, issue: Mapping[str, Any], report_id: uuid.UUID | None = None) -> Ticket:
        fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
        assert isinstance(fields, dict)
        if report_id is None:
            report_id = next((_uuid(label[len(LABEL_PREFIX):]) for label in fields.get("labels") or []
                              if isinstance(label, str) and label.startswith(LABEL_PREFIX)), None)
        return self._ticket(str(issue.get("key")), report_id, self._status(fields.get("status")))

    # ------------------------------------------------------------ submit
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        return submit_fitted(bundle, self.limits, lambda fitted: self._send(fitted, progress))

    def _send(self, fitted: FitResult, progress: ProgressCallback | None) -> Ticket:
        bundle = fitted.bundle
        report = bundle.report
        files = [
            (attachment_name(ref.path, report.id), ref.media_type, bundle.files[ref.path]) for ref in report.files()
        ]
        files.append((manifest_name(report.id), "application/json", bundle.manifest_json()))
        key = self.find_issue(report.id)
        present: set[str] = set()
        web: str | None = None
        replay = key is not None
        if key is None:
            key, web = self._create(fitted)
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
        if replay and self.service_desk_id:
            # A replay gives the same link as the first send: Jira's own, asked for again.
            web = self._request_web_link(key)
        if progress is not None:
            progress(total, total)
        return self._ticket(key, report.id, web=web)

    def _create(self, fitted: FitResult) -> tuple[str, str | None]:
        """The new issue's key, and for a customer request the portal link Jira gave (``_links.web``)."""
        report = fitted.bundle.report
        body = render(fitted.bundle, notes=fitted.notes)
        text = body.text
        label = report_label(report.id)
        priority = mapped(body.system, self.priorities)
        if self.service_desk_id:
            values: dict[str, Any] = {"summary": report.subject(), "description": text}
            if self.request_labels:
                values["labels"] = [SOURCE_LABEL, label]
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
            web = _web_link(answer)
        else:
            fields: dict[str, Any] = {
                "project": {"key": self.project},
                "issuetype": {"name": self.issue_type},
                "summary": report.subject(),
                "description": adf(text) if self.api_version == "3" else text,
                "labels": [SOURCE_LABEL, label],
            }
            if priority:
                fields["priority"] = {"name": priority}
            answer = self._json("POST", f"{self.api}/issue", json={"fields": fields})
            key = answer.get("key") if isinstance(answer, dict) else None
            web = None
        if not isinstance(key, str) or not key:
            raise PermanentError(f"{self.system} accepted the report but named no issue", system=self.system)
        return key, web

    def _request_web_link(self, key: str) -> str | None:
        """The customer request's ``_links.web`` (``GET /rest/servicedeskapi/request/{key}``), or None.

        The files are in by now, so a failure here costs only Jira's own spelling of the link: the
        built one (``requester_link``) names the same portal page.
        """
        try:
            return _web_link(self._json("GET", f"/rest/servicedeskapi/request/{_segment(key)}"))
        except ConnectorError:
            return None

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

    # ------------------------------------------------------------ read side
    def whoami(self) -> Caller:
        me = self._json("GET", f"{self.api}/myself")
        name = me.get("displayName") or me.get("name") or "" if isinstance(me, dict) else ""
        return Caller(name=str(name), role="technician", site=None)

    def list_tickets(
        self,
        *,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        filters: TicketFilter | None = None,
    ) -> TicketPage:
        status = self._status_only(status, filters)
        jql = f'labels = "{SOURCE_LABEL}"'
        if status is not None:
            jql += f' AND status = "{self.statuses.get(status, status)}"'
        params: dict[str, str | int] = {"jql": f"{jql} ORDER BY created DESC", "fields": "summary,status,created,"
                                        "updated,labels,reporter", "maxResults": max(1, min(limit, MAX_PAGE_SIZE))}
        if self.api_version == "3":  # /search/jql pages with a token
            if cursor:
                params["nextPageToken"] = cursor
            answer = self._json("GET", f"{self.api}/search/jql", params=params)
            following = answer.get("nextPageToken") if isinstance(answer, dict) else None
        else:
            start = int(cursor) if cursor and cursor.isdigit() else 0
            params["startAt"] = start
            answer = self._json("GET", f"{self.api}/search", params=params)
            total = answer.get("total", 0) if isinstance(answer, dict) else 0
            issues_seen = len(answer.get("issues") or []) if isinstance(answer, dict) else 0
            following = str(start + issues_seen) if start + issues_seen < int(total or 0) else None
        issues = [i for i in (answer.get("issues") or [] if isinstance(answer, dict) else []) if isinstance(i, dict)]
        tickets = [self._issue_ticket(i) for i in issues]
        return TicketPage(tickets=tickets, next_cursor=str(following) if following else None,
                          raw=[{**i, **_summary(i, t)} for i, t in zip(issues, tickets, strict=True)])

    def _issue(self, key: str) -> dict[str, Any]:
        issue = self._json("GET", f"{self.api}/issue/{_segment(key)}", params={"fields": DETAIL_FIELDS})
        if not isinstance(issue, dict) or not isinstance(issue.get("fields"), dict):
            raise PermanentError(f"{self.system} sent an issue ShowDesk cannot read", system=self.system)
        return issue

    def _download(self, attachment: Mapping[str, Any]) -> bytes:
        if self.api_version == "3":
            path = f"{self.api}/attachment/content/{_segment(str(attachment.get('id')))}"
            response = self.http.request("GET", path, params={"redirect": "false"},
                                         headers={**self._headers(), "Accept": "*/*"})
        else:
            response = self.http.request("GET", str(attachment.get("content")),
                                         headers={**self._headers(), "Accept": "*/*"})
        return response.content

    def _manifest(self, attachments: Sequence[Mapping[str, Any]]) -> Report | None:
        manifest = next((a for a in attachments if str(a.get("filename", "")).startswith(MANIFEST_NAME_PREFIX)), None)
        if manifest is None:
            return None
        try:
            return Report.model_validate_json(self._download(manifest))
        except ValidationError:
            return None

    def _comments(self, issue: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The issue's comments as (text, internal, author, created), oldest first."""
        key = str(issue.get("key"))
        if self.service_desk_id:
            answer = self._json("GET", f"/rest/servicedeskapi/request/{_segment(key)}/comment",
                                params={"limit": MAX_PAGE_SIZE})
            values = answer.get("values") if isinstance(answer, dict) else None
            return [{"text": str(c.get("body") or ""), "internal": c.get("public") is False,
                     "actor": str((c.get("author") or {}).get("displayName") or ""),
                     "at": (c.get("created") or {}).get("iso8601") if isinstance(c.get("created"), dict)
                     else c.get("created")} for c in values or [] if isinstance(c, dict)]
        fields = issue["fields"]
        block = fields.get("comment") if isinstance(fields.get("comment"), dict) else {}
        assert isinstance(block, dict)
        return [{"text": adf_text(c.get("body")), "internal": True,
                 "actor": str((c.get("author") or {}).get("displayName") or ""), "at": c.get("created")}
                for c in block.get("comments") or [] if isinstance(c, dict)]

    def get_ticket(self, ticket_id: str) -> TicketDetail:
        issue = self._issue(ticket_id)
        fields = issue["fields"]
        attachments = [a for a in fields.get("attachment") or [] if isinstance(a, dict)]
        report = self._manifest(attachments)
        timeline: list[dict[str, Any]] = [{"seq": 1, "kind": "created", "at": fields.get("created"), "actor": "",
                                           "internal": False,
                                           "data": {"files": [a.get("filename") for a in attachments]}}]
        for comment in self._comments(issue):
            timeline.append({"seq": len(timeline) + 1, "kind": "note" if comment["internal"] else "reply",
                             "at": comment["at"], "actor": comment["actor"], "internal": comment["internal"],
                             "data": {"text": comment["text"]}})
        ticket = self._issue_ticket(issue, report.id if report is not None else None)
        return TicketDetail(ticket=ticket, report=report, timeline=timeline, raw={**issue, **_summary(issue, ticket)})

    def attachment(self, ticket_id: str, path: str) -> bytes:
        attachments = [a for a in self._issue(ticket_id)["fields"].get("attachment") or [] if isinstance(a, dict)]
        report = self._manifest(attachments)
        if path == MANIFEST_PATH:
            wanted = next((a for a in attachments if str(a.get("filename", "")).startswith(MANIFEST_NAME_PREFIX)),
                          None)
        else:
            name = attachment_name(path, report.id if report is not None else None)
            wanted = next((a for a in attachments if a.get("filename") == name), None)
        if wanted is None:
            raise PermanentError(f"issue {ticket_id} on {self.system} has no file {path}", system=self.system,
                                 status=404)
        data = self._download(wanted)
        expected = next((r for r in report.files() if r.path == path), None) if report is not None else None
        if expected is not None and sha256_hex(data) != expected.sha256:
            raise PermanentError(f"{path} on issue {ticket_id} is not the file that was sent", system=self.system)
        return data

    def set_status(self, ticket_id: str, status: str) -> Ticket:
        """Move the issue through the transition that leads to the configured status name."""
        target = self.statuses.get(status, status)
        answer = self._json("GET", f"{self.api}/issue/{_segment(ticket_id)}/transitions")
        transitions = answer.get("transitions") if isinstance(answer, dict) else None
        chosen = next((t for t in transitions or [] if isinstance(t, dict) and isinstance(t.get("to"), dict)
                       and str(t["to"].get("name", "")).lower() == target.lower()), None)
        if chosen is None:
            names = ", ".join(sorted(str(t["to"].get("name")) for t in transitions or []
                                     if isinstance(t, dict) and isinstance(t.get("to"), dict)))
            raise PermanentError(f"issue {ticket_id} on {self.system} cannot move to {target!r} now"
                                 + (f" (it can move to: {names})" if names else "")
                                 + "; the backend's statuses name the workflow's statuses", system=self.system)
        self._json("POST", f"{self.api}/issue/{_segment(ticket_id)}/transitions",
                   json={"transition": {"id": str(chosen.get("id"))}})
        return self._issue_ticket(self._issue(ticket_id))

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> None:
        """A service desk comment (internal, or public: the customer sees it); a plain issue's comment."""
        if self.service_desk_id:
            self._json("POST", f"/rest/servicedeskapi/request/{_segment(ticket_id)}/comment",
                       json={"body": text, "public": not internal})
        else:
            self._json("POST", f"{self.api}/issue/{_segment(ticket_id)}/comment",
                       json={"body": adf(text) if self.api_version == "3" else text})


def adf_text(document: object) -> str:
    """The text of an Atlassian Document Format document (or a plain string, as API 2 sends)."""
    if isinstance(document, str):
        return document
    if not isinstance(document, dict):
        return ""
    if document.get("type") == "text":
        return str(document.get("text") or "")
    if document.get("type") == "hardBreak":
        return "\n"
    parts = [adf_text(child) for child in document.get("content") or []]
    return ("\n\n" if document.get("type") == "doc" else "").join(parts)


def _summary(issue: Mapping[str, Any], ticket: Ticket) -> dict[str, Any]:
    """The built-in server's summary keys for an issue, for lists that do not know Jira (Jira's own numeric
    ``id`` moves to ``issue_id``: the ticket's id is its key)."""
    fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
    assert isinstance(fields, dict)
    reporter = fields.get("reporter") if isinstance(fields.get("reporter"), dict) else {}
    assert isinstance(reporter, dict)
    return {"issue_id": issue.get("id"), "id": ticket.id, "number": ticket.number, "status": ticket.status,
            "url": ticket.url, "subject": fields.get("summary"), "created_at": fields.get("created"),
            "updated_at": fields.get("updated"),
            "reporter": {"name": reporter.get("displayName"), "email": reporter.get("emailAddress")}}


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


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


def _web_link(answer: object) -> str | None:
    """``_links.web`` of a customer request, if it is a web address (it ends up in a QR code)."""
    links = answer.get("_links") if isinstance(answer, dict) else None
    web = links.get("web") if isinstance(links, dict) else None
    if isinstance(web, str) and web.startswith(("https://", "http://")):
        return web
    return None


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
            statuses=options.table("statuses"),
            max_attachment_size=options.size("max_attachment_size", JIRA_MAX_ATTACHMENT_BYTES),
            ca_bundle=backend.ca_bundle,
            connect_timeout=backend.connect_timeout,
            read_timeout=backend.read_timeout,
            proxy=backend.proxy,
        )
    except ConfigError as exc:
        raise ConfigError(f"{options.where}: {exc}") from exc


__all__ = ["JiraConnector", "adf", "create", "report_label"]
