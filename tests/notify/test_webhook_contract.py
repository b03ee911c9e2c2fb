"""The generic signed webhook, checked by a receiver that does what docs/notifications.md tells one to do.

The scheme (ShowDesk's own, documented in docs/notifications.md): header
``X-ShowDesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``; a
receiver recomputes it, compares in constant time, rejects a ``t`` more than 300 s from its
clock (a replay), and drops a repeated ``id`` (a retry after a lost answer).
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import keyring
import pytest
from keyring.errors import PasswordDeleteError

from agent.notify.notifier import KEYRING_SERVICE
from agent.notify.payloads import signature, verify_signature
from tests.notify.conftest import Clock, MakeNotifier, delivered_report_events, target
from tests.notify.receivers import Receiver, SignedReceiver, free_port

SECRET = "s3cret-signing-key"


def webhook_target() -> object:
    return target(name="ops-hook", kind="webhook", url_keyring="ops-hook-url", secret_keyring="ops-hook-secret",
                  events=["new_report", "critical_flag"])


def forget(*names: str) -> None:
    for name in names:
        with contextlib.suppress(PasswordDeleteError):
            keyring.delete_password(KEYRING_SERVICE, name)


@pytest.fixture
def keyring_entries() -> Iterator[None]:
    # The webhook's URL and secret live in the (test run's) OS keyring, as an administrator would keep them.
    keyring.set_password(KEYRING_SERVICE, "ops-hook-secret", SECRET)
    yield
    forget("ops-hook-secret", "ops-hook-url")


def test_the_receiver_verifies_the_signature_and_reads_the_event(
    make_notifier: MakeNotifier, clock: Clock, keyring_entries: None
) -> None:
    receiver = SignedReceiver(SECRET, clock)
    with Receiver(receiver) as hook:
        keyring.set_password(KEYRING_SERVICE, "ops-hook-url", hook.url("/showdesk/events"))
        notifier = make_notifier(webhook_target())
        for event in delivered_report_events():
            notifier.publish(event)
        outcomes = notifier.deliver_due()

    assert [o.status for o in outcomes] == ["delivered", "delivered"]
    assert sorted(body["event"] for body in receiver.accepted) == ["critical_flag", "new_report"]
    body = next(b for b in receiver.accepted if b["event"] == "new_report")
    assert body["ticket"] == {"number": "SD-1001", "url": "https://helpdesk.example.org/t/SD-1001"}
    assert body["site"] == "HQ" and body["category"] == "Printer"
    assert body["flags"][0]["severity"] == "critical"
    request = hook.requests[0]
    assert request.headers["x-showdesk-event"] in ("new_report", "critical_flag")
    assert request.headers["x-showdesk-delivery"] == json.loads(request.body)["id"]


def test_a_replayed_request_older_than_five_minutes_is_rejected(
    make_notifier: MakeNotifier, clock: Clock, keyring_entries: None
) -> None:
    receiver = SignedReceiver(SECRET, clock)
    with Receiver(receiver) as hook:
        keyring.set_password(KEYRING_SERVICE, "ops-hook-url", hook.url("/in"))
        notifier = make_notifier(webhook_target())
        notifier.publish(delivered_report_events()[0])
        notifier.deliver_due()
        original = hook.requests[0]

        clock.advance(301)  # an eavesdropper sends the very same bytes later
        replay = urllib.request.Request(  # noqa: S310 - a loopback http URL made here
            hook.url("/in"),
            data=original.body,
            method="POST",
            headers={"Content-Type": "application/json",
                     "X-ShowDesk-Signature": original.headers["x-showdesk-signature"]},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(replay, timeout=5)  # noqa: S310 - loopback
        refused.value.close()

    assert refused.value.code == 401
    assert len(receiver.accepted) == 1


def test_a_tampered_body_or_a_wrong_secret_fails_verification() -> None:
    body = b'{"id":"x","event":"new_report"}'
    header = signature(SECRET, 1_000, body)
    assert verify_signature(SECRET, header, body, now=1_000)
    assert verify_signature(SECRET, header, body, now=1_300)
    assert not verify_signature(SECRET, header, body, now=1_301)
    assert not verify_signature(SECRET, header, body.replace(b"new_report", b"walkup_waiting"), now=1_000)
    assert not verify_signature("another", header, body, now=1_000)
    assert not verify_signature(SECRET, "t=abc,v1=00", body, now=1_000)


def test_a_receiver_that_is_down_then_up_gets_the_notification_once(
    make_notifier: MakeNotifier, clock: Clock, keyring_entries: None
) -> None:
    port = free_port()
    keyring.set_password(KEYRING_SERVICE, "ops-hook-url", f"http://127.0.0.1:{port}/hooks/PATHSECRET")
    notifier = make_notifier(webhook_target())
    [event, *_] = delivered_report_events()
    notifier.publish(event)
    [down] = notifier.deliver_due()  # nothing listens: refused at once

    receiver = SignedReceiver(SECRET, clock)
    with Receiver(receiver, port=port) as hook:
        clock.advance(30)
        [up] = notifier.deliver_due()
        assert notifier.publish(event) == []  # the same event again: already delivered to this target
        clock.advance(3600)
        assert notifier.deliver_due() == []

    assert down.status == "retrying" and "cannot reach http://127.0.0.1/…" in down.detail
    assert up.status == "delivered"
    assert len(hook.requests) == 1 and len(receiver.accepted) == 1
    assert "PATHSECRET" not in json.dumps([r.__dict__ for r in notifier.log_records()])


def test_a_missing_secret_keeps_the_notification_and_names_the_keyring_entry(
    make_notifier: MakeNotifier, clock: Clock
) -> None:
    forget("ops-hook-secret")
    keyring.set_password(KEYRING_SERVICE, "ops-hook-url", "http://127.0.0.1:9/never")
    notifier = make_notifier(webhook_target())
    notifier.publish(delivered_report_events()[0])
    [outcome] = notifier.deliver_due()
    assert outcome.status == "retrying"
    assert "no signing secret in keyring entry 'ops-hook-secret'" in outcome.detail
    assert len(notifier.queue.pending()) == 1
    forget("ops-hook-url")
