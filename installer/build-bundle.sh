#!/usr/bin/env bash
# Build the one-folder bundle from installer/showdesk.spec: dist/showdesk/showdesk.
# Needs the project's virtual environment (scripts/setup.sh) and PyInstaller in it
# (installed here when missing). Usage: installer/build-bundle.sh [DISTDIR [WORKDIR]]
# WORKDIR holds PyInstaller's intermediate files (default build/pyinstaller).
set -euo pipefail
cd "$(dirname "$0")/.."
dist="${1:-dist}"
workdir="${2:-build/pyinstaller}"
python=.venv/bin/python
if [ ! -x "$python" ]; then
    echo "build-bundle: no .venv here; run scripts/setup.sh first" >&2
    exit 1
fi
if ! "$python" -c 'import PyInstaller' 2>/dev/null; then
    echo "build-bundle: installing PyInstaller into .venv" >&2
    "$python" -m pip install --disable-pip-version-check -q 'pyinstaller>=6.10'
fi
"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$dist" --workpath "$workdir" installer/showdesk.spec
echo "build-bundle: $dist/showdesk/showdesk ($(du -sh "$dist/showdesk" | cut -f1))" >&2
