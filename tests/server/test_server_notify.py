"""Notifications to IT from the real server process ([[server.notify]]) to loopback Teams, Slack and webhook stand-ins.

Each (event, target) is posted once: a new walk-up gives one signed webhook post and one Teams
card, a critical flag one post, a receiver that is down then up gets its post once, a walk-up
waiting past the threshold one post, and a SIGKILL between the ticket and the post loses
nothing and sends nothing twice. The webhook URL never shows in ``mail list`` or the log.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.notify.payloads import DELIVERY_HEADER, SIGNATURE_HEADER
from tests.fixtures.server import ServerProcess, database_for, free_port
from tests.fixtures.waiting import wait_until
from tests.notify.receivers import Receiver, SignedReceiver, slack_incoming_webhook, teams_workflows
from tests.server.helpers import Upload, api, make_bundle

WAIT_SECONDS = 30.0
SECRET = "whsec-test-only"  # a test's signing secret, given to the server in the environment only
SITE = "hq"
DISK_FULL = {"disks": [{"mount": "/", "percent": 99.0, "free": 1, "total": 100}]}
FAST_RETRIES = ["--notify-retry-seconds", "0.2", "--notify-max-retry-seconds", "0.5", "--notify-check-seconds", "0.2"]


def config_text(targets: Sequence[dict[str, Any]]) -> str:
    lines: list[str] = []
    for target in targets:
        lines.append("[[server.notify]]")
        for key, value in target.items():
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def notify_server(
    tmp_path: Path, targets: Sequence[dict[str, Any]], urls: dict[str, str], name: str = "srv", database: str = ""
) -> ServerProcess:
    """A server (not started) whose config has ``targets``; ``urls`` maps an environment variable to a URL.

    ``database``: empty for SQLite in the data directory, else a PostgreSQL location (``database_for``).
    """
    config = tmp_path / f"{name}-config.toml"
    config.write_text(config_text(targets), encoding="utf-8")
    env = {"SHOWDESK_CONFIG": str(config), "SHOWDESK_MACHINE_CONFIG": str(tmp_path / "none.toml"), **urls}
    env["NOTIFY_SECRET"] = SECRET
    return ServerProcess(tmp_path / f"{name}-data", extra_args=FAST_RETRIES, env=env, database=database)


def submit(server: ServerProcess, token: str, **report: Any) -> dict[str, Any]:
    upload = Upload.of(make_bundle(**report))
    body, content_type = upload.encode()
    headers = {"Content-Type": content_type, "Idempotency-Key": upload.report_id, **server.auth(token)}
    answer = api(server, None, "POST", "/reports", data=body, headers=headers)
    assert answer.status_code == 201, answer.text
    ticket: dict[str, Any] = answer.json()["ticket"]
    return ticket


def rows(server: ServerProcess) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(server.cli("mail", "list", "--json", "--limit", "500").stdout)
    return listed


def rows_of(server: ServerProcess, number: str, kind: str) -> list[dict[str, Any]]:
    return [r for r in rows(server) if r["ticket"] == number and r["kind"] == kind]


def posts(receiver: Receiver, event: str, number: str) -> list[dict[str, Any]]:
    """The webhook posts (every request, repeats included) of ``event`` about ticket ``number``."""
    found = []
    for request in list(receiver.requests):
        body = request.json()
        if body.get("event") == event and body["ticket"]["number"] == number:
            found.append(body)
    return found


def cards(receiver: Receiver, number: str) -> list[dict[str, Any]]:
    found = []
    for request in list(receiver.requests):
        card = request.json()["attachments"][0]["content"]
        facts = [f for block in card["body"] if block["type"] == "FactSet" for f in block["facts"]]
        # The card's values are markdown-escaped: "SD\-1001".
        if any(f["value"].replace("\\", "") == number for f in facts):
            found.append(card)
    return found


def webhook(name: str, env: str, events: list[str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "webhook", "url_env": env, "secret_env": "NOTIFY_SECRET", "events": events, **extra}


@pytest.fixture
def database(server_engine: str, request: pytest.FixtureRequest) -> str:
    """The database of this test's server: the outgoing queue's rows live there, on either engine."""
    return database_for(server_engine, request)


@pytest.fixture
def signed() -> Iterator[tuple[Receiver, SignedReceiver]]:
    verifier = SignedReceiver(SECRET, time.time)
    with Receiver(verifier) as receiver:
        yield receiver, verifier


def test_a_new_walk_up_is_one_signed_post_and_one_teams_card(
    tmp_path: Path, signed: tuple[Receiver, SignedReceiver], database: str
) -> None:
    receiver, verifier = signed
    with Receiver(teams_workflows) as teams, Receiver(slack_incoming_webhook) as slack:
        hook_url, teams_url = receiver.url("/hook/s3cr3t-path"), teams.url("/workflows/s3cr3t-flow")
        targets = [
            webhook("ops-hook", "HOOK_URL", ["new_report"]),
            {"name": "it-teams", "kind": "teams", "url_env": "TEAMS_URL", "sites": [SITE]},
            # Another site only: this walk-up is not for it.
            {"name": "lab-slack", "kind": "slack", "url_env": "SLACK_URL", "sites": ["lab"]},
        ]
        urls = {"HOOK_URL": hook_url, "TEAMS_URL": teams_url, "SLACK_URL": slack.url("/services/x")}
        with notify_server(tmp_path, targets, urls, database=database).start() as server:
            token = server.token("submitter")
            ticket = submit(server, token, walk_up=True, site=SITE, kind="kiosk", source_id="kiosk-1")
            number = ticket["number"]
            wait_until(
                lambda: len(verifier.accepted) >= 1 and len(cards(teams, number)) >= 1, "both posts", WAIT_SECONDS
            )
            wait_until(
                lambda: [r["state"] for r in rows(server) if r["ticket"] == number] == ["sent", "sent"],
                "both rows sent",
                WAIT_SECONDS,
            )
            listing = server.cli("mail", "list").stdout
            log = server.log_text()
        assert len(posts(receiver, "new_report", number)) == 1
        assert len(cards(teams, number)) == 1
        assert slack.requests == []
        body = verifier.accepted[0]
        assert (body["event"], body["site"], body["walk_up"]) == ("new_report", SITE, True)
        request = receiver.requests[0]
        assert request.headers[DELIVERY_HEADER.lower()] == body["id"]
        assert request.headers[SIGNATURE_HEADER.lower()].startswith("t=")
        # The listing names the targets; no URL (a secret) appears in it or in the log.
        assert "ops-hook" in listing and "it-teams" in listing
        for secret in ("s3cr3t-path", "s3cr3t-flow", SECRET):
            assert secret not in listing
            assert secret not in log


def test_a_critical_flag_is_one_post(tmp_path: Path, signed: tuple[Receiver, SignedReceiver], database: str) -> None:
    receiver, _verifier = signed
    targets = [webhook("urgent", "HOOK_URL", ["critical_flag"])]
    with notify_server(tmp_path, targets, {"HOOK_URL": receiver.url("/hook")}, database=database).start() as server:
        token = server.token("submitter")
        calm = submit(server, token, sysinfo={"disks": [{"mount": "/", "percent": 40.0, "free": 60, "total": 100}]})
        full = submit(server, token, sysinfo=DISK_FULL)
        wait_until(
            lambda: len(posts(receiver, "critical_flag", full["number"])) >= 1, "the critical post", WAIT_SECONDS
        )
        wait_until(lambda: rows_of(server, full["number"], "critical_flag")[0]["state"] == "sent", "sent", WAIT_SECONDS)
        assert posts(receiver, "critical_flag", calm["number"]) == []
        assert rows_of(server, calm["number"], "critical_flag") == []
    [post] = posts(receiver, "critical_flag", full["number"])
    assert [f["code"] for f in post["flags"]] == ["disk_full"]
    assert post["flags"][0]["severity"] == "critical"


def test_a_receiver_down_then_up_gets_its_post_once(tmp_path: Path, database: str) -> None:
    port = free_port()
    verifier = SignedReceiver(SECRET, time.time)
    targets = [webhook("ops-hook", "HOOK_URL", ["new_report"])]
    with notify_server(
        tmp_path, targets, {"HOOK_URL": f"http://127.0.0.1:{port}/hook"}, database=database
    ).start() as server:
        token = server.token("submitter")
        number = submit(server, token)["number"]
        # Down: at least two attempts failed and the row waits for the next one.
        wait_until(lambda: rows_of(server, number, "new_report")[0]["attempts"] >= 2, "failed attempts", WAIT_SECONDS)
        row = rows_of(server, number, "new_report")[0]
        assert row["state"] in ("pending", "sending") and "cannot reach" in (row["last_error"] or "")
        with Receiver(verifier, port=port) as receiver:
            wait_until(lambda: rows_of(server, number, "new_report")[0]["state"] == "sent", "sent", WAIT_SECONDS)
            assert len(posts(receiver, "new_report", number)) == 1


def test_429_retry_after_is_waited_out(tmp_path: Path, database: str) -> None:
    answers: list[int] = []
    times: list[float] = []

    def busy_then_ok(request: Any) -> tuple[int, dict[str, str], bytes]:
        times.append(time.monotonic())
        if not answers:
            answers.append(429)
            return 429, {"Retry-After": "2"}, b"rate_limited"
        answers.append(200)
        return 200, {}, b"ok"

    with Receiver(busy_then_ok) as slack:
        targets = [{"name": "it-slack", "kind": "slack", "url_env": "SLACK_URL"}]
        with notify_server(
            tmp_path, targets, {"SLACK_URL": slack.url("/services/T/B/x")}, database=database
        ).start() as server:
            number = submit(server, server.token("submitter"))["number"]
            wait_until(lambda: len(slack.requests) >= 2, "the retry", WAIT_SECONDS)
            wait_until(lambda: rows_of(server, number, "new_report")[0]["state"] == "sent", "sent", WAIT_SECONDS)
        first, second = slack.requests[0], slack.requests[1]
        assert answers == [429, 200]
        assert first.body == second.body
        # The backoff alone would retry after 0.2 s; the receiver asked for 2 s.
        assert times[1] - times[0] >= 1.9


def test_a_walk_up_waiting_past_the_threshold_is_one_post(
    tmp_path: Path, signed: tuple[Receiver, SignedReceiver], database: str
) -> None:
    receiver, _verifier = signed
    targets = [webhook("bar-hook", "HOOK_URL", ["walkup_waiting"], sites=[SITE], walkup_seconds=1)]
    with notify_server(tmp_path, targets, {"HOOK_URL": receiver.url("/hook")}, database=database).start() as server:
        token = server.token("submitter")
        number = submit(server, token, walk_up=True, site=SITE, kind="kiosk", source_id="kiosk-1")["number"]
        other = submit(server, token, walk_up=True, site="lab", kind="kiosk", source_id="kiosk-2")["number"]
        wait_until(lambda: len(posts(receiver, "walkup_waiting", number)) >= 1, "the waiting post", WAIT_SECONDS)
        wait_until(lambda: rows_of(server, number, "walkup_waiting")[0]["state"] == "sent", "sent", WAIT_SECONDS)
        # A later walk-up's post needs more checks of the queue, each while the first person still
        # waits: none of them posts the first one again.
        later = submit(server, token, walk_up=True, site=SITE, kind="kiosk", source_id="kiosk-3")["number"]
        wait_until(lambda: len(posts(receiver, "walkup_waiting", later)) >= 1, "the later post", WAIT_SECONDS)
        assert len(rows_of(server, number, "walkup_waiting")) == 1
        assert rows_of(server, other, "walkup_waiting") == []
    [post] = posts(receiver, "walkup_waiting", number)
    assert post["site"] == SITE and post["waiting_minutes"] is not None


def test_a_sigkill_between_the_ticket_and_the_post_sends_it_once_after_restart(tmp_path: Path, database: str) -> None:
    port = free_port()
    targets = [webhook("ops-hook", "HOOK_URL", ["new_report"])]
    server = notify_server(tmp_path, targets, {"HOOK_URL": f"http://127.0.0.1:{port}/hook"}, database=database).start()
    try:
        number = submit(server, server.token("submitter"))["number"]
        # The ticket is stored and its row derived, but no post has gone (nothing listens yet).
        wait_until(lambda: rows_of(server, number, "new_report")[0]["attempts"] >= 1, "an attempt", WAIT_SECONDS)
        server.kill()
        with Receiver(SignedReceiver(SECRET, time.time), port=port) as receiver:
            server.start()
            wait_until(lambda: rows_of(server, number, "new_report")[0]["state"] == "sent", "sent", WAIT_SECONDS)
            assert len(posts(receiver, "new_report", number)) == 1
            assert len(rows_of(server, number, "new_report")) == 1
    finally:
        server.stop()


def test_a_url_in_the_file_stops_the_server_naming_the_key(tmp_path: Path) -> None:
    targets = [{"name": "ops-hook", "kind": "webhook", "url": "https://hooks.example.test/s3cr3t"}]
    server = notify_server(tmp_path, targets, {})
    result = subprocess.run(server.command(), capture_output=True, text=True, env=server.env, timeout=60, check=False)
    assert result.returncode == 5
    assert "server.notify.0.url" in result.stderr and "url_env" in result.stderr
    assert "s3cr3t" not in result.stderr


def test_a_sigkill_while_posting_sends_again_with_the_same_id(tmp_path: Path, database: str) -> None:
    verifier = SignedReceiver(SECRET, time.time)
    held, release = threading.Event(), threading.Event()

    def hold_the_first(request: Any) -> tuple[int, dict[str, str], bytes]:
        if not held.is_set():
            held.set()
            release.wait(WAIT_SECONDS)
        return verifier(request)

    with Receiver(hold_the_first) as receiver:
        targets = [webhook("ops-hook", "HOOK_URL", ["new_report"])]
        server = notify_server(tmp_path, targets, {"HOOK_URL": receiver.url("/hook")}, database=database).start()
        try:
            number = submit(server, server.token("submitter"))["number"]
            wait_until(held.is_set, "the post in flight", WAIT_SECONDS)
            server.kill()  # the row is "sending": the server cannot know whether the post went
            release.set()
            server.start()
            wait_until(lambda: rows_of(server, number, "new_report")[0]["state"] == "sent", "sent", WAIT_SECONDS)
        finally:
            release.set()
            server.stop()
        ids = {r.headers[DELIVERY_HEADER.lower()] for r in receiver.requests}
        assert len(receiver.requests) == 2 and len(ids) == 1
        assert len(verifier.accepted) == 1
