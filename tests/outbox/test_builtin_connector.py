"""The built-in connector over real HTTP: what it sends, and how it classifies what comes back."""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import random
import socket
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

import agent
from agent.bundle import build_bundle
from agent.config import BackendConfig, ConfigError
from agent.connectors import make_connector
from agent.connectors.base import (
    MAX_RETRY_AFTER_SECONDS,
    AuthError,
    Capability,
    ConnectorError,
    PermanentError,
    TooLargeError,
    TransientError,
    UnsupportedError,
    error_for_status,
    parse_retry_after,
)
from agent.connectors.builtin import AnswerPhoto, AnswerSent, BuiltinConnector
from agent.connectors.httpclient import MultipartForm, NetworkCondition, NetworkConditionError, Part
from agent.schema import Reporter, Ticket
from tests.outbox.helpers import ScriptedConnector, make_bundle
from tests.outbox.peers import Peer, Reply

JSON = {"Content-Type": "application/json"}


def ticket_reply(report_id: uuid.UUID, status: int = 201) -> Reply:
    ticket = {"id": "7", "number": "SD-7", "status": "new", "url": "http://x/t/7", "report_id": str(report_id)}
    return Reply(status, json.dumps({"ticket": ticket, "replayed": status == 200}).encode(), JSON)


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, str, str, bytes]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = []
    for part in message.iter_parts():
        params = dict((part.get_params(header="content-disposition") or [])[1:])
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        parts.append((params["name"], params["filename"], part.get_content_type(), payload))
    return parts


# ---------------------------------------------------------------- classification
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, PermanentError), (404, PermanentError), (422, PermanentError), (418, PermanentError),
        (401, AuthError), (403, AuthError),
        (413, TooLargeError),
        (408, TransientError), (409, TransientError), (429, TransientError),
        (500, TransientError), (502, TransientError), (503, TransientError), (504, TransientError),
        (507, TransientError), (301, PermanentError), (307, PermanentError),
    ],
)
def test_status_classification(status: int, expected: type[ConnectorError]) -> None:
    error = error_for_status(status, system="desk", reason="why", retry_after=12.0)
    assert type(error) is expected
    assert error.status == status
    if isinstance(error, TransientError):
        assert error.retry_after == (12.0 if status in (429, 503, 507) else None)
    if status in (401, 403):
        assert error.reason.startswith("token refused by desk")


def test_retry_after_parsing() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0.0
    assert parse_retry_after("99999999") == MAX_RETRY_AFTER_SECONDS
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("status", "headers", "expected", "retry_after"),
    [
        (400, {}, PermanentError, None),
        (422, {}, PermanentError, None),
        (401, {}, AuthError, None),
        (403, {}, AuthError, None),
        (413, {}, TooLargeError, None),
        (429, {"Retry-After": "7"}, TransientError, 7.0),
        (503, {"Retry-After": "11"}, TransientError, 11.0),
        (503, {}, TransientError, None),
        (500, {"Retry-After": "5"}, TransientError, None),
    ],
)
def test_submit_classifies_real_answers_with_the_servers_reason(
    status: int, headers: dict[str, str], expected: type[ConnectorError], retry_after: float | None
) -> None:
    with Peer() as peer:
        peer.answer(Reply(status, json.dumps({"detail": f"reason number {status}"}).encode(), {**JSON, **headers}))
        connector = BuiltinConnector(peer.url, token="t0ken")
        with pytest.raises(ConnectorError) as caught:
            connector.submit(make_bundle(1))
        connector.close()
    assert type(caught.value) is expected
    assert f"reason number {status}" in caught.value.reason
    assert caught.value.status == status
    if isinstance(caught.value, TransientError):
        assert caught.value.retry_after == retry_after


def test_fastapi_validation_details_become_one_readable_reason() -> None:
    detail = {"detail": [{"loc": ["body", "manifest"], "msg": "Field required", "type": "missing"}]}
    with Peer() as peer:
        peer.answer(Reply(422, json.dumps(detail).encode(), JSON))
        with pytest.raises(PermanentError, match="manifest: Field required"):
            BuiltinConnector(peer.url, token="t").submit(make_bundle(2))


def test_a_refused_connection_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.
    with pytest.raises(TransientError, match="cannot reach ShowDesk server"):
        BuiltinConnector(f"http://127.0.0.1:{port}", token="t").submit(make_bundle(3))


def test_a_server_that_does_not_answer_times_out_as_transient() -> None:
    with Peer() as peer:
        peer.answer(Reply(201, b"{}", JSON, stall=threading.Event()))
        connector = BuiltinConnector(peer.url, token="t", connect_timeout=2, read_timeout=0.3)
        with pytest.raises(TransientError, match="cannot reach"):
            connector.submit(make_bundle(4))
        connector.close()


