"""What the package loads when: a snapshot started and held (as `showdesk capture` holds it while
it opens and grabs the screen) loads the collectors that do not sample only once released, and
every name the package exports is the one its module defines, however it was first imported.

Each test runs in a fresh interpreter: what is loaded is the point.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The modules of the collectors that do not sample, and of the text summary.
NOT_SAMPLING = (
    "agent.sysinfo.connectivity",
    "agent.sysinfo.network",
    "agent.sysinfo.network_context",
    "agent.sysinfo.displays",
    "agent.sysinfo.text",
)


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_held_snapshot_loads_the_collectors_that_do_not_sample_when_released() -> None:
    code = (
        "import json, sys, threading\n"
        "from agent import sysinfo\n"
        "hold = threading.Event()\n"
        # A long bound: the hold lasts up to half of it, far longer than this script's next line.
        "pending = sysinfo.start(sysinfo.SysinfoOptions(timeout=60, sample_seconds=0.05), hold=hold)\n"
        "held = sorted(m for m in sys.modules if m.startswith('agent.sysinfo.'))\n"
        "snapshot = pending.result([{'index': 1, 'geometry': {'left': 0, 'top': 0, 'width': 8, 'height': 6}}])\n"
        "done = sorted(m for m in sys.modules if m.startswith('agent.sysinfo.'))\n"
        "print(json.dumps({'held': held, 'done': done, 'snapshot': snapshot}))\n"
    )
    seen = json.loads(run_python(code))
    assert not set(NOT_SAMPLING) & set(seen["held"])
    assert {"agent.sysinfo.collect", "agent.sysinfo.collectors", "agent.sysinfo.processes"} <= set(seen["held"])
    assert {"agent.sysinfo.connectivity", "agent.sysinfo.network", "agent.sysinfo.displays"} <= set(seen["done"])
    snapshot = seen["snapshot"]
    for group in ("network", "proxy", "connectivity", "displays"):
        assert "error" not in snapshot[group], (group, snapshot[group])
    assert snapshot["displays"]["count"] == 1
    assert snapshot["connectivity"]["verdict"] == "not_checked"  # no backend address in these options
    assert isinstance(snapshot["network"]["interfaces"], list) and "effective" in snapshot["proxy"]


def test_importing_the_package_loads_no_collector_that_does_not_sample() -> None:
    code = "import sys\nimport agent.sysinfo\nprint(' '.join(sorted(sys.modules)))\n"
    loaded = set(run_python(code).split())
    assert "agent.sysinfo.collect" in loaded
    assert not set(NOT_SAMPLING) & loaded


def test_every_export_is_its_modules_own_whichever_import_comes_first() -> None:
    code = (
        "import importlib, types\n"
        # The agent and the command line import the collect module by its name first.
        "from agent.sysinfo.collect import SnapshotCache\n"
        "from agent import sysinfo\n"
        "from agent.sysinfo import routes\n"  # a submodule not loaded yet is still found
        "assert isinstance(routes, types.ModuleType)\n"
        "homes = {'check_connectivity': 'connectivity', 'MAX_INTERFACES': 'network',\n"
        "         'system_proxies': 'network', 'format_text': 'text', 'collect': 'collect',\n"
        "         'start': 'collect', 'GROUPS': 'groups', 'MAX_DISKS': 'collectors'}\n"
        "for name, home in homes.items():\n"
        "    assert getattr(sysinfo, name) is getattr(importlib.import_module('agent.sysinfo.' + home), name), name\n"
        "assert set(sysinfo.__all__) <= set(dir(sysinfo))\n"
        "for name in sysinfo.__all__:\n"
        "    getattr(sysinfo, name)\n"
        "assert not isinstance(sysinfo.collect, types.ModuleType)\n"
        "try:\n"
        "    sysinfo.no_such_name\n"
        "except AttributeError as exc:\n"
        "    print(exc)\n"
    )
    assert run_python(code).strip() == "module 'agent.sysinfo' has no attribute 'no_such_name'"
