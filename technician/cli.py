"""``showdesk tech [--backend NAME]``: technician mode against the configured backend.

The token is the technician token for that backend's address (``showdesk login URL --role
technician``; SHOWDESK_TOKEN or the local server's hand-over file also work), looked up at
every call: a token stored while the window is open, or the fresh one a restarted local server
hands over, is picked up and technician mode signs in again by itself.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from typing import TYPE_CHECKING, Final

from agent.config import BackendConfig, Config, ConfigError, load_config

if TYPE_CHECKING:
    from technician.window import TechWindow

EXIT_OK: Final = 0
EXIT_USAGE: Final = 2
EXIT_CONFIG: Final = 5

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="showdesk tech",
        description="Technician mode: the live queue, the ticket viewer, work actions and the help desk's figures.",
    )
    parser.add_argument("--backend", metavar="NAME", help="a [backends.NAME] table instead of the default backend")
    parser.add_argument("--url", help="the backend address for this run (overrides backend.url)")
    parser.add_argument("--no-tray", action="store_true", help="no system tray icon (notifications stay in the window)")
    return parser


def tune_interpreter() -> None:
    """Interpreter settings for a responsive window; ``main`` and the benchmark call it once the
    window is built (everything imported).

    Worker threads parse JSON and build rows in Python; with the default 5 ms switch interval
    the GUI thread can wait that long for the interpreter lock several times in one frame. And
    a full pass of the cycle collector over everything the imports made (Qt's bindings,
    pydantic) takes tens of milliseconds in the middle of a frame: those objects live as long
    as the process, so they are frozen out of its passes.
    """
    sys.setswitchinterval(0.001)
    gc.freeze()


def build_window(config: Config, backend_name: str | None = None, *, tray: bool = True) -> TechWindow:
    """The technician window for ``backend_name``, not yet started (``window.start()`` signs in)."""
    from agent.connectors import make_connector
    from agent.credentials import token_for
    from technician.client import TechClient
    from technician.session import TechSession
    from technician.settings import TechSettings
    from technician.window import TechWindow

    backend: BackendConfig = config.backend(backend_name)
    settings = TechSettings.from_config(config, backend_name)
    session = TechSession(
        lambda: TechClient(lambda: make_connector(backend, role="technician")),
        settings,
        # What the connector looks up at each call: a changed token (a restarted local server's,
        # a new `showdesk login`) lets technician mode sign in again by itself.
        credentials=lambda: token_for(backend, "technician"),
    )
    return TechWindow(session, server=backend.url or backend.name, tray=tray)


def main(argv: list[str]) -> int:
    args_list = list(argv[1:] if argv and argv[0] == "tech" else argv)
    try:
        args = _parser().parse_args(args_list)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        config = load_config({"backend.url": args.url} if args.url else None)
        config.backend(args.backend)  # a missing [backends.NAME] is a clear error now, not in the window
        from technician.settings import TechSettings

        TechSettings.from_config(config, args.backend)
    except ConfigError as exc:
        print(f"showdesk tech: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    logging.basicConfig(level=str(config.get("log.level")).upper(), format="%(levelname)s %(name)s: %(message)s")

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "showdesk"])
    assert isinstance(app, QApplication)
    app.setApplicationName("ShowDesk technician")
    app.setDesktopFileName("showdesk-tech")
    window = build_window(config, args.backend, tray=not args.no_tray)
    tune_interpreter()
    from technician.window import DEFAULT_SIZE

    window.resize(*DEFAULT_SIZE)
    window.show()
    window.start()
    return int(app.exec())
