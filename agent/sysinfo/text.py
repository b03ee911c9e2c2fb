"""System information as text for people: flags first, then one block per group.

``showdesk sysinfo`` prints it and the connectors put it in a ticket's body. It reads snapshots
of older and newer clients too: a group in a shape it cannot read is said so, never raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from agent.flags import Flag, compute_flags, format_bytes, format_duration
from agent.sysinfo.groups import GROUPS


def format_text(snapshot: Mapping[str, object], *, flags: Sequence[Flag] | None = None) -> str:
    """A readable summary, flags first; tolerates missing groups and errors (older clients).

    ``flags``: the snapshot's ``compute_flags``, where the caller has them already.
    """
    lines = [_title(snapshot), ""]
    if flags is None:
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
    per_core = f"{data['load_per_core']}× the cores" if data.get("load_per_core") is not None else None
    return [f"  {data.get('model') or 'unknown model'}", f"  {_join(cores, load_text, per_core, busy)}"]


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
        moving = (swap.get("in_bytes_per_second") or 0) + (swap.get("out_bytes_per_second") or 0)
        if moving:
            lines.append(f"  swapping {format_bytes(moving)}/s now")
    return lines


def _fmt_disks(data: Any) -> list[str]:
    lines = []
    for disk in data:
        if "error" in disk:
            lines.append(f"  {disk.get('mount')}: {disk['error']}")
            continue
        read_only = ", read-only" if disk.get("read_only") else ""
        holds = disk.get("holds")
        holding = f", holds the {' and the '.join(holds)}" if isinstance(holds, list) and holds else ""
        lines.append(
            f"  {disk.get('mount')} ({disk.get('filesystem')}{read_only}): {format_bytes(disk.get('free'))} free"
            f" of {format_bytes(disk.get('total'))} ({disk.get('percent')} % used){holding}"
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
    for wifi in data.get("wifi") or []:
        signal = f"signal {wifi['signal_dbm']:g} dBm" if isinstance(wifi.get("signal_dbm"), int | float) else None
        quality = (
            f"quality {wifi['quality_percent']:g} %" if isinstance(wifi.get("quality_percent"), int | float) else None
        )
        lines.append(f"  Wi-Fi {wifi.get('interface')}: {_join(wifi.get('ssid'), signal, quality) or 'no details'}")
    for vpn in data.get("vpn") or []:
        state = "up" if vpn.get("up") else "down"
        lines.append(f"  VPN {vpn.get('interface')}: {_join(state, ' '.join(vpn.get('addresses') or []))}")
    return lines


def _fmt_proxy(data: Any) -> list[str]:
    effective = data.get("effective") or {}
    lines = [f"  {scheme}: {url}" for scheme, url in effective.items()] or ["  no proxy"]
    for desktop, settings in (data.get("desktop") or {}).items():
        shown = _join(*(f"{key} {value}" for key, value in settings.items() if key not in ("mode", "source")))
        lines.append(f"  {desktop.upper()} desktop: {settings.get('mode')}{': ' + shown if shown else ''}")
    return lines


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
        place = f"at ({geometry.get('left')}, {geometry.get('top')})" if geometry.get("left") is not None else None
        primary = "primary" if monitor.get("primary") else None
        lines.append("  " + _join(name, size, f"scale {scale}" if scale else None, place, primary))
    if data.get("arrangement"):
        lines.append(f"  {data['arrangement']}")
    return lines


def _fmt_processes(data: Any) -> list[str]:
    lines = ["  by CPU (100 % = one core):"]
    for p in data.get("by_cpu", [])[:5]:
        waiting = p.get("waiting_percent")
        waits = f", waiting for a core {waiting} %" if isinstance(waiting, int | float) and waiting >= 10 else ""
        lines.append(f"    {p.get('cpu_percent')} %  {p.get('name')} (pid {p.get('pid')}){waits}")
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
    steps = data.get("steps")
    if isinstance(data.get("summary"), str) and isinstance(steps, list):
        lines = [f"  {data.get('url')}: {data['summary']}"]
        lines.extend(f"    {step.get('label')}: {step.get('state')} — {step.get('detail')}" for step in steps)
        return lines
    # A snapshot of an older client: its reachable / reason fields.
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


def _fmt_clock(data: Any) -> list[str]:
    lines = [f"  local time {data.get('local_time')} ({data.get('timezone')})"]
    offset = data.get("offset_seconds")
    if isinstance(offset, int | float):
        direction = "ahead of" if offset > 0 else "behind"
        lines.append(f"  {abs(offset):.0f} s {direction} the help desk (its time {data.get('server_time')})")
    else:
        lines.append(f"  {data.get('note') or 'not compared with the help desk'}")
    return lines


_FORMATTERS: Final[dict[str, Callable[[Any], list[str]]]] = {
    "os": _fmt_os,
    "clock": _fmt_clock,
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
