"""`showdesk --version` and `--help` are answered by the launcher before the core is imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent import __version__
from showdesk.help_text import HELP, render

# What answering them must not load: the core's command line, its configuration and logging,
# the argument parser, platformdirs.
HEAVY = ("agent.cli", "agent.config", "argparse", "logging", "platformdirs", "json")


def run_shell(*args: str) -> tuple[str, list[str]]:
    """What ``showdesk ARGS`` prints, and which of HEAVY it loaded."""
    code = (
        "import sys\n"
        "from showdesk.__main__ import main\n"
        f"code = main({list(args)!r})\n"
        f"print('LOADED', code, sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    output, _, loaded = result.stdout.rpartition("LOADED ")
    return output, loaded.split(" ", 1)


def test_version_loads_nothing_of_the_core() -> None:
    output, (code, loaded) = run_shell("--version")
    assert output == f"showdesk {__version__}\n"
    assert (code, loaded.strip()) == ("0", "[]")


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_loads_nothing_of_the_core(flag: str) -> None:
    output, (code, loaded) = run_shell(flag)
    assert output == HELP
    assert (code, loaded.strip()) == ("0", "[]")


def test_the_written_help_is_the_parsers_own() -> None:
    # When this fails, the parser changed: `python -m showdesk.help_text` prints the new text for
    # showdesk/help_text.py (at its fixed width).
    assert render() == HELP


def test_other_commands_still_reach_the_parser() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "showdesk", "--version", "capture"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.strip() == f"showdesk {__version__}"


def test_a_capture_the_agent_made_is_written_without_the_configuration_or_the_capture_code(tmp_path: Path) -> None:
    # The launcher hands `showdesk capture` to the running agent first; with its bundle in hand
    # the command line only writes the file: it loads neither the configuration, the capture
    # and encoding code, nor Qt (the agent side is Qt; the client side is core).
    target = tmp_path / "handed.showdesk"
    code = (
        "import sys\n"
        "from agent.cli import main\n"
        "asked = []\n"
        "def agent(request):\n"
        "    asked.append(request)\n"
        "    return {'status': 'ok', 'report_id': 'r-1', 'steps': 2}, b'PK bundle bytes'\n"
        f"code = main(['capture', '--json', '--caption', 'c', '-o', {str(target)!r}], agent_capture=agent)\n"
        "heavy = ('agent.config', 'agent.capture', 'agent.encoding', 'PIL', 'platformdirs', 'dataclasses', 'PySide6')\n"
        "print('LOADED', code, asked[0]['caption'], sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    output, _, loaded = result.stdout.rpartition("LOADED ")
    assert loaded.strip() == "0 c []"
    assert json.loads(output) == {"report_id": "r-1", "file": str(target), "steps": 2, "captured_by": "agent"}
    assert target.read_bytes() == b"PK bundle bytes"
