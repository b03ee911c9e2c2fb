"""The outbox's rules, driven by a settable clock and a scripted connector (no sleeping)."""

from __future__ import annotations

import errno
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest

import agent.outbox.store as outbox_module
from agent.bundle import BundleError, ReportBundle
from agent.config import ConfigError
from agent.connectors.base import AuthError, PermanentError, TooLargeError, TransientError
from agent.outbox import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    BACKOFF_JITTER,
    PAUSE_SECONDS,
    EntryState,
    Outbox,
    OutboxBusyError,
    OutboxEntry,
    OutboxError,
    OutboxFullError,
    OutboxObserver,
    Receipt,
    Sender,
    UnknownEntryError,
)
from agent.schema import Ticket
from tests.outbox.helpers import FakeClock, ScriptedConnector, leftovers, make_bundle


def make_outbox(tmp_path: Path, connector: ScriptedConnector, clock: FakeClock | None = None, seed: int = 1) -> Outbox:
    clock = clock or FakeClock()
    return Outbox(
        tmp_path / "outbox",
        connector_for=lambda _name: connector,
        clock=clock,
        rng=random.Random(seed),
        sleep=clock.advance,  # deliver_now's waits pass on the fake clock
    )


class Recorder(OutboxObserver):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.delivered_event = threading.Event()
        self.failed_event = threading.Event()

    def queued(self, entry: OutboxEntry) -> None:
        self.events.append(("queued", entry.id))

    def sending(self, entry: OutboxEntry, sent: int, total: int) -> None:
        self.events.append(("sending", (sent, total)))

    def delivered(self, entry: OutboxEntry, receipt: Receipt) -> None:
        self.events.append(("delivered", receipt.number))
        self.delivered_event.set()

    def failed(self, entry: OutboxEntry, reason: str, next_attempt_at: float) -> None:
        self.events.append(("failed", reason))
        self.failed_event.set()

    def paused(self, entry: OutboxEntry, reason: str) -> None:
        self.events.append(("paused", reason))

    def dead(self, entry: OutboxEntry, reason: str) -> None:
        self.events.append(("dead", reason))


# ---------------------------------------------------------------- put
def test_put_stores_the_bundle_byte_for_byte_before_sending(tmp_path: Path) -> None:
    connector = ScriptedConnector()
    outbox = make_outbox(tmp_path, connector)
    bundle = make_bundle(1)

    entry = outbox.put(bundle, "default")

    stored = tmp_path / "outbox" / "entries" / str(bundle.report.id) / "report.showdesk"
    assert stored.read_bytes() == bundle.to_bytes()
    assert connector.submitted == []
    assert entry.state is EntryState.PENDING and entry.attempts == 0
    assert entry.size == len(bundle.to_bytes())
    assert [e.id for e in outbox.list()] == [str(bundle.report.id)]
    assert leftovers(tmp_path / "outbox") == []


def test_put_of_the_same_report_twice_keeps_one_entry(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, ScriptedConnector())
    bundle = make_bundle(2)
    first = outbox.put(bundle)
    again = outbox.put(ReportBundle.from_bytes(bundle.to_bytes()))
    assert again == first
    assert len(outbox.list()) == 1


def test_put_of_a_different_report_with_a_used_id_is_refused(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, ScriptedConnector())
    report_id = uuid.uuid4()
    outbox.put(make_bundle(3, report_id=report_id))
    with pytest.raises(OutboxError, match="different report with id"):
        outbox.put(make_bundle(4, report_id=report_id))


def test_put_refuses_an_invalid_bundle_and_queues_nothing(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, ScriptedConnector())
    bundle = make_bundle(5)
    path = bundle.report.files()[0].path
    bundle.files[path] = bundle.files[path] + b"tampered"
    with pytest.raises(BundleError, match="does not match its size or sha256"):
        outbox.put(bundle)
    assert outbox.list() == []


def test_a_very_repetitive_attachment_is_queued_and_loads_back(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, ScriptedConnector())
    # Deflated, this log would pass the loader's zip-bomb ratio; the bundle stores it as is instead.
    log = b"same line\n" * 50_000
    bundle = make_bundle(5, attachment=log)
    entry = outbox.put(bundle)
    assert outbox.bundle(entry.id).files == bundle.files


