"""The ServiceNow connector, contract-tested against a local server following ServiceNow's documented APIs.

* Table API: https://www.servicenow.com/docs/r/api-reference/rest-apis/c_TableAPI.html
  (``POST /api/now/table/incident``, ``GET /api/now/table/{table}`` with ``sysparm_query``,
  ``sysparm_fields``, ``sysparm_limit``; answers wrapped in ``result``);
* Attachment API: https://www.servicenow.com/docs/r/zurich/api-reference/rest-apis/c_AttachmentAPI.html
  (``POST /api/now/attachment/file?table_name&table_sys_id&file_name`` with the raw bytes and their
  Content-Type; ``GET /api/now/attachment``; ``com.glide.attachment.max_size``, 1024 MB by default);
* errors as ``{"error": {"message", "detail"}, "status": "failure"}``;
* the read side: ``GET /api/now/attachment/{sys_id}/file``, ``PATCH /api/now/table/incident/{sys_id}``
  (``work_notes``, ``comments``, ``state`` with ``close_code``/``close_notes`` and ``hold_reason`` as the
  default incident form's data policies require) and the journal table ``sys_journal_field``;
* the person's link: the standard ticket page of the Service Portal,
  https://www.servicenow.com/docs/r/australia/platform-user-interface/service-portal/standard-ticket-page.html
  and https://www.servicenow.com/docs/r/australia/it-service-management/incident-management/incident-stnd-ticket-page.html
  (``/sp?id=ticket&table=incident&sys_id=…``; another portal such as the Employee Center by its suffix).
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
from agent.connectors.servicenow import ServiceNowConnector
from tests.connectors.contract import ContractServer, FakeServiceNow, Fault, Response
from tests.connectors.helpers import capture_and_submit, report_bundle, screenshot
from tests.fixtures.xvfb import XvfbServer, paint_root, position_pattern

USER, PASSWORD = "showdesk.integration", "s3cret-password"


@pytest.fixture
def servicenow() -> Iterator[ContractServer]:
    with ContractServer(FakeServiceNow(USER, PASSWORD)) as server:
        yield server
    assert server.violations == []


def fake(server: ContractServer) -> FakeServiceNow:
    assert isinstance(server.app, FakeServiceNow)
    return server.app


def connector(server: ContractServer, **kwargs: object) -> ServiceNowConnector:
    options: dict[str, object] = {"token": PASSWORD, "user": USER, "categories": {"Printer": "hardware"}}
    options.update(kwargs)
    return ServiceNowConnector(server.url, **options)  # type: ignore[arg-type]


def test_incident_with_every_screenshot_byte_identical(servicenow: ContractServer) -> None:
    bundle = report_bundle(steps=3)
    report = bundle.report
    ticket = connector(servicenow).submit(bundle)

    [create] = servicenow.requests("POST", "/api/now/table/incident")
    incident = create.json()
    assert incident["short_description"] == report.subject()
    assert incident["caller_id"] == "62826bf03710200044e0bfc8bcbe5df1"  # found by ann@example.org
    assert (incident["category"], incident["correlation_id"]) == ("hardware", str(report.id))
    assert incident["urgency"] == "1"  # the disk is 99 % full: a critical flag
    assert all(step.caption in incident["description"] for step in report.steps)
    files = fake(servicenow).files_of(ticket.id)
    for ref in report.files():
        assert files[attachment_name(ref.path)] == bundle.files[ref.path]
    assert files[manifest_name(report.id)] == report.canonical_json()
    uploads = servicenow.requests("POST", "/api/now/attachment/file")
    assert {u.headers["Content-Type"] for u in uploads} >= {"image/png", "application/json", "text/plain"}
    assert ticket.number == "INC0010001" and ticket.report_id == report.id
    # The person's link is the Service Portal's ticket page, not the fulfiller form (nav_to.do?uri=incident.do…).
    assert ticket.url == f"{servicenow.url}/sp?id=ticket&table=incident&sys_id={ticket.id}"


def test_unknown_reporter_gets_the_configured_caller_and_unmapped_category_none(servicenow: ContractServer) -> None:
    kiosk_user = "9ee1b13dc6112271007f9d0efdb69cd0"
    fake(servicenow).users["kiosk@example.org"] = kiosk_user
    bundle = report_bundle(steps=1, email="nobody@example.org", category="Other")
    connector(servicenow, caller=kiosk_user, urgencies={"critical": "2"}).submit(bundle)
    incident = servicenow.requests("POST", "/api/now/table/incident")[0].json()
    assert incident["caller_id"] == kiosk_user and "category" not in incident and incident["urgency"] == "2"


def test_lost_answers_then_a_retry_make_no_second_incident(servicenow: ContractServer) -> None:
    bundle = report_bundle(steps=2)
    client = connector(servicenow)
    servicenow.fail(Fault("POST", "/api/now/table/incident", Response(504, b"Gateway Timeout"), lost=True))
    with pytest.raises(TransientError, match="504"):
        client.submit(bundle)
    servicenow.fail(Fault("POST", "/api/now/attachment/file", Response(502, b""), lost=True, skip=1))
    with pytest.raises(TransientError, match="502"):
        client.submit(bundle)  # the incident is found; the second file's answer is lost
    ticket = client.submit(bundle)
    assert len(fake(servicenow).incidents) == 1 and len(servicenow.requests("POST", "/api/now/table/incident")) == 1
    files = fake(servicenow).files_of(ticket.id)  # each file once
    assert len(files) == len(bundle.report.files()) + 1
    assert Capability.IDEMPOTENT in client.capabilities


def test_over_the_attachment_limit_is_fitted_or_refused_naming_it(servicenow: ContractServer) -> None:
    bundle = report_bundle(screenshots=[screenshot(51, (1920, 1080), noise=(600, 500))])
    ticket = connector(servicenow, max_attachment_size=400_000).submit(bundle)
    assert len(fake(servicenow).files_of(ticket.id)["step-001.webp"]) <= 400_000
    assert "Step 1 was re-encoded" in servicenow.requests("POST", "/api/now/table/incident")[0].json()["description"]
    with pytest.raises(TooLargeError, match=r"spooler\.log.*391 KB.*com\.glide\.attachment\.max_size"):
        connector(servicenow, max_attachment_size=400_000).submit(report_bundle(steps=1, attachment=b"x" * 500_000))


def test_technician_read_side(servicenow: ContractServer) -> None:
    client = connector(servicenow)
    assert {Capability.READ, Capability.STATUS, Capability.NOTES} <= client.capabilities
    assert Capability.ASSIGN not in client.capabilities and Capability.FILTERS not in client.capabilities
    assert client.whoami().name == "ShowDesk Integration"
    first, second = report_bundle(steps=2), report_bundle(steps=1)
    older, newer = client.submit(first), client.submit(second)

    page = client.list_tickets(limit=1)
    assert [t.id for t in page.tickets] == [newer.id] and page.next_cursor == "1"
    assert page.raw[0]["subject"] == second.report.subject()
    assert [t.id for t in client.list_tickets(cursor=page.next_cursor).tickets] == [older.id]

    detail = client.get_ticket(older.id)
    assert detail.report == first.report and detail.ticket.report_id == first.report.id
    assert detail.ticket.status == "new" and detail.ticket.number == older.number
    for ref in first.report.files():
        assert client.attachment(older.id, ref.path) == first.files[ref.path]

    assert client.set_status(older.id, "waiting").status == "waiting"
    assert client.set_status(older.id, "resolved").status == "resolved"
    patches = [r.json() for r in servicenow.requests("PATCH", rf"/api/now/table/incident/{older.id}")]
    assert patches == [{"state": "3", "hold_reason": "1"},
                       {"state": "6", "close_code": "Solved (Permanently)", "close_notes": "Resolved with ShowDesk."}]
    client.add_note(older.id, "Replaced the toner.", internal=True)
    client.add_note(older.id, "Fixed, please try again.", internal=False)
    timeline = client.get_ticket(older.id).timeline
    assert [(e["kind"], e["internal"]) for e in timeline] == [("created", False), ("note", True), ("reply", False)]
    assert timeline[2]["data"]["text"] == "Fixed, please try again."
    assert [t.id for t in client.list_tickets(status="resolved").tickets] == [older.id]


def test_refused_credentials_name_servicenow_and_the_fix(servicenow: ContractServer) -> None:
    with pytest.raises(AuthError) as caught:
        connector(servicenow, token="wrong").submit(report_bundle(steps=1))
    message = str(caught.value)
    assert f"ServiceNow at {servicenow.url} refused the credentials (401): User Not Authenticated" in message
    assert f'user = "{USER}"' in message and f"showdesk login {servicenow.url}" in message
    assert fake(servicenow).incidents == {}


def test_created_from_configuration(servicenow: ContractServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWDESK_TOKEN", PASSWORD)
    backend = BackendConfig(name="snow", type="servicenow", url=servicenow.url, options={
        "user": USER, "categories": {"Printer": "hardware"}, "urgencies": {"critical": "2"},
        "max_attachment_size": "25 MB", "requester_portal": "esc"})
    client = make_connector(backend)
    assert isinstance(client, ServiceNowConnector) and client.limits.max_file_bytes == 25_000_000
    ticket = client.submit(report_bundle(steps=1))
    assert servicenow.requests("POST", "/api/now/table/incident")[0].json()["urgency"] == "2"
    assert ticket.url == f"{servicenow.url}/esc?id=ticket&table=incident&sys_id={ticket.id}"
    with pytest.raises(ConfigError, match="requester_portal is a portal's URL suffix"):
        make_connector(BackendConfig(name="snow", type="servicenow", url=servicenow.url,
                                     options={"requester_portal": "https://elsewhere.example/x"}))
    with pytest.raises(ConfigError, match=r"\[backends.snow\] urgencies take ServiceNow's values"):
        make_connector(BackendConfig(name="snow", type="servicenow", url=servicenow.url,
                                     options={"urgencies": {"critical": "high"}}))


@pytest.mark.xvfb
def test_showdesk_capture_submit_with_a_servicenow_backend(
    servicenow: ContractServer, xvfb_display: XvfbServer, tmp_path: Path
) -> None:
    paint_root(xvfb_display.display, position_pattern(xvfb_display.width, xvfb_display.height))
    backend = (
        'type = "servicenow"\n'
        f'url = "{servicenow.url}"\n'
        f'user = "{USER}"\n'
    )
    outcome: dict[str, Any] = capture_and_submit(backend, PASSWORD, xvfb_display.env, tmp_path)
    [sys_id] = fake(servicenow).incidents
    assert outcome["ticket"]["id"] == sys_id and "step-001.webp" in fake(servicenow).files_of(sys_id)


def test_technician_mode_client_shows_what_the_connector_offers(servicenow: ContractServer) -> None:
    from technician.client import Feature, TechClient
    from technician.model import QueueFilter

    bundle = report_bundle(steps=2)
    submitted = connector(servicenow).submit(bundle)
    tech = TechClient(lambda: connector(servicenow))
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
