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
CPU_HOG_PERCENT_OF_ONE_CORE: Final = 80.0
CPU_HOG_MACHINE_SHARE: Final = 50.0
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
    if isinstance(data, Mapping) and "error" in data:
        return None
    return data


def _number(value: object) -> float | None:
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
        flags.append(
            Flag(
                "disk_full",
                severity,
                f"Disk {disk.get('mount')} is {percent:.0f} % full ({format_bytes(disk.get('free'))} free"
                f" of {format_bytes(disk.get('total'))})",
                "disks",
            )
        )
    return flags


def _memory_flags(snapshot: Mapping[str, object]) -> list[Flag]:
    memory = _group(snapshot, "memory")
    if not isinstance(memory, Mapping):
        return []
    reasons = []
    total, available = _number(memory.get("total")), _number(memory.get("available"))
    if total and available is not None and available / total * 100 < MEMORY_AVAILABLE_MIN_PERCENT:
        reasons.append(f"only {format_bytes(available)} of {format_bytes(total)} memory available")
    swap = memory.get("swap")
    if isinstance(swap, Mapping) and _number(swap.get("total")):
        swap_percent = _number(swap.get("percent"))
        if swap_percent is not None and swap_percent > SWAP_HEAVY_PERCENT:
            reasons.append(f"swap {swap_percent:.0f} % used")
    if not reasons:
        return []
    return [Flag("memory_pressure", "warning", "Memory is short: " + "; ".join(reasons), "memory")]


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
    processes = _group(snapshot, "processes")
    if not isinstance(processes, Mapping) or not isinstance(processes.get("by_cpu"), list):
        return []
    cpu = _group(snapshot, "cpu")
    cores = _number(processes.get("logical_cores"))
    if cores is None and isinstance(cpu, Mapping):
        cores = _number(cpu.get("logical_cores"))
    flags: list[Flag] = []
    for process in processes["by_cpu"]:
        if not isinstance(process, Mapping) or process.get("showdesk") is True:
            continue  # not a process row, or ShowDesk itself taking the snapshot
        # Per-process CPU is in percent of one core (a busy thread reads 100 %, whatever
        # the core count): that is what "stuck spinning" looks like on any machine. Its
        # share of the whole machine decides how much the person feels it.
        percent = _number(process.get("cpu_percent"))
        if percent is None or percent < CPU_HOG_PERCENT_OF_ONE_CORE:
            continue
        name = f"{process.get('name') or 'a program'} (pid {process.get('pid')})"
        if cores and cores >= 1:
            share = percent / cores
            severity: Severity = "warning" if share >= CPU_HOG_MACHINE_SHARE else "info"
            detail = f"{percent:.0f} % of one core, {share:.0f} % of all {cores:.0f}"
        else:
            severity, detail = "warning", f"{percent:.0f} % of one core"
        flags.append(Flag("cpu_hog", severity, f"{name} keeps the processor busy: {detail}", "processes"))
    return flags


def _clock_flags(snapshot: Mapping[str, object]) -> list[Flag]:
    clock = _group(snapshot, "clock")
    if not isinstance(clock, Mapping):
        return []
    offset = _number(clock.get("offset_seconds"))
    if offset is None or abs(offset) <= CLOCK_OFFSET_WARNING_SECONDS:
        return []
    severity: Severity = "critical" if abs(offset) >= CLOCK_OFFSET_CRITICAL_SECONDS else "warning"
    direction = "ahead of" if offset > 0 else "behind"
    amount = format_duration(abs(offset)) if abs(offset) >= 3600 else f"{abs(offset):.0f} s"
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
