"""The requester's page on the real server process: the capability link, the page, answers, feedback, rating.

Everything goes over loopback HTTP to a real ``python -m server`` with its own data directory.
"""

from __future__ import annotations

import contextlib
import html
import io
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image

from tests.fixtures.server import ServerProcess, database_for
from tests.fixtures.waiting import wait_until
from tests.server.helpers import api, make_bundle, png_bytes, submit

FORM_RE = re.compile(r'name="form" value="([^"]+)"')


class Desk:
    """One server for this module, with a kiosk (submitter) and a technician token."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.kiosk = server.token("submitter", site="north")
        self.technician = server.token("technician")

    def report(self, seed: int, *, language: str | None = None, **fields: Any) -> dict[str, Any]:
        bundle = make_bundle(seed, **fields)
        session = requests.Session()
        if language:
            session.headers["Accept-Language"] = language
        response = submit(self.server, self.kiosk, bundle, session=session)
        assert response.status_code == 201, response.text
        ticket: dict[str, Any] = response.json()["ticket"]
        return ticket

    def path(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.server.url + self.path(url), timeout=10, allow_redirects=False, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return requests.post(self.server.url + self.path(url), timeout=10, allow_redirects=False, **kwargs)

    def tech(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return api(self.server, self.technician, method, path, **kwargs)


@pytest.fixture(scope="module")
def desk(
    tmp_path_factory: pytest.TempPathFactory, server_engine: str, request: pytest.FixtureRequest
) -> Iterator[Desk]:
    server = ServerProcess(
        tmp_path_factory.mktemp("requester") / "data",
        # Guessing is limited per address; this module makes many misses from 127.0.0.1 on purpose
        # and tests the limit on a server of its own.
        extra_args=["--link-guess-rate", "0", "--answer-rate", "0"],
        database=database_for(server_engine, request),
    )
    try:
        yield Desk(server.start())
    finally:
        server.stop()


def form_token(page: str, index: int = 0) -> str:
    return html.unescape(FORM_RE.findall(page)[index])


def jpeg_bytes(width: int = 640, height: int = 480) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


# ---------------------------------------------------------------- the link
def test_the_submit_answer_is_a_capability_link_that_opens_the_page(desk: Desk) -> None:
    ticket = desk.report(1, walk_up=True, site="north", kind="kiosk")
    url = ticket["url"]
    assert re.fullmatch(re.escape(desk.server.url) + r"/t/[A-Za-z0-9_-]{43}", url), url
    assert ticket["id"] not in url and ticket["number"] not in url
    page = desk.get(url)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert ticket["number"] in page.text
    assert "Received. A technician will look at it soon." in page.text
    assert "You are number" in page.text
    # The technician's view of the same ticket names the same link.
    detail = desk.tech("GET", f"/tickets/{ticket['id']}").json()
    assert detail["url"] == url
    assert desk.tech("GET", f"/tickets/{ticket['id']}/link").json()["url"] == url


def test_a_replayed_report_answers_with_the_same_working_link(desk: Desk) -> None:
    bundle = make_bundle(2)
    first = submit(desk.server, desk.kiosk, bundle)
    again = submit(desk.server, desk.kiosk, bundle)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["ticket"]["url"] == again.json()["ticket"]["url"]
    assert desk.get(again.json()["ticket"]["url"]).status_code == 200


def test_the_language_of_the_submission_travels_with_the_link(desk: Desk) -> None:
    ticket = desk.report(3, language="de-CH, de;q=0.9, en;q=0.5")
    assert ticket["url"].endswith("?lang=de")
    page = desk.get(ticket["url"])
    assert '<html lang="de">' in page.text
    assert "Eingegangen." in page.text
    bare = desk.get(ticket["url"].split("?")[0])
    assert '<html lang="de">' in bare.text, "the ticket keeps the language it was reported in"
    english = desk.get(ticket["url"].split("?")[0] + "?lang=en")
    assert '<html lang="en">' in english.text


def test_wrong_revoked_and_other_links_all_get_the_same_not_found_page(desk: Desk) -> None:
    ticket = desk.report(4)
    other = desk.report(5)
    secret = urlsplit(ticket["url"]).path.rsplit("/", 1)[1]
    misses = {
        "mistyped": "/t/" + secret[:-1] + ("A" if secret[-1] != "A" else "B"),
        "short": "/t/abc",
        "ticket id": f"/t/{ticket['id']}",
        "ticket number": f"/t/{ticket['number']}",
        "long": "/t/" + "x" * 300,
        "old path": f"/tickets/{ticket['id']}",
        "other ticket's file": f"/t/{secret}/files/999999",
    }
    answers = {name: desk.get(path) for name, path in misses.items()}
    assert answers.pop("old path").status_code == 404
    bodies = {response.text for response in answers.values()}
    assert {r.status_code for r in answers.values()} == {404}
    assert len(bodies) == 1, "every miss shows one and the same page"
    assert all(r.headers["content-type"].startswith("text/html") for r in answers.values())

    revoked = desk.tech("POST", f"/tickets/{ticket['id']}/link/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["generation"] == 1
    new_url = revoked.json()["url"]
    assert new_url != ticket["url"]
    gone = desk.get(ticket["url"])
    assert gone.status_code == 404 and gone.text in bodies
    assert desk.get(new_url).status_code == 200
    # The other ticket's files are not reachable through this ticket's link.
    other_detail = desk.tech("GET", f"/tickets/{other['id']}").json()
    other_file = other_detail["steps"][0]["image"]["id"]
    crossed = desk.get(new_url + f"/files/{other_file}")
    assert crossed.status_code == 404 and crossed.text in bodies
    # A revocation is in the technicians' timeline only.
    kinds = [e["kind"] for e in desk.tech("GET", f"/tickets/{ticket['id']}").json()["timeline"]]
    assert "link" in kinds
    assert "event-link" not in desk.get(new_url).text and "event-status" not in desk.get(new_url).text


def test_a_submitter_reads_its_own_link_but_only_a_technician_revokes(desk: Desk) -> None:
    ticket = desk.report(6)
    own = api(desk.server, desk.kiosk, "GET", f"/tickets/{ticket['id']}/link")
    assert own.status_code == 200 and own.json()["url"] == ticket["url"]
    assert api(desk.server, desk.kiosk, "POST", f"/tickets/{ticket['id']}/link/revoke").status_code == 403
    stranger = desk.server.token("submitter")
    assert api(desk.server, stranger, "GET", f"/tickets/{ticket['id']}/link").status_code == 404


def test_the_server_log_never_holds_a_links_secret(desk: Desk) -> None:
    ticket = desk.report(19)
    secret = urlsplit(ticket["url"]).path.rsplit("/", 1)[1]
    page = desk.get(ticket["url"]).text
    desk.post(ticket["url"] + "/answer", data={"form": form_token(page), "text": "logged?"})
    desk.post(ticket["url"] + "/rating", data=b"x" * (1024 * 1024 + 1))  # refused by size: a warning line
    desk.get(ticket["url"] + "/files/1")
    log = desk.server.log_text()
    assert '"GET /t/~' in log and '"POST /t/~' in log, "the requests are logged"
    assert secret not in log


def test_the_page_sends_its_security_headers(desk: Desk) -> None:
    ticket = desk.report(7)
    for response in (desk.get(ticket["url"]), desk.get("/t/nothing-here")):
        headers = response.headers
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert headers["Cache-Control"] == "no-store"
    page = desk.get(ticket["url"]).text
    assert "<script>" not in page and "style=" not in page, "no inline script or style (the CSP forbids them)"
    assert "http://" not in page.replace(desk.server.url, "") and "https://" not in page, "no third-party resources"


def test_screenshots_are_served_inline_with_their_size_and_lazily(desk: Desk) -> None:
    ticket = desk.report(8, steps=2)
    page = desk.get(ticket["url"]).text
    images = re.findall(r'<img src="([^"]+)" alt="[^"]*" width="(\d+)" height="(\d+)" loading="lazy"', page)
    assert len(images) == 2
    src, width, height = images[0]
    # The page shows the thumbnail once the thumbnail child has made it, else the image itself:
    # which one depends on that child's timing, so both are checked, each with its own type.
    full_src = html.unescape(src).replace("/thumbs/", "/files/")
    shown = {full_src: "image/png", html.unescape(src): "image/webp" if "/thumbs/" in src else "image/png"}
    for path, media_type in shown.items():
        shot = desk.get(ticket["url"].rsplit("/", 1)[0] + "/" + path)
        assert shot.status_code == 200
        assert shot.headers["content-type"] == media_type
        assert "attachment" not in shot.headers.get("content-disposition", "")
        assert "sandbox" in shot.headers["Content-Security-Policy"]
        with Image.open(io.BytesIO(shot.content)) as picture:
            assert picture.size == (int(width), int(height))


# ---------------------------------------------------------------- what the person sends
def test_an_answer_with_a_photo_reopens_a_waiting_ticket_and_reaches_the_technician(desk: Desk) -> None:
    ticket = desk.report(9)
    assert desk.tech("POST", f"/tickets/{ticket['id']}/status", json={"status": "waiting"}).status_code == 200
    desk.tech("POST", f"/tickets/{ticket['id']}/notes", json={"text": "Which printer?", "internal": False})
    desk.tech("POST", f"/tickets/{ticket['id']}/notes", json={"text": "secret internal remark", "internal": True})
    page = desk.get(ticket["url"]).text
    assert "Which printer?" in page
    assert "secret internal remark" not in page
    assert "The help desk is waiting for your answer." in page
    after = desk.tech("GET", "/changes", params={"after": 0, "limit": 1000}).json()["last_seq"]

    photo = jpeg_bytes()
    sent = desk.post(
        ticket["url"] + "/answer",
        data={"form": form_token(page), "text": "The one on the 2nd floor"},
        files=[("photo", ("IMG_0001.JPG", photo, "image/jpeg"))],
    )
    assert sent.status_code == 303, sent.text
    back = desk.get(ticket["url"].rsplit("/", 1)[0] + "/" + sent.headers["location"].removeprefix("../"))
    assert "Your answer was sent" in back.text
    assert "The one on the 2nd floor" in back.text

    detail = desk.tech("GET", f"/tickets/{ticket['id']}").json()
    assert detail["status"] == "open"
    answer = next(e for e in detail["timeline"] if e["kind"] == "answer")
    assert answer["data"]["text"] == "The one on the 2nd floor"
    assert answer["internal"] is False
    (stored,) = answer["data"]["files"]
    assert (stored["width"], stored["height"]) == (640, 480)
    download = requests.get(stored["url"], headers=desk.server.auth(desk.technician), timeout=10)
    assert download.content == photo
    changes = desk.tech("GET", "/changes", params={"after": after}).json()["changes"]
    assert {(c["ticket_id"], c["kind"]) for c in changes} >= {(ticket["id"], "answer"), (ticket["id"], "status")}


def test_a_replayed_post_answers_once(desk: Desk) -> None:
    ticket = desk.report(10)
    token = form_token(desk.get(ticket["url"]).text)
    first = desk.post(ticket["url"] + "/answer", data={"form": token, "text": "once"}, files=[("photo", ("", b""))])
    second = desk.post(ticket["url"] + "/answer", data={"form": token, "text": "once"}, files=[("photo", ("", b""))])
    assert first.status_code == second.status_code == 303
    assert "sent=answer" in first.headers["location"] and "sent=already" in second.headers["location"]
    timeline = desk.tech("GET", f"/tickets/{ticket['id']}").json()["timeline"]
    assert [e["data"]["text"] for e in timeline if e["kind"] == "answer"] == ["once"]


def test_forms_need_this_links_token_and_refuse_cross_site_posts(desk: Desk) -> None:
    ticket = desk.report(11)
    other = desk.report(12)
    others_token = form_token(desk.get(other["url"]).text)
    forged = desk.post(ticket["url"] + "/answer", data={"form": others_token, "text": "forged"})
    assert forged.status_code == 400
    assert desk.post(ticket["url"] + "/answer", data={"text": "no token"}).status_code == 400
    token = form_token(desk.get(ticket["url"]).text)
    cross = desk.post(
        ticket["url"] + "/answer",
        data={"form": token, "text": "from elsewhere"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 404
    timeline = desk.tech("GET", f"/tickets/{ticket['id']}").json()["timeline"]
    assert not [e for e in timeline if e["kind"] == "answer"]


def test_photos_go_through_the_report_image_checks(desk: Desk) -> None:
    ticket = desk.report(13)
    page = desk.get(ticket["url"]).text
    truncated = png_bytes(200, 200, seed=3)[:-30]
    refused = desk.post(
        ticket["url"] + "/answer",
        data={"form": form_token(page), "text": "see photo"},
        files=[("photo", ("x.png", truncated, "image/png"))],
    )
    assert refused.status_code == 422
    assert "A photo was refused" in refused.text and "truncated or corrupt" in refused.text
    assert "see photo" in refused.text, "the typed text is kept"
    not_image = desk.post(
        ticket["url"] + "/answer",
        data={"form": form_token(page), "text": "x"},
        files=[("photo", ("x.jpg", b"<svg onload=alert(1)>", "image/jpeg"))],
    )
    assert not_image.status_code == 422
    timeline = desk.tech("GET", f"/tickets/{ticket['id']}").json()["timeline"]
    assert not [e for e in timeline if e["kind"] == "answer"]


def test_after_resolve_the_person_says_still_broken_then_solved_and_rates(desk: Desk) -> None:
    ticket = desk.report(14)
    page = desk.get(ticket["url"]).text
    assert "Is the problem solved?" not in page
    early = desk.post(ticket["url"] + "/rating", data={"form": form_token(page), "score": "5"})
    assert early.status_code == 409, "no rating before a resolve"

    desk.tech("POST", f"/tickets/{ticket['id']}/status", json={"status": "resolved"})
    page = desk.get(ticket["url"]).text
    assert "Is the problem solved?" in page and "How was the help?" in page
    broken = desk.post(ticket["url"] + "/feedback", data={"form": form_token(page), "solved": "no"})
    assert broken.status_code == 303
    assert desk.tech("GET", f"/tickets/{ticket['id']}").json()["status"] == "open"

    desk.tech("POST", f"/tickets/{ticket['id']}/status", json={"status": "resolved"})
    page = desk.get(ticket["url"]).text
    solved = desk.post(ticket["url"] + "/feedback", data={"form": form_token(page), "solved": "yes"})
    assert solved.status_code == 303
    page = desk.get(ticket["url"]).text
    assert "Is the problem solved?" not in page, "asked once per resolve"
    rated = desk.post(
        ticket["url"] + "/rating", data={"form": form_token(page), "score": "4", "comment": "quick, thanks"}
    )
    assert rated.status_code == 303
    detail = desk.tech("GET", f"/tickets/{ticket['id']}").json()
    assert detail["status"] == "resolved"
    kinds = [(e["kind"], e["data"]) for e in detail["timeline"] if e["kind"] in ("solved", "rating")]
    assert kinds == [
        ("solved", {"solved": False}),
        ("solved", {"solved": True}),
        ("rating", {"score": 4, "comment": "quick, thanks"}),
    ]
    bad = desk.post(ticket["url"] + "/rating", data={"form": form_token(desk.get(ticket["url"]).text), "score": "9"})
    assert bad.status_code == 422


# ---------------------------------------------------------------- escaping
PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "abc\u202eevil\u202c.exe",
)


def test_every_text_is_escaped_on_the_page(desk: Desk) -> None:
    ticket = desk.report(15, description=" ".join(PAYLOADS))
    for payload in PAYLOADS:
        desk.tech("POST", f"/tickets/{ticket['id']}/notes", json={"text": payload, "internal": False})
    page = desk.get(ticket["url"]).text
    desk.post(ticket["url"] + "/answer", data={"form": form_token(page), "text": PAYLOADS[1]})
    page = desk.get(ticket["url"]).text
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert 'href="javascript:' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "\u202e" not in page and "[U+202E]" in page


# ---------------------------------------------------------------- receipt code and reported-at
def test_the_receipt_code_finds_the_ticket_and_the_reported_time_is_kept(desk: Desk) -> None:
    ticket = desk.report(16)
    code = ticket["id"].replace("-", "")[:8].upper()
    found = desk.tech("GET", "/tickets", params={"q": code}).json()["tickets"]
    assert [t["id"] for t in found] == [ticket["id"]]
    detail = desk.tech("GET", f"/tickets/{ticket['id']}").json()
    assert detail["receipt_code"] == code
    assert detail["reported_at"] == detail["report"]["created_at"]


# ---------------------------------------------------------------- satisfaction
def test_satisfaction_figures_count_ratings_against_resolved_tickets(desk: Desk) -> None:
    since = time.time() - 1
    for seed, score in ((20, 5), (21, 3), (22, None)):
        ticket = desk.report(seed)
        desk.tech("POST", f"/tickets/{ticket['id']}/status", json={"status": "resolved"})
        if score is not None:
            page = desk.get(ticket["url"]).text
            assert (
                desk.post(
                    ticket["url"] + "/rating", data={"form": form_token(page, 1), "score": str(score)}
                ).status_code
                == 303
            )
    figures = desk.tech(
        "GET", "/stats/satisfaction", params={"since": datetime.fromtimestamp(since, UTC).isoformat()}
    ).json()
    assert figures["resolved"] >= 3 and figures["rated"] >= 2
    assert figures["average"] is not None
    counts = {c["score"]: c["count"] for c in figures["distribution"]}
    assert counts[5] >= 1 and counts[3] >= 1
    assert figures["trend"] and figures["trend"][-1]["count"] >= 2
    assert api(desk.server, desk.kiosk, "GET", "/stats/satisfaction").status_code == 403


# ---------------------------------------------------------------- live updates
def read_events(response: requests.Response, stop: threading.Event, out: list[str]) -> None:
    """Collect ``event:data`` lines until the stream ends or the test closes it."""
    event = ""
    # Closing the response from the test (or its read timeout) ends the loop with an error.
    with contextlib.suppress(requests.RequestException, AttributeError, ValueError):
        for line in response.iter_lines(decode_unicode=True):
            if stop.is_set():
                return
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                out.append(f"{event}:{line[6:]}")


def test_a_public_reply_arrives_on_the_live_stream_and_an_internal_note_does_not(desk: Desk) -> None:
    ticket = desk.report(17)
    stream = desk.get(ticket["url"] + "/events", stream=True)
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    received: list[str] = []
    stop = threading.Event()
    reader = threading.Thread(target=read_events, args=(stream, stop, received), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any(r.startswith("update:") for r in received), "the first update", 10)
        desk.tech("POST", f"/tickets/{ticket['id']}/notes", json={"text": "internal-only-words", "internal": True})
        desk.tech("POST", f"/tickets/{ticket['id']}/notes", json={"text": "Please restart it", "internal": False})
        wait_until(lambda: any("Please restart it" in r for r in received), "the reply on the stream", 10)
        assert not any("internal-only-words" in r for r in received)
    finally:
        stop.set()
        stream.close()


def test_a_revoked_link_ends_its_stream(desk: Desk) -> None:
    ticket = desk.report(18)
    stream = desk.get(ticket["url"] + "/events", stream=True)
    received: list[str] = []
    stop = threading.Event()
    reader = threading.Thread(target=read_events, args=(stream, stop, received), daemon=True)
    reader.start()
    try:
        wait_until(lambda: bool(received), "the first update", 10)
        desk.tech("POST", f"/tickets/{ticket['id']}/link/revoke")
        wait_until(lambda: any(r.startswith("gone:") for r in received), "the stream told the link is gone", 10)
        reader.join(10)
        assert not reader.is_alive(), "the server closed the stream"
    finally:
        stop.set()
        stream.close()


# ---------------------------------------------------------------- the agent's answer through the API
def test_the_submitter_answers_its_own_ticket_through_the_api_once_per_key(desk: Desk) -> None:
    ticket = desk.report(30)
    desk.tech("POST", f"/tickets/{ticket['id']}/status", json={"status": "waiting"})
    photo = jpeg_bytes(320, 240)

    def send(key: str, token: str | None = None) -> requests.Response:
        return api(
            desk.server,
            token or desk.kiosk,
            "POST",
            f"/tickets/{ticket['id']}/answer",
            data={"text": "From the app"},
            files=[("photo", ("shot.jpg", photo, "image/jpeg"))],
            headers={"Idempotency-Key": key},
        )

    first = send("answer-key-0001")
    assert first.status_code == 201, first.text
    event = first.json()["event"]
    assert event["kind"] == "answer" and event["data"]["text"] == "From the app"
    assert (event["data"]["files"][0]["width"], event["data"]["files"][0]["height"]) == (320, 240)
    again = send("answer-key-0001")
    assert again.status_code == 200 and again.json() == {"replayed": True, "event": None}
    detail = desk.tech("GET", f"/tickets/{ticket['id']}").json()
    assert detail["status"] == "open"
    assert len([e for e in detail["timeline"] if e["kind"] == "answer"]) == 1
    # Only the token that filed it: another submitter does not see it, a technician replies instead.
    assert send("answer-key-0002", desk.server.token("submitter")).status_code == 404
    assert send("answer-key-0003", desk.technician).status_code == 403
    # The page shows the answer like one made on it.
    assert "From the app" in desk.get(ticket["url"]).text
