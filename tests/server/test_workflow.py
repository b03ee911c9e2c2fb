"""Working tickets: status, assignment, notes, the timeline, the changes feed, the walk-up queue, figures."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.fixtures.server import ServerProcess
from tests.fixtures.waiting import wait_until
from tests.server.helpers import api, make_bundle, submit


def _ticket(server: ServerProcess, token: str, seed: int, **fields: Any) -> dict[str, str]:
    response = submit(server, token, make_bundle(seed, sysinfo={}, **fields))
    assert response.status_code == 201, response.text
    ticket: dict[str, str] = response.json()["ticket"]
    return ticket


def test_status_follows_the_workflow_and_every_change_is_in_the_timeline(server_process: ServerProcess) -> None:
    submitter = server_process.token("submitter", name="agent-pc7")
    technician = server_process.token("technician", name="tech-carol")
    ticket = _ticket(server_process, submitter, 1)

    def status(to: str) -> requests.Response:
        return api(server_process, technician, "POST", f"/tickets/{ticket['id']}/status", json={"status": to})

    assert status("closed").status_code == 409
    assert "new; it can go to" in status("closed").json()["detail"]
    for to in ("open", "waiting", "open", "resolved", "closed", "open", "resolved"):
        response = status(to)
        assert response.status_code == 200, (to, response.text)
        assert response.json()["status"] == to
    assert status("waiting").status_code == 409
    assert status("resolved").status_code == 200  # already resolved: no change, no event

    detail = api(server_process, technician, "GET", f"/tickets/{ticket['id']}").json()
    changes = [(e["data"]["from"], e["data"]["to"]) for e in detail["timeline"] if e["kind"] == "status"]
    assert changes == [
        ("new", "open"),
        ("open", "waiting"),
        ("waiting", "open"),
        ("open", "resolved"),
        ("resolved", "closed"),
        ("closed", "open"),
        ("open", "resolved"),
    ]
    assert {e["actor"] for e in detail["timeline"] if e["kind"] == "status"} == {"tech-carol"}
    times = [datetime.fromisoformat(e["at"]) for e in detail["timeline"]]
    assert times == sorted(times)
    assert detail["first_response_at"] is not None
    assert detail["resolved_at"] is not None
    assert datetime.fromisoformat(detail["resolved_at"]) >= datetime.fromisoformat(detail["first_response_at"])


def test_notes_are_internal_and_replies_reach_the_submitter(server_process: ServerProcess) -> None:
    submitter = server_process.token("submitter", name="kiosk-lib")
    technician = server_process.token("technician", name="tech-dan")
    ticket = _ticket(server_process, submitter, 2)

    note = api(server_process, technician, "POST", f"/tickets/{ticket['id']}/notes", json={"text": "driver issue"})
    reply = api(
        server_process,
        technician,
        "POST",
        f"/tickets/{ticket['id']}/notes",
        json={"text": "Please restart the printer", "internal": False},
    )
    assign = api(server_process, technician, "POST", f"/tickets/{ticket['id']}/assign", json={"assignee": "me"})

    assert note.status_code == reply.status_code == 201
    assert note.json()["kind"] == "note" and note.json()["internal"] is True
    assert assign.json()["assignee"] == "tech-dan"
    seen_by_technician = api(server_process, technician, "GET", f"/tickets/{ticket['id']}").json()["timeline"]
    seen_by_submitter = api(server_process, submitter, "GET", f"/tickets/{ticket['id']}").json()["timeline"]
    assert [e["kind"] for e in seen_by_technician] == ["created", "note", "reply", "status", "assigned"]
    assert [e["kind"] for e in seen_by_submitter] == ["created", "reply", "status", "assigned"]
    assert seen_by_submitter[1]["data"] == {"text": "Please restart the printer"}
    assert all(e["actor"] == "tech-dan" for e in seen_by_technician[1:])
    empty = api(server_process, technician, "POST", f"/tickets/{ticket['id']}/notes", json={"text": ""})
    assert empty.status_code == 422


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("assign", {"assignee": "me"}),
        ("assign", {"assignee": "tech-other"}),
        ("notes", {"text": "We are on it", "internal": False}),
    ],
)
def test_a_technicians_first_action_opens_a_new_ticket(
    server_process: ServerProcess, action: str, body: dict[str, Any]
) -> None:
    submitter = server_process.token("submitter", name=f"agent-{action}-{len(body)}")
    technician = server_process.token("technician", name="tech-first")
    ticket = _ticket(server_process, submitter, 5)
    note = api(server_process, technician, "POST", f"/tickets/{ticket['id']}/notes", json={"text": "internal only"})
    assert note.status_code == 201
    assert api(server_process, technician, "GET", f"/tickets/{ticket['id']}").json()["status"] == "new"

    acted = api(server_process, technician, "POST", f"/tickets/{ticket['id']}/{action}", json=body)

    assert acted.status_code in (200, 201), acted.text
    detail = api(server_process, technician, "GET", f"/tickets/{ticket['id']}").json()
    assert detail["status"] == "open"
    opened = [e for e in detail["timeline"] if e["kind"] == "status"]
    assert [(e["data"]["from"], e["data"]["to"], e["actor"]) for e in opened] == [("new", "open", "tech-first")]
    # Once open, further actions leave the status to the technician.
    api(server_process, technician, "POST", f"/tickets/{ticket['id']}/status", json={"status": "waiting"})
    api(server_process, technician, "POST", f"/tickets/{ticket['id']}/notes", json={"text": "again", "internal": False})
    assert api(server_process, technician, "GET", f"/tickets/{ticket['id']}").json()["status"] == "waiting"


def test_call_next_assigns_the_caller_and_a_served_visit_counts_in_the_walk_up_wait(
    server_process: ServerProcess,
) -> None:
    kiosk = server_process.token("submitter", name="kiosk-desk", site="desk")
    technician = server_process.token("technician", name="tech-fay")
    called = _ticket(server_process, kiosk, 40, site="desk", walk_up=True, reporter_name="Gil Ho", kind="kiosk")
    served_at_desk = _ticket(server_process, kiosk, 41, site="desk", walk_up=True, reporter_name="Ida Jo", kind="kiosk")

    answer = api(server_process, technician, "POST", "/queue/desk/next").json()

    assert answer["called"]["number"] == called["number"]
    assert answer["called"]["assignee"] == "tech-fay"
    assert answer["called"]["status"] == "open"
    timeline = api(server_process, technician, "GET", f"/tickets/{called['id']}").json()["timeline"]
    assigned = [e for e in timeline if e["kind"] == "assigned"]
    assert [(e["data"]["to"], e["actor"]) for e in assigned] == [("tech-fay", "tech-fay")]
    before = api(server_process, technician, "GET", "/stats").json()["walk_up_wait"]
    assert before["count"] == 1

    # The second person is helped at the desk and the ticket resolved, without a call.
    resolved = api(
        server_process, technician, "POST", f"/tickets/{served_at_desk['id']}/status", json={"status": "resolved"}
    )
    assert resolved.status_code == 200
    assert api(server_process, technician, "GET", f"/tickets/{served_at_desk['id']}/queue").json()["state"] == "served"
    detail = api(server_process, technician, "GET", f"/tickets/{served_at_desk['id']}").json()
    # It joined the queue when it was made and was served when it was resolved.
    waited = datetime.fromisoformat(detail["resolved_at"]) - datetime.fromisoformat(detail["created_at"])

    after = api(server_process, technician, "GET", "/stats").json()["walk_up_wait"]
    assert after["count"] == 2
    assert 2 * after["mean_seconds"] - before["mean_seconds"] == pytest.approx(waited.total_seconds(), abs=1e-3)


def test_changes_feed_long_poll_wakes_on_a_change(server_process: ServerProcess) -> None:
    submitter = server_process.token("submitter", name="kiosk-feed")
    other = server_process.token("submitter", name="kiosk-other")
    technician = server_process.token("technician")
    ticket = _ticket(server_process, submitter, 3)
    _ticket(server_process, other, 4)

    everything = api(server_process, technician, "GET", "/changes", params={"after": 0}).json()
    assert [c["kind"] for c in everything["changes"]] == ["created", "created"]
    mine = api(server_process, submitter, "GET", "/changes", params={"after": 0}).json()
    assert [c["ticket_id"] for c in mine["changes"]] == [ticket["id"]]
    assert mine["last_seq"] == everything["last_seq"]

    answer: dict[str, object] = {}
    started = threading.Event()

    def poll() -> None:
        started.set()
        answer.update(
            api(server_process, submitter, "GET", "/changes", params={"after": mine["last_seq"], "wait": 20}).json()
        )

    poller = threading.Thread(target=poll)
    poller.start()
    started.wait(5)
    # An internal note is not the submitter's business; the status change is.
    api(server_process, technician, "POST", f"/tickets/{ticket['id']}/notes", json={"text": "internal"})
    api(server_process, technician, "POST", f"/tickets/{ticket['id']}/status", json={"status": "open"})
    poller.join(25)

    assert not poller.is_alive()
    changes = answer["changes"]
    assert isinstance(changes, list)
    assert [(c["ticket_id"], c["kind"]) for c in changes] == [(ticket["id"], "status")]
    quiet = api(server_process, technician, "GET", "/changes", params={"after": answer["last_seq"], "wait": 0}).json()
    assert quiet["changes"] == []
    assert quiet["last_seq"] == answer["last_seq"]
    assert api(server_process, technician, "GET", "/changes", params={"wait": 31}).status_code == 422


def test_changes_without_after_start_from_now(server_process: ServerProcess) -> None:
    submitter = server_process.token("submitter", name="kiosk-now")
    technician = server_process.token("technician")
    earlier = _ticket(server_process, submitter, 5)
    api(server_process, technician, "POST", f"/tickets/{earlier['id']}/status", json={"status": "open"})
    history = api(server_process, technician, "GET", "/changes", params={"after": 0}).json()
    assert len(history["changes"]) >= 2

    # A client that has just loaded its list: no history, at once, even when asked to wait.
    now = api(server_process, technician, "GET", "/changes", params={"wait": 20}).json()
    assert now == {"changes": [], "last_seq": history["last_seq"]}

    later = _ticket(server_process, submitter, 6)
    following = api(server_process, technician, "GET", "/changes", params={"after": now["last_seq"]}).json()
    assert [(c["ticket_id"], c["kind"]) for c in following["changes"]] == [(later["id"], "created")]


def test_walk_up_queue_places_calls_and_serves(server_process: ServerProcess) -> None:
    kiosk = server_process.token("submitter", name="kiosk-lobby", site="lobby")
    elsewhere = server_process.token("submitter", name="kiosk-annex", site="annex")
    technician = server_process.token("technician", name="tech-eve")
    people = ["Alice Baker", "Bob Chen", "Chandra Devi"]
    tickets = [
        _ticket(server_process, kiosk, 10 + i, site="lobby", walk_up=True, reporter_name=name, kind="kiosk")
        for i, name in enumerate(people)
    ]
    not_queued = _ticket(server_process, kiosk, 20, site="lobby")

    places = [api(server_process, kiosk, "GET", f"/tickets/{t['id']}/queue").json() for t in tickets]
    assert [(p["position"], p["ahead"], p["state"]) for p in places] == [
        (1, 0, "waiting"),
        (2, 1, "waiting"),
        (3, 2, "waiting"),
    ]
    assert places[0]["estimated_wait_seconds"] == 0
    assert places[2]["estimated_wait_seconds"] == 2 * places[1]["estimated_wait_seconds"] > 0
    assert api(server_process, kiosk, "GET", f"/tickets/{not_queued['id']}/queue").status_code == 404
    detail = api(server_process, kiosk, "GET", f"/tickets/{tickets[1]['id']}").json()
    assert detail["queue"]["position"] == 2

    called = api(server_process, technician, "POST", "/queue/lobby/next").json()
    assert called["called"]["number"] == tickets[0]["number"]
    assert called["called"]["status"] == "open"
    assert [e["number"] for e in called["board"]["serving"]] == [tickets[0]["number"]]
    assert api(server_process, kiosk, "GET", f"/tickets/{tickets[0]['id']}/queue").json()["state"] == "called"
    assert api(server_process, kiosk, "GET", f"/tickets/{tickets[1]['id']}/queue").json()["position"] == 1

    board = api(server_process, kiosk, "GET", "/queue/lobby").json()
    assert [e["name"] for e in board["waiting"]] == ["Bob C.", "Chandra D."]
    assert [e["name"] for e in board["serving"]] == ["Alice B."]
    assert all(e["ticket_id"] is None for e in board["waiting"] + board["serving"])
    full = api(server_process, technician, "GET", "/queue/lobby").json()
    assert [e["name"] for e in full["waiting"]] == ["Bob Chen", "Chandra Devi"]
    assert api(server_process, elsewhere, "GET", "/queue/lobby").status_code == 403

    resolved = api(
        server_process, technician, "POST", f"/tickets/{tickets[0]['id']}/status", json={"status": "resolved"}
    )
    assert resolved.status_code == 200
    assert api(server_process, kiosk, "GET", f"/tickets/{tickets[0]['id']}/queue").json()["state"] == "served"
    history = api(server_process, technician, "GET", "/queue/lobby").json()
    assert history["service_history"] == 1
    assert history["serving"] == []

    api(server_process, technician, "POST", "/queue/lobby/next")
    served = api(server_process, technician, "POST", f"/tickets/{tickets[1]['id']}/queue/served").json()
    assert served["state"] == "served"
    api(server_process, technician, "POST", "/queue/lobby/next")
    nobody = api(server_process, technician, "POST", "/queue/lobby/next").json()
    assert nobody["called"] is None
    assert nobody["board"]["waiting"] == []


def test_stats_report_response_resolution_categories_wait_and_self_help(server_process: ServerProcess) -> None:
    kiosk = server_process.token("submitter", name="kiosk-stats", site="hall")
    technician = server_process.token("technician")
    first = _ticket(server_process, kiosk, 30, category="Printing", source_id="pc-9", site="hall", walk_up=True)
    _ticket(server_process, kiosk, 31, category="Printing", source_id="pc-9", self_help_articles=["reset-printer"])
    _ticket(server_process, kiosk, 32, category="Network", source_id="pc-3")
    # A kiosk files many people's reports: however many, it is no machine with a recurring problem.
    for seed in (33, 34):
        _ticket(server_process, kiosk, seed, category="Other", source_id="hall-kiosk-1", kind="kiosk")
    api(server_process, technician, "POST", "/queue/hall/next")
    api(server_process, technician, "POST", f"/tickets/{first['id']}/status", json={"status": "resolved"})
    for article in ("reset-printer", "reset-printer", "vpn-howto"):
        recorded = api(server_process, kiosk, "POST", "/self-help", json={"category": "Printing", "article": article})
        assert recorded.status_code == 201

    stats = api(server_process, technician, "GET", "/stats").json()

    assert stats["tickets_created"] == 5
    assert stats["open_tickets"] == 4
    assert stats["time_to_first_response"]["count"] == 1
    assert stats["time_to_resolution"]["count"] == 1
    assert stats["time_to_resolution"]["mean_seconds"] >= stats["time_to_first_response"]["mean_seconds"] >= 0
    assert stats["walk_up_wait"]["count"] == 1
    assert stats["by_category"] == [
        {"category": "Other", "count": 2},
        {"category": "Printing", "count": 2},
        {"category": "Network", "count": 1},
    ]
    assert stats["self_help"]["solved_by_article"] == 3
    assert stats["self_help"]["reports_after_articles"] == 1
    assert stats["self_help"]["share_solved"] == pytest.approx(3 / (3 + 5))  # solved / (solved + tickets)
    assert stats["self_help"]["top_articles"][0] == {"article": "reset-printer", "count": 2}
    assert stats["recurring_machines"] == [{"source_id": "pc-9", "tickets": 2}]
    empty = api(
        server_process,
        technician,
        "GET",
        "/stats",
        params={"since": "2000-01-01T00:00:00Z", "until": "2000-02-01T00:00:00Z"},
    ).json()
    assert empty["tickets_created"] == 0
    assert empty["time_to_first_response"] == {"count": 0, "mean_seconds": None, "median_seconds": None}
    backwards = api(
        server_process,
        technician,
        "GET",
        "/stats",
        params={"since": "2030-01-01T00:00:00Z", "until": "2000-01-01T00:00:00Z"},
    )
    assert backwards.status_code == 422


def test_unknown_ticket_is_404_with_a_reason(server_process: ServerProcess) -> None:
    technician = server_process.token("technician")
    for key in ("SD-9999", "not-a-ticket", "00000000-0000-4000-8000-000000000000"):
        response = api(server_process, technician, "GET", f"/tickets/{key}")
        assert response.status_code == 404
        assert "no ticket" in response.json()["detail"]
    assert api(server_process, technician, "GET", "/files/12345").status_code == 404


def test_a_locked_database_answers_503_with_retry_after(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server(["--busy-timeout", "0.3"])
    submitter = server.token("submitter")
    technician = server.token("technician")
    ticket = _ticket(server, submitter, 50)
    bundle = make_bundle(51)
    holder = sqlite3.connect(server.db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        busy = api(server, technician, "POST", f"/tickets/{ticket['id']}/status", json={"status": "open"})
        busy_submit = submit(server, submitter, bundle)
        holder.execute("ROLLBACK")
    finally:
        holder.close()

    for response in (busy, busy_submit):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert "busy" in response.json()["detail"]
    # The same requests, tried again, go through; the report still makes exactly one ticket.
    assert (
        api(server, technician, "POST", f"/tickets/{ticket['id']}/status", json={"status": "open"}).status_code == 200
    )
    assert submit(server, submitter, bundle).status_code == 201
    assert submit(server, submitter, bundle).status_code == 200


def test_clean_shutdown_answers_a_waiting_long_poll(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server(["--log-level", "debug"])
    technician = server.token("technician", name="tech-poller")
    answer: list[requests.Response] = []

    def poll() -> None:
        answer.append(api(server, technician, "GET", "/changes", params={"after": 0, "wait": 30}))

    poller = threading.Thread(target=poll)
    poller.start()
    wait_until(lambda: "long poll by tech-poller waits" in server.log_text(), "the long poll to start waiting", 20)
    assert server.stop() == 0
    poller.join(20)

    # Had the shutdown not woken it, the poll would have been cut off without an answer.
    assert answer, "the long poll got no answer"
    assert answer[0].status_code == 200
    assert answer[0].json()["changes"] == []


def test_the_list_pages_oldest_first_on_request_and_refuses_an_unknown_order(server_process: ServerProcess) -> None:
    submitter = server_process.token("submitter", name="agent-order")
    technician = server_process.token("technician")
    made = [_ticket(server_process, submitter, 40 + n, source_id="pc-order")["id"] for n in range(5)]

    def walk(order: str | None) -> list[str]:
        seen: list[str] = []
        params: dict[str, Any] = {"source": "pc-order", "limit": 2}
        if order is not None:
            params["order"] = order
        while True:
            page = api(server_process, technician, "GET", "/tickets", params=params).json()
            seen.extend(t["id"] for t in page["tickets"])
            if page["next_cursor"] is None:
                return seen
            params["cursor"] = page["next_cursor"]

    assert walk(None) == walk("newest") == list(reversed(made))
    assert walk("oldest") == made
    refused = api(server_process, technician, "GET", "/tickets", params={"order": "sideways"})
    assert refused.status_code == 422
    assert "newest" in refused.text and "oldest" in refused.text
