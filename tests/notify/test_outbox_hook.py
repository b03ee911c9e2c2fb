"""The outbox path: a report through the real outbox to the real built-in server, then to a signed webhook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.notify.notifier import Notifier
from agent.notify.outbox_hook import OutboxNotifier, channel_link
from agent.notify.queue import NotifyQueue
from agent.outbox import Outbox
from tests.connectors.helpers import report_bundle
from tests.notify.conftest import Clock, target
from tests.notify.receivers import Receiver, SignedReceiver
from tests.outbox.test_end_to_end import submitter

SECRET = "outbox-hook-secret"


def test_a_report_the_backend_confirmed_is_notified_once_with_its_ticket_link(
    shared_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    receiver = SignedReceiver(SECRET, clock)
    with Receiver(receiver) as hook:
        monkeypatch.setenv("HOOK_URL", hook.url("/events"))
        monkeypatch.setenv("HOOK_SECRET", SECRET)
        hook_target = target(name="hook", kind="webhook", url_env="HOOK_URL", secret_env="HOOK_SECRET",
                             events=["new_report", "critical_flag"], sites=["HQ"])
        other_site = target(name="lab", kind="webhook", url_env="HOOK_URL", secret_env="HOOK_SECRET",
                            sites=["Lab"])
        notifier = Notifier([hook_target, other_site], NotifyQueue(tmp_path / "notify", clock=clock), clock=clock)
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: submitter(shared_server))
        outbox.add_observer(OutboxNotifier(notifier, outbox.bundle))
        bundle = report_bundle(steps=1)  # site HQ, category Printer, its disk 99 % full

        outbox.put(bundle)
        result = outbox.flush()
        outbox.flush()  # nothing left: nothing more is told
        outbox.close()

    [receipt] = result.delivered
    assert sorted(b["event"] for b in receiver.accepted) == ["critical_flag", "new_report"]
    assert len(hook.requests) == 2  # the "Lab" target's rules took neither
    for body in receiver.accepted:
        assert body["report_id"] == str(bundle.report.id)
        # The built-in server's ticket link is the person's capability: never posted to a channel.
        assert "/t/" in receipt.url
        assert body["ticket"] == {"number": receipt.number, "url": None}
        assert receipt.url not in str(body)
        assert body["site"] == "HQ" and body["walk_up"] is False
        assert "ann@example.org" not in str(body)  # the reporter's address stays in the ticket
    assert list((tmp_path / "notify" / "reports").iterdir()) == []  # the kept facts went with the delivery


def test_attach_notifications_hooks_a_started_notifier_from_the_configuration(
    shared_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.config import load_config
    from agent.notify.outbox_hook import attach_notifications
    from tests.fixtures.waiting import wait_until
    from tests.notify.receivers import slack_incoming_webhook

    config_file = tmp_path / "config.toml"
    monkeypatch.setenv("SHOWDESK_CONFIG", str(config_file))
    config_file.write_text(f'[notifications]\ndir = "{tmp_path / "notify"}"\n')
    bare = Outbox(tmp_path / "bare", connector_for=lambda _n: submitter(shared_server))
    assert attach_notifications(bare, load_config()) is None  # no [[notify]]: nothing hooked
    bare.close()

    with Receiver(slack_incoming_webhook) as slack:
        monkeypatch.setenv("DESK_SLACK_URL", slack.url("/services/T/B/X"))
        config_file.write_text(config_file.read_text()
                               + '\n[[notify]]\nname = "desk"\nkind = "slack"\nurl_env = "DESK_SLACK_URL"\n')
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: submitter(shared_server))
        notifier = attach_notifications(outbox, load_config())
        assert notifier is not None and notifier.running
        try:
            outbox.put(report_bundle(steps=1))
            outbox.flush()
            wait_until(lambda: len(slack.requests) == 1, "the notifier's thread told Slack", timeout=10)
        finally:
            notifier.stop()
            outbox.close()
    assert slack.requests[0].json()["text"].startswith("New help-desk report: Printer")


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://help.example.org/t/" + "A" * 43, False),
        ("https://help.example.org/showdesk/t/" + "a_-" * 14 + "b/", False),
        ("https://rt.example.org/SelfService/Display.html?id=7", True),
        ("https://jira.example.org/servicedesk/customer/portal/2/IT-9", True),
        ("https://help.example.org/t/short", True),
    ],
)
def test_a_persons_capability_link_never_reaches_a_channel(url: str, kept: bool) -> None:
    assert channel_link(url) == (url if kept else "")
