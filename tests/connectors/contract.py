"""Local stand-ins for Zammad and GLPI that hold connectors to each project's documented API.

Neither system can run on these machines, so these servers replay the requests and answers
their projects document (Zammad: docs.zammad.org "API" pages for tickets, articles and states;
GLPI: apirest.md in the GLPI repository). Each request is checked against the documented shape;
anything else is recorded in ``violations`` and answered 400, so a test fails on it. The
servers keep just enough state (tickets, articles, documents) to answer the read side.

They are HTTP servers on 127.0.0.1, so connectors talk to them over real sockets.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import hashlib
import itertools
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit


class ContractViolationError(Exception):
    """A request that does not follow the documented API."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    def json(self) -> Any:
        if "application/json" not in (self.headers.get("Content-Type") or ""):
            raise ContractViolationError(f"{self.method} {self.path}: JSON body without Content-Type: application/json")
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ContractViolationError(f"{self.method} {self.path}: body is not JSON: {exc}") from exc

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def form(self) -> list[FormPart]:
        content_type = self.headers.get("Content-Type") or ""
        if not content_type.startswith("multipart/form-data"):
            raise ContractViolationError(f"{self.method} {self.path}: not multipart/form-data: {content_type!r}")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + self.body
        )
        parts = []
        for part in message.iter_parts():
            disposition = dict((part.get_params(header="content-disposition") or [])[1:])
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            parts.append(FormPart(disposition.get("name", ""), disposition.get("filename"),
                                  part.get("Content-Type"), payload))
        return parts


@dataclass
class FormPart:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json; charset=utf-8",
                                                        **(headers or {})})


@dataclass
class Fault:
    """A scripted failure: answer ``response`` to the matching request, after doing the work if ``lost``."""

    method: str
    path: str  # a regular expression matched against the whole path
    response: Response
    lost: bool = False  # do the work, then answer ``response`` (the answer got lost on the way)
    skip: int = 0  # let this many matching requests through first


App = Callable[[Request], Response]


