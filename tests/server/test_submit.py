"""Submitting reports and reading them back, against the real server process."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from agent.bundle import AttachmentDraft
from agent.schema import Ticket
from tests.fixtures.server import ServerProcess
from tests.server.helpers import Upload, api, make_bundle, png_bytes, sha256, stored_state, submit


def test_submit_makes_a_ticket_and_reads_back_everything(server_process: ServerProcess) -> None:
    submitter = server_process.token("submitter", name="kiosk-hall")
    technician = server_process.token("technician", name="tech-ann")
    bundle = make_bundle(
        1,
        steps=2,
        attachments=[AttachmentDraft(b"line one\nline two\n", "app.log", "text/plain")],
        sysinfo={"os": "TestOS 1", "memory_gb": 16},
    )

    response = submit(server_process, submitter, bundle)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["replayed"] is False
    ticket = Ticket.model_validate(body["ticket"])
    assert ticket.number == "SD-1001"
    assert ticket.status == "new"
    assert ticket.report_id == bundle.report.id
    # The ticket's URL is the person's capability link, the same one technicians can look up.
    assert ticket.url == api(server_process, technician, "GET", f"/tickets/{ticket.id}/link").json()["url"]

    detail = api(server_process, technician, "GET", f"/tickets/{ticket.id}").json()
    assert detail["number"] == "SD-1001"
    assert detail["subject"] == bundle.report.subject()
    assert detail["submitted_by"] == "kiosk-hall"
    assert detail["report"] == json.loads(bundle.report.canonical_json())  # the manifest as stored
    assert [s["caption"] for s in detail["steps"]] == ["step 1", "step 2"]
    assert detail["sysinfo"] == {"os": "TestOS 1", "memory_gb": 16}
    assert detail["attachments"][0]["display_name"] == "app.log"
    assert [e["kind"] for e in detail["timeline"]] == ["created"]
    assert detail["timeline"][0]["actor"] == "kiosk-hall"
    assert detail["queue"] is None

    files = [s["image"] for s in detail["steps"]] + [a["file"] for a in detail["attachments"]]
    for info in files:
        download = requests.get(info["url"], headers=server_process.auth(technician), timeout=10)
        assert download.status_code == 200
        assert sha256(download.content) == info["sha256"] == sha256(bundle.files[info["path"]])
        assert download.headers["Content-Type"].startswith(info["media_type"])
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert download.headers["X-Content-Type-Options"] == "nosniff"
    by_path = api(server_process, technician, "GET", f"/tickets/{ticket.number}/files/steps/002.png")
    assert by_path.content == bundle.files["steps/002.png"]


def test_replay_returns_the_same_ticket_and_a_changed_body_is_refused(server_process: ServerProcess) -> None:
    token = server_process.token("submitter")
    bundle = make_bundle(2)
    first = submit(server_process, token, bundle)
    assert first.status_code == 201

    replay = submit(server_process, token, bundle)

    assert replay.status_code == 200
    assert replay.json() == {"ticket": first.json()["ticket"], "replayed": True}
    changed = Upload.of(bundle).with_manifest({**Upload.of(bundle).manifest_json(), "description": "something else"})
    conflict = submit(server_process, token, changed)
    assert conflict.status_code == 422
    assert "different content" in conflict.json()["detail"]
    assert stored_state(server_process)[0] == 1


def test_fifty_concurrent_replays_make_exactly_one_ticket(server_process: ServerProcess) -> None:
    token = server_process.token("submitter")
    bundle = make_bundle(3, steps=3)

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda _i: submit(server_process, token, bundle), range(50)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 49 + [201]
    assert len({r.json()["ticket"]["id"] for r in responses}) == 1
    assert stored_state(server_process)[0] == 1


def test_idempotency_key_must_be_the_report_id(server_process: ServerProcess) -> None:
    token = server_process.token("submitter")
    bundle = make_bundle(4)

    wrong = submit(server_process, token, bundle, key=str(uuid.uuid4()))
    missing = submit(server_process, token, bundle, key=None)

    assert wrong.status_code == 422
    assert "not the report id" in wrong.json()["detail"]
    assert missing.status_code == 422
    assert "Idempotency-Key" in missing.json()["detail"]
    assert stored_state(server_process)[0] == 0


def test_same_screenshot_in_two_reports_is_stored_once(server_process: ServerProcess) -> None:
    token = server_process.token("submitter")
    picture = png_bytes(seed=99)
    assert submit(server_process, token, make_bundle(images=[picture], sysinfo={})).status_code == 201
    assert submit(server_process, token, make_bundle(images=[picture], sysinfo={})).status_code == 201

    tickets, _events, files = stored_state(server_process)

    assert tickets == 2
    blob_names = [f.rsplit("/", 1)[-1] for f in files if f.startswith("blobs/")]
    assert blob_names.count(sha256(picture)) == 1


def test_list_filters_and_paginates_newest_first(server_process: ServerProcess) -> None:
    submitter = server_process.token("submitter")
    technician = server_process.token("technician", name="tech-bob")
    made = []
    for index in range(7):
        bundle = make_bundle(
            10 + index,
            sysinfo={},
            category="Network" if index % 2 else "Printing",
            source_id=f"pc-{index % 3}",
            reporter_email=f"user{index % 2}@example.test",
            description=f"wifi drops every {index} minutes" if index == 5 else f"problem number {index}",
        )
        made.append(submit(server_process, submitter, bundle).json()["ticket"])

    def listing(**params: object) -> list[str]:
        response = api(server_process, technician, "GET", "/tickets", params=params)
        assert response.status_code == 200, response.text
        return [t["number"] for t in response.json()["tickets"]]

    numbers = [t["number"] for t in made]
    assert listing() == numbers[::-1]
    assert listing(category="Network") == [numbers[5], numbers[3], numbers[1]]
    assert listing(source="pc-1") == [numbers[4], numbers[1]]
    assert listing(reporter="USER0@example.test") == [numbers[6], numbers[4], numbers[2], numbers[0]]
    assert listing(q="wifi") == [numbers[5]]
    assert listing(q="minu") == [numbers[5]]
    assert listing(q="nothing-like-this") == []
    assert listing(status="new") == numbers[::-1]
    assert listing(status="closed") == []

    api(server_process, technician, "POST", f"/tickets/{made[2]['id']}/assign", json={"assignee": "me"})
    assert listing(assignee="me") == [numbers[2]]
    assert listing(assignee="tech-bob") == [numbers[2]]
    assert numbers[2] not in listing(assignee="none")
    assert len(listing(assignee="none")) == 6

    pages: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api(server_process, technician, "GET", "/tickets", params=params).json()
        pages.extend(t["number"] for t in page["tickets"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == numbers[::-1]

    too_many = api(server_process, technician, "GET", "/tickets", params={"limit": 201})
    assert too_many.status_code == 422
    assert "limit" in too_many.json()["detail"]


def test_list_since_returns_only_later_tickets(server_process: ServerProcess) -> None:
    submitter = server_process.token("submitter")
    technician = server_process.token("technician")
    first = submit(server_process, submitter, make_bundle(30, sysinfo={})).json()["ticket"]
    created = api(server_process, technician, "GET", f"/tickets/{first['id']}").json()["created_at"]
    second = submit(server_process, submitter, make_bundle(31, sysinfo={})).json()["ticket"]

    later = api(server_process, technician, "GET", "/tickets", params={"since": created}).json()["tickets"]

    assert [t["number"] for t in later] == [second["number"]]


def test_submitter_reads_back_only_its_own_tickets(server_process: ServerProcess) -> None:
    mine = server_process.token("submitter", name="kiosk-a")
    theirs = server_process.token("submitter", name="kiosk-b")
    my_ticket = submit(server_process, mine, make_bundle(40)).json()["ticket"]
    their_ticket = submit(server_process, theirs, make_bundle(41)).json()["ticket"]

    assert api(server_process, mine, "GET", f"/tickets/{my_ticket['id']}").status_code == 200
    assert api(server_process, mine, "GET", f"/tickets/{their_ticket['id']}").status_code == 404
    assert api(server_process, mine, "GET", f"/tickets/{their_ticket['number']}/files/sysinfo.json").status_code == 404
    listed = api(server_process, mine, "GET", "/tickets").json()["tickets"]
    assert [t["id"] for t in listed] == [my_ticket["id"]]
    detail = api(server_process, theirs, "GET", f"/tickets/{their_ticket['id']}").json()
    file_id = detail["steps"][0]["image"]["id"]
    assert api(server_process, mine, "GET", f"/files/{file_id}").status_code == 404
    assert api(server_process, theirs, "GET", f"/files/{file_id}").status_code == 200


def test_openapi_describes_every_route(server_process: ServerProcess) -> None:
    document = requests.get(f"{server_process.url}/openapi.json", timeout=10).json()
    paths = document["paths"]
    for path in (
        "/api/v1/reports",
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket_id}",
        "/api/v1/tickets/{ticket_id}/status",
        "/api/v1/tickets/{ticket_id}/assign",
        "/api/v1/tickets/{ticket_id}/notes",
        "/api/v1/tickets/{ticket_id}/queue",
        "/api/v1/tickets/{ticket_id}/files/{path}",
        "/api/v1/files/{file_id}",
        "/api/v1/changes",
        "/api/v1/queue/{site}",
        "/api/v1/queue/{site}/next",
        "/api/v1/stats",
        "/api/v1/self-help",
        "/api/v1/tokens",
        "/api/v1/tokens/{name_or_id}",
        "/healthz",
    ):
        assert path in paths, path
    assert "multipart/form-data" in paths["/api/v1/reports"]["post"]["requestBody"]["content"]
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    health = requests.get(f"{server_process.url}/healthz", timeout=10).json()
    assert health["status"] == "ok"
    assert health["version"] == document["info"]["version"]
