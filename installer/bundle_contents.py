"""What the frozen bundle holds, derived from the project itself rather than from a kept list.

The PyInstaller spec (installer/showdesk.spec) asks this module for the packages to collect
(the ones pyproject.toml ships), the resources to copy and the modules to leave out; the
tests ask it the same questions, so the spec and its checks cannot drift apart. No
PyInstaller import here: the test suite runs without PyInstaller installed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
# Translation sources (.ts) are for translators; the program loads the compiled .qm files.
RESOURCE_SOURCE_SUFFIXES: Final = frozenset({".ts"})
# Never frozen: the test tree, test and lint tools, and a GUI toolkit ShowDesk does not use.
EXCLUDED_MODULES: Final = (
    "tests",
    "pytest",
    "_pytest",
    "pytestqt",
    "mypy",
    "importlinter",
    "aiosmtpd",
    "tkinter",
    "_tkinter",
)
PLATFORM_PLUGIN: Final = {"linux": "libqxcb.so", "win32": "qwindows.dll", "darwin": "libqcocoa.dylib"}


def project_packages(root: Path = ROOT) -> list[str]:
    """Top-level packages pyproject.toml ships (``[tool.setuptools.packages.find] include``)."""
    with (root / "pyproject.toml").open("rb") as stream:
        pyproject = tomllib.load(stream)
    patterns: list[str] = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    names = sorted({pattern.split(".", 1)[0].rstrip("*") for pattern in patterns})
    missing = [name for name in names if not (root / name / "__init__.py").is_file()]
    if missing:
        raise RuntimeError(f"pyproject.toml ships packages that do not exist: {', '.join(missing)}")
    return names


def project_modules(root: Path = ROOT) -> list[str]:
    """Every module of the shipped packages, by walking the source tree (subcommands import lazily)."""
    modules: list[str] = []
    for package in project_packages(root):
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).with_suffix("")
            parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
            if all(part.isidentifier() for part in parts):
                modules.append(".".join(parts))
    return modules


def resource_files(root: Path = ROOT) -> list[tuple[str, str]]:
    """(source file, folder inside the bundle) for everything under resources/ the program reads."""
    resources = root / "resources"
    return [
        (str(path), str(path.parent.relative_to(root)))
        for path in sorted(resources.rglob("*"))
        if path.is_file() and path.suffix not in RESOURCE_SOURCE_SUFFIXES and not path.name.startswith(".")
    ]


def project_version(root: Path = ROOT) -> str:
    with (root / "pyproject.toml").open("rb") as stream:
        version: str = tomllib.load(stream)["project"]["version"]
    return version
