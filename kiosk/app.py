"""Putting the kiosk together from the configuration: services, translations, the window."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication, QWidget

from agent.config import Config
from agent.connectors import make_connector
from agent.connectors.base import Connector
from agent.notify.outbox_hook import attach_notifications
from agent.outbox import Outbox, Sender
from kiosk.i18n import Translations
from kiosk.image_source import CameraImageSource, FileImageSource, ImageSource
from kiosk.paths import kiosk_data_dir, kiosk_temp_root
from kiosk.settings import KioskSettings
from kiosk.showme import mss_grabber
from kiosk.window import KioskServices, KioskWindow


def image_source_for(config_value: str) -> ImageSource | None:
    """``SHOWDESK_KIOSK_PHOTO_FILE`` (demos, screenshots, tests) or the system camera."""
    if config_value:
        return FileImageSource(Path(config_value))
    return CameraImageSource()


def make_editor() -> QWidget:
    from shared_qt.markup_editor import MarkupEditor

    return MarkupEditor()


def services_from_config(config: Config, settings: KioskSettings) -> tuple[KioskServices, Sender]:
    """The real services: the configured outbox and backend, system information, capture, camera.

    With ``[[notify]]`` targets configured, the outbox tells them of each delivered walk-up; the
    notifier's thread is started here and is ``services.notifier`` (stop it when the kiosk quits).
    """
    backend_name = settings.backend or config.get("default_backend") or "default"
    backend = config.backend(backend_name)

    def connector_for(name: str) -> Connector:
        return make_connector(config.backend(name))

    outbox = Outbox(config.outbox_dir, connector_for=connector_for)
    # Hooked before the sender starts: a report left from before a restart is notified too.
    notifier = attach_notifications(outbox, config)
    sender = Sender(outbox)

    def sysinfo() -> dict[str, Any]:
        from agent.sysinfo import SysinfoOptions, collect

        return collect(SysinfoOptions.from_config(config, backend=backend_name))

    def queue_connector() -> Connector:
        return make_connector(backend)

    grab: Callable[[], Any] | None = mss_grabber(None, settings.screen + 1)
    services = KioskServices(
        outbox=outbox,
        temp_root=kiosk_temp_root(),
        backend_name=backend_name,
        queue_connector=queue_connector,
        sysinfo=sysinfo,
        grab_factory=grab,
        image_source=image_source_for(os.environ.get("SHOWDESK_KIOSK_PHOTO_FILE", "")),
        editor_factory=make_editor,
        stats_path=kiosk_data_dir() / "stats.json",
        notifier=notifier,
    )
    return services, sender


def build_window(
    app: QApplication, settings: KioskSettings, services: KioskServices, *, windowed: bool
) -> tuple[KioskWindow, Translations]:
    translations = Translations(app)
    translations.set_language(settings.language)
    window = KioskWindow(settings, services, translations, windowed=windowed)
    return window, translations
