"""Flags from crafted snapshots: each problem raises its flag, a healthy or broken snapshot none."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agent.flags import compute_flags
from agent.sysinfo import GROUPS, format_text

GB = 1024**3


def healthy() -> dict[str, Any]:
    """A snapshot shaped like collect()'s, with nothing worth a flag."""
    return {
        "os": {"name": "Example OS 1", "hostname": "pc-1", "user": "alice", "uptime_seconds": 3 * 86400},
        "cpu": {"model": "Example CPU", "physical_cores": 2, "logical_cores": 4, "percent": 12.0},
        "memory": {
            "total": 16 * GB,
            "available": 8 * GB,
            "used": 8 * GB,
            "percent": 50.0,
            "swap": {"total": 2 * GB, "used": GB // 4, "free": GB, "percent": 12.5},
        },
        "disks": [
            {
                "mount": "/",
                "filesystem": "ext4",
                "read_only": False,
                "total": 100 * GB,
                "free": 40 * GB,
                "used": 60 * GB,
                "percent": 60.0,
            },
            {
                "mount": "/snap/core/1",
                "filesystem": "squashfs",
                "read_only": True,
                "total": GB,
                "free": 0,
                "used": GB,
                "percent": 100.0,
            },
        ],
        "network": {
            "interfaces": [{"name": "eth0", "up": True, "addresses": [{"family": "IPv4", "address": "10.0.0.5"}]}],
            "default_routes": [{"family": "IPv4", "gateway": "10.0.0.1", "interface": "eth0"}],
            "default_route_known": True,
            "dns_servers": ["10.0.0.1"],
        },
        "proxy": {"environment": {}, "effective": {}},
        "battery": {"present": True, "percent": 15.0, "plugged_in": True, "seconds_left": None},
        "displays": {"count": 1, "monitors": [{"index": 1, "geometry": {"width": 1920, "height": 1080}}]},
        "processes": {
            "count": 120,
            "logical_cores": 4,
            "by_cpu": [{"pid": 42, "name": "editor", "cpu_percent": 35.0, "memory_rss": GB}],
            "by_memory": [{"pid": 42, "name": "editor", "cpu_percent": 35.0, "memory_rss": GB}],
        },
        "showdesk": {"version": "0.1.0", "collected_at": "2026-01-01T10:00:00+00:00", "elapsed_ms": 120.0},
        "connectivity": {
            "checked": True,
            "url": "https://help.example.org",
            "reachable": True,
            "http_status": 200,
            "dns_ms": 3.0,
            "tcp_ms": 5.0,
            "tls_ms": 20.0,
            "http_ms": 30.0,
        },
    }


def codes(snapshot: dict[str, Any]) -> list[str]:
    return [flag.code for flag in compute_flags(snapshot)]


def test_a_healthy_snapshot_raises_no_flag() -> None:
    assert codes(healthy()) == []


def test_a_full_disk_is_flagged_with_its_mount_and_free_space() -> None:
    snapshot = healthy()
    snapshot["disks"][0].update(free=3 * GB, used=97 * GB, percent=97.0)
    flags = compute_flags(snapshot)
    assert [(f.code, f.severity) for f in flags] == [("disk_full", "warning")]
    assert "/ is 97 % full" in flags[0].message and "3.0 GB free" in flags[0].message
    snapshot["disks"][0]["percent"] = 99.5
    assert compute_flags(snapshot)[0].severity == "critical"


def test_memory_pressure_from_little_available_memory_or_heavy_swap() -> None:
    low = healthy()
    low["memory"]["available"] = GB
    assert codes(low) == ["memory_pressure"]
    swapping = healthy()
    swapping["memory"]["swap"]["percent"] = 95.0
    assert codes(swapping) == ["memory_pressure"]
    no_swap = healthy()
    no_swap["memory"]["swap"] = {"total": 0, "used": 0, "free": 0, "percent": 100.0}
    assert codes(no_swap) == []


def test_low_battery_only_when_not_plugged_in() -> None:
    snapshot = healthy()
    assert codes(snapshot) == []
    snapshot["battery"]["plugged_in"] = False
    flags = compute_flags(snapshot)
    assert [(f.code, f.severity) for f in flags] == [("battery_low", "warning")]
    snapshot["battery"]["percent"] = 5.0
    assert compute_flags(snapshot)[0].severity == "critical"


def test_no_default_route_only_when_the_os_told_us() -> None:
    snapshot = healthy()
    snapshot["network"]["default_routes"] = []
    assert codes(snapshot) == ["no_default_route"]
    snapshot["network"]["default_route_known"] = False
    assert codes(snapshot) == []


def test_unreachable_backend_is_flagged_with_the_reason() -> None:
    snapshot = healthy()
    snapshot["connectivity"].update(
        reachable=False,
        failed_step="tcp",
        http_status=None,
        reason="nothing is listening at help.example.org port 443 (connection refused)",
    )
    flags = compute_flags(snapshot)
    assert [(f.code, f.severity) for f in flags] == [("backend_unreachable", "critical")]
    assert "connection refused" in flags[0].message
    snapshot["connectivity"] = {"checked": False, "reason": "no backend address is configured"}
    assert codes(snapshot) == []


def test_a_backend_answering_with_a_server_error_is_flagged() -> None:
    snapshot = healthy()
    snapshot["connectivity"]["http_status"] = 503
    assert codes(snapshot) == ["backend_error"]


@pytest.mark.parametrize(
    ("cores", "percent", "severity"),
    [
        (1, 95.0, "warning"),  # one core, fully taken: the machine crawls
        (4, 100.0, "warning"),  # one core spinning: a stuck thread, whatever the machine
        (4, 250.0, "warning"),  # several threads taking most of the machine
        (64, 100.0, "warning"),  # a single busy thread on a big machine is still stuck
    ],
)
def test_a_cpu_hog_is_judged_per_core_and_by_share_of_the_machine(cores: int, percent: float, severity: str) -> None:
    snapshot = healthy()
    snapshot["processes"]["logical_cores"] = cores
    snapshot["processes"]["by_cpu"].insert(0, {"pid": 7, "name": "spinner", "cpu_percent": percent})
    flags = compute_flags(snapshot)
    assert [(f.code, f.severity) for f in flags] == [("cpu_hog", severity)]
    assert "spinner (pid 7)" in flags[0].message


def test_a_busy_but_not_hogging_process_is_not_flagged() -> None:
    snapshot = healthy()
    snapshot["processes"]["by_cpu"][0]["cpu_percent"] = 79.0
    assert codes(snapshot) == []


def test_showdesk_busy_taking_the_snapshot_is_not_a_cpu_hog() -> None:
    snapshot = healthy()
    snapshot["processes"]["by_cpu"].insert(0, {"pid": 9, "name": "showdesk", "cpu_percent": 98.0, "showdesk": True})
    snapshot["processes"]["by_cpu"].insert(1, {"pid": 10, "name": "spinner", "cpu_percent": 98.0})
    assert [flag.message.split(" keeps")[0] for flag in compute_flags(snapshot)] == ["spinner (pid 10)"]


def test_long_uptime_is_flagged() -> None:
    snapshot = healthy()
    snapshot["os"]["uptime_seconds"] = 20 * 86400
    flags = compute_flags(snapshot)
    assert [(f.code, f.severity) for f in flags] == [("long_uptime", "info")]
    assert "20 d" in flags[0].message


def test_flags_come_most_severe_first_and_lead_the_text() -> None:
    snapshot = healthy()
    snapshot["os"]["uptime_seconds"] = 30 * 86400
    snapshot["network"]["default_routes"] = []
    snapshot["memory"]["available"] = GB // 2
    assert [f.severity for f in compute_flags(snapshot)] == ["critical", "warning", "info"]
    text = format_text(snapshot)
    assert text.index("No default route") < text.index("Memory is short") < text.index("Not restarted")
    assert text.index("Not restarted") < text.index(GROUPS["os"])


def test_every_group_errored_gives_no_flag_and_readable_text() -> None:
    snapshot = {name: {"error": "timed out after 0.30 s"} for name in GROUPS}
    assert compute_flags(snapshot) == []
    text = format_text(snapshot)
    assert "Flags: none" in text
    assert text.count("not available: timed out after 0.30 s") == len(GROUPS)


def test_missing_or_oddly_shaped_groups_do_not_crash() -> None:
    assert compute_flags({}) == []
    odd: dict[str, Any] = {
        "os": [1, 2],
        "cpu": "fast",
        "memory": {"total": "lots", "available": None, "swap": 3},
        "disks": [None, {"percent": "full"}, {"mount": "/x", "percent": True}],
        "network": {"default_route_known": True, "default_routes": None},
        "battery": {"present": True, "plugged_in": False, "percent": "low"},
        "processes": {"by_cpu": [None, {"cpu_percent": None}], "logical_cores": "many"},
        "connectivity": {"checked": True},
        "future_group": {"anything": 1},
    }
    assert compute_flags(odd) == []
    text = format_text(odd)
    assert "future_group" in text


def test_older_snapshot_without_some_groups_still_flags_what_it_has() -> None:
    snapshot = healthy()
    del snapshot["processes"], snapshot["connectivity"], snapshot["network"]
    snapshot["disks"][0]["percent"] = 95.0
    assert codes(snapshot) == ["disk_full"]
    baseline = copy.deepcopy(snapshot)
    format_text(snapshot)
    assert snapshot == baseline  # reading a snapshot never changes it
