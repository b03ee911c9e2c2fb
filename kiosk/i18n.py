"""Qt's translation system for the kiosk: one ``.qm`` file per language in resources/i18n/.

Widgets write their English source text with ``self.tr`` (or ``QCoreApplication.translate``)
and set it again on ``QEvent.LanguageChange``; switching language installs another
translator and Qt tells every widget. ``scripts/kiosk-translations`` regenerates the
``.ts`` sources with ``pyside6-lupdate`` and compiles them with ``pyside6-lrelease``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from kiosk.settings import LANGUAGES

I18N_DIR: Final = Path(__file__).resolve().parent.parent / "resources" / "i18n"
CATALOGUE: Final = "showdesk"
# Each language's name in itself: the button reads right to the person who needs it.
LANGUAGE_NAMES: Final = {"en": "English", "de": "Deutsch"}


def catalogue_path(language: str, suffix: str = ".qm") -> Path:
    return I18N_DIR / f"{CATALOGUE}_{language}{suffix}"


class Translations:
    """The installed translators; ``set_language`` swaps them and Qt re-translates the widgets."""

    def __init__(self, app: QCoreApplication) -> None:
        self._app = app
        self._installed: list[QTranslator] = []
        self.language = ""

    def uninstall(self) -> None:
        """Remove this object's translators (the application speaks its source language again)."""
        for translator in self._installed:
            self._app.removeTranslator(translator)
        self._installed = []
        self.language = ""

    def set_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
        if language == self.language:
            return
        for translator in self._installed:
            self._app.removeTranslator(translator)
        self._installed = []
        own = QTranslator(self._app)
        if not own.load(str(catalogue_path(language))):
            raise FileNotFoundError(f"translation file {catalogue_path(language)} is missing or unreadable")
        # Qt's own strings (context menus of text fields) in the same language, where Qt ships them.
        qt_base = QTranslator(self._app)
        qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
        if language != "en" and qt_base.load(QLocale(language), "qtbase", "_", qt_dir):
            self._app.installTranslator(qt_base)
            self._installed.append(qt_base)
        self._app.installTranslator(own)
        self._installed.append(own)
        self.language = language
