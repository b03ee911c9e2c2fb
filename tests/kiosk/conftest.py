"""Kiosk test helpers: settings like a site's, a window on real services, a camera stand-in file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from agent.connectors.builtin import BuiltinConnector
from agent.outbox import Outbox, Sender
from kiosk.i18n import Translations
from kiosk.image_source import FileImageSource
from kiosk.settings import KioskSettings, parse_settings
from kiosk.window import KioskServices, KioskWindow

SITE_TABLE: dict[str, Any] = {
    "site": "HQ Tech Bar",
    "kiosk_id": "hq-bar-1",
    "articles": [
        {"id": "reset-password", "title": {"en": "Reset your password", "de": "Passwort zurücksetzen"},
         "url": "https://help.example.org/reset-password"},
        {"id": "mfa", "title": "Set up your authenticator app", "url": "https://help.example.org/mfa"},
    ],
    "categories": [
        {"id": "sign-in", "label": {"en": "Can't sign in", "de": "Anmeldung klappt nicht"},
         "articles": ["reset-password", "mfa"]},
        {"id": "laptop", "label": {"en": "Laptop", "de": "Laptop"}},
        {"id": "printer", "label": {"en": "Printer", "de": "Drucker"}},
        {"id": "other", "label": {"en": "Something else", "de": "Etwas anderes"}},
    ],
    "allowed_apps": [{"id": "browser", "label": {"en": "Browser", "de": "Browser"}, "command": ["sleep", "60"]}],
}


def site_settings(**overrides: Any) -> KioskSettings:
    return parse_settings({**SITE_TABLE, **overrides})


def static_sysinfo() -> dict[str, Any]:
    return {
        "os": {"name": "Debian GNU/Linux 12", "hostname": "kiosk-01"},
        "memory": {"total_bytes": 8 * 2**30},
        "network": {"interfaces": [{"name": "eth0"}]},
    }


class WindowFactory:
    """Makes kiosk windows on real services; closes them and stops their threads at the end."""

    def __init__(self, qtbot: QtBot, tmp_path: Path) -> None:
        self.qtbot = qtbot
        self.tmp_path = tmp_path
        self.outbox = Outbox(tmp_path / "outbox", connector_for=self._connector)
        self.server_url = "http://127.0.0.1:9"  # nothing listens: "server down" unless a test sets one
        self.token = ""
        self.sender: Sender | None = None
        self.windows: list[KioskWindow] = []
        self.translators: list[Translations] = []
        self.photo = tmp_path / "photo.png"
        Image.new("RGB", (800, 600), (30, 160, 90)).save(self.photo)

    def _connector(self, _name: str) -> BuiltinConnector:
        return BuiltinConnector(self.server_url, token=self.token, connect_timeout=2.0, read_timeout=20.0)

    def start_sender(self) -> Sender:
        if self.sender is None:
            self.sender = Sender(self.outbox, max_idle=0.5)
            self.sender.start()
        return self.sender

    def __call__(
        self,
        settings: KioskSettings | None = None,
        *,
        translations: bool = False,
        grab_factory: Callable[[], Any] | None = None,
        editor: bool = True,
        patience_seconds: float = 20.0,
        sysinfo: Callable[[], dict[str, Any]] | None = static_sysinfo,
        windowed: bool = True,
    ) -> KioskWindow:
        from shared_qt.markup_editor import MarkupEditor

        def make_editor() -> QWidget:
            return MarkupEditor()

        services = KioskServices(
            outbox=self.outbox,
            temp_root=self.tmp_path / "sessions",
            queue_connector=lambda: self._connector("default"),
            sysinfo=sysinfo,
            grab_factory=grab_factory,
            image_source=FileImageSource(self.photo),
            editor_factory=make_editor if editor else None,
            stats_path=self.tmp_path / "data" / "stats.json",
            patience_seconds=patience_seconds,
        )
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        translator = Translations(app) if translations else None
        settings = settings or site_settings()
        if translator is not None:
            translator.set_language(settings.language)
            self.translators.append(translator)
        window = KioskWindow(settings, services, translator, windowed=windowed)
        self.qtbot.addWidget(window)
        window.resize(1920, 1080)
        window.show()
        self.qtbot.waitExposed(window)
        window.activateWindow()
        self.qtbot.waitUntil(window.isActiveWindow)
        self.windows.append(window)
        return window

    def close(self) -> None:
        for window in self.windows:
            window.allow_close = True
            window.close()
            window.shutdown()
        for translator in self.translators:
            translator.uninstall()
        if self.sender is not None:
            self.sender.stop(timeout=30)
        self.outbox.close()


@pytest.fixture
def make_window(qtbot: QtBot, tmp_path: Path) -> Iterator[WindowFactory]:
    factory = WindowFactory(qtbot, tmp_path)
    yield factory
    factory.close()