@pytest.mark.parametrize(("failing_call", "error_number"), [(1, errno.ENOSPC), (2, errno.ENOSPC), (2, errno.EIO)])
def test_a_failure_mid_put_leaves_nothing_and_keeps_earlier_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_call: int, error_number: int
) -> None:
    connector = ScriptedConnector()
    outbox = make_outbox(tmp_path, connector)
    earlier = outbox.put(make_bundle(6))
    real_write = outbox_module.atomic_write_bytes  # type: ignore[attr-defined]
    calls = {"n": 0}

    def write_then_fail(path: Path, data: bytes, *, mode: int = 0o600) -> None:
        calls["n"] += 1
        if calls["n"] == failing_call:
            # Half the bytes reach the disk before it runs out of room.
            path.with_name(path.name + ".partial").write_bytes(data[: len(data) // 2])
            raise OSError(error_number, os.strerror(error_number))
        real_write(path, data, mode=mode)

    monkeypatch.setattr(outbox_module, "atomic_write_bytes", write_then_fail)
    expected = OutboxFullError if error_number == errno.ENOSPC else OutboxError
    with pytest.raises(expected) as caught:
        outbox.put(make_bundle(7))
    monkeypatch.undo()

    if error_number == errno.ENOSPC:
        assert isinstance(caught.value, OSError) and caught.value.errno == errno.ENOSPC
        assert "full" in str(caught.value) and "kept" in str(caught.value)
    entries_dir = tmp_path / "outbox" / "entries"
    assert sorted(p.name for p in entries_dir.iterdir()) == [earlier.id]
    assert leftovers(tmp_path / "outbox") == []
    assert outbox.flush().delivered[0].report_id == earlier.id


# ---------------------------------------------------------------- backoff
def test_backoff_doubles_from_2_seconds_to_a_15_minute_cap_with_bounded_jitter(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, ScriptedConnector(), seed=7)
    previous_nominal = 0.0
    for attempts in range(1, 16):
        nominal = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))
        assert nominal >= previous_nominal
        previous_nominal = nominal
        delays = [outbox.backoff_delay(attempts) for _ in range(200)]
        assert all(nominal * (1 - BACKOFF_JITTER) <= d <= nominal for d in delays)
        # Jitter really spreads the retries of many clients over the band.
        assert max(delays) - min(delays) > nominal * BACKOFF_JITTER * 0.8
    assert outbox.backoff_delay(1) <= 2.0
    assert outbox.backoff_delay(50) <= 15 * 60


def test_transient_failures_follow_the_schedule_and_keep_the_same_report(tmp_path: Path) -> None:
    clock = FakeClock()
    failures = [TransientError("connection refused") for _ in range(12)]
    connector = ScriptedConnector(list(failures))
    outbox = make_outbox(tmp_path, connector, clock)
    bundle = make_bundle(8)
    outbox.put(bundle)

    waits = []
    for attempt in range(1, 13):
        result = outbox.flush()
        assert [e.attempts for e in result.retrying] == [attempt]
        entry = outbox.get(bundle.report.id.hex[:8])
        wait = entry.next_attempt_at - clock.now
        nominal = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        assert nominal * (1 - BACKOFF_JITTER) <= wait <= nominal
        assert entry.last_error == "connection refused"
        waits.append(wait)
        # Not due yet: a flush does not touch it.
        clock.advance(wait - 0.01)
        assert outbox.flush().retrying == []
        clock.advance(0.01)
    assert max(waits) <= BACKOFF_CAP_SECONDS and waits[-1] > BACKOFF_CAP_SECONDS * (1 - BACKOFF_JITTER) - 1
    result = outbox.flush()
    assert [r.report_id for r in result.delivered] == [str(bundle.report.id)]
    # The same report (same id, the idempotency key) went out on every try.
    assert set(connector.submitted) == {bundle.report.id} and len(connector.submitted) == 13
    assert outbox.list() == []


