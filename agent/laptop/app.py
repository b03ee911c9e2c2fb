"""``showdesk agent`` and ``showdesk capture --gui``: start the resident agent, or hand a running one a command.

This module imports no Qt at load time: a hotkey bound to ``showdesk capture --gui`` reaches a
resident agent through its socket (:mod:`agent.laptop.instance_client`) without loading Qt, which
is what keeps hotkey-to-window short. Only when no agent runs does it start one.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

_MODES = ("all", "monitor", "region")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="showdesk agent",
        description="The ShowDesk agent: a tray app to report a problem with screenshots, in seconds. "
        "A second launch hands its request to the agent already running.",
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--report", action="store_true", help="capture the screen and open the report window")
    what.add_argument("--record", action="store_true", help="start recording steps")
    what.add_argument("--requests", action="store_true", help="show my requests")
    what.add_argument("--outbox", action="store_true", help="show the outbox")
    what.add_argument("--settings", action="store_true", help="open the settings")
    what.add_argument("--quit", action="store_true", help="quit the running agent")
    what.add_argument(
        "--enrol",
        metavar="LINK_OR_CODE",
        help="sign this computer in with the enrolment link or code from the help desk (token to the OS keyring)",
    )
    parser.add_argument("--mode", choices=_MODES, help="with --report: what to capture (default: from settings)")
    parser.add_argument("--delay", type=int, default=0, metavar="SECONDS", help="with --report: wait before capturing")
    parser.add_argument(
        "--background", action="store_true", help="start quietly (at login): no window, only the tray icon"
    )
    parser.add_argument("--no-tray", action="store_true", help="do not show a tray icon even where there is a tray")
    return parser


def _command_of(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    for name in ("report", "record", "requests", "outbox", "settings", "quit"):
        if getattr(args, name):
            extra: dict[str, Any] = {}
            if name == "report":
                extra = {"delay": args.delay, **({"mode": args.mode} if args.mode else {})}
            return name, extra
    return "show", {}


def main(argv: Sequence[str] | None = None) -> int:
    """``showdesk agent [options]`` (``argv`` is what follows "agent"). Returns the exit code."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if not 0 <= args.delay <= 60:
        print("showdesk agent: --delay is 0 to 60 seconds", file=sys.stderr)
        return 2
    if args.enrol is not None:
        return enrol(args.enrol)
    command, extra = _command_of(args)
    from agent.laptop.instance_client import send_command

    # A running agent takes the command at once (no Qt loaded in this process).
    if send_command(command, extra, timeout=0.0):
        return 0
    if command == "quit":
        print("showdesk agent: no agent is running", file=sys.stderr)
        return 0
    return _run_agent(command, extra, background=args.background, no_tray=args.no_tray)


def enrol(text: str) -> int:
    """Store the token of an enrolment link or code in the OS keyring and the address in the settings.

    A running agent is told to try its waiting reports again with the new sign-in.
    """
    from dataclasses import replace

    from agent.config import ConfigError
    from agent.credentials import CredentialError, store_token
    from agent.laptop.instance_client import send_command
    from agent.laptop.settings_store import SettingsError, load_agent_settings, parse_enrolment, save_agent_settings

    try:
        enrolment = parse_enrolment(text)
        where = store_token(enrolment.url, enrolment.token)
        path = save_agent_settings(replace(load_agent_settings(), backend_url=enrolment.url))
    except (SettingsError, CredentialError, ConfigError) as exc:
        print(f"showdesk agent: enrolment failed: {exc}", file=sys.stderr)
        return 5
    print(f"signed in to {enrolment.url}: token stored in the OS keyring ({where}), address saved in {path}")
    send_command("wake", timeout=0.0)  # a running agent tries its waiting reports again, signed in now
    return 0


def capture_gui(delay: float = 0.0, mode: str | None = None) -> int:
    """``showdesk capture --gui``: the report window of the running agent (started if none runs)."""
    argv = ["--report", "--delay", str(max(0, min(60, round(delay))))]
    if mode in _MODES:
        argv += ["--mode", str(mode)]
    return main(argv)


def _run_agent(command: str, extra: dict[str, Any], *, background: bool, no_tray: bool) -> int:
    _setup_logging()
    from PySide6.QtWidgets import QApplication, QMessageBox

    from agent.config import ConfigError
    from agent.laptop.icons import app_icon
    from agent.laptop.instance_client import send_command
    from agent.laptop.single_instance import InstanceServer

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "showdesk"])
    assert isinstance(app, QApplication)
    app.setApplicationName("ShowDesk")
    app.setDesktopFileName("showdesk-agent")
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(app_icon())
    instance = InstanceServer()
    if not instance.claim():
        # Another agent is starting right now: it will take the command once it listens.
        if send_command(command, extra, timeout=10.0):
            return 0
        print("showdesk agent: another agent holds the lock but does not answer", file=sys.stderr)
        return 1
    from agent.laptop.agent_app import AgentApp, default_services

    try:
        services = default_services()
    except ConfigError as exc:
        QMessageBox.critical(None, "ShowDesk", f"The configuration has a mistake, so the agent cannot start:\n\n{exc}")
        instance.release()
        return 5
    if no_tray:
        services.use_tray = False
    agent = AgentApp(services)
    instance.command_received.connect(agent.handle_command)
    agent.start()
    if command != "show" or not (background or agent.tray.has_tray):
        # Without a tray a plain start shows the main window, or nothing would say it runs.
        agent.handle_command(command, extra)
    try:
        return int(app.exec())
    finally:
        agent.shutdown()
        instance.release()


def _setup_logging() -> None:
    from agent.scrub import ScrubbingFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubbingFilter())
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(handler)
        root.setLevel(logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
