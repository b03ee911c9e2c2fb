"""Keep the kiosk's translation files in step with the code: ``python -m kiosk.i18n_build [--check]``.

Without ``--check`` it runs ``pyside6-lupdate`` over kiosk/ and the shared mark-up editor
(shared_qt/markup_editor.py; new source texts are added to
each ``.ts`` file, translations already made are kept) and ``pyside6-lrelease`` (``.ts`` to
the ``.qm`` files the kiosk loads). With ``--check`` it changes nothing and lists what is
out of step: texts missing from a ``.ts`` file, unfinished translations, a stale ``.qm``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from kiosk.i18n import I18N_DIR, catalogue_path
from kiosk.settings import LANGUAGES

KIOSK_DIR = Path(__file__).resolve().parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (it comes with PySide6)")
    return found


# Shared widgets the walk-up kiosk shows, whose texts its catalogues carry too.
SHARED_SOURCES = (KIOSK_DIR.parent / "shared_qt" / "markup_editor.py",)


def sources() -> list[Path]:
    """The walk-up kiosk's Python files and the shared widgets it shows; their texts go into showdesk_<language>.ts."""
    return sorted(KIOSK_DIR.rglob("*.py")) + list(SHARED_SOURCES)


def run_lupdate(ts_files: list[Path]) -> None:
    args = [_tool("pyside6-lupdate"), "-silent", "-locations", "none", "-no-obsolete", "-source-language", "en"]
    args += [*map(str, sources()), "-ts"]
    subprocess.run([*args, *map(str, ts_files)], check=True, capture_output=True, timeout=120)


def run_lrelease(ts_file: Path, qm_file: Path) -> None:
    subprocess.run(
        [_tool("pyside6-lrelease"), "-silent", str(ts_file), "-qm", str(qm_file)],
        check=True,
        capture_output=True,
        timeout=120,
    )


def messages(ts_file: Path) -> dict[tuple[str, str], ET.Element]:
    """(context, source) → the <message> element."""
    tree = ET.parse(ts_file)  # noqa: S314 - our own file
    found: dict[tuple[str, str], ET.Element] = {}
    for context in tree.getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            found[(name, message.findtext("source") or "")] = message
    return found


def unfinished(ts_file: Path) -> list[str]:
    """Messages without a complete translation (every plural form filled)."""
    problems = []
    for (context, source), message in messages(ts_file).items():
        translation = message.find("translation")
        if translation is None or translation.get("type") in ("unfinished", "vanished", "obsolete"):
            problems.append(f"{context}: {source!r}")
            continue
        forms = translation.findall("numerusform")
        texts = [f.text or "" for f in forms] if forms else [translation.text or ""]
        if not all(t.strip() for t in texts):
            problems.append(f"{context}: {source!r} (empty)")
    return problems


def check() -> list[str]:
    """Everything out of step, as sentences; empty when the files match the code."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="showdesk-i18n-") as scratch:
        scratch_dir = Path(scratch)
        for language in LANGUAGES:
            shipped_ts = catalogue_path(language, ".ts")
            if not shipped_ts.is_file():
                problems.append(f"{shipped_ts} is missing")
                continue
            fresh_ts = scratch_dir / shipped_ts.name
            shutil.copy(shipped_ts, fresh_ts)
            run_lupdate([fresh_ts])
            added = sorted(set(messages(fresh_ts)) - set(messages(shipped_ts)))
            if added:
                problems.append(f"{shipped_ts.name} lacks {len(added)} texts from the code, e.g. {added[0]}")
            gone = sorted(set(messages(shipped_ts)) - set(messages(fresh_ts)))
            if gone:
                problems.append(f"{shipped_ts.name} has {len(gone)} texts the code no longer uses, e.g. {gone[0]}")
            problems += [f"{shipped_ts.name}: unfinished {m}" for m in unfinished(shipped_ts)]
            fresh_qm = scratch_dir / f"{shipped_ts.stem}.qm"
            run_lrelease(shipped_ts, fresh_qm)
            shipped_qm = catalogue_path(language)
            if not shipped_qm.is_file() or shipped_qm.read_bytes() != fresh_qm.read_bytes():
                problems.append(f"{shipped_qm.name} is stale; run python -m kiosk.i18n_build")
    return problems


def build() -> None:
    I18N_DIR.mkdir(parents=True, exist_ok=True)
    ts_files = [catalogue_path(language, ".ts") for language in LANGUAGES]
    for language, ts_file in zip(LANGUAGES, ts_files, strict=True):
        run_lupdate([ts_file])  # the target language comes from the file name
        run_lrelease(ts_file, catalogue_path(language))


def main(argv: list[str]) -> int:
    if "--check" in argv:
        problems = check()
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    build()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
