"""Slack screenshots through the external upload API, against a loopback stand-in that answers as documented.

Documentation replayed:
- files.getUploadURLExternal: POST (form or JSON) with ``filename`` and ``length``, a bot token in
  ``Authorization: Bearer``; answers {"ok": true, "upload_url": …, "file_id": …}:
  https://docs.slack.dev/reference/methods/files.getUploadURLExternal/
- The upload itself: POST the raw bytes (or a multipart form) to ``upload_url``; HTTP 200 when received.
- files.completeUploadExternal: ``files`` = [{"id", "title"}], ``channel_id``, ``initial_comment``;
  answers {"ok": true, "files": […]}; errors as {"ok": false, "error": "not_in_channel"} and the like:
  https://docs.slack.dev/reference/methods/files.completeUploadExternal/
- files.upload is retired in favour of the two methods above (same pages).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from agent.notify.notifier import Notifier
from agent.notify.outbox_hook import OutboxNotifier
from agent.notify.queue import NotifyQueue
from agent.outbox import Outbox
from tests.connectors.helpers import report_bundle
from tests.notify.conftest import Clock, target
from tests.notify.receivers import Answer, Receiver, Request, slack_incoming_webhook
from tests.outbox.test_end_to_end import submitter

BOT_TOKEN = "xoxb-test-token"


class SlackStandIn:
    """The incoming webhook, the two upload methods and the upload URLs, with what each received."""

    def __init__(self, complete_error: str | None = None) -> None:
        self.base = ""
        self.uploads: dict[str, bytes] = {}
        self.pending: dict[str, tuple[str, int]] = {}  # file id -> (filename, length)
        self.shared: list[dict[str, Any]] = []
        self.complete_error = complete_error
        self.methods: list[str] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Answer:
        if request.path.startswith("/services/"):
            return slack_incoming_webhook(request)
        if request.path.startswith("/api/"):
            method = request.path.removeprefix("/api/")
            self.methods.append(method)
            if request.headers.get("authorization") != f"Bearer {BOT_TOKEN}":
                return self._api({"ok": False, "error": "not_authed"})
            if method == "files.getUploadURLExternal":
                form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
                if not form.get("filename") or not form.get("length", "").isdigit():
                    return self._api({"ok": False, "error": "invalid_arguments"})
                with self._lock:
                    file_id = f"F{next(self._ids):08d}"
                self.pending[file_id] = (form["filename"], int(form["length"]))
                return self._api({"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id})
            if method == "files.completeUploadExternal":
                body = request.json()
                if self.complete_error:
                    return self._api({"ok": False, "error": self.complete_error})
                ids = [f["id"] for f in body["files"]]
                if not body.get("channel_id") or any(i not in self.uploads for i in ids):
                    return self._api({"ok": False, "error": "invalid_arguments"})
                self.shared.append(body)
                return self._api({"ok": True, "files": [{"id": i} for i in ids]})
            return 404, {}, b"unknown_method"  # files.upload included: retired
        if request.path.startswith("/upload/"):
            file_id = request.path.removeprefix("/upload/")
            if file_id not in self.pending or len(request.body) != self.pending[file_id][1]:
                return 400, {}, b"bad upload"
            self.uploads[file_id] = request.body
            return 200, {"Content-Type": "text/plain"}, f"OK - {len(request.body)}".encode()
        return 404, {}, b""

    @staticmethod
    def _api(data: dict[str, Any]) -> Answer:
        return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()


def run_report_through(
    shared_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock, slack: SlackStandIn
) -> tuple[Notifier, Any, Receiver]:
    hook = Receiver(slack)
    slack.base = hook.url("")
    monkeypatch.setenv("SLACK_URL", hook.url("/services/T/B/X"))
    monkeypatch.setenv("SLACK_BOT", BOT_TOKEN)
    images_target = target(name="desk", kind="slack", url_env="SLACK_URL", images=True,
                           slack_channel_id="C0123456789", slack_token_env="SLACK_BOT")
    notifier = Notifier([images_target], NotifyQueue(tmp_path / "notify", clock=clock), clock=clock,
                        slack_api=hook.url("/api"))
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: submitter(shared_server))
    outbox.add_observer(OutboxNotifier(notifier, outbox.bundle))
    bundle = report_bundle(steps=4)
    outbox.put(bundle)
    outbox.flush()
    outbox.close()
    return notifier, bundle, hook


def test_screenshots_reach_the_channel_byte_identical_through_the_external_upload(
    shared_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    slack = SlackStandIn()
    notifier, bundle, hook = run_report_through(shared_server, tmp_path, monkeypatch, clock, slack)
    hook.close()

    [shared] = slack.shared
    assert shared["channel_id"] == "C0123456789"
    assert [f["title"] for f in shared["files"]] == ["step-1.png", "step-2.png", "step-3.png"]  # at most three
    sent = [slack.uploads[f["id"]] for f in shared["files"]]
    assert sent == [bundle.files[step.image.path] for step in bundle.report.steps[:3]]
    assert "files.upload" not in slack.methods
    # The built-in server's ticket link is the person's capability: the channel gets the number only.
    assert re.fullmatch(r"Screenshots of SD-\d+", shared["initial_comment"])
    assert {r.status for r in notifier.log_records()} == {"delivered"}
    assert not (tmp_path / "notify" / "images").exists() or not any((tmp_path / "notify" / "images").iterdir())


def test_a_bot_outside_the_channel_is_refused_for_good_and_the_pictures_are_not_kept(
    shared_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    slack = SlackStandIn(complete_error="not_in_channel")
    notifier, _bundle, hook = run_report_through(shared_server, tmp_path, monkeypatch, clock, slack)
    clock.advance(7200)
    assert notifier.deliver_due() == []
    hook.close()

    failed = [r for r in notifier.log_records() if r.status == "failed"]
    assert [r.detail for r in failed] == ["refused: HTTP 400: files.completeUploadExternal: not_in_channel"]
    assert not any((tmp_path / "notify" / "images").iterdir())
