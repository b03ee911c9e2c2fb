"""The requester page's bounds on the real server: guessing, expiry, live streams, schema upgrade.

Each test starts a server with the small limit it is about, so the limit is reached in a few requests.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from server.store import Store
from tests.fixtures.server import ServerProcess
from tests.fixtures.waiting import wait_until
from tests.server.helpers import api, make_bundle, submit


def new_ticket(server: ServerProcess, token: str, seed: int) -> dict[str, str]:
    response = submit(server, token, make_bundle(seed))
    assert response.status_code == 201, response.text
    ticket: dict[str, str] = response.json()["ticket"]
    return ticket


def test_guessing_links_is_refused_per_client_after_the_burst(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server(["--link-guess-rate", "1", "--link-guess-burst", "3"])
    ticket = new_ticket(server, server.token("submitter"), 1)
    assert requests.get(ticket["url"], timeout=10).status_code == 200, "hits cost nothing"
    misses = [requests.get(f"{server.url}/t/guess-{n}", timeout=10).status_code for n in range(3)]
    assert misses == [404, 404, 404]
    refused = requests.get(f"{server.url}/t/guess-4", timeout=10)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["content-type"].startswith("text/html")
    # Out of permits, the address cannot even try a right link (that would be a free oracle).
    assert requests.get(ticket["url"], timeout=10).status_code == 429
    # The API is not affected.
    assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200


def test_a_link_expires_after_the_close_and_works_again_when_reopened(
    make_server: Callable[..., ServerProcess],
) -> None:
    server = make_server(["--link-days", "0"])
    technician = server.token("technician")
    ticket = new_ticket(server, server.token("submitter"), 2)
    for status in ("resolved", "closed"):
        assert api(server, technician, "POST", f"/tickets/{ticket['id']}/status", json={"status": status}).ok
    expired = requests.get(ticket["url"], timeout=10)
    assert expired.status_code == 404
    assert expired.text == requests.get(f"{server.url}/t/never-was", timeout=10).text
    link = api(server, technician, "GET", f"/tickets/{ticket['id']}/link").json()
    assert link["expires_at"] is not None
    assert api(server, technician, "POST", f"/tickets/{ticket['id']}/status", json={"status": "open"}).ok
    assert requests.get(ticket["url"], timeout=10).status_code == 200
    assert api(server, technician, "GET", f"/tickets/{ticket['id']}/link").json()["expires_at"] is None


def test_live_streams_are_capped_and_end_after_their_lifetime(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server(["--max-event-streams", "1", "--event-stream-seconds", "1"])
    ticket = new_ticket(server, server.token("submitter"), 3)
    first = requests.get(ticket["url"] + "/events", stream=True, timeout=10)
    ended = threading.Event()

    def drain() -> None:
        with contextlib.suppress(requests.RequestException):
            for _chunk in first.iter_content(None):
                pass
        ended.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        assert first.status_code == 200
        second = requests.get(ticket["url"] + "/events", timeout=10)
        assert second.status_code == 503, "the cap of one open stream"
        wait_until(ended.is_set, "the stream ended after its lifetime of 1 s", 10)
        # Its slot is free again.
        third = requests.get(ticket["url"] + "/events", timeout=10)
        assert third.status_code == 200
    finally:
        first.close()


def test_an_answer_over_the_body_limit_is_refused_before_it_is_read(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server(["--max-body-mb", "1"])
    ticket = new_ticket(server, server.token("submitter"), 4)
    response = requests.post(
        ticket["url"] + "/answer",
        data=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        timeout=10,
    )
    assert response.status_code == 413
    # Other posts under the link are small forms: bounded at the JSON limit (1 MiB).
    response = requests.post(ticket["url"] + "/rating", data=b"x" * (1024 * 1024 + 1), timeout=10)
    assert response.status_code == 413


def test_a_schema_2_database_gets_links_for_its_tickets(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server()
    ticket = new_ticket(server, server.token("submitter"), 5)
    server.stop()
    # Back to schema 2 as an older server left it: no link columns, no key.
    conn = sqlite3.connect(server.db_path)
    conn.executescript(
        # Schema 4's outgoing queue first: a schema-2 database never had it.
        "DROP TABLE outgoing; DROP TABLE outgoing_cursors; DROP TABLE outgoing_stops;"
        "DROP INDEX tickets_link_hash; DROP INDEX events_kind; DROP TABLE server_secrets; DROP TABLE form_nonces;"
        "ALTER TABLE tickets DROP COLUMN link_generation; ALTER TABLE tickets DROP COLUMN link_hash;"
        "ALTER TABLE tickets DROP COLUMN language; PRAGMA user_version=2;"
    )
    conn.close()
    store = Store(server.data_dir)
    upgraded = store.get_ticket(ticket["id"])
    assert store.ticket_by_link(store.link_secret(upgraded)) == upgraded
    store.close()
    server.start()
    technician = server.token("technician")
    url = api(server, technician, "GET", f"/tickets/{ticket['id']}/link").json()["url"]
    assert urlsplit(url).path.startswith("/t/")
    assert requests.get(url, timeout=10).status_code == 200