def test_a_redirect_on_the_same_server_is_not_followed_and_names_the_url_to_fix() -> None:
    with Peer() as peer:
        peer.answer(Reply(307, b"", {"Location": "/elsewhere"}))
        with pytest.raises(PermanentError, match=r"redirect.*check the backend URL"):
            BuiltinConnector(peer.url, token="t").submit(make_bundle(5))
        assert len(peer.received) == 1


def test_a_redirect_to_another_host_is_not_followed_and_is_the_network_asking_for_a_sign_in() -> None:
    with Peer() as peer:
        peer.answer(Reply(307, b"", {"Location": "http://127.0.0.1:1/elsewhere"}))
        with pytest.raises(NetworkConditionError, match="sign in first") as raised:
            BuiltinConnector(peer.url, token="t").submit(make_bundle(5))
        assert raised.value.condition is NetworkCondition.CAPTIVE_PORTAL
        assert "http://127.0.0.1:1" in raised.value.detail
        assert len(peer.received) == 1


def test_a_ticket_for_another_report_is_refused() -> None:
    with Peer() as peer:
        peer.answer(ticket_reply(uuid.uuid4()))
        with pytest.raises(PermanentError, match="ticket for report"):
            BuiltinConnector(peer.url, token="t").submit(make_bundle(6))


def test_no_token_is_an_auth_error_before_any_request() -> None:
    with Peer() as peer:
        with pytest.raises(AuthError, match="no token for ShowDesk server"):
            BuiltinConnector(peer.url, token=lambda: None).submit(make_bundle(7))
        assert peer.received == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1", "127.0.0.1:8765", "http://"])
def test_a_bad_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="must be an http"):
        BuiltinConnector(url, token="t")


def test_a_missing_ca_bundle_is_a_config_error(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match=r"ca_bundle .* does not exist"):
        BuiltinConnector("https://127.0.0.1:1", token="t", ca_bundle=str(tmp_path / "nope.pem"))


# ---------------------------------------------------------------- what goes over the wire
def test_submit_sends_the_manifest_and_every_file_with_the_idempotency_key() -> None:
    bundle = make_bundle(8, steps=2, attachment=b"log line\n" * 10)
    with Peer() as peer:
        peer.answer(ticket_reply(bundle.report.id))
        connector = BuiltinConnector(peer.url + "/", token="s3cret")
        ticket = connector.submit(bundle)
        connector.close()
    assert ticket == Ticket(id="7", number="SD-7", status="new", url="http://x/t/7", report_id=bundle.report.id)
    [sent] = peer.received
    assert (sent.method, sent.path) == ("POST", "/api/v1/reports")
    assert sent.headers["Idempotency-Key"] == str(bundle.report.id)
    assert sent.headers["Authorization"] == "Bearer s3cret"
    assert sent.headers["User-Agent"] == f"ShowDesk/{agent.__version__} (+builtin)"
    assert int(sent.headers["Content-Length"]) == len(sent.body)
    parts = parse_multipart(sent.headers["Content-Type"], sent.body)
    assert parts[0] == ("manifest", "manifest.json", "application/json", bundle.report.canonical_json())
    files = [(p.path, p.media_type, bundle.files[p.path]) for p in bundle.report.files()]
    assert [(filename, ctype, data) for name, filename, ctype, data in parts[1:] if name == "file"] == files
    assert len(parts) == 1 + len(files)


def test_progress_counts_up_to_the_whole_body() -> None:
    bundle = make_bundle(9, attachment=random.Random(9).randbytes(300_000))  # many chunks
    calls: list[tuple[int, int]] = []
    with Peer() as peer:
        peer.answer(ticket_reply(bundle.report.id))
        BuiltinConnector(peer.url, token="t").submit(bundle, progress=lambda s, t: calls.append((s, t)))
        body_length = len(peer.received[0].body)
    totals = {total for _, total in calls}
    assert totals == {body_length}
    sent = [s for s, _ in calls]
    assert sent[0] == 0 and sent[-1] == body_length
    assert all(b > a for a, b in itertools.pairwise(sent))
    assert len(sent) > 5


def test_the_multipart_body_reads_the_same_in_any_chunk_size() -> None:
    parts = [
        Part("manifest", b"{}", "manifest.json", "application/json"),
        Part("file", bytes(range(256)) * 4, "steps/001.png", "image/png"),
        Part("note", b"a plain field"),
    ]
    whole = MultipartForm(parts)
    expected = whole.read()
    assert len(expected) == len(whole) and whole.read(10) == b""
    for size in (1, 7, 64, 4096):
        body = MultipartForm(parts)
        pieces = []
        while chunk := body.read(size):
            assert len(chunk) <= size
            pieces.append(chunk)
        assert b"".join(pieces).replace(body.boundary.encode(), whole.boundary.encode()) == expected


