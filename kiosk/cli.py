"""``showdesk kiosk [--board] [--windowed] [--screen N] [--allow-no-exit]``, ``--check``, ``--hash-pin``."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from agent.config import BackendConfig, Config, ConfigError, load_config
from kiosk.settings import KioskConfigError, KioskSettings, hash_pin, load_settings

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CONFIG = 5

if TYPE_CHECKING:
    from PySide6.QtCore import QCoreApplication

    from agent.connectors.base import Connector
    from agent.notify.notifier import Notifier
    from kiosk.board import BoardReader

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
        "--allow-no-exit",
        action="store_true",
        help="start full screen from a terminal even without an admin PIN, when nothing on the screen leads out "
        "(a dedicated machine stopped from elsewhere); [kiosk] allow_no_exit = true does the same",
    )
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
        print(f"kiosk configuration is valid: site {settings.site}, kiosk {settings.kiosk_id}, "
              f"{len(settings.categories)} categories, {len(settings.articles)} articles, "
              f"{len(settings.allowed_apps)} allowed apps")
        return EXIT_OK
    if args.board:
        return run_board(settings, windowed=args.windowed)
    if locks_the_person_in(settings, windowed=args.windowed, allowed=args.allow_no_exit):
        print(
            "showdesk kiosk: full screen without an admin PIN, nothing on the screen leads out again "
            "(only another console could stop it). Set a PIN: run `showdesk kiosk --hash-pin` and put its line "
            "in [kiosk] of the machine-wide file; or try it with --windowed; or, to run locked on purpose, "
            "add --allow-no-exit ([kiosk] allow_no_exit = true).",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return run_kiosk(settings, windowed=args.windowed)


def started_from_terminal() -> bool:
    """A person typed the command: its input and output are a terminal.

    A kiosk's own session (systemd's unit, Windows' shell launcher, a desktop autostart) writes
    to a journal or to nothing, so this tells "someone trying it out" from "a deployed kiosk".
    """
    return all(stream is not None and stream.isatty() for stream in (sys.stdin, sys.stdout))


def locks_the_person_in(settings: KioskSettings, *, windowed: bool, allowed: bool) -> bool:
    """Whether starting now would leave the person at the terminal no way back from the screen.

    Full screen and on top, the kiosk hides the terminal it was started from; without an admin
    PIN the corner taps lead nowhere. Only deployed kiosks are left alone: refusing there would
    stop machines that were set up to be left only by stopping their service.
    """
    if windowed or settings.admin_pin_hash or allowed or settings.allow_no_exit:
        return False
    return started_from_terminal()


def _on_this_machine(backend: BackendConfig) -> bool:
    """The built-in server on loopback: the local setup, whose tokens its hand-over file gives."""
    return backend.type == "builtin" and urlsplit(backend.url).hostname in ("127.0.0.1", "localhost", "::1")


def board_reader(site: str, backend: BackendConfig, connector: Connector | None = None) -> BoardReader:
    """The board's source for ``backend``: on this machine's server, the technician token may stand in."""
    from agent.connectors import make_connector
    from kiosk.board import BoardReader

    return BoardReader(
        site,
        connector or make_connector(backend),
        technician=(lambda: make_connector(backend, role="technician")) if _on_this_machine(backend) else None,
    )


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

    from kiosk.app import build_window, services_from_config

    # No kept encoder memory here (the agent's hand-off keeps it for bursts): the kiosk's
    # "Show me" captures are PNG, and its memory must stay flat visit after visit (kiosk.memory).
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
    try:
        # From before the window shows: whoever sees it may already want it gone.
        with quit_on_signals(app):
            window.show_kiosk()
            return int(app.exec())
    finally:
        window.allow_close = True
        window.close()
        sender.stop(timeout=10)
        if services.notifier is not None:
            # After the sender: a delivery in its last moments is still queued for the targets
            # (and sent at the next start if this stop cuts it short).
            services.notifier.stop(timeout=10)
        services.outbox.close()


def run_board(settings: KioskSettings, *, windowed: bool) -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from agent.connectors import make_connector
    from kiosk.board import BoardWindow
    from kiosk.i18n import Translations
    from kiosk.theme import colours_for, style_sheet

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
    reader = board_reader(settings.site, backend, connector)
    # The board reads the queue every few seconds anyway: it is what tells [[notify]] targets
    # that a walk-up has waited past their walkup_minutes (each person once per target).
    notifier = board_notifier(config)
    board = BoardWindow(settings.site, reader, observer=notifier)
    try:
        with quit_on_signals(app):
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
            return int(app.exec())
    finally:
        board.shutdown()
        if notifier is not None:
            notifier.stop(timeout=10)
        reader.close()


def board_notifier(config: Config) -> Notifier | None:
    """A started notifier when a ``[[notify]]`` target wants ``walkup_waiting``; else None (nothing to tell)."""
    from agent.notify.notifier import Notifier
    from agent.notify.rules import walkup_thresholds

    if not walkup_thresholds(config.notify_targets()):
        return None
    notifier = Notifier.from_config(config)
    notifier.start()
    return notifier


@contextlib.contextmanager
def quit_on_signals(
    app: QCoreApplication, signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
) -> Iterator[None]:
    """While inside, Ctrl-C and SIGTERM end Qt's loop as closing the window does (exit 128 + signal).

    Python runs a signal handler only when the interpreter next gets control, and Qt's loop can
    sit in C++ for as long as nothing happens on screen: Ctrl-C did nothing, and a script waiting
    for the kiosk hung. The wake-up socket turns the signal into an event the loop sees at once.
    The shutdown is then the normal one: the outbox's sender stops and the outbox closes.
    """
    from PySide6.QtCore import QSocketNotifier, QTimer

    wake_read, wake_write = socket.socketpair()
    wake_read.setblocking(False)
    wake_write.setblocking(False)
    notifier = QSocketNotifier(wake_read.fileno(), QSocketNotifier.Type.Read)

    def drain() -> None:
        # Reading gives Python control, and with it the chance to run the handler below.
        with contextlib.suppress(OSError):
            wake_read.recv(512)

    def stop(signum: int, _frame: object) -> None:
        log.info("ending on signal %d", signum)
        # Through the loop: a signal that comes before the loop runs would make a direct exit() a no-op.
        QTimer.singleShot(0, lambda: app.exit(128 + signum))

    notifier.activated.connect(drain)
    previous_wakeup = signal.set_wakeup_fd(wake_write.fileno())
    previous = {number: signal.signal(number, stop) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(previous_wakeup)
        notifier.setEnabled(False)
        notifier.deleteLater()
        wake_read.close()
        wake_write.close()
