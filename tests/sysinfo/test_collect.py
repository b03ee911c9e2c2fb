"""Real collection on this machine, the time bound, failing collectors, group switches."""

from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

import agent
from agent.flags import Flag, compute_flags
from agent.sysinfo import GROUPS, SysinfoOptions, collect, format_text, without_groups

# Generous bound for tests that check content: a loaded CI machine must not turn a
# structure test into a timing test. The bound itself is tested with blocked collectors.
CONTENT_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def snapshot() -> dict[str, object]:
    return collect(SysinfoOptions(timeout=CONTENT_TIMEOUT))


def _group(snapshot: dict[str, object], name: str) -> dict[str, object]:
    value = snapshot[name]
    assert isinstance(value, dict), value
    assert "error" not in value, value
    return value


def test_every_group_is_present_and_the_snapshot_is_strict_json(snapshot: dict[str, object]) -> None:
    assert list(snapshot) == list(GROUPS)
    text = json.dumps(snapshot, allow_nan=False)
    assert json.loads(text) == snapshot
    errors = {name: value for name, value in snapshot.items() if isinstance(value, dict) and "error" in value}
    assert errors == {}


def test_os_group_matches_the_machine(snapshot: dict[str, object]) -> None:
    system = _group(snapshot, "os")
    assert system["hostname"] == socket.gethostname()
    assert system["system"] == platform.system()
    assert system["release"] == platform.release()
    uptime = system["uptime_seconds"]
    assert isinstance(uptime, int)
    assert abs(uptime - (time.time() - psutil.boot_time())) < 60
    assert isinstance(system["name"], str) and system["name"]


def test_cpu_and_memory_match_psutil(snapshot: dict[str, object]) -> None:
    cpu = _group(snapshot, "cpu")
    assert cpu["logical_cores"] == psutil.cpu_count()
    per_cpu = cpu["percent_per_cpu"]
    assert isinstance(per_cpu, list) and len(per_cpu) == psutil.cpu_count()
    assert all(0 <= value <= 100 for value in per_cpu)
    memory = _group(snapshot, "memory")
    assert memory["total"] == psutil.virtual_memory().total
    available = memory["available"]
    assert isinstance(available, int) and 0 < available <= psutil.virtual_memory().total
    swap = memory["swap"]
    assert isinstance(swap, dict) and swap["total"] == psutil.swap_memory().total


def test_disks_include_the_root_file_system(snapshot: dict[str, object]) -> None:
    disks = snapshot["disks"]
    assert isinstance(disks, list) and disks
    mounts = {disk["mount"]: disk for disk in disks}
    root = "/" if sys.platform != "win32" else next(iter(mounts))
    assert root in mounts
    usage = psutil.disk_usage(root)
    assert mounts[root]["total"] == usage.total
    assert 0 <= mounts[root]["percent"] <= 100


def test_network_lists_the_interfaces_and_routes(snapshot: dict[str, object]) -> None:
    network = _group(snapshot, "network")
    interfaces = network["interfaces"]
    assert isinstance(interfaces, list)
    names = {interface["name"] for interface in interfaces}
    assert names == set(psutil.net_if_addrs()) | set(psutil.net_if_stats())
    loopback = [a["address"] for interface in interfaces for a in interface["addresses"] if a["family"] == "IPv4"]
    assert "127.0.0.1" in loopback
    if sys.platform.startswith("linux"):
        assert network["default_route_known"] is True
        assert isinstance(network["default_routes"], list)


def test_processes_show_the_top_ten_by_cpu_and_memory(snapshot: dict[str, object]) -> None:
    processes = _group(snapshot, "processes")
    by_memory = processes["by_memory"]
    by_cpu = processes["by_cpu"]
    assert isinstance(by_memory, list) and isinstance(by_cpu, list)
    assert 0 < len(by_memory) <= 10 and 0 < len(by_cpu) <= 10
    rss = [p["memory_rss"] for p in by_memory]
    assert rss == sorted(rss, reverse=True)
    cpu = [p["cpu_percent"] for p in by_cpu]
    assert cpu == sorted(cpu, reverse=True)
    count = processes["count"]
    assert isinstance(count, int) and count >= len(by_memory)


def test_showdesk_group_names_the_version(snapshot: dict[str, object]) -> None:
    showdesk = _group(snapshot, "showdesk")
    assert showdesk["version"] == agent.__version__
    assert showdesk["timeout_s"] == CONTENT_TIMEOUT


