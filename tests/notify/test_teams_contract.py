"""Teams through a Workflows webhook, against a loopback stand-in that answers as documented.

Documentation replayed:
- Create incoming webhooks with Workflows / "When a Teams webhook request is received" posts the
  message's Adaptive Card attachments; the Office 365 connectors (MessageCard) are retired:
  https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
  https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/what-are-cards
- The message shape {"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "content": {AdaptiveCard}}]}:
  https://raw.githubusercontent.com/MicrosoftDocs/power-automate-docs/main/articles/create-adaptive-cards.md
- TextBlock text is a Markdown subset (bold, italic, lists, [title](url)); no HTML:
  https://learn.microsoft.com/microsoftteams/platform/concepts/cards/cards-format
  https://learn.microsoft.com/adaptive-cards/create/textfeatures
"""

from __future__ import annotations

import json

import pytest
from markdown_it import MarkdownIt

from agent.notify.payloads import ADAPTIVE_CARD_CONTENT_TYPE, escape_markdown, teams_payload
from tests.notify.conftest import Clock, MakeNotifier, delivered_report_events, target
from tests.notify.receivers import Receiver, teams_workflows

HOSTILE = (
    "Printer broken <script>alert(1)</script> **urgent** [your bank](https://evil.example/login) "
    "{{DATE(2017-02-14T06:00:00Z, SHORT)}} _x_ `code` ![img](https://evil.example/i.png)"
)


def teams_target() -> object:
    return target(name="it-teams", kind="teams", url_env="TEAMS_URL", events=["new_report", "critical_flag"])


def test_a_delivered_report_reaches_teams_as_one_adaptive_card_with_the_link_only(
    make_notifier: MakeNotifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Receiver(teams_workflows) as teams:
        monkeypatch.setenv("TEAMS_URL", teams.url("/workflows/abc/triggers/manual/paths/invoke?sig=SECRET"))
        notifier = make_notifier(teams_target())
        events = delivered_report_events()
        for event in events:
            notifier.publish(event)
        outcomes = notifier.deliver_due()

        assert [o.status for o in outcomes] == ["delivered", "delivered"]  # new report, then its critical flag
        assert len(teams.requests) == 2
        by_title = {r.json()["attachments"][0]["content"]["body"][0]["text"]: r for r in teams.requests}
        assert set(by_title) == {escape_markdown("New help-desk report"), "Critical flag on a report"}
        first = by_title[escape_markdown("New help-desk report")]
        message = first.json()
        assert first.headers["content-type"].startswith("application/json")
        assert message["type"] == "message" and "@type" not in message  # not the retired MessageCard
        [attachment] = message["attachments"]
        assert attachment["contentType"] == ADAPTIVE_CARD_CONTENT_TYPE
        card = attachment["content"]
        assert card["type"] == "AdaptiveCard"
        assert card["actions"] == [
            {"type": "Action.OpenUrl", "title": "Open ticket", "url": "https://helpdesk.example.org/t/SD-1001"}
        ]
        # Link only: no picture of the report goes to the channel.
        assert all(element["type"] in ("TextBlock", "FactSet") for element in card["body"])
        assert "data:image" not in first.body.decode()
        facts = {f["title"]: f["value"] for f in card["body"][-1]["facts"]}
        assert facts["Ticket"] == escape_markdown("SD-1001")
        assert facts["Site"] == "HQ"
        critical = by_title["Critical flag on a report"].json()["attachments"][0]["content"]
        assert any("99 " in f["value"] and f["title"] == "Critical" for f in critical["body"][-1]["facts"])
        # The workflow's URL (its signature is the secret) is in no log line.
        assert "SECRET" not in json.dumps([r.__dict__ for r in notifier.log_records()])


def test_hostile_text_in_a_teams_card_renders_as_plain_characters() -> None:
    [event, *_] = delivered_report_events(subject=HOSTILE)
    card = teams_payload(event)["attachments"][0]["content"]
    subject_text = card["body"][1]["text"]
    # A CommonMark renderer (Adaptive Cards' markdown is a subset of it) makes no link, no
    # emphasis, no image and no HTML of it: only the characters, escaped.
    html = MarkdownIt("commonmark").render(subject_text)
    for made in ("<a ", "<strong>", "<em>", "<img", "<code>", "<script>"):
        assert made not in html, made
    assert "&lt;script&gt;" in html
    assert "[your bank]" in html
    assert "{{DATE" not in subject_text  # Adaptive Cards' date function would run on it


def test_a_refused_card_is_given_up_not_retried_and_the_log_says_why(
    make_notifier: MakeNotifier, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    with Receiver(lambda _r: (400, {}, b'{"error":{"code":"TriggerInputSchemaMismatch"}}')) as teams:
        monkeypatch.setenv("TEAMS_URL", teams.url("/invoke"))
        notifier = make_notifier(teams_target())
        notifier.publish(delivered_report_events()[0])
        [outcome] = notifier.deliver_due()
        clock.advance(7200)
        assert notifier.deliver_due() == []

    assert outcome.status == "failed"
    assert len(teams.requests) == 1
    [record] = notifier.log_records()
    assert record.status == "failed" and "HTTP 400" in record.detail and "TriggerInputSchemaMismatch" in record.detail


def test_the_stand_in_refuses_a_retired_message_card() -> None:
    # The contract's own check: a MessageCard is not what a Workflows webhook takes.
    from tests.notify.receivers import Request

    message_card = {"@type": "MessageCard", "@context": "https://schema.org/extensions", "text": "hi"}
    status, _, _ = teams_workflows(Request("POST", "/", {}, json.dumps(message_card).encode()))
    good = teams_payload(delivered_report_events()[0])
    assert status == 400
    assert teams_workflows(Request("POST", "/", {}, json.dumps(good).encode()))[0] == 202
