"""Reports the backend keeps failing: after enough tries and a day, "needs attention" (kept, shown,
retried only by hand); refusals for good (422) kept and shown with their reason. Never deleted,
never retried forever in silence."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from agent.bundle import build_bundle
from agent.connectors.base import TransientError
from agent.connectors.builtin import BuiltinConnector
from agent.outbox import (
    ATTENTION_AFTER_ATTEMPTS,
    ATTENTION_AFTER_SECONDS,
    EntryState,
    Outbox,
    OutboxEntry,
    OutboxObserver,
)
from tests.core.test_cli import showdesk
from tests.outbox.helpers import FakeClock, ScriptedConnector, make_bundle
from tests.outbox.peers import Peer, Reply

JSON = {"Content-Type": "application/json"}
MAX_TRIES = 500  # a bound on every loop below: far more tries than any rule here needs


class Attention(OutboxObserver):
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def needs_attention(self, entry: OutboxEntry, reason: str) -> None:
        self.reasons.append(reason)


def _server_error(number: int) -> Reply:
    return Reply(500, json.dumps({"detail": f"database is locked ({number})"}).encode(), JSON)


def _try_until_held(outbox: Outbox, clock: FakeClock, entry_id: str) -> OutboxEntry:
    """Let the outbox retry on its own schedule, the clock jumping to each due time."""
    for _ in range(MAX_TRIES):
        entry = outbox.get(entry_id)
        if entry.needs_attention:
            return entry
        due = outbox.next_due_at()
        assert due is not None, "an entry that does not need attention must be due some time"
        clock.now = max(clock.now, due)
        outbox.flush()
    raise AssertionError(f"{entry_id} was retried {MAX_TRIES} times without needing attention")


def test_the_same_server_error_for_a_day_of_tries_needs_attention_and_stays(tmp_path: Path) -> None:
    clock = FakeClock()
    started = clock.now
    with Peer() as peer:
        peer.answer(*(_server_error(n) for n in range(MAX_TRIES)))
        connector = BuiltinConnector(peer.url, token="t0ken")
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: connector, clock=clock)
        observer = Attention()
        outbox.add_observer(observer)
        entry = outbox.put(make_bundle(1))

        held = _try_until_held(outbox, clock, entry.id)
        tries_to_attention = len(peer.received)

        # Both bounds held: enough tries, and at least a day since the first.
        assert held.state is EntryState.ATTENTION
        assert held.failure_streak >= ATTENTION_AFTER_ATTEMPTS and held.failure_kind == "HTTP 500"
        assert clock.now - started >= ATTENTION_AFTER_SECONDS
        assert held.failing_since == started
        assert "database is locked" in (held.last_error or "") and observer.reasons == [held.last_error]
        advice = held.what_to_do() or ""
        assert "no longer retried on its own" in advice and f"showdesk outbox retry {entry.id}" in advice

        # Never retried on its own, however long it waits, and never deleted.
        clock.advance(30 * 24 * 3600)
        assert outbox.next_due_at() is None
        assert outbox.flush().attempts == [] and outbox.flush(force=True).attempts == []
        assert len(peer.received) == tries_to_attention
        assert (tmp_path / "outbox" / "entries" / entry.id / "report.showdesk").is_file()
        assert [e.id for e in outbox.list()] == [entry.id]

        # Retried by hand: tried at once, and the count towards "needs attention" starts over.
        retried = outbox.retry(entry.id)
        assert retried.state is EntryState.PENDING and retried.failure_streak == 0
        [attempt] = outbox.flush().attempts
        assert len(peer.received) == tries_to_attention + 1
        again = outbox.get(entry.id)
        assert attempt.state == "pending" and again.failure_streak == 1 and again.failing_since == clock.now
        outbox.close()


def test_many_tries_within_a_day_do_not_need_attention_yet(tmp_path: Path) -> None:
    clock = FakeClock()
    failures: list[object] = [TransientError("answered 502", status=502) for _ in range(3 * ATTENTION_AFTER_ATTEMPTS)]
    connector = ScriptedConnector(failures)  # type: ignore[arg-type]
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: connector, clock=clock)
    entry = outbox.put(make_bundle(2))

    for _ in range(3 * ATTENTION_AFTER_ATTEMPTS):
        outbox.flush(force=True)  # tries as fast as a person pressing "send now": far under a day
        clock.advance(60)

    current = outbox.get(entry.id)
    assert current.state is EntryState.PENDING and current.failure_streak == 3 * ATTENTION_AFTER_ATTEMPTS


def test_a_changing_error_or_no_answer_never_needs_attention(tmp_path: Path) -> None:
    clock = FakeClock()
    # Alternating answers: no run of the same error grows.
    alternating: list[object] = [
        TransientError("answered 500", status=500 + 2 * (n % 2)) for n in range(4 * ATTENTION_AFTER_ATTEMPTS)
    ]
    connector = ScriptedConnector(alternating)  # type: ignore[arg-type]
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: connector, clock=clock)
    entry = outbox.put(make_bundle(3))
    for _ in range(4 * ATTENTION_AFTER_ATTEMPTS):
        outbox.flush(force=True)
        clock.advance(ATTENTION_AFTER_SECONDS / ATTENTION_AFTER_ATTEMPTS)
    assert outbox.get(entry.id).state is EntryState.PENDING and outbox.get(entry.id).failure_streak == 1


def test_no_answer_at_all_for_days_keeps_retrying(tmp_path: Path) -> None:
    # A laptop off the network: the connection is refused on every try, for days.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    clock = FakeClock()
    connector = BuiltinConnector(f"http://127.0.0.1:{closed_port}", token="t0ken", connect_timeout=2)
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: connector, clock=clock)
    entry = outbox.put(make_bundle(4))
    for _ in range(2 * ATTENTION_AFTER_ATTEMPTS):
        outbox.flush(force=True)
        clock.advance(ATTENTION_AFTER_SECONDS / 10)
    current = outbox.get(entry.id)
    outbox.close()
    assert current.state is EntryState.PENDING and current.attempts == 2 * ATTENTION_AFTER_ATTEMPTS
    assert current.failure_streak == 0 and outbox.next_due_at() is not None


def test_a_report_refused_with_422_is_kept_and_listed_with_its_reason(tmp_path: Path) -> None:
    reason = "sysinfo.json nests 40 levels deep; the bound is 32"
    outbox_dir = tmp_path / "outbox"
    with Peer() as peer:
        peer.answer(Reply(422, json.dumps({"detail": reason}).encode(), JSON))
        connector = BuiltinConnector(peer.url, token="t0ken")
        outbox = Outbox(outbox_dir, connector_for=lambda _n: connector)
        entry = outbox.put(make_bundle(5))
        [dead] = outbox.flush().dead
        outbox.close()
    assert dead.state is EntryState.DEAD and reason in (dead.last_error or "")
    assert (outbox_dir / "entries" / entry.id / "report.showdesk").is_file()

    listed = showdesk("outbox", "list", env={"SHOWDESK_OUTBOX": str(outbox_dir)})
    assert listed.returncode == 0, listed.stderr
    assert entry.id in listed.stdout and reason in listed.stdout and "NEEDS ATTENTION" in listed.stdout
    assert f"showdesk outbox retry {entry.id}" in listed.stdout
    as_json = json.loads(showdesk("outbox", "list", "--json", env={"SHOWDESK_OUTBOX": str(outbox_dir)}).stdout)
    [shown] = as_json["entries"]
    assert shown["needs_attention"] is True and shown["state"] == "dead" and shown["next_attempt"] is None


def test_the_command_line_lists_and_retries_a_report_that_needs_attention(tmp_path: Path) -> None:
    clock = FakeClock()
    outbox_dir = tmp_path / "outbox"
    # The real HTTP path is the test above; here the state on disk is what the command line reads.
    failures: list[object] = [TransientError("answered 500: database is locked", status=500)] * MAX_TRIES
    connector = ScriptedConnector(failures)  # type: ignore[arg-type]
    outbox = Outbox(outbox_dir, connector_for=lambda _n: connector, clock=clock)
    entry = outbox.put(make_bundle(6))
    _try_until_held(outbox, clock, entry.id)
    env = {"SHOWDESK_OUTBOX": str(outbox_dir)}

    listed = showdesk("outbox", "list", env=env)

    assert listed.returncode == 0, listed.stderr
    assert f"{entry.id}  attention" in listed.stdout and "database is locked" in listed.stdout
    assert "what to do:" in listed.stdout and f"showdesk outbox retry {entry.id}" in listed.stdout
    retried = showdesk("outbox", "retry", entry.id[:8], env=env)
    assert retried.returncode == 0, retried.stderr
    assert Outbox(outbox_dir).get(entry.id).state is EntryState.PENDING


@pytest.mark.parametrize("action", ["retry", "purge"])
def test_an_unknown_id_is_a_usage_error_not_a_traceback(tmp_path: Path, action: str) -> None:
    result = showdesk("outbox", action, "0123abcd", env={"SHOWDESK_OUTBOX": str(tmp_path / "outbox")})
    assert result.returncode == 2
    assert "no queued report has an id starting with '0123abcd'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_real_server_refuses_nested_system_information_and_the_report_stays_visible(
    shared_server: object, tmp_path: Path
) -> None:
    from tests.outbox.test_end_to_end import submitter

    nested: dict[str, object] = {"leaf": 1}
    for _ in range(40):
        nested = {"deeper": nested}
    bundle = make_bundle(7)
    deep = build_bundle(bundle.report, sysinfo=nested)
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: submitter(shared_server))
    entry = outbox.put(deep)

    result = outbox.flush()
    outbox.close()

    [dead] = result.dead
    assert dead.id == entry.id and dead.state is EntryState.DEAD and dead.needs_attention
    assert "422" in (dead.last_error or "") and "32" in (dead.last_error or "")
    assert [e.id for e in outbox.list()] == [entry.id] and outbox.next_due_at() is None
    assert outbox.bundle(entry.id).files["sysinfo.json"] == deep.files["sysinfo.json"]
