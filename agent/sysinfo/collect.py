"""Collecting a snapshot: the options, the collectors started side by side, the bounded wait.

``collect(SysinfoOptions(...))`` runs one collector per group concurrently on daemon threads;
``start(...)`` starts them and returns at once, so a caller can capture the screen while they
wait (``PendingSnapshot.result()`` then gives the snapshot). A collector that fails or does not
finish in time is recorded in its group (``{"error": "timed out after 0.30 s"}``), never raised
and never waited for beyond the bound. The snapshot is scrubbed of secrets before it is returned.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Final

from agent.scrub import scrub
from agent.sysinfo.bounded import BoundedRun, Collector, WithPartial
from agent.sysinfo.collectors import (
    battery_info,
    cpu_info,
    disks_info,
    memory_info,
    os_info,
    showdesk_info,
)
from agent.sysinfo.groups import GROUPS, check_group_names
from agent.sysinfo.processes import processes_info
from agent.sysinfo_process import options_spec

# http.client, ssl, urllib.request and subprocess load where a collector needs them (about 35 ms
# together): `showdesk capture` collects a snapshot and is timed as a whole process.
# So do the collectors that do not sample (connectivity, network, displays: about 10 ms, with
# the configparser, tempfile and the rest they pull): each imports its module when it runs,
# which for `showdesk capture` is once the frame is encoding (see start's ``hold``), not
# while the screen is opened and grabbed.
if TYPE_CHECKING:
    from agent.config import Config

DEFAULT_TIMEOUT: Final = 0.3
# Below this, CPU percentages are mostly counting noise: the kernel counts CPU time in ticks
# of 10 ms (4 ms on some kernels), so 50 ms reads a busy core to within about a fifth.
MIN_SAMPLE_SECONDS: Final = 0.05
MAX_TIMEOUT: Final = 60.0


@dataclass(frozen=True)
class SysinfoOptions:
    """What to collect and how long it may take.

    ``timeout`` bounds the whole snapshot (collectors run side by side, each with that
    bound). ``sample_seconds`` is how long CPU use (the machine's and each process's) is
    measured, by default :func:`cpu_sample_seconds` of the timeout; the snapshot records the
    window it used (``cpu.sample_seconds``, ``processes.sample_seconds``). ``monitors`` comes
    from the caller's capture layer. ``extra_collectors`` adds groups, or replaces built-in
    ones of the same name, each a function without arguments returning JSON-like data.
    """

    timeout: float = DEFAULT_TIMEOUT
    exclude: Collection[str] = ()
    backend_url: str | None = None
    ca_bundle: str | None = None
    backend_proxy: str | None = None
    monitors: Sequence[Mapping[str, object]] | None = None
    extra_collectors: Mapping[str, Collector] = field(default_factory=dict)
    sample_seconds: float | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.timeout, int | float) and 0 < self.timeout <= MAX_TIMEOUT):
            raise ValueError(f"sysinfo timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}")
        if self.sample_seconds is not None and not (
            isinstance(self.sample_seconds, int | float) and MIN_SAMPLE_SECONDS <= self.sample_seconds < self.timeout
        ):
            raise ValueError(
                f"the CPU sampling window must be at least {MIN_SAMPLE_SECONDS:g} s and shorter than the timeout"
            )
        check_group_names(self.exclude, [*GROUPS, *self.extra_collectors])

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        monitors: Sequence[Mapping[str, object]] | None = None,
        backend: str | None = None,
        exclude: Collection[str] = (),
        sample_seconds: float | None = None,
    ) -> SysinfoOptions:
        """Options from the layered configuration (``sysinfo.*`` keys and the chosen backend).

        ``exclude`` adds groups to the configured ``sysinfo.exclude`` (the person's switches).
        ``sample_seconds`` applies when the configured timeout leaves room for it.
        """
        spec = options_spec(config, backend=backend, exclude=exclude, sample_seconds=sample_seconds)
        return cls(**{**spec, "exclude": tuple(spec["exclude"])}, monitors=monitors)


def collect(config: SysinfoOptions | None = None) -> dict[str, object]:
    """A scrubbed snapshot of this machine; returns within ``config.timeout`` plus a few ms."""
    return start(config).result()


def start(config: SysinfoOptions | None = None, *, hold: threading.Event | None = None) -> PendingSnapshot:
    """Start collecting on background threads and return at once; ``.result()`` gives the snapshot.

    The time bound counts from here, so a caller can grab and encode the screen while the
    collectors wait (CPU sampling, connectivity), and pass the monitors it found to
    :meth:`PendingSnapshot.result` for the ``displays`` group.

    With ``hold``, only the CPU and process sampling starts at once; the other collectors wait
    until ``hold`` is set (by the caller, or by ``result()``) or half the bound has passed, so
    their work can be kept off a busy stretch of the caller's, such as opening the screen
    before a capture.
    """
    return PendingSnapshot(config or SysinfoOptions(), hold)


_SAMPLING_GROUPS: Final = ("cpu", "processes", "memory")
_DESKTOP_MONITORS: Final = " desktop monitors"  # not a group: no group name has a space


class PendingSnapshot:
    """A snapshot being collected (see :func:`start`)."""

    def __init__(self, options: SysinfoOptions, hold: threading.Event | None = None) -> None:
        self._options = options
        self._hold = hold
        self._started = time.monotonic()
        self._collected_at = datetime.now(UTC)
        self._bound = float(options.timeout)
        deadline = self._started + self._bound
        # Collectors aim a little before the bound, so partial results (one slow disk, a DNS
        # lookup without answer) arrive as such instead of the whole group timing out.
        aim = deadline - min(0.05, self._bound * 0.15)
        sample_seconds = options.sample_seconds or cpu_sample_seconds(self._bound)
        builtin: dict[str, Collector] = {
            "os": os_info,
            "clock": _derived,  # from the connection check's answer, by result()
            "cpu": partial(cpu_info, sample_seconds, aim),
            "memory": partial(memory_info, sample_seconds, aim),
            "disks": partial(disks_info, aim),
            "network": partial(_network_info, aim),
            "proxy": partial(_proxy_info, aim),
            "battery": battery_info,
            "displays": _late_displays,  # the caller's facts, passed through by result()
            "processes": WithPartial(partial(processes_info, sample_seconds, aim)),
            "showdesk": showdesk_info,
            "connectivity": partial(
                _check_connectivity, options.backend_url, aim, options.ca_bundle, options.backend_proxy
            ),
        }
        tasks = {**builtin, **options.extra_collectors}
        self._order = [name for name in tasks if name not in options.exclude]
        self._late = "displays" if tasks.get("displays") is _late_displays else None
        derived = {name for name, task in tasks.items() if task is _derived}
        if self._late is not None:
            # The desktop's own monitor list, to name what the capture layer could not.
            tasks[_DESKTOP_MONITORS] = partial(_desktop_monitors, aim)
        if hold is not None:
            # Held at most half the bound, so the collectors keep the other half to finish in.
            release_by = self._started + self._bound / 2
            tasks = {
                name: task if name in _SAMPLING_GROUPS else partial(_when_released, hold, release_by, task)
                for name, task in tasks.items()
            }
        running = {name: tasks[name] for name in self._order if name != self._late and name not in derived}
        if self._late is not None:
            running[_DESKTOP_MONITORS] = tasks[_DESKTOP_MONITORS]
        self._run = BoundedRun(
            running,
            deadline,
            f"timed out after {self._bound:.2f} s",
        )

    def result(self, monitors: Sequence[Mapping[str, object]] | None = None) -> dict[str, object]:
        """Wait for the collectors (at most until the bound) and return the scrubbed snapshot.

        ``monitors`` (the capture layer's facts, as ``MonitorInfo.facts()`` gives them) fill the
        ``displays`` group; without them the options' ``monitors`` do.
        """
        if self._hold is not None:
            self._hold.set()
        results = self._run.wait()
        desktop = results.pop(_DESKTOP_MONITORS, None)
        if self._late is not None:
            from agent.sysinfo.displays import displays_info

            results[self._late] = displays_info(
                monitors if monitors is not None else self._options.monitors,
                desktop if isinstance(desktop, list) else None,
            )
        if "clock" in self._order:
            results["clock"] = clock_info(results.get("connectivity"))
        snapshot: dict[str, object] = {name: _plain(results[name]) for name in self._order}
        showdesk = snapshot.get("showdesk")
        if isinstance(showdesk, dict) and "error" not in showdesk:
            showdesk.update(
                collected_at=self._collected_at.isoformat(timespec="seconds"),
                elapsed_ms=round((time.monotonic() - self._started) * 1000, 1),
                timeout_s=self._bound,
                excluded=sorted(self._options.exclude),
            )
        cleaned = scrub(snapshot)
        assert isinstance(cleaned, dict)
        return cleaned


# The collectors that do not sample, their modules imported when they run (see the imports).
def _network_info(deadline: float) -> dict[str, object]:
    from agent.sysinfo.network import network_info

    return network_info(deadline)


def _proxy_info(deadline: float) -> dict[str, object]:
    from agent.sysinfo.network import proxy_info

    return proxy_info(deadline)


def _check_connectivity(
    url: str | None, deadline: float, ca_bundle: str | None, proxy: str | None
) -> dict[str, object]:
    from agent.sysinfo.connectivity import check_connectivity

    return check_connectivity(url, deadline, ca_bundle, proxy)


def _desktop_monitors(deadline: float) -> list[dict[str, object]] | None:
    from agent.sysinfo.displays import desktop_monitors

    return desktop_monitors(deadline)


def _when_released(hold: threading.Event, release_by: float, task: Collector) -> object:
    hold.wait(max(0.0, release_by - time.monotonic()))
    return task()


def cpu_sample_seconds(timeout: float) -> float:
    """How long CPU use is sampled within a snapshot bounded by ``timeout`` seconds."""
    return min(0.2, timeout * 0.35)


def _plain(value: object, depth: int = 0) -> object:
    """JSON-able data: mappings with string keys, lists, strings, finite numbers, None."""
    if depth > 32:
        return "[too deeply nested]"
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item, depth + 1) for item in value]
    return str(value)


def clock_info(connectivity: object) -> dict[str, object]:
    """The reporter's local time, and how far it is from the help desk's (its HTTP ``Date``)."""
    local = datetime.now().astimezone()
    offset = local.utcoffset()
    clock: dict[str, object] = {
        "local_time": local.isoformat(timespec="seconds"),
        "timezone": local.tzname(),
        "utc_offset_minutes": int(offset.total_seconds() // 60) if offset is not None else None,
        "offset_seconds": None,
        "server_time": None,
        "compared_with": None,
    }
    if isinstance(connectivity, Mapping) and isinstance(connectivity.get("clock_offset_seconds"), int | float):
        clock.update(
            offset_seconds=connectivity["clock_offset_seconds"],
            server_time=connectivity.get("server_date"),
            compared_with=f"the Date the help desk at {connectivity.get('url')} sent",
        )
    else:
        clock["note"] = "not compared: the help desk's time was not received"
    return clock


def _derived() -> object:
    raise AssertionError("a derived group is filled in by PendingSnapshot.result()")


def _late_displays() -> object:
    raise AssertionError("the displays group is filled in by PendingSnapshot.result()")


class SnapshotCache:
    """The last snapshot taken with given options, for a caller that captures often (the agent
    capturing for `showdesk capture`): a capture then does not pay for a new snapshot beside its
    encoder when one was taken moments ago.

    A snapshot is *fresh* while its collection started at most ``max_age`` seconds ago (by
    ``clock``, monotonic), was taken with the same options (bound, sampling window, excluded
    groups, help desk address, CA bundle, proxy) and the same monitors. Anything else is not
    used: the caller collects anew and :meth:`put`\\s the result. The snapshot records when it
    was collected (``showdesk.collected_at``), so a report says how old its facts are.
    """

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not max_age > 0:
            raise ValueError("a snapshot's maximum age is a positive number of seconds")
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._entry: tuple[tuple[object, ...], float, dict[str, object]] | None = None

    def now(self) -> float:
        """The cache's clock: pass its reading, taken before collecting, to :meth:`put`."""
        return self._clock()

    def fresh(self, options: SysinfoOptions, monitors: Sequence[Mapping[str, object]]) -> dict[str, object] | None:
        """A copy of the cached snapshot when it is fresh for these options and monitors, else None."""
        with self._lock:
            entry = self._entry
        if entry is None:
            return None
        key, started, snapshot = entry
        if key != _cache_key(options, monitors) or not 0 <= self._clock() - started <= self.max_age:
            return None
        return copy.deepcopy(snapshot)

    def age(self) -> float | None:
        """Seconds since the cached snapshot's collection started; None when there is none."""
        with self._lock:
            entry = self._entry
        return None if entry is None else self._clock() - entry[1]

    def put(
        self,
        options: SysinfoOptions,
        monitors: Sequence[Mapping[str, object]],
        snapshot: Mapping[str, object],
        started: float,
    ) -> None:
        """Keep ``snapshot``, collected with ``options`` from ``started`` (a :meth:`now` reading);
        an older one than the one kept is ignored (two collections finishing out of order)."""
        entry = (_cache_key(options, monitors), started, copy.deepcopy(dict(snapshot)))
        with self._lock:
            if self._entry is None or self._entry[1] <= started:
                self._entry = entry

    def refresh(self, options: SysinfoOptions, monitors: Sequence[Mapping[str, object]]) -> None:
        """Collect a snapshot now (blocking, up to the options' bound) and keep it."""
        started = self._clock()
        self.put(options, monitors, start(options).result(monitors), started)

    def clear(self) -> None:
        with self._lock:
            self._entry = None


def _cache_key(options: SysinfoOptions, monitors: Sequence[Mapping[str, object]]) -> tuple[object, ...]:
    if options.extra_collectors:
        # Callables are compared by identity: such options never match a later request's.
        return (object(),)
    return (
        options.timeout,
        options.sample_seconds,
        tuple(sorted(options.exclude)),
        options.backend_url,
        options.ca_bundle,
        options.backend_proxy,
        repr([dict(m) for m in monitors]),
    )