def test_every_call_carries_timeouts_and_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    bundle = make_bundle(10)
    ticket = {"id": "7", "number": "SD-7", "status": "new", "url": "", "report_id": str(bundle.report.id)}
    with Peer() as peer:
        peer.answer(
            ticket_reply(bundle.report.id),
            Reply(200, json.dumps({"tickets": [ticket], "next_cursor": None}).encode(), JSON),
            Reply(200, json.dumps({"ticket": ticket, "timeline": []}).encode(), JSON),
            Reply(200, b"PNGDATA", {"Content-Type": "image/png"}),
            Reply(200, json.dumps({"ticket": {**ticket, "status": "open"}}).encode(), JSON),
            Reply(201, b"{}", JSON),
            Reply(200, json.dumps(
                {"site": "HQ", "position": 2, "ahead": 1, "estimated_wait_seconds": 600, "state": "waiting"}
            ).encode(), JSON),
        )
        connector = BuiltinConnector(peer.url, token="t", connect_timeout=1.5, read_timeout=9)
        real_request = connector.session.request

        def spy(method: str, url: str, **kwargs: Any) -> Any:
            seen.append(kwargs)
            return real_request(method, url, **kwargs)

        monkeypatch.setattr(connector.session, "request", spy)
        connector.submit(bundle)
        page = connector.list_tickets()
        assert [t.number for t in page.tickets] == ["SD-7"] and page.next_cursor is None
        assert connector.get_ticket("7").ticket.number == "SD-7"
        assert connector.attachment("7", "steps/001.png") == b"PNGDATA"
        assert connector.set_status("7", "open").status == "open"
        connector.add_note("7", "called back")
        place = connector.queue_place("7")
        paths = [(r.method, r.path) for r in peer.received]
    assert (place.site, place.position, place.ahead, place.state) == ("HQ", 2, 1, "waiting")
    assert len(seen) == 7 == len(paths)
    assert all(kw["timeout"] == (1.5, 9) and kw["verify"] is True for kw in seen)


def test_capabilities_and_unsupported_operations() -> None:
    assert Capability.SUBMIT in BuiltinConnector.capabilities and Capability.QUEUE in BuiltinConnector.capabilities
    minimal = ScriptedConnector()
    assert Capability.READ not in minimal.capabilities
    with pytest.raises(UnsupportedError, match="does not support read"):
        minimal.list_tickets()
    with pytest.raises(UnsupportedError, match="does not support status"):
        minimal.set_status("1", "open")


# ---------------------------------------------------------------- the registry
def test_make_connector_builds_the_builtin_one_with_the_tokens_of_the_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundle = make_bundle(11)
    with Peer() as peer:
        peer.answer(ticket_reply(bundle.report.id), ticket_reply(bundle.report.id, 200))
        backend = BackendConfig(name="default", type="builtin", url=peer.url, read_timeout=7)
        connector = make_connector(backend)
        assert isinstance(connector, BuiltinConnector)
        monkeypatch.setenv("SHOWDESK_TOKEN", "first")
        connector.submit(bundle)
        monkeypatch.setenv("SHOWDESK_TOKEN", "second")
        connector.submit(bundle)
        assert [r.headers["Authorization"] for r in peer.received] == ["Bearer first", "Bearer second"]


def test_make_connector_names_an_unknown_type() -> None:
    with pytest.raises(ConfigError, match=r"type 'no-such-system'.*available: builtin"):
        make_connector(BackendConfig(name="tracker", type="no-such-system", url="http://127.0.0.1"))