@pytest.mark.parametrize("retry_after", [0.0, 37.0, 3600.0])
def test_retry_after_wins_over_the_schedule(tmp_path: Path, retry_after: float) -> None:
    clock = FakeClock()
    connector = ScriptedConnector([TransientError("busy", status=429, retry_after=retry_after)])
    outbox = make_outbox(tmp_path, connector, clock)
    entry = outbox.put(make_bundle(9))
    outbox.flush()
    assert outbox.get(entry.id).next_attempt_at == clock.now + retry_after


def test_a_failing_backend_holds_its_other_reports_for_the_pass(tmp_path: Path) -> None:
    clock = FakeClock()
    connector = ScriptedConnector([TransientError("down")])
    outbox = make_outbox(tmp_path, connector, clock)
    for seed in range(3):
        outbox.put(make_bundle(10 + seed))
        clock.advance(1)
    result = outbox.flush()
    assert len(connector.submitted) == 1 and len(result.retrying) == 1
    assert result.remaining == 3
    # The other two wait for the backend's hold, not just their own schedule.
    assert outbox.flush().delivered == []
    clock.advance(BACKOFF_BASE_SECONDS)
    assert len(outbox.flush().delivered) == 3


def test_flush_stops_starting_attempts_at_the_deadline(tmp_path: Path) -> None:
    clock = FakeClock()
    connector = ScriptedConnector()
    outbox = make_outbox(tmp_path, connector, clock)
    for seed in range(3):
        outbox.put(make_bundle(20 + seed))
    assert outbox.flush(deadline=time.monotonic()).delivered == []
    assert len(outbox.flush(deadline=time.monotonic() + 60).delivered) == 3


# ---------------------------------------------------------------- dead letters, pauses, retry, purge
@pytest.mark.parametrize(
    "error",
    [PermanentError("manifest: description is too long", status=422), TooLargeError("over 40 MB", status=413)],
)
def test_a_permanent_refusal_becomes_a_dead_letter_with_the_reason(tmp_path: Path, error: PermanentError) -> None:
    clock = FakeClock()
    connector = ScriptedConnector([error])
    outbox = make_outbox(tmp_path, connector, clock)
    recorder = Recorder()
    outbox.add_observer(recorder)
    entry = outbox.put(make_bundle(30))

    result = outbox.flush()

    assert [e.id for e in result.dead] == [entry.id]
    dead = outbox.get(entry.id)
    assert dead.state is EntryState.DEAD and dead.last_error == error.reason
    assert ("dead", error.reason) in recorder.events
    clock.advance(BACKOFF_CAP_SECONDS * 10)
    assert outbox.flush(force=True).delivered == []
    assert len(connector.submitted) == 1
    assert result.remaining == 0

    retried = outbox.retry(entry.id[:6])
    assert retried.state is EntryState.PENDING and retried.next_attempt_at == clock.now
    assert [r.report_id for r in outbox.flush().delivered] == [entry.id]
    assert outbox.list() == []


def test_a_refused_token_pauses_the_backend_until_woken(tmp_path: Path) -> None:
    clock = FakeClock()
    connector = ScriptedConnector([AuthError("token refused by scripted test backend (401)")])
    outbox = make_outbox(tmp_path, connector, clock)
    first = outbox.put(make_bundle(31))
    clock.advance(1)
    second = outbox.put(make_bundle(32))

    result = outbox.flush()

    assert [e.id for e in result.paused] == [first.id]
    paused = outbox.get(first.id)
    assert paused.state is EntryState.PAUSED and "token refused" in (paused.last_error or "")
    assert paused.next_attempt_at == clock.now + PAUSE_SECONDS
    assert connector.submitted == [uuid.UUID(first.id)]  # the second waited instead of failing too
    assert outbox.flush().delivered == []

    outbox.wake()  # e.g. after `showdesk login`
    result = outbox.flush(force=outbox.begin_pass())
    assert sorted(r.report_id for r in result.delivered) == sorted([first.id, second.id])


def test_a_paused_backend_is_tried_again_after_the_pause(tmp_path: Path) -> None:
    clock = FakeClock()
    outbox = make_outbox(tmp_path, ScriptedConnector([AuthError("token refused")]), clock)
    entry = outbox.put(make_bundle(33))
    outbox.flush()
    clock.advance(PAUSE_SECONDS - 1)
    assert outbox.flush().delivered == []
    clock.advance(1)
    assert [r.report_id for r in outbox.flush().delivered] == [entry.id]


