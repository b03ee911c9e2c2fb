"""Entry point of the `showdesk` command.

`showdesk --version` and `showdesk --help` are answered here, before any of the core is imported
(they are what a person or a script runs first, and they should cost no more than Python's own
start); every other command is routed to the layer that owns it, imported only then.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any  # at run time typing's import would cost the fast paths 2-3 ms

_VERSION_FLAGS = frozenset({"--version"})
_HELP_FLAGS = frozenset({"-h", "--help"})


def _capture_gui(args: list[str]) -> int:
    """`showdesk capture --gui`: the running agent's report window (the command to bind to a hotkey)."""
    import argparse

    parser = argparse.ArgumentParser(prog="showdesk capture --gui")
    parser.add_argument("--gui", action="store_true")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before capturing")
    parser.add_argument("--mode", choices=["all", "monitor", "region"], help="what to capture first")
    options = parser.parse_args(args)
    from agent.laptop.app import capture_gui

    return capture_gui(options.delay, options.mode)


def _agent_capture(request: dict[str, Any]) -> tuple[dict[str, Any], bytes] | None:
    """The running agent's capture (see agent.laptop.instance_client.request_capture), or None.

    Handed to the core's command line, which may not import the laptop app itself; the client
    side imports no Qt. Not asked again when showdesk.fast_capture asked already.
    """
    from showdesk import fast_capture

    if fast_capture.asked_agent():
        return None
    from agent.laptop.instance_client import request_capture

    global _handed_to_agent
    answer = request_capture(request, while_waiting=fast_capture.prepare_write)
    _handed_to_agent = answer is not None
    return answer


# Set when the running agent made the capture: all that is left then is writing its bytes.
_handed_to_agent = False
_OUTPUT_FLAGS = frozenset({"-o", "--output"})


def _may_skip_finalization(args: list[str], code: int) -> bool:
    """True after `showdesk capture -o FILE` wrote its bundle: the file is written, synced and
    renamed, what was printed is flushed next, and the interpreter's own teardown (freeing every
    module and the capture's buffers one by one: up to a tenth of the command) has nothing left
    to do that anyone would see."""
    if code != 0 or not args or args[0] != "capture":
        return False
    return any(arg in _OUTPUT_FLAGS or arg.startswith("--output=") for arg in args) or _handed_to_agent


def _answer_at_once(args: list[str]) -> bool:
    """Print the version or the help when that is all that was asked; True when done."""
    if len(args) != 1:
        return False
    if args[0] in _VERSION_FLAGS:
        from agent import __version__  # the package's __init__ holds only the version

        print(f"showdesk {__version__}")
        return True
    if args[0] in _HELP_FLAGS:
        from showdesk.help_text import HELP

        print(HELP, end="")
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    """The `showdesk` command; with ``argv`` None it is this process's command (the console
    script, ``python -m showdesk``) and may end the process itself once its work is done."""
    args = list(sys.argv[1:] if argv is None else argv)
    code = _run(args)
    if argv is None and _may_skip_finalization(args, code):
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _run(args: list[str]) -> int:
    if _answer_at_once(args):
        return 0
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
    if command == "capture":
        from showdesk.fast_capture import hand_over

        try:
            handed = hand_over(args[1:])
        except KeyboardInterrupt:
            return 130  # as the core's command line answers it
        if handed is not None:
            global _handed_to_agent
            _handed_to_agent = True
            return handed
    from agent.cli import main as core_main

    if command == "capture":
        from showdesk.fast_capture import recognised_options, sysinfo_helper

        return core_main(
            args, agent_capture=_agent_capture, capture_options=recognised_options(), sysinfo_helper=sysinfo_helper()
        )
    return core_main(args)


if __name__ == "__main__":
    sys.exit(main())
