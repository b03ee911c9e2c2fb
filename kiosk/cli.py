"""``showdesk kiosk [--board] [--windowed] [--screen N]``, ``showdesk kiosk --check``, ``--hash-pin``."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from dataclasses import replace

from agent.config import ConfigError, load_config
from kiosk.settings import KioskConfigError, KioskSettings, hash_pin, load_settings

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CONFIG = 5

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="showdesk kiosk",
        description="The walk-up kiosk: full screen, touch first, locked to the ShowDesk flow.",
    )
    parser.add_argument("--board", action="store_true", help="show the walk-up queue board (for a TV) instead")
    parser.add_argument("--windowed", action="store_true", help="a normal window that can be closed (development)")
    parser.add_argument("--screen", type=int, metavar="N", help="the screen to fill, 0 first (default: [kiosk] screen)")
    parser.add_argument("--check", action="store_true", help="check the [kiosk] configuration and exit")
    parser.add_argument(
        "--hash-pin",
        action="store_true",
        help="read an admin PIN from the terminal and print the admin_pin_hash line for the machine-wide file",
    )
    return parser


def _settings(screen: int | None) -> KioskSettings:
    settings = load_settings(load_config())
    return replace(settings, screen=screen) if screen is not None else settings


def main(argv: list[str]) -> int:
    args_list = list(argv[1:] if argv and argv[0] == "kiosk" else argv)
    try:
        args = _parser().parse_args(args_list)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_USAGE
    if args.hash_pin:
        return _hash_pin()
    if args.screen is not None and not 0 <= args.screen <= 16:
        print("showdesk kiosk: --screen must be between 0 and 16", file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = _settings(args.screen)
    except (ConfigError, KioskConfigError) as exc:
        print(f"showdesk kiosk: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        print(f"kiosk configuration is valid: site {settings.site or '(unnamed)'}, kiosk {settings.kiosk_id}, "
              f"{len(settings.categories)} categories, {len(settings.articles)} articles, "
              f"{len(settings.allowed_apps)} allowed apps")
        return EXIT_OK
    if args.board:
        return run_board(settings, windowed=args.windowed)
    return run_kiosk(settings, windowed=args.windowed)


def _hash_pin() -> int:
    try:
        pin = getpass.getpass("Admin PIN (digits): ")
        again = getpass.getpass("Again: ")
    except (EOFError, KeyboardInterrupt):
        return EXIT_USAGE
    if pin != again:
        print("showdesk kiosk: the two PINs differ", file=sys.stderr)
        return EXIT_USAGE
    try:
        print(f'admin_pin_hash = "{hash_pin(pin)}"')
    except ValueError as exc:
        print(f"showdesk kiosk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _application() -> object:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "showdesk"])
    app.setApplicationName("ShowDesk")
    return app


def run_kiosk(settings: KioskSettings, *, windowed: bool) -> int:
    from PySide6.QtWidgets import QApplication

    from agent.encoding import keep_working_memory
    from kiosk.app import build_window, services_from_config

    # A kiosk captures all day on a machine of its own: reused encoder memory makes each shot
    # about a third faster for some 50 MB kept (bench/capture.py). The laptop agent does not:
    # its encodes run off the person's path, and its memory is the person's.
    keep_working_memory()
    app = _application()
    assert isinstance(app, QApplication)
    config = load_config()
    try:
        services, sender = services_from_config(config, settings)
    except ConfigError as exc:
        print(f"showdesk kiosk: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    window, _translations = build_window(app, settings, services, windowed=windowed)
    sender.start()
    window.exit_requested.connect(app.quit)
    window.show_kiosk()
    try:
        return int(app.exec())
    finally:
        window.allow_close = True
        window.close()
        sender.stop(timeout=10)
        services.outbox.close()


def run_board(settings: KioskSettings, *, windowed: bool) -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from agent.connectors import make_connector
    from kiosk.board import BoardWindow, fetch_board
    from kiosk.i18n import Translations
    from kiosk.theme import colours_for, style_sheet

    if not settings.site:
        print("showdesk kiosk --board: set [kiosk] site, the site whose queue the board shows", file=sys.stderr)
        return EXIT_CONFIG
    config = load_config()
    try:
        backend = config.backend(settings.backend or None)
        connector = make_connector(backend)
    except ConfigError as exc:
        print(f"showdesk kiosk --board: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    app = _application()
    assert isinstance(app, QApplication)
    translations = Translations(app)
    translations.set_language(settings.language)
    app.setStyleSheet(style_sheet(colours_for(settings.theme, settings.colours)))
    board = BoardWindow(settings.site, lambda: fetch_board(connector, settings.site))
    if windowed:
        board.resize(1920, 1080)
        board.show()
    else:
        board.setWindowFlags(Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint)
        screens = QGuiApplication.screens()
        if screens:
            board.setGeometry(screens[min(settings.screen, len(screens) - 1)].geometry())
        board.showFullScreen()
    board.start()
    try:
        return int(app.exec())
    finally:
        board.shutdown()
        connector.close()
