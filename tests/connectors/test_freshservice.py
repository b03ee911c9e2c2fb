"""The Freshservice connector, contract-tested against a local server following Freshservice's documented API.

* https://api.freshservice.com/v2/#create_ticket ("Create a Ticket": email, subject, description,
  status, priority, source, tags, custom_fields; attachments as ``attachments[]`` parts of a
  multipart/form-data request, at most 40 MB together);
* https://api.freshservice.com/v2/#view_all_ticket (list by requester ``email``, ``order_type``) and
  https://api.freshservice.com/v2/#filter_tickets (``query`` in double quotes, ``field:'value'``);
* https://api.freshservice.com/v2/#authentication (the API key as basic ``key:X``);
* https://support.freshservice.com/en/support/solutions/articles/232990-general-settings (the
  self-service portal requesters log in to: ``/support/tickets/{id}`` is the link the person gets).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config import BackendConfig, ConfigError
from agent.connectors import make_connector
from agent.connectors.base import AuthError, Capability, PermanentError, TooLargeError, TransientError
from agent.connectors.common import attachment_name, manifest_name
from agent.connectors.freshservice import FreshserviceConnector
from tests.connectors.contract import ContractServer, FakeFreshservice, Fault, Response
from tests.connectors.helpers import capture_and_submit, report_bundle, screenshot
from tests.fixtures.xvfb import XvfbServer, paint_root, position_pattern

KEY = "freshservice-api-key-1"
FIELD = "showdesk_report_id"


@pytest.fixture
def freshservice() -> Iterator[ContractServer]:
    with ContractServer(FakeFreshservice(KEY, custom_fields=(FIELD,))) as server:
        yield server
    assert server.violations == []


def fake(server: ContractServer) -> FakeFreshservice:
    assert isinstance(server.app, FakeFreshservice)
    return server.app


def connector(server: ContractServer, **kwargs: object) -> FreshserviceConnector:
    options: dict[str, object] = {"token": KEY, "report_id_field": FIELD}
    options.update(kwargs)
    return FreshserviceConnector(server.url, **options)  # type: ignore[arg-type]


def test_one_multipart_ticket_with_every_screenshot_byte_identical(freshservice: ContractServer) -> None:
    bundle = report_bundle(steps=3)
    report = bundle.report
    ticket = connector(freshservice).submit(bundle)

    [create] = freshservice.requests("POST", "/api/v2/tickets")
    fields = {p.name: p.data.decode() for p in create.form() if p.filename is None}
    assert fields["email"] == "ann@example.org" and fields["subject"] == report.subject()
    assert (fields["status"], fields["priority"], fields["source"]) == ("2", "3", "2")  # critical flag → high
    assert fields[f"custom_fields[{FIELD}]"] == str(report.id) and fields["tags[]"] == "showdesk"
    assert all(step.caption in fields["description"] for step in report.steps)
    files = {p.filename: (p.content_type, p.data) for p in fake(freshservice).files[int(ticket.id)]}
    for ref in report.files():
        assert files[attachment_name(ref.path)] == (ref.media_type, bundle.files[ref.path])
    assert files[manifest_name(report.id)] == ("application/json", report.canonical_json())
    # The person's link is the self-service portal's ticket page, not the agents' ``/a/`` interface.
    assert (ticket.number, ticket.url) == ("#INC-1", f"{freshservice.url}/support/tickets/1")


@pytest.mark.parametrize("field", [FIELD, None], ids=["custom field", "requester's tickets"])
def test_lost_answer_then_a_retry_makes_no_second_ticket(freshservice: ContractServer, field: str | None) -> None:
    bundle = report_bundle(steps=2)
    client = connector(freshservice, report_id_field=field)
    freshservice.fail(Fault("POST", "/api/v2/tickets", Response(502, b"Bad Gateway"), lost=True))
    with pytest.raises(TransientError, match="502"):
        client.submit(bundle)
    ticket = client.submit(bundle)
    assert list(fake(freshservice).tickets) == [int(ticket.id)]
    assert client.submit(report_bundle(steps=1)).id == "2"  # another report is another ticket
    assert Capability.IDEMPOTENT in client.capabilities


def test_over_the_attachments_limit_is_fitted_or_refused_naming_it(freshservice: ContractServer) -> None:
    big = screenshot(81, (1920, 1080), noise=(700, 600))
    bundle = report_bundle(screenshots=[big, screenshot(82)])
    connector(freshservice, max_request_size=700_000).submit(bundle)
    [create] = freshservice.requests("POST", "/api/v2/tickets")
    assert len(create.body) <= 700_000
    assert "Step 1 was re-encoded" in fake(freshservice).tickets[1]["description"]
    with pytest.raises(TooLargeError, match=r"spooler\.log.*684 KB.*a ticket's attachments together"):
        connector(freshservice, max_request_size=700_000).submit(report_bundle(steps=1, attachment=b"x" * 800_000))
    fake(freshservice).max_attachments = 100_000  # the account's own refusal passes on with its words
    with pytest.raises(PermanentError, match="attachments: Attachment size exceeds the limit"):
        connector(freshservice).submit(report_bundle(steps=1, attachment=b"y" * 150_000))


def test_a_refused_key_names_freshservice_and_the_fix(freshservice: ContractServer) -> None:
    with pytest.raises(AuthError) as caught:
        connector(freshservice, token="wrong").submit(report_bundle(steps=1))
    message = str(caught.value)
    assert f"Freshservice at {freshservice.url} refused the API key (401): You have to be logged in" in message
    assert f"showdesk login {freshservice.url}" in message and fake(freshservice).tickets == {}


def test_created_from_configuration(freshservice: ContractServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWDESK_TOKEN", KEY)
    client = make_connector(BackendConfig(name="fs", type="freshservice", url=freshservice.url, options={
        "report_id_field": FIELD, "requester_email": "kiosk@example.org", "priorities": {"critical": "4"}}))
    assert isinstance(client, FreshserviceConnector)
    client.submit(report_bundle(steps=1, email=None))
    assert fake(freshservice).tickets[1]["requester_email"] == "kiosk@example.org"
    assert fake(freshservice).tickets[1]["priority"] == 4
    with pytest.raises(PermanentError, match="needs a requester e-mail"):
        FreshserviceConnector(freshservice.url, token=KEY).submit(report_bundle(steps=1, email=None))
    with pytest.raises(ConfigError, match=r"\[backends.fs\] priorities take Freshservice's"):
        make_connector(BackendConfig(name="fs", type="freshservice", url=freshservice.url,
                                     options={"priorities": {"critical": "high"}}))


@pytest.mark.xvfb
def test_showdesk_capture_submit_with_a_freshservice_backend(
    freshservice: ContractServer, xvfb_display: XvfbServer, tmp_path: Path
) -> None:
    paint_root(xvfb_display.display, position_pattern(xvfb_display.width, xvfb_display.height))
    backend = (
        'type = "freshservice"\n'
        f'url = "{freshservice.url}"\n'
        f'report_id_field = "{FIELD}"\n'
        'requester_email = "kiosk@example.org"\n'
    )
    outcome: dict[str, Any] = capture_and_submit(backend, KEY, xvfb_display.env, tmp_path)
    [ticket_id] = fake(freshservice).tickets
    assert outcome["ticket"]["id"] == str(ticket_id)
    assert "step-001.webp" in {p.filename for p in fake(freshservice).files[ticket_id]}
