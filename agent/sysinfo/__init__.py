"""System information: a JSON-able snapshot of the reporter's machine, collected in a time bound.

``collect(SysinfoOptions(...))`` runs one collector per group concurrently on daemon threads;
``start(...)`` starts them and returns at once, so a caller can capture the screen while they
wait (``PendingSnapshot.result()`` then gives the snapshot).
A collector that fails or does not finish in time is recorded in its group
(``{"error": "timed out after 0.30 s"}``), never raised and never waited for beyond the
bound. The snapshot is scrubbed of secrets before it is returned.

Groups are top-level keys (``GROUPS`` names them for people) so a UI can offer a switch per
group; ``SysinfoOptions.exclude`` keeps a group from being collected at all and
``without_groups`` drops groups from a snapshot already taken.
"""

from __future__ import annotations

import contextlib
import getpass
import ipaddress
import math
import os
import platform
import socket
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import SplitResult, urlsplit

import psutil

from agent import __version__
from agent.flags import compute_flags, format_bytes, format_duration
from agent.scrub import scrub, scrub_command_line, scrub_url

# http.client, ssl, urllib.request and subprocess load where a collector needs them (about 35 ms
# together): `showdesk capture` collects a snapshot and is timed as a whole process.
if TYPE_CHECKING:
    from agent.config import Config

GROUPS: Final[dict[str, str]] = {
    "os": "Operating system",
    "cpu": "Processor",
    "memory": "Memory",
    "disks": "Disks",
    "network": "Network",
    "proxy": "Proxy settings",
    "battery": "Battery",
    "displays": "Displays",
    "processes": "Busiest programs",
    "showdesk": "ShowDesk",
    "connectivity": "Connection to the help desk",
}

DEFAULT_TIMEOUT: Final = 0.3
# Below this, CPU percentages are mostly counting noise: the kernel counts CPU time in ticks
# of 10 ms (4 ms on some kernels), so 50 ms reads a busy core to within about a fifth.
MIN_SAMPLE_SECONDS: Final = 0.05
MAX_TIMEOUT: Final = 60.0
TOP_PROCESSES: Final = 10
MAX_COMMAND_LINE_CHARS: Final = 300
MAX_INTERFACES: Final = 64
MAX_DISKS: Final = 64

Collector = Callable[[], object]
_T = TypeVar("_T")


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
        _check_group_names(self.exclude, [*GROUPS, *self.extra_collectors])

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
        chosen = config.backend(backend)
        timeout = float(config.get("sysinfo.timeout"))
        return cls(
            timeout=timeout,
            exclude=tuple(dict.fromkeys([*config.get("sysinfo.exclude"), *exclude])),
            backend_url=chosen.url or None,
            ca_bundle=chosen.ca_bundle,
            backend_proxy=chosen.proxy or None,
            monitors=monitors,
            sample_seconds=sample_seconds if sample_seconds is not None and sample_seconds < timeout else None,
        )


def _check_group_names(names: Collection[str], known: Collection[str]) -> None:
    if isinstance(names, str):
        raise TypeError("group names must be a collection of names, not one string")
    unknown = sorted(str(name) for name in names if name not in known)
    if unknown:
        raise ValueError(f"unknown system-information group {', '.join(map(repr, unknown))}; known: {', '.join(known)}")


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


