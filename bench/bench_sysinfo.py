"""How long a system-information snapshot takes here, against peers measured in the same run.

Peers: the CPU sampling window alone (the floor every snapshot waits for), and the same
groups collected one at a time (what the snapshot would cost without running them side
by side). A local HTTP server on 127.0.0.1 stands in for the backend so the connectivity
group does its whole round trip.

    .venv/bin/python bench/bench_sysinfo.py [--runs 15] [--timeout 0.3]
"""

from __future__ import annotations

import argparse
import http.server
import statistics
import threading
import time
from collections.abc import Callable
from functools import partial

import psutil

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


if __name__ == "__main__":
    main()
