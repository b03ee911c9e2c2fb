"""Run-time hook of the frozen bundle: tell Qt where its plugins and QML files are.

It replaces PyInstaller's own PySide6 hook, which imports QtCore at start-up: that made
every command (`showdesk --version`, `showdesk capture`) load Qt, and once Qt is loaded
shiboken inspects every later import, which breaks pydantic's lazy attributes in a frozen
program. PySide6's wheels find their Qt prefix by themselves when first imported.
"""

import os
import sys
from pathlib import Path

_bundle = Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
_qt = _bundle / "PySide6" if sys.platform == "win32" else _bundle / "PySide6" / "Qt"
os.environ["QT_PLUGIN_PATH"] = str(_qt / "plugins")
os.environ["QML2_IMPORT_PATH"] = str(_qt / "qml")
if sys.platform == "win32":
    # QtNetwork finds the OpenSSL libraries PyInstaller put next to the program.
    os.environ["PATH"] = str(_bundle) + os.pathsep + os.environ.get("PATH", "")
