"""The Request Tracker connector against a real RT 5 on loopback (tests/fixtures/rt.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from agent.bundle import ReportBundle
from agent.config import BackendConfig, ConfigError
from agent.connectors.base import (
    AuthError,
    Capability,
    PermanentError,
    TicketFilter,
    TooLargeError,
    TransientError,
    UnsupportedError,
)
from agent.connectors.common import NeedsAttentionError, attachment_name
from agent.connectors.rt import RTConnector, create
from agent.outbox import EntryState, Outbox
from agent.schema import MANIFEST_PATH, Caller
from tests.connectors.helpers import ForwardProxy, report_bundle, screenshot
from tests.fixtures.rt import RT_TEST_MAX_ATTACHMENT, RTInstance
from tests.outbox.peers import Peer, Reply

# The first test to use the session's RT may install its Debian packages (a minute or more).
pytestmark = [pytest.mark.rt, pytest.mark.timeout(900)]


@pytest.fixture
def rt(rt_server: RTInstance) -> Iterator[RTConnector]:
    connector = RTConnector(
        rt_server.url,
        queue=rt_server.queue,
        token=rt_server.token,
        report_id_field=rt_server.report_field,
        max_attachment_size=RT_TEST_MAX_ATTACHMENT,
    )
    yield connector
    connector.close()


def rt_history_types(rt_server: RTInstance, ticket_id: str) -> list[str]:
    response = rt_server.api("GET", f"/ticket/{ticket_id}/history", params={"fields": "Type", "per_page": 100})
    response.raise_for_status()
    return [item["Type"] for item in response.json()["items"]]


def rt_attachments(rt_server: RTInstance, ticket_id: str) -> list[dict[str, str]]:
    response = rt_server.api(
        "GET", f"/ticket/{ticket_id}/attachments",
        params={"fields": "Filename,ContentType,ContentLength,TransactionId", "per_page": 100},
    )
    response.raise_for_status()
    items: list[dict[str, str]] = response.json()["items"]
    return items


def rt_content(rt_server: RTInstance, attachment_id: str) -> bytes:
    response = rt_server.api("GET", f"/attachment/{attachment_id}")
    response.raise_for_status()
    return base64.b64decode(response.json()["Content"])


def unique(description: str) -> str:
    return f"{description} [{uuid.uuid4().hex[:8]}]"


# ---------------------------------------------------------------- write and read back
def test_report_with_several_screenshots_reads_back_byte_identical(rt: RTConnector, rt_server: RTInstance) -> None:
    bundle = report_bundle(screenshots=[screenshot(n, (1280, 800)) for n in range(4)], description=unique("Printer"))
    progress: list[tuple[int, int]] = []

    ticket = rt.submit(bundle, progress=lambda sent, total: progress.append((sent, total)))

    assert ticket.report_id == bundle.report.id
    assert ticket.number == f"RT #{ticket.id}" and ticket.status == "new"
    assert progress[-1][0] == progress[-1][1] > bundle.total_bytes()
    for ref in bundle.report.files():
        data = rt.attachment(ticket.id, ref.path)
        assert hashlib.sha256(data).hexdigest() == ref.sha256, ref.path
    detail = rt.get_ticket(ticket.id)
    assert detail.report == bundle.report  # the manifest came back whole
    assert detail.ticket == ticket
    assert [e["kind"] for e in detail.timeline] == ["created"]
    record = detail.raw
    assert record["Subject"] == bundle.report.subject()
    assert [r["id"] for r in record["Requestor"]] == ["ann@example.org"]
    assert rt_server.tickets_with_report(bundle.report.id) == [ticket.id]


RT_ROOT_PASSWORD = os.environ.get("RT_ROOT_PASSWORD", "password")  # tests/fixtures/start-rt.sh's default


def rt_web_as_root(rt_server: RTInstance) -> requests.Session:
    """RT's web interface signed in as root; RT refuses form posts without a Referer of its own (CSRF guard)."""
    web = requests.Session()
    assert web.post(f"{rt_server.url}/NoAuth/Login.html", data={"user": "root", "pass": RT_ROOT_PASSWORD},
                    timeout=60).ok
    web.headers["Referer"] = f"{rt_server.url}/Admin/"
    return web


