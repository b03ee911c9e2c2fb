"""The GLPI connector, contract-tested against a local server that follows GLPI's documented REST API."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import keyring
import pytest

from agent.config import BackendConfig, ConfigError
from agent.connectors.base import AuthError, Capability, PermanentError, TooLargeError, TransientError
from agent.connectors.common import attachment_name
from agent.connectors.glpi import GLPIConnector, app_token_for, create
from agent.credentials import KEYRING_SERVICE
from agent.schema import MANIFEST_PATH
from tests.connectors.contract import ContractServer, FakeGLPI, Fault, Response
from tests.connectors.helpers import report_bundle, screenshot

USER_TOKEN = "glpi-user-token-0123456789"
APP_TOKEN = "glpi-app-token-abcdef"


@pytest.fixture
def glpi() -> Iterator[ContractServer]:
    with ContractServer(FakeGLPI(USER_TOKEN, app_token=APP_TOKEN)) as server:
        yield server
    assert server.violations == []


def fake(server: ContractServer) -> FakeGLPI:
    assert isinstance(server.app, FakeGLPI)
    return server.app


def connector(server: ContractServer, **kwargs: object) -> GLPIConnector:
    options: dict[str, object] = {"user_token": USER_TOKEN, "app_token": APP_TOKEN}
    options.update(kwargs)
    return GLPIConnector(server.url + "/apirest.php", **options)  # type: ignore[arg-type]


def test_ticket_and_linked_documents_are_made_as_documented(glpi: ContractServer) -> None:
    bundle = report_bundle(steps=2)
    ticket = connector(glpi, ticket_fields={"itilcategories_id": "12"}).submit(bundle)

    calls = [(r.method, r.path.removeprefix("/apirest.php")) for r in glpi.received]
    files = len(bundle.report.files()) + 1  # and the manifest
    assert calls == [("GET", "/initSession"), ("GET", "/search/Ticket"), ("POST", "/Ticket"),
                     *[("POST", "/Document")] * files, ("GET", "/killSession")]
    init = glpi.received[0]
    assert init.headers["Authorization"] == f"user_token {USER_TOKEN}" and init.headers["App-Token"] == APP_TOKEN
    session = fake(glpi).killed[0]
    assert all(r.headers["Session-Token"] == session for r in glpi.received[1:])
    added = glpi.requests("POST", "/apirest.php/Ticket")[0].json()["input"]
    assert added["name"] == bundle.report.subject() and added["itilcategories_id"] == 12
    assert bundle.report.steps[1].caption in added["content"] and str(bundle.report.id) in added["content"]
    documents = {d["filename"]: d for d in fake(glpi).documents.values()}
    for ref in bundle.report.files():
        document = documents[attachment_name(ref.path)]
        assert fake(glpi).contents[document["id"]] == bundle.files[ref.path]
        assert document["mime"] == ref.media_type
    assert {link["items_id"] for link in fake(glpi).links} == {int(ticket.id)}
    upload = glpi.requests("POST", "/apirest.php/Document")[0]
    manifest = json.loads(next(p for p in upload.form() if p.name == "uploadManifest").data)
    assert manifest == {"input": {"name": "step-001.png", "_filename": ["step-001.png"], "itemtype": "Ticket",
                                  "items_id": int(ticket.id)}}
    assert ticket.number == f"GLPI #{ticket.id}" and ticket.url.endswith(f"/front/ticket.form.php?id={ticket.id}")
    assert fake(glpi).sessions == set()  # every session was killed


def test_broken_off_upload_is_finished_on_replay_without_a_second_ticket(glpi: ContractServer) -> None:
    bundle = report_bundle(steps=3)
    glpi.fail(Fault("POST", "/apirest.php/Document", Response(503, b"busy", {"Retry-After": "5"}), skip=2))
    client = connector(glpi)
    with pytest.raises(TransientError) as caught:
        client.submit(bundle)
    assert caught.value.retry_after == 5
    assert len(fake(glpi).documents) == 2 and fake(glpi).sessions == set()  # the session was closed anyway

    ticket = client.submit(bundle)

    assert list(fake(glpi).tickets) == [int(ticket.id)]
    names = sorted(d["filename"] for d in fake(glpi).documents.values())
    assert names == sorted([attachment_name(r.path) for r in bundle.report.files()]
                           + [f"showdesk-report-{bundle.report.id}.json"])
    assert client.submit(bundle) == ticket  # and once complete, a replay sends nothing
    assert len(glpi.requests("POST", "/apirest.php/Ticket")) == 1


def test_read_back_status_and_follow_ups(glpi: ContractServer) -> None:
    bundle = report_bundle(steps=2)
    client = connector(glpi)
    ticket = client.submit(bundle)

    detail = client.get_ticket(ticket.id)
    assert detail.report == bundle.report and detail.ticket.status == "new"
    for ref in bundle.report.files():
        assert hashlib.sha256(client.attachment(ticket.id, ref.path)).hexdigest() == ref.sha256
    assert client.attachment(ticket.id, MANIFEST_PATH) == bundle.report.canonical_json()
    assert client.set_status(ticket.id, "waiting").status == "waiting"
    assert fake(glpi).tickets[int(ticket.id)]["status"] == 4
    client.add_note(ticket.id, "Spooler restarted.", internal=True)
    client.add_note(ticket.id, "Please try printing again.", internal=False)
    timeline = client.get_ticket(ticket.id).timeline
    assert [(e["kind"], e["internal"]) for e in timeline] == [("created", False), ("note", True), ("reply", False)]
    assert [f["is_private"] for f in fake(glpi).followups] == [1, 0]
    other = client.submit(report_bundle(steps=1))
    page = client.list_tickets(limit=1)
    assert [t.id for t in page.tickets] == [other.id] and page.next_cursor == "1"
    assert [t.id for t in client.list_tickets(limit=1, cursor="1").tickets] == [ticket.id]
    assert [t.id for t in client.list_tickets(status="waiting").tickets] == [ticket.id]
    with pytest.raises(PermanentError, match="not a GLPI status"):
        client.set_status(ticket.id, "on fire")
    assert fake(glpi).sessions == set()
    assert {Capability.READ, Capability.STATUS, Capability.NOTES, Capability.IDEMPOTENT} <= client.capabilities


def test_refused_tokens_are_auth_errors(glpi: ContractServer) -> None:
    bundle = report_bundle(steps=1)
    with pytest.raises(AuthError, match=r"token refused by GLPI .*ERROR_GLPI_LOGIN_USER_TOKEN"):
        connector(glpi, user_token="wrong").submit(bundle)
    with pytest.raises(AuthError, match="ERROR_APP_TOKEN_PARAMETERS_MISSING"):
        connector(glpi, app_token=None).submit(bundle)
    with pytest.raises(AuthError, match="no user token"):
        connector(glpi, user_token=None).submit(bundle)
    assert fake(glpi).tickets == {}


def test_documents_are_fitted_to_glpis_size_limit() -> None:
    with ContractServer(FakeGLPI(USER_TOKEN, document_max_size=400_000)) as server:
        big = screenshot(31, (1920, 1080), noise=(500, 400))
        assert len(big) > 400_000
        client = GLPIConnector(server.url + "/apirest.php", user_token=USER_TOKEN, max_upload_size=400_000)
        ticket = client.submit(report_bundle(screenshots=[big]))
        report = client.get_ticket(ticket.id).report
        assert report is not None and report.steps[0].image.media_type == "image/webp"
        assert report.steps[0].image.size <= 400_000
        with pytest.raises(TooLargeError, match=r"attachment-001\.txt \(spooler\.log\) is 488 KB"):
            client.submit(report_bundle(steps=1, attachment=b"z" * 500_000))
        assert len(fake(server).tickets) == 1 and server.violations == []


def test_app_token_from_environment_or_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = BackendConfig(name="glpi", type="glpi", url="https://glpi.example.org/apirest.php")
    assert app_token_for(backend) is None
    keyring.set_password(KEYRING_SERVICE, "glpi-app@https://glpi.example.org/apirest.php", "from-keyring")
    try:
        assert app_token_for(backend) == "from-keyring"
        monkeypatch.setenv("SHOWDESK_GLPI_APP_TOKEN", "from-env")
        assert app_token_for(backend) == "from-env"
    finally:
        keyring.delete_password(KEYRING_SERVICE, "glpi-app@https://glpi.example.org/apirest.php")


def test_created_from_configuration(glpi: ContractServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWDESK_TOKEN", USER_TOKEN)
    monkeypatch.setenv("SHOWDESK_GLPI_APP_TOKEN", APP_TOKEN)
    backend = BackendConfig(name="glpi", type="glpi", url=glpi.url + "/apirest.php",
                            options={"ticket_fields": {"entities_id": 3}, "max_upload_size": "8 MiB"})
    client = create(backend)
    assert client.limits.max_file_bytes == 8 * 1024 * 1024
    ticket = client.submit(report_bundle(steps=1))
    assert fake(glpi).tickets[int(ticket.id)]["entities_id"] == 3
    with pytest.raises(ConfigError, match="ticket_fields cannot set content"):
        create(BackendConfig(name="glpi", type="glpi", url=glpi.url, options={"ticket_fields": {"content": "x"}}))
    with pytest.raises(ConfigError, match="GLPI ids"):
        create(BackendConfig(name="glpi", type="glpi", url=glpi.url, options={"ticket_fields": {"type": "bug"}}))
