"""Entry point of the `showdesk` command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else ""
    if command == "server":
        from server.cli import main as server_main

        return server_main(args[1:])
    if command == "kiosk":
        from kiosk.cli import main as kiosk_main

        return kiosk_main(args)
    from agent.cli import main as core_main

    return core_main(args)


if __name__ == "__main__":
    sys.exit(main())
