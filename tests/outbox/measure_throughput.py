"""Outbox throughput against the real server, with direct connector submits as the peer.

    python -m tests.outbox.measure_throughput [REPORTS]

Prints per-report times and the outbox/direct ratio measured in the same run (the
difference is the outbox's durable bookkeeping: fsync'ed put, receipt, removal).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

import tests.conftest  # noqa: F401 - throw-away XDG, runtime and keyring dirs before anything else
from agent.connectors.builtin import BuiltinConnector
from agent.outbox import Outbox
from tests.fixtures.server import ServerProcess
from tests.outbox.helpers import make_bundle


def main(reports: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="showdesk-outbox-bench-"))
    server = ServerProcess(root / "data").start()
    try:
        token = server.token("submitter")
        rng = random.Random(1)
        queued = [make_bundle(n, attachment=rng.randbytes(2000)) for n in range(reports)]
        direct = [make_bundle(reports + n, attachment=rng.randbytes(2000)) for n in range(reports)]
        outbox = Outbox(root / "outbox", connector_for=lambda _n: BuiltinConnector(server.url, token=token))

        started = time.perf_counter()
        for bundle in queued:
            outbox.put(bundle)
        put_seconds = time.perf_counter() - started
        started = time.perf_counter()
        delivered = len(outbox.flush().delivered)
        flush_seconds = time.perf_counter() - started
        outbox.close()

        with BuiltinConnector(server.url, token=token) as connector:
            started = time.perf_counter()
            for bundle in direct:
                connector.submit(bundle)
            direct_seconds = time.perf_counter() - started
    finally:
        server.stop()
    per = 1000 / reports
    print(
        f"{reports} reports: put {put_seconds * per:.1f} ms each; outbox delivery {flush_seconds * per:.1f} ms "
        f"each ({delivered} delivered); direct submit {direct_seconds * per:.1f} ms each; "
        f"delivery/direct {flush_seconds / direct_seconds:.2f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
