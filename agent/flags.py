"""Flags: the few facts in a system-information snapshot a technician should see first.

``compute_flags(snapshot)`` reads a snapshot as ``agent.sysinfo.collect`` makes it, but
tolerates anything: a group may be missing (an older client, a group the person switched
off), hold an error, or have fields of an unexpected type. Such parts raise no flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

Severity = Literal["critical", "warning", "info"]
_SEVERITY_ORDER: Final = {"critical": 0, "warning": 1, "info": 2}

DISK_FULL_PERCENT: Final = 90.0
DISK_CRITICAL_PERCENT: Final = 98.0
MEMORY_AVAILABLE_MIN_PERCENT: Final = 10.0
SWAP_HEAVY_PERCENT: Final = 80.0
BATTERY_LOW_PERCENT: Final = 20.0
BATTERY_CRITICAL_PERCENT: Final = 10.0
# A thread spinning on one core reads 100 % of one core whatever the machine: stuck, worth a warning
# even on an 8-core laptop where it is only an eighth of the machine. A short sample reads a
# spinning thread to within about a tenth (10 ms ticks), hence 80 %.
CPU_HOG_PERCENT_OF_ONE_CORE: Final = 80.0
CPU_WAITING_WORTH_SAYING: Final = 10.0
CPU_HOG_MIN_RUNNING: Final = 25.0  # starved, not hogging, below this
CPU_SATURATED_PERCENT: Final = 90.0
# Swapping faster than this now (in or out) is felt as a stalling machine.
SWAP_ACTIVE_BYTES_PER_SECOND: Final = 1024 * 1024
MEMORY_PRESSURE_PERCENT: Final = 10.0  # Linux PSI "some avg10": share of time programs waited for memory
NAMED_PROCESSES: Final = 3
LONG_UPTIME_DAYS: Final = 14
# Sign-in tickets (Kerberos) allow 5 minutes of skew; certificates fail when days off.
CLOCK_OFFSET_WARNING_SECONDS: Final = 120
CLOCK_OFFSET_CRITICAL_SECONDS: Final = 86400
# Read-only images (snaps, ISO files) are always "full"; that is not a problem.
_IMAGE_FILESYSTEMS: Final = frozenset({"squashfs", "iso9660", "udf", "cdfs", "erofs"})


Evidence = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Flag:
    """A fact worth seeing first, with the evidence (label, value) a technician needs to trust it."""

    code: str
    severity: Severity
    message: str
    group: str
    evidence: Evidence = ()

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def compute_flags(snapshot: Mapping[str, object]) -> list[Flag]:
    """Flags for ``snapshot``, most severe first."""
    flags: list[Flag] = []
    for check in (
        _disk_flags,
        _memory_flags,
        _battery_flags,
        _route_flags,
        _backend_flags,
        _clock_flags,
        _cpu_flags,
        _uptime_flags,
    ):
        try:
            flags.extend(check(snapshot))
        except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError):
            continue  # a field of a shape we do not know: no flag rather than a wrong one
    return sorted(flags, key=lambda flag: _SEVERITY_ORDER[flag.severity])


def _group(snapshot: Mapping[str, object], name: str) -> Any:
    """The group's data, or None when it is missing or holds an error."""
    data = snapshot.get(name)
    # A dict first: the Mapping check goes through the ABC machinery (snapshots are parsed JSON: dicts).
    if (type(data) is dict or isinstance(data, Mapping)) and "error" in data:
        return None
    return data


