"""Microsoft Teams through a Workflows webhook: one Adaptive Card per notification (agent.notify.payloads)."""

from __future__ import annotations

from agent.notify.events import NotifyEvent
from agent.notify.payloads import encode, teams_payload


def teams_message(event: NotifyEvent, delivery_id: str, secret: str, now: float) -> tuple[bytes, dict[str, str]]:
    """The Workflows trigger takes the card as is; it has no signature and no delivery header."""
    return encode(teams_payload(event)), {}