def let_requestor_sign_in(rt_server: RTInstance, email: str, password: str) -> None:
    """What a site does for self-service: requestors may see their tickets and have a password."""
    with rt_web_as_root(rt_server) as root:
        queue_id = rt_server.api("GET", f"/queue/{rt_server.queue}").json()["id"]
        rights = root.get(f"{rt_server.url}/Admin/Queues/GroupRights.html", params={"id": queue_id}, timeout=60)
        [requestor] = re.findall(r'href="#acl-(\d+)"[^>]*>\s*Requestor\s*<', rights.text)
        field = f"{requestor}-RT::Queue-{queue_id}"
        granted = root.post(f"{rt_server.url}/Admin/Queues/GroupRights.html", timeout=60, data={
            "id": queue_id, "CheckACL": field, f"SetRights-{field}": "ShowTicket", "ModifyGroupRights": "1"})
        assert granted.ok
        user_id = rt_server.api("GET", f"/user/{email}").json()["id"]
        changed = root.post(f"{rt_server.url}/Admin/Users/Modify.html", timeout=60, data={
            "id": user_id, "Name": email, "EmailAddress": email, "Enabled": "1", "SetEnabled": "1",
            "Pass1": password, "Pass2": password, "CurrentPass": RT_ROOT_PASSWORD})
        assert "Password set" in changed.text


def test_the_link_opens_the_ticket_for_the_person_who_reported(rt: RTConnector, rt_server: RTInstance) -> None:
    """The person's link is RT's SelfService page of the ticket (the requestors' interface), not the staff page
    /Ticket/Display.html (https://metacpan.org/pod/RT::Extension::SelfServiceSimpleSearch)."""
    email, password = f"person-{uuid.uuid4().hex[:8]}@example.org", uuid.uuid4().hex
    description = unique("Scanner jams")
    ticket = rt.submit(report_bundle(steps=1, description=description, email=email))
    assert ticket.url == f"{rt_server.url}/SelfService/Display.html?id={ticket.id}"
    assert rt.get_ticket(ticket.id).ticket.url == ticket.url  # technician mode copies the same link

    let_requestor_sign_in(rt_server, email, password)
    with requests.Session() as person:
        assert person.post(f"{rt_server.url}/NoAuth/Login.html", data={"user": email, "pass": password},
                           timeout=60).ok
        page = person.get(ticket.url, timeout=60)
        # Straight to the ticket: no detour through the staff interface, no sign-in page in between.
        assert page.status_code == 200 and page.url == ticket.url and description in page.text
        assert person.get(f"{rt_server.url}/SelfService/Display.html?id=99999999", timeout=60).status_code == 404


def test_ticket_body_is_readable_with_captions_and_system_information(rt: RTConnector, rt_server: RTInstance) -> None:
    bundle = report_bundle(steps=2, description=unique("Screen flickers"))
    ticket = rt.submit(bundle)

    first = [a for a in rt_attachments(rt_server, ticket.id) if a["ContentType"] == "text/plain" and not a["Filename"]]
    body = rt_content(rt_server, first[0]["id"]).decode()
    assert body.startswith("Screen flickers")
    for number, step in enumerate(bundle.report.steps, start=1):
        assert f"{number}. {step.caption}" in body
        assert attachment_name(step.image.path) in body
    assert "[critical] Disk / is 99 % full" in body  # the flags, first in the system information
    assert "Ann Example <ann@example.org>" in body
    assert f"ShowDesk report id: {bundle.report.id}" in body


