"""The connector for ShowDesk's own ticket server (docs/api.md).

One ``requests.Session`` per connector, explicit (connect, read) timeouts on every call,
TLS verification always on. A configured CA bundle wins over ``REQUESTS_CA_BUNDLE`` and
``CURL_CA_BUNDLE``: requests lets those replace ``Session.verify`` whenever
``trust_env`` is on, so the bundle is passed as ``verify=`` on each request, where the
environment no longer overrides it. A configured proxy goes into ``Session.proxies`` for
http and https, where it wins over the environment's (HTTP_PROXY, HTTPS_PROXY, NO_PROXY);
without one, requests uses the environment's or the system's, as it does by default.

The person's side of a ticket (the laptop agent's My requests) is ``public_timeline`` (the help
desk's public replies and the person's own answers, never an internal note, even were a server to
send one) and ``answer`` (text and screenshots, idempotent on a key the caller keeps for a resend).

A 409 answers a submission whose idempotency key is still being processed (retry later);
to any other call it is the server refusing the change in the ticket's current state, a
``PermanentError`` carrying the server's reason.

The upload is agent.connectors.httpclient's multipart form, handed to requests as a
file-like object with a known length, read in chunks, so progress is the bytes really
handed to the socket and the server gets a Content-Length to check its limit against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel, ValidationError

from agent.bundle import ReportBundle
from agent.connectors.base import (
    Caller,
    Capability,
    ChangePage,
    Connector,
    ConnectorError,
    Figures,
    PermanentError,
    ProgressCallback,
    QueueBoard,
    QueueCall,
    QueuePlace,
    TicketDetail,
    TicketFilter,
    TicketPage,
    TokenSource,
    check_ticket_matches,
    secret_from,
)
from agent.connectors.httpclient import HttpClient, MultipartForm, Part, decode_json
from agent.credentials import check_local_server
from agent.read_models import CONVERSATION_KINDS, Conversation, ConversationEntry, RequesterLink, Satisfaction
from agent.schema import MANIFEST_PATH, MAX_FILE_BYTES, Report, Ticket, describe_validation_error

if TYPE_CHECKING:
    from agent.config import BackendConfig

API: Final = "/api/v1"
DOWNLOAD_CHUNK_BYTES: Final = 64 * 1024
MAX_PAGE_SIZE: Final = 200  # the server's bound on ?limit=
MAX_CHANGES_WAIT: Final = 30.0  # the server's bound on /changes?wait=
MAX_CHANGES_LIMIT: Final = 1000

# The languages the server's requester page speaks (server.api.context.preferred_language).
PAGE_LANGUAGES: Final = frozenset({"en", "de"})
MIN_IDEMPOTENCY_KEY: Final = 8  # the server's bounds on the answer's Idempotency-Key
MAX_IDEMPOTENCY_KEY: Final = 64

AnswerModel = TypeVar("AnswerModel", bound=BaseModel)
LanguageSource = str | Callable[[], str | None] | None


@dataclass(frozen=True)
class AnswerPhoto:
    """A screenshot or photo sent with an answer (PNG, JPEG or WebP; the server checks it like a report's)."""

    filename: str
    data: bytes
    media_type: str


@dataclass(frozen=True)
class AnswerSent:
    """What the server made of an answer: the new message, or a replay of one it already has."""

    replayed: bool
    entry: ConversationEntry | None


class BuiltinConnector(Connector):
    """Client of the built-in server's HTTP API."""

    capabilities = frozenset(
        {
            Capability.SUBMIT,
            Capability.READ,
            Capability.STATUS,
            Capability.NOTES,
            Capability.QUEUE,
            Capability.PROGRESS,
            Capability.IDEMPOTENT,
            Capability.CHANGES,
            Capability.FILTERS,
            Capability.ASSIGN,
            Capability.STATS,
            Capability.WALK_UP,
        }
    )

    def __init__(
        self,
        url: str,
        *,
        token: TokenSource = None,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        proxy: str | None = None,
        language: LanguageSource = None,
    ) -> None:
        """``language`` (or a function giving it at each submission) is the person's language for the
        ticket's page (``Accept-Language`` on POST /reports) when ``submit`` is not told one."""
        self.url = url.rstrip("/")
        self._token = token
        self._language = language
        self._read_timeout = read_timeout
        self.http = HttpClient(
            f"{self.url}{API}",
            system=self.system,
            kind="builtin",
            ca_bundle=ca_bundle,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            proxy=proxy,
        )
        self.session = self.http.session

    @property
    def system(self) -> str:
        return f"ShowDesk server at {self.url}"

    def close(self) -> None:
        self.http.close()

    def network_clear(self) -> bool | None:
        """A GET of the API's root without the token; the API never answers with a web page: one is a sign-in page."""
        return self.http.network_clear(web_page_means_portal=True)

    # ------------------------------------------------------------ plumbing
    def _auth_header(self) -> dict[str, str]:
        token = self._token() if callable(self._token) else self._token
        if not token:
            # A cleanly stopped local server takes its hand-over token with it: without a token,
            # "not running" and "not signed in" look alike until the port is asked.
            check_local_server(self.url, system=self.system)
        return {"Authorization": f"Bearer {secret_from(token, system=self.system)}"}

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float | None = None,
        conflict_is_transient: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """One API call with auth, timeouts and verification; a non-2xx answer raises a ``ConnectorError``.

        ``timeout`` replaces the read timeout (a long poll waits longer than an ordinary
        answer); ``conflict_is_transient`` is for submissions only (see the module's note on 409).
        """
        return self.http.request(
            method,
            path,
            headers={**self._auth_header(), **(headers or {})},
            stream=stream,
            timeout=timeout,
            classify=None if conflict_is_transient else self._conflict_is_permanent,
            **kwargs,
        )

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return decode_json(self.request(method, path, **kwargs), self.system)

    def _conflict_is_permanent(self, response: requests.Response, reason: str) -> ConnectorError | None:
        """A 409 to anything but a submission: the server refuses the change in the ticket's state."""
        if response.status_code != 409:
            return None
        reason = reason or "the change is not allowed in the ticket's current state"
        return PermanentError(f"{self.system} refused: {reason}", system=self.system, status=409)

    def _ticket(self, data: Any) -> Ticket:
        try:
            return Ticket.model_validate(data)
        except ValidationError as exc:
            raise PermanentError(
                f"{self.system} sent a ticket ShowDesk cannot read: {exc}", system=self.system
            ) from exc

    # ------------------------------------------------------------ submit
    def submit(
        self, bundle: ReportBundle, progress: ProgressCallback | None = None, *, language: str | None = None
    ) -> Ticket:
        """``language``: the person's (en or de), kept by the server for the ticket link's page.

        Without it, the report's own (``reporter.language``, the kiosk's choice) is used: it travels
        with the report through the outbox, so a late delivery still speaks the person's language.
        """
        report = bundle.report
        parts = [Part("manifest", bundle.manifest_json(), MANIFEST_PATH, "application/json")]
        parts += [Part("file", bundle.files[ref.path], ref.path, ref.media_type) for ref in report.files()]
        body = MultipartForm(parts, progress)
        if progress is not None:
            progress(0, len(body))
        answer = self._json(
            "POST",
            "/reports",
            data=body,
            headers={
                "Content-Type": body.content_type,
                "Idempotency-Key": str(report.id),
                **self._language_header(language or report.reporter.language),
            },
            conflict_is_transient=True,  # the same key is still being processed: try again later
        )
        ticket_data = answer.get("ticket") if isinstance(answer, dict) else None
        if ticket_data is None:
            raise PermanentError(f"{self.system} accepted the report but sent no ticket", system=self.system)
        return check_ticket_matches(self._ticket(ticket_data), report.id, system=self.system)

    def _language_header(self, language: str | None) -> dict[str, str]:
        """Accept-Language for the person's language; nothing when it is unknown or one the page does not speak."""
        if language is None:
            source = self._language
            language = source() if callable(source) else source
        # The page speaks languages, not regions: "de-AT" is German.
        language = (language or "").strip().lower().split("-", 1)[0]
        return {"Accept-Language": language} if language in PAGE_LANGUAGES else {}

    # ------------------------------------------------------------ the person's side
    def public_timeline(self, ticket_id: str) -> Conversation:
        """The ticket's status and public conversation: the help desk's replies and the person's answers.

        Only ``reply`` and ``answer`` events that are not internal: a submitter's token is already
        given no internal note by the server; this holds even against a server that would send one.
        """
        answer = self._json("GET", f"/tickets/{_segment(ticket_id)}")
        if not isinstance(answer, dict):
            raise PermanentError(f"{self.system} sent a ticket ShowDesk cannot read", system=self.system)
        ticket = self._ticket(_ticket_fields(answer.get("ticket", answer)))
        timeline = answer.get("timeline")
        entries: list[ConversationEntry] = []
        for event in timeline if isinstance(timeline, list) else ():
            if not isinstance(event, dict) or event.get("internal", True) is not False:
                continue
            if event.get("kind") not in CONVERSATION_KINDS:
                continue
            entries.append(self._read(ConversationEntry, _conversation_fields(event), what="timeline event"))
        entries.sort(key=lambda entry: entry.seq)
        return self._read(
            Conversation,
            {"ticket_id": ticket.id, "number": ticket.number, "status": ticket.status, "entries": entries},
            what="ticket",
        )

    def answer(
        self, ticket_id: str, text: str, photos: Sequence[AnswerPhoto] = (), *, idempotency_key: str
    ) -> AnswerSent:
        """The person answers their ticket. The same ``idempotency_key`` on a resend (after a lost
        reply, a double click) records nothing twice: the server answers ``replayed``."""
        if not MIN_IDEMPOTENCY_KEY <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise ValueError(f"an idempotency key has {MIN_IDEMPOTENCY_KEY} to {MAX_IDEMPOTENCY_KEY} characters")
        parts = [Part("text", text.encode("utf-8"))]  # a plain form field, read as text
        parts += [Part("photo", photo.data, photo.filename, photo.media_type) for photo in photos]
        body = MultipartForm(parts)
        answer = self._json(
            "POST",
            f"/tickets/{_segment(ticket_id)}/answer",
            data=body,
            headers={"Content-Type": body.content_type, "Idempotency-Key": idempotency_key},
        )
        if not isinstance(answer, dict):
            raise PermanentError(f"{self.system} sent an answer ShowDesk cannot read", system=self.system)
        event = answer.get("event")
        entry = None
        if isinstance(event, dict):
            entry = self._read(ConversationEntry, _conversation_fields(event), what="timeline event")
        return AnswerSent(replayed=bool(answer.get("replayed")), entry=entry)

    # ------------------------------------------------------------ read side
    def list_tickets(
        self,
        *,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        filters: TicketFilter | None = None,
    ) -> TicketPage:
        params: dict[str, str | int] = {"limit": max(1, min(limit, MAX_PAGE_SIZE))}
        wanted = filters or TicketFilter()
        for key, value in (
            ("status", wanted.status or status),
            ("category", wanted.category),
            ("source", wanted.source),
            ("assignee", wanted.assignee),
            ("reporter", wanted.reporter),
            ("q", wanted.text.strip() if wanted.text else None),
        ):
            if value:
                params[key] = value
        if wanted.since is not None:
            params["since"] = wanted.since.isoformat()
        if cursor is not None:
            params["cursor"] = cursor
        answer = self._json("GET", "/tickets", params=params)
        items = answer.get("tickets") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise PermanentError(f"{self.system} sent a ticket list ShowDesk cannot read", system=self.system)
        next_cursor = answer.get("next_cursor")
        return TicketPage(
            tickets=[self._ticket(_ticket_fields(item)) for item in items],
            next_cursor=str(next_cursor) if next_cursor is not None else None,
            raw=[item for item in items if isinstance(item, dict)],
        )

    def get_ticket(self, ticket_id: str) -> TicketDetail:
        answer = self._json("GET", f"/tickets/{_segment(ticket_id)}")
        if not isinstance(answer, dict):
            raise PermanentError(f"{self.system} sent a ticket ShowDesk cannot read", system=self.system)
        ticket = self._ticket(_ticket_fields(answer.get("ticket", answer)))
        report: Report | None = None
        raw_report = answer.get("report") or answer.get("manifest")
        if isinstance(raw_report, dict):
            try:
                report = Report.model_validate(raw_report)
            except ValidationError:
                report = None
        timeline = answer.get("timeline")
        queue = answer.get("queue")
        return TicketDetail(
            ticket=ticket,
            report=report,
            timeline=timeline if isinstance(timeline, list) else (),
            queue=None if queue is None else self._read(QueuePlace, queue, what="queue place"),
            raw=answer,
        )

    def attachment(self, ticket_id: str, path: str) -> bytes:
        response = self.request(
            "GET", f"/tickets/{_segment(ticket_id)}/files/{quote(path, safe='/')}", stream=True
        )
        with response:
            chunks: list[bytes] = []
            received = 0
            for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
                received += len(chunk)
                if received > MAX_FILE_BYTES:
                    raise PermanentError(f"{path} is larger than {MAX_FILE_BYTES} bytes", system=self.system)
                chunks.append(chunk)
        return b"".join(chunks)

    def set_status(self, ticket_id: str, status: str) -> Ticket:
        answer = self._json("POST", f"/tickets/{_segment(ticket_id)}/status", json={"status": status})
        data = answer.get("ticket", answer) if isinstance(answer, dict) else answer
        return self._ticket(_ticket_fields(data))

    def add_note(self, ticket_id: str, text: str, *, internal: bool = True) -> None:
        self._json("POST", f"/tickets/{_segment(ticket_id)}/notes", json={"text": text, "internal": internal})

    def queue_place(self, ticket_id: str) -> QueuePlace:
        return self._read(QueuePlace, self._json("GET", f"/tickets/{_segment(ticket_id)}/queue"), what="queue place")

    def whoami(self) -> Caller:
        return self._read(Caller, self._json("GET", "/whoami"), what="caller")

    def changes(self, after: int | None, *, wait: float = 0.0, limit: int = 500) -> ChangePage:
        wait = max(0.0, min(wait, MAX_CHANGES_WAIT))
        params: dict[str, float] = {"wait": wait, "limit": max(1, min(limit, MAX_CHANGES_LIMIT))}
        if after is not None:  # without it the server answers at once with the newest number
            params["after"] = max(0, after)
        answer = self._json("GET", "/changes", params=params, timeout=wait + self._read_timeout)
        return self._read(ChangePage, answer, what="changes page")

    def assign(self, ticket_id: str, assignee: str | None) -> Ticket:
        answer = self._json("POST", f"/tickets/{_segment(ticket_id)}/assign", json={"assignee": assignee})
        return self._ticket(_ticket_fields(answer.get("ticket", answer) if isinstance(answer, dict) else answer))

    def stats(self, since: datetime, until: datetime) -> Figures:
        params = {"since": since.isoformat(), "until": until.isoformat()}
        return self._read(Figures, self._json("GET", "/stats", params=params), what="figures")

    def satisfaction(self, since: datetime, until: datetime) -> Satisfaction:
        """How the people helped rated it (share rated, average, spread, weekly trend); technicians only."""
        params = {"since": since.isoformat(), "until": until.isoformat()}
        answer = self._json("GET", "/stats/satisfaction", params=params)
        return self._read(Satisfaction, answer, what="satisfaction figures")

    # ------------------------------------------------------------ the person's link
    def requester_link(self, ticket_id: str) -> RequesterLink:
        """The person's link to the ticket's page, as it works now."""
        answer = self._json("GET", f"/tickets/{_segment(ticket_id)}/link")
        return self._read(RequesterLink, answer, what="link")

    def revoke_requester_link(self, ticket_id: str) -> RequesterLink:
        """Revoke the person's link (the old one is a 404 at once); answers the new link."""
        answer = self._json("POST", f"/tickets/{_segment(ticket_id)}/link/revoke")
        return self._read(RequesterLink, answer, what="link")

    def queue_board(self, site: str) -> QueueBoard:
        return self._read(QueueBoard, self._json("GET", f"/queue/{_segment(site)}"), what="queue board")

    def call_next(self, site: str) -> QueueCall:
        return self._read(QueueCall, self._json("POST", f"/queue/{_segment(site)}/next"), what="call")

    def _read(self, model: type[AnswerModel], answer: Any, *, what: str) -> AnswerModel:
        """``answer`` as the published model, or a ``PermanentError`` saying which field is wrong.

        A malformed answer is a backend fault that the same request will not cure; the reason
        names the field, so a person can tell a broken proxy from an incompatible server.
        """
        if not isinstance(answer, dict):
            raise PermanentError(
                f"{self.system} sent a {what} ShowDesk cannot read: not a JSON object", system=self.system
            )
        try:
            return model.model_validate(answer)
        except ValidationError as exc:
            reason = f"{self.system} sent a {what} ShowDesk cannot read: {describe_validation_error(exc)}"
            raise PermanentError(reason, system=self.system) from None


def create(backend: BackendConfig, *, role: str = "submitter", language: LanguageSource = None) -> BuiltinConnector:
    """The registry's entry point: a connector whose token is looked up at each call.

    Looking it up each time picks up ``showdesk login`` and the fresh tokens a restarted
    local server hands over, without restarting the agent.
    """
    from agent.credentials import token_for

    return BuiltinConnector(
        backend.url,
        token=lambda: token_for(backend, role),
        ca_bundle=backend.ca_bundle,
        connect_timeout=backend.connect_timeout,
        read_timeout=backend.read_timeout,
        proxy=backend.proxy,
        language=language,
    )


# ---------------------------------------------------------------- helpers
def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _conversation_fields(event: dict[str, Any]) -> dict[str, Any]:
    """A timeline event's fields as a conversation entry (the text and photos live in its data)."""
    data = event.get("data")
    data = data if isinstance(data, dict) else {}
    files = data.get("files")
    return {
        "seq": event.get("seq"),
        "kind": event.get("kind"),
        "at": event.get("at"),
        "actor": event.get("actor", ""),
        "text": data.get("text", ""),
        "photos": [
            # The id is a number in some answers, a string in others: it is a name here.
            {**{k: f[k] for k in ("path", "media_type", "width", "height") if k in f}, "id": str(f.get("id", ""))}
            for f in (files if isinstance(files, list) else ())
            if isinstance(f, dict)
        ],
    }


def _ticket_fields(data: Any) -> Any:
    """A ticket object from an answer that may carry more than the schema's fields."""
    if not isinstance(data, dict):
        return data
    return {k: data[k] for k in Ticket.model_fields if k in data}


__all__ = ["AnswerPhoto", "AnswerSent", "BuiltinConnector", "create"]
