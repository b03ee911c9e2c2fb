"""The Redmine connector against a real Redmine 5.0 (Debian's package, started once per session).

The requests are Redmine's documented REST API: https://www.redmine.org/projects/redmine/wiki/Rest_api
(authentication with ``X-Redmine-API-Key``; "Attaching files": ``POST /uploads.json`` then the
tokens in ``issue.uploads``), https://www.redmine.org/projects/redmine/wiki/Rest_Issues (creating
issues, filtering by ``cf_x``) and https://www.redmine.org/projects/redmine/wiki/Rest_Search.

A lost answer is made by a relay between connector and Redmine that lets a request through and
then answers 502 instead of Redmine's answer.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from agent.bundle import ReportBundle
from agent.config import BackendConfig, ConfigError
from agent.connectors import make_connector
from agent.connectors.base import AuthError, Capability, TooLargeError, TransientError
from agent.connectors.common import attachment_name, manifest_name
from agent.connectors.redmine import RedmineConnector
from tests.connectors.helpers import report_bundle, screenshot
from tests.fixtures.redmine import RedmineInstance, redmine_server  # noqa: F401 - the session fixture
from tests.fixtures.xvfb import XvfbServer, paint_root, position_pattern


class LosingRelay:
    """A reverse relay on 127.0.0.1 to ``target``: ``lose(method, path)`` makes the next such request go
    through to Redmine and then answers 502 instead of Redmine's answer (the answer is lost)."""

    def __init__(self, target: str) -> None:
        self.target = urlsplit(target)
        self.losing: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def __enter__(self) -> LosingRelay:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def lose(self, method: str, path: str) -> None:
        with self._lock:
            self.losing.append((method, path))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                host = relay.target.hostname or "127.0.0.1"
                connection = http.client.HTTPConnection(host, relay.target.port, timeout=120)
                try:
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    answer = connection.getresponse()
                    data = answer.read()
                    status = answer.status
                    answer_headers = [(k, v) for k, v in answer.getheaders()
                                      if k.lower() not in ("connection", "transfer-encoding", "content-length")]
                finally:
                    connection.close()
                with relay._lock:
                    key = (self.command, urlsplit(self.path).path)
                    if key in relay.losing:
                        relay.losing.remove(key)
                        status, answer_headers, data = 502, [("Content-Type", "text/plain")], b"Bad Gateway"
                self.send_response(status)
                for name, value in answer_headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _relay  # noqa: N815 - http.server's naming
            do_POST = _relay  # noqa: N815 - http.server's naming

        return Handler


@pytest.fixture
def redmine(redmine_server: RedmineInstance) -> RedmineInstance:  # noqa: F811 - the imported fixture
    return redmine_server


def connector(redmine: RedmineInstance, *, url: str | None = None, **kwargs: object) -> RedmineConnector:
    options: dict[str, object] = {"project": redmine.project, "token": redmine.key,
                                  "report_id_field": redmine.report_field}
    options.update(kwargs)
    return RedmineConnector(url or redmine.url, **options)  # type: ignore[arg-type]


def assert_arrived_whole(redmine: RedmineInstance, bundle: ReportBundle, issue: dict[str, object]) -> None:
    attachments = {a["filename"]: a for a in issue["attachments"]}  # type: ignore[attr-defined]
    report = bundle.report
    expected = {attachment_name(r.path): bundle.files[r.path] for r in report.files()}
    expected[manifest_name(report.id)] = report.canonical_json()
    assert set(attachments) == set(expected)
    for name, data in expected.items():
        assert redmine.download(attachments[name]) == data, name


def test_issue_with_every_screenshot_byte_identical(redmine: RedmineInstance) -> None:
    bundle = report_bundle(steps=3, size=(1280, 800))
    ticket = connector(redmine).submit(bundle)
    [issue] = redmine.issues_with_report(bundle.report.id)
    assert str(issue["id"]) == ticket.id and ticket.url == f"{redmine.url}/issues/{ticket.id}"
    assert issue["subject"] == bundle.report.subject() and ticket.report_id == bundle.report.id
    assert all(step.caption in issue["description"] for step in bundle.report.steps)
    assert {"id": redmine.report_field, "name": "ShowDesk report", "value": str(bundle.report.id)} in issue[
        "custom_fields"]
    assert_arrived_whole(redmine, bundle, issue)