def test_an_unconfigured_backend_pauses_instead_of_losing_the_report(tmp_path: Path) -> None:
    def no_such_backend(name: str) -> ScriptedConnector:
        raise ConfigError(f"no backend named {name!r}; configured: default")

    outbox = Outbox(tmp_path / "outbox", connector_for=no_such_backend, clock=FakeClock())
    entry = outbox.put(make_bundle(34), "helpdesk")
    result = outbox.flush()
    assert [e.id for e in result.paused] == [entry.id]
    assert "no backend named 'helpdesk'" in (outbox.get(entry.id).last_error or "")


def test_an_unexpected_connector_exception_keeps_the_report(tmp_path: Path) -> None:
    clock = FakeClock()
    outbox = make_outbox(tmp_path, ScriptedConnector([RuntimeError("bug in a connector")]), clock)
    entry = outbox.put(make_bundle(35))
    result = outbox.flush()
    assert [e.id for e in result.retrying] == [entry.id]
    assert "bug in a connector" in (outbox.get(entry.id).last_error or "")
    clock.advance(BACKOFF_BASE_SECONDS)
    assert [r.report_id for r in outbox.flush().delivered] == [entry.id]


def test_purge_removes_a_report_and_unknown_ids_are_named(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, ScriptedConnector())
    kept = outbox.put(make_bundle(36))
    gone = outbox.put(make_bundle(37))
    assert outbox.purge(gone.id).id == gone.id
    assert [e.id for e in outbox.list()] == [kept.id]
    assert not (tmp_path / "outbox" / "entries" / gone.id / "report.showdesk").exists()
    with pytest.raises(UnknownEntryError, match="no queued report has an id starting with 'nothing'"):
        outbox.purge("nothing")
    with pytest.raises(UnknownEntryError):
        outbox.retry(gone.id)
    assert outbox.receipts() == []


def test_an_ambiguous_prefix_is_refused(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, ScriptedConnector())
    ids = [uuid.UUID("aaaa0000-0000-4000-8000-000000000001"), uuid.UUID("aaaa0000-0000-4000-8000-000000000002")]
    for n, report_id in enumerate(ids):
        outbox.put(make_bundle(40 + n, report_id=report_id))
    with pytest.raises(UnknownEntryError, match="matches 2 queued reports"):
        outbox.purge("aaaa")
    assert len(outbox.list()) == 2


# ---------------------------------------------------------------- delivery and receipts
def test_delivery_keeps_a_receipt_and_deletes_the_report(tmp_path: Path) -> None:
    clock = FakeClock()
    connector = ScriptedConnector(
        [Ticket(id="17", number="SD-17", url="http://desk/t/17", status="new")]
    )
    outbox = make_outbox(tmp_path, connector, clock)
    recorder = Recorder()
    outbox.add_observer(recorder)
    bundle = make_bundle(50)
    entry = outbox.put(bundle, "helpdesk")

    result = outbox.flush()

    receipt = result.delivered[0]
    assert receipt == Receipt(
        report_id=entry.id, backend="helpdesk", ticket_id="17", number="SD-17", url="http://desk/t/17",
        status="new", delivered_at=clock.now, attempts=1,
    )
    assert outbox.receipts() == [receipt] and outbox.receipt(bundle.report.id) == receipt
    assert not (tmp_path / "outbox" / "entries" / entry.id).exists()
    total = bundle.total_bytes()
    assert [name for name, _ in recorder.events] == ["queued", "sending", "sending", "sending", "delivered"]
    assert recorder.events[-2] == ("sending", (total, total))
    assert json.loads((tmp_path / "outbox" / "receipts" / f"{entry.id}.json").read_text())["number"] == "SD-17"


def test_forget_receipt_deletes_exactly_that_receipt(tmp_path: Path) -> None:
    connector = ScriptedConnector()
    outbox = make_outbox(tmp_path, connector)
    kept, forgotten = outbox.put(make_bundle(61)), outbox.put(make_bundle(62))
    outbox.flush()
    assert {r.report_id for r in outbox.receipts()} == {kept.id, forgotten.id}

    assert outbox.forget_receipt(uuid.UUID(forgotten.id)) is True
    assert outbox.receipt(forgotten.id) is None and [r.report_id for r in outbox.receipts()] == [kept.id]
    assert outbox.forget_receipt(forgotten.id) is False  # already gone: nothing to do, no error
    # The id as a person may type it (upper case) names the same receipt.
    assert outbox.forget_receipt(kept.id.upper()) is True
    assert outbox.receipts() == [] and leftovers(tmp_path / "outbox") == []