def _number(value: object) -> float | None:
    kind = type(value)
    if kind is float or kind is int:  # the common case, before the general checks (bool is neither)
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def format_bytes(value: object) -> str:
    number = _number(value)
    if number is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(number) < 1024 or unit == "TB":
            return f"{number:.0f} {unit}" if unit == "B" else f"{number:.1f} {unit}"
        number /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: object) -> str:
    number = _number(seconds)
    if number is None:
        return "?"
    total = int(number)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _disk_flags(snapshot: Mapping[str, object]) -> list[Flag]:
    disks = _group(snapshot, "disks")
    flags: list[Flag] = []
    for disk in disks if isinstance(disks, list) else []:
        if not isinstance(disk, Mapping) or disk.get("read_only") or disk.get("filesystem") in _IMAGE_FILESYSTEMS:
            continue
        percent = _number(disk.get("percent"))
        if percent is None or percent <= DISK_FULL_PERCENT:
            continue
        severity: Severity = "critical" if percent >= DISK_CRITICAL_PERCENT else "warning"
        holds = disk.get("holds")
        held = [str(place) for place in holds] if isinstance(holds, list) else []
        holding = f" (holds the {' and the '.join(held)})" if held else ""
        evidence = [
            ("Free", f"{format_bytes(disk.get('free'))} of {format_bytes(disk.get('total'))}"),
            ("File system", f"{disk.get('filesystem') or 'unknown'} on {disk.get('device') or 'unknown device'}"),
        ]
        if held:
            evidence.append(("Holds", ", ".join(held)))
        if disk.get("source"):
            evidence.append(("Read", str(disk["source"])))
        flags.append(
            Flag(
                "disk_full",
                severity,
                f"Disk {disk.get('mount')}{holding} is {percent:.0f} % full ({format_bytes(disk.get('free'))} free"
                f" of {format_bytes(disk.get('total'))})",
                "disks",
                tuple(evidence),
            )
        )
    return flags


def _memory_flags(snapshot: Mapping[str, object]) -> list[Flag]:
    memory = _group(snapshot, "memory")
    if not isinstance(memory, Mapping):
        return []
    reasons = []
    evidence: list[tuple[str, str]] = []
    total, available = _number(memory.get("total")), _number(memory.get("available"))
    if total and available is not None:
        evidence.append(("Available", f"{format_bytes(available)} of {format_bytes(total)}"))
        if available / total * 100 < MEMORY_AVAILABLE_MIN_PERCENT:
            reasons.append(f"only {format_bytes(available)} of {format_bytes(total)} memory available")
    swap = memory.get("swap")
    if isinstance(swap, Mapping) and _number(swap.get("total")):
        swap_percent = _number(swap.get("percent"))
        evidence.append(("Swap used", f"{format_bytes(swap.get('used'))} of {format_bytes(swap.get('total'))}"))
        if swap_percent is not None and swap_percent > SWAP_HEAVY_PERCENT:
            reasons.append(f"swap {swap_percent:.0f} % used")
        swapping = (_number(swap.get("in_bytes_per_second")) or 0) + (_number(swap.get("out_bytes_per_second")) or 0)
        if swap.get("in_bytes_per_second") is not None:
            evidence.append(("Swapping now", f"{format_bytes(swapping)}/s"))
        if swapping >= SWAP_ACTIVE_BYTES_PER_SECOND:
            reasons.append(f"swapping {format_bytes(swapping)}/s now")
    pressure = _number(memory.get("pressure_some_avg10"))
    if pressure is not None:
        evidence.append(("Waiting for memory (last 10 s)", f"{pressure:g} % of the time"))
        if pressure >= MEMORY_PRESSURE_PERCENT:
            reasons.append(f"programs waited for memory {pressure:.0f} % of the last 10 s")
    if not reasons:
        return []
    largest = _top_processes(snapshot, "by_memory", "memory_rss")
    named = ", ".join(f"{name} {format_bytes(rss)}" for name, rss, _ in largest[:NAMED_PROCESSES])
    message = "Memory is short: " + "; ".join(reasons) + (f". Largest: {named}" if named else "")
    evidence.extend((f"{name} (pid {pid})", f"{format_bytes(rss)} resident") for name, rss, pid in largest)
    return [Flag("memory_pressure", "warning", message, "memory", tuple(evidence))]


def _top_processes(
    snapshot: Mapping[str, object], ranking: str, key: str, *, keep_order: bool = False
) -> list[tuple[str, float, object]]:
    """(name, value, pid) of the busiest programs by ``ranking``, ShowDesk itself left out.

    Sorted by ``key`` unless ``keep_order`` (the collector's own order: CPU rows come by demand).
    """
    processes = _group(snapshot, "processes")
    rows = processes.get(ranking) if isinstance(processes, Mapping) else None
    found = []
    for row in rows if isinstance(rows, list) else []:
        value = _number(row.get(key)) if isinstance(row, Mapping) else None
        if value is not None and row.get("showdesk") is not True:
            found.append((str(row.get("name") or "a program"), value, row.get("pid")))
    return found if keep_order else sorted(found, key=lambda item: item[1], reverse=True)


