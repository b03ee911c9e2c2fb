"""`showdesk notify`'s function: a test notification to a configured target, the log, storing a URL."""

from __future__ import annotations

import io
from pathlib import Path

import keyring
import pytest

from agent.config import load_config
from agent.notify.admin import EXIT_CONFIG, EXIT_NOT_DELIVERED, EXIT_OK, run_notify
from agent.notify.notifier import KEYRING_SERVICE
from tests.notify.receivers import Receiver, slack_incoming_webhook


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[notifications]\ndir = "{tmp_path / "notify"}"\n\n'
        '[[notify]]\nname = "it-slack"\nkind = "slack"\nurl_keyring = "admin-test-slack"\n'
    )
    monkeypatch.setenv("SHOWDESK_CONFIG", str(path))
    return path


def test_store_then_test_sends_one_notification_and_logs_it(configured: Path) -> None:
    with Receiver(slack_incoming_webhook) as slack:
        out = io.StringIO()
        stored = run_notify(load_config(), "store", "admin-test-slack", out=out,
                            secret_input=io.StringIO(slack.url("/services/T/B/ADMINSECRET") + "\n"))
        assert stored == EXIT_OK and "ADMINSECRET" not in out.getvalue()
        assert keyring.get_password(KEYRING_SERVICE, "admin-test-slack") == slack.url("/services/T/B/ADMINSECRET")

        out = io.StringIO()
        code = run_notify(load_config(), "test", "it-slack", out=out)
        assert code == EXIT_OK, out.getvalue()
        assert out.getvalue().startswith("it-slack: delivered")
        assert "test notification" in slack.requests[0].json()["text"]

        log = io.StringIO()
        run_notify(load_config(), "log", out=log)
    assert "delivered  it-slack  new_report" in log.getvalue()
    assert "ADMINSECRET" not in log.getvalue()
    keyring.delete_password(KEYRING_SERVICE, "admin-test-slack")


def test_an_unknown_target_or_an_unreachable_one_says_so(configured: Path) -> None:
    out = io.StringIO()
    assert run_notify(load_config(), "test", "nope", out=out) == EXIT_CONFIG
    assert "no notification target named 'nope'; configured: it-slack" in out.getvalue()
    out = io.StringIO()
    keyring.set_password(KEYRING_SERVICE, "admin-test-slack", "http://127.0.0.1:9/x")
    assert run_notify(load_config(), "test", "it-slack", out=out) == EXIT_NOT_DELIVERED
    assert "retrying (cannot reach http://127.0.0.1/…" in out.getvalue()
    keyring.delete_password(KEYRING_SERVICE, "admin-test-slack")
