"""Slack through an incoming webhook, against a loopback stand-in that answers as documented.

Documentation replayed:
- Sending messages using incoming webhooks: POST JSON with ``text`` (and ``blocks``), answer 200 "ok";
  errors as plain-text bodies with HTTP 400 (invalid_payload, no_text), 403, 404 (no_service), 410:
  https://api.slack.com/messaging/webhooks
- Rate limits: HTTP 429 with a Retry-After header in seconds; wait that long before the next try:
  https://docs.slack.dev/apis/web-api/rate-limits
- mrkdwn: `&`, `<` and `>` are control characters, escaped as `&amp;`, `&lt;`, `&gt;`; `<!channel>`
  and `<url|text>` are the special forms they would otherwise make:
  https://docs.slack.dev/messaging/formatting-message-text
- Block Kit limits (header 150 characters, section text 3000, ten fields):
  https://docs.slack.dev/reference/block-kit/blocks
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from agent.notify.payloads import slack_payload
from tests.notify.conftest import Clock, MakeNotifier, delivered_report_events, target
from tests.notify.receivers import Receiver, Request, slack_incoming_webhook

HOSTILE = (
    "<!channel> <!here> <@U123> <https://evil.example|your bank> [bank](https://evil.example) & <script>x</script>"
)


def slack_target(**more: Any) -> Any:
    return target(name="it-slack", kind="slack", url_env="SLACK_URL", **more)


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
            texts.extend(f["text"] for f in block.get("fields", []))
    return texts


def test_a_delivered_report_reaches_slack_as_text_and_blocks_with_the_link(
    make_notifier: MakeNotifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Receiver(slack_incoming_webhook) as slack:
        monkeypatch.setenv("SLACK_URL", slack.url("/services/T000/B000/XXXXSECRET"))
        notifier = make_notifier(slack_target())
        notifier.publish(delivered_report_events()[0])
        [outcome] = notifier.deliver_due()

    assert outcome.status == "delivered" and outcome.detail == "HTTP 200: ok"
    [request] = slack.requests
    message = request.json()
    assert message["text"].startswith("New help-desk report: Printer: The printer on floor 2")
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "actions"]
    assert message["blocks"][2]["elements"][0]["url"] == "https://helpdesk.example.org/t/SD-1001"
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert "*Ticket*\n<https://helpdesk.example.org/t/SD-1001|SD-1001>" in fields
    assert "files" not in message and "image" not in json.dumps(message["blocks"])  # link only


def test_hostile_text_cannot_ping_a_channel_or_hide_a_link_in_slack() -> None:
    [event, *_] = delivered_report_events(subject=HOSTILE)
    payload = slack_payload(event)
    for text in mrkdwn_texts(payload):
        # Every `<` left is one ShowDesk wrote: the ticket link, and nothing else.
        assert re.findall(r"<[^>]*>", text) in ([], ["<https://helpdesk.example.org/t/SD-1001|SD-1001>"]), text
    assert "&lt;!channel&gt;" in payload["text"]
    assert "&lt;https://evil.example|your bank&gt;" in payload["text"]
    assert "&amp;" in payload["text"]
    assert len(payload["blocks"][0]["text"]["text"]) <= 150


def test_a_429_is_retried_no_sooner_than_its_retry_after(
    make_notifier: MakeNotifier, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    answers = iter([(429, {"Retry-After": "120"}, b"rate_limited"), (200, {}, b"ok")])

    def respond(request: Request) -> tuple[int, dict[str, str], bytes]:
        return next(answers)

    with Receiver(respond) as slack:
        monkeypatch.setenv("SLACK_URL", slack.url("/services/T/B/X"))
        notifier = make_notifier(slack_target())
        notifier.publish(delivered_report_events()[0])
        [first] = notifier.deliver_due()
        clock.advance(119)
        too_early = notifier.deliver_due()
        clock.advance(1)
        [second] = notifier.deliver_due()

    assert first.status == "retrying" and "HTTP 429" in first.detail
    assert too_early == []
    assert second.status == "delivered"
    assert len(slack.requests) == 2
    assert [r.status for r in notifier.log_records()] == ["retrying", "delivered"]


@pytest.mark.parametrize(("status", "body"), [(404, b"no_service"), (410, b"channel_is_archived"),
                                              (400, b"invalid_payload")])
def test_a_webhook_slack_refuses_for_good_is_not_retried(
    make_notifier: MakeNotifier, monkeypatch: pytest.MonkeyPatch, clock: Clock, status: int, body: bytes
) -> None:
    with Receiver(lambda _r: (status, {"Content-Type": "text/plain"}, body)) as slack:
        monkeypatch.setenv("SLACK_URL", slack.url("/services/T/B/X"))
        notifier = make_notifier(slack_target())
        notifier.publish(delivered_report_events()[0])
        [outcome] = notifier.deliver_due()
        clock.advance(86400)
        assert notifier.deliver_due() == []
    assert outcome.status == "failed" and body.decode() in outcome.detail
    assert len(slack.requests) == 1


def test_a_server_error_is_retried_with_backoff(
    make_notifier: MakeNotifier, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    answers: Iterator[tuple[int, dict[str, str], bytes]] = iter([(500, {}, b"rollup_error"), (200, {}, b"ok")])
    with Receiver(lambda _r: next(answers)) as slack:
        monkeypatch.setenv("SLACK_URL", slack.url("/services/T/B/X"))
        notifier = make_notifier(slack_target())
        notifier.publish(delivered_report_events()[0])
        assert [o.status for o in notifier.deliver_due()] == ["retrying"]
        clock.advance(29)
        assert notifier.deliver_due() == []
        clock.advance(1)
        assert [o.status for o in notifier.deliver_due()] == ["delivered"]
