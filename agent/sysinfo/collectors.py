"""The collectors of the machine's own groups: os, cpu, memory, disks, battery, displays, processes, showdesk.

Each returns JSON-like data and runs on its own thread (:mod:`agent.sysinfo.collect`); those
that could keep the snapshot waiting (CPU sampling, a slow disk, a platform tool) take the
deadline they aim for. The network and proxy groups are in :mod:`agent.sysinfo.network`.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import platform
import socket
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

import psutil

from agent import __version__
from agent.sysinfo.bounded import Collector, describe_error, run_bounded, run_command

MAX_DISKS: Final = 64


def os_info() -> dict[str, object]:
    uname = platform.uname()
    boot_time = psutil.boot_time()
    try:
        user: str | None = getpass.getuser()
    except (OSError, KeyError):
        user = None
    local = datetime.now().astimezone()
    offset = local.utcoffset()
    return {
        "name": _os_name(uname),
        "system": uname.system,
        "release": uname.release,
        "version": uname.version,
        "kernel": uname.version if uname.system == "Windows" else uname.release,
        "architecture": uname.machine,
        "hostname": socket.gethostname(),
        "user": user,
        "boot_time": datetime.fromtimestamp(boot_time, UTC).isoformat(timespec="seconds"),
        "uptime_seconds": max(0, int(time.time() - boot_time)),
        "timezone": local.tzname(),
        "utc_offset_minutes": int(offset.total_seconds() // 60) if offset is not None else None,
    }


def _os_name(uname: platform.uname_result) -> str:
    if uname.system == "Linux":
        with contextlib.suppress(OSError):
            release = platform.freedesktop_os_release()
            return release.get("PRETTY_NAME") or release.get("NAME") or "Linux"
        return "Linux"
    if uname.system == "Darwin":
        return f"macOS {platform.mac_ver()[0]}".strip()
    if uname.system == "Windows":
        edition = platform.win32_edition() or ""
        return f"Windows {uname.release} {edition}".strip()
    return f"{uname.system} {uname.release}".strip()


def cpu_info(sample_seconds: float, deadline: float) -> dict[str, object]:
    interval = max(0.01, min(sample_seconds, deadline - time.monotonic() - 0.01))
    per_cpu = psutil.cpu_percent(interval=interval, percpu=True)
    frequency = None
    with contextlib.suppress(Exception):  # absent or unreadable in many virtual machines
        frequency = psutil.cpu_freq()
    load = None
    if hasattr(os, "getloadavg"):  # psutil's Windows emulation starts a thread and reads 0 at first
        with contextlib.suppress(OSError):
            load = [round(value, 2) for value in os.getloadavg()]
    return {
        "model": _cpu_model(deadline),
        "architecture": platform.machine(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "frequency_mhz": round(frequency.current) if frequency and frequency.current else None,
        "max_frequency_mhz": round(frequency.max) if frequency and frequency.max else None,
        "load_average": load,
        # Above 1, programs wait for a turn on a core: the load relative to the cores says how long.
        "load_per_core": round(load[0] / len(per_cpu), 2) if load and per_cpu else None,
        "percent": round(sum(per_cpu) / len(per_cpu), 1) if per_cpu else None,
        "percent_per_cpu": [round(value, 1) for value in per_cpu],
        "sample_seconds": round(interval, 3),
    }


def _cpu_model(deadline: float) -> str | None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
                name, _, value = line.partition(":")
                if name.strip() in ("model name", "Hardware", "Model", "cpu model") and value.strip():
                    return value.strip()
    elif sys.platform == "darwin":
        model = run_command(["sysctl", "-n", "machdep.cpu.brand_string"], deadline).strip()
        if model:
            return model
    elif sys.platform == "win32":
        import winreg

        with contextlib.suppress(OSError):
            path = r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path) as key:
                return str(winreg.QueryValueEx(key, "ProcessorNameString")[0]).strip()
    return platform.processor() or None


def memory_info(sample_seconds: float, deadline: float) -> dict[str, object]:
    """Memory and swap, with the swapping going on now (swap counters read across the CPU sample)."""
    before = psutil.swap_memory()
    started = time.monotonic()
    time.sleep(max(0.0, min(started + sample_seconds, deadline - 0.01) - time.monotonic()))
    memory = psutil.virtual_memory()
    swap = psutil.swap_memory()
    window = max(0.001, time.monotonic() - started)
    return {
        "total": memory.total,
        "available": memory.available,
        "used": memory.used,
        "percent": memory.percent,
        "swap": {
            "total": swap.total,
            "used": swap.used,
            "free": swap.free,
            "percent": swap.percent,
            # psutil counts swapped bytes since boot (0 where the OS does not say): the change is activity.
            "in_bytes_per_second": round(max(0, swap.sin - before.sin) / window),
            "out_bytes_per_second": round(max(0, swap.sout - before.sout) / window),
            "sample_seconds": round(window, 3),
        },
        "pressure_some_avg10": _memory_pressure(),
    }


def _memory_pressure() -> float | None:
    """Linux's memory pressure: the share of the last 10 s some program waited for memory (percent)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/pressure/memory").read_text().splitlines()[0]
        fields = dict(part.split("=") for part in first.split()[1:])
        return float(fields["avg10"])
    return None