def test_read_side_ignores_mime_containers_and_auto_replies(rt: RTConnector, rt_server: RTInstance) -> None:
    bundle = report_bundle(steps=1, description=unique("Auto-reply"))
    ticket = rt.submit(bundle)

    # RT did wrap the files in a MIME container and did send its auto-reply to the requestor...
    raw = rt_attachments(rt_server, ticket.id)
    assert any(a["ContentType"].startswith("multipart/") for a in raw)
    assert "EmailRecord" in rt_history_types(rt_server, ticket.id)
    # ...and the connector shows neither: exactly the report's files.
    names = [f["name"] for f in rt.get_ticket(ticket.id).raw["files"]]
    expected = [attachment_name(ref.path) for ref in bundle.report.files()]
    assert names == [*expected, f"showdesk-report-{bundle.report.id}.json"]


def test_status_changes_and_notes(rt: RTConnector, rt_server: RTInstance) -> None:
    ticket = rt.submit(report_bundle(steps=1, description=unique("Status")))

    assert rt.set_status(ticket.id, "waiting").status == "waiting"
    assert rt_server.api("GET", f"/ticket/{ticket.id}").json()["Status"] == "stalled"
    assert rt.set_status(ticket.id, "open").status == "open"
    rt.add_note(ticket.id, "Checked the spooler: it is stuck.", internal=True)
    rt.add_note(ticket.id, "We are on it; please use the printer on floor 3 meanwhile.", internal=False)
    assert rt.set_status(ticket.id, "resolved").status == "resolved"

    timeline = rt.get_ticket(ticket.id).timeline
    assert [(e["kind"], e["internal"]) for e in timeline] == [
        ("created", False), ("status", False), ("status", False), ("note", True), ("reply", False), ("status", False),
    ]
    assert timeline[1]["data"] == {"from": "new", "to": "waiting"}
    assert timeline[3]["data"]["text"] == "Checked the spooler: it is stuck."
    assert timeline[4]["data"]["text"].startswith("We are on it")
    types = rt_history_types(rt_server, ticket.id)
    assert "Comment" in types and "Correspond" in types


def test_unknown_status_is_refused_with_rts_words(rt: RTConnector) -> None:
    ticket = rt.submit(report_bundle(steps=1, description=unique("Bad status")))
    with pytest.raises(PermanentError, match="isn't a valid status"):
        rt.set_status(ticket.id, "on-fire")
    assert rt.get_ticket(ticket.id).ticket.status == "new"


def test_list_tickets_pages_newest_first_and_filters_status(rt: RTConnector) -> None:
    made = [rt.submit(report_bundle(steps=1, description=unique(f"List {n}"))) for n in range(3)]
    rt.set_status(made[0].id, "waiting")

    first = rt.list_tickets(limit=2)
    assert len(first.tickets) == 2 and first.next_cursor == "2"
    assert int(first.tickets[0].id) > int(first.tickets[1].id)
    second = rt.list_tickets(limit=2, cursor=first.next_cursor)
    assert not {t.id for t in first.tickets} & {t.id for t in second.tickets}
    waiting = {t.id: t for t in rt.iter_tickets(status="waiting")}
    assert made[0].id in waiting and waiting[made[0].id].status == "waiting"
    assert waiting[made[0].id].report_id is not None
    assert made[1].id not in waiting


# ---------------------------------------------------------------- idempotency
def test_replay_after_lost_response_creates_no_second_ticket(rt_server: RTInstance, tmp_path: Path) -> None:
    bundle = report_bundle(steps=2, description=unique("Lost answer"))
    lost = Peer(upstream=rt_server.url, reply_when=lambda r: r.method == "POST" and r.path == "/REST/2.0/ticket")
    lost.answer(Reply(502, b"Bad Gateway", forward_first=True))  # RT makes the ticket; its answer is lost
    with lost:
        connector = RTConnector(lost.url, queue=rt_server.queue, token=rt_server.token,
                                report_id_field=rt_server.report_field, max_attachment_size=RT_TEST_MAX_ATTACHMENT)
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _name: connector)
        outbox.put(bundle, "rt")

        first = outbox.flush(force=True)
        assert [e.state for e in first.retrying] == [EntryState.PENDING]
        assert "502" in (first.retrying[0].last_error or "")
        made = rt_server.tickets_with_report(bundle.report.id)
        assert len(made) == 1  # the lost answer did make a ticket

        second = outbox.flush(force=True)
        assert [r.ticket_id for r in second.delivered] == made
        third = RTConnector(rt_server.url, queue=rt_server.queue, token=rt_server.token,
                            report_id_field=rt_server.report_field).submit(bundle)
        assert third.id == made[0]
    assert rt_server.tickets_with_report(bundle.report.id) == made
    assert sum(1 for r in lost.received if r.method == "POST") == 1  # the replays never posted again
    outbox.close()


