"""The bytes each target is sent: an Adaptive Card for Teams, Slack blocks, a signed JSON webhook.

Pure (standard library and ``agent.notify.events``), so the built-in server sends the same.
Every text a person typed is escaped for the format it lands in and bounded in length:
a report's subject must not ping a channel (``<!channel>``), hide a link behind other words
(``[bank](https://evil)``), or format itself into a different message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any, Final
from urllib.parse import quote, urlsplit

from agent.notify.events import NotifyEvent, clip

ADAPTIVE_CARD_CONTENT_TYPE: Final = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_SCHEMA: Final = "http://adaptivecards.io/schemas/adaptive-card.json"
# 1.4 is the newest version every Teams client renders in Workflows posts.
ADAPTIVE_CARD_VERSION: Final = "1.4"
SIGNATURE_HEADER: Final = "X-ShowDesk-Signature"
EVENT_HEADER: Final = "X-ShowDesk-Event"
DELIVERY_HEADER: Final = "X-ShowDesk-Delivery"
SIGNATURE_TOLERANCE_SECONDS: Final = 300  # a receiver rejects a signature older (or newer) than this
# Slack Block Kit limits: header text 150, section text 3000, a field 2000, button URL 3000.
SLACK_HEADER_CHARS: Final = 150
SLACK_SECTION_CHARS: Final = 3000
SLACK_FIELD_CHARS: Final = 2000
MAX_URL_CHARS: Final = 2000
TITLES: Final = {
    "new_report": "New help-desk report",
    "walkup_waiting": "Walk-up waiting",
    "critical_flag": "Critical flag on a report",
}
# CommonMark lets any ASCII punctuation be escaped with a backslash; escaping them all keeps a
# typed `[text](url)`, `**`, `_`, `#` and autolinks as plain characters. Braces too: Adaptive
# Cards read `{{DATE(...)}}` in a TextBlock as a function.
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:&\"'$%=?@^/;,])")


def escape_slack(text: str) -> str:
    """Slack mrkdwn: the three control characters as entities, so `<!channel>` or `<url|x>` stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_markdown(text: str) -> str:
    """Adaptive Card TextBlock markdown: every punctuation mark escaped, line breaks as spaces."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def safe_link(url: str) -> str:
    """``url`` when it is an http(s) address fit to be a link target; "" otherwise (no link at all)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL_CHARS:
        return ""
    # Characters that end a Slack link or a markdown link target are percent-encoded.
    return quote(url, safe=":/?#[]@!$&'*+,;=%-._~")


def _lines(event: NotifyEvent) -> list[tuple[str, str]]:
    """(label, value) pairs the formats share; values are raw text, escaped by each format."""
    pairs: list[tuple[str, str]] = []
    if event.ticket_number:
        pairs.append(("Ticket", event.ticket_number))
    if event.category:
        pairs.append(("Category", event.category))
    if event.site:
        pairs.append(("Site", event.site))
    if event.kind == "walkup_waiting":
        pairs.append(("Waiting", f"{event.waiting_minutes} min"))
    elif event.walk_up:
        pairs.append(("Walk-up", "yes"))
    for flag in event.critical_flags:
        pairs.append(("Critical", flag.message))
    return pairs


def title_of(event: NotifyEvent) -> str:
    return TITLES[event.kind]


def teams_payload(event: NotifyEvent) -> dict[str, Any]:
    """A Workflows webhook's message: one Adaptive Card attachment (not the retired MessageCard)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": escape_markdown(title_of(event)), "weight": "Bolder", "size": "Medium",
         "wrap": True},
    ]
    if event.subject:
        body.append({"type": "TextBlock", "text": escape_markdown(clip(event.subject, 200)), "wrap": True})
    facts = [{"title": escape_markdown(label), "value": escape_markdown(clip(value, 300))}
             for label, value in _lines(event)]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    card: dict[str, Any] = {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "body": body,
    }
    link = safe_link(event.ticket_url)
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open ticket", "url": link}]
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


def slack_payload(event: NotifyEvent) -> dict[str, Any]:
    """An incoming webhook's message: ``text`` (the notification's words) and Block Kit ``blocks``."""
    title = title_of(event)
    subject = escape_slack(clip(event.subject, 500))
    text = f"{title}: {subject}" if subject else title
    link = safe_link(event.ticket_url)
    fields = []
    for label, value in _lines(event):
        shown = escape_slack(clip(value, 300))
        if label == "Ticket" and link:
            shown = f"<{link}|{shown}>"
        fields.append({"type": "mrkdwn", "text": f"*{label}*\n{shown}"[:SLACK_FIELD_CHARS]})
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(title, SLACK_HEADER_CHARS), "emoji": False}},
    ]
    section: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": subject or title}}
    section["text"]["text"] = section["text"]["text"][:SLACK_SECTION_CHARS]
    if fields:
        section["fields"] = fields[:10]  # Block Kit allows ten fields in a section
    blocks.append(section)
    if link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open ticket"}, "url": link}
                ],
            }
        )
    return {"text": text[:SLACK_SECTION_CHARS], "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def webhook_body(event: NotifyEvent, delivery_id: str) -> dict[str, Any]:
    """The generic webhook's JSON; ``id`` is the same on every retry, for a receiver to drop repeats."""
    return {
        "id": delivery_id,
        "event": event.kind,
        "title": title_of(event),
        "occurred_at": event.occurred_at,
        "report_id": event.report_id or None,
        "ticket": {"number": event.ticket_number, "url": safe_link(event.ticket_url) or None},
        "subject": event.subject,
        "category": event.category,
        "site": event.site,
        "source": event.source_kind,
        "walk_up": event.walk_up,
        "waiting_minutes": event.waiting_minutes if event.kind == "walkup_waiting" else None,
        "flags": [{"code": f.code, "severity": f.severity, "message": f.message} for f in event.flags],
    }


def encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the exact bytes sent, and signed."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: float, tolerance: int = SIGNATURE_TOLERANCE_SECONDS
) -> bool:
    """What a receiver does: the header parses, the time is within ``tolerance`` and one v1 matches."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False  # a replay of an old request, or a clock far off
    expected = signature(secret, timestamp, body).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))


def webhook_headers(secret: str, event: NotifyEvent, delivery_id: str, body: bytes, now: float) -> dict[str, str]:
    return {
        SIGNATURE_HEADER: signature(secret, int(now), body),
        EVENT_HEADER: event.kind,
        DELIVERY_HEADER: delivery_id,
    }
