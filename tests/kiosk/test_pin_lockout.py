"""The PIN pad's lockout policy on its own: growing lockouts, kept in a file across restarts, never
unlocked by a damaged file. A hand-moved clock stands in for waiting."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kiosk.pin_lockout import LockoutState, PinLockout, parse_state

START = 1_900_000_000.0  # some time in 2030; only differences matter


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fail_round(policy: PinLockout) -> float:
    """Four wrong PINs that do not lock, then the fifth that does; returns when it unlocks."""
    for _ in range(policy.attempts - 1):
        assert policy.record_failure() is None
        assert policy.locked_until() is None
    until = policy.record_failure()
    assert until is not None and policy.locked_until() == until
    return until


def test_each_round_of_wrong_pins_locks_twice_as_long_up_to_the_cap(tmp_path: Path) -> None:
    clock = FakeClock()
    policy = PinLockout(tmp_path / "lockout.json", clock=clock, base_s=60, max_s=8 * 60)
    waits = []
    for _ in range(6):
        until = fail_round(policy)
        waits.append(until - clock.now)
        clock.now = until - 0.5
        assert policy.locked_until() == until  # half a second early is still locked
        clock.now = until
        assert policy.locked_until() is None
    assert waits == [60, 120, 240, 480, 480, 480]


def test_the_default_cap_is_a_day_and_a_huge_count_does_not_overflow(tmp_path: Path) -> None:
    path = tmp_path / "lockout.json"
    path.write_bytes(LockoutState(failures=4, lockouts=10**6).to_json())
    clock = FakeClock()
    policy = PinLockout(path, clock=clock)
    assert policy.record_failure() == clock.now + 24 * 3600
    assert [policy.lockout_duration(n) for n in (1, 2, 3, 11, 12)] == [60, 120, 240, 61440, 86400]


def test_the_count_and_the_lockout_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "lockout.json"
    clock = FakeClock()
    first = PinLockout(path, clock=clock)
    until = fail_round(first)

    restarted = PinLockout(path, clock=clock)
    assert restarted.locked_until() == until
    clock.now = until
    assert restarted.locked_until() is None
    for _ in range(3):
        restarted.record_failure()

    # Mid-round: the three wrong PINs already typed still count after another restart.
    again = PinLockout(path, clock=clock)
    assert again.state.failures == 3
    again.record_failure()
    assert again.record_failure() == clock.now + 120


def test_a_correct_pin_starts_the_count_again(tmp_path: Path) -> None:
    path = tmp_path / "lockout.json"
    clock = FakeClock()
    policy = PinLockout(path, clock=clock)
    for _ in range(2):
        clock.now = fail_round(policy)
    policy.record_failure()
    policy.record_success()
    assert PinLockout(path, clock=clock).state == LockoutState()
    assert fail_round(policy) == clock.now + 60


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff\xfe not text",
        b'{"version": 1, "failures": 2, "lockouts": 3, "locked_until": 1',  # cut off mid-write
        b"[]",
        b"{}",
        b'{"version": 2, "failures": 0, "lockouts": 0, "locked_until": 0, "lockout_s": 0}',
        b'{"version": 1, "failures": -1, "lockouts": 0, "locked_until": 0, "lockout_s": 0}',
        b'{"version": 1, "failures": true, "lockouts": 0, "locked_until": 0, "lockout_s": 0}',
        b'{"version": 1, "failures": 0, "lockouts": 0, "locked_until": NaN, "lockout_s": 0}',
        b'{"version": 1, "failures": 0, "lockouts": "7", "locked_until": 0, "lockout_s": 0}',
    ],
)
def test_a_damaged_state_file_locks_for_the_base_period(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "lockout.json"
    path.write_bytes(content)
    clock = FakeClock()
    policy = PinLockout(path, clock=clock)
    assert policy.locked_until() == clock.now + 60
    # The damaged file is replaced by a lockout a restart reads back the same way.
    assert PinLockout(path, clock=FakeClock(clock.now + 30)).locked_until() == clock.now + 60
    clock.now += 60
    assert policy.locked_until() is None
    # It counted as one lockout: the next is the second.
    assert fail_round(policy) == clock.now + 120


def test_a_state_path_that_cannot_be_read_locks_too(tmp_path: Path) -> None:
    path = tmp_path / "lockout.json"
    path.mkdir()  # what a bad image or a stray mkdir leaves behind
    clock = FakeClock()
    policy = PinLockout(path, clock=clock)
    assert policy.locked_until() == clock.now + 60


def test_without_a_writable_state_file_this_run_still_counts(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    clock = FakeClock()
    policy = PinLockout(blocker / "lockout.json", clock=clock)
    # A path that cannot even be read is a lockout of its own; the count then goes on in memory.
    until = policy.locked_until()
    assert until == clock.now + 60
    clock.now = until
    clock.now = fail_round(policy)
    assert fail_round(policy) == clock.now + 240
    assert blocker.read_text() == "x"


def test_the_state_file_is_private_and_says_what_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "kiosk" / "lockout.json"
    clock = FakeClock()
    policy = PinLockout(path, clock=clock)
    until = fail_round(policy)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    table = json.loads(path.read_text())
    assert table == {"version": 1, "failures": 0, "lockouts": 1, "locked_until": until, "lockout_s": 60.0}
    assert parse_state(path.read_bytes()) == policy.state
    assert [p.name for p in path.parent.iterdir()] == ["lockout.json"]  # no temporary file left


def test_a_clock_set_back_waits_out_the_lockout_not_the_jump(tmp_path: Path) -> None:
    path = tmp_path / "lockout.json"
    clock = FakeClock()
    policy = PinLockout(path, clock=clock)
    fail_round(policy)
    clock.now -= 365 * 24 * 3600
    assert policy.locked_until() == clock.now + 60
    assert PinLockout(path, clock=clock).locked_until() == clock.now + 60


def test_a_wrong_pin_typed_while_locked_does_not_shorten_the_lockout(tmp_path: Path) -> None:
    clock = FakeClock()
    policy = PinLockout(tmp_path / "lockout.json", clock=clock, attempts=1, base_s=60, max_s=3600)
    first = policy.record_failure()
    assert first == clock.now + 60
    # Another failure while locked (a check that began just before) counts and extends.
    assert policy.record_failure() == clock.now + 120


@pytest.mark.parametrize(
    ("attempts", "base_s", "max_s"), [(0, 60, 60), (5, 0, 60), (5, 60, 30), (5, float("inf"), 1e9)]
)
def test_nonsense_limits_are_refused(attempts: int, base_s: float, max_s: float) -> None:
    with pytest.raises(ValueError):
        PinLockout(None, attempts=attempts, base_s=base_s, max_s=max_s)
