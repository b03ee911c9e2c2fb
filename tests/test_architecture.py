"""The layering of docs/architecture.md, checked on every test run."""

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


def test_every_core_module_is_named_in_the_laptop_contract() -> None:
    # import-linter cannot say "agent except agent.laptop", so the contract lists the core's
    # modules; a module missing from that list would escape it unnoticed.
    import tomllib

    contracts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (contract,) = [c for c in contracts["contracts"] if c.get("forbidden_modules") == ["agent.laptop"]]
    listed = set(contract["source_modules"])
    core = {
        f"agent.{path.stem if path.is_file() else path.name}"
        for path in (REPO / "agent").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    } - {"agent.laptop"}
    assert core == listed
