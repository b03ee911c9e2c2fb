"""The frozen program's entry point: the same `showdesk` command as ``python -m showdesk``.

A frozen program has no interpreter to run ``-m MODULE``. The server starts its thumbnail worker
as ``sys.executable -m server.thumbnail_worker`` (a child with its own memory and CPU limits), so
that one module is dispatched here; anything else is the `showdesk` command.
"""

from __future__ import annotations

import sys

WORKER_MODULES = ("server.thumbnail_worker",)


def run() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "-m" and sys.argv[2] in WORKER_MODULES:
        # Before anything else is imported: the worker sets its limits before it loads Pillow.
        from server.thumbnail_worker import main as worker

        return worker(sys.argv[3:])
    from showdesk.__main__ import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
