"""How long the administrator's PIN pad stays locked after wrong PINs, kept across restarts.

Every ``attempts`` wrong PINs in a row lock the pad; each lockout lasts twice the one
before (``base_s``, 2×, 4×, …) up to ``max_s``, and only a correct PIN starts the count
again. A fixed one-minute lockout let a 4-digit PIN fall in about 33 hours; with the
defaults (5 tries, 1 minute doubling to a day) the first 55 guesses take about 34 hours
and every further 5 take a day, so the 10,000 PINs take years.

The count lives in a small JSON file in the kiosk's machine data directory, written
atomically on every change, so restarting the kiosk (or pulling its plug) does not
hand out fresh tries. A state file that cannot be read or makes no sense counts as one
lockout that starts now: damage to the file must never unlock the pad.

No Qt here: the policy is tested on its own, with an injected clock.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from agent.fsutil import atomic_write_bytes
from kiosk.paths import kiosk_data_dir

log = logging.getLogger(__name__)

ATTEMPTS_PER_ROUND: Final = 5
BASE_LOCKOUT_S: Final = 60.0
MAX_LOCKOUT_S: Final = 24 * 3600.0
STATE_FILE_NAME: Final = "pin-lockout.json"
_STATE_VERSION: Final = 1
# 2**64 minutes is far past any cap; the exponent stops there so the float never overflows.
_MAX_DOUBLINGS: Final = 64


def default_state_path() -> Path:
    """The lockout file beside the kiosk's other machine state."""
    return kiosk_data_dir() / STATE_FILE_NAME


@dataclass(frozen=True)
class LockoutState:
    """``failures``: wrong PINs since the last lockout (or correct PIN); ``lockouts``: lockouts
    since the last correct PIN; ``locked_until``: wall-clock seconds since the epoch;
    ``lockout_s``: how long the current (or last) lockout was set to last."""

    failures: int = 0
    lockouts: int = 0
    locked_until: float = 0.0
    lockout_s: float = 0.0

    def to_json(self) -> bytes:
        table = {
            "version": _STATE_VERSION,
            "failures": self.failures,
            "lockouts": self.lockouts,
            "locked_until": self.locked_until,
            "lockout_s": self.lockout_s,
        }
        return json.dumps(table, sort_keys=True).encode("utf-8")


class CorruptStateError(ValueError):
    """The state file holds something this module did not write."""


def parse_state(data: bytes) -> LockoutState:
    """The state in ``data``; ``CorruptStateError`` for anything else."""
    try:
        table = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptStateError(f"not JSON: {exc}") from exc
    if not isinstance(table, Mapping) or table.get("version") != _STATE_VERSION:
        raise CorruptStateError("not a version 1 lockout table")
    failures = _count(table, "failures")
    lockouts = _count(table, "lockouts")
    locked_until = _seconds(table, "locked_until")
    lockout_s = _seconds(table, "lockout_s")
    return LockoutState(failures, lockouts, locked_until, lockout_s)


def _count(table: Mapping[str, Any], key: str) -> int:
    value = table.get(key)
    # bool is an int to Python, but ``true`` is no count this module writes.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000_000:
        raise CorruptStateError(f"{key} is not a count: {value!r}")
    return value


def _seconds(table: Mapping[str, Any], key: str) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise CorruptStateError(f"{key} is not a time: {value!r}")
    return float(value)


class PinLockout:
    """The lockout policy over one state file (``None``: kept in memory only).

    ``clock`` gives wall-clock seconds since the epoch (a lockout must outlive a reboot,
    which a monotonic clock does not); tests pass their own.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        clock: Callable[[], float] = time.time,
        attempts: int = ATTEMPTS_PER_ROUND,
        base_s: float = BASE_LOCKOUT_S,
        max_s: float = MAX_LOCKOUT_S,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if not (math.isfinite(base_s) and base_s > 0 and math.isfinite(max_s) and max_s >= base_s):
            raise ValueError("lockouts need 0 < base_s <= max_s")
        self.path = path
        self.attempts = attempts
        self.base_s = base_s
        self.max_s = max_s
        self._clock = clock
        self._state = self._load()

    @property
    def state(self) -> LockoutState:
        return self._state

    def lockout_duration(self, lockout_number: int) -> float:
        """How long lockout ``lockout_number`` (1 for the first) lasts."""
        doublings = min(max(lockout_number - 1, 0), _MAX_DOUBLINGS)
        return min(self.base_s * 2.0**doublings, self.max_s)

    def locked_until(self) -> float | None:
        """When the pad unlocks (epoch seconds), or ``None`` when a PIN may be tried now."""
        now = self._clock()
        state = self._state
        if now >= state.locked_until:
            return None
        if state.locked_until - now > state.lockout_s:
            # The clock was set back: wait the lockout from now, not until a time it may
            # take a year to reach again.
            self._save(LockoutState(state.failures, state.lockouts, now + state.lockout_s, state.lockout_s))
        return self._state.locked_until

    def record_failure(self) -> float | None:
        """Count a wrong PIN; returns when the pad unlocks if this one locked it."""
        state = self._state
        failures = state.failures + 1
        if failures < self.attempts:
            self._save(LockoutState(failures, state.lockouts, state.locked_until, state.lockout_s))
            return None
        lockouts = state.lockouts + 1
        duration = self.lockout_duration(lockouts)
        until = max(self._clock() + duration, state.locked_until)
        self._save(LockoutState(0, lockouts, until, duration))
        log.warning("admin PIN pad locked for %.0f s after %d wrong PINs (lockout %d)", duration, failures, lockouts)
        return until

    def record_success(self) -> None:
        """A correct PIN: the count starts again."""
        self._save(LockoutState())

    def _load(self) -> LockoutState:
        if self.path is None:
            return LockoutState()
        try:
            return parse_state(self.path.read_bytes())
        except FileNotFoundError:
            return LockoutState()
        except (OSError, CorruptStateError) as exc:
            # Never unlocked by damage: a file no one can read is one lockout from now.
            log.warning("admin PIN lockout state %s is unreadable (%s); the pad stays locked for now", self.path, exc)
            state = LockoutState(0, 1, self._clock() + self.base_s, self.base_s)
            self._save(state)
            return state

    def _save(self, state: LockoutState) -> None:
        # Memory first: if the disk refuses the write, this run of the kiosk still counts.
        self._state = state
        if self.path is None:
            return
        try:
            atomic_write_bytes(self.path, state.to_json(), mode=0o600)
        except OSError as exc:
            log.warning("cannot write admin PIN lockout state to %s: %s", self.path, exc)
