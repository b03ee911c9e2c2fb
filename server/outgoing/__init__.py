"""Messages the server sends to people, through a durable queue (``server.store.outgoing``).

``channel`` is the small interface every channel implements (a rule that turns timeline events
into messages, and a ``send``); ``mail`` is the e-mail channel to the person who reported;
``worker`` runs the channels in one thread of the server process, woken by every commit.
"""

from __future__ import annotations

from server.outgoing.channel import Channel, PermanentSendError, SendError
from server.outgoing.worker import OutgoingWorker

__all__ = ["Channel", "OutgoingWorker", "PermanentSendError", "SendError"]
