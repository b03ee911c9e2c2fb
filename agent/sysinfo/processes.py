"""The busiest programs, by CPU and by resident memory, from two cheap passes that finish on a loaded machine.

Each pass reads one small file per process (``/proc/<pid>/stat`` on Linux: CPU ticks, resident
pages and the program's name in one read); elsewhere it asks psutil for the same three facts.
The CPU use of a process is its ticks between the two passes over the time between them, in
percent of one core. Both passes watch the deadline: when it comes near, what was read so far
is reported (``partial``) rather than the whole group timing out, so a process burning a core
is still named on a machine too busy to read every process in time. The user and command line
are read only for the few rows shown.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psutil

from agent.scrub import scrub_argv_line
from agent.sysinfo.bounded import WithPartial

TOP_PROCESSES: Final = 10
MAX_COMMAND_LINE_CHARS: Final = 300
# Left for sorting and the few detail reads after the second pass.
_FINISH_SECONDS: Final = 0.01
# Linux's /proc: one read per process tells all three facts.
_PROC_STAT: Final = sys.platform.startswith("linux") and Path("/proc/self/stat").exists()


@dataclass(frozen=True)
class _Reading:
    cpu_seconds: float
    rss: int
    name: str
    # Time its main thread waited for a core (Linux's schedstat), None where not told. On a
    # saturated machine a spinning program gets only its share of a core, but waits the rest:
    # running + waiting is what it asks for.
    waited_seconds: float | None = None


def _linux_pass(pids: Iterable[int], stop_at: float) -> tuple[dict[int, _Reading], bool]:
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    readings: dict[int, _Reading] = {}
    for count, pid in enumerate(pids):
        if count % 32 == 0 and time.monotonic() >= stop_at:
            return readings, False
        try:
            handle = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        except OSError:
            continue  # gone between listing and reading
        try:
            raw = os.read(handle, 4096)
        except OSError:
            continue
        finally:
            os.close(handle)
        waited = _waited_seconds(pid)
        name_start, name_end = raw.find(b"("), raw.rfind(b")")
        fields = raw[name_end + 2 :].split()
        if name_start < 0 or len(fields) < 22:
            continue
        # After the name: state is field 3 of stat(5), so utime (14) is fields[11], rss (24) fields[21].
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        name = raw[name_start + 1 : name_end].decode(errors="replace")
        readings[pid] = _Reading(cpu, int(fields[21]) * page, name, waited)
    return readings, True


def _waited_seconds(pid: int) -> float | None:
    try:
        handle = os.open(f"/proc/{pid}/schedstat", os.O_RDONLY)
    except OSError:
        return None
    try:
        return int(os.read(handle, 256).split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None
    finally:
        os.close(handle)


def _psutil_pass(pids: Iterable[int], stop_at: float) -> tuple[dict[int, _Reading], bool]:
    readings: dict[int, _Reading] = {}
    for pid in pids:
        if time.monotonic() >= stop_at:
            return readings, False
        with contextlib.suppress(psutil.Error, OSError):
            process = psutil.Process(pid)
            with process.oneshot():
                times = process.cpu_times()
                readings[pid] = _Reading(times.user + times.system, process.memory_info().rss, process.name())
    return readings, True


def _one_pass(stop_at: float) -> tuple[dict[int, _Reading], bool]:
    pids = [pid for pid in psutil.pids() if pid != 0]  # 0: the idle "process" of Windows and macOS
    if _PROC_STAT:
        return _linux_pass(pids, stop_at)
    return _psutil_pass(pids, stop_at)


def processes_info(sample_seconds: float, deadline: float, progress: WithPartial | None = None) -> dict[str, object]:
    """The busiest programs; with ``progress``, the first pass's ranking by memory is left there
    for a caller whose deadline comes before the second pass ends."""
    started = time.monotonic()
    total_memory = psutil.virtual_memory().total
    cores = psutil.cpu_count(logical=True)
    first, first_whole = _one_pass(deadline - _FINISH_SECONDS)
    first_done = time.monotonic()
    if progress is not None:
        largest = sorted(first.items(), key=lambda item: item[1].rss, reverse=True)[:TOP_PROCESSES]
        progress.latest = {
            "count": len(first),
            "logical_cores": cores,
            "by_cpu": [],
            "by_memory": [
                {"pid": pid, "name": reading.name, "memory_rss": reading.rss,
                 "memory_percent": round(reading.rss * 100 / total_memory, 1) if total_memory else None}
                for pid, reading in largest
            ],
        }  # fmt: skip
    first_cost = first_done - started
    # The second pass takes about as long as the first: it must fit before the deadline.
    # The window runs from midpoint to midpoint of the passes: starting the second a pass later
    # makes it at least ``sample_seconds`` long.
    second_start = min(started + sample_seconds + first_cost, deadline - first_cost - _FINISH_SECONDS)
    time.sleep(max(0.0, second_start - time.monotonic()))
    second_begins = time.monotonic()
    second, second_whole = _one_pass(deadline - _FINISH_SECONDS)
    second_done = time.monotonic()
    # Each process was read once in each pass: the passes' midpoints are the window, on average.
    window = max(0.001, (second_begins + second_done) / 2 - (started + first_done) / 2)
    rows = [_Row(pid, first[pid], reading, window) for pid, reading in second.items() if pid in first]
    # Busiest first by what each asks of the processor (running + waiting for a core), so a
    # spinning program is not hidden on a machine so busy that it gets only part of a core.
    by_cpu = sorted(rows, key=lambda row: row.demand, reverse=True)[:TOP_PROCESSES]
    by_memory = sorted(rows, key=lambda row: row.reading.rss, reverse=True)[:TOP_PROCESSES]
    details: dict[int, dict[str, object]] = {}
    for row in [*by_cpu, *by_memory]:
        if row.pid not in details:
            details[row.pid] = _details(row, total_memory, read_more=time.monotonic() < deadline - _FINISH_SECONDS)
    result: dict[str, object] = {
        "count": len(rows),
        "sample_seconds": round(window, 3),
        "logical_cores": cores,
        "by_cpu": [details[row.pid] for row in by_cpu],
        "by_memory": [details[row.pid] for row in by_memory],
    }
    if not (first_whole and second_whole):
        result["partial"] = True
        result["note"] = f"read {len(rows)} processes in both passes before the time bound"
    return result


class _Row:
    def __init__(self, pid: int, before: _Reading, reading: _Reading, window: float) -> None:
        self.pid = pid
        self.reading = reading
        self.cpu = max(0.0, (reading.cpu_seconds - before.cpu_seconds) / window * 100)
        self.waiting: float | None = None
        if reading.waited_seconds is not None and before.waited_seconds is not None:
            self.waiting = max(0.0, (reading.waited_seconds - before.waited_seconds) / window * 100)
        self.demand = self.cpu + (self.waiting or 0.0)


def _details(row: _Row, total_memory: int, *, read_more: bool) -> dict[str, object]:
    pid, reading = row.pid, row.reading
    user = command_line = None
    name = reading.name
    if read_more:
        with contextlib.suppress(psutil.Error, OSError):
            process = psutil.Process(pid)
            with contextlib.suppress(psutil.Error):
                name = process.name()  # the kernel's short name, completed from the command line
            with contextlib.suppress(psutil.Error, KeyError):
                user = process.username()
            with contextlib.suppress(psutil.Error):
                # Scrubbed whole, then shortened: a cut could hide a secret from the patterns.
                command_line = scrub_argv_line(process.cmdline())
                if len(command_line) > MAX_COMMAND_LINE_CHARS:
                    command_line = command_line[: MAX_COMMAND_LINE_CHARS - 1] + "…"
    facts: dict[str, object] = {
        "pid": pid,
        "name": name,
        "user": user,
        "cpu_percent": round(row.cpu, 1),
        "waiting_percent": round(row.waiting, 1) if row.waiting is not None else None,
        "memory_rss": reading.rss,
        "memory_percent": round(reading.rss * 100 / total_memory, 1) if total_memory else None,
        "cmdline": command_line,
    }
    if pid == os.getpid():
        # The program taking the snapshot (busy capturing the screen while it samples) is no
        # sign of the problem the person reports: marked, so flags and readers can tell.
        facts["showdesk"] = True
    return facts
