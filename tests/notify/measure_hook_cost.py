"""What the outbox's notification hook adds to a report's first send, beside ``Outbox.put`` of the same report.

Run: ``.venv/bin/python -m tests.notify.measure_hook_cost`` (prints both times and their ratio).
The hook reads the queued bundle once (validating it) to keep the facts a notification needs;
this is a ratio against a peer in the same run, never an absolute figure.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from agent.notify.notifier import Notifier
from agent.notify.outbox_hook import OutboxNotifier
from agent.notify.queue import NotifyQueue
from agent.outbox import Outbox
from tests.connectors.helpers import report_bundle, screenshot

ROUNDS = 5


def main() -> None:
    shots = [screenshot(n, (1920, 1080), noise=(0, 255)) for n in range(5)]
    puts, hooks = [], []
    size = 0
    for round_number in range(ROUNDS):
        root = Path(tempfile.mkdtemp(prefix="notify-hook-"))
        bundle = report_bundle(screenshots=shots, seed=round_number)
        outbox = Outbox(root / "outbox")
        started = time.perf_counter()
        entry = outbox.put(bundle)
        puts.append(time.perf_counter() - started)
        hook = OutboxNotifier(Notifier([], NotifyQueue(root / "notify")), outbox.bundle)
        started = time.perf_counter()
        hook.sending(entry, 0, 0)
        hooks.append(time.perf_counter() - started)
        size = entry.size
        outbox.close()
    put, kept = statistics.median(puts), statistics.median(hooks)
    print(f"report of {size / 1e6:.1f} MB (5 screenshots 1920x1080): Outbox.put {put * 1000:.0f} ms, "
          f"notification facts {kept * 1000:.0f} ms, ratio {kept / put:.2f} (median of {ROUNDS})")


if __name__ == "__main__":
    main()
