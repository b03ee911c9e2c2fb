"""The Jira connector (Service Management customer requests and plain project issues), contract-tested.

The local server replays the requests and answers Atlassian documents:

* https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/ (create customer
  request, ``raiseOnBehalfOf``) and https://developer.atlassian.com/server/jira-servicedesk/rest/v1005/api-group-request-attachment
  (``attachTemporaryFile``, then ``/request/{key}/attachment`` with ``temporaryAttachmentIds``,
  ``X-Atlassian-Token: no-check``);
* https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/ (create issue, ADF
  description), .../api-group-issue-attachments/ (``/issue/{key}/attachments``, part ``file``),
  .../api-group-issue-search/ (``/search/jql``), .../api-group-user-search/ (``/user/search``);
* Data Center: https://docs.atlassian.com/jira-servicedesk/REST/server and the platform's API 2
  (personal access tokens as ``Authorization: Bearer``);
* the read side: .../rest/v3/api-group-myself/, .../api-group-issue-attachments/ (``/attachment/content/{id}``
  with ``redirect=false``), .../api-group-issues/ (``/issue/{key}/transitions``), .../api-group-issue-comments/,
  and https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/ (request comments with
  ``public``);
* the person's link: the create-request answer's ``_links.web`` (the customer portal page of the request,
  ``/servicedesk/customer/portal/{serviceDeskId}/{key}``), same page as above; ``_links.agent`` is the agents' view.
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
from agent.connectors.jira import JiraConnector, report_label
from tests.connectors.contract import ContractServer, FakeJira, Fault, Response
from tests.connectors.helpers import capture_and_submit, report_bundle, screenshot
from tests.fixtures.xvfb import XvfbServer, paint_root, position_pattern

TOKEN = "jira-api-token-1"
EMAIL = "agent@example.org"


@pytest.fixture
def jira() -> Iterator[ContractServer]:
    with ContractServer(FakeJira(TOKEN, email=EMAIL)) as server:
        yield server
    assert server.violations == []


def service_desk(server: ContractServer, **kwargs: object) -> JiraConnector:
    options: dict[str, object] = {"token": TOKEN, "email": EMAIL, "service_desk_id": "1", "request_type_id": "10"}
    options.update(kwargs)
    return JiraConnector(server.url, **options)  # type: ignore[arg-type]


def fake(server: ContractServer) -> FakeJira:
    assert isinstance(server.app, FakeJira)
    return server.app


def test_customer_request_with_every_screenshot_byte_identical(jira: ContractServer) -> None:
    bundle = report_bundle(steps=3)
    report = bundle.report
    ticket = service_desk(jira, priorities={"critical": "Highest", "default": "Low"}).submit(bundle)

    [create] = jira.requests("POST", "/rest/servicedeskapi/request")
    payload = create.json()
    assert (payload["serviceDeskId"], payload["requestTypeId"]) == ("1", "10")
    assert payload["raiseOnBehalfOf"] == "5b10ac8d82e05b22cc7d4ef5"  # ann@example.org's account id
    values = payload["requestFieldValues"]
    assert values["summary"] == report.subject() and values["labels"] == ["showdesk", report_label(report.id)]
    assert values["priority"] == {"name": "Highest"}  # the sysinfo's full disk is a critical flag
    assert all(step.caption in values["description"] for step in report.steps)
    uploads = jira.requests("POST", "/rest/servicedeskapi/servicedesk/1/attachTemporaryFile")
    assert len(uploads) == len(report.files()) + 1 and all(
        u.headers["X-Atlassian-Token"] == "no-check" for u in uploads)
    kept = {name: data for name, _type, data in fake(jira).files[ticket.id]}
    for ref in report.files():
        assert kept[attachment_name(ref.path)] == bundle.files[ref.path]
    assert kept[manifest_name(report.id)] == report.canonical_json()
    assert jira.requests("POST", rf"/rest/servicedeskapi/request/{ticket.id}/attachment")[0].json()["public"] is True
    # The person's link is the customer portal page Jira named in its answer (``_links.web``), not /browse.
    # (The stand-in answers with another host than its own, so this link can only come from the answer.)
    web = "https://jira.example/servicedesk/customer/portal/1/HELP-1"
    assert (ticket.id, ticket.number, ticket.url) == ("HELP-1", "HELP-1", web)
    assert ticket.report_id == report.id


def test_plain_project_on_data_center_with_a_personal_access_token() -> None:
    with ContractServer(FakeJira("pat-1", email=None, api_version="2")) as server:
        client = JiraConnector(server.url, token="pat-1", project="OPS", api_version="2", issue_type="Bug")
        bundle = report_bundle(steps=2)
        ticket = client.submit(bundle)
        [create] = server.requests("POST", "/rest/api/2/issue")
        assert create.headers["Authorization"] == "Bearer pat-1"
        fields = create.json()["fields"]
        assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Bug"}
        assert fields["labels"] == ["showdesk", report_label(bundle.report.id)] and "Step 2" in fields["description"]
        kept = {name: data for name, _type, data in fake(server).files[ticket.id]}
        assert {attachment_name(r.path): bundle.files[r.path] for r in bundle.report.files()}.items() <= kept.items()
        assert ticket.id == "OPS-1" and server.violations == []
        assert ticket.url == f"{server.url}/browse/OPS-1"  # a plain project: the same page for everyone


def test_plain_project_on_cloud_sends_the_description_as_adf(jira: ContractServer) -> None:
    client = JiraConnector(jira.url, token=TOKEN, email=EMAIL, project="OPS")
    bundle = report_bundle(steps=1)
    client.submit(bundle)
    description = jira.requests("POST", "/rest/api/3/issue")[0].json()["fields"]["description"]
    texts = [n["text"] for p in description["content"] for n in p["content"] if n["type"] == "text"]
    assert f"  1. {bundle.report.steps[0].caption}" in texts


def test_technician_read_side_on_a_service_desk(jira: ContractServer) -> None:
    client = service_desk(jira)
    assert {Capability.READ, Capability.STATUS, Capability.NOTES} <= client.capabilities
    assert Capability.ASSIGN not in client.capabilities and Capability.CHANGES not in client.capabilities
    assert client.whoami().name == "Helpdesk Bot"
    first, second = report_bundle(steps=2), report_bundle(steps=1)
    older, newer = client.submit(first), client.submit(second)

    page = client.list_tickets(limit=1)
    assert [t.id for t in page.tickets] == [newer.id] and page.tickets[0].report_id == second.report.id
    assert page.raw[0]["subject"] == second.report.subject()
    assert [t.id for t in client.list_tickets(cursor=page.next_cursor).tickets] == [older.id]

    detail = client.get_ticket(older.id)
    assert detail.report == first.report and detail.ticket.status == "new"
    for ref in first.report.files():
        assert client.attachment(older.id, ref.path) == first.files[ref.path]

    assert client.set_status(older.id, "waiting").status == "waiting"
    assert client.set_status(older.id, "resolved").status == "resolved"
    assert [t.id for t in client.list_tickets(status="resolved").tickets] == [older.id]
    client.add_note(older.id, "Replaced the toner.", internal=True)
    client.add_note(older.id, "Fixed, please try again.", internal=False)
    timeline = client.get_ticket(older.id).timeline
    assert [(e["kind"], e["internal"]) for e in timeline] == [("created", False), ("note", True), ("reply", False)]
    assert timeline[1]["data"]["text"] == "Replaced the toner."
    fake(jira).SERVICE_DESK_WORKFLOW.pop("Closed")  # a workflow without it: the refusal names what is possible
    try:
        with pytest.raises(PermanentError, match=r"cannot move to 'Closed'.*can move to: In Progress, Resolved"):
            client.set_status(older.id, "closed")
    finally:
        fake(jira).SERVICE_DESK_WORKFLOW["Closed"] = "done"


def test_technician_read_side_on_a_data_center_project() -> None:
    with ContractServer(FakeJira("pat-1", email=None, api_version="2")) as server:
        client = JiraConnector(server.url, token="pat-1", project="OPS", api_version="2")
        bundle = report_bundle(steps=1)
        ticket = client.submit(bundle)
        page = client.list_tickets()
        assert [t.id for t in page.tickets] == [ticket.id] and page.next_cursor is None
        assert client.get_ticket(ticket.id).report == bundle.report
        step = bundle.report.steps[0].image.path
        assert client.attachment(ticket.id, step) == bundle.files[step]
        assert client.set_status(ticket.id, "resolved").status == "resolved"
        client.add_note(ticket.id, "Done.")
        [_created, note] = client.get_ticket(ticket.id).timeline
        assert (note["kind"], note["data"]["text"]) == ("note", "Done.") and server.violations == []


def test_lost_answers_then_a_retry_make_no_second_request(jira: ContractServer) -> None:
    bundle = report_bundle(steps=2)
    client = service_desk(jira)
    jira.fail(Fault("POST", "/rest/servicedeskapi/request", Response(502, b"Bad Gateway"), lost=True))
    with pytest.raises(TransientError, match="502"):
        client.submit(bundle)
    # The request exists without its files; the retry finds it by its label and attaches them.
    ticket = client.submit(bundle)
    assert len(jira.requests("POST", "/rest/servicedeskapi/request")) == 1
    # Now the attach call's answer is lost too: the replay sees every file there and sends none.
    second = report_bundle(steps=1)
    jira.fail(Fault("POST", r"/rest/servicedeskapi/request/HELP-2/attachment", Response(504, b""), lost=True))
    with pytest.raises(TransientError):
        client.submit(second)
    uploads_before = len(jira.requests("POST", r".*/attachTemporaryFile"))
    assert client.submit(second).id == "HELP-2"
    assert len(jira.requests("POST", r".*/attachTemporaryFile")) == uploads_before
    files = fake(jira).files
    assert len(files["HELP-1"]) == len(bundle.report.files()) + 1 == len({f[0] for f in files["HELP-1"]})
    assert len(files["HELP-2"]) == len(second.report.files()) + 1 and len(fake(jira).issues) == 2
    assert ticket.id == "HELP-1" and Capability.IDEMPOTENT in client.capabilities
    # The replay found the request without a create answer and asked Jira for the request's portal link.
    assert ticket.url == "https://jira.example/servicedesk/customer/portal/1/HELP-1"


def test_replay_without_jiras_link_builds_the_portal_link(jira: ContractServer) -> None:
    bundle = report_bundle(steps=1)
    client = service_desk(jira)
    jira.fail(Fault("POST", "/rest/servicedeskapi/request", Response(502, b"Bad Gateway"), lost=True))
    with pytest.raises(TransientError):
        client.submit(bundle)
    # Jira cannot say the request's link on the replay: the delivery still succeeds, with the portal page built
    # from the configured address and desk, never the agents' /browse view.
    jira.fail(Fault("GET", r"/rest/servicedeskapi/request/HELP-1", Response(503, b"")))
    ticket = client.submit(bundle)
    assert ticket.url == f"{jira.url}/servicedesk/customer/portal/1/HELP-1"
    assert len(fake(jira).files["HELP-1"]) == len(bundle.report.files()) + 1


def test_request_type_without_labels_searches_the_text(jira: ContractServer) -> None:
    fake(jira).request_type_fields = ("summary", "description")
    client = service_desk(jira, request_labels=False)
    assert Capability.IDEMPOTENT not in client.capabilities  # Jira's search index may lag a create
    bundle = report_bundle(steps=1)
    first = client.submit(bundle)
    assert client.submit(bundle) == first and len(fake(jira).issues) == 1


def test_over_the_attachment_limit_is_fitted_or_refused_naming_it(jira: ContractServer) -> None:
    big = screenshot(31, (1920, 1080), noise=(600, 500))
    assert len(big) > 600_000
    bundle = report_bundle(screenshots=[big, screenshot(32)])
    ticket = service_desk(jira, max_attachment_size=400_000).submit(bundle)
    sizes = {name: len(data) for name, _type, data in fake(jira).files[ticket.id]}
    assert sizes["step-001.webp"] <= 400_000
    description = jira.requests("POST", "/rest/servicedeskapi/request")[0].json()["requestFieldValues"]["description"]
    assert "Step 1 was re-encoded" in description and "files up to 391 KB" in description
    with pytest.raises(TooLargeError, match=r"attachment-001\.txt \(spooler\.log\).*391 KB.*max_attachment_size"):
        service_desk(jira, max_attachment_size=400_000).submit(report_bundle(steps=1, attachment=b"x" * 500_000))


def test_a_refused_token_names_the_system_and_the_fix(jira: ContractServer) -> None:
    with pytest.raises(AuthError) as caught:
        service_desk(jira, token="wrong").submit(report_bundle(steps=1))
    message = str(caught.value)
    assert f"Jira Service Management at {jira.url}" in message and "401" in message
    assert f'email = "{EMAIL}"' in message and f"showdesk login {jira.url}" in message
    with pytest.raises(AuthError, match="personal access token"):
        JiraConnector(jira.url, token="pat", project="OPS").submit(report_bundle(steps=1))
    assert fake(jira).issues == {}


def test_created_from_configuration(jira: ContractServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWDESK_TOKEN", TOKEN)
    backend = BackendConfig(name="jsm", type="jira", url=jira.url, options={
        "email": EMAIL, "service_desk_id": "1", "request_type_id": "10", "max_attachment_size": "2 MiB"})
    client = make_connector(backend)
    assert isinstance(client, JiraConnector) and client.limits.max_file_bytes == 2 * 1024 * 1024
    assert client.submit(report_bundle(steps=1)).id == "HELP-1"
    with pytest.raises(ConfigError, match=r"\[backends.jsm\].*service_desk_id .* or project"):
        make_connector(BackendConfig(name="jsm", type="jira", url=jira.url, options={"email": EMAIL}))


@pytest.mark.xvfb
def test_showdesk_capture_submit_with_a_jira_backend(
    jira: ContractServer, xvfb_display: XvfbServer, tmp_path: Path
) -> None:
    paint_root(xvfb_display.display, position_pattern(xvfb_display.width, xvfb_display.height))
    backend = (
        'type = "jira"\n'
        f'url = "{jira.url}"\n'
        f'email = "{EMAIL}"\n'
        'service_desk_id = "1"\n'
        'request_type_id = "10"\n'
    )
    outcome: dict[str, Any] = capture_and_submit(backend, TOKEN, xvfb_display.env, tmp_path)
    [key] = fake(jira).issues
    assert outcome["ticket"]["id"] == key and "step-001.webp" in {f[0] for f in fake(jira).files[key]}


def test_technician_mode_client_shows_what_the_connector_offers(jira: ContractServer) -> None:
    from technician.client import Feature, TechClient
    from technician.model import QueueFilter

    bundle = report_bundle(steps=2)
    submitted = service_desk(jira).submit(bundle)
    tech = TechClient(lambda: service_desk(jira))
    try:
        assert tech.features == {Feature.READ, Feature.STATUS, Feature.NOTES}  # no assign, filters, live, figures
        assert tech.sign_in().role == "technician"
        [row] = tech.list_page(QueueFilter()).tickets
        assert row.id == submitted.id and row.subject == bundle.report.subject()
        info = tech.ticket(submitted.id)
        assert info.report == bundle.report and info.summary.subject == bundle.report.subject()
        assert [flag.code for flag in info.flags][:1] == ["disk_full"]  # from the ticket's sysinfo.json
    finally:
        tech.close()
