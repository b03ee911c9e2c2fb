"""The layering of ../shared/ARCHITECTURE.md, checked on every test run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is part of the dev dependencies"
    result = subprocess.run(
        [lint_imports, "--no-cache"], cwd=REPO, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_core_commands_do_not_load_qt_or_the_web_stack() -> None:
    # The capture command must start fast: importing the core may not drag in Qt,
    # requests, keyring or the server's FastAPI.
    code = (
        "import sys, agent.cli, agent.bundle, agent.config;"
        "heavy = [m for m in ('PySide6', 'fastapi', 'requests', 'keyring', 'server') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == ""
