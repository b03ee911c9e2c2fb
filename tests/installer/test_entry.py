"""The frozen program's entry point runs the server's thumbnail worker when asked with ``-m``.

A frozen program is its own interpreter: the server starts the worker as ``sys.executable -m
server.thumbnail_worker``, which in the bundle is the program itself. Run here as a script with
this Python, the entry point must answer that command line as the worker, not as ``showdesk``.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def test_the_entry_point_dispatches_the_thumbnail_worker(tmp_path: Path) -> None:
    source, target = tmp_path / "shot.png", tmp_path / "thumb.webp"
    Image.new("RGB", (1920, 1080), "navy").save(source)
    job = {"source": str(source), "target": str(target), "size": 480, "quality": 75, "max_pixels": 50_000_000}
    done = subprocess.run(
        [sys.executable, str(REPO / "installer" / "entry.py"), "-m", "server.thumbnail_worker",
         "--memory-mb", "1024", "--cpu-seconds", "30"],
        input=json.dumps(job) + "\n", capture_output=True, text=True, timeout=60, check=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["ok"] is True, answer
    with Image.open(io.BytesIO(target.read_bytes())) as thumbnail:
        assert max(thumbnail.size) == 480


def test_anything_else_is_the_showdesk_command() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "installer" / "entry.py"), "--version"],
        capture_output=True, text=True, timeout=60, check=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert done.stdout.strip().startswith("showdesk")
