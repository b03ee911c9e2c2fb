"""The Zendesk connector, contract-tested against a local server following Zendesk's documented API.

* https://developer.zendesk.com/api-reference/ticketing/tickets/ticket-attachments/#upload-files
  (``POST /api/v2/uploads?filename=…&token=…``: several files join one upload through the token);
* https://developer.zendesk.com/documentation/ticketing/managing-tickets/adding-ticket-attachments-with-the-api
  (the token in ``ticket.comment.uploads``);
* https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ (create ticket with
  ``requester``, ``external_id``, ``priority``; list tickets by ``external_id``);
* https://developer.zendesk.com/api-reference/introduction/security-and-auth/ (API token as basic
  ``{email}/token:{token}``);
* https://developer.zendesk.com/api-reference/help_center/help-center-templates/request_page/ (the
  Help Center's request page ``/hc/{locale}/requests/{id}``, where end users follow their requests:
  the link the person gets).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config import BackendConfig, ConfigError
from agent.connectors import make_connector
from agent.connectors.base import AuthError, Capability, TooLargeError, TransientError
from agent.connectors.common import attachment_name, manifest_name
from agent.connectors.zendesk import ZendeskConnector
from tests.connectors.contract import ContractServer, FakeZendesk, Fault, Response
from tests.connectors.helpers import capture_and_submit, report_bundle, screenshot
from tests.fixtures.xvfb import XvfbServer, paint_root, position_pattern

EMAIL, TOKEN = "agent@example.org", "zendesk-api-token-1"


@pytest.fixture
def zendesk() -> Iterator[ContractServer]:
    with ContractServer(FakeZendesk(EMAIL, TOKEN)) as server:
        yield server
    assert server.violations == []


def fake(server: ContractServer) -> FakeZendesk:
    assert isinstance(server.app, FakeZendesk)
    return server.app


def connector(server: ContractServer, **kwargs: object) -> ZendeskConnector:
    options: dict[str, object] = {"token": TOKEN, "email": EMAIL}
    options.update(kwargs)
    return ZendeskConnector(server.url, **options)  # type: ignore[arg-type]


def test_ticket_with_every_screenshot_byte_identical(zendesk: ContractServer) -> None:
    bundle = report_bundle(steps=3)
    report = bundle.report
    ticket = connector(zendesk, priorities={"critical": "urgent", "default": "normal"}).submit(bundle)

    uploads = zendesk.requests("POST", "/api/v2/uploads")
    assert uploads[0].param("token") is None and len({u.param("token") for u in uploads[1:]}) == 1
    [create] = zendesk.requests("POST", "/api/v2/tickets")
    sent = create.json()["ticket"]
    assert sent["external_id"] == str(report.id) and sent["priority"] == "urgent"
    assert sent["requester"] == {"email": "ann@example.org", "name": "Ann Example"}
    assert all(step.caption in sent["comment"]["html_body"] for step in report.steps)
    files = {name: (media_type, data) for name, media_type, data in fake(zendesk).files[int(ticket.id)]}
    for ref in report.files():
        assert files[attachment_name(ref.path)] == (ref.media_type, bundle.files[ref.path])
    assert files[manifest_name(report.id)] == ("application/json", report.canonical_json())
    # The person's link is the Help Center request page, not the agents' workspace.
    assert ticket.url == f"{zendesk.url}/hc/requests/{ticket.id}" and ticket.report_id == report.id


def test_lost_answers_then_a_retry_make_no_second_ticket(zendesk: ContractServer) -> None:
    bundle = report_bundle(steps=2)
    client = connector(zendesk)
    zendesk.fail(Fault("POST", "/api/v2/tickets", Response(502, b"Bad Gateway"), lost=True))
    with pytest.raises(TransientError, match="502"):
        client.submit(bundle)
    ticket = client.submit(bundle)
    assert len(zendesk.requests("POST", "/api/v2/tickets")) == 1 and list(fake(zendesk).tickets) == [int(ticket.id)]
    # An upload's answer lost: the retry uploads every file again into a new upload, and one ticket comes.
    other = report_bundle(steps=1)
    zendesk.fail(Fault("POST", "/api/v2/uploads", Response(503, b""), lost=True, skip=1))
    with pytest.raises(TransientError):
        client.submit(other)
    second = client.submit(other)
    names = [name for name, _type, _data in fake(zendesk).files[int(second.id)]]
    assert len(names) == len(set(names)) == len(other.report.files()) + 1
    assert len(fake(zendesk).tickets) == 2 and Capability.IDEMPOTENT in client.capabilities


def test_over_the_attachment_limit_is_fitted_or_refused_naming_it(zendesk: ContractServer) -> None:
    bundle = report_bundle(screenshots=[screenshot(61, (1920, 1080), noise=(600, 500))])
    ticket = connector(zendesk, max_attachment_size=400_000).submit(bundle)
    sizes = {name: len(data) for name, _type, data in fake(zendesk).files[int(ticket.id)]}
    assert sizes["step-001.webp"] <= 400_000
    with pytest.raises(TooLargeError, match=r"spooler\.log.*391 KB.*Zendesk's attachment limit"):
        connector(zendesk, max_attachment_size=400_000).submit(report_bundle(steps=1, attachment=b"x" * 500_000))
    # Zendesk's own refusal of a file (a smaller account limit than configured) names it too.
    fake(zendesk).max_attachment = 100_000
    with pytest.raises(TooLargeError, match="Attachment is too large"):
        connector(zendesk).submit(report_bundle(steps=1, attachment=b"y" * 150_000))


def test_refused_credentials_name_zendesk_and_the_fix(zendesk: ContractServer) -> None:
    with pytest.raises(AuthError) as caught:
        connector(zendesk, token="wrong").submit(report_bundle(steps=1))
    message = str(caught.value)
    assert f"Zendesk at {zendesk.url} refused the credentials (401): Couldn't authenticate you" in message
    assert f'email = "{EMAIL}"' in message and f"showdesk login {zendesk.url}" in message
    assert fake(zendesk).tickets == {}


def test_created_from_configuration(zendesk: ContractServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWDESK_TOKEN", TOKEN)
    client = make_connector(BackendConfig(name="zd", type="zendesk", url=zendesk.url, options={
        "email": EMAIL, "priorities": {"warning": "high"}, "group_id": 360001, "max_attachment_size": "20 MB"}))
    assert isinstance(client, ZendeskConnector) and client.limits.max_file_bytes == 20_000_000
    assert client.submit(report_bundle(steps=1)).number.startswith("#")
    with pytest.raises(ConfigError, match=r"\[backends.zd\] priorities take Zendesk's urgent, high, normal, low"):
        make_connector(BackendConfig(name="zd", type="zendesk", url=zendesk.url,
                                     options={"priorities": {"critical": "P1"}}))


@pytest.mark.xvfb
def test_showdesk_capture_submit_with_a_zendesk_backend(
    zendesk: ContractServer, xvfb_display: XvfbServer, tmp_path: Path
) -> None:
    paint_root(xvfb_display.display, position_pattern(xvfb_display.width, xvfb_display.height))
    backend = (
        'type = "zendesk"\n'
        f'url = "{zendesk.url}"\n'
        f'email = "{EMAIL}"\n'
    )
    outcome: dict[str, Any] = capture_and_submit(backend, TOKEN, xvfb_display.env, tmp_path)
    [ticket_id] = fake(zendesk).tickets
    assert outcome["ticket"]["id"] == str(ticket_id)
    assert "step-001.webp" in {f[0] for f in fake(zendesk).files[ticket_id]}
