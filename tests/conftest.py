"""Test-wide set-up: every test runs against throw-away directories and a throw-away keyring.

The environment is fixed here, at import time, before any ShowDesk module computes a
path: tests never touch the user's real config, outbox, data or keyring.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_ROOT = Path(tempfile.mkdtemp(prefix="showdesk-tests-"))
REPO = Path(__file__).resolve().parent.parent

for _name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
    (_ROOT / _name.lower()).mkdir(mode=0o700)
    os.environ[_name] = str(_ROOT / _name.lower())
# HOME too: file dialogs, Path.home() and any tool a test starts see an empty home, not the user's.
(_ROOT / "home").mkdir(mode=0o700)
os.environ["HOME"] = str(_ROOT / "home")
os.environ["SHOWDESK_RUNTIME_DIR"] = str(_ROOT / "runtime")
os.environ["SHOWDESK_CONFIG"] = str(_ROOT / "config.toml")
os.environ["SHOWDESK_MACHINE_CONFIG"] = str(_ROOT / "machine-config.toml")
os.environ["PYTHON_KEYRING_BACKEND"] = "tests.fixtures.keyring_backend.FileKeyring"
os.environ["SHOWDESK_TEST_KEYRING"] = str(_ROOT / "keyring.json")
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
for _name in ("SHOWDESK_TOKEN", "SHOWDESK_URL", "SHOWDESK_BACKEND"):
    os.environ.pop(_name, None)
# Qt widget tests draw offscreen unless a test asks for the Xvfb display explicitly.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = [
    "tests.fixtures.xvfb",
    "tests.fixtures.server",
    "tests.fixtures.rt",
    "tests.fixtures.postgres",
    "tests.fixtures.s3",
    "tests.fixtures.chromium",
]


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_environment() -> object:
    """Whatever a test (or code it drives, like the agent's proxy setting) puts in os.environ
    is gone before the next test starts."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