class ContractServer:
    """An HTTP server on 127.0.0.1 running ``app``; records requests, violations and scripted faults."""

    def __init__(self, app: App, *, max_body: int | None = None) -> None:
        self.app = app
        self.max_body = max_body
        self.received: list[Request] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="contract-server", daemon=True)

    def __enter__(self) -> ContractServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def fail(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def requests(self, method: str, pattern: str) -> list[Request]:
        return [r for r in self.received if r.method == method and re.fullmatch(pattern, r.path)]

    def _fault_for(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == request.method and re.fullmatch(fault.path, request.path):
                    if fault.skip:
                        fault.skip -= 1
                        return None
                    self.faults.remove(fault)
                    return fault
        return None

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.received.append(request)
        if self.max_body is not None and len(request.body) > self.max_body:
            # What nginx in front of the application answers: the application never sees it.
            return Response(413, b"<html><head><title>413 Request Entity Too Large</title></head></html>",
                            {"Content-Type": "text/html"})
        fault = self._fault_for(request)
        if fault is not None and not fault.lost:
            return fault.response
        try:
            response = self.app(request)
        except ContractViolationError as exc:
            with self._lock:
                self.violations.append(str(exc))
            return Response.json(400, {"error": f"contract violation: {exc}"})
        return fault.response if fault is not None else response

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; without this each answer waits for a delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, parse_qs(parts.query), self.headers, body)
                response = server.handle(request)
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = _handle  # noqa: N815 - http.server's naming
            do_POST = _handle  # noqa: N815 - http.server's naming
            do_PUT = _handle  # noqa: N815 - http.server's naming
            do_DELETE = _handle  # noqa: N815 - http.server's naming
            do_PATCH = _handle  # noqa: N815 - http.server's naming

        return Handler


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ContractViolationError(message)


# ---------------------------------------------------------------- Zammad
ZAMMAD_STATES = [  # GET /api/v1/ticket_states, as documented (ids and names of a fresh Zammad)
    {"id": 1, "state_type_id": 1, "name": "new", "active": True},
    {"id": 2, "state_type_id": 2, "name": "open", "active": True},
    {"id": 3, "state_type_id": 3, "name": "pending reminder", "active": True},
    {"id": 4, "state_type_id": 5, "name": "closed", "active": True},
    {"id": 5, "state_type_id": 6, "name": "merged", "active": True},
    {"id": 6, "state_type_id": 7, "name": "removed", "active": False},
    {"id": 7, "state_type_id": 4, "name": "pending close", "active": True},
]
ZAMMAD_ARTICLE_TYPES = ("email", "sms", "chat", "fax", "phone", "twitter status", "twitter direct-message",
                        "facebook feed post", "facebook feed comment", "note", "web", "telegram personal-message")


class FakeZammad:
    """Zammad's /api/v1 for tickets, articles, attachments and states, per docs.zammad.org."""

    def __init__(self, token: str, *, custom_fields: tuple[str, ...] = ()) -> None:
        self.token = token
        self.custom_fields = custom_fields
        self.tickets: dict[int, dict[str, Any]] = {}
        self.articles: dict[int, list[dict[str, Any]]] = {}
        self.files: dict[int, bytes] = {}
        self.customers: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._article_ids = itertools.count(1)
        self._file_ids = itertools.count(1)

    def __call__(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Token token={self.token}":
            return Response.json(401, {"error": "authentication failed", "error_human": "Authentication failed"})
        path = request.path
        if request.method == "GET" and path == "/api/v1/ticket_states":
            return Response.json(200, ZAMMAD_STATES)
        if request.method == "POST" and path == "/api/v1/tickets":
            return self._create(request.json())
        if request.method == "GET" and path == "/api/v1/tickets":
            page, per_page = int(request.param("page") or 1), int(request.param("per_page") or 100)
            records = self._sorted(request, list(self.tickets.values()))
            return Response.json(200, records[(page - 1) * per_page: page * per_page])
        if request.method == "GET" and path == "/api/v1/tickets/search":
            return self._search(request)
        if match := re.fullmatch(r"/api/v1/tickets/(\d+)", path):
            ticket = self.tickets.get(int(match.group(1)))
            if ticket is None:
                return Response.json(404, {"error": f"Couldn't find Ticket with 'id'={match.group(1)}"})
            if request.method == "GET":
                return Response.json(200, ticket)
            if request.method == "PUT":
                return self._update(ticket, request.json())
        if match := re.fullmatch(r"/api/v1/ticket_articles/by_ticket/(\d+)", path):
            return Response.json(200, self.articles.get(int(match.group(1)), []))
        if request.method == "POST" and path == "/api/v1/ticket_articles":
            data = request.json()
            ticket_id = data.get("ticket_id")
            _require(isinstance(ticket_id, int) and ticket_id in self.tickets, f"ticket_id {ticket_id!r} is unknown")
            article = self._article(ticket_id, data)
            return Response.json(201, article)
        if match := re.fullmatch(r"/api/v1/ticket_attachment/(\d+)/(\d+)/(\d+)", path):
            data = self.files.get(int(match.group(3)))
            if data is None:
                return Response.json(404, {"error": "Couldn't find Store"})
            return Response(200, data, {"Content-Type": "application/octet-stream"})
        raise ContractViolationError(f"{request.method} {path} is not an endpoint ShowDesk should call")

    def _article(self, ticket_id: int, data: dict[str, Any]) -> dict[str, Any]:
        _require(isinstance(data.get("body"), str) and data["body"] != "", "an article needs a body")
        _require(data.get("type") in ZAMMAD_ARTICLE_TYPES, f"article type {data.get('type')!r} is not a Zammad type")
        _require(isinstance(data.get("internal"), bool), "article internal must be true or false")
        _require(data.get("content_type") in ("text/plain", "text/html"), "content_type must be text/plain or html")
        attachments = []
        for attachment in data.get("attachments") or []:
            _require(set(attachment) == {"filename", "data", "mime-type"},
                     f"an attachment has exactly filename, data, mime-type; got {sorted(attachment)}")
            try:
                content = base64.b64decode(attachment["data"], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ContractViolationError(f"attachment {attachment['filename']} data is not base64: {exc}") from exc
            file_id = next(self._file_ids)
            self.files[file_id] = content
            attachments.append({"id": file_id, "filename": attachment["filename"], "size": str(len(content)),
                                "preferences": {"Mime-Type": attachment["mime-type"]}})
        article = {
            "id": next(self._article_ids), "ticket_id": ticket_id, "from": "ShowDesk Kiosk", "to": "", "cc": "",
            "subject": data.get("subject"), "body": data["body"], "content_type": data["content_type"],
            "type": data["type"], "internal": data["internal"], "attachments": attachments,
            "created_at": _now(), "updated_at": _now(),
        }
        self.articles.setdefault(ticket_id, []).append(article)
        self.tickets[ticket_id]["article_count"] = len(self.articles[ticket_id])
        self.tickets[ticket_id]["article_ids"] = [a["id"] for a in reversed(self.articles[ticket_id])]
        return article

    def _create(self, data: Any) -> Response:
        _require(isinstance(data, dict), "the ticket is a JSON object")
        allowed = {"title", "group", "group_id", "customer", "customer_id", "article", "priority", "state",
                   "note", "mentions", *self.custom_fields}
        _require(not set(data) - allowed, f"unknown ticket attributes {sorted(set(data) - allowed)}")
        _require(isinstance(data.get("title"), str) and data["title"], "a ticket needs a title")
        _require(isinstance(data.get("group"), str) and data["group"], "a ticket needs a group")
        customer = data.get("customer_id")
        _require(customer is None or (isinstance(customer, str) and customer.startswith("guess:")),
                 "customer_id by e-mail must be guess:<address>")
        _require(isinstance(data.get("article"), dict), "a ticket is created with its first article")
        ticket_id = next(self._ids)
        customer_id = 2
        if isinstance(customer, str):
            customer_id = self.customers.setdefault(customer.removeprefix("guess:"), 10 + len(self.customers))
        ticket = {
            "id": ticket_id, "group_id": 2, "priority_id": 2, "state_id": 1, "organization_id": None,
            "number": str(22000 + ticket_id), "title": data["title"], "owner_id": 1, "customer_id": customer_id,
            "note": None, "create_article_type_id": 10, "create_article_sender_id": 1, "article_count": 0,
            "pending_time": None, "preferences": {}, "updated_by_id": 3, "created_by_id": 3,
            "created_at": _now(), "updated_at": _now(), "article_ids": [], "ticket_time_accounting_ids": [],
        }
        for name in self.custom_fields:
            ticket[name] = data.get(name)
        self.tickets[ticket_id] = ticket
        self._article(ticket_id, data["article"])
        return Response.json(201, ticket)

    def _update(self, ticket: dict[str, Any], data: Any) -> Response:
        names = {s["name"]: s["id"] for s in ZAMMAD_STATES}
        if "state" in data:
            _require(data["state"] in names, f"state {data['state']!r} is not a Zammad state")
            if str(data["state"]).startswith("pending"):
                if not data.get("pending_time"):
                    return Response.json(422, {"error": "Missing required value for field 'pending_time'!"})
                ticket["pending_time"] = data["pending_time"]
            ticket["state_id"] = names[data["state"]]
        ticket["updated_at"] = _now()
        return Response.json(200, ticket)

    @staticmethod
    def _sorted(request: Request, tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``sort_by`` a ticket attribute, ``order_by`` asc or desc (docs: "Sorting search results")."""
        order = request.param("order_by") or "asc"
        _require(order in ("asc", "desc"), f"order_by is asc or desc, not {order!r}")
        key = request.param("sort_by") or "id"
        _require(all(key in t for t in tickets), f"sort_by {key!r} is not a ticket attribute")
        return sorted(tickets, key=lambda t: (t[key], t["id"]), reverse=order == "desc")

    def _search(self, request: Request) -> Response:
        query = request.param("query") or ""
        limit = int(request.param("limit") or 10)
        found = []
        if match := re.fullmatch(r'state\.name:"([^"]+)"', query):
            state = next((s["id"] for s in ZAMMAD_STATES if s["name"] == match.group(1)), None)
            found = [t for t in self.tickets.values() if t["state_id"] == state]
        elif match := re.fullmatch(r'(\w+):"([^"]+)"', query):
            found = [t for t in self.tickets.values() if str(t.get(match.group(1))) == match.group(2)]
        elif match := re.fullmatch(r'"([^"]+)"', query):
            found = [t for t in self.tickets.values()
                     if any(match.group(1) in a["body"] for a in self.articles.get(t["id"], []))]
        else:
            raise ContractViolationError(f"search query {query!r} is not one ShowDesk should send")
        found = self._sorted(request, found)[:limit]
        return Response.json(200, {
            "tickets": [t["id"] for t in found],
            "tickets_count": len(found),
            "assets": {"Ticket": {str(t["id"]): t for t in found}},
        })


# ---------------------------------------------------------------- GLPI
class FakeGLPI:
    """GLPI's apirest.php for sessions, tickets, documents and follow-ups, per GLPI's apirest.md."""

    def __init__(self, user_token: str, *, app_token: str | None = None, document_max_size: int | None = None) -> None:
        self.user_token = user_token
        self.app_token = app_token
        self.document_max_size = document_max_size
        self.sessions: set[str] = set()
        self.killed: list[str] = []
        self.tickets: dict[int, dict[str, Any]] = {}
        self.documents: dict[int, dict[str, Any]] = {}
        self.contents: dict[int, bytes] = {}
        self.links: list[dict[str, Any]] = []
        self.followups: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def _error(self, status: int, code: str, message: str) -> Response:
        return Response.json(status, [code, message])

    def __call__(self, request: Request) -> Response:
        path = request.path.removeprefix("/apirest.php")
        _require("Content-Type" in request.headers, f"{request.method} {path}: every call states a Content-Type")
        if request.method == "GET":
            _require(not request.body, f"GET {path} must have an empty body")
        if self.app_token is not None and request.headers.get("App-Token") != self.app_token:
            if request.headers.get("App-Token") is None:
                return self._error(400, "ERROR_APP_TOKEN_PARAMETERS_MISSING", "missing parameter app_token")
            return self._error(400, "ERROR_WRONG_APP_TOKEN_PARAMETER", "parameter app_token seems wrong")
        if request.method == "GET" and path in ("/initSession", "/initSession/"):
            authorization = request.headers.get("Authorization") or ""
            _require(authorization.startswith("user_token "), "initSession with a user token: 'user_token <token>'")
            if authorization != f"user_token {self.user_token}":
                return self._error(401, "ERROR_GLPI_LOGIN_USER_TOKEN", "parameter user_token seems invalid")
            session = secrets.token_hex(20)
            self.sessions.add(session)
            return Response.json(200, {"session_token": session})
        given = request.headers.get("Session-Token")
        if given is None:
            return self._error(400, "ERROR_SESSION_TOKEN_MISSING", "parameter session_token is missing or empty")
        session = given
        if session not in self.sessions:
            return self._error(401, "ERROR_SESSION_TOKEN_INVALID", "session_token seems invalid")
        if request.method == "GET" and path in ("/killSession", "/killSession/"):
            self.sessions.discard(session)
            self.killed.append(session)
            return Response.json(200, True)
        if request.method == "GET" and path == "/search/Ticket":
            return self._search(request)
        if request.method == "POST" and path in ("/Ticket", "/Ticket/"):
            return self._add_ticket(request.json())
        if request.method == "GET" and path in ("/Ticket", "/Ticket/"):
            return self._all_tickets(request)
        if request.method == "POST" and path in ("/Document", "/Document/"):
            return self._add_document(request)
        if match := re.fullmatch(r"/Ticket/(\d+)", path):
            ticket = self.tickets.get(int(match.group(1)))
            if ticket is None:
                return self._error(404, "ERROR_ITEM_NOT_FOUND", "Item not found")
            if request.method == "GET":
                return Response.json(200, ticket)
            if request.method == "PUT":
                data = request.json()
                _require(isinstance(data.get("input"), dict), "an update sends {'input': {...}}")
                if "status" in data["input"]:
                    _require(data["input"]["status"] in range(1, 7), "status is 1..6")
                    ticket["status"] = data["input"]["status"]
                return Response.json(200, [{str(ticket["id"]): True, "message": ""}])
        if match := re.fullmatch(r"/Ticket/(\d+)/Document_Item", path):
            rows = [link for link in self.links if link["items_id"] == int(match.group(1))]
            return Response.json(200, rows, {"Content-Range": f"0-{max(len(rows) - 1, 0)}/{len(rows)}"})
        if match := re.fullmatch(r"/Ticket/(\d+)/ITILFollowup", path):
            ticket_id = int(match.group(1))
            if request.method == "GET":
                return Response.json(200, [f for f in self.followups if f["items_id"] == ticket_id])
            data = request.json().get("input")
            _require(isinstance(data, dict) and data.get("itemtype") == "Ticket" and data.get("items_id") == ticket_id,
                     "a follow-up names itemtype Ticket and items_id")
            _require(data.get("is_private") in (0, 1), "is_private is 0 or 1")
            followup = {"id": next(self._ids), "itemtype": "Ticket", "items_id": ticket_id, "date": _now(),
                        "users_id": 7, "content": data.get("content"), "is_private": data["is_private"]}
            self.followups.append(followup)
            return Response.json(201, {"id": followup["id"], "message": ""})
        if match := re.fullmatch(r"/Document/(\d+)", path):
            document = self.documents.get(int(match.group(1)))
            if document is None:
                return self._error(404, "ERROR_ITEM_NOT_FOUND", "Item not found")
            if request.headers.get("Accept") == "application/octet-stream":
                return Response(200, self.contents[document["id"]], {"Content-Type": document["mime"]})
            return Response.json(200, document)
        raise ContractViolationError(f"{request.method} {path} is not an endpoint ShowDesk should call")

    def _search(self, request: Request) -> Response:
        _require(request.param("criteria[0][field]") == "21", "the description is search option 21")
        _require(request.param("criteria[0][searchtype]") == "contains", "searchtype contains")
        value = request.param("criteria[0][value]") or ""
        found = [t for t in self.tickets.values() if value and value in t["content"]]
        rows = [{"2": t["id"], "1": t["name"], "80": "Root entity"} for t in found]
        return Response.json(200, {"totalcount": len(rows), "count": len(rows), "sort": [1], "order": ["ASC"],
                                   "data": rows, "content-type": "application/json"})

    def _add_ticket(self, data: Any) -> Response:
        _require(isinstance(data, dict) and isinstance(data.get("input"), dict), "an add sends {'input': {...}}")
        fields = data["input"]
        _require(isinstance(fields.get("name"), str) and fields["name"], "a ticket needs a name")
        _require(isinstance(fields.get("content"), str) and fields["content"], "a ticket needs content")
        ticket_id = next(self._ids)
        self.tickets[ticket_id] = {
            "id": ticket_id, "entities_id": fields.get("entities_id", 0), "name": fields["name"],
            "date": "2024-05-01 12:00:00", "status": 1, "users_id_recipient": 7, "content": fields["content"],
            "urgency": fields.get("urgency", 3), "type": fields.get("type", 1),
            "itilcategories_id": fields.get("itilcategories_id", 0),
        }
        return Response.json(201, {"id": ticket_id, "message": ""},
                             {"Location": f"http://glpi.example/apirest.php/Ticket/{ticket_id}"})

    def _all_tickets(self, request: Request) -> Response:
        start, end = (int(x) for x in (request.param("range") or "0-49").split("-"))
        records = sorted(self.tickets.values(), key=lambda t: t["id"],
                         reverse=(request.param("order") == "DESC"))
        status = request.param("searchText[status]")
        if status is not None:
            records = [t for t in records if str(t["status"]) == status]
        page = records[start: end + 1]
        status_code = 206 if len(page) < len(records) else 200
        return Response.json(status_code, page, {"Content-Range": f"{start}-{start + len(page) - 1}/{len(records)}",
                                                 "Accept-Range": "Ticket 1000"})

    def _add_document(self, request: Request) -> Response:
        parts = request.form()
        manifests = [p for p in parts if p.name == "uploadManifest"]
        _require(len(manifests) == 1 and manifests[0].filename is None, "one uploadManifest form field")
        try:
            manifest = json.loads(manifests[0].data)
        except ValueError as exc:
            raise ContractViolationError(f"uploadManifest is not JSON: {exc}") from exc
        fields = manifest.get("input") if isinstance(manifest, dict) else None
        _require(isinstance(fields, dict), "uploadManifest holds {'input': {...}}")
        assert isinstance(fields, dict)
        names = fields.get("_filename")
        _require(isinstance(names, list) and len(names) == 1, "_filename lists the uploaded file")
        assert isinstance(names, list)
        files = [p for p in parts if p.filename is not None]
        _require(len(files) == 1 and files[0].name in ("filename[0]", "filename[]"), "the file part is filename[0]")
        _require(files[0].filename == names[0], "the file part's name is the one in _filename")
        _require(fields.get("itemtype") == "Ticket" and fields.get("items_id") in self.tickets,
                 "the document is linked with itemtype Ticket and an existing items_id")
        data = files[0].data
        if self.document_max_size is not None and len(data) > self.document_max_size:
            return self._error(400, "ERROR_GLPI_ADD", f"File too big ({len(data)} > {self.document_max_size})")
        document_id = next(self._ids)
        self.documents[document_id] = {
            "id": document_id, "entities_id": 0, "name": fields.get("name", names[0]), "filename": names[0],
            "filepath": f"PNG/{hashlib.sha1(data).hexdigest()}.png",  # noqa: S324 - GLPI names files by sha1
            "mime": files[0].content_type or "application/octet-stream",
            "sha1sum": hashlib.sha1(data).hexdigest(),  # noqa: S324 - what GLPI stores
        }
        self.contents[document_id] = data
        self.links.append({"id": len(self.links) + 1, "documents_id": document_id, "items_id": fields["items_id"],
                           "itemtype": "Ticket", "entities_id": 0})
        return Response.json(201, {"id": document_id, "message": "Document move succeeded.",
                                   "upload_result": {"filename": [{"name": names[0], "size": len(data)}]}},
                             {"Location": f"http://glpi.example/apirest.php/Document/{document_id}"})


# ---------------------------------------------------------------- shared by the fakes below
def _basic(request: Request) -> tuple[str, str] | None:
    """The (user, password) of an ``Authorization: Basic`` header, or None."""
    header = request.headers.get("Authorization") or ""
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, ValueError) as exc:
        raise ContractViolationError(f"Authorization: Basic is not base64 of user:password: {exc}") from exc
    return user, password


def _one_file(request: Request, name: str) -> FormPart:
    parts = request.form()
    files = [p for p in parts if p.filename is not None]
    _require(len(files) == 1 and files[0].name == name, f"{request.path}: one file part named {name!r}")
    return files[0]


# ---------------------------------------------------------------- Jira (Service Management and platform)
class FakeJira:
    """Jira Cloud (API 3) or Data Center (API 2) with Jira Service Management, per developer.atlassian.com:
    servicedeskapi request / attachTemporaryFile / request attachment, platform issue / attachments /
    search (JQL ``labels = "…"`` and ``text ~ "…"``) / user search.

    ``email`` set: API-token basic auth; otherwise a personal access token as Bearer.
    """

    def __init__(self, token: str, *, email: str | None = "agent@example.org", api_version: str = "3",
                 users: dict[str, str] | None = None, max_attachment: int | None = None,
                 request_type_fields: tuple[str, ...] = ("summary", "description", "labels", "priority")) -> None:
        self.token = token
        self.email = email
        self.api_version = api_version
        self.users = users or {"ann@example.org": "5b10ac8d82e05b22cc7d4ef5"}  # e-mail → accountId / name
        self.max_attachment = max_attachment
        self.request_type_fields = request_type_fields
        self.issues: dict[str, dict[str, Any]] = {}
        self.temporary: dict[str, tuple[str, str | None, bytes]] = {}
        self.files: dict[str, list[tuple[str, str | None, bytes]]] = {}
        self.requests_raised: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(10001)

    def _authorized(self, request: Request) -> bool:
        if self.email is None:
            return request.headers.get("Authorization") == f"Bearer {self.token}"
        return _basic(request) == (self.email, self.token)

    def __call__(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response.json(401, {"errorMessages": ["You are not authenticated. Authentication required."]})
        path, api = request.path, f"/rest/api/{self.api_version}"
        answer = self._read_side(request, api)
        if answer is not None:
            return answer
        if request.method == "POST" and path == "/rest/servicedeskapi/request":
            return self._raise_request(request.json())
        if match := re.fullmatch(r"/rest/servicedeskapi/servicedesk/(\w+)/attachTemporaryFile", path):
            _require(request.method == "POST", "attachTemporaryFile is a POST")
            _require(request.headers.get("X-Atlassian-Token") == "no-check", "multipart needs X-Atlassian-Token")
            files = [p for p in request.form() if p.filename is not None]
            _require(bool(files) and all(p.name == "file" for p in files), "the parts are named file")
            for part in files:
                if self.max_attachment is not None and len(part.data) > self.max_attachment:
                    return Response.json(413, {"errorMessage": f"The file {part.filename} is too large"})
            kept = []
            for part in files:
                temporary_id = secrets.token_hex(16)
                self.temporary[temporary_id] = (part.filename or "", part.content_type, part.data)
                kept.append({"temporaryAttachmentId": temporary_id, "fileName": part.filename})
            return Response.json(201, {"temporaryAttachments": kept})
        if match := re.fullmatch(r"/rest/servicedeskapi/request/([A-Z]+-\d+)/attachment", path):
            data = request.json()
            _require(isinstance(data.get("temporaryAttachmentIds"), list) and data["temporaryAttachmentIds"],
                     "temporaryAttachmentIds lists the temporary files")
            _require(isinstance(data.get("public"), bool), "public is true or false")
            issue = self.issues.get(match.group(1))
            if issue is None:
                return Response.json(404, {"errorMessage": "Request does not exist"})
            for temporary_id in data["temporaryAttachmentIds"]:
                _require(temporary_id in self.temporary, f"temporary attachment {temporary_id} is unknown")
                self.files[issue["key"]].append(self.temporary.pop(temporary_id))
            kept = [{"filename": f[0]} for f in self.files[issue["key"]]]
            return Response.json(201, {"attachments": {"values": kept}})
        if request.method == "GET" and (match := re.fullmatch(r"/rest/servicedeskapi/request/([A-Z]+-\d+)", path)):
            raised = self.requests_raised.get(match.group(1))
            if raised is None:
                return Response.json(404, {"errorMessage": "Request does not exist"})
            return Response.json(200, {"issueKey": match.group(1), "serviceDeskId": raised["serviceDeskId"],
                                       "requestTypeId": raised["requestTypeId"],
                                       "_links": self._request_links(match.group(1), str(raised["serviceDeskId"]))})
        if request.method == "POST" and path == f"{api}/issue":
            return self._create_issue(request.json())
        if match := re.fullmatch(rf"{api}/issue/([A-Z]+-\d+)/attachments", path):
            _require(request.headers.get("X-Atlassian-Token") == "no-check", "multipart needs X-Atlassian-Token")
            part = _one_file(request, "file")
            if self.max_attachment is not None and len(part.data) > self.max_attachment:
                return Response.json(413, {"errorMessages": [f"The file {part.filename} is too large"]})
            self.files[match.group(1)].append((part.filename or "", part.content_type, part.data))
            return Response.json(200, [{"id": str(next(self._ids)), "filename": part.filename,
                                        "size": len(part.data), "mimeType": part.content_type}])
        if match := re.fullmatch(rf"{api}/issue/([A-Z]+-\d+)", path):
            issue = self.issues.get(match.group(1))
            if issue is None:
                return Response.json(404, {"errorMessages": ["Issue does not exist"]})
            return Response.json(200, self._issue_view(issue, request.headers.get("Host") or ""))
        if request.method == "GET" and path == (f"{api}/search/jql" if self.api_version == "3" else f"{api}/search"):
            return self._search(request)
        if request.method == "GET" and path == f"{api}/user/search":
            query = request.param("query" if self.api_version == "3" else "username") or ""
            _require(bool(query), "user search needs query (Cloud) or username (Data Center)")
            key = "accountId" if self.api_version == "3" else "name"
            return Response.json(200, [{key: value, "emailAddress": email, "displayName": "Ann Example"}
                                       for email, value in self.users.items() if email == query])
        raise ContractViolationError(f"{request.method} {path} is not an endpoint ShowDesk should call")

    # The workflow of the stand-in: Jira Service Management's IT service management statuses, or a basic
    # project's; any status can move to any other (one transition each, named after its target).
    SERVICE_DESK_WORKFLOW: ClassVar[dict[str, str]] = {"Waiting for support": "new", "In Progress": "indeterminate",
                             "Waiting for customer": "indeterminate", "Resolved": "done", "Closed": "done"}
    PROJECT_WORKFLOW: ClassVar[dict[str, str]] = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}

    def _workflow(self, key: str) -> dict[str, str]:
        return self.SERVICE_DESK_WORKFLOW if key.startswith("HELP-") else self.PROJECT_WORKFLOW

    def _issue_view(self, issue: dict[str, Any], host: str) -> dict[str, Any]:
        key = issue["key"]
        base = f"http://{host}"  # Jira gives the content address absolute
        attachments = [{"id": attachment_id, "filename": f[0], "size": len(f[2]), "mimeType": f[1],
                        "content": f"{base}/secure/attachment/{attachment_id}/{f[0]}"}
                       for attachment_id, f in self.attachment_ids(key)]
        comments = list(self.comments.get(key, []))
        return {**issue, "fields": {**issue["fields"], "attachment": attachments, "comment": {
            "comments": comments, "maxResults": len(comments), "total": len(comments), "startAt": 0}}}

    def attachment_ids(self, key: str) -> list[tuple[str, tuple[str, str | None, bytes]]]:
        return [(f"{int(self.issues[key]['id']) * 100 + n}", f) for n, f in enumerate(self.files[key])]

    def _read_side(self, request: Request, api: str) -> Response | None:
        """Who am I, attachment downloads, transitions and comments, for the technician's read side."""
        path = request.path
        if request.method == "GET" and path == f"{api}/myself":
            return Response.json(200, {"accountId" if self.api_version == "3" else "name": "helpdesk-bot",
                                       "displayName": "Helpdesk Bot", "emailAddress": self.email})
        download = (re.fullmatch(rf"{api}/attachment/content/(\d+)", path) if self.api_version == "3"
                    else re.fullmatch(r"/secure/attachment/(\d+)/[^/]+", path))
        if download and request.method == "GET":
            _require(self.api_version != "3" or request.param("redirect") == "false",
                     "a client that does not follow redirects asks for redirect=false")
            for key in self.issues:
                for attachment_id, file in self.attachment_ids(key):
                    if attachment_id == download.group(1):
                        return Response(200, file[2], {"Content-Type": file[1] or "application/octet-stream"})
            return Response.json(404, {"errorMessages": ["The attachment does not exist"]})
        if match := re.fullmatch(rf"{api}/issue/([A-Z]+-\d+)/transitions", path):
            key = match.group(1)
            _require(key in self.issues, f"issue {key} is unknown")
            workflow = self._workflow(key)
            if request.method == "GET":
                return Response.json(200, {"transitions": [
                    {"id": str(11 + n), "name": f"Move to {name}", "to": {"name": name, "statusCategory": {
                        "key": category}}} for n, (name, category) in enumerate(workflow.items())]})
            chosen = request.json().get("transition", {}).get("id")
            names = list(workflow)
            _require(isinstance(chosen, str) and chosen.isdigit() and 0 <= int(chosen) - 11 < len(names),
                     f"transition {chosen!r} is not one the issue offers")
            name = names[int(chosen) - 11]
            self.issues[key]["fields"]["status"] = {"name": name, "statusCategory": {"key": workflow[name]}}
            return Response(204)
        if match := re.fullmatch(r"/rest/servicedeskapi/request/([A-Z]+-\d+)/comment", path):
            key = match.group(1)
            if request.method == "GET":
                values = [{"id": c["id"], "body": c["body"], "public": c["public"], "author": c["author"],
                           "created": {"iso8601": c["created"]}} for c in self.comments.get(key, [])]
                return Response.json(200, {"size": len(values), "start": 0, "limit": 100, "isLastPage": True,
                                           "values": values})
            data = request.json()
            _require(isinstance(data.get("body"), str) and isinstance(data.get("public"), bool),
                     "a request comment has body (text) and public (true or false)")
            self._comment(key, data["body"], public=data["public"])
            return Response.json(201, self.comments[key][-1])
        if request.method == "POST" and (match := re.fullmatch(rf"{api}/issue/([A-Z]+-\d+)/comment", path)):
            body = request.json().get("body")
            _require(isinstance(body, dict) and body.get("type") == "doc" if self.api_version == "3"
                     else isinstance(body, str), "a comment body is ADF on API 3, text on API 2")
            self._comment(match.group(1), body, public=True)
            return Response.json(201, self.comments[match.group(1)][-1])
        return None

    def _comment(self, key: str, body: Any, *, public: bool) -> None:
        self.comments.setdefault(key, []).append({
            "id": str(next(self._ids)), "body": body, "public": public, "created": _now(),
            "author": {"displayName": "Helpdesk Bot", "emailAddress": self.email}})

    def _new_issue(self, project: str, fields: dict[str, Any]) -> dict[str, Any]:
        number = len([k for k in self.issues if k.startswith(f"{project}-")]) + 1
        issue_id = str(next(self._ids))
        key = f"{project}-{number}"
        first = next(iter(self._workflow(key).items()))
        fields = {**fields, "status": {"name": first[0], "statusCategory": {"key": first[1]}},
                  "created": _now(), "updated": _now()}
        issue = {"id": issue_id, "key": key, "self": f"https://jira.example/rest/api/{self.api_version}/issue/{issue_id}",
                 "fields": fields}
        self.issues[key] = issue
        self.files[key] = []
        return issue

    def _raise_request(self, data: Any) -> Response:
        _require(isinstance(data, dict), "a request is a JSON object")
        allowed = {"serviceDeskId", "requestTypeId", "requestFieldValues", "raiseOnBehalfOf", "requestParticipants",
                   "channel"}
        _require(not set(data) - allowed, f"unknown request attributes {sorted(set(data) - allowed)}")
        _require(isinstance(data.get("serviceDeskId"), str) and isinstance(data.get("requestTypeId"), str),
                 "serviceDeskId and requestTypeId are strings")
        values = data.get("requestFieldValues")
        _require(isinstance(values, dict) and isinstance(values.get("summary"), str), "requestFieldValues.summary")
        assert isinstance(values, dict)
        unknown = set(values) - set(self.request_type_fields)
        if unknown:
            message = f"Field '{sorted(unknown)[0]}' is not valid for this request type"
            return Response.json(400, {"errorMessage": message,
                                       "i18nErrorMessage": {"i18nKey": "sd.validation.field.invalid"}})
        _require(isinstance(values.get("description", ""), str), "a request's description is text")
        on_behalf = data.get("raiseOnBehalfOf")
        if on_behalf is not None and on_behalf not in self.users.values():
            return Response.json(400, {"errorMessage": f"The user '{on_behalf}' does not exist"})
        issue = self._new_issue("HELP", {"summary": values["summary"], "description": values.get("description"),
                                         "labels": values.get("labels", []), "reporter": on_behalf})
        self.requests_raised[issue["key"]] = data
        return Response.json(201, {"issueId": issue["id"], "issueKey": issue["key"], "requestTypeId":
                                   data["requestTypeId"], "serviceDeskId": data["serviceDeskId"],
                                   "currentStatus": {"status": "Waiting for support"},
                                   "_links": self._request_links(issue["key"], str(data["serviceDeskId"]))})

    @staticmethod
    def _request_links(key: str, service_desk_id: str) -> dict[str, str]:
        # Jira builds these from its own base URL, which need not be the address ShowDesk calls (a public
        # name in front of an internal one): the stand-in says so with another host.
        return {"web": f"https://jira.example/servicedesk/customer/portal/{service_desk_id}/{key}",
                "agent": f"https://jira.example/browse/{key}"}

    def _create_issue(self, data: Any) -> Response:
        fields = data.get("fields") if isinstance(data, dict) else None
        _require(isinstance(fields, dict), "an issue is created with {'fields': {...}}")
        assert isinstance(fields, dict)
        _require(isinstance(fields.get("project"), dict) and "key" in fields["project"], "fields.project.key")
        _require(isinstance(fields.get("issuetype"), dict), "fields.issuetype")
        _require(isinstance(fields.get("summary"), str) and fields["summary"], "fields.summary")
        description = fields.get("description")
        if self.api_version == "3":
            _require(isinstance(description, dict) and description.get("type") == "doc" and description.get("version")
                     == 1, "API 3 takes the description as an Atlassian Document Format document")
        else:
            _require(isinstance(description, str), "API 2 takes the description as text")
        _require(all(isinstance(label, str) and " " not in label for label in fields.get("labels", [])),
                 "labels are strings without spaces")
        issue = self._new_issue(fields["project"]["key"], dict(fields))
        return Response.json(201, {"id": issue["id"], "key": issue["key"], "self": issue["self"]})

    def _search(self, request: Request) -> Response:
        jql = request.param("jql") or ""
        listing = re.fullmatch(r'labels = "showdesk"(?: AND status = "([^"]+)")? ORDER BY created DESC', jql)
        if listing:
            found = [i for i in reversed(list(self.issues.values())) if "showdesk" in i["fields"].get("labels", [])
                     and listing.group(1) in (None, i["fields"]["status"]["name"])]
            size = int(request.param("maxResults") or 50)
            if self.api_version == "3":
                start = int(request.param("nextPageToken") or 0)
                page = found[start: start + size]
                more = start + size < len(found)
                return Response.json(200, {"issues": page, **({"nextPageToken": str(start + size)} if more else {}),
                                           "isLast": not more})
            start = int(request.param("startAt") or 0)
            return Response.json(200, {"startAt": start, "maxResults": size, "total": len(found),
                                       "issues": found[start: start + size]})
        if match := re.fullmatch(r'labels = "([^"]+)"', jql):
            found = [i for i in self.issues.values() if match.group(1) in i["fields"].get("labels", [])]
        elif match := re.fullmatch(r'text ~ "\\"(.+)\\""', jql):
            found = [i for i in self.issues.values() if match.group(1) in json.dumps(i["fields"].get("description"))]
        else:
            raise ContractViolationError(f"JQL {jql!r} is not one ShowDesk should send")
        found = found[: int(request.param("maxResults") or 50)]
        if self.api_version == "3":  # /search/jql pages by token, not by startAt
            return Response.json(200, {"issues": found, "isLast": True})
        return Response.json(200, {"startAt": 0, "maxResults": 50, "total": len(found), "issues": found})


# ---------------------------------------------------------------- ServiceNow
class FakeServiceNow:
    """A ServiceNow instance's Table API (incident, sys_user) and Attachment API, per the ServiceNow docs
    ("Table API", "Attachment API": POST /now/attachment/file with table_name, table_sys_id, file_name)."""

    INCIDENT_FIELDS = frozenset({"short_description", "description", "caller_id", "category", "subcategory",
                                 "urgency", "impact", "correlation_id", "correlation_display", "contact_type",
                                 "assignment_group"})

    def __init__(self, user: str, password: str, *, users: dict[str, str] | None = None,
                 max_attachment: int | None = None) -> None:
        self.user = user
        self.password = password
        self.users = users or {"ann@example.org": "62826bf03710200044e0bfc8bcbe5df1"}
        self.max_attachment = max_attachment
        self.incidents: dict[str, dict[str, Any]] = {}
        self.attachments: list[dict[str, Any]] = []
        self.journal: list[dict[str, Any]] = []

    @staticmethod
    def _query(request: Request) -> dict[str, str]:
        """``sysparm_query`` as field → value, for the ``a=b^c=d`` (and ``^ORDERBYx``) queries ShowDesk sends."""
        terms: dict[str, str] = {}
        for term in (request.param("sysparm_query") or "").split("^"):
            if term.startswith("ORDERBY"):
                continue
            field_name, sep, value = term.partition("=")
            _require(bool(sep) and field_name.isidentifier(), f"query term {term!r} is not field=value")
            terms[field_name] = value
        return terms

    def __call__(self, request: Request) -> Response:
        if _basic(request) != (self.user, self.password):
            return Response.json(401, {"error": {"message": "User Not Authenticated",
                                                 "detail": "Required to provide Auth information"},
                                       "status": "failure"})
        path = request.path
        if request.method == "GET" and path == "/api/now/table/sys_user":
            terms = self._query(request)
            if "user_name" in terms:
                found = [{"name": "ShowDesk Integration", "user_name": self.user}] if terms["user_name"] == self.user \
                    else []
                return Response.json(200, {"result": found})
            email = terms.get("email")
            return Response.json(200, {"result": [{"sys_id": sys_id, "email": address}
                                                  for address, sys_id in self.users.items() if address == email]})
        if path == "/api/now/table/incident" and request.method == "POST":
            data = request.json()
            _require(isinstance(data, dict) and not set(data) - self.INCIDENT_FIELDS,
                     f"unknown incident fields {sorted(set(data) - self.INCIDENT_FIELDS)}")
            _require(bool(data.get("short_description")), "an incident needs a short_description")
            _require(data.get("urgency") in ("1", "2", "3"), "urgency is 1, 2 or 3")
            caller = data.get("caller_id")
            _require(caller is None or caller in self.users.values(), f"caller_id {caller!r} is no user's sys_id")
            sys_id = secrets.token_hex(16)
            record = {**data, "sys_id": sys_id, "number": f"INC{10001 + len(self.incidents):07d}", "state": "1",
                      "sys_created_on": _now()}
            self.incidents[sys_id] = record
            return Response.json(201, {"result": record})
        if path == "/api/now/table/incident" and request.method == "GET":
            terms = self._query(request)
            found = [r for r in self.incidents.values() if all(str(r.get(k, "")) == v for k, v in terms.items())]
            if "ORDERBYDESCsys_created_on" in (request.param("sysparm_query") or ""):
                found.reverse()  # made in order: newest last
            fields = (request.param("sysparm_fields") or "").split(",")
            offset = int(request.param("sysparm_offset") or 0)
            limit = int(request.param("sysparm_limit") or 10000)
            page = found[offset: offset + limit]
            return Response.json(200, {"result": [{k: r.get(k, "") for k in fields} for r in page]})
        if match := re.fullmatch(r"/api/now/table/incident/([0-9a-f]{32})", path):
            incident = self.incidents.get(match.group(1))
            if incident is None:
                return Response.json(404, {"error": {"message": "No Record found",
                                                     "detail": "Record doesn't exist or ACL restricts the incident "
                                                               "retrieval"}, "status": "failure"})
            if request.method == "GET":
                return Response.json(200, {"result": incident})
            _require(request.method == "PATCH", "an incident is changed with PATCH (or PUT)")
            data = request.json()
            allowed = {"state", "close_code", "close_notes", "hold_reason", "work_notes", "comments"}
            _require(isinstance(data, dict) and not set(data) - allowed, f"unexpected changes {sorted(data)}")
            if data.get("state") == "6" and not (data.get("close_code") and data.get("close_notes")):
                return Response.json(403, {"error": {"message": "Operation Failed", "detail": "Data Policy Exception:"
                                                     " Resolution code, Resolution notes are mandatory"},
                                           "status": "failure"})
            if data.get("state") == "3" and not data.get("hold_reason"):
                return Response.json(403, {"error": {"message": "Operation Failed",
                                                     "detail": "Data Policy Exception: On hold reason is mandatory"},
                                           "status": "failure"})
            _require(data.get("state") in (None, "1", "2", "3", "6", "7", "8"), "state is an incident state")
            for element in ("work_notes", "comments"):
                if data.get(element):
                    self.journal.append({"element_id": incident["sys_id"], "element": element,
                                         "value": data[element], "sys_created_on": _now(),
                                         "sys_created_by": self.user})
            incident.update({k: v for k, v in data.items() if k not in ("work_notes", "comments")})
            incident["sys_updated_on"] = _now()
            return Response.json(200, {"result": incident})
        if request.method == "GET" and path == "/api/now/table/sys_journal_field":
            query = request.param("sysparm_query") or ""
            match = re.fullmatch(r"element_id=(\w+)\^elementINwork_notes,comments\^ORDERBYsys_created_on", query)
            _require(match is not None, f"journal query {query!r} is not one ShowDesk should send")
            assert match is not None
            return Response.json(200, {"result": [e for e in self.journal if e["element_id"] == match.group(1)]})
        if match := re.fullmatch(r"/api/now/attachment/([0-9a-f]{32})/file", path):
            stored = [a for a in self.attachments if a["sys_id"] == match.group(1)]
            if not stored:
                return Response.json(404, {"error": {"message": "Attachment not found"}, "status": "failure"})
            return Response(200, stored[0]["data"], {"Content-Type": stored[0]["content_type"]})
        if request.method == "POST" and path == "/api/now/attachment/file":
            table, sys_id, name = (request.param(k) or "" for k in ("table_name", "table_sys_id", "file_name"))
            _require(table == "incident" and sys_id in self.incidents and bool(name),
                     "table_name, table_sys_id and file_name name the record and the file")
            _require(bool(request.headers.get("Content-Type")), "the file's Content-Type is given")
            if self.max_attachment is not None and len(request.body) > self.max_attachment:
                return Response.json(400, {"error": {"message": "Failed to create the attachment. File part might "
                                                                "be missing in the request."}, "status": "failure"})
            record = {"sys_id": secrets.token_hex(16), "table_name": table, "table_sys_id": sys_id, "file_name": name,
                      "content_type": request.headers.get("Content-Type"), "size_bytes": str(len(request.body)),
                      "data": request.body}
            self.attachments.append(record)
            return Response.json(201, {"result": {k: v for k, v in record.items() if k != "data"}})
        if request.method == "GET" and path == "/api/now/attachment":
            terms = self._query(request)
            found = [a for a in self.attachments if all(str(a.get(k)) == v for k, v in terms.items())]
            fields = (request.param("sysparm_fields") or "file_name").split(",")
            return Response.json(200, {"result": [{k: a.get(k) for k in fields} for a in found]})
        raise ContractViolationError(f"{request.method} {path} is not an endpoint ShowDesk should call")

    def files_of(self, sys_id: str) -> dict[str, bytes]:
        found = [a for a in self.attachments if a["table_sys_id"] == sys_id]
        names = [a["file_name"] for a in found]
        _require(len(names) == len(set(names)), f"a file was attached twice: {sorted(names)}")
        return {a["file_name"]: a["data"] for a in found}


# ---------------------------------------------------------------- Zendesk
class FakeZendesk:
    """Zendesk Support's /api/v2 for uploads and tickets, per developer.zendesk.com ("Ticket Attachments":
    POST /api/v2/uploads?filename=&token=; "Tickets": create with comment.uploads, list by external_id)."""

    def __init__(self, email: str, api_token: str, *, max_attachment: int = 50 * 1024 * 1024) -> None:
        self.email = email
        self.api_token = api_token
        self.max_attachment = max_attachment
        self.uploads: dict[str, list[tuple[str, str, bytes]]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.files: dict[int, list[tuple[str, str, bytes]]] = {}
        self._ids = itertools.count(35436)

    def __call__(self, request: Request) -> Response:
        if _basic(request) != (f"{self.email}/token", self.api_token):
            return Response.json(401, {"error": "Couldn't authenticate you"})
        path = request.path
        if request.method == "POST" and path == "/api/v2/uploads":
            name = request.param("filename")
            _require(bool(name), "an upload names its filename")
            content_type = request.headers.get("Content-Type") or ""
            _require("/" in content_type, "an upload states the file's MIME type")
            if len(request.body) > self.max_attachment:
                return Response.json(413, {"error": "RecordInvalid", "description": "Attachment is too large"})
            token = request.param("token") or secrets.token_hex(12)
            _require(request.param("token") is None or token in self.uploads, f"upload token {token} is unknown")
            self.uploads.setdefault(token, []).append((name or "", content_type, request.body))
            attachments = [{"id": n, "file_name": f[0], "content_type": f[1], "size": len(f[2])}
                           for n, f in enumerate(self.uploads[token], start=1)]
            return Response.json(201, {"upload": {"token": token, "attachment": attachments[-1],
                                                  "attachments": attachments}})
        if request.method == "POST" and path == "/api/v2/tickets":
            data = request.json()
            ticket = data.get("ticket") if isinstance(data, dict) else None
            _require(isinstance(ticket, dict), "a ticket is created as {'ticket': {...}}")
            assert isinstance(ticket, dict)
            comment = ticket.get("comment")
            _require(isinstance(comment, dict) and bool(comment.get("body") or comment.get("html_body")),
                     "a new ticket needs a comment with body or html_body")
            assert isinstance(comment, dict)
            _require(ticket.get("priority") in (None, "urgent", "high", "normal", "low"), "priority value")
            requester = ticket.get("requester")
            _require(requester is None or (isinstance(requester, dict) and "email" in requester), "requester.email")
            files = []
            for token in comment.get("uploads", []):
                _require(token in self.uploads, f"upload token {token} is unknown or used already")
                files += self.uploads.pop(token)
            ticket_id = next(self._ids)
            record = {"id": ticket_id, "url": f"https://example.zendesk.com/api/v2/tickets/{ticket_id}.json",
                      "subject": ticket.get("subject"), "status": "new", "priority": ticket.get("priority"),
                      "external_id": ticket.get("external_id"), "tags": ticket.get("tags", []),
                      "requester_id": 20978392, "description": comment.get("body") or comment.get("html_body"),
                      "created_at": _now()}
            self.tickets[ticket_id] = record
            self.files[ticket_id] = files
            return Response.json(201, {"ticket": record, "audit": {"id": 2127301143, "ticket_id": ticket_id}})
        if request.method == "GET" and path == "/api/v2/tickets":
            external_id = request.param("external_id")
            _require(external_id is not None, "ShowDesk lists tickets only by external_id")
            found = [t for t in self.tickets.values() if t["external_id"] == external_id]
            return Response.json(200, {"tickets": found, "next_page": None, "previous_page": None,
                                       "count": len(found)})
        raise ContractViolationError(f"{request.method} {path} is not an endpoint ShowDesk should call")


# ---------------------------------------------------------------- GitLab
class FakeGitLab:
    """GitLab's /api/v4 for project uploads and issues, per docs.gitlab.com ("Markdown uploads API":
    POST /projects/:id/uploads, part ``file``; "Issues API": create, list with search/in/state)."""

    def __init__(self, token: str, *, project: str = "it/helpdesk", max_attachment: int = 100 * 1024 * 1024) -> None:
        self.token = token
        self.project = project
        self.max_attachment = max_attachment
        self.uploads: dict[str, tuple[str, str | None, bytes]] = {}  # url → file
        self.issues: list[dict[str, Any]] = []

    def __call__(self, request: Request) -> Response:
        if request.headers.get("PRIVATE-TOKEN") != self.token:
            return Response.json(401, {"message": "401 Unauthorized"})
        encoded = self.project.replace("/", "%2F")
        match = re.fullmatch(r"/api/v4/projects/([^/]+)/(uploads|issues)", request.path)
        if match is None or match.group(1) not in (encoded, "7"):
            if match is not None:
                return Response.json(404, {"message": "404 Project Not Found"})
            raise ContractViolationError(f"{request.method} {request.path} is not an endpoint ShowDesk should call")
        if request.method == "POST" and match.group(2) == "uploads":
            part = _one_file(request, "file")
            if len(part.data) > self.max_attachment:
                return Response.json(413, {"message": "File is too large"})
            secret = secrets.token_hex(16)
            url = f"/uploads/{secret}/{part.filename}"
            self.uploads[url] = (part.filename or "", part.content_type, part.data)
            alt = (part.filename or "").rsplit(".", 1)[0]
            image = (part.content_type or "").startswith("image/")
            return Response.json(201, {"id": len(self.uploads), "alt": alt, "url": url,
                                       "full_path": f"/-/project/1234{url}",
                                       "markdown": f"{'!' if image else ''}[{alt}]({url})"})
        if request.method == "POST" and match.group(2) == "issues":
            data = request.json()
            _require(isinstance(data.get("title"), str) and data["title"], "an issue needs a title")
            _require(isinstance(data.get("labels", ""), str), "labels are one comma-separated string")
            _require(isinstance(data.get("confidential", False), bool), "confidential is true or false")
            iid = len(self.issues) + 1
            issue = {"id": 76 + iid, "iid": iid, "project_id": 7, "title": data["title"],
                     "description": data.get("description", ""), "state": "opened",
                     "labels": [label for label in data.get("labels", "").split(",") if label],
                     "confidential": data.get("confidential", False), "created_at": _now(),
                     "web_url": f"https://gitlab.example.org/{self.project}/-/issues/{iid}"}
            self.issues.append(issue)
            return Response.json(201, issue)
        if request.method == "GET" and match.group(2) == "issues":
            _require(request.param("in") in (None, "title", "description", "title,description"), "in is a field list")
            _require(request.param("state") in (None, "opened", "closed", "all"), "state is opened, closed or all")
            needle = request.param("search") or ""
            found = [i for i in self.issues if needle in (i["description"] if request.param("in") == "description"
                                                          else i["title"] + i["description"])]
            if request.param("sort") != "asc":
                found.reverse()
            return Response.json(200, found[: int(request.param("per_page") or 20)])
        raise ContractViolationError(f"{request.method} {request.path} is not an endpoint ShowDesk should call")

    def files_of(self, issue: dict[str, Any]) -> dict[str, bytes]:
        """The uploads an issue's description links to, by file name."""
        linked = re.findall(r"\]\((/uploads/[0-9a-f]+/[^)]+)\)", issue["description"])
        return {self.uploads[url][0]: self.uploads[url][2] for url in linked}


# ---------------------------------------------------------------- Freshservice
class FakeFreshservice:
    """Freshservice's /api/v2 tickets, per api.freshservice.com (v2 "Create a Ticket" with attachments as
    multipart/form-data, "List All Tickets" by requester e-mail, "Filter Tickets" with a quoted query)."""

    REQUIRED = ("email", "subject", "description", "status", "priority")

    def __init__(self, api_key: str, *, custom_fields: tuple[str, ...] = (),
                 max_attachments: int | None = None) -> None:
        self.api_key = api_key
        self.custom_fields = custom_fields
        self.max_attachments = max_attachments
        self.tickets: dict[int, dict[str, Any]] = {}
        self.files: dict[int, list[FormPart]] = {}
        self._ids = itertools.count(1)

    def __call__(self, request: Request) -> Response:
        if _basic(request) != (self.api_key, "X"):
            return Response.json(401, {"code": "invalid_credentials",
                                       "message": "You have to be logged in to perform this action."})
        if request.method == "POST" and request.path == "/api/v2/tickets":
            return self._create(request.form())
        if request.method == "GET" and request.path == "/api/v2/tickets":
            email = request.param("email")
            _require(email is not None, "ShowDesk lists tickets only by requester e-mail")
            found = sorted((t for t in self.tickets.values() if t["requester_email"] == email),
                           key=lambda t: t["id"], reverse=request.param("order_type") != "asc")
            return Response.json(200, {"tickets": found[: int(request.param("per_page") or 30)]})
        if request.method == "GET" and request.path == "/api/v2/tickets/filter":
            query = request.param("query") or ""
            match = re.fullmatch(r"\"(\w+):'([^']*)'\"", query)
            _require(match is not None, f"filter query {query!r} is not \"field:'value'\" in double quotes")
            assert match is not None
            _require(match.group(1) in self.custom_fields, f"{match.group(1)} is not a ticket field")
            found = [t for t in self.tickets.values() if t["custom_fields"].get(match.group(1)) == match.group(2)]
            return Response.json(200, {"tickets": found, "total": len(found)})
        raise ContractViolationError(f"{request.method} {request.path} is not an endpoint ShowDesk should call")

    def _create(self, parts: list[FormPart]) -> Response:
        fields = {p.name: p.data.decode() for p in parts if p.filename is None}
        files = [p for p in parts if p.filename is not None]
        missing = [name for name in self.REQUIRED if name not in fields]
        if missing:
            return Response.json(400, {"description": "Validation failed",
                                       "errors": [{"field": name, "message": "It should not be blank",
                                                   "code": "missing_field"} for name in missing]})
        _require(all(p.name == "attachments[]" for p in files), "files go in attachments[] parts")
        _require(fields["priority"] in ("1", "2", "3", "4") and fields["status"] in ("2", "3", "4", "5"),
                 "priority is 1..4, status 2..5")
        custom = {m.group(1): v for k, v in fields.items() if (m := re.fullmatch(r"custom_fields\[(\w+)\]", k))}
        _require(set(custom) <= set(self.custom_fields), f"unknown custom fields {sorted(set(custom))}")
        if self.max_attachments is not None and sum(len(p.data) for p in files) > self.max_attachments:
            return Response.json(400, {"description": "Validation failed", "errors": [
                {"field": "attachments", "message": "Attachment size exceeds the limit", "code": "invalid_size"}]})
        ticket_id = next(self._ids)
        self.tickets[ticket_id] = {
            "id": ticket_id, "subject": fields["subject"], "description": fields["description"],
            "description_text": re.sub(r"<[^>]+>", "", fields["description"]), "status": int(fields["status"]),
            "priority": int(fields["priority"]), "requester_email": fields["email"], "type": "Incident",
            "custom_fields": {name: custom.get(name) for name in self.custom_fields},
            "tags": [v for k, v in fields.items() if k == "tags[]"], "created_at": _now(),
        }
        self.files[ticket_id] = files
        record = {k: v for k, v in self.tickets[ticket_id].items() if k != "requester_email"}
        return Response.json(201, {"ticket": {**record, "attachments": [
            {"name": p.filename, "content_type": p.content_type, "size": len(p.data)} for p in files]}})
