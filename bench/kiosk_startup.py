"""Kiosk start-up to the Welcome screen, and memory in use there, against a bare Qt window.

    .venv/bin/python bench/kiosk_startup.py [--runs 5]

Each run is a fresh process on a private Xvfb at 1920x1080 (offscreen when Xvfb is missing):
the kiosk as ``showdesk kiosk`` builds it (configuration, outbox, translations, all seven
screens, full screen) until the Welcome screen has been painted, against the peer, a Qt
application showing one full-screen label, measured the same way in the same run. Printed:
median wall time from process start to first paint and resident memory (RSS) at that
moment, the kiosk's ratio to the peer, and the targets (1.5 s, 200 MB).
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 1.5
TARGET_MB = 200.0

# Both children print "<seconds since their start> <rss bytes>" once the window was painted.
_KIOSK = r"""
import time, sys
started = float(sys.argv[1])
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from agent.config import load_config
from kiosk.app import build_window, services_from_config
from kiosk.settings import load_settings
config = load_config()
settings = load_settings(config)
services, sender = services_from_config(config, settings)
window, _ = build_window(app, settings, services, windowed=False)
sender.start()
window.show_kiosk()
def painted():
    import psutil
    print(time.time() - started, psutil.Process().memory_info().rss, flush=True)
    window.allow_close = True
    window.close()
    sender.stop(timeout=5)
    app.quit()
QTimer.singleShot(0, lambda: window.welcome.repaint() or painted())
app.exec()
"""

_PEER = r"""
import time, sys
started = float(sys.argv[1])
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication(sys.argv[:1])
label = QLabel("Touch to start")
label.showFullScreen()
def painted():
    import psutil
    print(time.time() - started, psutil.Process().memory_info().rss, flush=True)
    app.quit()
QTimer.singleShot(0, lambda: label.repaint() or painted())
app.exec()
"""


def _xvfb() -> tuple[subprocess.Popen[bytes] | None, str | None]:
    if shutil.which("Xvfb") is None:
        return None, None
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    received = b""
    deadline = time.monotonic() + 15
    while not received.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([read_fd], [], [], 1.0)
        chunk = os.read(read_fd, 64) if ready else b""
        if ready and not chunk:
            break
        received += chunk
    os.close(read_fd)
    return process, f":{received.decode().strip()}"


def _run(code: str, env: dict[str, str]) -> tuple[float, float]:
    started = time.time()
    result = subprocess.run(
        [sys.executable, "-c", code, repr(started)], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{result.stderr[-2000:]}")
    seconds, rss = result.stdout.split()[-2:]
    return float(seconds), int(rss) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description="kiosk start-up and memory")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    xvfb, display = _xvfb()
    with tempfile.TemporaryDirectory(prefix="showdesk-bench-") as scratch:
        root = Path(scratch)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHOWDESK_")}
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
            (root / name).mkdir(mode=0o700)
            env[name] = str(root / name)
        env.update(
            PYTHONPATH=str(REPO),
            SHOWDESK_CONFIG=str(root / "config.toml"),
            SHOWDESK_MACHINE_CONFIG=str(root / "none.toml"),
            PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        )
        (root / "config.toml").write_text('[kiosk]\nsite = "Bench"\n')
        if display:
            env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        else:
            env["QT_QPA_PLATFORM"] = "offscreen"
        try:
            _run(_PEER, env)  # warm the file cache for both
            _run(_KIOSK, env)
            kiosk = [_run(_KIOSK, env) for _ in range(args.runs)]
            peer = [_run(_PEER, env) for _ in range(args.runs)]
        finally:
            if xvfb is not None:
                xvfb.terminate()
                xvfb.wait(10)
    kiosk_s = statistics.median(k[0] for k in kiosk)
    peer_s = statistics.median(p[0] for p in peer)
    kiosk_mb = statistics.median(k[1] for k in kiosk)
    peer_mb = statistics.median(p[1] for p in peer)
    where = f"Xvfb {display}" if display else "offscreen"
    print(f"kiosk start-up to the painted Welcome screen ({where}, median of {args.runs} runs)")
    print(f"  time   kiosk {kiosk_s:6.3f} s   bare Qt window {peer_s:6.3f} s   ratio {kiosk_s / peer_s:4.2f}x"
          f"   target <= {TARGET_SECONDS} s: {'met' if kiosk_s <= TARGET_SECONDS else 'MISSED'}")
    print(f"  memory kiosk {kiosk_mb:6.1f} MB  bare Qt window {peer_mb:6.1f} MB  ratio {kiosk_mb / peer_mb:4.2f}x"
          f"   target <= {TARGET_MB:.0f} MB: {'met' if kiosk_mb <= TARGET_MB else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
