"""Slack through an incoming webhook: text plus Block Kit blocks, the link only (agent.notify.payloads)."""

from __future__ import annotations

from agent.notify.events import NotifyEvent
from agent.notify.payloads import encode, slack_payload


def slack_message(event: NotifyEvent, delivery_id: str, secret: str, now: float) -> tuple[bytes, dict[str, str]]:
    """An incoming webhook's URL is its own credential: no signature, no extra header."""
    return encode(slack_payload(event)), {}
