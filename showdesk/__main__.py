"""Entry point of the `showdesk` command."""

from __future__ import annotations

import argparse
import sys


def _capture_gui(args: list[str]) -> int:
    """`showdesk capture --gui`: the running agent's report window (the command to bind to a hotkey)."""
    parser = argparse.ArgumentParser(prog="showdesk capture --gui")
    parser.add_argument("--gui", action="store_true")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before capturing")
    parser.add_argument("--mode", choices=["all", "monitor", "region"], help="what to capture first")
    options = parser.parse_args(args)
    from agent.laptop.app import capture_gui

    return capture_gui(options.delay, options.mode)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else ""
    if command == "server":
        from server.cli import main as server_main

        return server_main(args[1:])
    if command == "kiosk":
        from kiosk.cli import main as kiosk_main

        return kiosk_main(args)
    if command == "tech":
        from technician.cli import main as tech_main

        return tech_main(args[1:])
    if command == "agent":
        from agent.laptop.app import main as agent_main

        return agent_main(args[1:])
    if command == "capture" and "--gui" in args:
        return _capture_gui(args[1:])
    from agent.cli import main as core_main

    return core_main(args)


if __name__ == "__main__":
    sys.exit(main())