def test_forget_receipt_refuses_anything_but_a_full_report_id(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, ScriptedConnector())
    entry = outbox.put(make_bundle(63))
    outbox.flush()
    for bad in (entry.id[:8], "../entries", ""):
        with pytest.raises(ValueError, match="not a report id"):
            outbox.forget_receipt(bad)
    assert outbox.receipt(entry.id) is not None


def test_a_crash_between_receipt_and_removal_resends_under_the_same_key(tmp_path: Path) -> None:
    connector = ScriptedConnector()
    outbox = make_outbox(tmp_path, connector)
    entry = outbox.put(make_bundle(51))
    entry_dir = tmp_path / "outbox" / "entries" / entry.id
    # What a crash right after the receipt was written leaves: the entry is still whole.
    state_before = (entry_dir / "state.json").read_bytes()
    outbox.flush()
    entry_dir.mkdir(parents=True)
    (entry_dir / "state.json").write_bytes(state_before)
    (entry_dir / "report.showdesk").write_bytes(make_bundle(51, report_id=uuid.UUID(entry.id)).to_bytes())
    outbox.flush()
    assert connector.submitted == [uuid.UUID(entry.id)] * 2
    assert outbox.list() == []


def test_crash_leftovers_are_cleaned_and_never_mistaken_for_reports(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, ScriptedConnector())
    kept = outbox.put(make_bundle(52))
    entries = tmp_path / "outbox" / "entries"
    stale = entries / ".incoming-x-stale"
    stale.mkdir()
    (stale / "report.showdesk").write_bytes(b"half")
    os.utime(stale, (1, 1))
    fresh = entries / ".incoming-y-fresh"  # a put in progress in another process
    fresh.mkdir()
    emptied = entries / str(uuid.uuid4())  # delivery removed state.json, then the process died
    emptied.mkdir()
    (emptied / "report.showdesk").write_bytes(b"x")

    assert [e.id for e in outbox.list()] == [kept.id]
    outbox.flush(deadline=0.0)
    assert sorted(p.name for p in entries.iterdir()) == sorted([kept.id, fresh.name])


def test_a_damaged_state_file_shows_as_a_dead_letter_not_a_loss(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, ScriptedConnector())
    entry = outbox.put(make_bundle(53))
    (tmp_path / "outbox" / "entries" / entry.id / "state.json").write_text("{not json")
    [listed] = outbox.list()
    assert listed.id == entry.id and listed.state is EntryState.DEAD
    assert "damaged" in (listed.last_error or "")
    outbox.retry(entry.id)
    assert [r.report_id for r in outbox.flush().delivered] == [entry.id]


