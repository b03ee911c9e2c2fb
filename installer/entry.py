"""The frozen program's entry point: the same `showdesk` command as ``python -m showdesk``."""

from __future__ import annotations

import sys

from showdesk.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
