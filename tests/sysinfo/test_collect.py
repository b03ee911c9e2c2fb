"""Real collection on this machine, the time bound, failing collectors, group switches."""

from __future__ import annotations

import itertools
import json
import os
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
from agent.sysinfo import (
    GROUPS,
    MIN_SAMPLE_SECONDS,
    SysinfoOptions,
    collect,
    format_text,
    start,
    system_proxies,
    without_groups,
)

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
    # By what each asks of the processor: the CPU it got plus the time it waited for a core.
    demand = [p["cpu_percent"] + (p["waiting_percent"] or 0.0) for p in by_cpu]
    # (sorted before rounding to one decimal each: equal within the rounding)
    assert all(later <= earlier + 0.1 for earlier, later in itertools.pairwise(demand)), demand
    count = processes["count"]
    assert isinstance(count, int) and count >= len(by_memory)


def test_showdesk_group_names_the_version(snapshot: dict[str, object]) -> None:
    showdesk = _group(snapshot, "showdesk")
    assert showdesk["version"] == agent.__version__
    assert showdesk["timeout_s"] == CONTENT_TIMEOUT


def test_displays_are_passed_through_from_the_caller() -> None:
    monitors = [{"index": 1, "name": "DP-1", "geometry": {"left": 0, "top": 0, "width": 1920, "height": 1080}}]
    snapshot = collect(SysinfoOptions(timeout=CONTENT_TIMEOUT, monitors=monitors, exclude=["processes"]))
    assert snapshot["displays"] == {"count": 1, "monitors": [{**monitors[0], "resolution": "1920×1080"}]}
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


def test_a_snapshot_started_early_takes_the_monitors_at_the_end() -> None:
    pending = start(SysinfoOptions(timeout=CONTENT_TIMEOUT, sample_seconds=0.05))
    monitors = [{"index": 1, "name": "DP-1", "geometry": {"left": 0, "top": 0, "width": 800, "height": 600}}]
    snapshot = pending.result(monitors)
    assert list(snapshot) == list(GROUPS)
    assert snapshot["displays"] == {"count": 1, "monitors": [{**monitors[0], "resolution": "800×600"}]}
    assert snapshot["cpu"]["sample_seconds"] == 0.05  # type: ignore[index]
    assert 0.05 <= snapshot["processes"]["sample_seconds"] < 1.0  # type: ignore[index]


def test_the_snapshot_marks_showdesk_itself_among_the_processes() -> None:
    spinning = threading.Event()

    def spin() -> None:  # this process, busy the way it is while it encodes a capture
        deadline = time.monotonic() + 2.0
        while not spinning.is_set() and time.monotonic() < deadline:
            pass

    worker = threading.Thread(target=spin, daemon=True)
    worker.start()
    try:
        snapshot = collect(SysinfoOptions(timeout=CONTENT_TIMEOUT, exclude=["connectivity"]))
    finally:
        spinning.set()
        worker.join()
    rows = [*snapshot["processes"]["by_cpu"], *snapshot["processes"]["by_memory"]]  # type: ignore[index]
    ours = [row for row in rows if row["pid"] == os.getpid()]
    assert ours and all(row["showdesk"] is True for row in ours)
    assert all("showdesk" not in row for row in rows if row["pid"] != os.getpid())
    assert not [flag for flag in compute_flags(snapshot) if f"pid {os.getpid()})" in flag.message]


@pytest.mark.parametrize("seconds", [0.0, 0.01, 0.3, "0.1"])
def test_a_sampling_window_out_of_bounds_is_refused(seconds: object) -> None:
    with pytest.raises(ValueError, match="sampling window"):
        SysinfoOptions(timeout=0.3, sample_seconds=seconds)  # type: ignore[arg-type]


def test_the_capture_window_yields_to_a_short_configured_timeout() -> None:
    from agent.config import load_config

    short = SysinfoOptions.from_config(load_config({"sysinfo.timeout": 0.04}), sample_seconds=MIN_SAMPLE_SECONDS)
    assert short.sample_seconds is None
    usual = SysinfoOptions.from_config(load_config({"sysinfo.timeout": 0.3}), sample_seconds=MIN_SAMPLE_SECONDS)
    assert usual.sample_seconds == MIN_SAMPLE_SECONDS


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"http_proxy": "http://p:3128", "HTTPS_PROXY": "http://q:8080", "NO_PROXY": "localhost"},
        {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2"},
        {"HTTP_PROXY": "http://upper:1", "http_proxy": ""},
        {"HTTP_PROXY": "http://cgi:1", "REQUEST_METHOD": "GET", "ALL_PROXY": "socks5://s:1080"},
        {"Ftp_Proxy": "http://mixed:21", "no_proxy": "*"},
    ],
)
def test_environment_proxies_are_read_as_urllib_reads_them(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import urllib.request

    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert system_proxies() == urllib.request.getproxies()


def test_held_collectors_wait_for_the_release_while_sampling_runs() -> None:
    called = threading.Event()

    def spy() -> object:
        called.set()
        return {"seen": True}

    hold = threading.Event()
    options = SysinfoOptions(timeout=CONTENT_TIMEOUT, sample_seconds=2.0, extra_collectors={"spy": spy})
    pending = start(options, hold=hold)
    # Held: not run, however long the caller takes (here: a second of its time bound).
    assert not called.wait(timeout=1.0)
    sampling = [t for t in threading.enumerate() if t.name in ("sysinfo-cpu", "sysinfo-processes")]
    assert len(sampling) == 2, "the CPU and process sampling run without waiting"
    hold.set()
    assert called.wait(timeout=CONTENT_TIMEOUT)
    snapshot = pending.result()
    assert snapshot["spy"] == {"seen": True}
    assert "error" not in snapshot["os"]  # type: ignore[operator]


def test_asking_for_the_result_releases_held_collectors() -> None:
    hold = threading.Event()
    snapshot = start(SysinfoOptions(timeout=CONTENT_TIMEOUT, sample_seconds=0.05), hold=hold).result()
    assert hold.is_set()
    assert list(snapshot) == list(GROUPS)
    assert all("error" not in value for value in snapshot.values() if isinstance(value, dict))


def test_a_hold_never_released_still_leaves_the_collectors_half_the_bound() -> None:
    called = threading.Event()

    def spy() -> object:
        called.set()
        return {"seen": True}

    hold = threading.Event()
    pending = start(SysinfoOptions(timeout=1.0, sample_seconds=0.05, extra_collectors={"spy": spy}), hold=hold)
    assert called.wait(timeout=CONTENT_TIMEOUT)
    assert not hold.is_set()
    assert pending.result()["spy"] == {"seen": True}


def test_a_collector_past_the_bound_gives_what_it_had_read_marked_partial() -> None:
    from agent.sysinfo.bounded import WithPartial

    release = threading.Event()

    def slow(progress: WithPartial) -> object:
        progress.latest = {"by_memory": [{"pid": 1, "name": "init"}]}  # the first pass, done
        release.wait(30)  # the second pass never finishes in time
        return {"by_memory": [], "late": True}

    try:
        snapshot = collect(
            SysinfoOptions(timeout=0.2, exclude=list(GROUPS), extra_collectors={"slow": WithPartial(slow)})
        )
    finally:
        release.set()
    assert snapshot["slow"] == {
        "by_memory": [{"pid": 1, "name": "init"}],
        "partial": True,
        "note": "timed out after 0.20 s: in part",
    }
