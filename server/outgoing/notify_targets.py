"""The notification channels of the configured targets: each target's kind picks its message format."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from server.outgoing.notify_channel import Format, NotifyChannel, sysinfo_from_manifest
from server.outgoing.slack import slack_message
from server.outgoing.teams import teams_message
from server.outgoing.webhook import webhook_message
from server.settings import NotifySettings
from server.store import TicketRow

FORMATS: Final[dict[str, Format]] = {"teams": teams_message, "slack": slack_message, "webhook": webhook_message}


def notify_channels(settings: NotifySettings, base_url: str, read_blob: Callable[[str], bytes]) -> list[NotifyChannel]:
    """One channel per enabled target; a ticket's link is the technicians' API address (it needs a token)."""

    def ticket_url(ticket: TicketRow) -> str:
        # Never the person's capability link: a chat channel is read by more people than the ticket's technician.
        return f"{base_url}/api/v1/tickets/{ticket.id}"

    read_sysinfo = sysinfo_from_manifest(read_blob)
    return [
        NotifyChannel(
            target,
            FORMATS[target.target.kind],
            ticket_url=ticket_url,
            read_sysinfo=read_sysinfo,
            timeout=settings.timeout_seconds,
            clock=time.time,
        )
        for target in settings.targets
        if target.target.enabled
    ]