def test_replay_without_custom_field_finds_the_ticket_by_its_manifest(rt_server: RTInstance) -> None:
    bundle = report_bundle(steps=1, description=unique("No custom field"))
    lost = Peer(upstream=rt_server.url, reply_when=lambda r: r.method == "POST" and r.path == "/REST/2.0/ticket")
    lost.answer(Reply(504, b"Gateway Timeout", forward_first=True))
    with lost:
        via_proxy = RTConnector(lost.url, queue=rt_server.queue, token=rt_server.token)
        with pytest.raises(TransientError, match="504"):
            via_proxy.submit(bundle)
        made = rt_server.tickets_with_subject(bundle.report.subject())
        assert len(made) == 1
        again = via_proxy.submit(bundle)
    assert again.id == made[0] and again.report_id == bundle.report.id
    assert rt_server.tickets_with_subject(bundle.report.subject()) == made
    # A different report with the same subject is not mistaken for it.
    twin = report_bundle(steps=1, description=bundle.report.description)
    other = RTConnector(rt_server.url, queue=rt_server.queue, token=rt_server.token).submit(twin)
    assert other.id != made[0]


# ---------------------------------------------------------------- size limits
def test_rt_really_drops_an_over_limit_file_silently(rt_server: RTInstance) -> None:
    """The control: what RT does with a file over its limit when nobody fits it first."""
    big = screenshot(7, (1920, 1080), noise=(500, 400))
    assert len(big) > RT_TEST_MAX_ATTACHMENT
    response = rt_server.api(
        "POST", "/ticket",
        files=[("JSON", (None, '{"Queue": "General", "Subject": "control", "Content": "x"}', "application/json")),
               ("Attachments", ("big.png", big, "image/png"))],
    )
    assert response.status_code == 201  # "created", with no word about the file
    kept = [a for a in rt_attachments(rt_server, response.json()["id"]) if a["Filename"].startswith("big.png")]
    assert rt_content(rt_server, kept[0]["id"]) == b"Large attachment dropped"


def test_over_limit_screenshot_is_fitted_and_noted(rt: RTConnector, rt_server: RTInstance) -> None:
    big = screenshot(8, (1920, 1080), noise=(560, 420))
    assert len(big) > RT_TEST_MAX_ATTACHMENT
    bundle = report_bundle(screenshots=[screenshot(9, (1280, 800)), big], description=unique("Too big"))

    ticket = rt.submit(bundle)

    detail = rt.get_ticket(ticket.id)
    assert detail.report is not None
    fitted_step = detail.report.steps[1]
    assert fitted_step.image.media_type == "image/webp"
    assert fitted_step.image.size <= RT_TEST_MAX_ATTACHMENT * 3 // 4
    assert detail.report.steps[0] == bundle.report.steps[0]  # the step that fitted is untouched
    data = rt.attachment(ticket.id, fitted_step.image.path)  # checked against the manifest's sha256
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (fitted_step.width, fitted_step.height)
        assert image.width == round(1920 * fitted_step.downscale)
    body = rt_content(rt_server, next(
        a["id"] for a in rt_attachments(rt_server, ticket.id) if a["ContentType"] == "text/plain" and not a["Filename"]
    )).decode()
    assert "Changed to fit this ticket system" in body and "Step 2 was" in body


