"""A sending process for the chaos test: flush the outbox until it is empty, then exit 0.

    python -m tests.outbox.flush_worker OUTBOX_DIR

The backend comes from the configuration and the environment (SHOWDESK_URL,
SHOWDESK_TOKEN), as for ``showdesk outbox flush``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from agent.outbox import Outbox


def main(directory: str) -> int:
    outbox = Outbox(Path(directory))
    try:
        for _ in range(10_000):
            result = outbox.flush(force=True)
            if result.remaining == 0:
                return 0
            if result.dead or result.paused:
                print(f"refused: {result.dead or result.paused}", file=sys.stderr)
                return 2
    finally:
        outbox.close()
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
