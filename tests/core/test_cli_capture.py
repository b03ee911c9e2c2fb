"""`showdesk capture` for real: Xvfb, the built-in server on loopback, the outbox in between."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from PIL import Image

from agent.bundle import ReportBundle
from tests.fixtures.server import ServerProcess
from tests.fixtures.xvfb import XvfbServer, paint_root, pattern_rgb, position_pattern

pytestmark = pytest.mark.xvfb


def showdesk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "showdesk", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


@pytest.fixture
def screen(xvfb_display: XvfbServer) -> XvfbServer:
    paint_root(xvfb_display.display, position_pattern(xvfb_display.width, xvfb_display.height))
    return xvfb_display


def test_capture_to_a_bundle_holds_the_screen_and_system_info(screen: XvfbServer, tmp_path: Path) -> None:
    target = tmp_path / "report.showdesk"
    result = showdesk(
        "capture", "-o", str(target), "--description", "Printer offline", "--caption", "the dialog", env=screen.env
    )
    assert result.returncode == 0, result.stderr
    bundle = ReportBundle.read(target)
    [step] = bundle.report.steps
    assert (step.width, step.height, step.caption) == (screen.width, screen.height, "the dialog")
    image = Image.open(io.BytesIO(bundle.files[step.image.path])).convert("RGB")
    for x, y in [(0, 0), (100, 200), (1919, 1079), (777, 555)]:
        assert image.getpixel((x, y)) == pattern_rgb(x, y)
    assert bundle.report.description == "Printer offline"
    assert bundle.sysinfo is not None and "os" in bundle.sysinfo and "displays" in bundle.sysinfo


class _Healthz(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_capture_to_a_bundle_loads_only_what_it_needs(screen: XvfbServer, tmp_path: Path) -> None:
    # `showdesk capture -o` is timed as a whole process against scrot (bench/capture.py): the
    # report schema's models, the network stack, Qt, the IDNA codec and the
    # configuration's spelling suggestions stay unloaded; loading validates. The system
    # information (with the connection check to the backend) is collected by a helper process
    # (agent.sysinfo_process), so none of its collectors load here either.
    target = tmp_path / "quick.showdesk"
    code = (
        "import sys\n"
        "from showdesk.__main__ import main\n"
        f"code = main(['capture', '-o', {str(target)!r}, '--name', 'Ada'])\n"
        "heavy = ('pydantic', 'requests', 'keyring', 'PySide6', 'http.client', 'ssl', 'urllib.request',"
        " 'encodings.idna', 'difflib', 'psutil', 'agent.sysinfo.collect')\n"
        "print(code, sorted(name for name in heavy if name in sys.modules))\n"
    )
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    # A generous bound: the collectors are not raced against a loaded test machine.
    settings = tmp_path / "config.toml"
    settings.write_text("[sysinfo]\ntimeout = 5.0\n")
    env = {
        **screen.env,
        "SHOWDESK_URL": f"http://127.0.0.1:{backend.server_address[1]}",
        "SHOWDESK_CONFIG": str(settings),
    }
    try:
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False, env=env
        )
    finally:
        backend.shutdown()
        backend.server_close()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "0 []"
    bundle = ReportBundle.read(target)
    assert bundle.report.reporter.name == "Ada" and bundle.report.source.kind == "cli"
    assert bundle.sysinfo is not None
    # The displays group holds each captured monitor's facts (it may add what it learns itself).
    [display] = bundle.sysinfo["displays"]["monitors"]  # type: ignore[index]
    assert bundle.sysinfo["displays"]["count"] == 1  # type: ignore[index]
    assert bundle.report.steps[0].monitor.model_dump().items() <= display.items()  # type: ignore[union-attr]
    assert bundle.sysinfo["cpu"]["sample_seconds"] == 0.05  # type: ignore[index]
    assert bundle.sysinfo["connectivity"]["reachable"] is True  # type: ignore[index]


def test_capture_refuses_text_beyond_the_schema_bounds_before_writing(screen: XvfbServer, tmp_path: Path) -> None:
    target = tmp_path / "never.showdesk"
    result = showdesk("capture", "--no-sysinfo", "-o", str(target), "--description", "x" * 4001, env=screen.env)
    assert result.returncode == 2
    assert "description: 4001 characters; the limit is 4000" in result.stderr
    assert not target.exists()


def test_capture_of_a_region(screen: XvfbServer, tmp_path: Path) -> None:
    target = tmp_path / "region.showdesk"
    result = showdesk("capture", "--region", "100,50,320,240", "--no-sysinfo", "-o", str(target), env=screen.env)
    assert result.returncode == 0, result.stderr
    bundle = ReportBundle.read(target)
    [step] = bundle.report.steps
    image = Image.open(io.BytesIO(bundle.files[step.image.path])).convert("RGB")
    assert image.size == (320, 240)
    assert image.getpixel((0, 0)) == pattern_rgb(100, 50)
    assert bundle.sysinfo is None


def test_without_a_display_the_error_names_the_cause(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [sys.executable, "-m", "showdesk", "capture", "-o", str(tmp_path / "x.showdesk")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 4
    assert "DISPLAY" in result.stderr
    assert not list(tmp_path.iterdir())


def _tickets(server: ServerProcess) -> list[dict[str, object]]:
    token = server.token("technician")
    answer = requests.get(f"{server.api}/tickets", headers=server.auth(token), timeout=10)
    answer.raise_for_status()
    items: list[dict[str, object]] = answer.json()["tickets"]
    return items


def test_capture_submit_creates_a_ticket_on_the_local_server(
    screen: XvfbServer, server_process: ServerProcess, tmp_path: Path
) -> None:
    # No token configured anywhere: the local server's hand-over file provides it.
    env = {**screen.env, "SHOWDESK_URL": server_process.url, "SHOWDESK_OUTBOX": str(tmp_path / "outbox")}
    result = showdesk("capture", "--submit", "--json", "--category", "Laptop", env=env)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["state"] == "delivered"
    [ticket] = _tickets(server_process)
    assert ticket["number"] == outcome["ticket"]["number"]
    assert not list((tmp_path / "outbox").rglob("*.showdesk"))


def test_capture_submit_while_the_server_is_down_queues_then_delivers_once(
    screen: XvfbServer, server_process: ServerProcess, tmp_path: Path
) -> None:
    env = {**screen.env, "SHOWDESK_URL": server_process.url, "SHOWDESK_OUTBOX": str(tmp_path / "outbox")}
    server_process.stop()
    result = showdesk("capture", "--submit", "--wait", "0", "--json", "--no-sysinfo", env=env)
    assert result.returncode == 3, result.stderr
    queued = json.loads(result.stdout)
    assert queued["state"] != "delivered"
    listed = showdesk("outbox", "list", "--json", env=env)
    [entry] = json.loads(listed.stdout)["entries"]
    assert entry["id"] == queued["report_id"]

    server_process.start()
    flushed = showdesk("outbox", "flush", env=env)
    assert flushed.returncode == 0, flushed.stdout + flushed.stderr
    again = showdesk("outbox", "flush", env=env)
    assert again.returncode == 0
    [ticket] = _tickets(server_process)
    assert ticket["report_id"] == queued["report_id"]
    receipts = json.loads(showdesk("outbox", "list", "--json", env=env).stdout)["receipts"]
    assert [r["report_id"] for r in receipts] == [queued["report_id"]]


def test_submit_of_a_saved_bundle_keeps_every_byte(
    screen: XvfbServer, server_process: ServerProcess, tmp_path: Path
) -> None:
    env = {**screen.env, "SHOWDESK_URL": server_process.url, "SHOWDESK_OUTBOX": str(tmp_path / "outbox")}
    target = tmp_path / "saved.showdesk"
    assert showdesk("capture", "-o", str(target), env=env).returncode == 0
    result = showdesk("submit", str(target), "--json", env=env)
    assert result.returncode == 0, result.stderr
    bundle = ReportBundle.read(target)
    token = server_process.token("technician")
    ticket_id = json.loads(result.stdout)["ticket"]["id"]
    for ref in bundle.report.files():
        answer = requests.get(
            f"{server_process.api}/tickets/{ticket_id}/files/{ref.path}", headers=server_process.auth(token), timeout=10
        )
        assert answer.status_code == 200
        assert hashlib.sha256(answer.content).hexdigest() == ref.sha256