def test_unshrinkable_attachment_is_refused_visibly_and_kept(rt: RTConnector, rt_server: RTInstance,
                                                             tmp_path: Path) -> None:
    log = b"spooler: job failed\n" * 20_000  # 400 KB of log text: nothing to downscale
    bundle = report_bundle(steps=1, attachment=log, description=unique("Huge log"))
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _name: rt)
    outbox.put(bundle, "rt")

    result = outbox.flush(force=True)

    assert [e.state for e in result.dead] == [EntryState.DEAD]
    reason = result.dead[0].last_error or ""
    assert "attachment-001.txt (spooler.log)" in reason and "$MaxAttachmentSize" in reason
    assert outbox.bundle(str(bundle.report.id)).report == bundle.report  # kept as a dead letter
    assert rt_server.tickets_with_report(bundle.report.id) == []
    with pytest.raises(TooLargeError):
        rt.submit(bundle)


def test_a_limit_set_too_high_is_caught_after_create(rt_server: RTInstance) -> None:
    """Configured above RT's real limit, the connector sends a file RT drops: it says so, never quietly."""
    generous = RTConnector(rt_server.url, queue=rt_server.queue, token=rt_server.token,
                           report_id_field=rt_server.report_field, max_attachment_size=10 * 1024 * 1024)
    bundle = report_bundle(screenshots=[screenshot(11, (1920, 1080), noise=(500, 400))], description=unique("Dropped"))
    with pytest.raises(PermanentError, match=r"did not keep step-001\.png"):
        generous.submit(bundle)
    made = rt_server.tickets_with_report(bundle.report.id)
    assert len(made) == 1
    note = [e for e in RTConnector(rt_server.url, queue=rt_server.queue, token=rt_server.token)
            .get_ticket(made[0]).timeline if e["kind"] == "note"]
    assert "did not keep step-001.png" in note[0]["data"]["text"]
    with pytest.raises(PermanentError, match="not the file that was sent"):
        generous.attachment(made[0], bundle.report.steps[0].image.path)


def test_kept_files_are_checked_until_rt_has_kept_files_that_large(rt_server: RTInstance) -> None:
    with Peer(upstream=rt_server.url) as counting:
        connector = RTConnector(counting.url, queue=rt_server.queue, token=rt_server.token,
                                report_id_field=rt_server.report_field, max_attachment_size=RT_TEST_MAX_ATTACHMENT)

        def checks_after(bundle: ReportBundle) -> int:
            before = len(counting.received)
            connector.submit(bundle)
            return sum(1 for r in counting.received[before:] if r.path.split("?")[0].endswith("/attachments"))

        assert checks_after(report_bundle(screenshots=[screenshot(40, (900, 600))], description=unique("a"))) == 1
        assert checks_after(report_bundle(screenshots=[screenshot(41, (400, 300))], description=unique("b"))) == 0
        assert checks_after(report_bundle(screenshots=[screenshot(42, (1600, 1000))], description=unique("c"))) == 1


# ---------------------------------------------------------------- configuration and errors
def test_missing_custom_field_or_queue_pauses_instead_of_losing_replay_detection(
    rt_server: RTInstance, tmp_path: Path
) -> None:
    bundle = report_bundle(steps=1, description=unique("Misconfigured"))
    no_field = RTConnector(rt_server.url, queue=rt_server.queue, token=rt_server.token, report_id_field="No Such CF")
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _name: no_field)
    outbox.put(bundle, "rt")
    result = outbox.flush(force=True)
    assert [e.state for e in result.paused] == [EntryState.PAUSED]
    assert "'No Such CF'" in (result.paused[0].last_error or "")
    assert rt_server.tickets_with_subject(bundle.report.subject()) == []
    with pytest.raises(NeedsAttentionError, match="no queue 'Nowhere'"):
        RTConnector(rt_server.url, queue="Nowhere", token=rt_server.token).submit(bundle)


def test_refused_or_missing_token_is_an_auth_error(rt_server: RTInstance) -> None:
    bundle = report_bundle(steps=1)
    with pytest.raises(AuthError, match="token refused by Request Tracker"):
        RTConnector(rt_server.url, queue=rt_server.queue, token="1-1-wrong").submit(bundle)
    with pytest.raises(AuthError, match="no token"):
        RTConnector(rt_server.url, queue=rt_server.queue, token=None).list_tickets()


