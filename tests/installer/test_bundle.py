"""The frozen bundle holds what the spec says: every module, Qt's platform plugin and translations,
resources/, and nothing from the test tree.

Building the bundle takes about a minute, so these tests check a bundle built beforehand:
installer/linux/ci-package-test.sh builds it and runs them with SHOWDESK_BUNDLE_DIR set.
Without it they are skipped (and say so).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from installer.bundle_contents import PLATFORM_PLUGIN, project_modules, resource_files
from kiosk.settings import LANGUAGES

REPO = Path(__file__).resolve().parents[2]
BUNDLE = os.environ.get("SHOWDESK_BUNDLE_DIR")
pytestmark = pytest.mark.skipif(
    not BUNDLE, reason="no bundle to check: installer/linux/ci-package-test.sh sets SHOWDESK_BUNDLE_DIR"
)


@pytest.fixture(scope="module")
def bundle() -> Path:
    assert BUNDLE
    root = Path(BUNDLE).resolve()
    assert (root / "showdesk").is_file() or (root / "showdesk.exe").is_file(), f"{root} holds no showdesk program"
    return root


@pytest.fixture(scope="module")
def frozen_modules(bundle: Path) -> set[str]:
    """The modules in the program's archive (PYZ), read with PyInstaller's own reader."""
    readers = pytest.importorskip("PyInstaller.archive.readers")
    program = bundle / ("showdesk.exe" if sys.platform == "win32" else "showdesk")
    archive = readers.CArchiveReader(str(program))
    return set(archive.open_embedded_archive("PYZ.pyz").toc)


def files_under(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


def test_every_module_of_every_shipped_package_is_frozen(frozen_modules: set[str]) -> None:
    missing = sorted(set(project_modules(REPO)) - frozen_modules)
    assert missing == []


def test_nothing_from_the_test_tree_or_the_test_tools_is_in(bundle: Path, frozen_modules: set[str]) -> None:
    frozen_tests = sorted(m for m in frozen_modules if m.split(".", 1)[0] in ("tests", "pytest", "_pytest", "pytestqt"))
    assert frozen_tests == []
    test_files = sorted(
        str(p.relative_to(bundle)) for p in files_under(bundle) if "tests" in p.relative_to(bundle).parts[:2]
    )
    assert test_files == []
    own_tests = {p.name for p in (REPO / "tests").rglob("test_*.py")}
    assert not [p for p in files_under(bundle) if p.name in own_tests or p.stem in own_tests]


def test_the_qt_platform_plugin_is_in(bundle: Path) -> None:
    plugin = PLATFORM_PLUGIN[sys.platform if sys.platform in PLATFORM_PLUGIN else "linux"]
    found = [p for p in files_under(bundle) if p.name == plugin and p.parent.name == "platforms"]
    assert found, f"no {plugin} under a platforms/ folder"
    if sys.platform.startswith("linux"):
        # Offscreen too: the kiosk's and the technician mode's checks run without a display.
        assert any(p.name == "libqoffscreen.so" for p in found[0].parent.iterdir())


def test_the_kiosk_translations_of_every_language_are_in(bundle: Path) -> None:
    # Where kiosk/i18n.py looks in the frozen program: resources/i18n in the folder that holds the
    # frozen packages (the one with base_library.zip), as in the source tree.
    frozen_root = next(bundle.rglob("base_library.zip")).parent
    i18n = frozen_root / "resources" / "i18n"
    for language in LANGUAGES:
        compiled = i18n / f"showdesk_{language}.qm"
        assert compiled.is_file(), f"{compiled.relative_to(bundle)} is missing"
        assert compiled.read_bytes() == (REPO / "resources" / "i18n" / compiled.name).read_bytes()
    qt_translations = {p.name for p in files_under(bundle) if p.parent.name == "translations" and p.suffix == ".qm"}
    assert {f"qtbase_{language}.qm" for language in LANGUAGES} <= qt_translations


def test_every_resource_is_in_unchanged(bundle: Path) -> None:
    assert resource_files(REPO), "resources/ is empty: nothing would be checked"
    for source, folder in resource_files(REPO):
        inside = next(bundle.rglob(f"{folder}/{Path(source).name}"), None)
        assert inside is not None, f"{folder}/{Path(source).name} is missing"
        assert inside.read_bytes() == Path(source).read_bytes()
    assert not list(bundle.rglob("resources/**/*.ts")), "translation sources are for translators, not the bundle"


def test_the_program_runs_without_the_repository_or_a_python(bundle: Path, tmp_path: Path) -> None:
    program = bundle / ("showdesk.exe" if sys.platform == "win32" else "showdesk")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = "/usr/bin:/bin"
    result = subprocess.run(
        [str(program), "config", "reference"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
