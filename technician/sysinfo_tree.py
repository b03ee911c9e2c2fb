"""The system-information snapshot as a tree for people: flags first with their evidence, then the groups.

Pure data (no Qt): the viewer turns the nodes into tree items and hides what a search does not match.
Rows are labelled in words ("Name lookup", not ``dns_ms``) with units in the values; a search
still finds a row by its key (``Node.raw_key``). The groups a flag points at are marked
``expanded``, and the busiest programs come sorted by what the flags are about (memory first
for a memory flag).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from agent.flags import Flag, format_bytes, format_duration
from agent.sysinfo import GROUPS

MAX_CHILDREN: Final = 500  # a hostile snapshot must not make a tree of a million rows
MAX_VALUE_CHARS: Final = 400
_BYTE_KEYS: Final = frozenset({"total", "used", "free", "available", "memory_rss", "rss", "size"})
_LABEL_KEYS: Final = ("label", "name", "interface", "mount", "server", "device", "family", "address")
FLAGS_LABEL: Final = "Flags"
# The groups a flag's subject also lives in: the programs behind a memory or processor flag.
_ALSO_OPENS: Final = {"memory_pressure": "processes", "cpu_saturated": "processes"}
_STATE_WORDS: Final = {
    "ok": "fine",
    "failed": "FAILED",
    "skipped": "not needed",
    "not_checked_in_time": "not checked in time",
}

# Keys as people say them; keys not here are spelled out from their parts (see _label).
_WORDS: Final = {
    "summary": "Verdict",
    "verdict": "Verdict code",
    "url": "Help desk address",
    "failed_step": "Failed step",
    "reason": "Reason",
    "via_proxy": "Through the proxy",
    "by_address": "By its last known address",
    "name_servers": "Name servers asked",
    "name_server_answers": "What each name server said",
    "dns_ms": "Name lookup",
    "tcp_ms": "Connection",
    "tls_ms": "Secure connection",
    "http_ms": "Help desk's answer",
    "http_status": "HTTP status",
    "server_date": "Help desk's time",
    "clock_offset_seconds": "Clock offset from the help desk",
    "offset_seconds": "Offset from the help desk",
    "server_time": "Help desk's time",
    "compared_with": "Compared with",
    "local_time": "Local time",
    "utc_offset_minutes": "Offset from UTC (minutes)",
    "uptime_seconds": "Running for",
    "boot_time": "Started at",
    "by_cpu": "By processor use",
    "by_memory": "By memory use",
    "cpu_percent": "Processor (of one core)",
    "waiting_percent": "Waiting for a core",
    "memory_rss": "Resident memory",
    "memory_percent": "Share of memory",
    "cmdline": "Command line",
    "pid": "Process id",
    "count": "Number",
    "logical_cores": "Logical cores",
    "physical_cores": "Physical cores",
    "load_average": "Load (1, 5, 15 minutes)",
    "load_per_core": "Load per core",
    "percent": "Used",
    "percent_per_cpu": "Busy per core",
    "pressure_some_avg10": "Waited for memory (last 10 s)",
    "in_bytes_per_second": "Swapped in per second",
    "out_bytes_per_second": "Swapped out per second",
    "default_route_known": "Default route known",
    "default_routes": "Default routes",
    "default_route_source": "Routes read from",
    "default_gateways": "Default gateways",
    "dns_servers": "DNS servers",
    "dns_upstream_servers": "Upstream DNS servers",
    "dns_source": "DNS servers read from",
    "interfaces_up": "Interfaces up",
    "vpn": "VPN interfaces",
    "wifi": "Wi-Fi",
    "ssid": "Network name",
    "signal_dbm": "Signal",
    "quality_percent": "Link quality",
    "speed_mbps": "Speed",
    "mtu": "MTU",
    "read_only": "Read-only",
    "holds": "Holds",
    "physical_size_mm": "Size (mm)",
    "seconds_left": "Time left",
    "plugged_in": "Plugged in",
    "sample_seconds": "Measured over",
    "elapsed_ms": "Collected in",
    "timeout_s": "Time bound",
    "collected_at": "Collected at",
    "no_proxy": "Not for",
}
# The same key meaning something else in a group of its own.
_GROUP_WORDS: Final = {"battery": {"percent": "Charge"}, "cpu": {"percent": "Busy"}, "clock": {"timezone": "Time zone"}}
_ACRONYMS: Final = {"dns", "tcp", "tls", "http", "https", "cpu", "vpn", "ip", "ipv4", "ipv6", "mac", "os", "utc", "ftp"}
_UNITS: Final = {"ms": "ms", "mbps": "Mb/s", "dbm": "dBm", "mm": "mm", "percent": "%"}


@dataclass
class Node:
    key: str
    value: str = ""
    children: list[Node] = field(default_factory=list)
    severity: str | None = None  # set on flag rows
    raw_key: str | None = None  # the snapshot's own key, for searching by it
    expanded: bool = False  # a flag points here: shown opened

    def matches(self, text: str) -> bool:
        needle = text.casefold()
        return any(needle in part.casefold() for part in (self.key, self.value, self.raw_key or ""))


def build_tree(snapshot: Mapping[str, object] | None, flags: Sequence[Flag]) -> list[Node]:
    """Top-level nodes: the flags (always first, even when there are none), then each group."""
    flag_node = Node(
        FLAGS_LABEL,
        f"{len(flags)} found" if flags else "none",
        [_flag_node(flag) for flag in flags],
        expanded=True,
    )
    nodes = [flag_node]
    if not snapshot:
        nodes.append(Node("System information", "not sent with this report"))
        return nodes
    opened = {flag.group for flag in flags} | {_ALSO_OPENS[flag.code] for flag in flags if flag.code in _ALSO_OPENS}
    memory_first = any(flag.code == "memory_pressure" for flag in flags)
    names = [name for name in GROUPS if name in snapshot] + sorted(n for n in snapshot if n not in GROUPS)
    for name in names:
        value = snapshot[name]
        label = GROUPS.get(name, name)
        if isinstance(value, Mapping) and "error" in value and len(value) == 1:
            nodes.append(Node(label, f"not collected: {value['error']}", raw_key=name))
            continue
        if name == "processes" and isinstance(value, Mapping):
            # The rankings before the counts, and the one the flags are about first.
            rankings = ("by_memory", "by_cpu") if memory_first else ("by_cpu", "by_memory")
            value = {**{key: value[key] for key in rankings if key in value}, **value}
        if name == "connectivity" and isinstance(value, Mapping) and "summary" in value:
            value = {"summary": value["summary"], **value}
        children = _children(value, group=name)
        nodes.append(Node(label, _group_summary(name, value), children, raw_key=name, expanded=name in opened))
    return nodes


def _flag_node(flag: Flag) -> Node:
    evidence = [Node(label, _cut(value)) for label, value in flag.evidence]
    evidence.append(Node("See", GROUPS.get(flag.group, flag.group)))
    return Node(flag.severity, flag.message, evidence, severity=flag.severity, raw_key=flag.code)


def _group_summary(name: str, value: object) -> str:
    if isinstance(value, Mapping):
        if name == "connectivity" and isinstance(value.get("summary"), str):
            return _cut(value["summary"])
        if name == "clock" and isinstance(value.get("offset_seconds"), int | float):
            return _format("offset_seconds", value["offset_seconds"])
        if name == "displays" and isinstance(value.get("arrangement"), str):
            return _cut(value["arrangement"])
        return ""
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    return _format(None, value)


def _label(key: str, group: str | None = None) -> str:
    special = _GROUP_WORDS.get(group or "", {})
    if key in special:
        return special[key]
    if key in _WORDS:
        return _WORDS[key]
    parts = key.split("_")
    unit = _UNITS.get(parts[-1]) if len(parts) > 1 else None
    if unit is not None:
        parts = parts[:-1]
    words = [part.upper() if part in _ACRONYMS else part for part in parts if part]
    text = " ".join(words) or key
    return text[:1].upper() + text[1:]


def _children(value: object, depth: int = 0, group: str | None = None) -> list[Node]:
    if depth > 12:
        return [Node("…", "nested too deep to show")]
    items: list[tuple[str, str | None, object]]
    if isinstance(value, Mapping):
        items = [(_label(str(k), group if depth == 0 else None), str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(_item_label(i, v), None, v) for i, v in enumerate(value)]
    else:
        return []
    nodes = []
    for label, key, item in items[:MAX_CHILDREN]:
        if key == "steps" and isinstance(item, list):
            nodes.append(Node(label, f"{len(item)} steps", [_step_node(step) for step in item], raw_key=key))
        elif (isinstance(item, Mapping) and item) or (isinstance(item, list) and not _scalars(item)):
            nodes.append(Node(label, _row_summary(item), _children(item, depth + 1), raw_key=key))
        else:
            nodes.append(Node(label, _format(key, item), raw_key=key))
    if len(items) > MAX_CHILDREN:
        nodes.append(Node("…", f"{len(items) - MAX_CHILDREN} more not shown"))
    return nodes


def _scalars(value: list[object]) -> bool:
    """A list of plain values (DNS servers, per-core loads): one row, not a row per value."""
    return all(isinstance(item, str | int | float) for item in value)


def _step_node(step: object) -> Node:
    if not isinstance(step, Mapping):
        return Node("Step", _format(None, step))
    state = _STATE_WORDS.get(str(step.get("state")), str(step.get("state")))
    took = f" ({step['ms']:g} ms)" if isinstance(step.get("ms"), int | float) else ""
    return Node(str(step.get("label") or step.get("step")), _cut(f"{state}: {step.get('detail')}{took}"),
                raw_key=str(step.get("step")))  # fmt: skip


def _row_summary(value: Mapping[str, object] | list[object]) -> str:
    """A process row's gist on its own line: what it takes, so a list reads without opening rows."""
    if isinstance(value, Mapping) and "cpu_percent" in value and "memory_rss" in value:
        parts = [f"{value['cpu_percent']} % of one core"]
        if isinstance(value.get("waiting_percent"), int | float) and value["waiting_percent"]:
            parts.append(f"waiting {value['waiting_percent']} %")
        parts.append(format_bytes(value["memory_rss"]))
        return ", ".join(parts)
    if isinstance(value, Mapping):
        return ""
    return f"{len(value)} item{'s' if len(value) != 1 else ''}"


