"""The Zammad connector, contract-tested against a local server that follows Zammad's documented API."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import BackendConfig, ConfigError
from agent.connectors.base import AuthError, Capability, PermanentError, TooLargeError, TransientError
from agent.connectors.common import attachment_name
from agent.connectors.zammad import ZammadConnector, create
from agent.outbox import EntryState, Outbox
from agent.schema import MANIFEST_PATH
from tests.connectors.contract import ContractServer, FakeZammad, Fault, Response
from tests.connectors.helpers import report_bundle, screenshot

TOKEN = "zammad-access-token-1"
REPORT_FIELD = "showdesk_report_id"


@pytest.fixture
def zammad() -> Iterator[ContractServer]:
    with ContractServer(FakeZammad(TOKEN, custom_fields=(REPORT_FIELD,))) as server:
        yield server
    assert server.violations == []


def connector(server: ContractServer, **kwargs: object) -> ZammadConnector:
    options: dict[str, object] = {"group": "Service Desk", "token": TOKEN, "report_id_field": REPORT_FIELD}
    options.update(kwargs)
    return ZammadConnector(server.url, **options)  # type: ignore[arg-type]


def test_ticket_is_created_as_documented(zammad: ContractServer) -> None:
    bundle = report_bundle(steps=3)
    ticket = connector(zammad).submit(bundle)

    [create_request] = zammad.requests("POST", "/api/v1/tickets")
    assert create_request.headers["Authorization"] == f"Token token={TOKEN}"
    payload = create_request.json()
    report = bundle.report
    assert payload["title"] == report.subject()
    assert payload["group"] == "Service Desk"
    assert payload["customer_id"] == "guess:ann@example.org"
    assert payload[REPORT_FIELD] == str(report.id)
    article = payload["article"]
    assert (article["content_type"], article["type"], article["internal"]) == ("text/html", "web", False)
    for step in report.steps:
        assert step.caption in article["body"]
    assert "[critical] Disk / is 99 % full" in article["body"]
    sent = {a["filename"]: (a["mime-type"], base64.b64decode(a["data"])) for a in article["attachments"]}
    for ref in report.files():
        assert sent[attachment_name(ref.path)] == (ref.media_type, bundle.files[ref.path])
    assert sent[f"showdesk-report-{report.id}.json"] == ("application/json", report.canonical_json())
    assert ticket.number == "Ticket#22001" and ticket.status == "new"
    assert ticket.url == f"{zammad.url}/#ticket/zoom/{ticket.id}" and ticket.report_id == report.id


def test_read_back_status_and_notes(zammad: ContractServer) -> None:
    bundle = report_bundle(steps=2)
    client = connector(zammad)
    ticket = client.submit(bundle)

    detail = client.get_ticket(ticket.id)
    assert detail.report == bundle.report and detail.ticket.report_id == bundle.report.id
    for ref in bundle.report.files():
        assert hashlib.sha256(client.attachment(ticket.id, ref.path)).hexdigest() == ref.sha256
    assert client.attachment(ticket.id, MANIFEST_PATH) == bundle.report.canonical_json()

    assert client.set_status(ticket.id, "waiting").status == "waiting"
    [put] = zammad.requests("PUT", rf"/api/v1/tickets/{ticket.id}")
    assert put.json()["state"] == "pending reminder" and put.json()["pending_time"].endswith("Z")
    assert client.set_status(ticket.id, "resolved").status == "resolved"
    client.add_note(ticket.id, "Replaced the toner.", internal=True)
    client.add_note(ticket.id, "Fixed, please try again.", internal=False)
    timeline = client.get_ticket(ticket.id).timeline
    assert [(e["kind"], e["internal"]) for e in timeline] == [("created", False), ("note", True), ("reply", False)]
    assert timeline[1]["data"]["text"] == "Replaced the toner."
    page = client.list_tickets(status="resolved")
    assert [t.id for t in page.tickets] == [ticket.id] and page.tickets[0].status == "resolved"
    assert {Capability.READ, Capability.STATUS, Capability.NOTES, Capability.IDEMPOTENT} <= client.capabilities


def test_replay_after_lost_answer_finds_the_ticket(zammad: ContractServer) -> None:
    bundle = report_bundle(steps=1)
    zammad.fail(Fault("POST", "/api/v1/tickets", Response(502, b"Bad Gateway"), lost=True))
    client = connector(zammad)
    with pytest.raises(TransientError, match="502"):
        client.submit(bundle)
    ticket = client.submit(bundle)
    assert len(zammad.requests("POST", "/api/v1/tickets")) == 1
    assert ticket.id == "1" and ticket.report_id == bundle.report.id


def test_replay_without_report_field_searches_the_text(zammad: ContractServer) -> None:
    bundle = report_bundle(steps=1)
    client = connector(zammad, report_id_field=None)
    assert Capability.IDEMPOTENT not in client.capabilities  # the search index may lag a create
    first = client.submit(bundle)
    assert client.submit(bundle) == first
    assert len(zammad.requests("POST", "/api/v1/tickets")) == 1
    assert client.submit(report_bundle(steps=1)).id != first.id


def test_answers_map_to_the_outbox_rules(zammad: ContractServer) -> None:
    bundle = report_bundle(steps=1)
    with pytest.raises(AuthError, match="token refused by Zammad"):
        connector(zammad, token="wrong").submit(bundle)
    zammad.fail(Fault("POST", "/api/v1/tickets", Response.json(
        422, {"error": "No such group 'Nowhere'", "error_human": "No such group 'Nowhere'"})))
    with pytest.raises(PermanentError, match="No such group"):
        connector(zammad).submit(bundle)
    zammad.fail(Fault("POST", "/api/v1/tickets", Response(503, b"", {"Retry-After": "30"})))
    with pytest.raises(TransientError) as caught:
        connector(zammad).submit(bundle)
    assert caught.value.retry_after == 30
    assert isinstance(zammad.app, FakeZammad) and zammad.app.tickets == {}


def test_refused_as_too_large_is_shrunk_once(tmp_path: Path) -> None:
    # nginx in front allows less than the 50 MB default the connector assumes.
    with ContractServer(FakeZammad(TOKEN), max_body=900_000) as server:
        big = screenshot(21, (1920, 1080), noise=(500, 400))
        bundle = report_bundle(screenshots=[big])
        ticket = connector(server, report_id_field=None).submit(bundle)
        posts = server.requests("POST", "/api/v1/tickets")
        assert len(posts) == 2 and len(posts[1].body) < len(posts[0].body) <= 2 * len(big)
        assert ticket.id == "1"
        sent = posts[1].json()["article"]["attachments"][0]
        assert sent["filename"] == "step-001.webp" and sent["mime-type"] == "image/webp"
        assert server.violations == []

    with ContractServer(FakeZammad(TOKEN), max_body=100_000) as server:
        log = bytes(range(256)) * 800  # 200 KB of log: nothing to shrink
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: connector(server, report_id_field=None))
        outbox.put(report_bundle(steps=1, attachment=log), "zammad")
        result = outbox.flush(force=True)
        assert [e.state for e in result.dead] == [EntryState.DEAD]
        assert "413" in (result.dead[0].last_error or "")
        assert len(server.requests("POST", "/api/v1/tickets")) == 1  # no second try: nothing left to shrink


def test_report_over_the_request_limit_is_fitted_before_sending(zammad: ContractServer) -> None:
    bundle = report_bundle(screenshots=[screenshot(22, (1920, 1080), noise=(500, 400)), screenshot(23)])
    client = connector(zammad, max_request_size=700_000)
    client.submit(bundle)
    [post] = zammad.requests("POST", "/api/v1/tickets")
    assert len(post.body) <= 700_000
    with pytest.raises(TooLargeError, match=r"attachment-001\.txt \(spooler\.log\)"):
        connector(zammad, max_request_size=50_000).submit(report_bundle(steps=1, attachment=b"y" * 60_000))


def test_created_from_configuration(zammad: ContractServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWDESK_TOKEN", TOKEN)
    backend = BackendConfig(name="zammad", type="zammad", url=zammad.url + "/api/v1",
                            options={"group": "Service Desk", "report_id_field": REPORT_FIELD,
                                     "max_request_size": "20 MiB", "statuses": {"waiting": "pending close"}})
    client = create(backend)
    assert client.url == zammad.url and client.limits.max_request_bytes == 20 * 1024 * 1024
    ticket = client.submit(report_bundle(steps=1))
    assert client.set_status(ticket.id, "waiting").status == "waiting"
    with pytest.raises(ConfigError, match=r"\[backends.zammad\] needs group"):
        create(BackendConfig(name="zammad", type="zammad", url=zammad.url))
