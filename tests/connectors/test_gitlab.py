"""The GitLab issues connector, contract-tested against a local server following GitLab's documented API.

* https://docs.gitlab.com/api/project_markdown_uploads/ (``POST /projects/:id/uploads``, part ``file``;
  the answer's ``markdown`` and ``url``);
* https://docs.gitlab.com/api/issues/ (new issue: ``title``, ``description``, ``labels`` as a
  comma-separated string, ``confidential``; list project issues with ``search``, ``in``, ``state``);
* https://docs.gitlab.com/api/rest/authentication/ (``PRIVATE-TOKEN``).
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
from agent.connectors.gitlab import GitLabConnector
from tests.connectors.contract import ContractServer, FakeGitLab, Fault, Response
from tests.connectors.helpers import capture_and_submit, report_bundle, screenshot
from tests.fixtures.xvfb import XvfbServer, paint_root, position_pattern

TOKEN = "glpat-example-token"
PROJECT = "it/helpdesk"


@pytest.fixture
def gitlab() -> Iterator[ContractServer]:
    with ContractServer(FakeGitLab(TOKEN, project=PROJECT)) as server:
        yield server
    assert server.violations == []


def fake(server: ContractServer) -> FakeGitLab:
    assert isinstance(server.app, FakeGitLab)
    return server.app


def connector(server: ContractServer, **kwargs: object) -> GitLabConnector:
    options: dict[str, object] = {"token": TOKEN, "project": PROJECT}
    options.update(kwargs)
    return GitLabConnector(server.url, **options)  # type: ignore[arg-type]


def test_issue_with_the_screenshots_inline_and_byte_identical(gitlab: ContractServer) -> None:
    bundle = report_bundle(steps=3)
    report = bundle.report
    ticket = connector(gitlab).submit(bundle)

    uploads = gitlab.requests("POST", "/api/v4/projects/it%2Fhelpdesk/uploads")
    assert len(uploads) == len(report.files()) + 1
    [issue] = fake(gitlab).issues
    assert issue["title"] == report.subject() and issue["labels"] == ["showdesk"] and issue["confidential"] is True
    description = issue["description"]
    for number, step in enumerate(report.steps, start=1):
        assert f"![step-{number:03d}](/uploads/" in description  # inline image
        assert description.index(step.caption) < description.index(f"![step-{number:03d}]")
    assert description.rstrip().endswith(f"ShowDesk report id: {report.id}")
    files = fake(gitlab).files_of(issue)
    for ref in report.files():
        assert files[attachment_name(ref.path)] == bundle.files[ref.path]
    assert files[manifest_name(report.id)] == report.canonical_json()
    assert (ticket.id, ticket.number, ticket.url) == ("1", "#1", f"https://gitlab.example.org/{PROJECT}/-/issues/1")


def test_lost_answer_then_a_retry_makes_no_second_issue(gitlab: ContractServer) -> None:
    bundle = report_bundle(steps=2)
    client = connector(gitlab)
    gitlab.fail(Fault("POST", r"/api/v4/projects/[^/]+/issues", Response(502, b"Bad Gateway"), lost=True))
    with pytest.raises(TransientError, match="502"):
        client.submit(bundle)
    ticket = client.submit(bundle)
    assert len(fake(gitlab).issues) == 1 and ticket.id == "1"
    assert len(fake(gitlab).files_of(fake(gitlab).issues[0])) == len(bundle.report.files()) + 1
    # Another report quoting this one's id in its text is not taken for it.
    quoting = report_bundle(steps=1, description=f"Same as report {bundle.report.id}, again")
    assert client.submit(quoting).id == "2"
    assert Capability.IDEMPOTENT in client.capabilities


def test_over_the_attachment_limit_is_fitted_or_refused_naming_it(gitlab: ContractServer) -> None:
    bundle = report_bundle(screenshots=[screenshot(71, (1920, 1080), noise=(600, 500))])
    connector(gitlab, max_attachment_size=400_000).submit(bundle)
    files = fake(gitlab).files_of(fake(gitlab).issues[0])
    assert len(files["step-001.webp"]) <= 400_000 and "Step 1 was re-encoded" in fake(gitlab).issues[0]["description"]
    with pytest.raises(TooLargeError, match=r"spooler\.log.*391 KB.*GitLab's maximum attachment size"):
        connector(gitlab, max_attachment_size=400_000).submit(report_bundle(steps=1, attachment=b"x" * 500_000))


def test_a_refused_token_names_gitlab_and_the_fix(gitlab: ContractServer) -> None:
    with pytest.raises(AuthError) as caught:
        connector(gitlab, token="wrong").submit(report_bundle(steps=1))
    message = str(caught.value)
    assert f"GitLab at {gitlab.url} refused the access token (401): 401 Unauthorized" in message
    assert "api scope" in message and f"showdesk login {gitlab.url}" in message and fake(gitlab).issues == []


def test_created_from_configuration(gitlab: ContractServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWDESK_TOKEN", TOKEN)
    client = make_connector(BackendConfig(name="gl", type="gitlab", url=gitlab.url, options={
        "project": 7, "labels": ["helpdesk", "screenshots"], "confidential": False}))
    assert isinstance(client, GitLabConnector)
    client.submit(report_bundle(steps=1))
    [issue] = fake(gitlab).issues
    assert issue["labels"] == ["helpdesk", "screenshots"] and issue["confidential"] is False
    with pytest.raises(ConfigError, match=r"\[backends.gl\] needs project"):
        make_connector(BackendConfig(name="gl", type="gitlab", url=gitlab.url))


@pytest.mark.xvfb
def test_showdesk_capture_submit_with_a_gitlab_backend(
    gitlab: ContractServer, xvfb_display: XvfbServer, tmp_path: Path
) -> None:
    paint_root(xvfb_display.display, position_pattern(xvfb_display.width, xvfb_display.height))
    backend = (
        'type = "gitlab"\n'
        f'url = "{gitlab.url}"\n'
        f'project = "{PROJECT}"\n'
    )
    outcome: dict[str, Any] = capture_and_submit(backend, TOKEN, xvfb_display.env, tmp_path)
    [issue] = fake(gitlab).issues
    assert outcome["ticket"]["id"] == str(issue["iid"]) and "step-001.webp" in fake(gitlab).files_of(issue)