def _item_label(index: int, value: object) -> str:
    if isinstance(value, Mapping):
        for key in _LABEL_KEYS:
            label = value.get(key)
            if isinstance(label, str | int) and not isinstance(label, bool) and str(label):
                pid = value.get("pid")
                return f"{label} (pid {pid})" if key == "name" and isinstance(pid, int) else str(label)
    return f"#{index + 1}"


def _format(key: str | None, value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and key is not None:
        if key in _BYTE_KEYS or key.endswith("_bytes"):
            return f"{format_bytes(value)} ({value:,})"
        if key.endswith("_bytes_per_second"):
            return f"{format_bytes(value)}/s"
        if key in ("offset_seconds", "clock_offset_seconds"):
            direction = "ahead" if value > 0 else "behind"
            amount = format_duration(abs(value)) if abs(value) >= 3600 else f"{abs(value):g} s"
            return f"{amount} {direction}" if value else "0 s"
        if key == "sample_seconds":
            return f"{value:g} s"
        if (key.endswith("_seconds") or key == "seconds_left") and key != "sample_seconds":
            return format_duration(value)
        if key == "percent" or key.endswith("_percent"):
            return f"{value:g} %"
        unit = _UNITS.get(key.rsplit("_", 1)[-1]) if "_" in key else None
        if unit is not None:
            return f"{value:g} {unit}"
    if isinstance(value, list | Mapping):
        if not value:
            return "none"
        if isinstance(value, list) and _scalars(value):
            unit = " %" if key and (key == "percent_per_cpu" or key.endswith("_percent")) else ""
            return _cut(", ".join(f"{item}{unit}" for item in value))
        return _cut(str(value))
    return _cut(str(value))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"
