"""The notifier's own thread delivers what is published, and a redirect is reported, not followed."""

from __future__ import annotations

import pytest

from tests.fixtures.waiting import wait_until
from tests.notify.conftest import MakeNotifier, delivered_report_events, target
from tests.notify.receivers import Receiver, slack_incoming_webhook


def test_the_worker_thread_sends_what_is_published_without_being_asked(
    make_notifier: MakeNotifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Receiver(slack_incoming_webhook) as slack:
        monkeypatch.setenv("SLACK_URL", slack.url("/services/T/B/X"))
        notifier = make_notifier(target(name="s", kind="slack", url_env="SLACK_URL"))
        notifier.start()
        try:
            notifier.publish(delivered_report_events()[0])
            wait_until(lambda: [r.status for r in notifier.log_records()] == ["delivered"],
                       "the worker delivered the notification", timeout=10)
        finally:
            notifier.stop()
    assert len(slack.requests) == 1
    assert not notifier.running


def test_a_redirect_is_refused_not_followed_as_a_get(make_notifier: MakeNotifier,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver(slack_incoming_webhook) as elsewhere, \
            Receiver(lambda _r: (302, {"Location": elsewhere.url("/services/T/B/X")}, b"")) as moved:
        monkeypatch.setenv("SLACK_URL", moved.url("/old"))
        notifier = make_notifier(target(name="s", kind="slack", url_env="SLACK_URL"))
        notifier.publish(delivered_report_events()[0])
        [outcome] = notifier.deliver_due()
    assert outcome.status == "failed" and outcome.detail.startswith("HTTP 302")
    assert elsewhere.requests == []
