"""The system-information snapshot as a tree for people: flags first, then the groups by their names.

Pure data (no Qt): the viewer turns the nodes into tree items and hides what a search does not match.
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
_LABEL_KEYS: Final = ("name", "mount", "device", "family", "address", "interface")
FLAGS_LABEL: Final = "Flags"


@dataclass
class Node:
    key: str
    value: str = ""
    children: list[Node] = field(default_factory=list)
    severity: str | None = None  # set on flag rows

    def matches(self, text: str) -> bool:
        needle = text.casefold()
        return needle in self.key.casefold() or needle in self.value.casefold()


def build_tree(snapshot: Mapping[str, object] | None, flags: Sequence[Flag]) -> list[Node]:
    """Top-level nodes: the flags (always first, even when there are none), then each group."""
    flag_node = Node(
        FLAGS_LABEL,
        f"{len(flags)} found" if flags else "none",
        [Node(flag.severity, flag.message, severity=flag.severity) for flag in flags],
    )
    nodes = [flag_node]
    if not snapshot:
        nodes.append(Node("System information", "not sent with this report"))
        return nodes
    names = [name for name in GROUPS if name in snapshot] + sorted(n for n in snapshot if n not in GROUPS)
    for name in names:
        value = snapshot[name]
        label = GROUPS.get(name, name)
        if isinstance(value, Mapping) and "error" in value and len(value) == 1:
            nodes.append(Node(label, f"not collected: {value['error']}"))
            continue
        nodes.append(Node(label, _summary(value), _children(value)))
    return nodes


def _summary(value: object) -> str:
    if isinstance(value, Mapping):
        return ""
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    return _format(None, value)


def _children(value: object, depth: int = 0) -> list[Node]:
    if depth > 12:
        return [Node("…", "nested too deep to show")]
    items: list[tuple[str, object]]
    if isinstance(value, Mapping):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(_item_label(i, v), v) for i, v in enumerate(value)]
    else:
        return []
    nodes = []
    for key, item in items[:MAX_CHILDREN]:
        if isinstance(item, Mapping | list) and item:
            nodes.append(Node(key, _summary(item), _children(item, depth + 1)))
        else:
            nodes.append(Node(key, _format(key, item)))
    if len(items) > MAX_CHILDREN:
        nodes.append(Node("…", f"{len(items) - MAX_CHILDREN} more not shown"))
    return nodes


def _item_label(index: int, value: object) -> str:
    if isinstance(value, Mapping):
        for key in _LABEL_KEYS:
            label = value.get(key)
            if isinstance(label, str | int) and not isinstance(label, bool) and str(label):
                return str(label)
    return f"#{index + 1}"


def _format(key: str | None, value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and key is not None:
        if key in _BYTE_KEYS or key.endswith("_bytes"):
            return f"{format_bytes(value)} ({value:,})"
        if (key.endswith("_seconds") or key == "seconds_left") and key != "sample_seconds":
            return format_duration(value)
        if key == "percent" or key.endswith("_percent"):
            return f"{value:g} %"
    if isinstance(value, list | Mapping):
        return "none" if not value else str(value)
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"