def _partitions(*, every: bool) -> list[Any]:
    """The mount table (a seam: a sandbox's /proc/mounts may lack the root or the home)."""
    return list(psutil.disk_partitions(all=every))


def _places() -> dict[str, Path]:
    """The directories whose disk matters to a report: the person's home and the temp directory."""
    for name in ("TMPDIR", "TEMP", "TMP"):
        if os.environ.get(name):
            temp = Path(os.environ[name])
            break
    else:
        if os.name == "nt":
            import tempfile

            temp = Path(tempfile.gettempdir())
        else:
            temp = Path("/tmp")  # noqa: S108 - where the OS's programs put temporary files
    return {"home directory": Path.home(), "temporary files": temp}


def _holder(path: Path, mounts: list[str]) -> str | None:
    """The mount point holding ``path``: the longest mount point it lies under."""
    real = os.path.realpath(path)
    under = [mount for mount in mounts if real == mount or real.startswith(mount.rstrip("/\\") + os.sep)]
    return max(under, key=len) if under else None


def disks_info(deadline: float) -> list[object]:
    partitions = _partitions(every=False)[:MAX_DISKS]
    everything = _partitions(every=True)
    mounts = [part.mountpoint for part in everything] or [part.mountpoint for part in partitions]
    holds: dict[str, list[str]] = {}
    unmounted: dict[str, Path] = {}
    for label, path in _places().items():
        holder = _holder(path, mounts)
        if holder is None:
            unmounted[label] = path
        else:
            holds.setdefault(holder, []).append(label)
    # A home on a tmpfs or a network mount is not among the "physical" partitions: added.
    listed = {part.mountpoint for part in partitions}
    partitions += [part for part in everything if part.mountpoint in holds and part.mountpoint not in listed]
    no_answer = "the file system did not answer in time"
    tasks: dict[str, Collector] = {str(index): partial(_disk_usage, part) for index, part in enumerate(partitions)}
    # Not in the mount table at all (a sandbox whose /proc/mounts lacks them): asked directly.
    if not any(_holder(Path("/"), [part.mountpoint]) for part in partitions) and os.name != "nt":
        unmounted.setdefault("root", Path("/"))
    for label, path in unmounted.items():
        tasks[f"statvfs:{label}"] = partial(_statvfs_usage, path)
    # One thread per mount: a stale network mount is reported alone, the others still are.
    usage = run_bounded(tasks, deadline, no_answer)
    disks: list[object] = []
    for index, part in enumerate(partitions):
        entry = usage[str(index)]
        if entry == {"error": no_answer}:
            entry = {**_disk_identity(part), "error": no_answer}
        if isinstance(entry, dict):
            if part.mountpoint in holds:
                entry["holds"] = holds[part.mountpoint]
            disks.append(entry)
    seen_devices: dict[object, dict[str, Any]] = {}
    for label in unmounted:
        entry = usage[f"statvfs:{label}"]
        if not isinstance(entry, dict):
            continue
        same = seen_devices.get(entry.get("st_dev"))
        if same is not None:  # the home on the root file system: one disk, holding both
            if label != "root":
                same.setdefault("holds", []).append(label)
            continue
        if label != "root":
            entry["holds"] = [label]
        seen_devices[entry.get("st_dev")] = entry
        disks.append(entry)
    for entry in disks:
        if isinstance(entry, dict):
            entry.pop("st_dev", None)
    return disks


def _statvfs_usage(path: Path) -> dict[str, object]:
    usage = psutil.disk_usage(str(path))
    read_only = False
    with contextlib.suppress(OSError, AttributeError):
        read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    return {
        "mount": str(path),
        "device": None,
        "filesystem": None,
        "read_only": read_only,
        "total": usage.total,
        "used": usage.used,
        "free": usage.free,
        "percent": usage.percent,
        "source": "asked the file system directly: not in the mount table",
        "st_dev": path.stat().st_dev,
    }


def _disk_identity(part: Any) -> dict[str, object]:
    options = str(part.opts).split(",")
    return {
        "mount": part.mountpoint,
        "device": part.device,
        "filesystem": part.fstype,
        "read_only": "ro" in options,
    }


def _disk_usage(part: Any) -> dict[str, object] | None:
    # Container runtimes bind single files (/etc/hosts) from the host disk: not disks.
    if not Path(part.mountpoint).is_dir():
        return None
    try:
        usage = psutil.disk_usage(part.mountpoint)
    except OSError as exc:
        return {**_disk_identity(part), "error": describe_error(exc)}
    return {
        **_disk_identity(part),
        "total": usage.total,
        "used": usage.used,
        "free": usage.free,
        "percent": usage.percent,
    }


def battery_info() -> dict[str, object]:
    battery = psutil.sensors_battery() if hasattr(psutil, "sensors_battery") else None
    if battery is None:
        return {"present": False}
    seconds_left = battery.secsleft
    known = isinstance(seconds_left, int) and seconds_left >= 0
    return {
        "present": True,
        "percent": round(battery.percent, 1),
        "plugged_in": battery.power_plugged,
        "seconds_left": seconds_left if known else None,
    }


def showdesk_info() -> dict[str, object]:
    return {
        "version": __version__,
        "python": platform.python_version(),
        "frozen": bool(getattr(sys, "frozen", False)),
    }
