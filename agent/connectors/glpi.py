"""The connector for GLPI through its legacy REST API (``apirest.php``, "API v1"). Contract-tested, not
run against a live GLPI.

Every operation runs in its own API session: ``GET initSession`` with the user token
(``Authorization: user_token …``) and, where the GLPI administrator set one for the API
client, the application token (``App-Token``); the calls; ``GET killSession``.

Write: the ticket (``POST Ticket``, ``{"input": {"name", "content", …}}``), then each file as a
Document linked to it (``POST Document`` as multipart/form-data: an ``uploadManifest`` field
with ``{"input": {"name", "_filename", "itemtype": "Ticket", "items_id"}}`` and the file part).

Idempotency: before creating, the ticket text is searched for the report's marker line
(``search/Ticket``, the description field, "contains"). GLPI searches its database directly,
so a replay always finds the first ticket. A send that broke off between the documents is
finished on the replay: the documents already linked (by name) are not uploaded again.

Tokens: the user token comes from ``token_for(backend, role)`` (keyring entry
``<role>@<url>`` or ``SHOWDESK_TOKEN``); the application token from ``SHOWDESK_GLPI_APP_TOKEN``
or the keyring entry ``glpi-app@<url>`` (service ``showdesk``); none is sent when neither exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import requests
from pydantic import ValidationError

from agent.bundle import ReportBundle
from agent.config import ConfigError
from agent.connectors.base import (
    AuthError,
    Capability,
    ConnectorError,
    PermanentError,
    ProgressCallback,
    TicketDetail,
    TicketFilter,
    TicketPage,
    TokenSource,
    TransientError,
    secret_from,
)
from agent.connectors.body import render
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
from agent.connectors.httpclient import HttpClient, HttpConnector, MultipartForm, Part, decode_json
from agent.schema import MANIFEST_PATH, MAX_FILE_BYTES, Report, Ticket, sha256_hex

if TYPE_CHECKING:
    from agent.config import BackendConfig

APP_TOKEN_ROLE: Final = "glpi-app"  # noqa: S105 - the keyring entry's name, not a secret
APP_TOKEN_ENV: Final = "SHOWDESK_GLPI_APP_TOKEN"  # noqa: S105 - an environment variable's name
DEFAULT_MAX_UPLOAD_SIZE: Final = 2 * 1024 * 1024  # GLPI's own document_max_size default (2 MiB)
DESCRIPTION_FIELD: Final = 21  # Ticket search option: the description (content)
ID_FIELD: Final = 2
# GLPI's ticket statuses (CommonITILObject): 1 new, 2 processing (assigned), 3 processing
# (planned), 4 pending, 5 solved, 6 closed.
DEFAULT_STATUSES: Final = {"new": "1", "open": "2", "waiting": "4", "resolved": "5", "closed": "6"}
NATIVE_EXTRA: Final = {"3": "open"}
# Error codes GLPI answers when the tokens or the client's address are not accepted.
AUTH_CODES: Final = frozenset({
    "ERROR_APP_TOKEN_PARAMETERS_MISSING", "ERROR_WRONG_APP_TOKEN_PARAMETER", "ERROR_LOGIN_PARAMETERS_MISSING",
    "ERROR_GLPI_LOGIN_USER_TOKEN", "ERROR_GLPI_LOGIN", "ERROR_NOT_ALLOWED_IP", "ERROR_SESSION_TOKEN_INVALID",
    "ERROR_SESSION_TOKEN_MISSING", "ERROR_RIGHT_MISSING", "ERROR_LOGIN_WITH_CREDENTIALS_DISABLED",
})
MAX_PAGE_SIZE: Final = 100


def app_token_for(backend: BackendConfig) -> str | None:
    """GLPI's application token: ``SHOWDESK_GLPI_APP_TOKEN``, else the keyring entry ``glpi-app@<url>``."""
    from_env = os.environ.get(APP_TOKEN_ENV)
    if from_env:
        return from_env
    import keyring
    from keyring.errors import KeyringError

    from agent.credentials import KEYRING_SERVICE

    try:
        token = keyring.get_password(KEYRING_SERVICE, f"{APP_TOKEN_ROLE}@{backend.url.rstrip('/')}")
    except KeyringError:
        return None
    return token if isinstance(token, str) and token else None