_SAMPLING_GROUPS: Final = ("cpu", "processes")


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
            "os": _os_info,
            "cpu": partial(_cpu_info, sample_seconds, aim),
            "memory": _memory_info,
            "disks": partial(_disks_info, aim),
            "network": partial(_network_info, aim),
            "proxy": _proxy_info,
            "battery": _battery_info,
            "displays": _late_displays,  # the caller's facts, passed through by result()
            "processes": partial(_processes_info, sample_seconds, aim),
            "showdesk": _showdesk_info,
            "connectivity": partial(
                check_connectivity, options.backend_url, aim, options.ca_bundle, options.backend_proxy
            ),
        }
        tasks = {**builtin, **options.extra_collectors}
        self._order = [name for name in tasks if name not in options.exclude]
        self._late = "displays" if tasks.get("displays") is _late_displays else None
        if hold is not None:
            # Held at most half the bound, so the collectors keep the other half to finish in.
            release_by = self._started + self._bound / 2
            tasks = {
                name: task if name in _SAMPLING_GROUPS else partial(_when_released, hold, release_by, task)
                for name, task in tasks.items()
            }
        self._run = _BoundedRun(
            {name: tasks[name] for name in self._order if name != self._late},
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
        if self._late is not None:
            results[self._late] = _displays_info(monitors if monitors is not None else self._options.monitors)
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


def _when_released(hold: threading.Event, release_by: float, task: Collector) -> object:
    hold.wait(max(0.0, release_by - time.monotonic()))
    return task()


def cpu_sample_seconds(timeout: float) -> float:
    """How long CPU use is sampled within a snapshot bounded by ``timeout`` seconds."""
    return min(0.2, timeout * 0.35)


def without_groups(snapshot: Mapping[str, object], excluded: Collection[str]) -> dict[str, object]:
    """A copy of ``snapshot`` without the named groups (the person switched them off)."""
    _check_group_names(excluded, [*GROUPS, *snapshot])
    return {name: value for name, value in snapshot.items() if name not in excluded}


# ---------------------------------------------------------------- running with a bound


def run_bounded(tasks: Mapping[str, Collector], deadline: float, timeout_message: str) -> dict[str, object]:
    """Run every task on its own daemon thread; wait until all are done or ``deadline``.

    A task that raises gives ``{"error": "<its exception>"}``, one still running at the
    deadline gives ``{"error": timeout_message}``; its thread is left behind and cannot
    hold up the interpreter's exit.
    """
    return _BoundedRun(tasks, deadline, timeout_message).wait()


class _BoundedRun:
    """Tasks started on daemon threads at once; :meth:`wait` collects them up to the deadline."""

    def __init__(self, tasks: Mapping[str, Collector], deadline: float, timeout_message: str) -> None:
        self._names = list(tasks)
        self._deadline = deadline
        self._timeout_message = timeout_message
        self._results: dict[str, object] = {}
        self._finished = threading.Condition()
        for name, task in tasks.items():
            threading.Thread(target=self._run, args=(name, task), name=f"sysinfo-{name}", daemon=True).start()

    def _run(self, name: str, task: Collector) -> None:
        try:
            value: object = task()
        except Exception as exc:  # noqa: BLE001 - any failure becomes data, never an exception
            value = {"error": describe_error(exc)}
        with self._finished:
            self._results.setdefault(name, value)
            self._finished.notify_all()

    def wait(self) -> dict[str, object]:
        with self._finished:
            self._finished.wait_for(
                lambda: len(self._results) >= len(self._names), timeout=max(0.0, self._deadline - time.monotonic())
            )
            for name in self._names:
                self._results.setdefault(name, {"error": self._timeout_message})
            return {name: self._results[name] for name in self._names}


def _call_before(deadline: float, function: Callable[[], _T]) -> _T:
    """``function()`` on a daemon thread; TimeoutError if it has not returned by ``deadline``."""
    values: list[_T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            values.append(function())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    worker = threading.Thread(target=run, name="sysinfo-call", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    if not values:
        raise TimeoutError
    return values[0]


def describe_error(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _remaining(deadline: float) -> float:
    return max(0.001, deadline - time.monotonic())


def _run_command(argv: list[str], deadline: float) -> str:
    """A platform tool's output, bounded in time; empty when it fails or is missing."""
    import subprocess

    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=_remaining(deadline), check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


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


# ---------------------------------------------------------------- collectors


def _os_info() -> dict[str, object]:
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


def _cpu_info(sample_seconds: float, deadline: float) -> dict[str, object]:
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
        model = _run_command(["sysctl", "-n", "machdep.cpu.brand_string"], deadline).strip()
        if model:
            return model
    elif sys.platform == "win32":
        import winreg

        with contextlib.suppress(OSError):
            path = r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path) as key:
                return str(winreg.QueryValueEx(key, "ProcessorNameString")[0]).strip()
    return platform.processor() or None


def _memory_info() -> dict[str, object]:
    memory = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return {
        "total": memory.total,
        "available": memory.available,
        "used": memory.used,
        "percent": memory.percent,
        "swap": {"total": swap.total, "used": swap.used, "free": swap.free, "percent": swap.percent},
    }


def _disks_info(deadline: float) -> list[object]:
    partitions = psutil.disk_partitions(all=False)[:MAX_DISKS]
    no_answer = "the file system did not answer in time"
    # One thread per mount: a stale network mount is reported alone, the others still are.
    usage = run_bounded(
        {str(index): partial(_disk_usage, part) for index, part in enumerate(partitions)}, deadline, no_answer
    )
    disks: list[object] = []
    for index, part in enumerate(partitions):
        entry = usage[str(index)]
        if entry == {"error": no_answer}:
            entry = {**_disk_identity(part), "error": no_answer}
        if entry is not None:
            disks.append(entry)
    return disks


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


def _family_name(family: int) -> str:
    if family == socket.AF_INET:
        return "IPv4"
    if family == socket.AF_INET6:
        return "IPv6"
    if family == psutil.AF_LINK:
        return "MAC"
    return str(family)


def _network_info(deadline: float) -> dict[str, object]:
    addresses = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    interfaces: list[object] = []
    for name in sorted(set(addresses) | set(stats))[:MAX_INTERFACES]:
        stat = stats.get(name)
        interfaces.append(
            {
                "name": name,
                "up": stat.isup if stat else None,
                "speed_mbps": stat.speed if stat and stat.speed > 0 else None,
                "mtu": stat.mtu if stat else None,
                "addresses": [
                    {"family": _family_name(a.family), "address": a.address, "netmask": a.netmask}
                    for a in addresses.get(name, [])
                ],
            }
        )
    routes, route_source = _default_routes(deadline)
    dns, dns_source, upstream = _dns_servers()
    return {
        "interfaces": interfaces,
        "default_routes": routes,
        # False when this OS did not tell: then an empty list says nothing about the machine.
        "default_route_known": routes is not None,
        "default_route_source": route_source,
        "dns_servers": dns,
        "dns_upstream_servers": upstream,
        "dns_source": dns_source,
    }


def _default_routes(deadline: float) -> tuple[list[dict[str, object]] | None, str | None]:
    routes: list[dict[str, object]] | None = None
    source: str | None = None
    if sys.platform.startswith("linux"):
        routes, source = _linux_default_routes()
    elif sys.platform == "darwin":
        output = _run_command(["route", "-n", "get", "default"], deadline)
        if output:
            fields = dict(line.strip().partition(": ")[::2] for line in output.splitlines() if ": " in line)
            source, routes = "route -n get default", []
            if "gateway" in fields or "interface" in fields:
                routes = [{"family": "IPv4", "gateway": fields.get("gateway"), "interface": fields.get("interface")}]
    elif sys.platform == "win32":
        routes, source = _windows_registry_network("gateways"), "registry"
    return routes, source


def _linux_default_routes() -> tuple[list[dict[str, object]] | None, str | None]:
    routes: list[dict[str, object]] = []
    readable = False
    route_up, route_gateway, route_reject = 0x1, 0x2, 0x200
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            columns = line.split()
            readable = True
            if len(columns) < 8 or columns[1] != "00000000" or columns[7] != "00000000":
                continue
            flags = int(columns[3], 16)
            if not flags & route_up or flags & route_reject:
                continue
            gateway = None
            if flags & route_gateway:
                gateway = str(ipaddress.IPv4Address(int(columns[2], 16).to_bytes(4, "little")))
            routes.append({"family": "IPv4", "gateway": gateway, "interface": columns[0]})
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/ipv6_route").read_text().splitlines():
            columns = line.split()
            readable = True
            if len(columns) < 10 or columns[0] != "0" * 32 or columns[1] != "00" or columns[9] == "lo":
                continue
            flags = int(columns[8], 16)
            if not flags & route_up or flags & route_reject:
                continue
            gateway = str(ipaddress.IPv6Address(bytes.fromhex(columns[4]))) if flags & route_gateway else None
            routes.append({"family": "IPv6", "gateway": gateway, "interface": columns[9]})
    if not readable:
        return None, None
    return routes, "/proc/net/route"


def _dns_servers() -> tuple[list[str] | None, str | None, list[str] | None]:
    if sys.platform == "win32":
        return _windows_registry_network("dns"), "registry", None
    servers = _resolv_conf(Path("/etc/resolv.conf"))
    upstream = None
    # systemd-resolved puts its local stub in resolv.conf; the real servers are here.
    if servers and all(server.startswith("127.") for server in servers):
        upstream = _resolv_conf(Path("/run/systemd/resolve/resolv.conf"))
    return servers, "/etc/resolv.conf" if servers is not None else None, upstream


def _resolv_conf(path: Path) -> list[str] | None:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    return [line.split()[1] for line in lines if line.startswith("nameserver") and len(line.split()) > 1]


def _windows_registry_network(what: str) -> Any:
    """Default gateways (``what="gateways"``) or DNS servers from the registry; None elsewhere."""
    if sys.platform == "win32":
        return _read_tcpip_registry(what)
    return None


if sys.platform == "win32":
    import winreg

    def _read_tcpip_registry(what: str) -> list[Any] | None:
        names = ("DefaultGateway", "DhcpDefaultGateway") if what == "gateways" else ("NameServer", "DhcpNameServer")
        found: list[Any] = []
        root = r"SYSTEM\CurrentControlSet\Services\Tcpip\Parameters\Interfaces"
        try:
            interfaces = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, root)
        except OSError:
            return None
        with interfaces:
            for index in range(winreg.QueryInfoKey(interfaces)[0]):
                interface = winreg.EnumKey(interfaces, index)
                for value_name in names:
                    with contextlib.suppress(OSError), winreg.OpenKey(interfaces, interface) as key:
                        value = winreg.QueryValueEx(key, value_name)[0]
                        items = value if isinstance(value, list) else str(value).replace(",", " ").split()
                        for item in items:
                            if not item or item == "0.0.0.0":  # noqa: S104 - the "no gateway" placeholder
                                continue
                            if what == "gateways":
                                found.append({"family": "IPv4", "gateway": item, "interface": interface})
                            elif item not in found:
                                found.append(item)
        return found


_PROXY_VARIABLES: Final = ("http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "socks_proxy", "no_proxy")


def system_proxies() -> dict[str, str]:
    """The proxies this system tells programs to use, by scheme (``urllib.request.getproxies()``).

    Where they come only from the environment (Linux and other Unix), they are read here
    the way urllib reads them, without importing urllib.request (20 ms of a capture).
    """
    if sys.platform in ("darwin", "win32"):
        import urllib.request

        return urllib.request.getproxies()
    return _environment_proxies(os.environ)


def _environment_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    # As urllib.request.getproxies_environment: any case of NAME_proxy, the lower-case
    # spelling winning; an empty lower-case one removes the scheme; no HTTP_PROXY under CGI.
    proxies: dict[str, str] = {}
    for name, value in environ.items():
        if value and name[-6:].lower() == "_proxy":
            proxies[name[:-6].lower()] = value
    if "REQUEST_METHOD" in environ:
        proxies.pop("http", None)
    for name, value in environ.items():
        if name[-6:] == "_proxy":
            if value:
                proxies[name[:-6].lower()] = value
            else:
                proxies.pop(name[:-6].lower(), None)
    return proxies


def _proxy_info() -> dict[str, object]:
    environment = {
        name: scrub_url(value) for name, value in sorted(os.environ.items()) if name.lower() in _PROXY_VARIABLES
    }
    effective = {scheme: scrub_url(url) for scheme, url in sorted(system_proxies().items())}
    return {"environment": environment, "effective": effective}


def _battery_info() -> dict[str, object]:
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


def _late_displays() -> object:
    raise AssertionError("the displays group is filled in by PendingSnapshot.result()")


def _displays_info(monitors: Sequence[Mapping[str, object]] | None) -> dict[str, object]:
    if monitors is None:
        return {"count": None, "monitors": [], "note": "not passed in by the caller"}
    return {"count": len(monitors), "monitors": [dict(monitor) for monitor in monitors]}


def _processes_info(sample_seconds: float, deadline: float) -> dict[str, object]:
    started = time.monotonic()
    # Own Process objects, not process_iter's shared cache: the CPU baseline is ours alone.
    processes: list[psutil.Process] = []
    for pid in psutil.pids():
        if pid == 0:  # the idle "process" of Windows and macOS is not a program
            continue
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            process.cpu_percent(None)
            processes.append(process)
    first_pass = time.monotonic() - started
    sample_end = min(started + sample_seconds, deadline - 2 * first_pass - 0.01)
    time.sleep(max(0.0, sample_end - time.monotonic()))
    sampled_for = time.monotonic() - started
    total_memory = psutil.virtual_memory().total
    rows: list[tuple[psutil.Process, float, int]] = []
    for process in processes:
        with contextlib.suppress(psutil.Error), process.oneshot():
            rows.append((process, process.cpu_percent(None), process.memory_info().rss))
    by_cpu = sorted(rows, key=lambda row: row[1], reverse=True)[:TOP_PROCESSES]
    by_memory = sorted(rows, key=lambda row: row[2], reverse=True)[:TOP_PROCESSES]
    details: dict[int, dict[str, object]] = {}
    for process, cpu, rss in [*by_cpu, *by_memory]:
        if process.pid not in details:
            details[process.pid] = _process_row(process, cpu, rss, total_memory)
    return {
        "count": len(rows),
        "sample_seconds": round(sampled_for, 3),
        "logical_cores": psutil.cpu_count(logical=True),
        "by_cpu": [details[process.pid] for process, _, _ in by_cpu],
        "by_memory": [details[process.pid] for process, _, _ in by_memory],
    }


def _process_row(process: psutil.Process, cpu: float, rss: int, total_memory: int) -> dict[str, object]:
    name = user = command_line = None
    with contextlib.suppress(psutil.Error):
        name = process.name()
    with contextlib.suppress(psutil.Error):
        user = process.username()
    with contextlib.suppress(psutil.Error):
        # Scrubbed whole, then shortened: a cut could hide a secret from the patterns.
        command_line = scrub_command_line(" ".join(process.cmdline()))
        if len(command_line) > MAX_COMMAND_LINE_CHARS:
            command_line = command_line[: MAX_COMMAND_LINE_CHARS - 1] + "…"
    row: dict[str, object] = {
        "pid": process.pid,
        "name": name,
        "user": user,
        "cpu_percent": round(cpu, 1),
        "memory_rss": rss,
        "memory_percent": round(rss * 100 / total_memory, 1) if total_memory else None,
        "cmdline": command_line,
    }
    if process.pid == os.getpid():
        # The program taking the snapshot (busy capturing the screen while it samples) is no
        # sign of the problem the person reports: marked, so flags and readers can tell.
        row["showdesk"] = True
    return row


def _showdesk_info() -> dict[str, object]:
    return {
        "version": __version__,
        "python": platform.python_version(),
        "frozen": bool(getattr(sys, "frozen", False)),
    }


# ---------------------------------------------------------------- connectivity

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "smtp": 25, "smtps": 465, "submission": 587}


class _CheckFailedError(Exception):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason


def check_connectivity(
    url: str | None, deadline: float, ca_bundle: str | None = None, proxy: str | None = None
) -> dict[str, object]:
    """How the backend looks from here: DNS, TCP, TLS and HTTP timings, or the step that failed.

    For http(s) the request goes to ``{url}/healthz`` through ``proxy`` when given (the
    backend's own ``proxy`` setting, as its connector uses it), else through the proxy the
    system would use; any HTTP answer proves the backend reachable. Other schemes are checked
    up to TCP.
    """
    if not url:
        return {"checked": False, "reason": "no backend address is configured"}
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    shown_url = scrub_url(url)
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return {"checked": False, "url": shown_url, "reason": "the backend address has an invalid port"}
    if not parts.hostname or port is None:
        return {"checked": False, "url": shown_url, "reason": f"{scheme or 'this kind of'} backend is not checked"}
    host = parts.hostname
    result: dict[str, object] = {
        "checked": True,
        "url": shown_url,
        "reachable": False,
        "failed_step": None,
        "reason": None,
        "via_proxy": None,
        "address": None,
        "dns_ms": None,
        "tcp_ms": None,
        "tls_ms": None,
        "http_ms": None,
        "http_status": None,
    }
    via = None
    if scheme in ("http", "https"):
        # A configured proxy wins over the system's and its bypass list, as in the connectors.
        via = _proxy_url(proxy) if proxy else _proxy_for(parts)
    if via is not None:
        result["via_proxy"] = scrub_url(via.geturl())
        if via.scheme not in ("http", "https") or not via.hostname:
            return {**result, "checked": False, "reason": "the connection goes through a proxy this check cannot use"}
    try:
        _probe(result, parts, host, port, via, deadline, ca_bundle)
    except _CheckFailedError as failure:
        result["failed_step"] = failure.step
        result["reason"] = failure.reason
    return result


def _proxy_for(parts: SplitResult) -> SplitResult | None:
    proxies = system_proxies()
    proxy = proxies.get(parts.scheme.lower()) or proxies.get("all")
    if not proxy:
        return None
    import urllib.request  # only when a proxy is set: no_proxy and the OS's bypass list

    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return _proxy_url(proxy)


def _proxy_url(proxy: str) -> SplitResult:
    return urlsplit(proxy if "://" in proxy else f"http://{proxy}")


def _elapsed_ms(since: float) -> float:
    return round((time.monotonic() - since) * 1000, 1)


def _probe(
    result: dict[str, object],
    parts: SplitResult,
    host: str,
    port: int,
    proxy: SplitResult | None,
    deadline: float,
    ca_bundle: str | None,
) -> None:
    connect_host = proxy.hostname if proxy and proxy.hostname else host
    connect_port = (proxy.port or (443 if proxy.scheme == "https" else 80)) if proxy else port
    where = f"{'the proxy ' if proxy else ''}{connect_host} port {connect_port}"

    started = time.monotonic()
    try:
        infos = _call_before(
            deadline, partial(socket.getaddrinfo, _name_to_look_up(connect_host), connect_port, type=socket.SOCK_STREAM)
        )
    except TimeoutError:
        raise _CheckFailedError("dns", f"looking up {connect_host} got no answer in time") from None
    except OSError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise _CheckFailedError("dns", f"the name {connect_host} could not be resolved ({reason})") from None
    result["dns_ms"] = _elapsed_ms(started)

    connection = _connect(infos, where, deadline, result)
    try:
        if proxy is not None and parts.scheme.lower() == "https":
            _open_tunnel(connection, proxy, host, port, deadline)
        if parts.scheme.lower() == "https":
            connection = _tls(connection, host, deadline, ca_bundle, result)
        if parts.scheme.lower() in ("http", "https"):
            _http_round_trip(connection, parts, host, port, proxy, deadline, result)
        else:
            result["reachable"] = True
    finally:
        connection.close()


def _name_to_look_up(host: str) -> str | bytes:
    """``host`` as getaddrinfo should get it: an ASCII name (or an address) as bytes.

    Given text, getaddrinfo encodes it with the IDNA codec, whose import (with stringprep and
    unicodedata) costs every `showdesk capture` a few milliseconds; an ASCII name is its own
    IDNA form. A name with other letters still goes as text, for the codec to encode.
    """
    return host.encode("ascii") if host.isascii() else host


def _connect(infos: list[Any], where: str, deadline: float, result: dict[str, object]) -> socket.socket:
    failure = _CheckFailedError("tcp", f"no address to connect to for {where}")
    for family, kind, proto, _, address in infos:
        if time.monotonic() >= deadline:
            break
        connection = socket.socket(family, kind, proto)
        connection.settimeout(_remaining(deadline))
        started = time.monotonic()
        try:
            connection.connect(address)
        except ConnectionRefusedError:
            failure = _CheckFailedError("tcp", f"nothing is listening at {where} (connection refused)")
        except TimeoutError:
            failure = _CheckFailedError("tcp", f"{where} did not answer in time")
        except OSError as exc:
            failure = _CheckFailedError("tcp", f"cannot connect to {where}: {exc.strerror or exc}")
        else:
            result["tcp_ms"] = _elapsed_ms(started)
            result["address"] = address[0]
            return connection
        connection.close()
    raise failure


def _proxy_headers(proxy: SplitResult) -> dict[str, str]:
    if proxy.username is None:
        return {}
    import base64

    pair = f"{proxy.username}:{proxy.password or ''}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def _open_tunnel(connection: socket.socket, proxy: SplitResult, host: str, port: int, deadline: float) -> None:
    connection.settimeout(_remaining(deadline))
    headers = "".join(f"{name}: {value}\r\n" for name, value in _proxy_headers(proxy).items())
    try:
        connection.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer and len(answer) < 8192:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    except TimeoutError:
        raise _CheckFailedError("proxy", f"the proxy did not open a tunnel to {host} in time") from None
    except OSError as exc:
        raise _CheckFailedError("proxy", f"the proxy connection failed: {exc.strerror or exc}") from None
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    status = status_line.split(" ", 2)
    if len(status) < 2 or status[1] != "200":
        raise _CheckFailedError("proxy", f"the proxy refused a tunnel to {host}: {status_line or 'no answer'}")


def _tls(
    connection: socket.socket, host: str, deadline: float, ca_bundle: str | None, result: dict[str, object]
) -> socket.socket:
    import ssl

    started = time.monotonic()
    try:
        context = ssl.create_default_context(cafile=ca_bundle or None)
        connection.settimeout(_remaining(deadline))
        secured = context.wrap_socket(connection, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        raise _CheckFailedError(
            "tls", f"the certificate of {host} is not trusted here ({exc.verify_message})"
        ) from None
    except ssl.SSLError as exc:
        raise _CheckFailedError("tls", f"the secure connection to {host} failed ({exc.reason or exc})") from None
    except TimeoutError:
        raise _CheckFailedError("tls", f"the secure connection to {host} was not set up in time") from None
    except OSError as exc:
        raise _CheckFailedError("tls", f"the secure connection to {host} failed: {exc.strerror or exc}") from None
    result["tls_ms"] = _elapsed_ms(started)
    return secured


def _http_round_trip(
    connection: socket.socket,
    parts: SplitResult,
    host: str,
    port: int,
    proxy: SplitResult | None,
    deadline: float,
    result: dict[str, object],
) -> None:
    # One GET and its status line, written out like the CONNECT above: the check needs nothing
    # else of the answer, and http.client would add 15 ms of imports to every capture.
    path = parts.path.rstrip("/") + "/healthz"
    host_header = f"[{host}]" if ":" in host else host
    if port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host_header += f":{port}"
    headers = {"Host": host_header, "User-Agent": f"ShowDesk/{__version__} sysinfo", "Connection": "close"}
    if proxy is not None and parts.scheme.lower() == "http":
        # A plain-HTTP proxy takes the absolute address in the request line.
        path = f"http://{parts.netloc.rpartition('@')[2]}{path}"
        headers.update(_proxy_headers(proxy))
    if any(ord(c) < 33 or ord(c) > 126 for c in path):
        raise _CheckFailedError("http", "the backend address has characters a request line cannot hold")
    request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    connection.settimeout(_remaining(deadline))
    started = time.monotonic()
    try:
        connection.sendall((request + "\r\n").encode("ascii"))
        answer = b""
        while b"\r\n" not in answer and len(answer) < 8192:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    except TimeoutError:
        raise _CheckFailedError("http", f"{host} accepted the connection but sent no HTTP answer in time") from None
    except OSError as exc:
        raise _CheckFailedError("http", f"{host} did not answer over HTTP ({describe_error(exc)})") from None
    result["http_ms"] = _elapsed_ms(started)
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
        shown = status_line[:80] or "nothing"
        raise _CheckFailedError("http", f"{host} did not answer over HTTP (it sent {shown!r})")
    status = int(code)
    result["http_status"] = status
    result["reachable"] = True
    if status >= 500:
        result["reason"] = f"the backend answered HTTP {status} {reason}".strip()


# ---------------------------------------------------------------- text for people


def format_text(snapshot: Mapping[str, object]) -> str:
    """A readable summary, flags first; tolerates missing groups and errors (older clients)."""
    lines = [_title(snapshot), ""]
    flags = compute_flags(snapshot)
    lines.append("Flags" if flags else "Flags: none")
    lines.extend(f"  [{flag.severity}] {flag.message}" for flag in flags)
    for name, label in GROUPS.items():
        if name not in snapshot:
            continue
        lines.append("")
        lines.append(label)
        data = snapshot[name]
        if isinstance(data, Mapping) and "error" in data and len(data) == 1:
            lines.append(f"  not available: {data['error']}")
            continue
        try:
            body = _FORMATTERS[name](data)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError):
            body = ["  (in a shape this version cannot read)"]
        lines.extend(body or ["  nothing reported"])
    extra = [name for name in snapshot if name not in GROUPS]
    for name in extra:
        lines.extend(["", name, f"  {snapshot[name]}"])
    return "\n".join(lines) + "\n"


def _title(snapshot: Mapping[str, object]) -> str:
    showdesk = snapshot.get("showdesk")
    if isinstance(showdesk, Mapping) and showdesk.get("collected_at"):
        took = showdesk.get("elapsed_ms")
        took_text = f" in {took} ms" if isinstance(took, int | float) else ""
        return f"System information, collected {showdesk['collected_at']}{took_text}"
    return "System information"


def _join(*parts: object) -> str:
    return ", ".join(str(part) for part in parts if part not in (None, "", []))


def _fmt_os(data: Any) -> list[str]:
    uptime = data.get("uptime_seconds")
    return [
        f"  {_join(data.get('name'), data.get('architecture'))} (kernel {data.get('kernel')})",
        "  " + _join(f"host {data.get('hostname')}", f"user {data.get('user')}"),
        f"  up {format_duration(uptime)}" if isinstance(uptime, int | float) else "  uptime unknown",
    ]


def _fmt_cpu(data: Any) -> list[str]:
    cores = f"{data.get('physical_cores')} cores, {data.get('logical_cores')} threads"
    load = data.get("load_average")
    load_text = "load " + " ".join(str(x) for x in load) if isinstance(load, list) and load else None
    busy = f"{data.get('percent')} % busy" if data.get("percent") is not None else None
    return [f"  {data.get('model') or 'unknown model'}", f"  {_join(cores, load_text, busy)}"]


def _fmt_memory(data: Any) -> list[str]:
    lines = [
        f"  {format_bytes(data.get('available'))} available of {format_bytes(data.get('total'))}"
        f" ({data.get('percent')} % used)"
    ]
    swap = data.get("swap")
    if isinstance(swap, Mapping) and swap.get("total"):
        lines.append(
            f"  swap {format_bytes(swap.get('used'))} used of {format_bytes(swap.get('total'))}"
            f" ({swap.get('percent')} %)"
        )
    return lines


def _fmt_disks(data: Any) -> list[str]:
    lines = []
    for disk in data:
        if "error" in disk:
            lines.append(f"  {disk.get('mount')}: {disk['error']}")
            continue
        read_only = ", read-only" if disk.get("read_only") else ""
        lines.append(
            f"  {disk.get('mount')} ({disk.get('filesystem')}{read_only}): {format_bytes(disk.get('free'))} free"
            f" of {format_bytes(disk.get('total'))} ({disk.get('percent')} % used)"
        )
    return lines


def _fmt_network(data: Any) -> list[str]:
    lines = []
    for interface in data.get("interfaces", []):
        addresses = [a.get("address") for a in interface.get("addresses", []) if a.get("family") in ("IPv4", "IPv6")]
        state = "up" if interface.get("up") else "down"
        speed = f"{interface['speed_mbps']} Mb/s" if interface.get("speed_mbps") else None
        lines.append(f"  {interface.get('name')}: {_join(state, speed, ' '.join(addresses))}")
    routes = data.get("default_routes")
    if isinstance(routes, list):
        shown = [f"{r.get('gateway') or 'direct'} via {r.get('interface')}" for r in routes]
        lines.append(f"  default route: {'; '.join(shown) if shown else 'none'}")
    dns = data.get("dns_servers")
    if isinstance(dns, list):
        upstream = data.get("dns_upstream_servers")
        upstream_text = f" (upstream {', '.join(upstream)})" if isinstance(upstream, list) and upstream else ""
        lines.append(f"  DNS servers: {', '.join(dns) or 'none'}{upstream_text}")
    return lines


def _fmt_proxy(data: Any) -> list[str]:
    effective = data.get("effective") or {}
    if not effective:
        return ["  no proxy"]
    return [f"  {scheme}: {url}" for scheme, url in effective.items()]


def _fmt_battery(data: Any) -> list[str]:
    if not data.get("present"):
        return ["  no battery"]
    plugged = "plugged in" if data.get("plugged_in") else "on battery"
    left = data.get("seconds_left")
    left_text = f"{format_duration(left)} left" if isinstance(left, int) and not data.get("plugged_in") else None
    return ["  " + _join(f"{data.get('percent')} %", plugged, left_text)]


def _fmt_displays(data: Any) -> list[str]:
    monitors = data.get("monitors") or []
    if not monitors:
        return [f"  {data.get('note') or 'none reported'}"]
    lines = []
    for monitor in monitors:
        geometry = monitor.get("geometry") if isinstance(monitor.get("geometry"), Mapping) else monitor
        size = f"{geometry.get('width')}×{geometry.get('height')}"
        scale = monitor.get("scale")
        name = monitor.get("name") or f"screen {monitor.get('index', '?')}"
        lines.append("  " + _join(name, size, f"scale {scale}" if scale else None))
    return lines


def _fmt_processes(data: Any) -> list[str]:
    lines = ["  by CPU (100 % = one core):"]
    lines.extend(
        f"    {p.get('cpu_percent')} %  {p.get('name')} (pid {p.get('pid')})" for p in data.get("by_cpu", [])[:5]
    )
    lines.append("  by memory:")
    lines.extend(
        f"    {format_bytes(p.get('memory_rss'))}  {p.get('name')} (pid {p.get('pid')})"
        for p in data.get("by_memory", [])[:5]
    )
    return lines


def _fmt_showdesk(data: Any) -> list[str]:
    return [f"  version {data.get('version')}, Python {data.get('python')}"]


def _fmt_connectivity(data: Any) -> list[str]:
    if not data.get("checked"):
        return [f"  not checked: {data.get('reason')}"]
    timings = _join(
        *(
            f"{label} {data[key]} ms"
            for label, key in (("DNS", "dns_ms"), ("TCP", "tcp_ms"), ("TLS", "tls_ms"), ("HTTP", "http_ms"))
            if isinstance(data.get(key), int | float)
        )
    )
    proxy = f" through proxy {data['via_proxy']}" if data.get("via_proxy") else ""
    if data.get("reachable"):
        status = f", HTTP {data['http_status']}" if data.get("http_status") else ""
        return [f"  {data.get('url')} reachable{proxy}{status}", f"  {timings}" if timings else "  (no timings)"]
    lines = [f"  {data.get('url')} NOT reachable{proxy}: {data.get('reason')}"]
    return [*lines, f"  {timings}"] if timings else lines


_FORMATTERS: Final[dict[str, Callable[[Any], list[str]]]] = {
    "os": _fmt_os,
    "cpu": _fmt_cpu,
    "memory": _fmt_memory,
    "disks": _fmt_disks,
    "network": _fmt_network,
    "proxy": _fmt_proxy,
    "battery": _fmt_battery,
    "displays": _fmt_displays,
    "processes": _fmt_processes,
    "showdesk": _fmt_showdesk,
    "connectivity": _fmt_connectivity,
}
