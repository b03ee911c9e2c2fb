"""Shared pieces of the notification tests: a clock a test moves, targets, a notifier over a temporary queue."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.notify.events import NotifyEvent, facts_from_report, report_events
from agent.notify.notifier import Notifier
from agent.notify.queue import NotifyQueue
from agent.notify.rules import Target, parse_target
from tests.connectors.helpers import report_bundle


class Clock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self, start: float = 1_760_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def target(**table: Any) -> Target:
    return parse_target(table, 0)


MakeNotifier = Callable[..., Notifier]


@pytest.fixture
def make_notifier(tmp_path: Path, clock: Clock) -> MakeNotifier:
    def make(*targets: Target, directory: Path | None = None) -> Notifier:
        return Notifier(list(targets), NotifyQueue(directory or tmp_path / "notify", clock=clock), clock=clock,
                        timeout=5.0)

    return make


def delivered_report_events(
    *, subject: str | None = None, category: str = "Printer", site: str | None = "HQ", now: float = 1_760_000_000.0
) -> list[NotifyEvent]:
    """The events of a delivered report made like the connectors' tests make one (its disk 99 % full)."""
    kwargs: dict[str, Any] = {"category": category, "site": site}
    if subject is not None:
        kwargs["description"] = subject
    bundle = report_bundle(steps=1, **kwargs)
    from agent.notify.outbox_hook import flags_of

    facts = facts_from_report(bundle.report, flags_of(bundle))
    return report_events(facts, ticket_number="SD-1001", ticket_url="https://helpdesk.example.org/t/SD-1001", now=now)