# ---------------------------------------------------------------- two senders at once
def test_one_entry_is_sent_by_one_outbox_at_a_time(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def while_a_is_sending(bundle: ReportBundle) -> Ticket:
        # Outbox B, on the same directory, runs while A holds the entry.
        seen["flush"] = other.flush(force=True)
        seen["list"] = other.list()
        with pytest.raises(OutboxBusyError, match="being sent right now"):
            other.purge(str(bundle.report.id))
        with pytest.raises(OutboxBusyError):
            other.retry(str(bundle.report.id))
        return Ticket(id="1", number="T-1", report_id=bundle.report.id)

    connector_a = ScriptedConnector([while_a_is_sending])
    connector_b = ScriptedConnector()
    outbox = make_outbox(tmp_path, connector_a)
    other = make_outbox(tmp_path, connector_b)
    entry = outbox.put(make_bundle(60))

    result = outbox.flush()

    assert [r.report_id for r in result.delivered] == [entry.id]
    assert seen["flush"].busy == 1 and seen["flush"].delivered == []
    assert connector_b.submitted == []
    assert [(e.id, e.sending) for e in seen["list"]] == [(entry.id, True)]
    assert other.flush(force=True).delivered == [] and connector_b.submitted == []


# ---------------------------------------------------------------- the sender thread
class FlakyOutbox(Outbox):
    """An outbox whose first passes blow up, as a scan of a broken disk might."""

    def __init__(self, *args: Any, failures: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failures_left = failures

    def flush(
        self, deadline: float | None = None, *, force: bool = False, only: Collection[str] | None = None
    ) -> Any:
        if self.failures_left:
            self.failures_left -= 1
            raise OSError(errno.EIO, "input/output error")
        return super().flush(deadline, force=force, only=only)

    def backoff_delay(self, attempts: int) -> float:
        return 0.01


def test_the_sender_survives_exceptions_and_delivers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    connector = ScriptedConnector()
    outbox = FlakyOutbox(tmp_path / "outbox", connector_for=lambda _n: connector, failures=3)
    recorder = Recorder()
    outbox.add_observer(recorder)
    sender = Sender(outbox, max_idle=30)
    sender.start()
    try:
        entry = outbox.put(make_bundle(70))
        assert recorder.delivered_event.wait(20), "the sender did not deliver"
    finally:
        assert sender.stop(10)
    assert outbox.failures_left == 0
    assert "the outbox sender failed" in caplog.text
    assert outbox.receipt(entry.id) is not None and outbox.list() == []


def test_wake_makes_the_sender_try_a_waiting_report_now(tmp_path: Path) -> None:
    connector = ScriptedConnector([TransientError("network unreachable", retry_after=3600)])
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: connector)
    recorder = Recorder()
    outbox.add_observer(recorder)
    sender = Sender(outbox, max_idle=3600)
    sender.start()
    try:
        entry = outbox.put(make_bundle(71))
        assert recorder.failed_event.wait(20), "the first attempt did not happen"
        assert outbox.get(entry.id).attempts == 1 and not recorder.delivered_event.is_set()
        sender.wake()  # the network came back
        assert recorder.delivered_event.wait(20)
    finally:
        assert sender.stop(10)
    assert len(connector.submitted) == 2


# ---------------------------------------------------------------- odds and ends
def test_flush_can_send_just_the_reports_asked_for(tmp_path: Path) -> None:
    connector = ScriptedConnector()
    outbox = make_outbox(tmp_path, connector)
    mine = outbox.put(make_bundle(80))
    other = outbox.put(make_bundle(81))
    assert [r.report_id for r in outbox.flush(only={mine.id}).delivered] == [mine.id]
    assert [e.id for e in outbox.list()] == [other.id]


def test_a_clock_that_jumped_back_does_not_strand_reports(tmp_path: Path) -> None:
    clock = FakeClock()
    outbox = make_outbox(tmp_path, ScriptedConnector([TransientError("down", retry_after=60)]), clock)
    entry = outbox.put(make_bundle(82))
    outbox.flush()
    clock.advance(-30 * 24 * 3600)  # the wall clock was set back a month
    assert outbox.next_due_at() == clock.now
    assert [r.report_id for r in outbox.flush().delivered] == [entry.id]


def test_only_the_user_can_read_queued_reports(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, ScriptedConnector())
    entry = outbox.put(make_bundle(83))
    entry_dir = tmp_path / "outbox" / "entries" / entry.id
    for path in (tmp_path / "outbox", entry_dir, entry_dir / "report.showdesk", entry_dir / "state.json"):
        assert path.stat().st_mode & 0o077 == 0, path


def test_a_receipt_half_written_by_a_killed_sender_is_cleaned_up(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, ScriptedConnector())
    entry = outbox.put(make_bundle(84))
    receipts = tmp_path / "outbox" / "receipts"
    receipts.mkdir()
    orphan = receipts / f".{entry.id}.json.abc123.tmp"
    orphan.write_bytes(b'{"report_id": ')
    outbox.flush(deadline=0.0)
    assert orphan.exists()  # its entry is still queued: a sender may be writing it right now
    outbox.flush()
    assert not orphan.exists() and outbox.receipt(entry.id) is not None


# ---------------------------------------------------------------- for the command line and UIs
def test_deliver_now_retries_through_transient_failures_until_the_deadline(tmp_path: Path) -> None:
    clock = FakeClock()
    connector = ScriptedConnector([TransientError("down"), TransientError("busy", retry_after=5)])
    outbox = make_outbox(tmp_path, connector, clock)
    other = outbox.put(make_bundle(90))
    entry = outbox.put(make_bundle(91))
    start = clock.now

    attempt = outbox.deliver_now(entry.id[:8], deadline=time.monotonic() + 3600)

    assert attempt.state == "delivered" and attempt.receipt is not None
    assert attempt.receipt.ticket.report_id == uuid.UUID(entry.id)
    assert connector.submitted == [uuid.UUID(entry.id)] * 3  # only the report asked for
    assert 5 + 1.5 <= clock.now - start <= 5 + 2  # the backoff, then the server's Retry-After
    assert [e.id for e in outbox.list()] == [other.id]


def test_deliver_now_gives_up_at_the_deadline_and_keeps_the_report(tmp_path: Path) -> None:
    clock = FakeClock()
    outbox = make_outbox(tmp_path, ScriptedConnector([TransientError("connection refused", retry_after=600)]), clock)
    entry = outbox.put(make_bundle(92))
    attempt = outbox.deliver_now(entry.id, deadline=time.monotonic() + 30)
    assert (attempt.state, attempt.reason) == ("pending", "connection refused")
    assert attempt.next_attempt_at == clock.now + 600
    assert "not delivered yet: connection refused" in attempt.describe()
    assert outbox.list(states=("pending",))[0].id == entry.id


def test_deliver_now_reports_a_refusal(tmp_path: Path) -> None:
    outbox = make_outbox(tmp_path, ScriptedConnector([PermanentError("image over the pixel limit")]))
    entry = outbox.put(make_bundle(93))
    attempt = outbox.deliver_now(entry.id, deadline=time.monotonic() + 30)
    assert (attempt.state, attempt.reason) == ("dead", "image over the pixel limit")
    assert attempt.as_dict()["state"] == "dead"
    assert outbox.list(states=("pending",)) == [] and [e.id for e in outbox.list(states=("dead",))] == [entry.id]


def test_records_describe_themselves_for_people_and_json(tmp_path: Path) -> None:
    clock = FakeClock()
    outbox = make_outbox(tmp_path, ScriptedConnector([TransientError("down")]), clock)
    entry = outbox.put(make_bundle(94, description="Printer on floor 2 jams"))
    result = outbox.flush()
    [attempt] = list(result)
    assert attempt.state == "pending" and attempt.reason == "down"
    [waiting] = outbox.list()
    line = waiting.describe(now=clock.now)
    assert entry.id in line and "pending" in line and "1 tries, next try in 2 s" in line and "(down)" in line
    data = json.loads(json.dumps(waiting.as_dict()))
    assert data["state"] == "pending" and data["next_attempt"].endswith("+00:00") and data["attempts"] == 1
    clock.advance(2)
    [receipt] = outbox.flush().delivered
    assert f"ticket {receipt.number}" in receipt.describe()
    assert json.loads(json.dumps(receipt.as_dict()))["report_id"] == entry.id


def test_an_entry_locked_by_another_process_is_left_to_it(tmp_path: Path) -> None:
    connector = ScriptedConnector()
    outbox = make_outbox(tmp_path, connector)
    entry = outbox.put(make_bundle(95))
    lock_path = tmp_path / "outbox" / "entries" / entry.id / "lock"
    holder = subprocess.Popen(
        [
            sys.executable, "-c",
            "import sys; from pathlib import Path; from agent.outbox.store import EntryLock as _EntryLock\n"
            f"lock = _EntryLock(Path({str(lock_path)!r})); assert lock.acquire()\n"
            "print('locked', flush=True); sys.stdin.read(); lock.release()",
        ],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = outbox.flush(force=True)
        assert result.busy == 1 and result.delivered == [] and connector.submitted == []
        assert outbox.list()[0].sending
        with pytest.raises(OutboxBusyError):
            outbox.purge(entry.id)
    finally:
        holder.communicate("", timeout=30)
    assert holder.returncode == 0
    assert [r.report_id for r in outbox.flush().delivered] == [entry.id]
