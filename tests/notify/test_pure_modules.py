"""The parts the built-in server reuses stay pure: no I/O modules, nothing of the agent but the schema."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

PURE = ("agent.notify.events", "agent.notify.rules", "agent.notify.payloads")
# What the server may share with the core (the import contract), and what would mean I/O or the agent's side.
FORBIDDEN_PREFIXES = ("agent.outbox", "agent.config", "agent.connectors", "agent.credentials", "agent.flags",
                      "agent.notify.queue", "agent.notify.transport", "agent.notify.notifier", "keyring",
                      "urllib.request", "http.client", "requests", "PySide6", "platformdirs")


def test_the_pure_modules_import_nothing_that_does_io_or_belongs_to_the_agent() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {PURE!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                       cwd=REPO, timeout=60).stdout)
    offending = [m for m in loaded if m.startswith(FORBIDDEN_PREFIXES)]
    assert offending == []
    agent_modules = {m for m in loaded if m.startswith("agent.") and not m.startswith("agent.notify")}
    assert agent_modules <= {"agent.schema", "agent.read_models", "agent.report_format", "agent.fsutil"}
