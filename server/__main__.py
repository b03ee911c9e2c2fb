"""``python -m server``: run the built-in ticket server (see ``server.cli``)."""

from __future__ import annotations

import sys

from server.cli import main

if __name__ == "__main__":
    sys.exit(main())
