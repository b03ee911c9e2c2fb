"""`showdesk --help`, written out so the shell answers it without importing the core.

The text is what ``agent.cli.build_parser()`` prints at 80 columns; tests/core/test_cli_fast_shell.py
fails when the two drift apart, and :func:`render` makes it again (``python -m showdesk.help_text``
prints the new constant's text).
"""

from __future__ import annotations

HELP_COLUMNS = 80

HELP = (
    "usage: showdesk [-h] [--version] [--log-level LOG_LEVEL] COMMAND ...\n"
    "\n"
    "Show the help desk the problem: capture screens and system information, and submit them.\n"
    "\n"
    "positional arguments:\n"
    "  COMMAND\n"
    "    capture             Capture the screens and system information into a\n"
    "                        report.\n"
    "    submit              Send a report bundle made earlier or elsewhere,\n"
    "                        through the outbox.\n"
    "    outbox              Show and work the queue of reports waiting for a\n"
    "                        backend.\n"
    "    export              Write a report bundle as one self-contained web page,\n"
    "                        to send by hand.\n"
    "    notify              Show the notification targets and their log, send a\n"
    "                        test, send what is due, or store a URL or secret.\n"
    "    sysinfo             Print the system information a report would carry\n"
    "                        (scrubbed).\n"
    "    login               Store a backend token in the OS keyring.\n"
    "    enrolment           Make an enrolment code and link (address + token) for\n"
    "                        `showdesk agent --enrol` or the agent's settings.\n"
    "    logout              Remove a backend token from the OS keyring.\n"
    "    config              Show, check or document the configuration.\n"
    "    server              Run and manage the built-in ticket server (see\n"
    "                        `showdesk server --help`).\n"
    "    kiosk               Run the walk-up kiosk, or its queue board (see\n"
    "                        `showdesk kiosk --help`).\n"
    "    tech                Run technician mode: the live queue, the viewer, the\n"
    "                        figures.\n"
    "    agent               Run the laptop agent in the tray (see `showdesk agent\n"
    "                        --help`).\n"
    "\n"
    "options:\n"
    "  -h, --help            show this help message and exit\n"
    "  --version             show program's version number and exit\n"
    "  --log-level LOG_LEVEL\n"
    "                        DEBUG, INFO, WARNING or ERROR\n"
    "\n"
    "Exit codes (also in ``showdesk --help``):\n"
    "  0  done\n"
    "  1  an unexpected error (a bug: the message says where)\n"
    "  2  the command line was wrong\n"
    "  3  queued: the report is safe in the outbox but not yet confirmed by the backend\n"
    "  4  capture is not possible here (no display, Wayland without the portal, permission)\n"
    "  5  configuration or credentials need fixing\n"
    "  6  the backend refused the report for good (dead letter; the reason is printed)\n"
    "  7  the bundle file is not a valid ShowDesk report\n"
    "  8  the report could not be kept: the local disk is full or not writable (nothing was queued)\n"
)


def render() -> str:
    """The parser's own help at :data:`HELP_COLUMNS` (imports the core: for tests and regeneration)."""
    import os
    from unittest import mock

    from agent.cli import build_parser

    with mock.patch.dict(os.environ, {"COLUMNS": str(HELP_COLUMNS)}):
        return build_parser().format_help()


if __name__ == "__main__":
    print(render(), end="")
