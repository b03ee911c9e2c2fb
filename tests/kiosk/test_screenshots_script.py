"""docs/screenshots.py: the real kiosk, full screen under its own Xvfb, walked from Welcome to the board."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
EXPECTED = (
    "welcome", "who", "what", "show", "capture-bar", "clip-review", "photo", "show-steps", "review", "markup",
    "send", "done", "idle", "welcome-de", "who-high-contrast", "board",
)


@pytest.mark.slow
@pytest.mark.xvfb
def test_the_screenshot_script_walks_every_screen(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(REPO / "docs" / "screenshots.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    for name in EXPECTED:
        with Image.open(tmp_path / f"kiosk-{name}.png") as image:
            assert image.size == (1920, 1080), name
            colours = image.convert("RGB").resize((192, 108)).getcolors(maxcolors=1 << 16) or []
            assert len(colours) > 3, f"{name} looks blank"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"kiosk-{name}.png" for name in EXPECTED)