def test_created_from_configuration_with_token_from_environment(
    rt_server: RTInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOWDESK_TOKEN", rt_server.token)
    backend = BackendConfig(
        name="helpdesk", type="rt", url=rt_server.url + "/REST/2.0/",
        options={"queue": rt_server.queue, "report_id_field": rt_server.report_field,
                 "max_attachment_size": "400 KB", "custom_fields": {}},
    )
    with create(backend) as connector:
        assert isinstance(connector, RTConnector)
        assert connector.url == rt_server.url
        assert {Capability.READ, Capability.STATUS, Capability.NOTES, Capability.IDEMPOTENT} <= connector.capabilities
        assert Capability.QUEUE not in connector.capabilities
        ticket = connector.submit(report_bundle(steps=1, description=unique("From config")))
        assert connector.attachment(ticket.id, MANIFEST_PATH).startswith(b"{")
    with pytest.raises(ConfigError, match=r"\[backends.helpdesk\] needs queue"):
        create(BackendConfig(name="helpdesk", type="rt", url=rt_server.url))
    with pytest.raises(ConfigError, match="custom_fields: weather is not a report field"):
        create(BackendConfig(name="helpdesk", type="rt", url=rt_server.url,
                             options={"queue": "General", "custom_fields": {"Site": "weather"}}))


# ---------------------------------------------------------------- technician side
def test_ticketsql_filters_whoami_and_assignment(rt: RTConnector, rt_server: RTInstance) -> None:
    tag = uuid.uuid4().hex[:10]
    printer = rt.submit(report_bundle(steps=1, category="Printer", description=f"Toner streaks {tag}"))
    network = rt.submit(
        report_bundle(steps=1, category="Network", description=f"Wi-Fi drops {tag}", email="bob@example.org")
    )

    def ids(status: str | None = None, **wanted: str) -> list[str]:
        chosen = TicketFilter(text=tag, status=status, category=wanted.get("category"),
                              reporter=wanted.get("reporter"), assignee=wanted.get("assignee"))
        return [t.id for t in rt.list_tickets(filters=chosen).tickets]

    assert ids() == [network.id, printer.id]
    assert ids(category="Printer") == [printer.id]
    assert ids(reporter="bob@example.org") == [network.id]
    assert ids(assignee="none") == [network.id, printer.id]
    assert ids(status="open") == []

    assert rt.assign(printer.id, "me").id == printer.id
    assert rt_server.api("GET", f"/ticket/{printer.id}").json()["Owner"]["id"] == "root"
    assert ids(assignee="me") == [printer.id]
    rt.assign(network.id, "root")
    assert ids(assignee="root") == [network.id, printer.id]
    rt.assign(printer.id, None)
    assert rt_server.api("GET", f"/ticket/{printer.id}").json()["Owner"]["id"] == "Nobody"
    with pytest.raises(PermanentError, match="did not give ticket"):
        rt.assign(printer.id, "nobody-by-this-name")

    # Rows carry the summary keys a list shows, next to RT's own fields.
    page = rt.list_tickets(filters=TicketFilter(text=tag))
    row = page.raw[0]
    assert row["Subject"] == row["subject"] == f"Network: Wi-Fi drops {tag}"
    assert row["assignee"] == "root" and row["reporter"] == {"email": "bob@example.org"}
    assert row["created_at"].endswith("Z")

    assert rt.whoami() == Caller(name="", role="technician", site=None)
    with pytest.raises(UnsupportedError, match="custom field"):
        rt.list_tickets(filters=TicketFilter(source="kiosk-lobby"))
    with pytest.raises(AuthError, match="token refused"):
        RTConnector(rt_server.url, queue=rt_server.queue, token="1-1-wrong").whoami()


def test_configured_proxy_carries_rt_requests(rt_server: RTInstance) -> None:
    with ForwardProxy() as proxy:
        connector = RTConnector(rt_server.url, queue=rt_server.queue, token=rt_server.token, proxy=proxy.url)
        connector.whoami()
        connector.close()
    assert proxy.targets == [f"GET {rt_server.url}/REST/2.0/queue/{rt_server.queue}"]
