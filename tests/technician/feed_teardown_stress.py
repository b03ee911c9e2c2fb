"""Stress what crashed the process: a refused changes feed stopped and deleted while its thread ends.

Not a test (it runs until it is done or the process dies): run it by hand to see whether the
race between the feed's thread ending and the GUI thread deleting the feed is still there.

    .venv/bin/python -X faulthandler -m tests.technician.feed_teardown_stress [FEEDS]

Each round starts a feed on a client whose every poll is refused (as after ``token revoke``),
then, as the live follower does, stops it and deletes it later from the slot that heard the
refusal, while jobs of a niced pool end and emit. Before the feed's thread held no Qt object
of its own, this died with SIGSEGV within a few thousand rounds (main thread in
``QObject::~QObject`` of the feed, the feed's thread in ``~QObject`` of its relay).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from agent.connectors.base import AuthError
from shared_qt.workers import BackgroundRunner
from technician.workers import ChangeFeed, running_threads

POOL_JOBS_PER_ROUND = 3


class RefusingClient:
    """Stands in for TechClient: every changes call is refused, as a revoked token is."""

    features: frozenset[Any] = frozenset()

    def changes(self, after: int, wait: float = 0.0) -> Any:
        raise AuthError("the token was revoked", status=401)


class Follower(QObject):
    """Wires each feed as technician.live_feed.LiveFollower does, and replaces it when refused."""

    noted = Signal(str)

    def __init__(self, app: QCoreApplication, rounds: int) -> None:
        super().__init__()
        self.app = app
        self.rounds = rounds
        self.done = 0
        self.runner = BackgroundRunner(self, max_threads=4, niceness=5)
        self.feed: ChangeFeed | None = None

    def start_feed(self) -> None:
        if self.done >= self.rounds:
            self.app.quit()
            return
        self.done += 1
        feed = ChangeFeed(RefusingClient(), 0, wait_seconds=1.0, parent=self)  # type: ignore[arg-type]
        feed.update.connect(lambda _update: self.noted.emit("update"))
        feed.lost.connect(lambda reason: self.noted.emit(reason))
        feed.restored.connect(lambda: self.noted.emit("restored"))
        feed.refused.connect(self.refused)
        self.feed = feed
        feed.start()

    def refused(self, _error: object) -> None:
        if self.feed is not None:
            self.feed.stop()
            self.feed.deleteLater()
            self.feed = None
        for _ in range(POOL_JOBS_PER_ROUND):
            self.runner.run(lambda: sum(range(2000)), lambda _result: None)
        self.runner.run(lambda: None, lambda _result: self.start_feed())


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
    app = QCoreApplication([])
    follower = Follower(app, rounds)
    QTimer.singleShot(0, follower.start_feed)
    started = time.monotonic()
    app.exec()
    follower.runner.shutdown()
    print(f"{follower.done} feeds refused, stopped and deleted in {time.monotonic() - started:.1f} s, no crash")
    print(f"technician threads still running: {running_threads()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