def test_connector_modules_load_only_when_used() -> None:
    code = (
        "import sys, agent.connectors, agent.outbox;"
        "print('agent.connectors.builtin' in sys.modules, 'requests' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ---------------------------------------------------------------- the person's side (My requests)
def test_submit_sends_the_persons_language_when_it_is_known() -> None:
    bundles = [make_bundle(30 + n) for n in range(4)]
    chosen = iter(["DE", None])
    with Peer() as peer:
        peer.answer(*(ticket_reply(b.report.id) for b in bundles))
        told = BuiltinConnector(peer.url, token="t0ken")
        told.submit(bundles[0], language="de")
        told.submit(bundles[1], language="fr")  # a language the page does not speak: the server decides
        told.close()
        asked = BuiltinConnector(peer.url, token="t0ken", language=lambda: next(chosen))
        asked.submit(bundles[2])
        asked.submit(bundles[3])
        asked.close()
    languages = [r.headers.get("Accept-Language") for r in peer.received]
    assert languages == ["de", None, "de", None]


def test_the_language_the_report_carries_is_sent_without_being_told() -> None:
    # The kiosk puts the person's choice in the report: it survives the outbox and a late delivery.
    plain = make_bundle(40)
    chosen = build_bundle(plain.report.model_copy(update={"reporter": Reporter(language="de-AT")}))
    with Peer() as peer:
        peer.answer(ticket_reply(chosen.report.id), ticket_reply(chosen.report.id))
        connector = BuiltinConnector(peer.url, token="t0ken", language=lambda: "en")
        connector.submit(chosen)
        connector.submit(chosen, language="en")  # the caller's word wins over the report's
        connector.close()
    assert [r.headers.get("Accept-Language") for r in peer.received] == ["de", "en"]


def test_an_idempotency_key_out_of_the_servers_bounds_is_refused_before_sending() -> None:
    connector = BuiltinConnector("http://127.0.0.1:9", token="t0ken")
    with pytest.raises(ValueError, match="8 to 64"):
        connector.answer("SD-1", "hello", idempotency_key="short")
    connector.close()


def _filed_ticket(server: Any, submitter: BuiltinConnector, *, language: str | None = None) -> Ticket:
    bundle = make_bundle(random.randrange(10**6), description="the printer eats paper")
    return submitter.submit(bundle, language=language)


def test_the_person_reads_public_replies_only_and_answers_once_per_key(shared_server: Any) -> None:
    submitter = BuiltinConnector(shared_server.url, token=shared_server.token("submitter"))
    technician = BuiltinConnector(shared_server.url, token=shared_server.token("technician"))
    try:
        ticket = _filed_ticket(shared_server, submitter, language="de")
        assert ticket.url.endswith("?lang=de")  # the server kept the person's language for the link
        technician.add_note(ticket.id, "internal: the toner is a cheap one", internal=True)
        technician.add_note(ticket.id, '<b>x</b><img src=x> which tray?', internal=False)
        technician.set_status(ticket.id, "waiting")

        conversation = submitter.public_timeline(ticket.id)
        assert (conversation.number, conversation.status) == (ticket.number, "waiting")
        assert [(e.kind, e.text) for e in conversation.entries] == [("reply", "<b>x</b><img src=x> which tray?")]

        photo = make_bundle(3).files
        png = next(data for path, data in photo.items() if path.endswith(".png"))
        key = uuid.uuid4().hex
        sent = submitter.answer(ticket.id, "tray 2", [AnswerPhoto("shot.png", png, "image/png")], idempotency_key=key)
        assert not sent.replayed and sent.entry is not None
        assert (sent.entry.kind, sent.entry.text, len(sent.entry.photos)) == ("answer", "tray 2", 1)
        again = submitter.answer(ticket.id, "tray 2", [AnswerPhoto("shot.png", png, "image/png")], idempotency_key=key)
        assert again == AnswerSent(replayed=True, entry=None)

        after = submitter.public_timeline(ticket.id)
        assert after.status == "open"  # an answer moves a waiting ticket back to open
        assert [e.kind for e in after.entries] == ["reply", "answer"]
        assert after.entries[1].photos[0].media_type == "image/png"
        # The technician's full timeline has the internal note; the person's never did.
        kinds = [event["kind"] for event in technician.get_ticket(ticket.id).timeline]
        assert kinds.count("note") == 1 and kinds.count("answer") == 1
    finally:
        submitter.close()
        technician.close()


def test_an_answer_whose_reply_was_lost_is_resent_without_recording_it_twice(shared_server: Any) -> None:
    token = shared_server.token("submitter")
    direct = BuiltinConnector(shared_server.url, token=token)
    technician = BuiltinConnector(shared_server.url, token=shared_server.token("technician"))
    try:
        ticket = _filed_ticket(shared_server, direct)
        technician.add_note(ticket.id, "does it happen every time?", internal=False)
        key = uuid.uuid4().hex
        with Peer(upstream=shared_server.url, reply_when=lambda r: "/answer" in r.path) as peer:
            # The server records the answer; the client hears a gateway failure instead of its reply.
            peer.answer(Reply(502, b'{"detail": "bad gateway"}', JSON, forward_first=True))
            through = BuiltinConnector(peer.url, token=token)
            with pytest.raises(TransientError):
                through.answer(ticket.id, "every time", idempotency_key=key)
            resent = through.answer(ticket.id, "every time", idempotency_key=key)
            through.close()
        assert resent.replayed
        answers = [e for e in direct.public_timeline(ticket.id).entries if e.kind == "answer"]
        assert [e.text for e in answers] == ["every time"]
    finally:
        direct.close()
        technician.close()
