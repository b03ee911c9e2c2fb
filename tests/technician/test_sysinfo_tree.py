"""The technician's system-information tree: flags first with their evidence, the flagged groups
opened, rows in words rather than keys, the busiest programs sorted by what the flags are about."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

from agent.flags import compute_flags, format_bytes
from agent.sysinfo import SysinfoOptions, collect
from technician.sysinfo_tree import FLAGS_LABEL, Node, build_tree


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _walk(nodes: list[Node]) -> Iterator[Node]:
    for node in nodes:
        yield node
        yield from _walk(node.children)


def _group(nodes: list[Node], label: str) -> Node:
    [node] = [node for node in nodes if node.key == label]
    return node


def _real_snapshot() -> dict[str, Any]:
    # A real snapshot of this machine, its help desk a closed port on 127.0.0.1.
    port = _closed_port()
    snapshot: dict[str, Any] = collect(SysinfoOptions(timeout=5.0, backend_url=f"http://127.0.0.1:{port}"))
    return snapshot


def test_rows_read_in_words_and_the_connection_verdict_comes_first() -> None:
    snapshot = _real_snapshot()
    flags = compute_flags(snapshot)
    nodes = build_tree(snapshot, flags)
    keys = [node.key for node in _walk(nodes)]
    for raw in ("dns_ms", "failed_step", "via_proxy", "http_status", "memory_rss", "cpu_percent", "by_cpu"):
        assert raw not in keys
    connection = _group(nodes, "Connection to the help desk")
    assert connection.expanded  # the critical flag points here
    assert connection.value.startswith("Connection failed: nothing is listening at 127.0.0.1 port ")
    assert connection.children[0].key == "Verdict"
    steps = next(child for child in connection.children if child.key == "Steps")
    shown = {step.key: step.value for step in steps.children}
    assert shown["Route"].startswith("fine: the help desk 127.0.0.1 is reached over lo")
    assert shown["Name lookup"] == "not needed: 127.0.0.1 is an address: no lookup needed"
    assert shown["Connection"].startswith("FAILED: nothing is listening at 127.0.0.1 port ")
    # Still found by the key a technician may know from the raw file.
    assert any(node.matches("failed_step") for node in _walk(connection.children))


def test_a_flag_shows_its_evidence_and_where_to_look() -> None:
    snapshot = _real_snapshot()
    flags = compute_flags(snapshot)
    nodes = build_tree(snapshot, flags)
    flag_rows = _group(nodes, FLAGS_LABEL).children
    unreachable = next(row for row in flag_rows if row.raw_key == "backend_unreachable")
    assert unreachable.key == "critical" and unreachable.severity == "critical"
    evidence = {child.key: child.value for child in unreachable.children}
    assert evidence["Connection"].startswith("FAILED: nothing is listening at 127.0.0.1")
    assert evidence["See"] == "Connection to the help desk"


def test_a_memory_flag_opens_the_busiest_programs_with_memory_first() -> None:
    snapshot = _real_snapshot()
    snapshot["memory"]["available"] = snapshot["memory"]["total"] // 50  # short, as measured otherwise
    flags = compute_flags(snapshot)
    assert "memory_pressure" in [flag.code for flag in flags]
    nodes = build_tree(snapshot, flags)
    programs = _group(nodes, "Busiest programs")
    assert programs.expanded and _group(nodes, "Memory").expanded
    assert [child.key for child in programs.children[:2]] == ["By memory use", "By processor use"]
    first = programs.children[0].children[0]
    top = snapshot["processes"]["by_memory"][0]
    assert first.key == f"{top['name']} (pid {top['pid']})"
    assert first.value.endswith(format_bytes(top["memory_rss"]))


def test_without_a_memory_flag_the_processor_comes_first_and_nothing_is_opened_for_it() -> None:
    snapshot = _real_snapshot()
    snapshot["memory"]["available"] = snapshot["memory"]["total"]
    flags = [flag for flag in compute_flags(snapshot) if flag.group != "processes" and flag.group != "cpu"]
    nodes = build_tree(snapshot, flags)
    programs = _group(nodes, "Busiest programs")
    assert not programs.expanded
    assert programs.children[0].key == "By processor use"


def test_units_and_group_meanings_are_in_the_values() -> None:
    snapshot = {
        "battery": {"present": True, "percent": 12.0},
        "clock": {"offset_seconds": -259200.4, "local_time": "2026-12-06T16:00:00+01:00"},
        "network": {"dns_servers": ["10.0.0.53", "10.0.0.54"], "interfaces": [{"name": "wlan0", "speed_mbps": 866}]},
    }
    nodes = build_tree(snapshot, [])
    battery = {child.key: child.value for child in _group(nodes, "Battery").children}
    assert battery == {"Present": "yes", "Charge": "12 %"}
    assert _group(nodes, "Clock").value == "3 d 0 h behind"
    network = _group(nodes, "Network")
    assert network.children[0].key == "DNS servers" and network.children[0].value == "10.0.0.53, 10.0.0.54"
    wlan = network.children[1].children[0]
    assert wlan.key == "wlan0" and {c.key: c.value for c in wlan.children}["Speed"] == "866 Mb/s"
