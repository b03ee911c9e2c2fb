"""CPU and memory under real load: child processes burning cores or holding memory.

Each burner is a child process spinning in a loop, stopped at the end of its test; nothing
here waits on a fixed sleep: captures are repeated up to a bounded count until the condition
shows, and each capture is bounded by its own timeout.
"""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil
import pytest

from agent.flags import compute_flags
from agent.sysinfo import SysinfoOptions, collect

# A runaway program at ordinary priority: on a machine shared with other work it may get only
# part of a core, and waits for the rest (which the processes group measures too).
BURN = """
import os
os.write(1, b"go\\n")
while True:
    pass
"""
HOLD = """
import os, sys
block = bytearray({size})
block[::4096] = b"x" * len(block[::4096])  # touched: resident, not just reserved
os.write(1, b"go\\n")
sys.stdin.read()
"""


@contextmanager
def _children(code: str, count: int) -> Iterator[list[int]]:
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for _ in range(count)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == b"go\n"  # running, not just started
        yield [proc.pid for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate(timeout=30)  # reaped, its pipes closed


def _capture(**options: Any) -> tuple[dict[str, Any], list[Any]]:
    snapshot: dict[str, Any] = collect(SysinfoOptions(**options))
    return snapshot, compute_flags(snapshot)


def test_a_process_burning_a_core_is_named_with_its_share_and_command_line() -> None:
    with _children(BURN, 1) as [burner]:
        seen = []
        # Other work on a shared machine can take the burner's core for a moment: a few captures.
        for _ in range(5):
            snapshot, flags = _capture(timeout=1.0, exclude=["connectivity", "disks", "network"])
            hogs = [flag for flag in flags if flag.code == "cpu_hog" and f"(pid {burner})" in flag.message]
            seen.append([row["cpu_percent"] for row in snapshot["processes"]["by_cpu"] if row["pid"] == burner])
            if hogs:
                break
        assert hogs, f"the burner was never flagged; its readings: {seen}"
    [flag] = hogs
    cores = psutil.cpu_count()
    assert flag.severity == "warning"  # a thread spinning a whole core, whatever the core count
    assert "% of one core, " in flag.message and f"% of all {cores}" in flag.message
    evidence = dict(flag.evidence)
    assert "while True" in evidence["Command line"]
    assert evidence["Measured over"].endswith(" s")


@pytest.fixture
def backend() -> Iterator[str]:
    class Healthz(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=30)


LOADED_CAPTURES = 10  # bench/bench_sysinfo.py --loaded runs 50


def test_a_healthy_machine_with_every_core_busy_raises_no_critical_flag(backend: str) -> None:
    cores = psutil.cpu_count() or 1
    verdicts = []
    saturated = 0
    with _children(BURN, cores):
        for _ in range(LOADED_CAPTURES):
            snapshot, flags = _capture(backend_url=backend)  # the default bound, as every capture
            critical = [flag.message for flag in flags if flag.severity == "critical"]
            assert critical == [], critical
            assert "error" not in snapshot["processes"], snapshot["processes"]
            verdicts.append(snapshot["connectivity"]["verdict"])
            saturated += any(flag.code == "cpu_saturated" for flag in flags)
    # Reached, or honestly not checked in time: never "unreachable" for a loaded machine.
    assert set(verdicts) <= {"reachable", "not_checked_in_time"}, verdicts
    assert saturated >= 1  # the burners were felt: the saturation is said (as a warning)


def test_saturation_names_the_busiest_programs_and_the_load() -> None:
    cores = psutil.cpu_count() or 1
    with _children(BURN, cores) as burners:
        for _ in range(5):
            snapshot, flags = _capture(timeout=1.0, exclude=["connectivity", "disks", "network"])
            saturation = [flag for flag in flags if flag.code == "cpu_saturated"]
            if saturation:
                break
        assert saturation, snapshot["cpu"]
    [flag] = saturation
    assert flag.severity == "warning"
    assert flag.message.startswith("The processor is saturated: ")
    assert f"busy across all {cores} cores" in flag.message and ". Busiest: " in flag.message
    evidence = dict(flag.evidence)
    assert evidence["Per core"].count("%") == cores
    # Each burner asks for a whole core (running + waiting), however little of one it got.
    demands = {
        row["pid"]: row["cpu_percent"] + (row["waiting_percent"] or 0.0) for row in snapshot["processes"]["by_cpu"]
    }
    assert any(demands.get(pid, 0.0) >= 80 for pid in burners), (burners, demands)


def test_memory_pressure_names_the_largest_process_first() -> None:
    size = 768 * 1024 * 1024
    with _children(HOLD.format(size=size), 1) as [holder]:
        snapshot, _ = _capture(timeout=1.0, exclude=["connectivity", "disks", "network", "cpu"])
    largest = snapshot["processes"]["by_memory"]
    assert any(row["pid"] == holder and row["memory_rss"] >= size for row in largest), largest
    # The pressure itself is the memory group's numbers: made short here, the rest is as measured.
    snapshot["memory"]["available"] = snapshot["memory"]["total"] // 50
    [flag] = [flag for flag in compute_flags(snapshot) if flag.code == "memory_pressure"]
    assert flag.message.startswith("Memory is short: only ")
    assert ". Largest: " in flag.message
    assert any(label.endswith(f"(pid {holder})") for label, _ in flag.evidence), flag.evidence
    swapping = dict(flag.evidence).get("Swapping now")
    assert swapping is None or swapping.endswith("/s")
