"""The agent as wired: a captive portal said in the tray, a click on a reply's notification opens
My requests, and the configured [[notify]] webhook hears once of each report the agent delivers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from agent.config import load_config
from agent.connectors.common import SIGN_IN_FIRST
from agent.laptop.agent_app import AgentApp
from agent.laptop.queue_windows import RequestsWindow
from agent.outbox import EntryState
from tests.fixtures.server import ServerProcess
from tests.fixtures.waiting import wait_until
from tests.laptop.conftest import AgentHarness
from tests.notify.receivers import Receiver, SignedReceiver
from tests.outbox.helpers import make_bundle
from tests.outbox.peers import Peer, Reply

pytestmark = pytest.mark.xvfb

SECRET = "agent-webhook-secret"


def test_a_report_behind_a_captive_portal_is_stuck_in_the_tray_with_the_sign_in_sentence(
    harness: AgentHarness, qtbot: QtBot
) -> None:
    with Peer() as portal:
        # Every request of the hotel's network is sent to its sign-in page on another host.
        portal.answer(*[Reply(302, b"", {"Location": "http://127.0.0.2:9/login"}) for _ in range(20)])
        harness.server_url, harness.token = portal.url, "a-token"
        agent = harness.make()
        entry = harness.outbox.put(make_bundle(2, description="cannot print from the hotel"))

        qtbot.waitUntil(lambda: harness.outbox.get(entry.id).waits_for_network, timeout=10_000)
        assert harness.outbox.get(entry.id).state is EntryState.PENDING  # waiting, not held or dead
        qtbot.waitUntil(lambda: agent.tray.problem is not None, timeout=10_000)
    assert agent.tray.problem == SIGN_IN_FIRST
    assert agent.tray.status_action.text().startswith("1 report waiting to be sent (This network wants you to sign")


def test_a_click_on_a_reply_notification_opens_my_requests_and_a_click_on_another_does_not(
    harness: AgentHarness, qtbot: QtBot
) -> None:
    agent = harness.make()  # no tray on Xvfb: notifications are the corner toast
    agent.tray.notify("Ticket 7: your report was delivered", "The help desk has your report.")
    toast = agent.tray.toast
    assert toast is not None
    with qtbot.waitSignal(agent.tray.notification_clicked, timeout=5_000) as clicked:
        qtbot.mouseClick(toast, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    assert clicked.args == [""]
    assert requests_window(agent) is None

    agent.tray.notify("New reply on 7", "The help desk replied.", kind="replies")
    with qtbot.waitSignal(agent.tray.notification_clicked, timeout=5_000) as clicked:
        qtbot.mouseClick(toast, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    assert clicked.args == ["replies"]
    window = requests_window(agent)
    assert window is not None and window.isVisible()


def requests_window(agent: AgentApp) -> RequestsWindow | None:
    return agent.requests_window


def test_a_configured_webhook_gets_one_signed_post_when_the_agent_delivers_a_report(
    harness: AgentHarness, shared_server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = SignedReceiver(SECRET, time.time)
    with Receiver(receiver) as hook:
        config_file = tmp_path / "config.toml"
        config_file.write_text(
            f'[notifications]\ndir = "{tmp_path / "notify"}"\n\n'
            '[[notify]]\nname = "desk"\nkind = "webhook"\nurl_env = "DESK_HOOK_URL"\nsecret_env = "DESK_HOOK_SECRET"\n'
        )
        monkeypatch.setenv("SHOWDESK_CONFIG", str(config_file))
        monkeypatch.setenv("DESK_HOOK_URL", hook.url("/events"))
        monkeypatch.setenv("DESK_HOOK_SECRET", SECRET)
        harness.use_server(shared_server)
        agent = harness.make(config=load_config())
        notifier = agent.notifier
        assert notifier is not None
        started = notifier.running
        assert started
        bundle = make_bundle(1, description="the projector shows nothing")
        harness.outbox.put(bundle)
        harness.outbox.wake()
        report_id = str(bundle.report.id)
        wait_until(lambda: harness.outbox.receipt(report_id) is not None, "delivered", 30)
        wait_until(lambda: len(receiver.accepted) == 1, "the webhook was told", 15)
        receipt = harness.outbox.receipt(report_id)
        assert receipt is not None
        [told] = receiver.accepted
        assert told["event"] == "new_report" and told["report_id"] == report_id
        # The ticket's link is the person's own page (a capability): the channel gets the number only.
        assert told["ticket"] == {"number": receipt.number, "url": None}
        agent.shutdown()  # stops the notifier's thread; nothing more is sent
        assert not notifier.running
        assert len(hook.requests) == 1  # one post, and it verified


def test_notifications_that_cannot_be_kept_cost_the_notifications_not_the_agent(
    harness: AgentHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[notifications]\ndir = "{in_the_way / "notify"}"\n\n'
        '[[notify]]\nname = "desk"\nkind = "slack"\nurl_env = "DESK_SLACK_URL"\n'
    )
    monkeypatch.setenv("SHOWDESK_CONFIG", str(config_file))
    monkeypatch.setenv("DESK_SLACK_URL", "http://127.0.0.1:9/services/T/B/X")
    agent = harness.make(config=load_config())  # started, though its notifications cannot be queued
    assert agent.notifier is None
    assert "no notifications to the configured targets" in caplog.text