def _battery_flags(snapshot: Mapping[str, object]) -> list[Flag]:
    battery = _group(snapshot, "battery")
    if not isinstance(battery, Mapping) or not battery.get("present") or battery.get("plugged_in") is not False:
        return []
    percent = _number(battery.get("percent"))
    if percent is None or percent >= BATTERY_LOW_PERCENT:
        return []
    severity: Severity = "critical" if percent < BATTERY_CRITICAL_PERCENT else "warning"
    return [Flag("battery_low", severity, f"On battery at {percent:.0f} %, not plugged in", "battery")]


def _route_flags(snapshot: Mapping[str, object]) -> list[Flag]:
    network = _group(snapshot, "network")
    # Only when the OS told us its routes: an unknown route table is not an empty one.
    if not isinstance(network, Mapping) or network.get("default_route_known") is not True:
        return []
    routes = network.get("default_routes")
    if not isinstance(routes, list) or routes:
        return []
    return [
        Flag("no_default_route", "critical", "No default route: this machine cannot reach other networks", "network")
    ]


def _backend_flags(snapshot: Mapping[str, object]) -> list[Flag]:
    check = _group(snapshot, "connectivity")
    if not isinstance(check, Mapping) or check.get("checked") is not True:
        return []
    url = check.get("url")
    evidence = _step_evidence(check)
    verdict = check.get("verdict")
    if verdict is None and check.get("reachable") is False:
        # A snapshot of an older client: its timeouts were reported as failures.
        verdict = "not_checked_in_time" if "in time" in str(check.get("reason")) else "failed"
    if verdict == "failed":
        return [
            Flag(
                "backend_unreachable",
                "critical",
                f"The help desk at {url} is unreachable from here: {check.get('reason')}",
                "connectivity",
                evidence,
            )
        ]
    if verdict == "not_checked_in_time":
        # Its own state, never "unreachable": a busy machine runs out of time with a healthy network.
        return [
            Flag(
                "connection_not_checked",
                "info",
                f"The connection check to {url} did not finish in time ({check.get('reason')});"
                " this says nothing against the network",
                "connectivity",
                evidence,
            )
        ]
    status = _number(check.get("http_status"))
    if check.get("reachable") is True and status is not None and status >= 500:
        return [
            Flag(
                "backend_error",
                "warning",
                f"The help desk at {url} answers with HTTP {status:.0f}",
                "connectivity",
                evidence,
            )
        ]
    return []


def _step_evidence(check: Mapping[str, Any]) -> Evidence:
    rows: list[tuple[str, str]] = []
    steps = check.get("steps")
    for step in steps if isinstance(steps, list) else []:
        if isinstance(step, Mapping) and step.get("state") != "skipped":
            rows.append(
                (
                    str(step.get("label") or step.get("step")),
                    f"{_STATE_WORDS.get(str(step.get('state')), step.get('state'))}: {step.get('detail')}",
                )
            )
    by_address = check.get("by_address")
    if isinstance(by_address, Mapping):
        rows.append(("By address", str(by_address.get("detail"))))
    if check.get("via_proxy"):
        rows.append(("Through the proxy", str(check["via_proxy"])))
    return tuple(rows)


_STATE_WORDS: Final = {"ok": "fine", "failed": "FAILED", "not_checked_in_time": "not checked in time"}


