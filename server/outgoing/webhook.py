"""A generic webhook: HMAC-SHA256-signed JSON with a delivery id a receiver drops repeats by."""

from __future__ import annotations

from agent.notify.events import NotifyEvent
from agent.notify.payloads import encode, webhook_body, webhook_headers
from server.outgoing.channel import PermanentSendError


def webhook_message(event: NotifyEvent, delivery_id: str, secret: str, now: float) -> tuple[bytes, dict[str, str]]:
    """The body and its signature header (docs/notifications.md tells a receiver how to verify it)."""
    if not secret:
        # An unsigned post would teach the receiver to accept anything.
        raise PermanentSendError("the webhook has no signing secret: set secret_keyring or secret_env")
    body = encode(webhook_body(event, delivery_id))
    return body, webhook_headers(secret, event, delivery_id, body, now)