class GLPIConnector(HttpConnector):
    """Client of GLPI's apirest.php."""

    capabilities = frozenset({Capability.SUBMIT, Capability.READ, Capability.STATUS, Capability.NOTES,
                              Capability.IDEMPOTENT, Capability.PROGRESS})

    def __init__(
        self,
        url: str,
        *,
        user_token: TokenSource = None,
        app_token: TokenSource = None,
        ticket_fields: Mapping[str, str] | None = None,
        max_upload_size: int | None = DEFAULT_MAX_UPLOAD_SIZE,
        max_request_size: int | None = None,
        statuses: Mapping[str, str] | None = None,
        web_url: str | None = None,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        proxy: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.web_url = (web_url or self.url.rsplit("/apirest.php", 1)[0]).rstrip("/")
        self._user_token = user_token
        self._app_token = app_token
        self.ticket_fields = dict(ticket_fields or {})
        self.statuses = status_map(DEFAULT_STATUSES, statuses or {}, "GLPI backend")
        self.http = HttpClient(self.url, system=self.system, kind="glpi", ca_bundle=ca_bundle,
                               connect_timeout=connect_timeout, read_timeout=read_timeout, proxy=proxy,
                               classify=self._classify)
        # Documents go one per request, so GLPI's document size limit bounds each file.
        self.limits = Limits(
            system=self.system,
            max_file_bytes=max_upload_size,
            max_request_bytes=max_request_size,
            file_limit_name=(f"GLPI's document_max_size of {format_size(max_upload_size)}" if max_upload_size
                             else "document size limit"),
            request_limit_name="max_request_size",
        )

    @property
    def system(self) -> str:
        return f"GLPI at {self.url}"

    # ------------------------------------------------------------ plumbing
    def _classify(self, response: requests.Response, reason: str) -> ConnectorError | None:
        code = reason.split(" ", 1)[0] if reason.startswith("ERROR_") else ""
        if code in AUTH_CODES or response.status_code in (401, 403):
            return AuthError(f"token refused by {self.system} ({response.status_code}): {reason}",
                             system=self.system, status=response.status_code)
        return None

    def _base_headers(self) -> dict[str, str]:
        token = self._app_token() if callable(self._app_token) else self._app_token
        return {"App-Token": token} if token else {}

    @contextlib.contextmanager
    def session(self) -> Iterator[dict[str, str]]:
        """An API session: the headers every call in it carries; killed on leaving."""
        user_token = secret_from(self._user_token, system=self.system, what="user token")
        base = {**self._base_headers(), "Content-Type": "application/json"}
        answer = self.http.json("GET", "/initSession", headers={**base, "Authorization": f"user_token {user_token}"})
        session_token = answer.get("session_token") if isinstance(answer, dict) else None
        if not isinstance(session_token, str) or not session_token:
            raise TransientError(f"{self.system} opened no session", system=self.system)
        headers = {**base, "Session-Token": session_token}
        try:
            yield headers
        finally:
            # A session left open only times out on the server; the work done stands either way.
            with contextlib.suppress(ConnectorError):
                self.http.request("GET", "/killSession", headers=headers).close()

    def ticket_url(self, ticket_id: str) -> str:
        return f"{self.web_url}/front/ticket.form.php?id={ticket_id}"

    def _ticket(self, ticket_id: str, status: object, report_id: uuid.UUID | None) -> Ticket:
        return Ticket(
            id=str(ticket_id),
            number=f"GLPI #{ticket_id}",
            status=showdesk_status(str(status), self.statuses, NATIVE_EXTRA),
            url=self.ticket_url(str(ticket_id)),
            report_id=report_id,
        )

    # ------------------------------------------------------------ submit
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        with self.session() as headers:
            return submit_fitted(bundle, self.limits, lambda fitted: self._create(headers, fitted, progress))

    def _create(self, headers: dict[str, str], fitted: FitResult, progress: ProgressCallback | None) -> Ticket:
        bundle = fitted.bundle
        report = bundle.report
        files = [(attachment_name(ref.path, report.id), ref.media_type, bundle.files[ref.path])
                 for ref in report.files()]
        files.append((manifest_name(report.id), "application/json", bundle.manifest_json()))
        total = sum(len(data) for _n, _m, data in files)
        ticket_id = self._find(headers, report)
        linked: set[str] = set()
        if ticket_id is None:
            payload = {"input": {
                "name": report.subject(),
                "content": render(bundle, notes=fitted.notes).html,
                "type": 1,  # incident
                **{key: int(value) for key, value in self.ticket_fields.items()},
            }}
            answer = self.http.json("POST", "/Ticket", headers=headers, json=payload)
            ticket_id = _added_id(answer, self.system)
        else:
            linked = self._linked_names(headers, ticket_id)
        sent = 0
        if progress is not None:
            progress(0, total)
        for name, media_type, data in files:
            if name not in linked:
                self._upload(headers, ticket_id, name, media_type, data)
            sent += len(data)
            if progress is not None:
                progress(sent, total)
        return self._ticket(ticket_id, "1", report.id)

    def _upload(self, headers: dict[str, str], ticket_id: str, name: str, media_type: str, data: bytes) -> None:
        manifest = {"input": {"name": name, "_filename": [name], "itemtype": "Ticket", "items_id": int(ticket_id)}}
        form = MultipartForm([
            Part("uploadManifest", json.dumps(manifest).encode(), content_type="application/json"),
            Part("filename[0]", data, filename=name, content_type=media_type),
        ])
        upload_headers = {k: v for k, v in headers.items() if k != "Content-Type"}
        upload_headers["Content-Type"] = form.content_type
        answer = self.http.json("POST", "/Document", headers=upload_headers, data=form)
        _added_id(answer, self.system)

    def _find(self, headers: dict[str, str], report: Report) -> str | None:
        """The ticket an earlier attempt made of ``report`` (its marker line is in the description)."""
        params = {
            "criteria[0][field]": DESCRIPTION_FIELD,
            "criteria[0][searchtype]": "contains",
            "criteria[0][value]": str(report.id),
            "forcedisplay[0]": ID_FIELD,
            "range": "0-9",
        }
        answer = self.http.json("GET", "/search/Ticket", headers=headers, params=params)
        rows = answer.get("data") if isinstance(answer, dict) else None
        if isinstance(rows, dict):
            rows = list(rows.values())
        ids = sorted(int(str(row.get(str(ID_FIELD)))) for row in rows or []
                     if isinstance(row, dict) and str(row.get(str(ID_FIELD), "")).isdigit())
        return str(ids[0]) if ids else None

    def _documents(self, headers: dict[str, str], ticket_id: str) -> list[dict[str, Any]]:
        links = self.http.json("GET", f"/Ticket/{_segment(ticket_id)}/Document_Item", headers=headers,
                               params={"range": "0-999"})
        documents = []
        for link in links if isinstance(links, list) else []:
            if isinstance(link, dict) and str(link.get("documents_id", "")).isdigit():
                document = self.http.json("GET", f"/Document/{link['documents_id']}", headers=headers)
                if isinstance(document, dict):
                    documents.append(document)
        return documents

    def _linked_names(self, headers: dict[str, str], ticket_id: str) -> set[str]:
        return {str(d.get("filename") or d.get("name")) for d in self._documents(headers, ticket_id)}

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
        start = int(cursor) if cursor and cursor.isdigit() else 0
        size = max(1, min(limit, MAX_PAGE_SIZE))
        params: dict[str, str | int] = {"range": f"{start}-{start + size - 1}", "order": "DESC", "sort": "id"}
        if status is not None:
            params["searchText[status]"] = self.statuses.get(status, status)
        with self.session() as headers:
            response = self.http.request("GET", "/Ticket", headers=headers, params=params)
            total = _content_range_total(response.headers.get("Content-Range"))
            answer = decode_json(response, self.system)
        records = [r for r in answer if isinstance(r, dict)] if isinstance(answer, list) else []
        following = start + len(records)
        return TicketPage(
            tickets=[self._ticket(str(r.get("id")), r.get("status"), None) for r in records],
            next_cursor=str(following) if total is not None and following < total else None,
            raw=records,
        )

    def get_ticket(self, ticket_id: str) -> TicketDetail:
        with self.session() as headers:
            record = self.http.json("GET", f"/Ticket/{_segment(ticket_id)}", headers=headers)
            if not isinstance(record, dict):
                raise PermanentError(f"{self.system} sent a ticket ShowDesk cannot read", system=self.system)
            documents = self._documents(headers, ticket_id)
            report = self._manifest(headers, documents)
            followups = self.http.json("GET", f"/Ticket/{_segment(ticket_id)}/ITILFollowup", headers=headers)
        timeline: list[dict[str, Any]] = [
            {"seq": 1, "kind": "created", "at": record.get("date"), "actor": str(record.get("users_id_recipient", "")),
             "internal": False, "data": {"files": [d.get("filename") for d in documents]}}
        ]
        for number, followup in enumerate(followups if isinstance(followups, list) else [], start=2):
            if isinstance(followup, dict):
                private = bool(followup.get("is_private"))
                timeline.append({
                    "seq": number, "kind": "note" if private else "reply", "at": followup.get("date"),
                    "actor": str(followup.get("users_id", "")), "internal": private,
                    "data": {"text": followup.get("content", "")},
                })
        ticket = self._ticket(str(record.get("id", ticket_id)), record.get("status"),
                              report.id if report is not None else None)
        return TicketDetail(ticket=ticket, report=report, timeline=timeline,
                            raw={**record, "documents": documents})

    def _download(self, headers: dict[str, str], document_id: object) -> bytes:
        response = self.http.request("GET", f"/Document/{_segment(str(document_id))}",
                                     headers={**headers, "Accept": "application/octet-stream"}, stream=True)
        with response:
            data = response.raw.read(MAX_FILE_BYTES + 1, decode_content=True)
        if len(data) > MAX_FILE_BYTES:
            raise PermanentError(f"document {document_id} is larger than {MAX_FILE_BYTES} bytes", system=self.system)
        return bytes(data)

    def _manifest(self, headers: dict[str, str], documents: list[dict[str, Any]]) -> Report | None:
        found = next((d for d in documents if str(d.get("filename", "")).startswith(MANIFEST_NAME_PREFIX)), None)
        if found is None:
            return None
        try:
            return Report.model_validate_json(self._download(headers, found.get("id")))
        except ValidationError:
            return None

    def attachment(self, ticket_id: str, path: str) -> bytes:
        with self.session() as headers:
            documents = self._documents(headers, ticket_id)
            report = self._manifest(headers, documents)
            if path == MANIFEST_PATH:
                wanted = manifest_name(report.id) if report is not None else ""
            else:
                wanted = attachment_name(path, report.id if report is not None else None)
            found = next((d for d in documents if str(d.get("filename")) == wanted), None)
            if found is None:
                raise PermanentError(f"ticket {ticket_id} on {self.system} has no file {path}", system=self.system,
                                     status=404)
            data = self._download(headers, found.get("id"))
        expected = next((r for r in report.files() if r.path == path), None) if report is not None else None
        if expected is not None and sha256_hex(data) != expected.sha256:
            raise PermanentError(f"{path} on ticket {ticket_id} is not the file that was sent", system=self.system)
        return data

    def set_status(self, ticket_id: str, status: str) -> Ticket:
        native = self.statuses.get(status, status)
        if not native.isdigit():
            raise PermanentError(f"{status!r} is not a GLPI status (1-6 or one of {', '.join(self.statuses)})",
                                 system=self.system)
        with self.session() as headers:
            answer = self.http.json("PUT", f"/Ticket/{_segment(ticket_id)}", headers=headers,
                                    json={"input": {"status": int(native)}})
            results = answer if isinstance(answer, list) else [answer]
            if not any(isinstance(r, dict) and r.get(str(ticket_id)) is True for r in results):
                message = "; ".join(str(r.get("message")) for r in results if isinstance(r, dict))
                raise PermanentError(f"{self.system} did not change ticket {ticket_id}: {message}",
                                     system=self.system)
            record = self.http.json("GET", f"/Ticket/{_segment(ticket_id)}", headers=headers)
        current = record.get("status") if isinstance(record, dict) else native
        return self._ticket(ticket_id, current, None)

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> None:
        with self.session() as headers:
            answer = self.http.json("POST", f"/Ticket/{_segment(ticket_id)}/ITILFollowup", headers=headers, json={
                "input": {"itemtype": "Ticket", "items_id": int(ticket_id), "content": text,
                          "is_private": 1 if internal else 0}
            })
            _added_id(answer, self.system)


def _added_id(answer: Any, system: str) -> str:
    """The id GLPI gave an added item; ``{"id": false, "message": …}`` is a refusal in its words."""
    record = answer[0] if isinstance(answer, list) and answer else answer
    added = record.get("id") if isinstance(record, dict) else None
    if (isinstance(added, int) and not isinstance(added, bool)) or (isinstance(added, str) and added.isdigit()):
        return str(added)
    message = record.get("message") if isinstance(record, dict) else None
    raise PermanentError(f"{system} did not add the item: {message or answer!r}", system=system)


def _content_range_total(value: str | None) -> int | None:
    """The total of ``Content-Range: 0-49/200``."""
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def create(backend: BackendConfig, *, role: str = "submitter") -> GLPIConnector:
    """The registry's entry point: ``url = "https://glpi.example.org/apirest.php"``."""
    from agent.credentials import token_for

    options = Options(backend)
    if not backend.url:
        raise ConfigError(f"{options.where} needs url = \"https://glpi.example.org/apirest.php\"")
    fields = options.table("ticket_fields")
    for key in fields:
        if key in ("name", "content"):
            raise ConfigError(f"{options.where} ticket_fields cannot set {key}; ShowDesk writes it from the report")
    if any(not value.isdigit() for value in fields.values()):
        raise ConfigError(f"{options.where} ticket_fields take GLPI ids (numbers), e.g. itilcategories_id = 12")
    return GLPIConnector(
        backend.url,
        user_token=lambda: token_for(backend, role),
        app_token=lambda: app_token_for(backend),
        ticket_fields=fields,
        max_upload_size=options.size("max_upload_size", DEFAULT_MAX_UPLOAD_SIZE),
        max_request_size=options.size("max_request_size", None),
        statuses=options.table("statuses"),
        web_url=options.text("web_url"),
        ca_bundle=backend.ca_bundle,
        connect_timeout=backend.connect_timeout,
        read_timeout=backend.read_timeout,
        proxy=backend.proxy,
    )


__all__ = ["APP_TOKEN_ENV", "APP_TOKEN_ROLE", "GLPIConnector", "app_token_for", "create"]
