"""The sender thread: delivers an outbox in the background until stopped."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from agent.outbox.delivery import BUSY_RECHECK_SECONDS
from agent.outbox.netwatch import NetworkWatcher

if TYPE_CHECKING:
    # Only for the annotation: the package imports this module to re-export ``Sender``.
    from agent.outbox import Outbox

log = logging.getLogger(__name__)


class Sender:
    """Delivers the outbox in the background until stopped; survives any exception.

    It sleeps until the next entry is due, at most ``max_idle`` seconds (so reports put
    by another process are picked up), and wakes at once on ``put``, ``retry`` and
    ``wake``, and when the network changes (``network_watcher``, started and stopped with
    it; ``watch_network=False`` goes without, a ``NetworkWatcher`` replaces the default).
    """

    def __init__(self, outbox: Outbox, *, max_idle: float = 60.0, watch_network: bool | NetworkWatcher = True) -> None:
        self.outbox = outbox
        self._max_idle = max_idle
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0  # completed passes, for observers and tests
        if isinstance(watch_network, NetworkWatcher):
            self.network_watcher: NetworkWatcher | None = watch_network
        else:
            self.network_watcher = NetworkWatcher(outbox.network_changed) if watch_network else None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="showdesk-outbox-sender", daemon=True)
        self._thread.start()
        if self.network_watcher is not None:
            self.network_watcher.start()

    def wake(self) -> None:
        self.outbox.wake()

    def stop(self, timeout: float | None = 30.0) -> bool:
        """Stop after the attempt under way; True when the thread has ended."""
        self._stop.set()
        self.outbox.interrupt_wait()
        if self.network_watcher is not None:
            self.network_watcher.stop()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                result = self.outbox.flush(force=self.outbox.begin_pass())
                failures = 0
                due = self.outbox.next_due_at()
                delay = self._max_idle if due is None else due - self.outbox.now()
                if result.busy:
                    # Another process is sending; look again shortly rather than spin.
                    delay = max(delay, BUSY_RECHECK_SECONDS)
            except Exception:
                failures += 1
                log.exception("the outbox sender failed; the reports are kept and it tries again")
                delay = self.outbox.backoff_delay(failures)
            self.passes += 1
            if self._stop.is_set():
                break
            self.outbox.wait_for_work(min(max(delay, 0.05), self._max_idle))