@pytest.mark.parametrize("by_field", [True, False], ids=["custom field", "search"])
def test_lost_answer_then_a_retry_makes_no_second_issue(redmine: RedmineInstance, by_field: bool) -> None:
    bundle = report_bundle(steps=2)
    with LosingRelay(redmine.url) as relay:
        client = connector(redmine, url=relay.url, report_id_field=redmine.report_field if by_field else None)
        assert Capability.IDEMPOTENT in client.capabilities
        relay.lose("POST", "/issues.json")
        with pytest.raises(TransientError, match="502"):
            client.submit(bundle)
        ticket = client.submit(bundle)
        relay.lose("POST", "/uploads.json")  # an upload's answer lost: the retry uploads it again
        other = report_bundle(steps=1)
        with pytest.raises(TransientError):
            client.submit(other)
        client.submit(other)
    [issue] = redmine.issues_with_report(bundle.report.id)
    assert str(issue["id"]) == ticket.id
    assert_arrived_whole(redmine, bundle, issue)
    [other_issue] = redmine.issues_with_report(other.report.id)
    assert_arrived_whole(redmine, other, other_issue)


def test_over_redmines_limit_is_fitted_or_refused_naming_it(redmine: RedmineInstance) -> None:
    # A photo-like screenshot over Redmine's default 5120 KB: re-encoded to fit, and said so.
    big = screenshot(41, (2560, 1600), noise=(1500, 1200))
    assert len(big) > 5120 * 1024
    bundle = report_bundle(screenshots=[big, screenshot(42)])
    connector(redmine).submit(bundle)
    [issue] = redmine.issues_with_report(bundle.report.id)
    sizes = {a["filename"]: a["filesize"] for a in issue["attachments"]}
    assert sizes["step-001.webp"] <= 5120 * 1024 and "Step 1 was re-encoded" in issue["description"]
    # A log cannot shrink: refused before sending, naming the limit.
    log = os.urandom(5300 * 1024)
    with pytest.raises(TooLargeError, match=r"attachment-001\.txt \(spooler\.log\).*5\.0 MB.*attachment_max_size"):
        connector(redmine).submit(report_bundle(steps=1, attachment=log))
    # Told no limit, the connector hears Redmine's own refusal and passes it on.
    with pytest.raises(TooLargeError, match="exceeds the maximum allowed file size"):
        connector(redmine, max_attachment_size=None).submit(report_bundle(steps=1, attachment=log))


def test_a_refused_key_names_redmine_and_the_fix(redmine: RedmineInstance) -> None:
    bundle = report_bundle(steps=1)
    with pytest.raises(AuthError) as caught:
        connector(redmine, token="0" * 40).submit(bundle)
    message = str(caught.value)
    assert f"Redmine at {redmine.url}" in message and "API access key" in message
    assert f"showdesk login {redmine.url}" in message and "REST API is enabled" in message
    assert redmine.issues_with_report(bundle.report.id) == []


def test_configuration_mistakes_name_the_key(redmine: RedmineInstance) -> None:
    with pytest.raises(ConfigError, match=r"\[backends.rm\] needs project"):
        make_connector(BackendConfig(name="rm", type="redmine", url=redmine.url))
    with pytest.raises(ConfigError, match=r"report_id_field takes Redmine's numeric id"):
        make_connector(BackendConfig(name="rm", type="redmine", url=redmine.url,
                                     options={"project": "x", "report_id_field": "ShowDesk report"}))


@pytest.mark.xvfb
def test_showdesk_capture_submit_with_a_redmine_backend(
    redmine: RedmineInstance, xvfb_display: XvfbServer, tmp_path: Path
) -> None:
    paint_root(xvfb_display.display, position_pattern(xvfb_display.width, xvfb_display.height))
    config = tmp_path / "config.toml"
    config.write_text(f'[backends.helpdesk]\ntype = "redmine"\nurl = "{redmine.url}"\nproject = "{redmine.project}"\n'
                      f"report_id_field = {redmine.report_field}\n", encoding="utf-8")
    env = {**os.environ, **xvfb_display.env, "SHOWDESK_CONFIG": str(config), "SHOWDESK_TOKEN": redmine.key,
           "SHOWDESK_OUTBOX": str(tmp_path / "outbox")}
    result = subprocess.run(
        [sys.executable, "-m", "showdesk", "capture", "--submit", "--backend", "helpdesk", "--json",
         "--description", "Printer offline"],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["state"] == "delivered"
    [issue] = redmine.issues_with_report(outcome["report_id"])
    assert str(issue["id"]) == outcome["ticket"]["id"]
    names = {a["filename"] for a in issue["attachments"]}
    assert {"step-001.webp", "sysinfo.json", f"showdesk-report-{outcome['report_id']}.json"} <= names