def _cpu_flags(snapshot: Mapping[str, object]) -> list[Flag]:
    cpu = _group(snapshot, "cpu")
    processes = _group(snapshot, "processes")
    cores = _number(processes.get("logical_cores")) if isinstance(processes, Mapping) else None
    if cores is None and isinstance(cpu, Mapping):
        cores = _number(cpu.get("logical_cores"))
    flags = _saturation_flags(cpu, cores, snapshot)
    rows = processes.get("by_cpu") if isinstance(processes, Mapping) else None
    sampled = _number(processes.get("sample_seconds")) if isinstance(processes, Mapping) else None
    for process in rows if isinstance(rows, list) else []:
        if not isinstance(process, Mapping) or process.get("showdesk") is True:
            continue  # not a process row, or ShowDesk itself taking the snapshot
        # Per-process CPU is in percent of one core (a busy thread reads 100 %, whatever the
        # core count): that is what "stuck spinning" looks like on any machine. Its share of the
        # whole machine says how much the person feels it.
        percent = _number(process.get("cpu_percent"))
        waiting = _number(process.get("waiting_percent"))
        # On a saturated machine a spinning program gets only its share of a core and waits for
        # the rest: what it asks for (running + waiting) tells it from one that merely ran a bit.
        demand = (percent or 0.0) + (waiting or 0.0)
        if percent is None or percent < CPU_HOG_MIN_RUNNING or demand < CPU_HOG_PERCENT_OF_ONE_CORE:
            continue
        name = f"{process.get('name') or 'a program'} (pid {process.get('pid')})"
        share = percent / cores if cores and cores >= 1 else None
        detail = f"{percent:.0f} % of one core"
        if share is not None and cores is not None:
            detail += f", {share:.0f} % of all {cores:.0f}"
        if waiting is not None and waiting >= CPU_WAITING_WORTH_SAYING:
            detail += f", and it waited for a core {waiting:.0f} % of the time"
        evidence = [("CPU", detail)]
        if sampled is not None:
            evidence.append(("Measured over", f"{sampled:g} s"))
        for label, key in (("User", "user"), ("Command line", "cmdline")):
            if process.get(key):
                evidence.append((label, str(process[key])))
        flags.append(
            Flag("cpu_hog", "warning", f"{name} keeps the processor busy: {detail}", "processes", tuple(evidence))
        )
    return flags


def _saturation_flags(cpu: object, cores: float | None, snapshot: Mapping[str, object]) -> list[Flag]:
    if not isinstance(cpu, Mapping):
        return []
    percent = _number(cpu.get("percent"))
    if percent is None or percent < CPU_SATURATED_PERCENT:
        return []
    load = cpu.get("load_average")
    per_core = _number(cpu.get("load_per_core"))
    message = f"The processor is saturated: {percent:.0f} % busy across all {cores or '?':g} cores"
    if isinstance(load, list) and load and per_core is not None:
        message += f", load {load[0]} ({per_core:.1f}× the cores)"
    evidence: list[tuple[str, str]] = [("Busy", f"{percent:g} % (measured over {cpu.get('sample_seconds')} s)")]
    per_cpu = cpu.get("percent_per_cpu")
    if isinstance(per_cpu, list):
        evidence.append(("Per core", ", ".join(f"{value} %" for value in per_cpu)))
    if isinstance(load, list):
        evidence.append(("Load (1, 5, 15 min)", ", ".join(str(value) for value in load)))
    busiest = _top_processes(snapshot, "by_cpu", "cpu_percent", keep_order=True)
    named = ", ".join(f"{name} {value:.0f} %" for name, value, _ in busiest[:NAMED_PROCESSES])
    if named:
        message += f". Busiest: {named} (of one core)"
    evidence.extend((f"{name} (pid {pid})", f"{value:g} % of one core") for name, value, pid in busiest[:5])
    return [Flag("cpu_saturated", "warning", message, "cpu", tuple(evidence))]


def _clock_flags(snapshot: Mapping[str, object]) -> list[Flag]:
    clock = _group(snapshot, "clock")
    if not isinstance(clock, Mapping):
        return []
    offset = _number(clock.get("offset_seconds"))
    if offset is None or abs(offset) <= CLOCK_OFFSET_WARNING_SECONDS:
        return []
    severity: Severity = "critical" if abs(offset) >= CLOCK_OFFSET_CRITICAL_SECONDS else "warning"
    direction = "ahead of" if offset > 0 else "behind"
    # The Date header counts whole seconds: to the minute is all a day-sized offset can claim.
    amount = format_duration(round(abs(offset) / 60) * 60) if abs(offset) >= 3600 else f"{abs(offset):.0f} s"
    return [
        Flag(
            "clock_offset",
            severity,
            f"This computer's clock is {amount} {direction} the help desk's: secure connections and sign-in"
            " may fail, and times in this report are off by as much",
            "clock",
            (
                ("This computer's time", str(clock.get("local_time"))),
                ("The help desk's time", str(clock.get("server_time"))),
                ("Offset", f"{offset:+.0f} s"),
            ),
        )
    ]


def _uptime_flags(snapshot: Mapping[str, object]) -> list[Flag]:
    system = _group(snapshot, "os")
    if not isinstance(system, Mapping):
        return []
    uptime = _number(system.get("uptime_seconds"))
    if uptime is None or uptime <= LONG_UPTIME_DAYS * 86400:
        return []
    return [Flag("long_uptime", "info", f"Not restarted for {format_duration(uptime)}: a restart may help", "os")]
