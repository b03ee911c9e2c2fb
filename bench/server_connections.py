"""Built-in server under an idle-connection flood: does a real client still get served, and how fast?

Runs the real server process on 127.0.0.1 and measures the latency of ``GET /healthz`` and of
a report submission (one small PNG) from a second client:

* quiet: nothing else connected (the peer the other rows are read against);
* flood: ``--idle`` TCP connections held open from one client that send nothing, under the
  default connection cap (all of them fit);
* flood over the cap: the same flood with ``--max-connections`` below it, so each request of
  the second client first displaces the longest-idle connection.

Each flood row is printed as a ratio to the quiet row of the same run. Every server uses a
header timeout longer than the run, so the flood stands throughout.

    .venv/bin/python bench/server_connections.py [--idle 2000] [--requests 100] [--cap 1000]

Target: the second client is always served (no error, no refusal); a flood within the cap costs
the second client little (ratio near 1).
"""

from __future__ import annotations

import argparse
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures.server import ServerProcess
from tests.server.helpers import make_bundle, submit

HEADER_TIMEOUT_SECONDS = 600  # longer than the run: the flood is never cut by its timeout


def measure(server: ServerProcess, token: str, count: int, seed: int) -> tuple[list[float], list[float]]:
    """(healthz latencies, submission latencies) in ms, one new connection per request."""
    health: list[float] = []
    submits: list[float] = []
    for index in range(count):
        started = time.perf_counter()
        answer = requests.get(f"{server.url}/healthz", timeout=30)
        health.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"/healthz answered {answer.status_code}")
        bundle = make_bundle(seed=seed * 100_000 + index)
        started = time.perf_counter()
        answer = submit(server, token, bundle, timeout=30)
        submits.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 201:
            raise SystemExit(f"a submission answered {answer.status_code}: {answer.text}")
    return health, submits


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def run(root: Path, name: str, idle: int, count: int, extra: list[str], seed: int) -> tuple[float, float]:
    # The submission rate limit is not what is measured here.
    args = ["--header-timeout", str(HEADER_TIMEOUT_SECONDS), "--no-handover", *extra]
    server = ServerProcess(root / name, extra_args=args)
    server.start()
    held: list[socket.socket] = []
    try:
        token = server.token("submitter")
        for _ in range(idle):
            held.append(socket.create_connection((server.host, server.port), timeout=10))
        health, submits = measure(server, token, count, seed)
    finally:
        for sock in held:
            sock.close()
        server.stop()
    h50, h95, s50, s95 = p(health, 50), p(health, 95), p(submits, 50), p(submits, 95)
    print(f"{name:<22} healthz p50 {h50:7.1f} ms  p95 {h95:7.1f} ms   submit p50 {s50:7.1f} ms  p95 {s95:7.1f} ms")
    return h50, s50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--cap", type=int, default=1000)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.idle + 256
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            raise SystemExit(f"the hard open-file limit {hard} is below the {wanted} this needs")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    limit = ["--submit-rate", "0"] if "--submit-rate" in _serve_help() else []
    with tempfile.TemporaryDirectory(prefix="bench-connections-") as tmp:
        root = Path(tmp)
        quiet = run(root, "quiet", 0, args.requests, limit, 1)
        flood = run(root, f"flood {args.idle}", args.idle, args.requests, limit, 2)
        over = run(
            root,
            f"flood {args.idle}, cap {args.cap}",
            args.idle,
            args.requests,
            [*limit, "--max-connections", str(args.cap)],
            3,
        )
    for name, row in (("flood", flood), ("flood over the cap", over)):
        print(f"{name:<22} healthz ×{row[0] / quiet[0]:.2f}, submit ×{row[1] / quiet[1]:.2f} of quiet (p50)")


def _serve_help() -> str:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "server", "serve", "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    return result.stdout


if __name__ == "__main__":
    main()
