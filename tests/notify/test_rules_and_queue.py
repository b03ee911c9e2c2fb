"""Rules (which target hears what), walk-up waiting events, and the queue's bounds and memory."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.notify.events import NotifyEvent, walkup_events
from agent.notify.queue import NotifyQueue, NotifyQueueFullError
from agent.notify.rules import targets_for
from agent.read_models import BoardEntry, QueueBoard
from tests.notify.conftest import Clock, MakeNotifier, delivered_report_events, target

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def board(site: str, *waits: tuple[str, int, str]) -> QueueBoard:
    entries = [
        BoardEntry(number=number, name="Alice B.", position=i + 1, state=state,  # type: ignore[arg-type]
                   waiting_since=NOW - timedelta(minutes=minutes), called_at=None, called_by=None,
                   estimated_wait_seconds=60.0, ticket_id=f"t-{number}")
        for i, (number, minutes, state) in enumerate(waits)
    ]
    return QueueBoard(site=site, waiting=entries, serving=[], mean_service_seconds=300.0, service_history=3,
                      estimated_wait_seconds=600.0)


def test_rules_pick_targets_by_event_site_and_category() -> None:
    every = target(name="every", kind="slack", url_env="A")
    hq_printers = target(name="hq", kind="slack", url_env="A", sites=["hq"], categories=["printer"],
                         events=["new_report", "critical_flag"])
    lab_only = target(name="lab", kind="slack", url_env="A", sites=["Lab"])
    critical_only = target(name="crit", kind="teams", url_env="A", events=["critical_flag"])
    off = target(name="off", kind="teams", url_env="A", enabled=False)
    targets = [every, hq_printers, lab_only, critical_only, off]

    new_report, critical = delivered_report_events(category="Printer", site="HQ")
    assert [t.name for t in targets_for(new_report, targets)] == ["every", "hq"]
    assert [t.name for t in targets_for(critical, targets)] == ["hq", "crit"]
    [other_category, _] = delivered_report_events(category="Network", site="HQ")
    assert [t.name for t in targets_for(other_category, targets)] == ["every"]


def test_a_walkup_waiting_past_each_targets_threshold_is_told_once_at_that_threshold(
    make_notifier: MakeNotifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    ten = target(name="ten", kind="slack", url_env="A", events=["walkup_waiting"])
    thirty = target(name="thirty", kind="slack", url_env="A", events=["walkup_waiting"], walkup_minutes=30)
    notifier = make_notifier(ten, thirty)
    queue_now = board("HQ", ("W-1", 12, "waiting"), ("W-2", 9, "waiting"), ("W-3", 45, "waiting"))

    jobs = notifier.observe_board(queue_now, NOW)
    again = notifier.observe_board(queue_now, NOW + timedelta(minutes=1))  # the kiosk reads its board again

    assert sorted((j.target, j.event.queue_number) for j in jobs) == [
        ("ten", "W-1"), ("ten", "W-3"), ("thirty", "W-3")]
    # A minute on, only W-2 has newly passed ten minutes; the others were told already.
    assert [(j.target, j.event.queue_number) for j in again] == [("ten", "W-2")]
    [w3] = [j for j in jobs if j.target == "thirty"]
    assert w3.event.waiting_minutes == 45 and w3.event.ticket_url == "" and w3.event.site == "HQ"


def test_walkup_events_skip_people_already_called() -> None:
    events = walkup_events(board("HQ", ("W-1", 50, "called")), minutes=10, now=NOW)
    assert events == []


def test_the_queue_is_bounded_and_a_drop_is_logged(tmp_path: Path, clock: Clock) -> None:
    queue = NotifyQueue(tmp_path / "q", max_jobs=2, clock=clock)
    events = [NotifyEvent(kind="new_report", key=f"new_report:{n}", occurred_at=clock()) for n in range(3)]
    queue.enqueue(events[0], "t")
    queue.enqueue(events[1], "t")
    with pytest.raises(NotifyQueueFullError, match="holds 2 already"):
        queue.enqueue(events[2], "t")
    assert len(queue.pending()) == 2
    assert [r.status for r in queue.log_records()] == ["dropped"]


def test_a_job_left_half_sent_by_a_dead_process_is_tried_again(tmp_path: Path, clock: Clock) -> None:
    queue = NotifyQueue(tmp_path / "q", clock=clock)
    job = queue.enqueue(NotifyEvent(kind="new_report", key="new_report:1", occurred_at=clock()), "t")
    assert job is not None and queue.claim(job) is not None
    assert queue.pending() == [] and queue.enqueue(job.event, "t") is None  # being sent: not queued twice
    stale = tmp_path / "q" / "sending" / f"{job.id}.json"
    old = stale.stat().st_mtime - 600
    os.utime(stale, (old, old))

    reopened = NotifyQueue(tmp_path / "q", clock=clock)
    assert [j.id for j in reopened.pending()] == [job.id]
