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

Callers import from here; the modules are the package's seams:

- ``collect``: the options, starting the collectors and the bounded wait (``PendingSnapshot``);
- ``bounded``: running tasks on daemon threads up to a deadline;
- ``collectors``: the machine's groups (os, cpu, memory, disks, battery, displays, showdesk);
- ``processes``: the busiest programs, from two cheap passes that finish under load;
- ``network``: interfaces, routes, DNS and the system's proxies, with ``network_context`` (Wi-Fi,
  VPN interfaces, the desktop's proxy settings);
- ``displays``: the monitors the caller passes, named from the desktop's list where needed, and
  their arrangement;
- ``connectivity``: the connection check to the backend, a bounded decision procedure, with
  ``routes`` (the kernel's route, the gateway), ``dns_query`` (asking each name server) and
  ``address_memory`` (the backend's last known address);
- ``groups``: the group names and ``without_groups`` (``clock`` is derived from the connection
  check's answer: the reporter's local time and its offset from the help desk's);
- ``text``: the summary for people (``format_text``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from agent.sysinfo.bounded import Collector, describe_error, run_bounded
from agent.sysinfo.collect import (
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
    MIN_SAMPLE_SECONDS,
    PendingSnapshot,
    SysinfoOptions,
    collect,
    cpu_sample_seconds,
    start,
)
from agent.sysinfo.collectors import MAX_DISKS
from agent.sysinfo.groups import GROUPS, without_groups
from agent.sysinfo.processes import MAX_COMMAND_LINE_CHARS, TOP_PROCESSES

if TYPE_CHECKING:
    from agent.sysinfo.connectivity import check_connectivity
    from agent.sysinfo.network import MAX_INTERFACES, system_proxies
    from agent.sysinfo.text import format_text

# Loaded when first asked for (module ``__getattr__``), not with the package: a snapshot being
# started (`showdesk capture`, before its grab) needs none of them, and they pull in about
# 10 ms of modules. The snapshot's own collectors import them when they run (see collect).
# What ``collect`` exports stays eager: its module's name is also the function's, and the
# package attribute must be the function whichever import comes first.
_LAZY_EXPORTS: Final = {
    "check_connectivity": "agent.sysinfo.connectivity",
    "MAX_INTERFACES": "agent.sysinfo.network",
    "system_proxies": "agent.sysinfo.network",
    "format_text": "agent.sysinfo.text",
}


def __getattr__(name: str) -> Any:
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        # Also how ``from agent.sysinfo import routes`` finds a submodule not imported yet.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # asked once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_EXPORTS})


__all__ = [
    "DEFAULT_TIMEOUT",
    "GROUPS",
    "MAX_COMMAND_LINE_CHARS",
    "MAX_DISKS",
    "MAX_INTERFACES",
    "MAX_TIMEOUT",
    "MIN_SAMPLE_SECONDS",
    "TOP_PROCESSES",
    "Collector",
    "PendingSnapshot",
    "SysinfoOptions",
    "check_connectivity",
    "collect",
    "cpu_sample_seconds",
    "describe_error",
    "format_text",
    "run_bounded",
    "start",
    "system_proxies",
    "without_groups",
]
