"""The groups of a snapshot: their names for people, and dropping the ones switched off.

A group is a top-level key of a snapshot, so a UI can offer a switch per group and a reader of
an older snapshot can skip what it does not know.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final

GROUPS: Final[dict[str, str]] = {
    "os": "Operating system",
    "clock": "Clock",
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


def check_group_names(names: Collection[str], known: Collection[str]) -> None:
    if isinstance(names, str):
        raise TypeError("group names must be a collection of names, not one string")
    unknown = sorted(str(name) for name in names if name not in known)
    if unknown:
        raise ValueError(f"unknown system-information group {', '.join(map(repr, unknown))}; known: {', '.join(known)}")


def without_groups(snapshot: Mapping[str, object], excluded: Collection[str]) -> dict[str, object]:
    """A copy of ``snapshot`` without the named groups (the person switched them off)."""
    check_group_names(excluded, [*GROUPS, *snapshot])
    return {name: value for name, value in snapshot.items() if name not in excluded}
