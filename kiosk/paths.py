"""Where the kiosk keeps what it keeps: no Qt here, so GUI-free policies (the PIN lockout) use it too."""

from __future__ import annotations

from pathlib import Path

import platformdirs

from agent.config import APP_NAME


def kiosk_data_dir() -> Path:
    """Per-machine kiosk state that is not personal (statistics, the PIN pad's lockout)."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False) / "kiosk"


def kiosk_temp_root() -> Path:
    """Where sessions keep temporary files; each session's directory is removed when it ends."""
    return platformdirs.user_cache_path(APP_NAME, appauthor=False) / "kiosk-sessions"