def test_displays_are_passed_through_from_the_caller() -> None:
    monitors = [{"index": 1, "name": "DP-1", "geometry": {"left": 0, "top": 0, "width": 1920, "height": 1080}}]
    snapshot = collect(SysinfoOptions(timeout=CONTENT_TIMEOUT, monitors=monitors, exclude=["processes"]))
    assert snapshot["displays"] == {"count": 1, "monitors": monitors}
    assert "DP-1" in format_text(snapshot)


def test_flags_and_text_work_on_a_real_snapshot(snapshot: dict[str, object]) -> None:
    flags = compute_flags(snapshot)
    assert all(isinstance(flag, Flag) for flag in flags)
    text = format_text(snapshot)
    assert text.index("Flags") < text.index(GROUPS["os"])
    for label in GROUPS.values():
        assert label in text
    system = _group(snapshot, "os")
    assert str(system["hostname"]) in text


# ---------------------------------------------------------------- bounds and failures


@pytest.fixture
def blocker() -> Iterator[threading.Event]:
    """An event a collector waits on; set at the end so the left-behind thread finishes."""
    release = threading.Event()
    yield release
    release.set()


def test_a_hanging_collector_is_recorded_and_not_waited_for(blocker: threading.Event) -> None:
    entered = threading.Event()

    def hangs() -> object:
        entered.set()
        blocker.wait()
        return {"never": "seen"}

    snapshot = collect(SysinfoOptions(timeout=0.3, extra_collectors={"slow": hangs}))
    # collect returned while the collector is still blocked: it was not waited for.
    assert entered.is_set() and not blocker.is_set()
    assert snapshot["slow"] == {"error": "timed out after 0.30 s"}
    left_behind = [t for t in threading.enumerate() if t.name == "sysinfo-slow"]
    assert left_behind and all(thread.daemon for thread in left_behind)


def test_a_hanging_builtin_group_leaves_the_others_intact(blocker: threading.Event) -> None:
    snapshot = collect(SysinfoOptions(timeout=0.5, extra_collectors={"disks": blocker.wait}))
    assert snapshot["disks"] == {"error": "timed out after 0.50 s"}
    assert isinstance(snapshot["memory"], dict) and "total" in snapshot["memory"]
    assert not [flag for flag in compute_flags(snapshot) if flag.group == "disks"]
    assert "not available: timed out after 0.50 s" in format_text(snapshot)


def test_a_failing_collector_is_recorded_with_its_reason() -> None:
    def fails() -> object:
        raise RuntimeError("the sensor driver is missing")

    snapshot = collect(SysinfoOptions(timeout=CONTENT_TIMEOUT, extra_collectors={"battery": fails}))
    assert snapshot["battery"] == {"error": "RuntimeError: the sensor driver is missing"}
    assert isinstance(snapshot["os"], dict) and "hostname" in snapshot["os"]


def test_excluded_groups_are_not_collected() -> None:
    called = threading.Event()

    def spy() -> object:
        called.set()
        return {}

    snapshot = collect(
        SysinfoOptions(timeout=CONTENT_TIMEOUT, exclude=["processes", "spy"], extra_collectors={"spy": spy})
    )
    assert "processes" not in snapshot and "spy" not in snapshot
    assert not called.is_set()
    assert snapshot["showdesk"]["excluded"] == ["processes", "spy"]  # type: ignore[index]


def test_unknown_group_names_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'proceses'"):
        SysinfoOptions(exclude=["proceses"])
    with pytest.raises(ValueError, match="'nope'"):
        without_groups({"os": {}}, ["nope"])
    with pytest.raises(ValueError, match="timeout"):
        SysinfoOptions(timeout=0)


def test_without_groups_drops_only_the_named_groups() -> None:
    snapshot = {"os": {"hostname": "a"}, "processes": {"by_cpu": []}, "memory": {"total": 1}}
    assert without_groups(snapshot, ["processes"]) == {"os": {"hostname": "a"}, "memory": {"total": 1}}
    assert "processes" in snapshot


def test_options_come_from_the_layered_configuration() -> None:
    from agent.config import load_config

    config = load_config({"sysinfo.timeout": 0.7, "sysinfo.exclude": ["battery"], "backend.url": "http://h:1/x/"})
    options = SysinfoOptions.from_config(config, exclude=["processes", "battery"])
    assert options.timeout == 0.7
    assert list(options.exclude) == ["battery", "processes"]
    assert options.backend_url == "http://h:1/x"


def test_a_hanging_collector_does_not_hold_up_interpreter_exit() -> None:
    code = (
        "import threading, sys\n"
        "from agent.sysinfo import SysinfoOptions, collect\n"
        "forever = threading.Event()\n"
        "snapshot = collect(SysinfoOptions(timeout=0.2, extra_collectors={'stuck': forever.wait}))\n"
        "print(snapshot['stuck']['error'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "timed out after 0.20 s"
