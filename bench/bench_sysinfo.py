"""How long a system-information snapshot takes here, against peers measured in the same run.

Peers: the CPU sampling window alone (the floor every snapshot waits for), and the same
groups collected one at a time (what the snapshot would cost without running them side
by side). A local HTTP server on 127.0.0.1 stands in for the backend so the connectivity
group does its whole round trip.

Then the same under load: one burner process per core spinning, ``--loaded-runs`` captures
(50 by default), counting critical flags (a healthy machine under load must raise none), groups
in error and the connection verdicts (reached, or "not checked in time": never "unreachable").

    .venv/bin/python bench/bench_sysinfo.py [--runs 15] [--timeout 0.3] [--loaded-runs 50]
"""

from __future__ import annotations

import argparse
import http.server
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial

import psutil

from agent.flags import compute_flags
from agent.sysinfo import GROUPS, SysinfoOptions, collect, cpu_sample_seconds


class _Healthz(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _alone(options: SysinfoOptions, name: str) -> SysinfoOptions:
    return SysinfoOptions(
        timeout=options.timeout,
        backend_url=options.backend_url,
        exclude=[other for other in GROUPS if other != name],
    )


def _timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=0.3)
    parser.add_argument("--loaded-runs", type=int, default=50)
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = SysinfoOptions(timeout=args.timeout, backend_url=f"http://127.0.0.1:{server.server_address[1]}")
    sample_seconds = cpu_sample_seconds(args.timeout)  # the window collect() samples CPU over

    collect(options)  # warm imports and caches
    snapshot_ms, floor_ms, one_by_one_ms = [], [], []
    timed_out: dict[str, int] = {}
    for _ in range(args.runs):
        started = time.perf_counter()
        snapshot = collect(options)
        snapshot_ms.append((time.perf_counter() - started) * 1000)
        for name, value in snapshot.items():
            if isinstance(value, dict) and "error" in value:
                timed_out[name] = timed_out.get(name, 0) + 1
        floor_ms.append(_timed(lambda: psutil.cpu_percent(interval=sample_seconds)))
        one_by_one_ms.append(sum(_timed(partial(collect, _alone(options, name))) for name in GROUPS))
    loaded = _loaded(options, args.loaded_runs, sample_seconds) if args.loaded_runs else None
    server.shutdown()

    median = statistics.median(snapshot_ms)
    print(f"sysinfo snapshot, {args.runs} runs, bound {args.timeout * 1000:.0f} ms, {psutil.cpu_count()} CPUs")
    print(f"  snapshot         median {median:7.1f} ms   max {max(snapshot_ms):7.1f} ms")
    print(f"  CPU sample floor median {statistics.median(floor_ms):7.1f} ms")
    print(f"  one group a time median {statistics.median(one_by_one_ms):7.1f} ms")
    print(f"  snapshot / floor        {median / statistics.median(floor_ms):5.2f}")
    print(f"  snapshot / one at a time {median / statistics.median(one_by_one_ms):5.2f}")
    print(f"  snapshot / bound        {median / (args.timeout * 1000):5.2f}")
    print(f"  groups in error: {timed_out or 'none'}")
    if loaded is not None:
        print(f"under load: {psutil.cpu_count()} burner processes, {args.loaded_runs} captures")
        print(f"  snapshot         median {statistics.median(loaded.snapshot_ms):7.1f} ms"
              f"   max {max(loaded.snapshot_ms):7.1f} ms")  # fmt: skip
        print(f"  CPU sample floor median {statistics.median(loaded.floor_ms):7.1f} ms")
        ratio = statistics.median(loaded.snapshot_ms) / statistics.median(loaded.floor_ms)
        print(f"  snapshot / floor        {ratio:5.2f}")
        print(f"  max / bound             {max(loaded.snapshot_ms) / (args.timeout * 1000):5.2f}")
        print(f"  critical flags: {loaded.critical or 'none'}")
        print(f"  groups in error: {loaded.errors or 'none'}")
        print(f"  connection verdicts: {loaded.verdicts}")


class _Loaded:
    def __init__(self) -> None:
        self.snapshot_ms: list[float] = []
        self.floor_ms: list[float] = []
        self.critical: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.verdicts: dict[str, int] = {}


_BURN = "import os\nos.write(1, b'go\\n')\nwhile True:\n    pass\n"


def _loaded(options: SysinfoOptions, runs: int, sample_seconds: float) -> _Loaded:
    """``runs`` captures with every core kept busy by a burner process."""
    burners = [
        subprocess.Popen([sys.executable, "-c", _BURN], stdout=subprocess.PIPE) for _ in range(psutil.cpu_count() or 1)
    ]
    seen = _Loaded()
    try:
        for burner in burners:
            assert burner.stdout is not None and burner.stdout.readline() == b"go\n"
        for _ in range(runs):
            started = time.perf_counter()
            snapshot = collect(options)
            seen.snapshot_ms.append((time.perf_counter() - started) * 1000)
            seen.floor_ms.append(_timed(lambda: psutil.cpu_percent(interval=sample_seconds)))
            for flag in compute_flags(snapshot):
                if flag.severity == "critical":
                    seen.critical[flag.code] = seen.critical.get(flag.code, 0) + 1
            for name, value in snapshot.items():
                if isinstance(value, dict) and "error" in value:
                    seen.errors[name] = seen.errors.get(name, 0) + 1
            check = snapshot.get("connectivity")
            verdict = str(check.get("verdict")) if isinstance(check, dict) else "missing"
            seen.verdicts[verdict] = seen.verdicts.get(verdict, 0) + 1
    finally:
        for burner in burners:
            burner.kill()
            burner.communicate(timeout=30)
    return seen


if __name__ == "__main__":
    main()
